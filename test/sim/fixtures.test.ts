import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseQuote, parseTdReport } from "../../src/abi/index.js";
import { readCollateral } from "../../src/collateral/index.js";
import { createSimPlatform, expectationFor, type ScenarioName } from "../../src/sim/index.js";
import { verifyQuote } from "../../src/verify/index.js";
import { projectRoot } from "../helpers/vectors.js";

/**
 * Committed simulated vectors under test/fixtures/sim/<scenario>/ (quote-v4.bin, quote-v5.bin,
 * tdreport.bin, collateral.json, root-ca.pem, expected.json with the time `at` they verify at), for tests
 * of other areas. Regenerate with `SIM_FIXTURES_REGENERATE=1 npx vitest run test/sim/fixtures.test.ts`.
 */

const FIXTURES = join(projectRoot, "test", "fixtures", "sim");
const SCENARIOS: ScenarioName[] = ["up-to-date", "out-of-date"];

async function generate(scenario: ScenarioName): Promise<void> {
  const dir = join(FIXTURES, scenario);
  mkdirSync(dir, { recursive: true });
  const now = new Date();
  const p = await createSimPlatform({ scenario, now });
  const reportData = new Uint8Array(64);
  reportData.set(Buffer.from(`tdx-attest sim fixture ${scenario}`, "utf8"));
  p.extendRtmr(2, new Uint8Array(48).fill(0x22));
  const report = p.report(reportData);
  writeFileSync(join(dir, "tdreport.bin"), report);
  writeFileSync(join(dir, "quote-v4.bin"), p.quoteFromTdReport(report, { version: 4 }));
  writeFileSync(join(dir, "quote-v5.bin"), p.quoteFromTdReport(report, { version: 5 }));
  writeFileSync(join(dir, "collateral.json"), await p.collateralJson({ now }));
  writeFileSync(join(dir, "root-ca.pem"), p.rootCaPem);
  const at = Math.floor(now.getTime() / 1000);
  const expected = {
    scenario,
    at,
    atIso: new Date(at * 1000).toISOString(),
    expect: expectationFor(scenario),
  };
  writeFileSync(join(dir, "expected.json"), `${JSON.stringify(expected, null, 2)}\n`);
}

describe("committed simulated fixtures", () => {
  it.skipIf(process.env.SIM_FIXTURES_REGENERATE !== "1")("regenerate", async () => {
    for (const s of SCENARIOS) await generate(s);
  });

  it.each(SCENARIOS)(
    "%s: quotes verify at `at` with the fixture root and give the expected verdict",
    (scenario) => {
      const dir = join(FIXTURES, scenario);
      expect(existsSync(dir), `${dir} missing: regenerate the fixtures`).toBe(true);
      const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8"));
      const collateral = readCollateral(readFileSync(join(dir, "collateral.json"), "utf8"));
      const root = readFileSync(join(dir, "root-ca.pem"), "utf8");
      const report = parseTdReport(new Uint8Array(readFileSync(join(dir, "tdreport.bin"))));
      for (const v of [4, 5]) {
        const quote = new Uint8Array(readFileSync(join(dir, `quote-v${v}.bin`)));
        const q = parseQuote(quote);
        if (q.body.kind === "sgx") throw new Error("unexpected SGX body");
        expect(q.body.report.reportData).toEqual(report.reportMacStruct.reportData);
        const r = verifyQuote(quote, collateral, { now: expected.at, trustAnchors: [root] });
        expect(r.tcbStatus).toBe(expected.expect.tcbStatus);
        expect(r.collateralExpired).toBe(false);
      }
    },
  );
});
