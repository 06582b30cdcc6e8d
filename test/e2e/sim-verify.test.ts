import { mkdtempSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { writeCollateral } from "../../src/collateral/json.js";
import { buildPcsServer } from "../../src/server/pcs.js";
import { createSimPlatform } from "../../src/sim/index.js";
import { Verifier, verifyQuote } from "../../src/verify/index.js";
import { runCliInProcess } from "../helpers/cli.js";

/**
 * A quote from the simulated platform verifies when (and only when) the caller hands the verifier the
 * simulated root: through the library and through `tdx-attest verify --trust-root`, with the CLI's exit
 * codes (0 accepted, 1 verified but refused, 2 invalid) and JSON shape.
 */

const cli = (...args: string[]) => runCliInProcess(args);

const now = new Date("2026-11-26T12:00:00Z");
let dir: string;

async function platformFiles(scenario: string) {
  const p = await createSimPlatform({ scenario, now });
  const quote = p.quote(new Uint8Array(64).fill(1), { version: 5 });
  const collateral = await p.collateral({ now });
  const base = join(dir, scenario);
  writeFileSync(`${base}.quote`, quote);
  writeFileSync(`${base}.hex`, Buffer.from(quote).toString("hex"));
  writeFileSync(`${base}.collateral.json`, writeCollateral(collateral));
  writeFileSync(`${base}.root.pem`, p.rootCaPem);
  return { p, quote, collateral, base };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sim-verify-"));
});
afterEach(() => {
  process.exitCode = undefined;
});

describe("simulated quotes and trust anchors", () => {
  it("verifies with the sim root passed, is rejected under the default anchor", async () => {
    const { p, quote, collateral } = await platformFiles("up-to-date");
    const withSim = verifyQuote(quote, collateral, { now, trustAnchors: [p.rootCaPem] });
    expect(withSim.ok).toBe(true);
    expect(withSim.tcbStatus).toBe("UpToDate");
    const byDefault = new Verifier().verify(quote, collateral, { now });
    expect(byDefault.ok).toBe(false);
    expect(byDefault.error?.code).toBe("UNTRUSTED_ROOT");
  });

  it("CLI: exit 0 with --trust-root, 2 (UNTRUSTED_ROOT) without", async () => {
    const { base } = await platformFiles("up-to-date");
    const at = now.toISOString();
    const ok = await cli(
      "verify",
      `${base}.hex`,
      "--collateral",
      `${base}.collateral.json`,
      "--at",
      at,
      "--trust-root",
      `${base}.root.pem`,
      "--json",
    );
    expect(ok.code).toBe(0);
    const json = JSON.parse(ok.out);
    expect(Object.keys(json)).toEqual(
      expect.arrayContaining([
        "ok",
        "tcbStatus",
        "advisoryIds",
        "collateralExpired",
        "checks",
        "policy",
        "error",
      ]),
    );
    expect(json).toMatchObject({ ok: true, tcbStatus: "UpToDate", collateralExpired: false, error: null });
    expect(json.policy.allowed).toBe(true);
    const untrusted = await cli(
      "verify",
      `${base}.quote`,
      "--collateral",
      `${base}.collateral.json`,
      "--at",
      at,
      "--json",
    );
    expect(untrusted.code).toBe(2);
    expect(JSON.parse(untrusted.out)).toMatchObject({
      ok: false,
      tcbStatus: null,
      policy: null,
      error: { code: "UNTRUSTED_ROOT" },
    });
    const human = await cli(
      "verify",
      `${base}.quote`,
      "--collateral",
      `${base}.collateral.json`,
      "--at",
      String(Math.floor(now.getTime() / 1000)),
    );
    expect(human.code).toBe(2);
    expect(human.out).toMatch(/^INVALID: UNTRUSTED_ROOT/);
    expect(human.out).toMatch(/FAIL pckChain\.root/);
  });

  it("CLI: exit 1 when verified but refused by TCB status (default policy) or an expired collateral", async () => {
    const at = now.toISOString();
    for (const scenario of ["out-of-date", "expired-collateral"]) {
      const { base } = await platformFiles(scenario);
      const r = await cli(
        "verify",
        `${base}.quote`,
        "--collateral",
        `${base}.collateral.json`,
        "--at",
        at,
        "--trust-root",
        `${base}.root.pem`,
        "--json",
      );
      expect(r.code).toBe(1);
      const json = JSON.parse(r.out);
      expect(json.ok).toBe(false);
      expect(json.error).toBeNull();
      expect(json.policy.allowed).toBe(false);
    }
  });

  it("CLI: a policy file that accepts OutOfDate turns exit 1 into 0; usage errors exit 2", async () => {
    const { base } = await platformFiles("out-of-date");
    const policy = join(dir, "policy.json");
    writeFileSync(
      policy,
      JSON.stringify({
        version: 1,
        acceptedTcbStatuses: ["UpToDate", "OutOfDate"],
        allowedAdvisoryIds: [
          "INTEL-SA-01036",
          "INTEL-SA-01079",
          "INTEL-SA-01099",
          "INTEL-SA-01103",
          "INTEL-SA-01111",
        ],
      }),
    );
    const at = now.toISOString();
    const r = await cli(
      "verify",
      `${base}.quote`,
      "--collateral",
      `${base}.collateral.json`,
      "--at",
      at,
      "--trust-root",
      `${base}.root.pem`,
      "--policy",
      policy,
    );
    expect(r.out).toMatch(/^ACCEPTED: TCB OutOfDate/);
    expect(r.code).toBe(0);
    expect((await cli("verify", `${base}.quote`)).code).toBe(2);
    expect(
      (await cli("verify", `${base}.quote`, "--collateral", `${base}.collateral.json`, "--at", "yesterday"))
        .code,
    ).toBe(2);
  });

  it("CLI: --pccs fetches the collateral from a (simulated) PCS over HTTP", async () => {
    const { p, base } = await platformFiles("sw-hardening-needed");
    const server = buildPcsServer({ platform: p, now: () => now });
    await server.listen({ host: "127.0.0.1", port: 0 });
    try {
      const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
      const args = ["verify", `${base}.quote`, "--pccs", url, "--at", now.toISOString(), "--json"];
      const r = await cli(...args, "--trust-root", `${base}.root.pem`);
      const json = JSON.parse(r.out);
      expect(json.verified).toBe(true);
      expect(json.tcbStatus).toBe("SWHardeningNeeded");
      expect(r.code).toBe(1); // verified, refused by the default policy (UpToDate only)
      expect((await cli(...args)).code).toBe(2);
    } finally {
      await server.close();
    }
  });
});
