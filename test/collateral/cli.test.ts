import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Collateral, readCollateral, writeCollateral } from "../../src/collateral/index.js";
import { verifyQuote } from "../../src/verify/index.js";
import { runCliInProcess } from "../helpers/cli.js";
import { VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";
import { deadUrl, FakePcs } from "./fake-pcs.js";

const dir = vectorsDir();

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runCliInProcess(args);
  return { code: r.code, stdout: r.out, stderr: r.err };
}

describe.skipIf(!dir)(`collateral fetch / tcb-status CLI ${dir ? "" : VECTORS_SKIP_REASON}`, () => {
  const work = mkdtempSync(join(tmpdir(), "tdx-cli-collateral-"));
  const cases = {
    upToDate: "dcapqvl_tdx_v4_b0c06f_2025-06",
    outOfDate: "automata_tdx_v4_00806f05_2025-06",
  };
  const loaded: Record<string, { quotePath: string; collateral: Collateral; at: number; pcs: FakePcs }> = {};

  beforeAll(async () => {
    for (const [k, name] of Object.entries(cases)) {
      const d = join(dir as string, "cases", name);
      const collateral = readCollateral(readFileSync(join(d, "collateral.json"), "utf8"));
      const at = (JSON.parse(readFileSync(join(d, "expected.json"), "utf8")) as { at: number }).at;
      loaded[k] = {
        quotePath: join(d, "quote.bin"),
        collateral,
        at,
        pcs: await new FakePcs(collateral).start(),
      };
    }
  });
  afterAll(async () => {
    for (const v of Object.values(loaded)) await v.pcs.stop();
    rmSync(work, { recursive: true, force: true });
  });
  afterEach(() => {
    process.exitCode = undefined;
  });

  it("collateral fetch writes a bundle that reads back and verifies like the vector's", async () => {
    const v = loaded.upToDate!;
    const out = join(work, "bundle.json");
    const r = await run([
      "collateral",
      "fetch",
      v.quotePath,
      "--pccs",
      await deadUrl(),
      "--pccs",
      v.pcs.url,
      "-o",
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote .*bundle\.json: TDX FMSPC B0C06F000000 \(platform CA\)/);
    expect(r.stderr).toMatch(/fetching TCB Info for FMSPC B0C06F000000/);
    const bundle = readCollateral(readFileSync(out, "utf8"));
    expect(writeCollateral(bundle)).toBe(writeCollateral(v.collateral));
    const quote = new Uint8Array(readFileSync(v.quotePath));
    const result = verifyQuote(quote, bundle, { now: v.at });
    expect(result.ok).toBe(true);
    expect(result.tcbStatus).toBe("UpToDate");
  });

  it("collateral fetch reports an unreachable service with exit 2 and a hint", async () => {
    const r = await run([
      "collateral",
      "fetch",
      loaded.upToDate!.quotePath,
      "--pccs",
      await deadUrl(),
      "-o",
      join(work, "x.json"),
      "-q",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error PCS_UNREACHABLE/);
    expect(r.stderr).toMatch(/hint: /);
    const missing = await run([
      "collateral",
      "fetch",
      loaded.upToDate!.quotePath,
      "-o",
      join(work, "y.json"),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/USAGE_PCCS_MISSING/);
  });

  it("tcb-status --json: standard and early verdicts and the collateral's end of validity", async () => {
    const v = loaded.upToDate!;
    const r = await run([
      "tcb-status",
      v.quotePath,
      "--pccs",
      v.pcs.url,
      "--at",
      String(v.at),
      "--json",
      "-q",
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.platform).toEqual({ tee: "tdx", fmspc: "B0C06F000000", caType: "platform" });
    expect(j.standard).toMatchObject({ ok: true, tcbStatus: "UpToDate", tcbDate: "2024-03-13T00:00:00Z" });
    expect(j.early).toMatchObject({ ok: true, tcbStatus: "UpToDate" });
    expect(Date.parse(j.collateralValidUntil.at)).toBeGreaterThan(v.at * 1000);
    expect(v.pcs.requests.some((q) => q.includes("update=early"))).toBe(true);
  });

  it("tcb-status exits 1 for an OutOfDate platform, and 2 under a foreign trust root", async () => {
    const v = loaded.outOfDate!;
    const r = await run([
      "tcb-status",
      v.quotePath,
      "--pccs",
      v.pcs.url,
      "--at",
      new Date(v.at * 1000).toISOString(),
      "-q",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /standard TCB data #17: +OutOfDate, TCB date 2023-08-09, advisories INTEL-SA-00960/,
    );
    expect(r.stdout).toMatch(/collateral valid until /);
    // Trusting some other root (here: the TCB signing chain's leaf) must fail the chain.
    const other = join(work, "other-root.pem");
    writeFileSync(
      other,
      v.collateral.tcbInfoIssuerChain.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n",
    );
    const bad = await run([
      "tcb-status",
      v.quotePath,
      "--pccs",
      v.pcs.url,
      "--at",
      String(v.at),
      "--trust-root",
      other,
      "--json",
      "-q",
    ]);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).standard.ok).toBe(false);
  });
});
