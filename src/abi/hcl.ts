/**
 * The HCL report of Azure confidential VMs: the envelope Microsoft's paravisor ("HCL") keeps in the vTPM
 * (NV index 0x01400001), holding the hardware report (a TDX TDREPORT, or an SNP report) and the IGVM request
 * data whose variable part is a JSON document (the vTPM attestation key and the guest's user data) hashed into
 * the hardware report's REPORTDATA. Little-endian. Layout from kinvolk/azure-cvm-tooling
 * `az-cvm-vtpm/src/hcl/mod.rs` (AttestationHeader, AttestationReport, IgvmRequestData) and
 * `az-cvm-vtpm/src/tdx/mod.rs`; offsets checked against the real capture in ../shared/vectors/az-tdx-vtpm.
 * Pure and zero-copy: every byte field is a view into the caller's buffer.
 */
import { type ErrorCode, TdxError } from "../errors.js";
import { concatBytes, putU32, u32 } from "./bytes.js";
import { parseTdReport, tdReportLayout } from "./tdreport.js";
import type { FieldRange, TdReport } from "./types.js";
import { TDREPORT_SIZE } from "./types.js";
import { defineView } from "./view.js";

/** `HCLA` read as a little-endian u32. */
export const HCL_SIGNATURE = 0x414c4348;
export const HCL_HEADER_SIZE = 0x20;
/** The hardware report slot starts after the header and is sized for the larger (SNP) report. */
export const HCL_HW_REPORT_OFFSET = 0x20;
export const HCL_HW_REPORT_SLOT_SIZE = 1184;
export const HCL_REQUEST_DATA_OFFSET = HCL_HW_REPORT_OFFSET + HCL_HW_REPORT_SLOT_SIZE; // 0x4c0
export const HCL_REQUEST_DATA_HEADER_SIZE = 20;
export const HCL_VAR_DATA_OFFSET = HCL_REQUEST_DATA_OFFSET + HCL_REQUEST_DATA_HEADER_SIZE; // 0x4d4
/** IgvmRequestData.report_type: the hardware report in the slot. */
export const HCL_REPORT_TYPE_SNP = 2;
export const HCL_REPORT_TYPE_TDX = 4;
/** IgvmRequestData.report_data_hash_type (IgvmHashType). */
export const HCL_HASH_TYPE_SHA256 = 1;
export const HCL_HASH_TYPE_SHA384 = 2;
export const HCL_HASH_TYPE_SHA512 = 3;
/** The `kid` of the vTPM attestation key and the endorsement key in the var data's `keys`. */
export const HCL_AK_KID = "HCLAkPub";
export const HCL_EK_KID = "HCLEkPub";

const REPORT_TYPE_NAMES: Record<number, string> = { 2: "SNP", 4: "TDX" };
const HASH_TYPE_NAMES: Record<number, string> = { 0: "invalid", 1: "SHA-256", 2: "SHA-384", 3: "SHA-512" };

export function hclReportTypeName(t: number): string {
  return REPORT_TYPE_NAMES[t] ?? `unknown (${t})`;
}
export function hclHashTypeName(t: number): string {
  return HASH_TYPE_NAMES[t] ?? `unknown (${t})`;
}

/** AttestationHeader (32 bytes at 0). */
export interface HclHeader {
  signature: number;
  version: number;
  /** End offset of the report (header, hardware report slot, request data and var data) in the blob. */
  reportSize: number;
  requestType: number;
  status: number;
  reserved: Uint8Array;
}

/** IgvmRequestData without its variable part (20 bytes at 0x4c0). */
export interface HclRequestData {
  /** 20 + variableDataSize in the captures seen. */
  dataSize: number;
  version: number;
  /** 4 TDX, 2 SNP. */
  reportType: number;
  /** 1 SHA-256, 2 SHA-384, 3 SHA-512. */
  reportDataHashType: number;
  variableDataSize: number;
}

