import { hexOf } from "../encoding.js";
import { TdxError } from "../errors.js";
import {
  childrenOf,
  contentOf,
  type DerNode,
  decodeOid,
  readNode,
  TAG_BOOLEAN,
  TAG_ENUMERATED,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
} from "./der.js";
import { type Certificate, certificateDer, commonName, parseCertificate } from "./x509.js";

/**
 * Intel's SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1): a SEQUENCE of
 * SEQUENCE { OID, value } carrying the platform's PPID, TCB (16 SGX component SVNs, PCESVN, CPUSVN),
 * PCE-ID, FMSPC, SGX type and, for Platform-CA certificates, the platform instance id and configuration.
 */

export const OID_SGX_EXTENSION = "1.2.840.113741.1.13.1";
// Entries by their last arc: .1 PPID, .2 TCB (.2.1-.2.16 SGX TCB component SVNs, .2.17 PCESVN, .2.18 CPUSVN),
// .3 PCE-ID, .4 FMSPC, .5 SGX type, .6 platform instance id, .7 configuration (.7.1-.7.3).

export type SgxType = "Standard" | "Scalable" | "ScalableWithIntegrity";
const SGX_TYPES: SgxType[] = ["Standard", "Scalable", "ScalableWithIntegrity"];

export interface PckTcb {
  /** SGXTCBCOMP01SVN … SGXTCBCOMP16SVN. */
  sgxTcbComponents: number[];
  pceSvn: number;
  /** Raw CPUSVN, lowercase hex (16 bytes). */
  cpuSvn: string;
}

export interface PckExtensions {
  /** Lowercase hex (16 bytes). */
  ppid: string;
  tcb: PckTcb;
  /** Lowercase hex (2 bytes). */
  pceId: string;
  /** Lowercase hex (6 bytes). */
  fmspc: string;
  /** "Unknown" for a value QVL accepts but does not name (it casts any ENUMERATED). */
  sgxType: SgxType | "Unknown";
  /** The ENUMERATED value of the SGX type. */
  sgxTypeValue: number;
  /** Platform-CA certificates only; lowercase hex (16 bytes). */
  platformInstanceId?: string;
  /** Platform-CA certificates only. */
  configuration?: { dynamicPlatform?: boolean; cachedKeys?: boolean; smtEnabled?: boolean };
}

function bad(message: string, field: string): TdxError {
  return new TdxError("PCK_EXTENSION_MALFORMED", `PCK certificate SGX extension: ${message}`, {
    field,
    hint: "the PCK certificate is not a well-formed Intel PCK certificate; obtain it again from the platform or PCS",
  });
}

// DER content of the OID 1.2.840.113741.1.13.1 (the SGX extension); every entry inside extends it.
const SGX_OID_BYTES = [0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01];

/**
 * Entries of a SEQUENCE OF SEQUENCE { OID, value }, as QVL walks them (`X509/PckCertificate.cpp`,
 * `X509/Tcb.cpp`): every entry must be a SEQUENCE of exactly two elements, the first an OID. The value of an
 * entry whose OID is the SGX extension OID + `parentArcs` + one arc is kept under that arc; a later entry
 * with the same OID replaces an earlier one (QVL overwrites its member); other OIDs are ignored (QVL only
 * counts them).
 */
function oidValueEntries(
  buf: Uint8Array,
  seq: DerNode,
  field: string,
  parentArcs: number[],
): { count: number; byArc: Map<number, DerNode> } {
  if (seq.tag !== TAG_SEQUENCE) throw bad(`${field} must be a SEQUENCE`, field);
  const byArc = new Map<number, DerNode>();
  const items = childrenOf(buf, seq);
  const prefixLength = SGX_OID_BYTES.length + parentArcs.length;
  for (const item of items) {
    if (item.tag !== TAG_SEQUENCE) throw bad(`${field} entry must be a SEQUENCE`, field);
    const parts = childrenOf(buf, item);
    if (parts.length !== 2) {
      throw bad(`${field} entry must hold 2 elements (OID, value), got ${parts.length}`, field);
    }
    const [oidNode, value] = parts as [DerNode, DerNode];
    if (oidNode.tag !== TAG_OID) throw bad(`${field} entry must start with an OID`, field);
    const c = contentOf(buf, oidNode);
    let ours = c.length === prefixLength + 1 && c[prefixLength]! < 0x80;
    for (let i = 0; ours && i < SGX_OID_BYTES.length; i++) if (c[i] !== SGX_OID_BYTES[i]) ours = false;
    for (let i = 0; ours && i < parentArcs.length; i++)
      if (c[SGX_OID_BYTES.length + i] !== parentArcs[i]) ours = false;
    if (ours) byArc.set(c[prefixLength]!, value);
    else decodeOid(c); // an unknown entry is ignored, but a malformed OID is refused as OpenSSL refuses it
  }
  return { count: items.length, byArc };
}

