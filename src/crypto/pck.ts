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
const OID_PPID = `${OID_SGX_EXTENSION}.1`;
const OID_TCB = `${OID_SGX_EXTENSION}.2`;
const OID_PCEID = `${OID_SGX_EXTENSION}.3`;
const OID_FMSPC = `${OID_SGX_EXTENSION}.4`;
const OID_SGX_TYPE = `${OID_SGX_EXTENSION}.5`;
const OID_PLATFORM_INSTANCE_ID = `${OID_SGX_EXTENSION}.6`;
const OID_CONFIGURATION = `${OID_SGX_EXTENSION}.7`;

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

/** Pairs of (oid, value node) of a SEQUENCE OF SEQUENCE { OID, value }. */
function oidValuePairs(buf: Uint8Array, seq: DerNode, field: string): Map<string, DerNode> {
  if (seq.tag !== TAG_SEQUENCE) throw bad(`${field} must be a SEQUENCE`, field);
  const out = new Map<string, DerNode>();
  for (const item of childrenOf(buf, seq)) {
    if (item.tag !== TAG_SEQUENCE) throw bad(`${field} entry must be a SEQUENCE`, field);
    const [oidNode, value, extra] = childrenOf(buf, item);
    if (!oidNode || !value || extra || oidNode.tag !== TAG_OID) {
      throw bad(`${field} entry must be SEQUENCE { OID, value }`, field);
    }
    const oid = decodeOid(contentOf(buf, oidNode));
    if (out.has(oid)) throw bad(`duplicate entry ${oid}`, field);
    out.set(oid, value);
  }
  return out;
}

function required(map: Map<string, DerNode>, oid: string, field: string): DerNode {
  const n = map.get(oid);
  if (!n) throw bad(`missing ${field} (${oid})`, field);
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
  const map = oidValuePairs(buf, top, "sgxExtension");

  const tcbMap = oidValuePairs(buf, required(map, OID_TCB, "tcb"), "tcb");
  const sgxTcbComponents: number[] = [];
  for (let i = 1; i <= 16; i++) {
    const field = `tcb.sgxTcbComp${String(i).padStart(2, "0")}Svn`;
    const svn = uint(buf, required(tcbMap, `${OID_TCB}.${i}`, field), field);
    if (svn > 255) throw bad(`${field} is out of range 0..255`, field);
    sgxTcbComponents.push(svn);
  }
  const pceSvn = uint(buf, required(tcbMap, `${OID_TCB}.17`, "tcb.pceSvn"), "tcb.pceSvn");
  if (pceSvn > 0xffff) throw bad("tcb.pceSvn is out of range 0..65535", "tcb.pceSvn");
  const cpuSvn = hexOf(octets(buf, required(tcbMap, `${OID_TCB}.18`, "tcb.cpuSvn"), 16, "tcb.cpuSvn"));

  const sgxTypeValue = uint(buf, required(map, OID_SGX_TYPE, "sgxType"), "sgxType", TAG_ENUMERATED);
  const sgxType = SGX_TYPES[sgxTypeValue];
  if (!sgxType) throw bad(`unknown SGX type ${sgxTypeValue}`, "sgxType");

  const out: PckExtensions = {
    ppid: hexOf(octets(buf, required(map, OID_PPID, "ppid"), 16, "ppid")),
    tcb: { sgxTcbComponents, pceSvn, cpuSvn },
    pceId: hexOf(octets(buf, required(map, OID_PCEID, "pceId"), 2, "pceId")),
    fmspc: hexOf(octets(buf, required(map, OID_FMSPC, "fmspc"), 6, "fmspc")),
    sgxType,
  };
  const pii = map.get(OID_PLATFORM_INSTANCE_ID);
  if (pii) out.platformInstanceId = hexOf(octets(buf, pii, 16, "platformInstanceId"));
  const conf = map.get(OID_CONFIGURATION);
  if (conf) {
    const confMap = oidValuePairs(buf, conf, "configuration");
    const flag = (n: number): boolean | undefined => {
      const node = confMap.get(`${OID_CONFIGURATION}.${n}`);
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
