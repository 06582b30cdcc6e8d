import { describe, expect, it } from "vitest";
import { decodeAttestationInput, decodeInputBytes } from "../../src/abi/index.js";
import { hexOption } from "../../src/cli/io.js";
import { tdxErrorOf } from "../helpers/errors.js";

const text = (s: string) => new TextEncoder().encode(s);

describe("input that names its real problem", () => {
  it("an empty file is INPUT_EMPTY, not a truncated quote", () => {
    for (const input of [new Uint8Array(0), "", text(" \n\t")]) {
      const e = tdxErrorOf(() => decodeInputBytes(input));
      expect(e.code).toBe("INPUT_EMPTY");
      expect(e.hint).toMatch(/quote or TDREPORT/);
    }
    expect(tdxErrorOf(() => decodeAttestationInput(new Uint8Array(0))).code).toBe("INPUT_EMPTY");
  });

  it("text that is neither hex nor base64 is INPUT_ENCODING with its offset, never read as binary", () => {
    const e = tdxErrorOf(() => decodeAttestationInput(text("-----BEGIN CERTIFICATE-----\nMIIB\n")));
    expect(e.code).toBe("INPUT_ENCODING");
    expect(e.offset).toBe(0);
    const j = tdxErrorOf(() => decodeInputBytes(text('{"quote": "00"}')));
    expect(j.code).toBe("INPUT_ENCODING");
    expect(j.offset).toBe(0);
    expect(j.hint).toMatch(/JSON file is not a quote/);
    expect(tdxErrorOf(() => decodeInputBytes(text("0400 z!z"))).offset).toBe(6);
  });

  it("odd-length hex is INPUT_HEX_ODD_LENGTH, not base64 of a quote of version 36307", () => {
    const e = tdxErrorOf(() => decodeAttestationInput(text("04000200810000000")));
    expect(e.code).toBe("INPUT_HEX_ODD_LENGTH");
    expect(e.message).toContain("17");
    expect(tdxErrorOf(() => decodeInputBytes("0x040")).code).toBe("INPUT_HEX_ODD_LENGTH");
  });

  it("base64 of impossible length is INPUT_BASE64_LENGTH", () => {
    expect(decodeInputBytes("BAACAIEAAAAx").encoding).toBe("base64");
    expect(tdxErrorOf(() => decodeInputBytes("BAACAIEAAAAxy")).code).toBe("INPUT_BASE64_LENGTH");
  });

  it("still reads binary, hex and base64", () => {
    const bin = Uint8Array.from([4, 0, 2, 0, 0x81, 0, 0, 0]);
    expect(decodeInputBytes(bin)).toEqual({ bytes: bin, encoding: "binary" });
    expect(decodeInputBytes("0x0400020081000000").bytes).toEqual(bin);
    expect(decodeInputBytes(Buffer.from(bin).toString("base64")).bytes).toEqual(bin);
  });
});

describe("hex options (--report-data, --data-hex)", () => {
  it("names a character that is no hex digit, with its offset", () => {
    const e = tdxErrorOf(() => hexOption("zz", "report-data", 64, "GUEST_REPORT_DATA_SIZE"));
    expect(e.code).toBe("HEX_OPTION_NOT_HEX");
    expect(e.field).toBe("report-data");
    expect(e.offset).toBe(0);
    expect(e.message).not.toMatch(/at most 64 bytes/);
    expect(tdxErrorOf(() => hexOption("0x00g0", "report-data", 64, "GUEST_REPORT_DATA_SIZE")).offset).toBe(4);
  });

  it("an odd number of digits and a too-long value get their own codes", () => {
    expect(tdxErrorOf(() => hexOption("abc", "report-data", 64, "GUEST_REPORT_DATA_SIZE")).code).toBe(
      "HEX_OPTION_ODD_LENGTH",
    );
    const long = tdxErrorOf(() => hexOption("00".repeat(65), "report-data", 64, "GUEST_REPORT_DATA_SIZE"));
    expect(long.code).toBe("GUEST_REPORT_DATA_SIZE");
    expect(long.message).toMatch(/at most 64 bytes of hex \(got 65\)/);
  });

  it("reads hex with or without 0x", () => {
    expect(hexOption(" 0xA1b2 ", "data-hex", 4, "GUEST_REPORT_DATA_SIZE")).toEqual(
      Uint8Array.from([0xa1, 0xb2]),
    );
    expect(hexOption("", "data-hex", 4, "GUEST_REPORT_DATA_SIZE")).toEqual(new Uint8Array(0));
  });
});
