import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { parseTdReport } from "../../src/abi/index.js";
import { isTdxError } from "../../src/errors.js";
import {
  createSimPlatform,
  measureMrTd,
  rtmrExtend,
  type SimPlatform,
  tdImageOf,
  tdxModuleIdentity,
  verifyTdReport,
} from "../../src/sim/index.js";

/** The 128-byte SEAMCALL block, built independently of src/sim: name, zero pad to 16, GPA u64 LE, zeros. */
function seamBlock(name: string, gpa: number): Buffer {
  const b = Buffer.alloc(128);
  b.write(name, 0, "ascii");
  b.writeBigUInt64LE(BigInt(gpa), 16);
  return b;
}

describe("MRTD", () => {
  // Documented small image: page 0x1000 holds bytes i & 0xff and is extended; page 0x3000 is only added.
  const content = Buffer.alloc(4096);
  for (let i = 0; i < 4096; i++) content[i] = i & 0xff;
  const image = {
    sections: [
      { gpa: 0x1000n, pages: 1, content: new Uint8Array(content), mrExtend: true },
      { gpa: 0x3000n, pages: 1, mrExtend: false },
      { gpa: 0x5000n, pages: 1, mrExtend: false, pageAug: true },
    ],
  };

  it("equals SHA-384 of PAGE.ADD / MR.EXTEND blocks computed by hand (single pass)", () => {
    const h = createHash("sha384");
    h.update(seamBlock("MEM.PAGE.ADD", 0x1000));
    for (let c = 0; c < 4096; c += 256) {
      h.update(seamBlock("MR.EXTEND", 0x1000 + c));
      h.update(content.subarray(c, c + 256));
    }
    h.update(seamBlock("MEM.PAGE.ADD", 0x3000));
    expect(Buffer.from(measureMrTd(image)).toString("hex")).toBe(h.digest("hex"));
  });

  it("two-pass order differs from single pass only when a section has several pages", () => {
    const two = { ...image, order: "two-pass" as const };
    expect(measureMrTd(two)).toEqual(measureMrTd(image));
    const multi = { sections: [{ gpa: 0x10000n, pages: 2, mrExtend: true }] };
    expect(measureMrTd({ ...multi, order: "two-pass" })).not.toEqual(measureMrTd(multi));
  });

  it("refuses unaligned sections with a TdxError", () => {
    try {
      measureMrTd({ sections: [{ gpa: 0x1001n, pages: 1, mrExtend: false }] });
      expect.unreachable();
    } catch (e) {
      expect(isTdxError(e) && e.code).toBe("SIM_TD_IMAGE_INVALID");
    }
  });

  it("the default TD description is deterministic", () => {
    const d = {
      name: "t",
      attributes: "0x10000000",
      xfam: "0xe7",
      sections: [{ gpa: "0x1000", pages: 1, mrExtend: true, contentSeed: "seed" }],
    };
    expect(measureMrTd(tdImageOf(d))).toEqual(measureMrTd(tdImageOf(structuredClone(d))));
  });
});

describe("RTMR extend", () => {
  it("RTMR = SHA-384(RTMR || data)", () => {
    const data = createHash("sha384").update("event").digest();
    const expected = createHash("sha384").update(Buffer.alloc(48)).update(data).digest();
    expect(Buffer.from(rtmrExtend(new Uint8Array(48), new Uint8Array(data)))).toEqual(expected);
  });
  it("refuses data that is not 48 bytes", () => {
    expect(() => rtmrExtend(new Uint8Array(48), new Uint8Array(32))).toThrow(/48/);
  });
});

