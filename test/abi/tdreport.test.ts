import { describe, expect, test } from "vitest";
import {
  decodeAttestationInput,
  emptyTdReport,
  hasTdAttribute,
  parseTdReport,
  serializeTdReport,
  tdAttributeNames,
  tdAttributesFromNames,
  tdReportToJson,
  toHex,
  xfamNames,
} from "../../src/abi/index.js";
import { TdxError } from "../../src/errors.js";

function sampleReport(): Uint8Array {
  const b = new Uint8Array(1024);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
  b[0] = 0x81;
  b[1] = 0;
  b[2] = 0;
  b[3] = 0;
  return b;
}

describe("TDREPORT_STRUCT", () => {
  test("fields sit at the documented offsets", () => {
    const b = sampleReport();
    const r = parseTdReport(b);
    expect(r.reportMacStruct.reportType.type).toBe(0x81);
    expect(toHex(r.reportMacStruct.cpuSvn)).toBe(toHex(b.subarray(16, 32)));
    expect(toHex(r.reportMacStruct.reportData)).toBe(toHex(b.subarray(128, 192)));
    expect(toHex(r.reportMacStruct.mac)).toBe(toHex(b.subarray(224, 256)));
    expect(toHex(r.teeTcbInfo.teeTcbSvn)).toBe(toHex(b.subarray(264, 280)));
    expect(toHex(r.teeTcbInfo.mrSeam)).toBe(toHex(b.subarray(280, 328)));
    expect(toHex(r.tdInfo.mrTd)).toBe(toHex(b.subarray(528, 576)));
    expect(toHex(r.tdInfo.rtmr[3])).toBe(toHex(b.subarray(864, 912)));
    expect(toHex(r.tdInfo.servTdHash)).toBe(toHex(b.subarray(912, 960)));
  });

  test("serialize(parse(bytes)) is byte-exact and views are zero-copy", () => {
    const b = sampleReport();
    const r = parseTdReport(b);
    expect(r.tdInfo.mrTd.buffer).toBe(b.buffer);
    expect(Buffer.from(serializeTdReport(r)).equals(Buffer.from(b))).toBe(true);
  });

  test("the layout covers all 1024 bytes exactly once", () => {
    const covered = new Uint8Array(1024);
    for (const f of parseTdReport(sampleReport()).layout)
      for (let i = f.offset; i < f.offset + f.size; i++) covered[i] = (covered[i] ?? 0) + 1;
    expect(covered.every((c) => c === 1)).toBe(true);
  });

  test("wrong sizes are TdxErrors", () => {
    for (const n of [0, 100, 1023, 1025]) {
      const e = (() => {
        try {
          parseTdReport(new Uint8Array(n));
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(TdxError);
      expect((e as TdxError).code).toBe("TDREPORT_SIZE");
    }
  });

  test("serialize refuses fields of the wrong size", () => {
    const r = emptyTdReport();
    r.tdInfo.mrTd = new Uint8Array(47);
    expect(() => serializeTdReport(r)).toThrow(TdxError);
  });

  test("decodeAttestationInput detects a TDREPORT in hex and base64", () => {
    const b = sampleReport();
    expect(decodeAttestationInput(Buffer.from(b).toString("hex")).kind).toBe("tdreport");
    const d = decodeAttestationInput(Buffer.from(b).toString("base64"));
    expect(d.kind).toBe("tdreport");
    expect(d.encoding).toBe("base64");
    expect(tdReportToJson(parseTdReport(b)).kind).toBe("tdreport");
  });
});

describe("attribute bits", () => {
  test("TD attributes by name", () => {
    const attrs = tdAttributesFromNames(["DEBUG", "SEPT_VE_DISABLE", "PKS"]);
    expect(toHex(attrs)).toBe("0100005000000000");
    expect(tdAttributeNames(attrs)).toEqual(["DEBUG", "SEPT_VE_DISABLE", "PKS"]);
    expect(hasTdAttribute(attrs, "DEBUG")).toBe(true);
    expect(hasTdAttribute(attrs, "PERFMON")).toBe(false);
    expect(tdAttributeNames(1n << 63n)).toEqual(["PERFMON"]);
    expect(tdAttributeNames(1n << 40n)).toEqual(["BIT40"]);
    expect(() => tdAttributesFromNames(["NOPE"])).toThrow(TdxError);
  });
  test("XFAM by name", () => {
    expect(xfamNames(0xe7n)).toEqual([
      "X87",
      "SSE",
      "AVX",
      "AVX512_OPMASK",
      "AVX512_ZMM_HI256",
      "AVX512_HI16_ZMM",
    ]);
  });
});
