import { describe, expect, it } from "vitest";
import { createSimPlatform, expectationFor, SCENARIOS, type ScenarioName } from "../../src/sim/index.js";
import { verifyQuote } from "../../src/verify/index.js";

/**
 * Every scenario's quote gets the verdict Intel's QVL rules give it (quote-verify.md §2.6) when the
 * simulated root is the trust anchor, and every simulated quote is rejected under the default (Intel) anchor.
 */

// Collateral is issued at `now` (an hour back-dated) and verified at `now`.
const now = new Date();

// One platform and one collateral issue per scenario, shared by its tests.
const platforms = new Map<ScenarioName, ReturnType<typeof setup>>();
async function setup(scenario: ScenarioName) {
  const p = await createSimPlatform({ scenario, now });
  return { p, collateral: await p.collateral({ now }) };
}
async function run(scenario: ScenarioName, version: 4 | 5) {
  let s = platforms.get(scenario);
  if (!s) {
    s = setup(scenario);
    platforms.set(scenario, s);
  }
  const { p, collateral } = await s;
  return { p, quote: p.quote(new Uint8Array(64).fill(0x5a), { version }), collateral };
}

describe.each(SCENARIOS)("scenario %s", (scenario) => {
  const exp = expectationFor(scenario);

  it.each([4, 5] as const)(
    "quote v%i gets its intended verdict with the sim root as anchor",
    async (version) => {
      const { p, quote, collateral } = await run(scenario, version);
      const r = verifyQuote(quote, collateral, { now, trustAnchors: [p.rootCaPem] });
      if (exp.tcbStatus === null) {
        expect(r.ok).toBe(false);
        expect(r.error?.code).toMatch(/REVOKED/);
        return;
      }
      expect(r.tcbStatus).toBe(exp.tcbStatus);
      if (exp.tcbStatus === "Revoked") {
        // Intel: a Revoked TCB level is terminal (SGX_QL_QV_RESULT_REVOKED).
        expect(r.ok).toBe(false);
        expect(r.error?.code).toMatch(/REVOKED/);
      } else {
        expect(r.error).toBeNull();
        expect(r.ok).toBe(true);
      }
      expect(r.collateralExpired).toBe(exp.collateralExpired);
      expect(r.matchedTcbLevel?.tcbStatus).toBe(exp.platformTcbStatus);
      expect(r.advisoryIds).toEqual(exp.advisoryIDs);
      expect(r.qeIdentityStatus).toBe(exp.qeIdentityStatus);
      expect(r.tdxModuleStatus).toBe(exp.tdxModuleStatus);
    },
  );

  it("is rejected under the default Intel trust anchor", async () => {
    const { quote, collateral } = await run(scenario, 5);
    const r = verifyQuote(quote, collateral, { now });
    expect(r.ok).toBe(false);
    expect(r.tcbStatus).toBeNull();
  });
});

describe("TDX 1.0 module", () => {
  it.each(["up-to-date", "out-of-date", "qe-out-of-date"] as const)(
    "%s: all 16 TEE_TCB_SVN bytes matched, module not checked",
    async (scenario) => {
      const p = await createSimPlatform({ scenario, tdxModule: "1.0", now });
      const r = verifyQuote(p.quote(new Uint8Array(64)), await p.collateral({ now }), {
        now,
        trustAnchors: [p.rootCaPem],
      });
      expect(r.tcbStatus).toBe(expectationFor(scenario).tcbStatus);
    },
  );
});
