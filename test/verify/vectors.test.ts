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