export interface HclReport {
  /** The whole input (padding after the var data included). */
  bytes: Uint8Array;
  header: HclHeader;
  /** The 1184-byte hardware report slot (0x20..0x4c0). */
  hwReport: Uint8Array;
  /** The TDREPORT in the first 1024 bytes of the slot when the report type is TDX; null otherwise. */
  tdReport: TdReport | null;
  requestData: HclRequestData;
  /** The variable data (JSON text), exactly `variableDataSize` bytes: what REPORTDATA[0..32] hashes. */
  variableData: Uint8Array;
  /** Bytes after the variable data (zero padding up to the NV index size on Azure). */
  padding: Uint8Array;
  layout: FieldRange[];
}

const HeaderView = defineView<HclHeader>([
  ["signature", 0, 4, "u32"],
  ["version", 4, 4, "u32"],
  ["reportSize", 8, 4, "u32"],
  ["requestType", 12, 4, "u32"],
  ["status", 16, 4, "u32"],
  ["reserved", 20, 12],
]);

const RequestDataView = defineView<HclRequestData>([
  ["dataSize", 0, 4, "u32"],
  ["version", 4, 4, "u32"],
  ["reportType", 8, 4, "u32"],
  ["reportDataHashType", 12, 4, "u32"],
  ["variableDataSize", 16, 4, "u32"],
]);

/** Byte ranges of the HCL report's fields (the TDREPORT's fields under `tdReport.` when present). */
export function hclReportLayout(variableDataSize: number, total: number, tdx: boolean): FieldRange[] {
  const out: FieldRange[] = [
    { path: "header.signature", offset: 0, size: 4 },
    { path: "header.version", offset: 4, size: 4 },
    { path: "header.reportSize", offset: 8, size: 4 },
    { path: "header.requestType", offset: 12, size: 4 },
    { path: "header.status", offset: 16, size: 4 },
    { path: "header.reserved", offset: 20, size: 12 },
  ];
  if (tdx) {
    for (const f of tdReportLayout()) {
      out.push({ path: `tdReport.${f.path}`, offset: HCL_HW_REPORT_OFFSET + f.offset, size: f.size });
    }
    out.push({
      path: "hwReport.unused",
      offset: HCL_HW_REPORT_OFFSET + TDREPORT_SIZE,
      size: HCL_HW_REPORT_SLOT_SIZE - TDREPORT_SIZE,
    });
  } else {
    out.push({ path: "hwReport", offset: HCL_HW_REPORT_OFFSET, size: HCL_HW_REPORT_SLOT_SIZE });
  }
  const r = HCL_REQUEST_DATA_OFFSET;
  out.push(
    { path: "requestData.dataSize", offset: r, size: 4 },
    { path: "requestData.version", offset: r + 4, size: 4 },
    { path: "requestData.reportType", offset: r + 8, size: 4 },
    { path: "requestData.reportDataHashType", offset: r + 12, size: 4 },
    { path: "requestData.variableDataSize", offset: r + 16, size: 4 },
    { path: "variableData", offset: HCL_VAR_DATA_OFFSET, size: variableDataSize },
  );
  const end = HCL_VAR_DATA_OFFSET + variableDataSize;
  if (total > end) out.push({ path: "padding", offset: end, size: total - end });
  return out;
}

class ParsedHclReport implements HclReport {
  #layout: FieldRange[] | undefined;
  constructor(
    readonly bytes: Uint8Array,
    readonly header: HclHeader,
    readonly tdReport: TdReport | null,
    readonly requestData: HclRequestData,
    private readonly varEnd: number,
  ) {}
  get hwReport(): Uint8Array {
    return this.bytes.subarray(HCL_HW_REPORT_OFFSET, HCL_REQUEST_DATA_OFFSET);
  }
  get variableData(): Uint8Array {
    return this.bytes.subarray(HCL_VAR_DATA_OFFSET, this.varEnd);
  }
  get padding(): Uint8Array {
    return this.bytes.subarray(this.varEnd);
  }
  get layout(): FieldRange[] {
    this.#layout ??= hclReportLayout(
      this.varEnd - HCL_VAR_DATA_OFFSET,
      this.bytes.length,
      this.tdReport !== null,
    );
    return this.#layout;
  }
}

