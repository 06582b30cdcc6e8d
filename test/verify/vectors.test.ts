import { describe, expect, it } from "vitest";
import { readCollateral } from "../../src/collateral/json.js";
import { Verifier } from "../../src/verify/index.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

/** Intel's words for the failures the vectors carry, mapped to our codes. */
const INTEL_ERROR_TO_CODE: Record<string, string[]> = {
  TCB_LEVEL_NOT_FOUND: ["TCB_LEVEL_NOT_FOUND"],
  SGX_CRL_UNKNOWN_ISSUER: ["CRL_UNKNOWN_ISSUER"],
};

const MODULE_STATUS: Record<string, string> = {
  STATUS_OK: "UpToDate",
  STATUS_TCB_OUT_OF_DATE: "OutOfDate",
  STATUS_TCB_REVOKED: "Revoked",
};

describe.skipIf(!vectorsDir())(`Intel QVL verdicts on real quotes (${VECTORS_SKIP_REASON})`, () => {
  const cases = loadCases();
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const e = c.expected.expect;
    const r = new Verifier().verify(c.quote, readCollateral(c.collateralText), { now: c.expected.at });
    expect({ tcbStatus: r.tcbStatus, collateralExpired: r.collateralExpired, ok: r.ok }).toEqual({
      tcbStatus: e.tcbStatus,
      collateralExpired: e.collateralExpired,
      ok: e.error === null,
    });
    if (e.error !== null) {
      expect(INTEL_ERROR_TO_CODE[e.error]).toContain(r.error?.code);
      expect(r.checks.at(-1)?.nonFatal ? r.checks.at(-2)?.passed : r.checks.at(-1)?.passed).toBe(false);
    } else {
      expect(r.error).toBeNull();
      expect(r.checks.every((ch) => ch.passed || ch.nonFatal)).toBe(true);
    }
    expect(r.qeIdentityStatus).toBe(e.qeIdentityStatus ?? null);
    if (e.matchedTcbLevel) {
      expect(r.matchedTcbLevel).toMatchObject({
        tcbDate: e.matchedTcbLevel.tcbDate,
        tcbStatus: e.matchedTcbLevel.tcbStatus,
        advisoryIds: e.matchedTcbLevel.advisoryIDs ?? [],
      });
      expect(r.advisoryIds).toEqual(e.matchedTcbLevel.advisoryIDs ?? []);
    } else {
      expect(r.matchedTcbLevel).toBeNull();
    }
    const ms = e.tdxModuleStatus ?? null;
    expect(r.tdxModuleStatus).toBe(ms === null ? null : MODULE_STATUS[ms]);
    // Expired: something ran out before `at`, or a CRL is not valid yet (its thisUpdate lies after `at`).
    if (r.collateralExpired) {
      expect(
        r.earliestExpiry!.at < c.expected.at || r.expiredItems.some((i) => i.endsWith(".thisUpdate")),
      ).toBe(true);
    } else if (r.earliestExpiry) expect(r.earliestExpiry.at).toBeGreaterThanOrEqual(c.expected.at);
  });
});

describe.skipIf(!vectorsDir())("a real quote with slack inside signature_data_len", () => {
  // QVL Quote::parse gives the declared length to Ecdsa256BitQuoteV4AuthData::insert, which never checks
  // that its parts reach the end (the length is not signed): Intel's verdict does not change.
  it("verifies as the quote does, with a non-fatal note", () => {
    const c = loadCases().find((x) => x.name === "dcapqvl_tdx_v4_b0c06f_2025-06");
    if (!c) throw new Error("vector dcapqvl_tdx_v4_b0c06f_2025-06 missing");
    const padded = Uint8Array.from(c.quote);
    const view = new DataView(padded.buffer);
    view.setUint32(632, view.getUint32(632, true) + 20, true);
    const collateral = readCollateral(c.collateralText);
    const base = new Verifier().verify(c.quote, collateral, { now: c.expected.at });
    const r = new Verifier().verify(padded, collateral, { now: c.expected.at });
    expect({ ok: r.ok, tcbStatus: r.tcbStatus }).toEqual({ ok: base.ok, tcbStatus: base.tcbStatus });
    expect(r.tcbStatus).toBe(c.expected.expect.tcbStatus);
    expect(r.checks.find((x) => x.name === "quote.signatureDataSlack")).toMatchObject({
      passed: false,
      nonFatal: true,
      actual: 20,
    });
  });
});
