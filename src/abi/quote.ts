import { latin1Bytes, latin1Of } from "../encoding.js";
import { TdxError } from "../errors.js";
import { concatBytes, putBytes, putU16, putU32, u16, u32 } from "./bytes.js";
import {
  bodySizeOf,
  encodeSgxReportBody,
  encodeTdReportBody,
  parseSgxReportBody,
  parseTdReportBody,
  sgxReportLayout,
  tdReportBodyLayout,
} from "./reports.js";
import type {
  CertificationData,
  FieldRange,
  PckCertChain,
  QeReportCertificationData,
  Quote,
  QuoteBody,
  QuoteBodyType,
  QuoteHeader,
  QuoteSignatureData,
  SgxReportBody,
} from "./types.js";
import {
  ATTESTATION_KEY_TYPE_ECDSA_P256,
  CERT_TYPE_PCK_CERT_CHAIN,
  CERT_TYPE_QE_REPORT_CERTIFICATION_DATA,
  QUOTE_HEADER_SIZE,
  SGX_REPORT_BODY_SIZE,
  TEE_TYPE_SGX,
  TEE_TYPE_TDX,
} from "./types.js";
import { defineView } from "./view.js";

export const CERT_TYPE_NAMES: Record<number, string> = {
  1: "PPID_CLEARTEXT",
  2: "PPID_RSA2048_ENCRYPTED",
  3: "PPID_RSA3072_ENCRYPTED",
  4: "PCK_CLEARTEXT",
  5: "PCK_CERT_CHAIN",
  6: "QE_REPORT_CERTIFICATION_DATA",
  7: "PLATFORM_MANIFEST",
};

/** Shortest possible quote (QVL QUOTE_MIN_BYTE_LEN): header, SGX body, length, minimal signature data. */
export const QUOTE_MIN_SIZE = 48 + 384 + 4 + (64 + 64 + 384 + 64 + 2 + 2 + 4);

function truncated(field: string, offset: number, need: number, have: number): TdxError {
  return new TdxError(
    "QUOTE_TRUNCATED",
    `quote ends inside ${field}: needs ${need} bytes at offset ${offset}, ${Math.max(0, have)} available`,
    { field, offset, hint: "the quote is cut short; pass the complete quote file (binary, hex or base64)" },
  );
}

const QuoteHeaderView = defineView<QuoteHeader>([
  ["version", 0, 2, "u16"],
  ["attestationKeyType", 2, 2, "u16"],
  ["teeType", 4, 4, "u32"],
  ["qeSvn", 8, 2, "u16"],
  ["pceSvn", 10, 2, "u16"],
  ["qeVendorId", 12, 16],
  ["userData", 28, 20],
]);

const SignatureDataView = defineView<QuoteSignatureData>([
  ["signature", 0, 64],
  ["attestationKey", 64, 64],
]);

/** Certification data of a parsed quote; `data` is a view, type 5 is split into PEM on first read. */
class ParsedCertificationData implements CertificationData {
  qeReportCertificationData?: QeReportCertificationData;
  #chain: PckCertChain | undefined;
  #data: Uint8Array | undefined;
  constructor(
    private readonly b: Uint8Array,
    private readonly dataOff: number,
    readonly type: number,
    readonly typeName: string,
    readonly size: number,
  ) {}
  get data(): Uint8Array {
    this.#data ??= this.b.subarray(this.dataOff, this.dataOff + this.size);
    return this.#data;
  }
  set data(v: Uint8Array) {
    this.#data = v;
  }
  get pckCertChain(): PckCertChain | undefined {
    if (this.type !== CERT_TYPE_PCK_CERT_CHAIN) return undefined;
    this.#chain ??= parsePckCertChainPem(this.data, this.dataOff);
    return this.#chain;
  }
}

const QeReportParts = defineView<{ qeReportBytes: Uint8Array; qeReportSignature: Uint8Array }>([
  ["qeReportBytes", 0, 384],
  ["qeReportSignature", 384, 64],
]);

