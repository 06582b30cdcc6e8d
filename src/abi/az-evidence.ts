/**
 * Trustee's `az-tdx-vtpm` evidence JSON (confidential-containers/trustee
 * `deps/verifier/src/az_tdx_vtpm/compat.rs` EvidenceV0/V1/V2, `az_snp_vtpm/compat.rs` TpmQuote and
 * VersionCheck; the attester in guest-components `attestation-agent/attester/src/az_tdx_vtpm/mod.rs`):
 *
 * - v0: `{tpm_quote: {signature, message, pcrs}, hcl_report, td_quote}`, every byte string a JSON array of
 *   integers 0-255, `pcrs` an array of such arrays;
 * - v1 / v2: `{version: 1 | 2, tpm_quote: {signature, message, pcrs}, hcl_report, td_quote}`, `hcl_report`
 *   and `td_quote` base64url (padded as serde_with writes it; accepted with or without padding),
 *   `signature` and `message` hex, `pcrs` an array of hex strings. v2 differs from v1 only in meaning: the
 *   HCL var data's `user-data` begins with the report data.
 *
 * Pure: JSON text (or the parsed value) in, bytes out; bytes in, JSON text out. Unknown fields are refused.
 */

import { base64Bytes, base64UrlOf, hexBytes } from "../encoding.js";
import { TdxError } from "../errors.js";
import { toHex } from "./bytes.js";

export type AzTdxVtpmEvidenceVersion = 0 | 1 | 2;

/** The TPM quote as the evidence carries it: the signed TPMS_ATTEST, the bare signature, the PCR values. */
export interface AzTpmQuote {
  /** The raw signature (RSASSA: the modulus-sized signature; the TPMT_SIGNATURE wrapper is dropped). */
  signature: Uint8Array;
  /** The marshalled TPMS_ATTEST the AK signed. */
  message: Uint8Array;
  /** The PCR values, in the order of the quote's selection (SHA-256 bank, PCRs 0..23 on Azure). */
  pcrs: Uint8Array[];
}

export interface AzTdxVtpmEvidence {
  version: AzTdxVtpmEvidenceVersion;
  tpmQuote: AzTpmQuote;
  hclReport: Uint8Array;
  tdQuote: Uint8Array;
}

function malformed(field: string, message: string, hint?: string): TdxError {
  return new TdxError("AZ_EVIDENCE_MALFORMED", message, {
    field,
    hint:
      hint ??
      "pass az-tdx-vtpm evidence in Trustee's JSON shape: {version?, tpm_quote: {signature, message, pcrs}, hcl_report, td_quote}",
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function refuseUnknown(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new TdxError(
      "AZ_EVIDENCE_UNKNOWN_FIELD",
      `${where} has fields az-tdx-vtpm evidence does not define: ${unknown.join(", ")}`,
      {
        field: `${where === "evidence" ? "" : `${where}.`}${unknown[0]}`,
        hint: `remove them; ${where} holds exactly ${allowed.join(", ")}`,
        data: { unknown },
      },
    );
  }
}

function byteArray(v: unknown, field: string): Uint8Array {
  if (!Array.isArray(v)) throw malformed(field, `${field} is not an array of bytes (v0 evidence)`);
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 255) {
      throw malformed(`${field}[${i}]`, `${field}[${i}] is not an integer 0-255 (v0 evidence)`);
    }
    out[i] = x;
  }
  return out;
}

function hexString(v: unknown, field: string): Uint8Array {
  if (typeof v !== "string" || v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v)) {
    throw malformed(field, `${field} is not a hex string (v1/v2 evidence)`);
  }
  return hexBytes(v) as Uint8Array;
}

function base64Url(v: unknown, field: string): Uint8Array {
  // serde_with Base64<UrlSafe> writes padded base64url; accept it with or without the padding.
  if (typeof v !== "string" || !/^[A-Za-z0-9_-]*={0,2}$/.test(v) || v.replace(/=+$/, "").length % 4 === 1) {
    throw malformed(field, `${field} is not base64url text (v1/v2 evidence)`);
  }
  return base64Bytes(v);
}

/**
 * Parse az-tdx-vtpm evidence: JSON text, its UTF-8 bytes, or the parsed value. The version decides the
 * encodings: a `version` key must be the number 1 or 2 (as Trustee's VersionCheck), no `version` key means
 * v0. Every byte string is decoded (copied); the result holds no reference to the input.
 */