function required(map: Map<number, DerNode>, arc: number, field: string): DerNode {
  const n = map.get(arc);
  if (!n) throw bad(`missing ${field}`, field);
  return n;
}

/**
 * ASN1_INTEGER_get / ASN1_ENUMERATED_get, keeping the low 32 bits (two's complement) as QVL's casts to
 * uint8_t / uint32_t / int do; a value wider than a long reads as -1. DER rules (minimal, non-empty) hold.
 */
function low32(buf: Uint8Array, node: DerNode, field: string, tag: number): number {
  if (node.tag !== tag) {
    throw bad(`${field} must be an ${tag === TAG_INTEGER ? "INTEGER" : "ENUMERATED"}`, field);
  }
  const c = contentOf(buf, node);
  if (c.length === 0) throw bad(`${field} is an empty integer`, field);
  if (c.length > 1 && ((c[0] === 0 && !(c[1]! & 0x80)) || (c[0] === 0xff && c[1]! & 0x80))) {
    throw bad(`${field} is not minimally encoded`, field);
  }
  if (c.length > 8) return 0xffffffff;
  const fill = c[0]! & 0x80 ? 0xff : 0;
  let v = 0;
  for (let i = 4; i >= 1; i--) v = v * 256 + (c.length - i >= 0 ? c[c.length - i]! : fill);
  return v >>> 0;
}

function octets(buf: Uint8Array, node: DerNode, size: number, field: string): Uint8Array {
  if (node.tag !== TAG_OCTET_STRING) throw bad(`${field} must be an OCTET STRING`, field);
  const c = contentOf(buf, node);
  if (c.length !== size) throw bad(`${field} must be ${size} bytes, got ${c.length}`, field);
  return c;
}

/**
 * Parse the SGX extension. Accepts the DER of the whole PCK certificate, or the extension's value (the
 * DER of the SEQUENCE inside the extnValue OCTET STRING).
 */
export function parsePckExtensions(der: Uint8Array): PckExtensions {
  let value = der;
  const first = readNode(der, 0, der.length);
  if (first.tag === TAG_SEQUENCE) {
    const kids = childrenOf(der, first);
    // A certificate is SEQUENCE { SEQUENCE tbs, SEQUENCE alg, BIT STRING }: find the extension in it.
    if (kids.length === 3 && kids[2]!.tag === 0x03) {
      const ext = parseCertificate(der).extensions.get(OID_SGX_EXTENSION);
      if (!ext) throw bad("the certificate has no SGX extension (1.2.840.113741.1.13.1)", "extensions");
      value = ext.value;
    }
  }
  return parseSgxExtensionValue(value);
}

/** Parse the SGX extension of a parsed certificate. */
export function pckExtensionsOf(cert: Certificate): PckExtensions {
  const ext = cert.extensions.get(OID_SGX_EXTENSION);
  if (!ext) throw bad("the certificate has no SGX extension (1.2.840.113741.1.13.1)", "extensions");
  return parseSgxExtensionValue(ext.value);
}

/** QVL's PROCESSOR_CA_EXTENSION_COUNT / PLATFORM_CA_EXTENSION_COUNT (SgxEcdsaAttestation/AttestationParsers.h). */
const SGX_EXTENSION_COUNTS = [5, 7];
/** QVL's TCB_SEQUENCE_LEN (X509Constants.h): 16 component SVNs, PCESVN, CPUSVN. */
const TCB_SEQUENCE_LENGTH = 18;

/**
 * The SGX extension as QVL's `PckCertificate::setMembers` and `Tcb::Tcb` read it: one TLV (bytes after it
 * are ignored, as `d2i_ASN1_TYPE` ignores them) holding 5 or 7 entries (a Processor-CA PCK has 5, a
 * Platform-CA PCK 7: PlatformInstanceID and Configuration come on top; any other count, 6 included, is
 * refused), among them PPID (16 bytes), TCB, PCE-ID (2), FMSPC (6) and SGX type (ENUMERATED); the TCB
 * holds exactly 18 entries: the 16 component SVNs (INTEGERs kept as uint8_t), PCESVN (kept as uint32_t)
 * and CPUSVN (16 bytes). PlatformInstanceID and Configuration are reported when well formed; QVL's quote
 * verification does not read them.
 */