/** QE report certification data of a parsed quote (views created on first read). */
class ParsedQeReportCertificationData extends QeReportParts implements QeReportCertificationData {
  #report: SgxReportBody | undefined;
  #auth: Uint8Array | undefined;
  constructor(
    b: Uint8Array,
    o: number,
    private readonly authLen: number,
    public certificationData: CertificationData,
  ) {
    super(b, o);
  }
  get qeReport(): SgxReportBody {
    this.#report ??= parseSgxReportBody(this._b, this._o);
    return this.#report;
  }
  set qeReport(v: SgxReportBody) {
    this.#report = v;
  }
  get qeAuthData(): Uint8Array {
    this.#auth ??= this._b.subarray(this._o + 450, this._o + 450 + this.authLen);
    return this.#auth;
  }
  set qeAuthData(v: Uint8Array) {
    this.#auth = v;
  }
}

class ParsedQuote implements Quote {
  #layout: FieldRange[] | undefined;
  bodyDescriptor?: { type: number; size: number };
  constructor(
    readonly bytes: Uint8Array,
    public header: QuoteHeader,
    public body: QuoteBody,
    bodyDescriptor: { type: number; size: number } | undefined,
    readonly signedLength: number,
    readonly signatureDataLength: number,
    public signatureData: QuoteSignatureData,
    private readonly sigEnd: number,
    private readonly partsEnd: number,
  ) {
    if (bodyDescriptor) this.bodyDescriptor = bodyDescriptor;
  }
  get signatureDataOffset(): number {
    return this.signedLength + 4;
  }
  get signedBytes(): Uint8Array {
    return this.bytes.subarray(0, this.signedLength);
  }
  get trailing(): Uint8Array {
    return this.bytes.subarray(this.sigEnd);
  }
  get signatureDataSlack(): Uint8Array {
    return this.bytes.subarray(this.partsEnd, this.sigEnd);
  }
  /** Byte ranges of every field; built on first use (only explorers and error reports need it). */
  get layout(): FieldRange[] {
    this.#layout ??= quoteLayout(this);
    return this.#layout;
  }
}

