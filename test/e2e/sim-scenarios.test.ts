import { describe, expect, it } from "vitest";
import { parseQuote, toHex } from "../../src/abi/index.js";
import {
  createSimPlatform,
  expectationFor,
  platformTcbFor,
  SCENARIOS,
  type ScenarioName,
} from "../../src/sim/index.js";
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

/** Scenarios whose TD runs on a module updated in place: the TD QE quotes them as v5 / TD 1.5 only. */
const tdPreserving = new Set<ScenarioName>(
  SCENARIOS.filter((s) => platformTcbFor(s).tdLaunchModuleSvn !== undefined),
);

describe.each(SCENARIOS)("scenario %s", (scenario) => {
  const exp = expectationFor(scenario);

  it.each([4, 5] as const)(
    "quote v%i gets its intended verdict with the sim root as anchor",
    async (version) => {
      if (version === 4 && tdPreserving.has(scenario)) {
        // Intel's TD QE never emits v4 when TEE_TCB_SVN2 != TEE_TCB_SVN (guest-abi.md §4.3).
        await expect(run(scenario, 4)).rejects.toMatchObject({ code: "SIM_QUOTE_VERSION" });
        return;
      }
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

describe("TD-preserving module update (checkForRelaunch, quote-verify.md §2.6)", () => {
  it("both relaunch scenarios exist and are TD-preserving", () => {
    expect([...tdPreserving].sort()).toEqual([
      "td-relaunch-advised",
      "td-relaunch-advised-configuration-needed",
    ]);
  });

  it.each([...tdPreserving])(
    "%s: the TD QE picks v5 with a TD 1.5 body carrying the old TEE_TCB_SVN and the current TEE_TCB_SVN2",
    async (scenario) => {
      const p = await createSimPlatform({ scenario, now });
      const report = p.report(new Uint8Array(64).fill(3));
      // VALID = 0x301FF: TEE_TCB_SVN2 (bits 16, 17) valid.
      expect(toHex(report.subarray(256, 264))).toBe("ff01030000000000");
      const q = parseQuote(p.quoteFromTdReport(report));
      expect(q.header.version).toBe(5);
      expect(q.body.type).toBe(3);
      const body = q.body.kind === "td15" ? q.body.report : null;
      const tcb = platformTcbFor(scenario);
      expect(body?.teeTcbSvn[0]).toBe(tcb.tdLaunchModuleSvn);
      expect(body?.teeTcbSvn2?.[0]).toBe(tcb.tdxModuleSvn);
      expect(toHex(body!.teeTcbSvn).slice(2)).toBe(toHex(body!.teeTcbSvn2!).slice(2));
    },
  );

  it.each([
    ["td-relaunch-advised", "TDRelaunchAdvised"],
    ["td-relaunch-advised-configuration-needed", "TDRelaunchAdvisedConfigurationNeeded"],
  ] as const)("%s: our verifier advises %s", async (scenario, status) => {
    const p = await createSimPlatform({ scenario, now });
    const r = verifyQuote(p.quote(new Uint8Array(64).fill(4)), await p.collateral({ now }), {
      now,
      trustAnchors: [p.rootCaPem],
    });
    expect(r.error).toBeNull();
    expect(r.tcbStatus).toBe(status);
    expect(r.tdxModuleStatus).toBe("OutOfDate");
    expect(r.qeIdentityStatus).toBe("UpToDate");
  });

  it("the same TD without the update is merely OutOfDate (module SVN 4): the advice comes from TEE_TCB_SVN2", async () => {
    const p = await createSimPlatform({ scenario: "tdx-module-out-of-date", now });
    const q = p.quote(new Uint8Array(64), { version: 5 });
    expect(parseQuote(q).body.type).toBe(3);
    const r = verifyQuote(q, await p.collateral({ now }), { now, trustAnchors: [p.rootCaPem] });
    expect(r.tcbStatus).toBe("OutOfDate");
  });
});
