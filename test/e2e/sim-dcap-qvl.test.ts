import { QuoteVerifier } from "@phala/dcap-qvl";
import { describe, expect, it } from "vitest";
import { createSimPlatform, expectationFor, type ScenarioName } from "../../src/sim/index.js";

/**
 * An independent verifier (Phala's dcap-qvl, pure-JS port) accepts the simulated quotes and collateral
 * when given the simulated root, with the scenario's status. Where dcap-qvl knowingly differs from
 * Intel (it compares all 16 TEE_TCB_SVN bytes, treats Revoked and expired collateral as hard failures),
 * the difference is asserted as such.
 */

const now = new Date();

async function dcapQvl(scenario: ScenarioName) {
  const p = await createSimPlatform({ scenario, now });
  const quote = p.quote(new Uint8Array(64).fill(1), { version: 5 });
  const collateral = JSON.parse(await p.collateralJson({ now }));
  const rootDer = Buffer.from(p.rootCaPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  const verifier = QuoteVerifier.newWithRootCa(rootDer);
  try {
    const r = verifier.verify(Buffer.from(quote), collateral, Math.floor(now.getTime() / 1000));
    return { status: String(r.status), advisoryIds: r.advisory_ids, error: null as string | null };
  } catch (e) {
    return { status: null, advisoryIds: [], error: (e as Error).message };
  }
}

describe("dcap-qvl (independent verifier) with the simulated root", () => {
  it.each([
    "up-to-date",
    "sw-hardening-needed",
    "configuration-needed",
    "configuration-and-sw-hardening-needed",
    "out-of-date",
    "qe-out-of-date",
  ] as const)("%s: same status as Intel's rules", async (scenario) => {
    const r = await dcapQvl(scenario);
    expect(r.error).toBeNull();
    expect(r.status).toBe(expectationFor(scenario).tcbStatus);
  });

  it.each([
    ["revoked-tcb", /revoked/i],
    ["revoked-pck", /revoked/i],
    ["expired-collateral", /expired/i],
    // dcap-qvl compares TEE_TCB_SVN[0..1] too, so a TDX 1.5 module SVN below tdxtcbcomponents[0] finds no level.
    ["tdx-module-out-of-date", /no matching tcb level/i],
    // Same for a TD launched on the old module: TEE_TCB_SVN keeps SVN 4 (its TEE_TCB_SVN2 is never reached).
    ["td-relaunch-advised", /no matching tcb level/i],
  ] as const)("%s: a hard failure in dcap-qvl", async (scenario, why) => {
    const r = await dcapQvl(scenario);
    expect(r.error).toMatch(why);
  });

  it("rejects the simulated quotes under Intel's root", async () => {
    const p = await createSimPlatform({ now });
    const collateral = JSON.parse(await p.collateralJson({ now }));
    const q = Buffer.from(p.quote(new Uint8Array(64)));
    expect(() => QuoteVerifier.newProd().verify(q, collateral, Math.floor(now.getTime() / 1000))).toThrow(
      /signature invalid|certificate/i,
    );
  });
});
