import { describe, expect, it } from "vitest";
import { checkTdReportShape } from "../../src/qgs/tdreport.js";
import { fakeTdReport } from "./helpers.js";

// Intel's QGS (qgs_ql_logic.cpp get_raw_resp): type 0x81, subtype 0, version 0/1/3, reserved 0, and the three
// reserved fields of sgx_report2_t (REPORTMACSTRUCT reserved1 at 4, reserved2 at 192, reserved at 495) zero;
// TDINFO (512..1023) is never looked into.
describe("checkTdReportShape: Intel's QGS checks on a TDREPORT", () => {
  const withByte = (i: number, v: number) => {
    const r = fakeTdReport(1);
    r[i] = v;
    return r;
  };
  it("takes versions 0, 1 and 3 and any TDINFO bytes (version-3 reports use its last 64)", () => {
    for (const version of [0, 1, 3]) expect(checkTdReportShape(withByte(2, version))).toBeNull();
    expect(checkTdReportShape(withByte(1000, 0x5a))).toBeNull();
  });
  it.each([
    [2, 2, "TDREPORT_BAD_TYPE"],
    [1, 1, "TDREPORT_BAD_TYPE"],
    [0, 0x80, "TDREPORT_BAD_TYPE"],
    [3, 1, "TDREPORT_RESERVED_NONZERO"],
    [4, 1, "TDREPORT_RESERVED_NONZERO"],
    [200, 1, "TDREPORT_RESERVED_NONZERO"],
    [495, 1, "TDREPORT_RESERVED_NONZERO"],
    [511, 1, "TDREPORT_RESERVED_NONZERO"],
  ])("refuses byte %i = %i (%s)", (i, v, code) => {
    expect(checkTdReportShape(withByte(i, v))?.code).toBe(code);
  });
});
