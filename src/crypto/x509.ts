import { base64Bytes, base64Of, utf8Of } from "../encoding.js";
import { TdxError } from "../errors.js";
import {
  childrenOf,
  contentOf,
  type DerNode,
  decodeOidOf,
  decodeTime,
  derError,
  expectNode,
  readNode,
  TAG_BIT_STRING,
  TAG_BOOLEAN,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  TAG_SET,
  tlvOf,
} from "./der.js";

/**
 * X.509 certificates and CRLs parsed straight from DER (RFC 5280 structure, the subset the Intel SGX PKI
 * uses: ECDSA P-256/SHA-256, v3 certificates, v2 CRLs). Parsing is a few microseconds and copies nothing;
 * signatures are checked by `ecdsa.ts` over the exact TBS bytes kept here.
 */

export const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
export const OID_P256 = "1.2.840.10045.3.1.7";
export const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
export const OID_ECDSA_SHA384 = "1.2.840.10045.4.3.3";
export const OID_CN = "2.5.4.3";
export const OID_BASIC_CONSTRAINTS = "2.5.29.19";
export const OID_AUTHORITY_KEY_ID = "2.5.29.35";
export const OID_CRL_NUMBER = "2.5.29.20";
export const OID_SUBJECT_KEY_ID = "2.5.29.14";
export const OID_KEY_USAGE = "2.5.29.15";
export const OID_CRL_DISTRIBUTION_POINTS = "2.5.29.31";
export const OID_C = "2.5.4.6";
export const OID_O = "2.5.4.10";
export const OID_L = "2.5.4.7";
export const OID_ST = "2.5.4.8";

/**
 * Extensions every certificate must carry for Intel's QVL (`AttestationParsers/src/X509Constants.h`
 * REQUIRED_X509_EXTENSIONS, checked by `x509::Certificate` when it parses any certificate of a chain or
 * the trusted root): authority key id, CRL distribution points, subject key id, key usage, basic constraints.
 */
export const QVL_REQUIRED_CERT_EXTENSIONS = [
  OID_AUTHORITY_KEY_ID,
  OID_CRL_DISTRIBUTION_POINTS,
  OID_SUBJECT_KEY_ID,
  OID_KEY_USAGE,
  OID_BASIC_CONSTRAINTS,
] as const;

export interface NameAttribute {
  oid: string;
  value: string;
}

export interface Extension {
  critical: boolean;
  /** Content of the extnValue OCTET STRING (the DER of the extension value). */
  value: Uint8Array;
}

export interface Certificate {
  der: Uint8Array;
  /** The exact signed bytes (tbsCertificate TLV). */
  tbs: Uint8Array;
  version: number;
  /** INTEGER content bytes of the serial (as encoded). */
  serial: Uint8Array;
  /** Serial as lowercase hex with leading zero bytes removed (comparable with CRL entries). */
  serialHex: string;
  signatureAlgorithm: string;
  /** Raw issuer Name TLV (compared byte for byte, like QVL's raw DN comparison). */
  issuerRaw: Uint8Array;
  subjectRaw: Uint8Array;
  issuer: NameAttribute[];
  subject: NameAttribute[];
  /** Unix seconds. */
  notBefore: number;
  notAfter: number;
  /** SubjectPublicKeyInfo TLV. */
  spki: Uint8Array;
  publicKeyAlgorithm: string;
  curve: string | null;
  /** Uncompressed EC point (0x04 || x || y). */
  publicKey: Uint8Array;
  /** DER ECDSA-Sig-Value from the signatureValue BIT STRING. */
  signature: Uint8Array;
  extensions: Map<string, Extension>;
}

export interface CrlEntry {
  serialHex: string;
  /** Unix seconds. */
  revocationDate: number;
}

