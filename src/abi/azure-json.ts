/**
 * JSON views of the Azure vTPM structures (what `tdx-attest decode` prints), and detection of Azure inputs:
 * az-tdx-vtpm evidence JSON, a raw HCL report, a raw TPMS_ATTEST.
 */
import { type AzTdxVtpmEvidence, parseAzTdxVtpmEvidence } from "./az-evidence.js";
import { toHex } from "./bytes.js";
import {
  HCL_SIGNATURE,
  type HclReport,
  type HclVarData,
  hclHashTypeName,
  hclReportTypeName,
  parseHclReport,
  parseHclVarData,
} from "./hcl.js";
import { decodeInputBytes, type InputEncoding } from "./input.js";
import { type JsonObject, type JsonValue, quoteToJson, tdReportToJson } from "./json.js";
import { parseQuote } from "./quote.js";
import {
  be32,
  parseTpmsAttest,
  selectedPcrs,
  TPM_GENERATED_VALUE,
  type TpmsAttest,
  tpmAlgName,
  tpmAttestTypeName,
} from "./tpm2.js";

function toJsonValue(v: unknown): JsonValue {
  if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (typeof v === "object") {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toJsonValue(x);
    return out;
  }
  return String(v);
}

/** The var data as JSON: the document itself (keys, vm-configuration, user-data) as the paravisor wrote it. */
export function hclVarDataToJson(v: HclVarData): JsonObject {
  return toJsonValue(v.json) as JsonObject;
}

/** The decoded HCL report as JSON. The var data is shown decoded, or as text with the reason it is not. */
export function hclReportToJson(r: HclReport): JsonObject {
  const h = r.header;
  const q = r.requestData;
  let varData: JsonValue;
  try {
    varData = hclVarDataToJson(parseHclVarData(r.variableData));
  } catch (e) {
    varData = {
      text: new TextDecoder().decode(r.variableData),
      error: e instanceof Error ? e.message : String(e),
    };
  }
  const out: JsonObject = {
    kind: "hcl_report",
    size: r.bytes.length,
    header: {
      signature: h.signature === HCL_SIGNATURE ? "HCLA" : `0x${h.signature.toString(16)}`,
      version: h.version,
      report_size: h.reportSize,
      request_type: h.requestType,
      status: h.status,
      reserved: toHex(h.reserved),
    },
  };
  if (r.tdReport) {
    const { kind: _k, size: _s, ...td } = tdReportToJson(r.tdReport);
    out.td_report = td;
  } else {
    out.hw_report = toHex(r.hwReport);
  }
  out.request_data = {
    data_size: q.dataSize,
    version: q.version,
    report_type: q.reportType,
    report_type_name: hclReportTypeName(q.reportType),
    report_data_hash_type: q.reportDataHashType,
    report_data_hash_type_name: hclHashTypeName(q.reportDataHashType),
    variable_data_size: q.variableDataSize,
  };
  out.var_data = varData;
  out.padding_bytes = r.padding.length;
  return out;
}