describe("TDG.MR.REPORT and the QE's report check", () => {
  let p: SimPlatform;
  let other: SimPlatform;
  beforeAll(async () => {
    p = await createSimPlatform();
    other = await createSimPlatform();
  });

  it("fills the TDREPORT as the TDX module does", () => {
    const rd = new Uint8Array(64).fill(0xab);
    const bytes = p.report(rd);
    const r = parseTdReport(bytes);
    expect(r.reportMacStruct.reportType).toEqual({ type: 0x81, subtype: 0, version: 0, reserved: 0 });
    expect(r.reportMacStruct.reportData).toEqual(rd);
    const hashTcb = createHash("sha384").update(bytes.subarray(256, 495)).digest();
    const hashInfo = createHash("sha384").update(bytes.subarray(512, 1024)).digest();
    expect(Buffer.from(r.reportMacStruct.teeTcbInfoHash)).toEqual(hashTcb);
    expect(Buffer.from(r.reportMacStruct.teeInfoHash)).toEqual(hashInfo);
    // TDX 1.5 module: VALID 0x301FF, TEE_TCB_SVN[1] = 1, SVN2 == SVN
    expect(Buffer.from(r.teeTcbInfo.valid).toString("hex")).toBe("ff01030000000000");
    expect(r.teeTcbInfo.teeTcbSvn[1]).toBe(1);
    expect(r.teeTcbInfo.teeTcbSvn2).toEqual(r.teeTcbInfo.teeTcbSvn);
    expect(r.tdInfo.mrTd).toEqual(p.tdState.mrTd);
    expect(Buffer.from(r.tdInfo.attributes).toString("hex")).toBe("0000001000000000");
  });

  it("reflects RTMR extends in later reports", async () => {
    const q = await createSimPlatform();
    const d = new Uint8Array(createHash("sha384").update("app").digest());
    const expected = createHash("sha384").update(Buffer.alloc(48)).update(d).digest();
    q.extendRtmr(3, d);
    const r = parseTdReport(q.report(new Uint8Array(64)));
    expect(Buffer.from(r.tdInfo.rtmr[3])).toEqual(expected);
  });

  it("accepts its own reports", () => {
    expect(() => p.quoteFromTdReport(p.report(new Uint8Array(64)))).not.toThrow();
  });

  const tamper = (at: number) => () => {
    const bytes = p.report(new Uint8Array(64));
    bytes[at]! ^= 1;
    return bytes;
  };
  it.each([
    ["REPORTDATA", 130, "SIM_TDREPORT_MAC_INVALID"],
    ["MAC", 230, "SIM_TDREPORT_MAC_INVALID"],
    ["TEE_TCB_INFO (TEE_TCB_SVN)", 264, "SIM_TDREPORT_TEE_TCB_INFO_HASH"],
    ["TDINFO (MRTD)", 530, "SIM_TDREPORT_TEE_INFO_HASH"],
    ["TDINFO (RTMR0)", 721, "SIM_TDREPORT_TEE_INFO_HASH"],
  ])("refuses a forged report (%s altered)", (_what, at, code) => {
    try {
      p.quoteFromTdReport(tamper(at)());
      expect.unreachable();
    } catch (e) {
      expect(isTdxError(e) && e.code).toBe(code);
    }
  });

  it("refuses a report from another platform", () => {
    const foreign = other.report(new Uint8Array(64));
    try {
      p.quoteFromTdReport(foreign);
      expect.unreachable();
    } catch (e) {
      expect(isTdxError(e) && e.code).toBe("SIM_TDREPORT_MAC_INVALID");
    }
    expect(() => verifyTdReport(foreign, new Uint8Array(32))).toThrow();
  });

  it("refuses a report of the wrong size or type", () => {
    expect(() => p.quoteFromTdReport(new Uint8Array(100))).toThrow(
      expect.objectContaining({ code: "TDREPORT_SIZE" }),
    );
    const bytes = p.report(new Uint8Array(64));
    bytes[0] = 0;
    expect(() => p.quoteFromTdReport(bytes)).toThrow(expect.objectContaining({ code: "SIM_TDREPORT_TYPE" }));
  });

  it("refuses REPORTDATA that is not 64 bytes", () => {
    expect(() => p.report(new Uint8Array(32))).toThrow(
      expect.objectContaining({ code: "SIM_REPORT_DATA_SIZE" }),
    );
  });
});

describe("TD-preserving module update (TEE_TCB_SVN2)", () => {
  it("TEE_TCB_SVN keeps the launch-time module SVN, TEE_TCB_SVN2 the running module's, MAC still verifies", async () => {
    const p = await createSimPlatform({ scenario: "td-relaunch-advised" });
    const raw = p.report(new Uint8Array(64));
    const r = parseTdReport(raw);
    expect(Buffer.from(r.teeTcbInfo.valid).toString("hex")).toBe("ff01030000000000");
    expect(Array.from(r.teeTcbInfo.teeTcbSvn.subarray(0, 3))).toEqual([4, 1, 3]);
    expect(Array.from(r.teeTcbInfo.teeTcbSvn2.subarray(0, 3))).toEqual([6, 1, 3]);
    expect(p.quoteFromTdReport(raw).length).toBeGreaterThan(0);
    expect(() => verifyTdReport(raw, new Uint8Array(32))).toThrow(
      expect.objectContaining({ code: "SIM_TDREPORT_MAC_INVALID" }),
    );
  });

  it("without an update both are equal", async () => {
    const p = await createSimPlatform({ scenario: "tdx-module-out-of-date" });
    expect(Buffer.from(p.module.teeTcbSvn2)).toEqual(Buffer.from(p.module.teeTcbSvn));
  });

  it("a TDX 1.0 module has no TEE_TCB_SVN2 to update", () => {
    expect(() => tdxModuleIdentity("1.0", { moduleSvn: 6, microcodeSvn: 3, launchModuleSvn: 4 })).toThrow(
      expect.objectContaining({ code: "SIM_TDX_MODULE_VERSION" }),
    );
  });
});