export interface Crl {
  der: Uint8Array;
  tbs: Uint8Array;
  version: number;
  signatureAlgorithm: string;
  issuerRaw: Uint8Array;
  issuer: NameAttribute[];
  thisUpdate: number;
  /** Unix seconds; null when the CRL has no nextUpdate. */
  nextUpdate: number | null;
  /** Number of revoked certificates listed. */
  revokedCount: number;
  /** The entry revoking this serial (INTEGER content bytes of a certificate's serial), if any. */
  findRevoked(serial: Uint8Array): CrlEntry | undefined;
  /** Every entry by serial (lowercase hex, leading zero bytes removed); built on first read. */
  readonly revoked: Map<string, CrlEntry>;
  signature: Uint8Array;
  extensions: Map<string, Extension>;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function stripZeros(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function bytesEqualTo(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lowercase hex of an INTEGER's magnitude, leading zero bytes removed ("00" for zero). */
export function serialToHex(content: Uint8Array): string {
  let i = 0;
  while (i < content.length - 1 && content[i] === 0) i++;
  let s = "";
  for (; i < content.length; i++) s += HEX[content[i]!];
  return s.length === 0 ? "00" : s;
}

function decodeString(buf: Uint8Array, node: DerNode): string {
  let ascii = true;
  for (let i = node.contentStart; i < node.end; i++) if (buf[i]! >= 0x80) ascii = false;
  if (ascii && node.tag !== 0x1e) {
    let out = "";
    for (let i = node.contentStart; i < node.end; i++) out += String.fromCharCode(buf[i]!);
    return out;
  }
  const b = buf.subarray(node.contentStart, node.end);
  // UTF8String and the legacy string types decode as UTF-8; BMPString is UTF-16BE (an odd last byte is
  // dropped, as Buffer's utf16le decoder does).
  if (node.tag !== 0x1e) return utf8Of(b);
  let out = "";
  for (let i = 0; i + 1 < b.length; i += 2) out += String.fromCharCode((b[i]! << 8) | b[i + 1]!);
  return out;
}

const nameCache = new Map<string, NameAttribute[]>();

/**
 * A Name, decoded once per process for each distinct encoding (frozen: shared by every certificate that
 * carries it). Intel's CA names repeat in every chain, like the OIDs `decodeOid` memoises.
 */
function decodedName(buf: Uint8Array, node: DerNode, field: string): NameAttribute[] {
  let key = "";
  for (let i = node.start; i < node.end; i++) key += String.fromCharCode(buf[i]!);
  let name = nameCache.get(key);
  if (name === undefined) {
    name = parseName(buf, node, field);
    for (const a of name) Object.freeze(a);
    Object.freeze(name);
    if (nameCache.size >= 256) nameCache.clear();
    nameCache.set(key, name);
  }
  return name;
}

function parseName(buf: Uint8Array, node: DerNode, field: string): NameAttribute[] {
  if (node.tag !== TAG_SEQUENCE) throw derError(`${field}: Name is not a SEQUENCE`, node.start, field);
  const out: NameAttribute[] = [];
  for (const rdn of childrenOf(buf, node)) {
    if (rdn.tag !== TAG_SET) throw derError(`${field}: RDN is not a SET`, rdn.start, field);
    for (const atv of childrenOf(buf, rdn)) {
      const [oidNode, valueNode, extra] = childrenOf(buf, atv);
      if (!oidNode || !valueNode || extra || oidNode.tag !== TAG_OID) {
        throw derError(`${field}: bad AttributeTypeAndValue`, atv.start, field);
      }
      out.push({ oid: decodeOidOf(buf, oidNode), value: decodeString(buf, valueNode) });
    }
  }
  return out;
}

function parseAlgorithm(buf: Uint8Array, node: DerNode, field: string): string {
  if (node.tag !== TAG_SEQUENCE) throw derError(`${field}: AlgorithmIdentifier`, node.start, field);
  const [oid] = childrenOf(buf, node);
  if (!oid || oid.tag !== TAG_OID) throw derError(`${field}: AlgorithmIdentifier OID`, node.start, field);
  return decodeOidOf(buf, oid);
}

function parseBitString(buf: Uint8Array, node: DerNode, field: string): Uint8Array {
  if (node.tag !== TAG_BIT_STRING || node.end - node.contentStart < 1 || buf[node.contentStart] !== 0) {
    throw derError(`${field}: BIT STRING with unused bits`, node.start, field);
  }
  return buf.subarray(node.contentStart + 1, node.end);
}

function parseExtensions(buf: Uint8Array, seq: DerNode, field: string): Map<string, Extension> {
  const out = new Map<string, Extension>();
  if (seq.tag !== TAG_SEQUENCE) throw derError(`${field}: Extensions`, seq.start, field);
  for (const ext of childrenOf(buf, seq)) {
    const parts = childrenOf(buf, ext);
    const oidNode = parts[0];
    if (!oidNode || oidNode.tag !== TAG_OID) throw derError(`${field}: extension OID`, ext.start, field);
    let critical = false;
    let valueNode = parts[1];
    if (valueNode && valueNode.tag === TAG_BOOLEAN) {
      critical = buf[valueNode.contentStart] !== 0;
      valueNode = parts[2];
    }
    if (!valueNode || valueNode.tag !== TAG_OCTET_STRING) {
      throw derError(`${field}: extension value`, ext.start, field);
    }
    const oid = decodeOidOf(buf, oidNode);
    if (out.has(oid)) throw derError(`${field}: duplicate extension ${oid}`, ext.start, field);
    out.set(oid, { critical, value: contentOf(buf, valueNode) });
  }
  return out;
}

function parseSpki(
  buf: Uint8Array,
  node: DerNode,
): { algorithm: string; curve: string | null; publicKey: Uint8Array } {
  const [alg, key] = childrenOf(buf, node);
  if (!alg || !key || alg.tag !== TAG_SEQUENCE) throw derError("subjectPublicKeyInfo", node.start, "spki");
  const [algOid, params] = childrenOf(buf, alg);
  if (!algOid || algOid.tag !== TAG_OID) throw derError("spki algorithm", alg.start, "spki");
  const algorithm = decodeOidOf(buf, algOid);
  const curve = params && params.tag === TAG_OID ? decodeOidOf(buf, params) : null;
  return { algorithm, curve, publicKey: parseBitString(buf, key, "spki.subjectPublicKey") };
}

/** Parse one DER certificate (the bytes are kept by reference). */
export function parseCertificate(der: Uint8Array): Certificate {
  const top = expectNode(der, 0, TAG_SEQUENCE, der.length, "certificate");
  if (top.end !== der.length) throw derError("trailing bytes after certificate", top.end, "certificate");
  const [tbsNode, sigAlgNode, sigNode, extra] = childrenOf(der, top);
  if (!tbsNode || !sigAlgNode || !sigNode || extra || tbsNode.tag !== TAG_SEQUENCE) {
    throw derError("certificate must be SEQUENCE{tbs, algorithm, signature}", 0, "certificate");
  }
  const f = childrenOf(der, tbsNode);
  let i = 0;
  let version = 1;
  if (f[0] && f[0].tag === 0xa0) {
    const v = readNode(der, f[0].contentStart, f[0].end);
    if (v.tag !== TAG_INTEGER || v.end - v.contentStart !== 1) throw derError("version", v.start, "version");
    version = der[v.contentStart]! + 1;
    i = 1;
  }
  const serialNode = f[i++];
  const innerAlg = f[i++];
  const issuerNode = f[i++];
  const validityNode = f[i++];
  const subjectNode = f[i++];
  const spkiNode = f[i++];
  if (!serialNode || !innerAlg || !issuerNode || !validityNode || !subjectNode || !spkiNode) {
    throw derError("tbsCertificate is missing fields", tbsNode.start, "tbsCertificate");
  }
  if (serialNode.tag !== TAG_INTEGER) throw derError("serialNumber", serialNode.start, "serialNumber");
  const signatureAlgorithm = parseAlgorithm(der, sigAlgNode, "signatureAlgorithm");
  if (parseAlgorithm(der, innerAlg, "tbsCertificate.signature") !== signatureAlgorithm) {
    throw derError("inner and outer signature algorithms differ", innerAlg.start, "signatureAlgorithm");
  }
  const [nb, na, extraTime] = childrenOf(der, validityNode);
  if (!nb || !na || extraTime) throw derError("validity", validityNode.start, "validity");
  let extensions = new Map<string, Extension>();
  for (; i < f.length; i++) {
    const n = f[i]!;
    if (n.tag === 0xa3) {
      extensions = parseExtensions(der, readNode(der, n.contentStart, n.end), "extensions");
    } else if (n.tag !== 0x81 && n.tag !== 0x82) {
      throw derError(`unexpected tbsCertificate field 0x${n.tag.toString(16)}`, n.start, "tbsCertificate");
    }
  }
  const spki = parseSpki(der, spkiNode);
  const serial = contentOf(der, serialNode);
  if (issuerNode.tag !== TAG_SEQUENCE || subjectNode.tag !== TAG_SEQUENCE) {
    throw derError("issuer and subject must be Names (SEQUENCE)", issuerNode.start, "tbsCertificate");
  }
  let issuer: NameAttribute[] | undefined;
  let subject: NameAttribute[] | undefined;
  return {
    der,
    tbs: tlvOf(der, tbsNode),
    version,
    serial,
    serialHex: serialToHex(serial),
    signatureAlgorithm,
    issuerRaw: tlvOf(der, issuerNode),
    subjectRaw: tlvOf(der, subjectNode),
    // Names are decoded on first read (most verifications only need the subject CN of a few certificates).
    get issuer(): NameAttribute[] {
      issuer ??= decodedName(der, issuerNode, "issuer");
      return issuer;
    },
    get subject(): NameAttribute[] {
      subject ??= decodedName(der, subjectNode, "subject");
      return subject;
    },
    notBefore: decodeTime(der, nb, "notBefore"),
    notAfter: decodeTime(der, na, "notAfter"),
    spki: tlvOf(der, spkiNode),
    publicKeyAlgorithm: spki.algorithm,
    curve: spki.curve,
    publicKey: spki.publicKey,
    signature: parseBitString(der, sigNode, "signatureValue"),
    extensions,
  };
}

/**
 * Parse one DER CRL. Zero bytes after the CRL are ignored (the C-string terminator of Intel's
 * `sgx_ql_qve_collateral_t`, which QVL's `d2i_X509_CRL_bio` reads past); `der` of the result is the CRL
 * without them. Any other trailing byte is refused: QVL would ignore it too, but bytes that are not the
 * CRL (a second CRL appended, say) must not pass unseen, since revocations in them would be ignored.
 */
export function parseCrl(input: Uint8Array): Crl {
  const top = expectNode(input, 0, TAG_SEQUENCE, input.length, "crl");
  for (let i = top.end; i < input.length; i++) {
    if (input[i] !== 0) throw derError("trailing bytes after CRL (only zero bytes may follow it)", i, "crl");
  }
  const der = top.end === input.length ? input : input.subarray(0, top.end);
  const [tbsNode, sigAlgNode, sigNode, extra] = childrenOf(der, top);
  if (!tbsNode || !sigAlgNode || !sigNode || extra || tbsNode.tag !== TAG_SEQUENCE) {
    throw derError("CRL must be SEQUENCE{tbs, algorithm, signature}", 0, "crl");
  }
  const f = childrenOf(der, tbsNode);
  let i = 0;
  let version = 1;
  if (f[0] && f[0].tag === TAG_INTEGER) {
    version = der[f[0].contentStart]! + 1;
    i = 1;
  }
  const innerAlg = f[i++];
  const issuerNode = f[i++];
  const thisUpdateNode = f[i++];
  if (!innerAlg || !issuerNode || !thisUpdateNode) throw derError("tbsCertList fields", tbsNode.start, "crl");
  const signatureAlgorithm = parseAlgorithm(der, sigAlgNode, "crl.signatureAlgorithm");
  if (parseAlgorithm(der, innerAlg, "crl.tbsCertList.signature") !== signatureAlgorithm) {
    throw derError("inner and outer CRL signature algorithms differ", innerAlg.start, "crl");
  }
  let nextUpdate: number | null = null;
  // Entries are validated here but decoded only when looked up: a CRL lists many, a verification asks about one.
  const entries: { serial: DerNode; date: DerNode }[] = [];
  let extensions = new Map<string, Extension>();
  for (; i < f.length; i++) {
    const n = f[i]!;
    if ((n.tag === 0x17 || n.tag === 0x18) && nextUpdate === null) {
      nextUpdate = decodeTime(der, n, "nextUpdate");
    } else if (n.tag === TAG_SEQUENCE) {
      for (const entry of childrenOf(der, n)) {
        const sn = readNode(der, entry.contentStart, entry.end);
        const date = sn.end < entry.end ? readNode(der, sn.end, entry.end) : null;
        if (sn.tag !== TAG_INTEGER || !date || (date.tag !== 0x17 && date.tag !== 0x18)) {
          throw derError("revokedCertificates entry", entry.start, "crl");
        }
        entries.push({ serial: sn, date });
      }
    } else if (n.tag === 0xa0) {
      extensions = parseExtensions(der, readNode(der, n.contentStart, n.end), "crlExtensions");
    } else {
      throw derError(`unexpected tbsCertList field 0x${n.tag.toString(16)}`, n.start, "crl");
    }
  }
  const entryOf = (e: { serial: DerNode; date: DerNode }): CrlEntry => ({
    serialHex: serialToHex(contentOf(der, e.serial)),
    revocationDate: decodeTime(der, e.date, "revocationDate"),
  });
  let all: Map<string, CrlEntry> | undefined;
  return {
    der,
    tbs: tlvOf(der, tbsNode),
    version,
    signatureAlgorithm,
    issuerRaw: tlvOf(der, issuerNode),
    issuer: decodedName(der, issuerNode, "crl.issuer"),
    thisUpdate: decodeTime(der, thisUpdateNode, "thisUpdate"),
    nextUpdate,
    revokedCount: entries.length,
    findRevoked(serial: Uint8Array): CrlEntry | undefined {
      const want = stripZeros(serial);
      for (const e of entries) {
        if (bytesEqualTo(stripZeros(contentOf(der, e.serial)), want)) return entryOf(e);
      }
      return undefined;
    },
    get revoked(): Map<string, CrlEntry> {
      if (!all) {
        all = new Map();
        for (const e of entries) {
          const entry = entryOf(e);
          all.set(entry.serialHex, entry);
        }
      }
      return all;
    },
    signature: parseBitString(der, sigNode, "crl.signatureValue"),
    extensions,
  };
}

/**
 * Intel's QVL name equality (`X509/DistinguishedName.cpp` operator==): the first CN, C, O, L and ST values
 * are equal; the raw encoding and any other attribute are not compared. DER-identical names are equal.
 */
export function qvlNamesEqual(
  aRaw: Uint8Array,
  a: () => NameAttribute[],
  bRaw: Uint8Array,
  b: () => NameAttribute[],
): boolean {
  if (bytesEqualTo(aRaw, bRaw)) return true;
  const x = a();
  const y = b();
  for (const oid of [OID_CN, OID_C, OID_O, OID_L, OID_ST]) {
    if ((nameAttribute(x, oid) ?? "") !== (nameAttribute(y, oid) ?? "")) return false;
  }
  return true;
}

/** The first CN of a Name, or "" when absent. */
export function commonName(name: NameAttribute[]): string {
  for (const a of name) if (a.oid === OID_CN) return a.value;
  return "";
}

/** The value of a Name attribute by OID, or undefined. */
export function nameAttribute(name: NameAttribute[], oid: string): string | undefined {
  for (const a of name) if (a.oid === oid) return a.value;
  return undefined;
}

/** Human form of a Name, e.g. "CN=Intel SGX Root CA, O=Intel Corporation". */
export function formatName(name: NameAttribute[]): string {
  const short: Record<string, string> = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
  };
  return name.map((a) => `${short[a.oid] ?? a.oid}=${a.value}`).join(", ");
}

const PEM_BEGIN = "-----BEGIN CERTIFICATE-----";
const PEM_END = "-----END CERTIFICATE-----";
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_OK = new Uint8Array(128);
for (let i = 0; i < B64.length; i++) B64_OK[B64.charCodeAt(i)] = 1;

function pemError(field: string, message: string, offset: number, hint: string): TdxError {
  return new TdxError("PEM_MALFORMED", `${field}: ${message}`, { field, offset, hint });
}

/**
 * Validate one PEM body strictly (base64 characters and line breaks only, "=" padding only at the end,
 * zero unused bits before the padding): a corrupted byte must never decode silently to other bytes.
 */
function pemBodyOk(pem: string, start: number, end: number): boolean {
  let n = 0;
  let pad = 0;
  let last = -1;
  let beforePad = -1;
  for (let i = start; i < end; i++) {
    const c = pem.charCodeAt(i);
    if (c === 10 || c === 13) continue;
    if (c === 61) {
      if (pad === 0) beforePad = last;
      pad++;
    } else {
      if (pad > 0 || c >= 128 || B64_OK[c] === 0) return false;
      last = c;
    }
    n++;
  }
  if (n === 0 || n % 4 !== 0 || pad > 2) return false;
  if (pad === 0) return true;
  const v = B64.indexOf(String.fromCharCode(beforePad));
  return pad === 2 ? (v & 0x0f) === 0 : (v & 0x03) === 0;
}

/**
 * Split PEM text into certificate DERs, in order. Anything between or after the blocks other than
 * whitespace (strict: line breaks) and trailing NUL bytes is refused (a chain is exactly its certificates).
 */
export function pemToDers(pem: string, field = "pem", strict = false): Uint8Array[] {
  // Strict (quote certification data): only line breaks between blocks and NUL padding at the end.
  const gapOk = strict ? /^[\r\n]*$/ : /^[\s]*$/;
  const tailOk = strict ? /^[\r\n]*\0*$/ : /^[\s\0]*$/;
  const hint = "a certificate chain is PEM CERTIFICATE blocks and nothing else";
  const out: Uint8Array[] = [];
  let last = 0;
  for (;;) {
    const begin = pem.indexOf(PEM_BEGIN, last);
    if (begin === -1) break;
    const bodyStart = begin + PEM_BEGIN.length;
    const end = pem.indexOf(PEM_END, bodyStart);
    if (end === -1) throw pemError(field, "a certificate has no END line", begin, hint);
    if (!gapOk.test(pem.slice(last, begin))) {
      throw pemError(field, "unexpected text before a certificate", last, hint);
    }
    if (!pemBodyOk(pem, bodyStart, end)) {
      throw pemError(
        field,
        `certificate ${out.length} is not valid base64`,
        begin,
        "the PEM text is corrupt; obtain the certificate chain again",
      );
    }
    // Node's base64 decoder skips the line breaks.
    out.push(base64Bytes(pem.slice(bodyStart, end)));
    last = end + PEM_END.length;
  }
  if (!tailOk.test(pem.slice(last))) {
    throw pemError(field, "unexpected text after the last certificate", last, hint);
  }
  if (out.length === 0) {
    throw new TdxError("PEM_MALFORMED", `${field}: no PEM certificate found`, {
      field,
      hint: "give PEM text with -----BEGIN CERTIFICATE----- blocks",
    });
  }
  return out;
}

/** DER of a certificate given as DER bytes or PEM text (the first block). */
export function certificateDer(cert: Uint8Array | string): Uint8Array {
  if (typeof cert === "string") return pemToDers(cert, "certificate")[0]!;
  return cert;
}

/** Wrap DER as PEM. */
export function derToPem(der: Uint8Array, label = "CERTIFICATE"): string {
  const b64 = base64Of(der);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Basic constraints cA flag (false when the extension is absent). */
export function isCa(cert: Certificate): boolean {
  const ext = cert.extensions.get(OID_BASIC_CONSTRAINTS);
  if (!ext) return false;
  const seq = readNode(ext.value, 0, ext.value.length);
  const [first] = childrenOf(ext.value, seq);
  return first !== undefined && first.tag === TAG_BOOLEAN && ext.value[first.contentStart] !== 0;
}
