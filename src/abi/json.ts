import { tdAttributeNames, xfamNames } from "./attributes.js";
import { toHex } from "./bytes.js";
import type {
  CertificationData,
  QeReportCertificationData,
  Quote,
  SgxReportBody,
  TdReport,
  TdReportBody,
} from "./types.js";
import { TEE_TYPE_TDX } from "./types.js";

/**
 * JSON view of decoded structures with Intel's field names (DCAP's C struct names): byte fields as
 * lowercase hex, integers as numbers, attribute bits by name.
 */
export type JsonObject = { [k: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

export function sgxReportBodyToJson(r: SgxReportBody): JsonObject {
  return {
    cpu_svn: toHex(r.cpuSvn),
    misc_select: r.miscSelect,
    reserved1: toHex(r.reserved1),
    attributes: { hex: toHex(r.attributes), debug: (r.attributes[0]! & 0x02) !== 0 },
    mr_enclave: toHex(r.mrEnclave),
    reserved2: toHex(r.reserved2),
    mr_signer: toHex(r.mrSigner),
    reserved3: toHex(r.reserved3),
    isv_prod_id: r.isvProdId,
    isv_svn: r.isvSvn,
    reserved4: toHex(r.reserved4),
    report_data: toHex(r.reportData),
  };
}

/** The TD's identity and measurements, as both a TD report body and a TDINFO_STRUCT carry them. */
function tdIdentityToJson(
  attributesKey: string,
  attributes: Uint8Array,
  r: Pick<TdReportBody, "xfam" | "mrTd" | "mrConfigId" | "mrOwner" | "mrOwnerConfig" | "rtmr">,
): JsonObject {
  return {
    [attributesKey]: { hex: toHex(attributes), flags: tdAttributeNames(attributes) },
    xfam: { hex: toHex(r.xfam), flags: xfamNames(r.xfam) },
    mr_td: toHex(r.mrTd),
    mr_config_id: toHex(r.mrConfigId),
    mr_owner: toHex(r.mrOwner),
    mr_owner_config: toHex(r.mrOwnerConfig),
    rt_mr0: toHex(r.rtmr[0]),
    rt_mr1: toHex(r.rtmr[1]),
    rt_mr2: toHex(r.rtmr[2]),
    rt_mr3: toHex(r.rtmr[3]),
  };
}

export function tdReportBodyToJson(r: TdReportBody): JsonObject {
  const out: JsonObject = {
    tee_tcb_svn: toHex(r.teeTcbSvn),
    mr_seam: toHex(r.mrSeam),
    mrsigner_seam: toHex(r.mrSignerSeam),
    seam_attributes: toHex(r.seamAttributes),
    ...tdIdentityToJson("td_attributes", r.tdAttributes, r),
    report_data: toHex(r.reportData),
  };
  if (r.teeTcbSvn2) out.tee_tcb_svn2 = toHex(r.teeTcbSvn2);
  if (r.mrServiceTd) out.mr_servicetd = toHex(r.mrServiceTd);
  return out;
}

function certificationDataToJson(cd: CertificationData): JsonObject {
  const out: JsonObject = { type: cd.type, type_name: cd.typeName, size: cd.size };
  if (cd.qeReportCertificationData) out.qe_report_certification_data = qeToJson(cd.qeReportCertificationData);
  else if (cd.type === 5 && cd.pckCertChain) {
    out.pck_cert_chain = cd.pckCertChain.certificates;
    if (cd.pckCertChain.trailer.length > 0) out.pck_cert_chain_trailer = toHex(cd.pckCertChain.trailer);
  } else out.data = toHex(cd.data);
  return out;
}

function qeToJson(q: QeReportCertificationData): JsonObject {
  return {
    qe_report: sgxReportBodyToJson(q.qeReport),
    qe_report_signature: toHex(q.qeReportSignature),
    qe_auth_data: toHex(q.qeAuthData),
    certification_data: certificationDataToJson(q.certificationData),
  };
}

const BODY_NAMES = { 1: "SGX enclave report", 2: "TD report 1.0", 3: "TD report 1.5" } as const;

/** The decoded quote as JSON (what `tdx-attest decode --json` prints). */
export function quoteToJson(q: Quote): JsonObject {
  const h = q.header;
  const header: JsonObject = {
    version: h.version,
    att_key_type: h.attestationKeyType,
    tee_type: h.teeType,
    tee_type_name: h.teeType === TEE_TYPE_TDX ? "TDX" : "SGX",
  };
  if (h.version === 3) {
    header.qe_svn = h.qeSvn;
    header.pce_svn = h.pceSvn;
  } else {
    header.reserved = toHex(q.bytes.subarray(8, 12));
  }
  header.qe_vendor_id = toHex(h.qeVendorId);
  header.user_data = toHex(h.userData);
  const body: JsonObject = { type: q.body.type, type_name: BODY_NAMES[q.body.type] };
  if (q.bodyDescriptor) body.size = q.bodyDescriptor.size;
  Object.assign(
    body,
    q.body.type === 1 ? sgxReportBodyToJson(q.body.report) : tdReportBodyToJson(q.body.report),
  );
  const sd = q.signatureData;
  const sig: JsonObject = {
    signature: toHex(sd.signature),
    attestation_key: toHex(sd.attestationKey),
  };
  if (h.version === 3 && sd.qeReportCertificationData)
    Object.assign(sig, qeToJson(sd.qeReportCertificationData));
  else if (sd.certificationData) sig.certification_data = certificationDataToJson(sd.certificationData);
  return {
    kind: "quote",
    size: q.bytes.length,
    header,
    body,
    signature_data_len: q.signatureDataLength,
    signature_data: sig,
    trailing_bytes: q.trailing.length,
  };
}

/** The decoded TDREPORT as JSON. */
export function tdReportToJson(r: TdReport): JsonObject {
  const m = r.reportMacStruct;
  const t = r.teeTcbInfo;
  const d = r.tdInfo;
  return {
    kind: "tdreport",
    size: r.bytes.length,
    report_mac_struct: {
      report_type: { type: m.reportType.type, subtype: m.reportType.subtype, version: m.reportType.version },
      cpu_svn: toHex(m.cpuSvn),
      tee_tcb_info_hash: toHex(m.teeTcbInfoHash),
      tee_info_hash: toHex(m.teeInfoHash),
      report_data: toHex(m.reportData),
      mac: toHex(m.mac),
    },
    tee_tcb_info: {
      valid: toHex(t.valid),
      tee_tcb_svn: toHex(t.teeTcbSvn),
      mr_seam: toHex(t.mrSeam),
      mrsigner_seam: toHex(t.mrSignerSeam),
      attributes: toHex(t.attributes),
      tee_tcb_svn2: toHex(t.teeTcbSvn2),
    },
    td_info: {
      ...tdIdentityToJson("attributes", d.attributes, d),
      servtd_hash: toHex(d.servTdHash),
    },
  };
}