export function parseAzTdxVtpmEvidence(input: string | Uint8Array | unknown): AzTdxVtpmEvidence {
  let value: unknown = input;
  if (typeof input === "string" || input instanceof Uint8Array) {
    const text = typeof input === "string" ? input : new TextDecoder().decode(input);
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new TdxError("AZ_EVIDENCE_MALFORMED", "the az-tdx-vtpm evidence is not JSON", {
        field: "evidence",
        hint: "pass the evidence JSON as the attester produced it",
        cause: e,
      });
    }
  }
  if (!isObject(value)) throw malformed("evidence", "the az-tdx-vtpm evidence is not a JSON object");
  let version: AzTdxVtpmEvidenceVersion = 0;
  if ("version" in value) {
    const v = value.version;
    if (v !== 1 && v !== 2) {
      throw new TdxError(
        "AZ_EVIDENCE_VERSION_UNSUPPORTED",
        `az-tdx-vtpm evidence version ${JSON.stringify(v)} is not 1 or 2 (or absent for v0)`,
        {
          field: "version",
          hint: "Trustee defines v0 (no version key), 1 and 2, with version as a JSON number",
        },
      );
    }
    version = v;
  }
  refuseUnknown(
    value,
    version === 0
      ? ["tpm_quote", "hcl_report", "td_quote"]
      : ["version", "tpm_quote", "hcl_report", "td_quote"],
    "evidence",
  );
  for (const k of ["tpm_quote", "hcl_report", "td_quote"]) {
    if (!(k in value)) throw malformed(k, `the evidence has no ${k}`);
  }
  const tq = value.tpm_quote;
  if (!isObject(tq)) throw malformed("tpm_quote", "tpm_quote is not an object");
  refuseUnknown(tq, ["signature", "message", "pcrs"], "tpm_quote");
  for (const k of ["signature", "message", "pcrs"]) {
    if (!(k in tq)) throw malformed(`tpm_quote.${k}`, `tpm_quote has no ${k}`);
  }
  if (!Array.isArray(tq.pcrs)) throw malformed("tpm_quote.pcrs", "tpm_quote.pcrs is not an array");
  const bytes = version === 0 ? byteArray : hexString;
  const blob = version === 0 ? byteArray : base64Url;
  return {
    version,
    tpmQuote: {
      signature: bytes(tq.signature, "tpm_quote.signature"),
      message: bytes(tq.message, "tpm_quote.message"),
      pcrs: tq.pcrs.map((p, i) => bytes(p, `tpm_quote.pcrs[${i}]`)),
    },
    hclReport: blob(value.hcl_report, "hcl_report"),
    tdQuote: blob(value.td_quote, "td_quote"),
  };
}

function padded(b: Uint8Array): string {
  const text = base64UrlOf(b);
  return text.padEnd(Math.ceil(b.length / 3) * 4, "=");
}

/** The evidence as the JSON value Trustee's attester emits for `version` (default: the evidence's own). */
export function azTdxVtpmEvidenceToJsonValue(
  e: AzTdxVtpmEvidence,
  version: AzTdxVtpmEvidenceVersion = e.version,
): Record<string, unknown> {
  if (version === 0) {
    return {
      tpm_quote: {
        signature: Array.from(e.tpmQuote.signature),
        message: Array.from(e.tpmQuote.message),
        pcrs: e.tpmQuote.pcrs.map((p) => Array.from(p)),
      },
      hcl_report: Array.from(e.hclReport),
      td_quote: Array.from(e.tdQuote),
    };
  }
  return {
    version,
    tpm_quote: {
      signature: toHex(e.tpmQuote.signature),
      message: toHex(e.tpmQuote.message),
      pcrs: e.tpmQuote.pcrs.map(toHex),
    },
    hcl_report: padded(e.hclReport),
    td_quote: padded(e.tdQuote),
  };
}

/** The evidence as compact JSON text (what goes on the wire). */
export function serializeAzTdxVtpmEvidence(
  e: AzTdxVtpmEvidence,
  version: AzTdxVtpmEvidenceVersion = e.version,
): string {
  return JSON.stringify(azTdxVtpmEvidenceToJsonValue(e, version));
}
