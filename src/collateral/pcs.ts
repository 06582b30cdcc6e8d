/**
 * Readers for the bodies and headers Intel PCS v4 and PCCS return. They keep what the verifier needs
 * byte for byte: the exact signed text of TCB Info / QE Identity (the signature covers Intel's bytes, not
 * a re-serialisation), the CRL DER whatever the transport encoding, and the PEM issuer chains from the
 * percent-encoded response headers.
 */
import { parseCrl } from "../crypto/x509.js";
import { base64Bytes, hexBytes } from "../encoding.js";
import { TdxError } from "../errors.js";

/** A signed JSON collateral item as Intel signed it. */
export interface SignedJsonItem {
  /** The exact text of the signed object (`tcbInfo` / `enclaveIdentity` value), byte for byte. */
  body: string;
  /** Lowercase hex r||s (64 bytes). */
  signature: string;
  /** `id` field when present ("TDX", "SGX", "TD_QE", "QE", "QVE"). */
  id: string | null;
  version: number;
  issueDate: Date;
  nextUpdate: Date;
  tcbEvaluationDataNumber: number | null;
}

export interface TcbInfoItem extends SignedJsonItem {
  /** Uppercase hex, 12 digits. */
  fmspc: string;
  /** Uppercase hex, 4 digits. */
  pceId: string;
}

export type QeIdentityItem = SignedJsonItem;

/** A CRL in DER with the validity window read from it. */
export interface CrlItem {
  der: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date | null;
}

const HEX_RE = /^[0-9a-fA-F]*$/;

function formatError(message: string, field: string, hint: string): TdxError {
  return new TdxError("COLLATERAL_FORMAT", message, { field, hint });
}

/**
 * Returns the raw text of the value of top-level member `key` in a JSON object text, or null when absent.
 * The text must already be valid JSON (the caller parses it first); this only locates the value's bytes.
 */
export function rawMemberText(text: string, key: string): string | null {
  let i = skipWs(text, 0);
  if (text[i] !== "{") return null;
  i++;
  for (;;) {
    i = skipWs(text, i);
    if (text[i] === "}") return null;
    if (text[i] !== '"') return null;
    const keyEnd = endOfString(text, i);
    const name = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    if (text[i] !== ":") return null;
    i = skipWs(text, i + 1);
    const valueEnd = endOfValue(text, i);
    if (name === key) return text.slice(i, valueEnd);
    i = skipWs(text, valueEnd);
    if (text[i] === ",") {
      i++;
      continue;
    }
    return null;
  }
}

function skipWs(text: string, i: number): number {
  while (i < text.length && (text[i] === " " || text[i] === "\n" || text[i] === "\r" || text[i] === "\t"))
    i++;
  return i;
}

/** `i` is at an opening quote; returns the index just past the closing quote. */
function endOfString(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length) {
    const c = text[j];
    if (c === "\\") j += 2;
    else if (c === '"') return j + 1;
    else j++;
  }
  return text.length;
}

function endOfValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return endOfString(text, i);
  if (c === "{" || c === "[") {
    let depth = 0;
    let j = i;
    while (j < text.length) {
      const d = text[j];
      if (d === '"') {
        j = endOfString(text, j);
        continue;
      }
      if (d === "{" || d === "[") depth++;
      else if (d === "}" || d === "]") {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return text.length;
  }
  let j = i;
  while (j < text.length && !",}] \n\r\t".includes(text[j] as string)) j++;
  return j;
}

function parseDate(value: unknown, field: string): Date {
  if (typeof value !== "string")
    throw formatError(
      `${field} is missing or not a string`,
      field,
      "the PCS response is damaged; fetch it again",
    );
  const d = new Date(value);
  if (Number.isNaN(d.getTime()))
    throw formatError(`${field} is not a date: ${value}`, field, "expected an ISO 8601 UTC date");
  return d;
}

function readSignedJson(
  text: string,
  wrapper: "tcbInfo" | "enclaveIdentity",
): SignedJsonItem & {
  parsed: Record<string, unknown>;
} {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw formatError(
      `${wrapper} response is not JSON: ${e instanceof Error ? e.message : String(e)}`,
      wrapper,
      "the endpoint did not return a PCS v4 JSON body; check the PCCS/PCS base URL",
    );
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw formatError(`${wrapper} response is not a JSON object`, wrapper, 'expected {"' + wrapper + '":…}');
  const obj = doc as Record<string, unknown>;
  const inner = obj[wrapper];
  if (typeof inner !== "object" || inner === null || Array.isArray(inner))
    throw formatError(
      `response has no "${wrapper}" object`,
      wrapper,
      `expected the PCS v4 shape {"${wrapper}":{…},"signature":"…"}`,
    );
  const signature = obj.signature;
  if (typeof signature !== "string" || signature.length !== 128 || !HEX_RE.test(signature))
    throw formatError(
      `${wrapper} signature must be 128 hex characters`,
      `${wrapper}.signature`,
      "the response is damaged or not from Intel PCS v4",
    );
  const body = rawMemberText(text, wrapper);
  if (body === null) throw formatError(`cannot locate the ${wrapper} text`, wrapper, "report this response");
  // Read the fields from the very text that is signed (and that the verifier will parse), not from
  // JSON.parse of the whole response, which would take the last of duplicated keys.
  const parsed = JSON.parse(body) as Record<string, unknown>;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw formatError(`the signed ${wrapper} text is not an object`, wrapper, "the response is damaged");
  const version = parsed.version;
  if (typeof version !== "number" || !Number.isInteger(version))
    throw formatError(`${wrapper}.version is not an integer`, `${wrapper}.version`, "unsupported format");
  const id = typeof parsed.id === "string" ? parsed.id : null;
  const tcbEval = parsed.tcbEvaluationDataNumber;
  return {
    body,
    signature: signature.toLowerCase(),
    id,
    version,
    issueDate: parseDate(parsed.issueDate, `${wrapper}.issueDate`),
    nextUpdate: parseDate(parsed.nextUpdate, `${wrapper}.nextUpdate`),
    tcbEvaluationDataNumber: typeof tcbEval === "number" ? tcbEval : null,
    parsed,
  };
}

/** Reads a PCS/PCCS TCB Info response `{"tcbInfo":{…},"signature":"…"}`. */
export function readTcbInfoResponse(text: string): TcbInfoItem {
  const { parsed, ...item } = readSignedJson(text, "tcbInfo");
  const fmspc = parsed.fmspc;
  const pceId = parsed.pceId;
  if (typeof fmspc !== "string" || !/^[0-9a-fA-F]{12}$/.test(fmspc))
    throw formatError("tcbInfo.fmspc must be 12 hex digits", "tcbInfo.fmspc", "the response is damaged");
  if (typeof pceId !== "string" || !/^[0-9a-fA-F]{4}$/.test(pceId))
    throw formatError("tcbInfo.pceId must be 4 hex digits", "tcbInfo.pceId", "the response is damaged");
  return { ...item, fmspc: fmspc.toUpperCase(), pceId: pceId.toUpperCase() };
}

/** Reads a PCS/PCCS QE Identity response `{"enclaveIdentity":{…},"signature":"…"}`. */
export function readQeIdentityResponse(text: string): QeIdentityItem {
  const { parsed: _parsed, ...item } = readSignedJson(text, "enclaveIdentity");
  return item;
}

/**
 * Reads a CRL as PCS and PCCS return it: raw DER (`encoding=der`, the root CA CRL distribution point),
 * PEM (`-----BEGIN X509 CRL-----`), or hex of the DER (PCCS `rootcacrl`, older `pckcrl`). PCCS hex-encodes
 * whatever it stored, so hex of PEM text is unwrapped too.
 */
export function readCrl(input: Uint8Array | string, field = "crl"): CrlItem {
  const der = crlDer(input, field, 0);
  let crl: ReturnType<typeof parseCrl>;
  try {
    crl = parseCrl(der);
  } catch (e) {
    throw new TdxError("COLLATERAL_FORMAT", `${field} is not a DER X.509 CRL`, {
      field,
      hint: "the endpoint returned something other than a CRL; check the PCCS/PCS base URL",
      cause: e,
    });
  }
  return {
    der,
    thisUpdate: new Date(crl.thisUpdate * 1000),
    nextUpdate: crl.nextUpdate === null ? null : new Date(crl.nextUpdate * 1000),
  };
}

function crlDer(input: Uint8Array | string, field: string, depth: number): Uint8Array {
  if (depth > 2) throw formatError(`${field} is nested too deeply`, field, "not a CRL");
  if (typeof input !== "string") {
    // DER starts with SEQUENCE (0x30); anything else is text.
    if (input.length > 0 && input[0] === 0x30) return input;
    return crlDer(new TextDecoder().decode(input), field, depth + 1);
  }
  const text = input.replace(/\0+$/, "").trim();
  const pem = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(text);
  if (pem) return base64Bytes((pem[1] ?? "").replace(/\s+/g, ""));
  if (text.length > 0 && text.length % 2 === 0 && HEX_RE.test(text)) {
    const bytes = hexBytes(text) as Uint8Array; // even length and hex digits: checked above
    return crlDer(bytes, field, depth + 1);
  }
  throw formatError(
    `${field} is neither DER, PEM nor hex`,
    field,
    "the endpoint returned something other than a CRL; check the PCCS/PCS base URL",
  );
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Splits PEM text into its certificates (each normalised to end with a newline). */
export function splitPemCertificates(pem: string): string[] {
  return (pem.match(PEM_CERT_RE) ?? []).map((c) => `${c}\n`);
}

/**
 * Decodes an issuer-chain header value (percent-encoded PEM, as PCS and PCCS send it) and checks that it
 * holds at least `minCerts` certificates. Returns the PEM text with one certificate after another.
 */
export function readIssuerChainHeader(value: string, header: string, minCerts = 1): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch (e) {
    throw new TdxError("COLLATERAL_FORMAT", `${header} is not valid percent-encoding`, {
      field: header,
      hint: "the PCS/PCCS response header is damaged",
      cause: e,
    });
  }
  const certs = splitPemCertificates(decoded);
  if (certs.length < minCerts)
    throw formatError(
      `${header} holds ${certs.length} certificate(s), expected at least ${minCerts}`,
      header,
      "the PCS/PCCS response lacks its issuer chain; is the URL a PCS v4 compatible service?",
    );
  return certs.join("");
}

/** Issuer-chain header names, first match wins (v4 name before the v3 one). */
export const ISSUER_CHAIN_HEADERS = {
  pckCrl: ["SGX-PCK-CRL-Issuer-Chain"],
  tcbInfo: ["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"],
  qeIdentity: ["SGX-Enclave-Identity-Issuer-Chain"],
} as const;

/** Reads the first present issuer-chain header out of `names`. */
export function issuerChainFromHeaders(
  headers: { get(name: string): string | null },
  names: readonly string[],
  minCerts = 1,
): string {
  for (const name of names) {
    const v = headers.get(name);
    if (v !== null && v !== "") return readIssuerChainHeader(v, name, minCerts);
  }
  throw formatError(
    `response has no ${names.join(" / ")} header`,
    names[0] ?? "issuer-chain",
    "the service did not send the issuer chain; use a PCS v4 compatible PCCS or Intel PCS",
  );
}
