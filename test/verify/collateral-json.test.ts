import { describe, expect, it } from "vitest";
import { readCollateral, writeCollateral } from "../../src/collateral/json.js";
import { parseTcbInfo } from "../../src/verify/index.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

describe.skipIf(!vectorsDir())(`collateral JSON (${VECTORS_SKIP_REASON})`, () => {
  const cases = loadCases();
  it.each(cases.map((c) => [c.name, c] as const))("%s: reads and round-trips byte-exact", (_n, c) => {
    const col = readCollateral(c.collateralText);
    const raw = JSON.parse(c.collateralText) as Record<string, string>;
    expect(col.tcbInfo).toBe(raw.tcb_info);
    expect(col.qeIdentity).toBe(raw.qe_identity);
    expect(Buffer.from(col.pckCrl).toString("hex")).toBe(raw.pck_crl!.toLowerCase());
    expect(col.tcbInfoSignature).toHaveLength(64);
    const again = readCollateral(writeCollateral(col));
    expect(again).toEqual(col);
  });

  it("names the field that is wrong", () => {
    const raw = JSON.parse(cases[0]!.collateralText) as Record<string, unknown>;
    const bad = (mut: (o: Record<string, unknown>) => void) => {
      const o = { ...raw };
      mut(o);
      return () => readCollateral(JSON.stringify(o));
    };
    expect(bad((o) => delete o.pck_crl)).toThrowError(
      expect.objectContaining({ code: "COLLATERAL_MALFORMED", field: "pck_crl" }),
    );
    expect(bad((o) => (o.root_ca_crl = "xyz"))).toThrowError(
      expect.objectContaining({ field: "root_ca_crl" }),
    );
    expect(bad((o) => (o.extra = 1))).toThrowError(
      expect.objectContaining({ code: "COLLATERAL_UNKNOWN_FIELD", field: "extra" }),
    );
    expect(bad((o) => (o.tcb_info = JSON.stringify({ tcbInfo: {}, signature: "" })))).toThrowError(
      expect.objectContaining({ field: "tcb_info" }),
    );
    expect(() => readCollateral("[")).toThrowError(expect.objectContaining({ code: "COLLATERAL_MALFORMED" }));
    const arr = {
      ...raw,
      tcb_info_signature: Array.from(Buffer.from(String(raw.tcb_info_signature), "hex")),
    };
    expect(readCollateral(JSON.stringify(arr)).tcbInfoSignature).toEqual(
      readCollateral(cases[0]!.collateralText).tcbInfoSignature,
    );
  });
});

describe("TCB Info format rules of Intel's parser", () => {
  // The simulator's TDX TCB Info (the signed object): tcbLevels, tdxModule, tdxModuleIdentities with levels.
  async function simTcbInfo(): Promise<{ tcbInfo: Record<string, unknown> }> {
    const { createSimPlatform } = await import("../../src/sim/index.js");
    const now = new Date("2026-01-01T00:00:00Z");
    const p = await createSimPlatform({ now });
    return { tcbInfo: JSON.parse((await p.collateral({ now })).tcbInfo) as Record<string, unknown> };
  }
  type Levels = { tcbLevels: unknown[] }[];

  it("parses as the simulator issues it", async () => {
    const t = await simTcbInfo();
    expect((t.tcbInfo.tdxModuleIdentities as Levels).length).toBeGreaterThan(0);
    expect(parseTcbInfo(JSON.stringify(t.tcbInfo)).tdxModuleIdentities?.length).toBeGreaterThan(0);
  });

  it("refuses two TCB levels alike, and two module levels with the same isvsvn (QVL's sets)", async () => {
    const t = await simTcbInfo();
    const levels = t.tcbInfo.tcbLevels as unknown[];
    levels.push(structuredClone(levels[0]));
    expect(() => parseTcbInfo(JSON.stringify(t.tcbInfo))).toThrowError(
      expect.objectContaining({ code: "TCB_INFO_MALFORMED", field: "tcbInfo.tcbLevels" }),
    );

    const m = await simTcbInfo();
    const identity = (m.tcbInfo.tdxModuleIdentities as Levels)[0]!;
    const copy = structuredClone(identity.tcbLevels[0]) as { tcbStatus: string };
    copy.tcbStatus = copy.tcbStatus === "UpToDate" ? "OutOfDate" : "UpToDate"; // same isvsvn, other status
    identity.tcbLevels.push(copy);
    expect(() => parseTcbInfo(JSON.stringify(m.tcbInfo))).toThrowError(
      expect.objectContaining({
        code: "TCB_INFO_MALFORMED",
        field: "tcbInfo.tdxModuleIdentities[0].tcbLevels",
      }),
    );
  });

  it("refuses a module identity without levels and an empty tdxModuleIdentities", async () => {
    const t = await simTcbInfo();
    (t.tcbInfo.tdxModuleIdentities as Levels)[0]!.tcbLevels = [];
    expect(() => parseTcbInfo(JSON.stringify(t.tcbInfo))).toThrowError(
      expect.objectContaining({ field: "tcbInfo.tdxModuleIdentities[0].tcbLevels" }),
    );
    const e = await simTcbInfo();
    e.tcbInfo.tdxModuleIdentities = [];
    expect(() => parseTcbInfo(JSON.stringify(e.tcbInfo))).toThrowError(
      expect.objectContaining({ field: "tcbInfo.tdxModuleIdentities" }),
    );
  });
});
