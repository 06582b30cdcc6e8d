/**
 * The shape checks Intel's QGS applies to a TDREPORT before quoting it (qgs_ql_logic.cpp get_raw_resp):
 * 1024 bytes, REPORTTYPE {type 0x81, subtype 0, version 0, 1 or 3, reserved 0}, and the three reserved
 * fields of sgx_report2_t zero: REPORTMACSTRUCT reserved1 (4..15) and reserved2 (192..223), and the 17
 * bytes between TEE_TCB_INFO and TDINFO (495..511). TDINFO itself is never looked into: version-3 reports
 * use its last 64 bytes (td_id, vmid...). The MAC is not checkable here; only the Quoting Enclave can do that.
 */
import { TdxError } from "../errors.js";

export const TDREPORT_BYTES = 1024;
export const TDREPORT_TYPE_TDX = 0x81;

const ZERO_RANGES: Array<[number, number, string]> = [
  [4, 16, "reportMacStruct.reserved1"],
  [192, 224, "reportMacStruct.reserved2"],
  [495, 512, "reserved"],
];

/** Null when the bytes look like a TDREPORT, else the reason as a TdxError (never thrown). */
export function checkTdReportShape(bytes: Uint8Array): TdxError | null {
  const hint = "send the 1024-byte TDREPORT exactly as TDG.MR.REPORT produced it";
  if (bytes.length !== TDREPORT_BYTES)
    return new TdxError(
      "TDREPORT_BAD_SIZE",
      `TDREPORT must be ${TDREPORT_BYTES} bytes, got ${bytes.length}`,
      {
        field: "report_size",
        hint,
      },
    );
  if (bytes[0] !== TDREPORT_TYPE_TDX)
    return new TdxError(
      "TDREPORT_BAD_TYPE",
      `REPORTTYPE.type is 0x${bytes[0]!.toString(16)}, expected 0x81 (TDX)`,
      {
        field: "reportMacStruct.reportType.type",
        offset: 0,
        hint,
      },
    );
  if (bytes[1] !== 0)
    return new TdxError("TDREPORT_BAD_TYPE", `REPORTTYPE.subtype is ${bytes[1]}, expected 0`, {
      field: "reportMacStruct.reportType.subtype",
      offset: 1,
      hint,
    });
  if (bytes[2] !== 0 && bytes[2] !== 1 && bytes[2] !== 3)
    return new TdxError("TDREPORT_BAD_TYPE", `REPORTTYPE.version is ${bytes[2]}, expected 0, 1 or 3`, {
      field: "reportMacStruct.reportType.version",
      offset: 2,
      hint,
    });
  if (bytes[3] !== 0)
    return new TdxError("TDREPORT_RESERVED_NONZERO", "REPORTTYPE.reserved is not zero", {
      field: "reportMacStruct.reportType.reserved",
      offset: 3,
      hint,
    });
  for (const [from, to, field] of ZERO_RANGES)
    for (let i = from; i < to; i++)
      if (bytes[i] !== 0)
        return new TdxError("TDREPORT_RESERVED_NONZERO", `reserved byte ${i} of the TDREPORT is not zero`, {
          field,
          offset: i,
          hint,
        });
  return null;
}
