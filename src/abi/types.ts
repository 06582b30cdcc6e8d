/**
 * Typed views of Intel SGX/TDX attestation structures. Every `Uint8Array` field returned by a parser is
 * a view (subarray) into the caller's buffer: parsing never copies. Integers are little-endian in the
 * wire format and plain numbers here (u64 fields are bigint).
 */

export const TEE_TYPE_SGX = 0x00000000;
export const TEE_TYPE_TDX = 0x00000081;
export const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
export const ATTESTATION_KEY_TYPE_ECDSA_P384 = 3;
/** Intel's QE vendor id `939A7233F79C4CA9940A0DB3957F0607`. */
export const INTEL_QE_VENDOR_ID = Uint8Array.from([
  0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
]);

export const QUOTE_HEADER_SIZE = 48;
export const SGX_REPORT_BODY_SIZE = 384;
export const TD_REPORT_BODY_10_SIZE = 584;
export const TD_REPORT_BODY_15_SIZE = 648;
export const TDREPORT_SIZE = 1024;
export const TEE_TCB_INFO_SIZE = 239;
export const TDINFO_SIZE = 512;

/** The 48-byte quote header (all versions). */
export interface QuoteHeader {
  version: number;
  attestationKeyType: number;
  teeType: number;
  /** Bytes 8..10: QE SVN in v3; reserved in v4/v5. */
  qeSvn: number;
  /** Bytes 10..12: PCE SVN in v3; reserved in v4/v5. */
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

/** The 384-byte SGX enclave report body (ISV report in v3, QE report everywhere). */
export interface SgxReportBody {
  cpuSvn: Uint8Array;
  miscSelect: number;
  reserved1: Uint8Array;
  /** 16 bytes: flags (u64 LE) || xfrm (u64 LE). */
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  reserved2: Uint8Array;
  mrSigner: Uint8Array;
  reserved3: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  reserved4: Uint8Array;
  reportData: Uint8Array;
}

/** TD report body v1.0 (584 bytes) and v1.5 (648 bytes; teeTcbSvn2 and mrServiceTd present). */
export interface TdReportBody {
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  /** TD 1.5 only. */
  teeTcbSvn2?: Uint8Array;
  /** TD 1.5 only. */
  mrServiceTd?: Uint8Array;
}

/** Quote v5 body type: 1 SGX, 2 TD 1.0, 3 TD 1.5. v3 quotes are SGX (1), v4 TDX quotes TD 1.0 (2). */
export type QuoteBodyType = 1 | 2 | 3;

export type QuoteBody =
  | { type: 1; kind: "sgx"; report: SgxReportBody }
  | { type: 2; kind: "td10"; report: TdReportBody }
  | { type: 3; kind: "td15"; report: TdReportBody };

export const CERT_TYPE_PPID_CLEARTEXT = 1;
export const CERT_TYPE_PPID_RSA2048_ENCRYPTED = 2;
export const CERT_TYPE_PPID_RSA3072_ENCRYPTED = 3;
export const CERT_TYPE_PCK_CLEARTEXT = 4;
export const CERT_TYPE_PCK_CERT_CHAIN = 5;
export const CERT_TYPE_QE_REPORT_CERTIFICATION_DATA = 6;
export const CERT_TYPE_PLATFORM_MANIFEST = 7;

/** Type 5: the PCK chain as PEM (leaf, intermediate, root), often NUL-terminated. */
export interface PckCertChain {
  /** PEM text of each certificate in order (leaf first), exactly as in the quote. */
  certificates: string[];
  /** Bytes after the last END CERTIFICATE line (usually a single NUL or nothing). */
  trailer: Uint8Array;
}

/** Type 6: QE report certification data. */
export interface QeReportCertificationData {
  qeReport: SgxReportBody;
  /** The raw 384 bytes of the QE report (what the PCK key signed). */
  qeReportBytes: Uint8Array;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  certificationData: CertificationData;
}

export interface CertificationData {
  type: number;
  /** Name of the type in Intel's terms, e.g. "PCK_CERT_CHAIN". */
  typeName: string;
  /** The declared size field. */
  size: number;
  /** The certification data payload (`size` bytes). */
  data: Uint8Array;
  /** Decoded payload for type 5. */
  pckCertChain?: PckCertChain;
  /** Decoded payload for type 6. */
  qeReportCertificationData?: QeReportCertificationData;
}

/** ECDSA quote signature data (v3 inline QE report; v4/v5 certification data type 6). */
export interface QuoteSignatureData {
  /** Raw r||s over the signed region. */
  signature: Uint8Array;
  /** Raw x||y (64 bytes, no 0x04 prefix). */
  attestationKey: Uint8Array;
  /**
   * v3: the QE report, signature, auth data and the type-5 cert data sit inline.
   * v4/v5: this is the decoded type-6 payload (absent when the outer type is not 6).
   */
  qeReportCertificationData?: QeReportCertificationData;
  /** v4/v5 only: the outer certification data (normally type 6). */
  certificationData?: CertificationData;
}

export interface Quote {
  /** The buffer the quote was parsed from (the whole input, trailing bytes included). */
  bytes: Uint8Array;
  header: QuoteHeader;
  body: QuoteBody;
  /** v5: the declared body descriptor (type and size); absent for v3/v4. */
  bodyDescriptor?: { type: number; size: number };
  /** End of the region covered by the quote signature ([0, signedLength)). */
  signedLength: number;
  /** The signed region ([0, signedLength)), a view. */
  signedBytes: Uint8Array;
  /** Declared signature data length. */
  signatureDataLength: number;
  signatureData: QuoteSignatureData;
  /** Offset of the signature data in `bytes`. */
  signatureDataOffset: number;
  /** Bytes after the signature data; kept, never an error. */
  trailing: Uint8Array;
  /**
   * Bytes inside the declared signature data length after its parts (normally empty). Intel's parser
   * ignores them (the length is not signed); kept, never an error. Absent on quotes built by hand.
   */
  signatureDataSlack?: Uint8Array;
  /** Byte ranges of each named field, for explorers and error reports. */
  layout: FieldRange[];
}

export interface FieldRange {
  /** Dotted path, e.g. "body.mrTd" or "signatureData.qeReport.mrSigner". */
  path: string;
  offset: number;
  size: number;
}

/** REPORTMACSTRUCT (256 bytes at the start of a TDREPORT). */
export interface ReportMacStruct {
  reportType: { type: number; subtype: number; version: number; reserved: number };
  reserved1: Uint8Array;
  cpuSvn: Uint8Array;
  teeTcbInfoHash: Uint8Array;
  teeInfoHash: Uint8Array;
  reportData: Uint8Array;
  reserved2: Uint8Array;
  mac: Uint8Array;
}

/** TEE_TCB_INFO (239 bytes at 256). */
export interface TeeTcbInfo {
  valid: Uint8Array;
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  attributes: Uint8Array;
  /** TDX 1.5 (bytes 128..144 of TEE_TCB_INFO); reserved in TDX 1.0. */
  teeTcbSvn2: Uint8Array;
  reserved: Uint8Array;
}

/** TDINFO_STRUCT (512 bytes at 512). */
export interface TdInfo {
  attributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  servTdHash: Uint8Array;
  reserved: Uint8Array;
}

export interface TdReport {
  bytes: Uint8Array;
  reportMacStruct: ReportMacStruct;
  teeTcbInfo: TeeTcbInfo;
  /** 17 reserved bytes at 495. */
  reserved: Uint8Array;
  tdInfo: TdInfo;
  layout: FieldRange[];
}