/** Parse a quote v3, v4 or v5 without copying: every byte field is a view into `bytes`. */
export function parseQuote(bytes: Uint8Array): Quote {
  if (!(bytes instanceof Uint8Array)) {
    throw new TdxError("QUOTE_NOT_BYTES", "a quote must be given as bytes (Uint8Array or Buffer)", {
      hint: "read the quote file as binary, or decode hex/base64 first (readQuoteInput does this)",
    });
  }
  const n = bytes.length;
  if (n < QUOTE_HEADER_SIZE) throw truncated("header", 0, QUOTE_HEADER_SIZE, n);
  const header = new QuoteHeaderView(bytes, 0);
  const version = u16(bytes, 0);
  const teeType = u32(bytes, 4);
  if (version !== 3 && version !== 4 && version !== 5) {
    throw new TdxError("QUOTE_UNSUPPORTED_VERSION", `quote version ${version} is not supported (3, 4 or 5)`, {
      field: "header.version",
      offset: 0,
      hint:
        version === 0x81 || bytes[0] === 0x81
          ? "this looks like a TDREPORT, not a quote: decode it as a TDREPORT or turn it into a quote with the QGS"
          : "only DCAP ECDSA quotes v3 (SGX), v4 and v5 (SGX/TDX) exist; check that the input is a quote",
    });
  }
  const attestationKeyType = u16(bytes, 2);
  if (attestationKeyType !== ATTESTATION_KEY_TYPE_ECDSA_P256) {
    throw new TdxError(
      "QUOTE_UNSUPPORTED_KEY_TYPE",
      `attestation key type ${attestationKeyType} is not supported (2 = ECDSA-256-with-P-256)`,
      {
        field: "header.att_key_type",
        offset: 2,
        hint: "Intel's quoting enclaves only produce type 2 quotes",
      },
    );
  }
  if (teeType !== TEE_TYPE_SGX && teeType !== TEE_TYPE_TDX) {
    throw new TdxError(
      "QUOTE_UNSUPPORTED_TEE_TYPE",
      `TEE type 0x${teeType.toString(16)} is not SGX (0) or TDX (0x81)`,
      {
        field: "header.tee_type",
        offset: 4,
        hint: "the quote header is corrupt or not an Intel DCAP quote",
      },
    );
  }

  let bodyType: QuoteBodyType;
  let bodyOff = QUOTE_HEADER_SIZE;
  let bodyDescriptor: { type: number; size: number } | undefined;
  if (version === 5) {
    if (n < 54) throw truncated("body descriptor", 48, 6, n - 48);
    const type = u16(bytes, 48);
    const size = u32(bytes, 50);
    if (type !== 1 && type !== 2 && type !== 3) {
      throw new TdxError(
        "QUOTE_BODY_TYPE_INVALID",
        `v5 body type ${type} is not 1 (SGX), 2 (TD 1.0) or 3 (TD 1.5)`,
        {
          field: "body.type",
          offset: 48,
          hint: "the quote is corrupt or from an unsupported generation",
        },
      );
    }
    if (size !== bodySizeOf(type)) {
      throw new TdxError(
        "QUOTE_BODY_SIZE_MISMATCH",
        `v5 body type ${type} must be ${bodySizeOf(type)} bytes, header says ${size}`,
        {
          field: "body.size",
          offset: 50,
          hint: "the body descriptor is inconsistent; the quote is corrupt",
        },
      );
    }
    if ((teeType === TEE_TYPE_SGX) !== (type === 1)) {
      throw new TdxError(
        "QUOTE_TEE_BODY_MISMATCH",
        `TEE type 0x${teeType.toString(16)} does not match v5 body type ${type}`,
        {
          field: "body.type",
          offset: 48,
          hint: "SGX quotes carry body type 1, TDX quotes body type 2 or 3",
        },
      );
    }
    bodyType = type;
    bodyDescriptor = { type, size };
    bodyOff = 54;
  } else if (teeType === TEE_TYPE_TDX) {
    if (version === 3) {
      throw new TdxError("QUOTE_TEE_VERSION_MISMATCH", "quote v3 is SGX only but the TEE type says TDX", {
        field: "header.tee_type",
        offset: 4,
        hint: "TDX quotes are version 4 or 5",
      });
    }
    bodyType = 2;
  } else {
    bodyType = 1;
  }
  const bodySize = bodySizeOf(bodyType);
  if (bodyOff + bodySize > n) throw truncated("body", bodyOff, bodySize, n - bodyOff);
  const body: QuoteBody =
    bodyType === 1
      ? { type: 1, kind: "sgx", report: parseSgxReportBody(bytes, bodyOff) }
      : bodyType === 2
        ? { type: 2, kind: "td10", report: parseTdReportBody(bytes, bodyOff, 2) }
        : { type: 3, kind: "td15", report: parseTdReportBody(bytes, bodyOff, 3) };

  const signedLength = bodyOff + bodySize;
  if (signedLength + 4 > n) throw truncated("signature_data_len", signedLength, 4, n - signedLength);
  const signatureDataLength = u32(bytes, signedLength);
  const sigOff = signedLength + 4;
  const sigEnd = sigOff + signatureDataLength;
  if (sigEnd > n) {
    throw new TdxError(
      "QUOTE_SIGNATURE_DATA_TRUNCATED",
      `signature_data_len says ${signatureDataLength} bytes but only ${n - sigOff} follow`,
      {
        field: "signature_data_len",
        offset: signedLength,
        hint: "the quote is truncated or its length field is corrupt",
      },
    );
  }
  if (sigOff + 128 > sigEnd)
    throw truncated("signature data (signature, attestation key)", sigOff, 128, sigEnd - sigOff);
  const signatureData = new SignatureDataView(bytes, sigOff);
  let end: number;
  if (version === 3) {
    const r = parseQeReportCertificationData(bytes, sigOff + 128, sigEnd, "signatureData");
    signatureData.qeReportCertificationData = r.value;
    end = r.end;
  } else {
    const r = parseCertificationData(bytes, sigOff + 128, sigEnd, "signatureData.certificationData");
    signatureData.certificationData = r.value;
    if (r.value.qeReportCertificationData)
      signatureData.qeReportCertificationData = r.value.qeReportCertificationData;
    end = r.end;
  }
  // Bytes inside the declared signature data after its parts (end < sigEnd) are kept as
  // signatureDataSlack, not refused: Intel's Quote::parse hands the declared length to
  // Ecdsa256BitQuoteV3/V4AuthData::insert, which reads its parts and never checks that it reached the end
  // (QVL QuoteStructures.cpp, QuoteParsers.h copyAndAdvance); only the nested type-6 data must be exact.
  return new ParsedQuote(
    bytes,
    header,
    body,
    bodyDescriptor,
    signedLength,
    signatureDataLength,
    signatureData,
    sigEnd,
    end,
  );
}

