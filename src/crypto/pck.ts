import { TdxError } from "../errors.js";
import {
  childrenOf,
  contentOf,
  type DerNode,
  decodeOid,
  decodeSmallUint,
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
  sgxType: SgxType;
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

function hexOf(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

function octets(buf: Uint8Array, node: DerNode, size: number, field: string): Uint8Array {
  if (node.tag !== TAG_OCTET_STRING) throw bad(`${field} must be an OCTET STRING`, field);
  const c = contentOf(buf, node);
  if (c.length !== size) throw bad(`${field} must be ${size} bytes, got ${c.length}`, field);
  return c;
}

// DER content of the OID 1.2.840.113741.1.13.1 (the SGX extension); every entry inside extends it.
const SGX_OID_BYTES = [0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01];

/**
 * Entries of a SEQUENCE OF SEQUENCE { OID, value } whose OIDs are the SGX extension OID, `parentArcs` and
 * one more arc, keyed by that last arc. Any other OID is refused: Intel defines every entry (QVL counts them).
 */
function oidValuePairs(
  buf: Uint8Array,
  seq: DerNode,
  field: string,
  parentArcs: number[],
): Map<number, DerNode> {
  if (seq.tag !== TAG_SEQUENCE) throw bad(`${field} must be a SEQUENCE`, field);
  const out = new Map<number, DerNode>();
  const prefixLength = SGX_OID_BYTES.length + parentArcs.length;
  for (const item of childrenOf(buf, seq)) {
    if (item.tag !== TAG_SEQUENCE) throw bad(`${field} entry must be a SEQUENCE`, field);
    const [oidNode, value, extra] = childrenOf(buf, item);
    if (!oidNode || !value || extra || oidNode.tag !== TAG_OID) {
      throw bad(`${field} entry must be SEQUENCE { OID, value }`, field);
    }
    const c = contentOf(buf, oidNode);
    let ours = c.length === prefixLength + 1 && c[prefixLength]! < 0x80;
    for (let i = 0; ours && i < SGX_OID_BYTES.length; i++) if (c[i] !== SGX_OID_BYTES[i]) ours = false;
    for (let i = 0; ours && i < parentArcs.length; i++)
      if (c[SGX_OID_BYTES.length + i] !== parentArcs[i]) ours = false;
    if (!ours) throw bad(`unexpected entry ${decodeOid(c)}`, field);
    const arc = c[prefixLength]!;
    if (out.has(arc)) throw bad(`duplicate entry ${decodeOid(c)}`, field);
    out.set(arc, value);
  }
  return out;
}

function required(map: Map<number, DerNode>, arc: number, field: string): DerNode {
  const n = map.get(arc);
  if (!n) throw bad(`missing ${field}`, field);
  return n;
}

function uint(buf: Uint8Array, node: DerNode, field: string, tag = TAG_INTEGER): number {
  if (node.tag !== tag)
    throw bad(`${field} must be an ${tag === TAG_INTEGER ? "INTEGER" : "ENUMERATED"}`, field);
  try {
    return decodeSmallUint(contentOf(buf, node), field);
  } catch {
    throw bad(`${field} is not a small non-negative integer`, field);
  }
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

function parseSgxExtensionValue(buf: Uint8Array): PckExtensions {
  const top = readNode(buf, 0, buf.length);
  if (top.end !== buf.length) throw bad("trailing bytes after the extension", "sgxExtension");
  const map = oidValuePairs(buf, top, "sgxExtension", []);

  const tcbMap = oidValuePairs(buf, required(map, 2, "tcb"), "tcb", [2]);
  const sgxTcbComponents: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const field = `tcb.sgxTcbComp${String(i).padStart(2, "0")}Svn`;
    const svn = uint(buf, required(tcbMap, i, field), field);
    if (svn > 255) throw bad(`${field} is out of range 0..255`, field);
    sgxTcbComponents.push(svn);
  }
  const pceSvn = uint(buf, required(tcbMap, 17, "tcb.pceSvn"), "tcb.pceSvn");
  if (pceSvn > 0xffff) throw bad("tcb.pceSvn is out of range 0..65535", "tcb.pceSvn");
  const cpuSvn = hexOf(octets(buf, required(tcbMap, 18, "tcb.cpuSvn"), 16, "tcb.cpuSvn"));

  const sgxTypeValue = uint(buf, required(map, 5, "sgxType"), "sgxType", TAG_ENUMERATED);
  const sgxType = SGX_TYPES[sgxTypeValue];
  if (!sgxType) throw bad(`unknown SGX type ${sgxTypeValue}`, "sgxType");

  const out: PckExtensions = {
    ppid: hexOf(octets(buf, required(map, 1, "ppid"), 16, "ppid")),
    tcb: { sgxTcbComponents, pceSvn, cpuSvn },
    pceId: hexOf(octets(buf, required(map, 3, "pceId"), 2, "pceId")),
    fmspc: hexOf(octets(buf, required(map, 4, "fmspc"), 6, "fmspc")),
    sgxType,
  };
  const pii = map.get(6);
  if (pii) out.platformInstanceId = hexOf(octets(buf, pii, 16, "platformInstanceId"));
  const conf = map.get(7);
  if (conf) {
    const confMap = oidValuePairs(buf, conf, "configuration", [7]);
    const flag = (n: number): boolean | undefined => {
      const node = confMap.get(n);
      if (!node) return undefined;
      if (node.tag !== TAG_BOOLEAN || node.end - node.contentStart !== 1) {
        throw bad(`configuration.${n} must be a BOOLEAN`, "configuration");
      }
      return buf[node.contentStart] !== 0;
    };
    const configuration: NonNullable<PckExtensions["configuration"]> = {};
    const d = flag(1);
    const c = flag(2);
    const s = flag(3);
    if (d !== undefined) configuration.dynamicPlatform = d;
    if (c !== undefined) configuration.cachedKeys = c;
    if (s !== undefined) configuration.smtEnabled = s;
    out.configuration = configuration;
  }
  return out;
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