function parseSgxExtensionValue(buf: Uint8Array): PckExtensions {
  const top = readNode(buf, 0, buf.length);
  const entries = oidValueEntries(buf, top, "sgxExtension", []);
  if (!SGX_EXTENSION_COUNTS.includes(entries.count)) {
    throw bad(
      `the extension must hold 5 (Processor CA) or 7 (Platform CA) entries, got ${entries.count}`,
      "sgxExtension",
    );
  }
  const map = entries.byArc;
  const tcbNode = required(map, 2, "tcb");
  const tcbEntries = oidValueEntries(buf, tcbNode, "tcb", [2]);
  if (tcbEntries.count !== TCB_SEQUENCE_LENGTH) {
    throw bad(`the TCB must hold ${TCB_SEQUENCE_LENGTH} entries, got ${tcbEntries.count}`, "tcb");
  }
  const tcbMap = tcbEntries.byArc;
  const sgxTcbComponents: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const field = `tcb.sgxTcbComp${String(i).padStart(2, "0")}Svn`;
    sgxTcbComponents.push(low32(buf, required(tcbMap, i, field), field, TAG_INTEGER) & 0xff);
  }
  const pceSvn = low32(buf, required(tcbMap, 17, "tcb.pceSvn"), "tcb.pceSvn", TAG_INTEGER);
  const cpuSvn = hexOf(octets(buf, required(tcbMap, 18, "tcb.cpuSvn"), 16, "tcb.cpuSvn"));

  const sgxTypeValue = low32(buf, required(map, 5, "sgxType"), "sgxType", TAG_ENUMERATED) | 0;
  const out: PckExtensions = {
    ppid: hexOf(octets(buf, required(map, 1, "ppid"), 16, "ppid")),
    tcb: { sgxTcbComponents, pceSvn, cpuSvn },
    pceId: hexOf(octets(buf, required(map, 3, "pceId"), 2, "pceId")),
    fmspc: hexOf(octets(buf, required(map, 4, "fmspc"), 6, "fmspc")),
    sgxType: SGX_TYPES[sgxTypeValue] ?? "Unknown",
    sgxTypeValue,
  };
  const pii = map.get(6);
  if (pii && pii.tag === TAG_OCTET_STRING && pii.end - pii.contentStart === 16) {
    out.platformInstanceId = hexOf(contentOf(buf, pii));
  }
  const conf = map.get(7);
  if (conf) {
    const configuration = configurationOf(buf, conf);
    if (configuration) out.configuration = configuration;
  }
  return out;
}

/** The Configuration entry (.7: .7.1 DynamicPlatform, .7.2 CachedKeys, .7.3 SMTEnabled), or null if malformed. */
function configurationOf(buf: Uint8Array, node: DerNode): PckExtensions["configuration"] | null {
  try {
    const confMap = oidValueEntries(buf, node, "configuration", [7]).byArc;
    const flag = (n: number): boolean | undefined => {
      const f = confMap.get(n);
      if (!f) return undefined;
      if (f.tag !== TAG_BOOLEAN || f.end - f.contentStart !== 1) throw bad("not a BOOLEAN", "configuration");
      return buf[f.contentStart] !== 0;
    };
    const configuration: NonNullable<PckExtensions["configuration"]> = {};
    const d = flag(1);
    const c = flag(2);
    const s = flag(3);
    if (d !== undefined) configuration.dynamicPlatform = d;
    if (c !== undefined) configuration.cachedKeys = c;
    if (s !== undefined) configuration.smtEnabled = s;
    return configuration;
  } catch {
    return null;
  }
}

export type PckCaType = "processor" | "platform";

/**
 * Which Intel CA issued a PCK certificate, from its issuer CN ("Intel SGX PCK Platform CA" or
 * "Intel SGX PCK Processor CA"); this selects the PCK CRL (`pckcrl?ca=platform|processor`).
 */
export function pckCaType(cert: Uint8Array | string | Certificate): PckCaType {
  const parsed = typeof cert === "object" && "issuer" in cert ? cert : parseCertificate(certificateDer(cert));
  const cn = commonName(parsed.issuer);
  if (/platform/i.test(cn)) return "platform";
  if (/processor/i.test(cn)) return "processor";
  throw new TdxError(
    "PCK_CA_UNKNOWN",
    `the PCK certificate issuer "${cn}" is neither a Platform nor a Processor CA`,
    {
      field: "issuer.CN",
      hint: "a PCK certificate is issued by 'Intel SGX PCK Platform CA' or 'Intel SGX PCK Processor CA'",
      data: { issuerCn: cn },
    },
  );
}