function parseCertificationData(
  b: Uint8Array,
  off: number,
  limit: number,
  path: string,
): { value: CertificationData; end: number } {
  if (off + 6 > limit) throw truncated(`${path} (type and size)`, off, 6, limit - off);
  const type = u16(b, off);
  const size = u32(b, off + 2);
  const dataOff = off + 6;
  if (dataOff + size > limit) {
    throw new TdxError(
      "QUOTE_CERT_DATA_SIZE",
      `${path} declares ${size} bytes but only ${limit - dataOff} remain in the signature data`,
      {
        field: `${path}.size`,
        offset: off + 2,
        hint: "the certification data size is corrupt or the quote is truncated",
      },
    );
  }
  const typeName = CERT_TYPE_NAMES[type];
  if (typeName === undefined) {
    throw new TdxError(
      "QUOTE_CERT_DATA_TYPE_UNKNOWN",
      `${path} type ${type} is not a known certification data type (1-7)`,
      {
        field: `${path}.type`,
        offset: off,
        hint: "the quote is corrupt or uses a certification data type this version does not know",
      },
    );
  }
  const value = new ParsedCertificationData(b, dataOff, type, typeName, size);
  if (type === CERT_TYPE_QE_REPORT_CERTIFICATION_DATA) {
    const inner = parseQeReportCertificationData(
      b,
      dataOff,
      dataOff + size,
      `${path}.qeReportCertificationData`,
    );
    if (inner.end !== dataOff + size) {
      throw new TdxError(
        "QUOTE_CERT_DATA_INCONSISTENT",
        `${path} declares ${size} bytes but its QE report certification data ends ${dataOff + size - inner.end} bytes early`,
        {
          field: `${path}.size`,
          offset: off + 2,
          hint: "the nested length fields disagree; the quote is corrupt",
        },
      );
    }
    value.qeReportCertificationData = inner.value;
  }
  return { value, end: dataOff + size };
}

function parseQeReportCertificationData(
  b: Uint8Array,
  off: number,
  limit: number,
  path: string,
): { value: QeReportCertificationData; end: number } {
  if (off + SGX_REPORT_BODY_SIZE + 64 + 2 > limit) {
    throw truncated(
      `${path} (QE report, signature, auth data size)`,
      off,
      SGX_REPORT_BODY_SIZE + 66,
      limit - off,
    );
  }
  const authLen = u16(b, off + 448);
  const authOff = off + 450;
  if (authOff + authLen > limit) {
    throw new TdxError(
      "QUOTE_QE_AUTH_DATA_SIZE",
      `QE auth data declares ${authLen} bytes but only ${limit - authOff} remain`,
      {
        field: `${path}.qeAuthData.size`,
        offset: off + 448,
        hint: "the QE auth data size is corrupt or the quote is truncated",
      },
    );
  }
  const cert = parseCertificationData(b, authOff + authLen, limit, `${path}.certificationData`);
  return { value: new ParsedQeReportCertificationData(b, off, authLen, cert.value), end: cert.end };
}

const PEM_BEGIN = "-----BEGIN CERTIFICATE-----";
const PEM_END = "-----END CERTIFICATE-----";

/** Split type-5 certification data into PEM certificates, keeping what follows the last one (often NUL). */
export function parsePckCertChainPem(data: Uint8Array, offset = 0, path = "certificationData"): PckCertChain {
  // One character per byte: string positions are byte offsets.
  const buf = latin1Of(data);
  const certificates: string[] = [];
  let pos = 0;
  for (;;) {
    const begin = buf.indexOf(PEM_BEGIN, pos);
    if (begin < 0) break;
    const end = buf.indexOf(PEM_END, begin + PEM_BEGIN.length);
    if (end < 0) break;
    pos = end + PEM_END.length;
    certificates.push(buf.slice(begin, pos));
  }
  if (certificates.length === 0) {
    throw new TdxError("QUOTE_PCK_CHAIN_MALFORMED", "PCK certificate chain data holds no PEM certificate", {
      field: path,
      offset,
      hint: "certification data type 5 must hold the PEM chain PCK || intermediate CA || root CA",
    });
  }
  return { certificates, trailer: data.subarray(pos) };
}

/** PEM certificates of the quote's type-5 PCK chain (leaf first), or null when the quote carries none. */
export function pckCertChainOf(quote: Quote): string[] | null {
  const cd =
    quote.signatureData.qeReportCertificationData?.certificationData ?? quote.signatureData.certificationData;
  if (!cd || cd.type !== CERT_TYPE_PCK_CERT_CHAIN) return null;
  return cd.pckCertChain?.certificates ?? null;
}

