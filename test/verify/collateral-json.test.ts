import { describe, expect, it } from "vitest";
import { readCollateral, writeCollateral } from "../../src/collateral/json.js";
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