function bigToJson(v: bigint): JsonValue {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function printable(b: Uint8Array): string | null {
  if (b.length === 0) return null;
  for (const c of b) if (c < 0x20 || c > 0x7e) return null;
  return new TextDecoder().decode(b);
}

/** The decoded TPMS_ATTEST as JSON (TPM 2.0 Part 2 field names). */
export function tpmsAttestToJson(a: TpmsAttest): JsonObject {
  const signer: JsonObject =
    a.qualifiedSigner.length >= 2
      ? {
          name_alg: tpmAlgName((a.qualifiedSigner[0]! << 8) | a.qualifiedSigner[1]!),
          digest: toHex(a.qualifiedSigner.subarray(2)),
        }
      : { raw: toHex(a.qualifiedSigner) };
  const out: JsonObject = {
    kind: "tpms_attest",
    size: a.bytes.length,
    magic: toHexBe32(a.magic),
    magic_is_tpm_generated: a.magic === TPM_GENERATED_VALUE,
    type: toHexBe16(a.type),
    type_name: tpmAttestTypeName(a.type),
    qualified_signer: signer,
    extra_data: toHex(a.extraData),
  };
  const text = printable(a.extraData);
  if (text !== null) out.extra_data_text = text;
  out.clock_info = {
    clock: bigToJson(a.clockInfo.clock),
    reset_count: a.clockInfo.resetCount,
    restart_count: a.clockInfo.restartCount,
    safe: a.clockInfo.safe !== 0,
  };
  out.firmware_version = a.firmwareVersion.toString(16).padStart(16, "0");
  if (a.quote) {
    out.quote = {
      pcr_select: a.quote.pcrSelect.map((s) => ({
        hash: tpmAlgName(s.hash),
        size_of_select: s.sizeofSelect,
        select: toHex(s.select),
        pcrs: selectedPcrs(s),
      })),
      pcr_digest: toHex(a.quote.pcrDigest),
    };
  } else {
    out.attested = toHex(a.attested);
  }
  return out;
}

function toHexBe16(v: number): string {
  return toHex(Uint8Array.of((v >>> 8) & 0xff, v & 0xff));
}

function toHexBe32(v: number): string {
  return toHex(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
}

/** PCR values keyed pcr00..pcrNN (Trustee's claim names), in the quote's selection order when it parses. */
export function pcrsToJson(pcrs: readonly Uint8Array[], indices?: readonly number[]): JsonObject {
  const out: JsonObject = {};
  pcrs.forEach((p, i) => {
    out[`pcr${String(indices?.[i] ?? i).padStart(2, "0")}`] = toHex(p);
  });
  return out;
}

/** Every part of az-tdx-vtpm evidence decoded (HCL report, TD quote, TPM quote). */
export function azTdxVtpmEvidenceToJson(e: AzTdxVtpmEvidence): JsonObject {
  const attest = parseTpmsAttest(e.tpmQuote.message);
  const indices = attest.quote?.pcrSelect.length === 1 ? selectedPcrs(attest.quote.pcrSelect[0]!) : undefined;
  const { kind: _hk, ...hcl } = hclReportToJson(parseHclReport(e.hclReport));
  const { kind: _qk, ...quote } = quoteToJson(parseQuote(e.tdQuote));
  const { kind: _ak, ...message } = tpmsAttestToJson(attest);
  return {
    kind: "az-tdx-vtpm",
    version: e.version,
    hcl_report: hcl,
    td_quote: quote,
    tpm_quote: {
      message,
      signature: toHex(e.tpmQuote.signature),
      signature_size: e.tpmQuote.signature.length,
      pcrs: pcrsToJson(e.tpmQuote.pcrs, indices?.length === e.tpmQuote.pcrs.length ? indices : undefined),
    },
  };
}

export type AzureInput =
  | { kind: "az-tdx-vtpm"; encoding: "json"; evidence: AzTdxVtpmEvidence }
  | { kind: "hcl_report"; encoding: InputEncoding; bytes: Uint8Array; hclReport: HclReport }
  | { kind: "tpms_attest"; encoding: InputEncoding; bytes: Uint8Array; attest: TpmsAttest };

/**
 * Recognise Azure inputs: JSON text (az-tdx-vtpm evidence), or bytes (binary, hex or base64) that start with
 * the HCL report signature "HCLA" or with TPM_GENERATED_VALUE. Null when the input is none of them (then it
 * is a quote or TDREPORT, for decodeAttestationInput).
 */
export function decodeAzureInput(input: Uint8Array): AzureInput | null {
  let i = 0;
  while (
    i < input.length &&
    (input[i] === 0x20 || input[i] === 0x0a || input[i] === 0x0d || input[i] === 0x09)
  )
    i++;
  if (input[i] === 0x7b)
    return { kind: "az-tdx-vtpm", encoding: "json", evidence: parseAzTdxVtpmEvidence(input) };
  let decoded: { bytes: Uint8Array; encoding: InputEncoding };
  try {
    decoded = decodeInputBytes(input);
  } catch {
    return null;
  }
  const { bytes, encoding } = decoded;
  if (bytes.length >= 4 && be32(bytes, 0) === 0x48434c41) {
    return { kind: "hcl_report", encoding, bytes, hclReport: parseHclReport(bytes) };
  }
  if (bytes.length >= 4 && be32(bytes, 0) === TPM_GENERATED_VALUE) {
    return { kind: "tpms_attest", encoding, bytes, attest: parseTpmsAttest(bytes) };
  }
  return null;
}