/**
 * Parse an HCL report (zero-copy). Refuses what is not one: a blob shorter than the fixed part, a wrong
 * `HCLA` signature, a report type other than TDX (4) or SNP (2) (as kinvolk's parser does), var data running
 * past the end. It does not judge the report: the verifier checks the report type, hash type and contents.
 */
export function parseHclReport(bytes: Uint8Array): HclReport {
  if (!(bytes instanceof Uint8Array)) {
    throw new TdxError("HCL_NOT_BYTES", "an HCL report must be given as bytes (Uint8Array or Buffer)", {
      hint: "read the report (vTPM NV index 0x01400001) as binary, or decode its base64url first",
    });
  }
  const n = bytes.length;
  if (n < HCL_VAR_DATA_OFFSET) {
    throw new TdxError(
      "HCL_TRUNCATED",
      `an HCL report has at least ${HCL_VAR_DATA_OFFSET} bytes before its var data, got ${n}`,
      {
        field: n < HCL_HEADER_SIZE ? "header" : n < HCL_REQUEST_DATA_OFFSET ? "hwReport" : "requestData",
        offset: n,
        hint: "pass the whole NV index 0x01400001 (about 2600 bytes on Azure), not a part of it",
      },
    );
  }
  const header = new HeaderView(bytes, 0);
  const signature = u32(bytes, 0);
  if (signature !== HCL_SIGNATURE) {
    throw new TdxError(
      "HCL_SIGNATURE_INVALID",
      `the HCL report starts with 0x${signature.toString(16).padStart(8, "0")}, not "HCLA" (0x414c4348)`,
      {
        field: "header.signature",
        offset: 0,
        hint: "this is not an Azure HCL report; read NV index 0x01400001 of the vTPM, whole",
      },
    );
  }
  const requestData = new RequestDataView(bytes, HCL_REQUEST_DATA_OFFSET);
  const reportType = u32(bytes, HCL_REQUEST_DATA_OFFSET + 8);
  if (reportType !== HCL_REPORT_TYPE_TDX && reportType !== HCL_REPORT_TYPE_SNP) {
    throw new TdxError(
      "HCL_REPORT_TYPE_UNKNOWN",
      `HCL report type ${reportType} is neither TDX (4) nor SNP (2)`,
      {
        field: "requestData.reportType",
        offset: HCL_REQUEST_DATA_OFFSET + 8,
        hint: "the report is corrupt or from a paravisor this version does not know",
      },
    );
  }
  const varSize = u32(bytes, HCL_REQUEST_DATA_OFFSET + 16);
  const varEnd = HCL_VAR_DATA_OFFSET + varSize;
  if (varEnd > n) {
    throw new TdxError(
      "HCL_VAR_DATA_TRUNCATED",
      `variable_data_size says ${varSize} bytes of var data but only ${n - HCL_VAR_DATA_OFFSET} follow`,
      {
        field: "requestData.variableDataSize",
        offset: HCL_REQUEST_DATA_OFFSET + 16,
        hint: "the report is truncated or its size field is corrupt; read the whole NV index",
      },
    );
  }
  const tdReport =
    reportType === HCL_REPORT_TYPE_TDX
      ? parseTdReport(bytes.subarray(HCL_HW_REPORT_OFFSET, HCL_HW_REPORT_OFFSET + TDREPORT_SIZE))
      : null;
  return new ParsedHclReport(bytes, header, tdReport, requestData, varEnd);
}