/** What `serializeQuote` needs: the typed values of a quote; lengths are derived. */
export interface QuoteInput {
  header: QuoteHeader;
  body: QuoteBody;
  signatureData: QuoteSignatureData;
  /** Bytes inside the declared signature data length after its parts (see Quote.signatureDataSlack). */
  signatureDataSlack?: Uint8Array;
  trailing?: Uint8Array;
}

/** The 48 header bytes. */
export function encodeQuoteHeader(h: QuoteHeader): Uint8Array {
  const out = new Uint8Array(QUOTE_HEADER_SIZE);
  putU16(out, 0, h.version);
  putU16(out, 2, h.attestationKeyType);
  putU32(out, 4, h.teeType);
  putU16(out, 8, h.qeSvn);
  putU16(out, 10, h.pceSvn);
  putBytes(out, 12, h.qeVendorId, 16, "header.qe_vendor_id");
  putBytes(out, 28, h.userData, 20, "header.user_data");
  return out;
}

function encodeBody(body: QuoteBody): Uint8Array {
  return body.type === 1 ? encodeSgxReportBody(body.report) : encodeTdReportBody(body.report, body.type);
}

/** The exact bytes the attestation key signs: v3/v4 header || body; v5 header || type || size || body. */
export function encodeQuoteSignedRegion(header: QuoteHeader, body: QuoteBody): Uint8Array {
  const h = encodeQuoteHeader(header);
  const b = encodeBody(body);
  if (header.version !== 5) return concatBytes(h, b);
  const desc = new Uint8Array(6);
  putU16(desc, 0, body.type);
  putU32(desc, 2, b.length);
  return concatBytes(h, desc, b);
}

/** Encode QE report certification data (QE report, its signature, auth data, nested certification data). */
export function encodeQeReportCertificationData(q: QeReportCertificationData): Uint8Array {
  const fixed = new Uint8Array(384 + 64 + 2);
  fixed.set(encodeSgxReportBody(q.qeReport), 0);
  putBytes(fixed, 384, q.qeReportSignature, 64, "qeReportSignature");
  putU16(fixed, 448, q.qeAuthData.length);
  return concatBytes(fixed, q.qeAuthData, encodeCertificationData(q.certificationData));
}

/** Encode certification data (type, size, payload). Type 6 is rebuilt from its decoded parts when present. */
export function encodeCertificationData(
  cd: Pick<CertificationData, "type" | "data" | "qeReportCertificationData">,
): Uint8Array {
  const payload =
    cd.type === CERT_TYPE_QE_REPORT_CERTIFICATION_DATA && cd.qeReportCertificationData
      ? encodeQeReportCertificationData(cd.qeReportCertificationData)
      : cd.data;
  const head = new Uint8Array(6);
  putU16(head, 0, cd.type);
  putU32(head, 2, payload.length);
  return concatBytes(head, payload);
}

/** Type-5 certification data from PEM certificates (leaf first), NUL-terminated as Intel's QE writes it. */
export function pckCertChainCertificationData(pems: string[], nulTerminated = true): CertificationData {
  const text = pems.map((p) => (p.endsWith("\n") ? p : `${p}\n`)).join("");
  const data = latin1Bytes(nulTerminated ? `${text}\0` : text);
  return { type: CERT_TYPE_PCK_CERT_CHAIN, typeName: "PCK_CERT_CHAIN", size: data.length, data };
}