/** What `serializeHclReport` needs (the simulator's paravisor builds reports with it). */
export interface HclReportInput {
  /** Default 2 (as on Azure). */
  version?: number;
  /** Default 2 (as on Azure). */
  requestType?: number;
  status?: number;
  /** The hardware report: a 1024-byte TDREPORT (TDX) or an SNP report, at most 1184 bytes. */
  hwReport: Uint8Array;
  /** Default TDX. */
  reportType?: number;
  /** Default SHA-256. */
  reportDataHashType?: number;
  /** Default 1. */
  requestDataVersion?: number;
  variableData: Uint8Array;
  /** Total size; zero padding after the var data up to it (default: no padding). */
  totalSize?: number;
}

/** Serialize an HCL report; parseHclReport(serializeHclReport(x)) reads back the same fields. */
export function serializeHclReport(r: HclReportInput): Uint8Array {
  if (r.hwReport.length > HCL_HW_REPORT_SLOT_SIZE) {
    throw new TdxError(
      "ABI_FIELD_SIZE",
      `hwReport is ${r.hwReport.length} bytes; the slot holds ${HCL_HW_REPORT_SLOT_SIZE}`,
      { field: "hwReport", hint: "pass a TDREPORT (1024 bytes) or an SNP report (1184 bytes)" },
    );
  }
  const end = HCL_VAR_DATA_OFFSET + r.variableData.length;
  const total = r.totalSize ?? end;
  if (total < end) {
    throw new TdxError("ABI_FIELD_SIZE", `totalSize ${total} is smaller than the report (${end} bytes)`, {
      field: "totalSize",
      hint: "leave totalSize out, or make it at least the report's size",
    });
  }
  const fixed = new Uint8Array(HCL_VAR_DATA_OFFSET);
  putU32(fixed, 0, HCL_SIGNATURE);
  putU32(fixed, 4, r.version ?? 2);
  putU32(fixed, 8, end);
  putU32(fixed, 12, r.requestType ?? 2);
  putU32(fixed, 16, r.status ?? 0);
  fixed.set(r.hwReport, HCL_HW_REPORT_OFFSET);
  const q = HCL_REQUEST_DATA_OFFSET;
  putU32(fixed, q, HCL_REQUEST_DATA_HEADER_SIZE + r.variableData.length);
  putU32(fixed, q + 4, r.requestDataVersion ?? 1);
  putU32(fixed, q + 8, r.reportType ?? HCL_REPORT_TYPE_TDX);
  putU32(fixed, q + 12, r.reportDataHashType ?? HCL_HASH_TYPE_SHA256);
  putU32(fixed, q + 16, r.variableData.length);
  return concatBytes(fixed, r.variableData, new Uint8Array(total - end));
}

/** A JSON Web Key as the paravisor writes it into the var data (RSA: `n`, `e` base64url without padding). */
export interface HclJwk {
  kid?: string;
  kty?: string;
  key_ops?: string[];
  n?: string;
  e?: string;
  [k: string]: unknown;
}

/** The var data JSON, decoded. Unknown keys stay in `json` (informational: Trustee ignores them too). */
export interface HclVarData {
  /** The exact UTF-8 text (what was hashed). */
  text: string;
  json: Record<string, unknown>;
  keys: HclJwk[];
  /** The key with kid "HCLAkPub" (the vTPM attestation key), or null. */
  akPub: HclJwk | null;
  /** The key with kid "HCLEkPub" (the vTPM endorsement key), or null. */
  ekPub: HclJwk | null;
  /** `user-data` as given (hex text), or null when absent. */
  userDataHex: string | null;
  /** `user-data` decoded, or null when absent. */
  userData: Uint8Array | null;
  vmConfiguration: Record<string, unknown> | null;
}

function varDataError(
  code: ErrorCode,
  message: string,
  field: string,
  offset: number,
  hint: string,
): TdxError {
  return new TdxError(code, message, { field, offset, hint });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Decode the var data JSON (kinvolk `hcl/mod.rs` VarDataKeys / `ak_pub`, Trustee's `user-data` reading).
 * `offset` is where the var data starts in the enclosing report, for error offsets. Refuses text that is not
 * UTF-8 JSON object text, `keys` that is not an array of objects, two keys with the same kid among the AK/EK,
 * and a `user-data` that is not a hex string.
 */
export function parseHclVarData(varData: Uint8Array, offset = HCL_VAR_DATA_OFFSET): HclVarData {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(varData);
  } catch (e) {
    throw new TdxError("HCL_VAR_DATA_NOT_JSON", "the HCL var data is not UTF-8 text", {
      field: "variableData",
      offset,
      hint: "the var data is corrupt; read the HCL report again",
      cause: e,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TdxError("HCL_VAR_DATA_NOT_JSON", "the HCL var data is not JSON", {
      field: "variableData",
      offset,
      hint: "the var data is corrupt (or the report was cut inside it); read the HCL report again",
      cause: e,
    });
  }
  if (!isObject(json)) {
    throw varDataError(
      "HCL_VAR_DATA_NOT_JSON",
      "the HCL var data is JSON but not an object",
      "variableData",
      offset,
      "the var data must be a JSON object with `keys` and `user-data`",
    );
  }
  const rawKeys = json.keys ?? [];
  if (!Array.isArray(rawKeys) || !rawKeys.every(isObject)) {
    throw varDataError(
      "HCL_VAR_DATA_KEYS_INVALID",
      "the var data's `keys` is not an array of JSON Web Keys",
      "variableData.keys",
      offset,
      "the var data is corrupt; read the HCL report again",
    );
  }
  const keys = rawKeys as HclJwk[];
  const byKid = (kid: string): HclJwk | null => {
    const found = keys.filter((k) => k.kid === kid);
    if (found.length > 1) {
      throw varDataError(
        "HCL_VAR_DATA_KEYS_INVALID",
        `the var data holds ${found.length} keys with kid "${kid}"`,
        "variableData.keys",
        offset,
        "an HCL report carries one attestation key; this one is ambiguous and is refused",
      );
    }
    return found[0] ?? null;
  };
  let userDataHex: string | null = null;
  let userData: Uint8Array | null = null;
  if (json["user-data"] !== undefined) {
    const u = json["user-data"];
    if (typeof u !== "string" || u.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(u)) {
      throw varDataError(
        "HCL_USER_DATA_INVALID",
        "the var data's `user-data` is not a hex string",
        "variableData.user-data",
        offset,
        "the var data is corrupt; read the HCL report again",
      );
    }
    userDataHex = u;
    userData = new Uint8Array(u.length / 2);
    for (let i = 0; i < userData.length; i++) userData[i] = Number.parseInt(u.slice(2 * i, 2 * i + 2), 16);
  }
  const vm = json["vm-configuration"];
  return {
    text,
    json,
    keys,
    akPub: byKid(HCL_AK_KID),
    ekPub: byKid(HCL_EK_KID),
    userDataHex,
    userData,
    vmConfiguration: isObject(vm) ? vm : null,
  };
}

/**
 * Where Azure's vTPM keeps things (kinvolk/azure-cvm-tooling `az-cvm-vtpm/src/vtpm/mod.rs`; Fraunhofer-AISEC cmc
 * `drivers/azuredriver`): the HCL report NV index, the NV index the guest writes its report data into, the
 * persistent attestation key, and the NV index of the Azure-issued AK certificate.
 */
export const AZ_VTPM_HCL_REPORT_NV_INDEX = 0x01400001;
export const AZ_VTPM_REPORT_DATA_NV_INDEX = 0x01400002;
export const AZ_VTPM_AK_HANDLE = 0x81000003;
export const AZ_VTPM_AK_CERT_NV_INDEX = 0x01c101d0;