/** Serialize a quote from typed values; serializeQuote(parseQuote(b)) equals b byte for byte. */
export function serializeQuote(q: QuoteInput): Uint8Array {
  const signed = encodeQuoteSignedRegion(q.header, q.body);
  const sd = q.signatureData;
  const sigHead = new Uint8Array(128);
  putBytes(sigHead, 0, sd.signature, 64, "signatureData.signature");
  putBytes(sigHead, 64, sd.attestationKey, 64, "signatureData.attestationKey");
  let rest: Uint8Array;
  if (q.header.version === 3) {
    if (!sd.qeReportCertificationData) {
      throw new TdxError("ABI_FIELD_MISSING", "a v3 quote needs signatureData.qeReportCertificationData", {
        field: "signatureData.qeReportCertificationData",
        hint: "give the QE report, its signature, the QE auth data and the PCK chain certification data",
      });
    }
    rest = encodeQeReportCertificationData(sd.qeReportCertificationData);
  } else {
    const outer =
      sd.certificationData ??
      (sd.qeReportCertificationData
        ? {
            type: CERT_TYPE_QE_REPORT_CERTIFICATION_DATA,
            data: new Uint8Array(0),
            qeReportCertificationData: sd.qeReportCertificationData,
          }
        : undefined);
    if (!outer) {
      throw new TdxError("ABI_FIELD_MISSING", "a v4/v5 quote needs signatureData.certificationData", {
        field: "signatureData.certificationData",
        hint: "give certification data type 6 (QE report certification data)",
      });
    }
    rest = encodeCertificationData(outer);
  }
  const slack = q.signatureDataSlack ?? new Uint8Array(0);
  const len = new Uint8Array(4);
  putU32(len, 0, sigHead.length + rest.length + slack.length);
  return concatBytes(signed, len, sigHead, rest, slack, q.trailing ?? new Uint8Array(0));
}

function offsetIn(quote: Quote, view: Uint8Array): number {
  return view.byteOffset - quote.bytes.byteOffset;
}

function certDataLayout(quote: Quote, cd: CertificationData, path: string, out: FieldRange[]): void {
  const dataOff = offsetIn(quote, cd.data);
  out.push({ path: `${path}.type`, offset: dataOff - 6, size: 2 });
  out.push({ path: `${path}.size`, offset: dataOff - 4, size: 4 });
  const q = cd.qeReportCertificationData;
  if (q) qeLayout(quote, q, `${path}.qeReportCertificationData`, out);
  else out.push({ path: `${path}.data`, offset: dataOff, size: cd.data.length });
}

function qeLayout(quote: Quote, q: QeReportCertificationData, path: string, out: FieldRange[]): void {
  const off = offsetIn(quote, q.qeReportBytes);
  out.push(...sgxReportLayout(`${path}.qeReport`, off));
  out.push({ path: `${path}.qeReportSignature`, offset: off + 384, size: 64 });
  out.push({ path: `${path}.qeAuthData.size`, offset: off + 448, size: 2 });
  out.push({ path: `${path}.qeAuthData`, offset: off + 450, size: q.qeAuthData.length });
  certDataLayout(quote, q.certificationData, `${path}.certificationData`, out);
}

/** Byte range of every named field of a parsed quote (header, body, signature data, trailing bytes). */
export function quoteLayout(quote: Quote): FieldRange[] {
  const out: FieldRange[] = [
    { path: "header.version", offset: 0, size: 2 },
    { path: "header.attestationKeyType", offset: 2, size: 2 },
    { path: "header.teeType", offset: 4, size: 4 },
    { path: "header.qeSvn", offset: 8, size: 2 },
    { path: "header.pceSvn", offset: 10, size: 2 },
    { path: "header.qeVendorId", offset: 12, size: 16 },
    { path: "header.userData", offset: 28, size: 20 },
  ];
  let bodyOff = 48;
  if (quote.bodyDescriptor) {
    out.push({ path: "body.type", offset: 48, size: 2 }, { path: "body.size", offset: 50, size: 4 });
    bodyOff = 54;
  }
  if (quote.body.type === 1) out.push(...sgxReportLayout("body", bodyOff));
  else out.push(...tdReportBodyLayout("body", bodyOff, quote.body.type));
  out.push({ path: "signatureDataLength", offset: quote.signedLength, size: 4 });
  const s = quote.signatureDataOffset;
  out.push({ path: "signatureData.signature", offset: s, size: 64 });
  out.push({ path: "signatureData.attestationKey", offset: s + 64, size: 64 });
  const sd = quote.signatureData;
  if (quote.header.version === 3 && sd.qeReportCertificationData) {
    qeLayout(quote, sd.qeReportCertificationData, "signatureData", out);
  } else if (sd.certificationData) {
    certDataLayout(quote, sd.certificationData, "signatureData.certificationData", out);
  }
  const slack = quote.signatureDataSlack;
  if (slack && slack.length > 0) {
    out.push({ path: "signatureDataSlack", offset: offsetIn(quote, slack), size: slack.length });
  }
  if (quote.trailing.length > 0) {
    out.push({ path: "trailing", offset: offsetIn(quote, quote.trailing), size: quote.trailing.length });
  }
  return out;
}
