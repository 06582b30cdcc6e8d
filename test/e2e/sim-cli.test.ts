import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseQuote, parseTdReport } from "../../src/abi/index.js";
import { readCollateral } from "../../src/collateral/index.js";
import { verifyQuote } from "../../src/verify/index.js";
import { runCliInProcess } from "../helpers/cli.js";

/** Run the CLI in-process; returns the exit code and what it printed. */
const cli = (...args: string[]) => runCliInProcess(args);

let dir: string;
let state: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sim-cli-"));
  state = join(dir, "state");
  const r = await cli("sim", "init", "--state", state, "--scenario", "sw-hardening-needed");
  expect(r.code).toBe(0);
});
afterEach(() => {
  process.exitCode = undefined;
});

describe("tdx-attest sim / demo", () => {
  it("init prints the trust anchor and the expected verdict", async () => {
    const r = await cli("sim", "init", "--state", join(dir, "other"), "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.scenario).toBe("up-to-date");
    expect(j.expected.tcbStatus).toBe("UpToDate");
  });

  it("report, quote --version 5 and collateral produce files that verify with DIR/root-ca.pem", async () => {
    const rd = "00112233";
    expect(
      (await cli("sim", "report", "--state", state, "--report-data", rd, "--out", join(dir, "r.bin"))).code,
    ).toBe(0);
    const report = parseTdReport(new Uint8Array(readFileSync(join(dir, "r.bin"))));
    expect(Buffer.from(report.reportMacStruct.reportData.subarray(0, 4)).toString("hex")).toBe(rd);
    const q = await cli(
      "sim",
      "quote",
      "--state",
      state,
      "--report-data",
      rd,
      "--version",
      "5",
      "--out",
      join(dir, "q.bin"),
    );
    expect(q.code).toBe(0);
    const quote = new Uint8Array(readFileSync(join(dir, "q.bin")));
    expect(parseQuote(quote).header.version).toBe(5);
    expect((await cli("sim", "collateral", "--state", state, "--out", join(dir, "c.json"))).code).toBe(0);
    const collateral = readCollateral(readFileSync(join(dir, "c.json"), "utf8"));
    const root = readFileSync(join(state, "root-ca.pem"), "utf8");
    const v = verifyQuote(quote, collateral, { now: new Date(), trustAnchors: [root] });
    expect(v.tcbStatus).toBe("SWHardeningNeeded");
  });

  it("quote without --out prints hex; bad report data is a coded error", async () => {
    const q = await cli("sim", "quote", "--state", state, "--report-data", "ff");
    expect(q.out.trim()).toMatch(/^0400020081000000/);
    const j = JSON.parse(
      (await cli("sim", "quote", "--sim-state", state, "--report-data", "ff", "--json")).out,
    );
    expect([j.version, j.size, j.reportData.slice(0, 4)]).toEqual([4, j.quote.length / 2, "ff00"]);
    const r = JSON.parse(
      (await cli("sim", "report", "--sim-state", state, "--report-data", "ff", "--json")).out,
    );
    expect([r.size, r.out]).toEqual([1024, null]);
    const bad = await cli("sim", "quote", "--state", state, "--report-data", "xyz");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("HEX_OPTION_NOT_HEX");
    const long = await cli("sim", "quote", "--state", state, "--report-data", "00".repeat(65));
    expect(long.code).toBe(2);
    expect(long.err).toContain("SIM_REPORT_DATA_INVALID");
    const missing = await cli("sim", "report", "--state", join(dir, "none"), "--report-data", "00");
    expect(missing.err).toContain("SIM_STATE_MISSING");
  });

  it("extend changes RTMRs in later quotes", async () => {
    const r = await cli("sim", "extend", "--state", state, "--rtmr", "2", "--data", "hello");
    expect(r.out).toMatch(/^RTMR2 = [0-9a-f]{96}/);
  });

  it("scenarios lists every scenario with its verdict", async () => {
    const r = await cli("sim", "scenarios", "--json");
    const rows = JSON.parse(r.out) as Array<{ scenario: string }>;
    expect(rows.map((x) => x.scenario)).toContain("qe-out-of-date");
  });

  it("a TD-preserving-updated platform: sim quote defaults to v5 / TD 1.5, refuses --version 4", async () => {
    const relaunch = join(dir, "relaunch");
    const init = await cli("sim", "init", "--state", relaunch, "--scenario", "td-relaunch-advised", "--json");
    expect(init.code).toBe(0);
    const j = JSON.parse(init.out);
    expect(j.teeTcbSvn.slice(0, 4)).toBe("0401");
    expect(j.teeTcbSvn2.slice(0, 4)).toBe("0601");
    expect(j.expected.tcbStatus).toBe("TDRelaunchAdvised");
    const q = await cli(
      "sim",
      "quote",
      "--state",
      relaunch,
      "--report-data",
      "aa",
      "--out",
      join(dir, "rq.bin"),
    );
    expect(q.code).toBe(0);
    const quote = new Uint8Array(readFileSync(join(dir, "rq.bin")));
    expect([parseQuote(quote).header.version, parseQuote(quote).body.type]).toEqual([5, 3]);
    expect((await cli("sim", "collateral", "--state", relaunch, "--out", join(dir, "rc.json"))).code).toBe(0);
    const collateral = readCollateral(readFileSync(join(dir, "rc.json"), "utf8"));
    const root = readFileSync(join(relaunch, "root-ca.pem"), "utf8");
    expect(verifyQuote(quote, collateral, { now: new Date(), trustAnchors: [root] }).tcbStatus).toBe(
      "TDRelaunchAdvised",
    );
    const v4 = await cli("sim", "quote", "--state", relaunch, "--report-data", "aa", "--version", "4");
    expect(v4.code).toBe(2);
    expect(v4.err).toContain("SIM_QUOTE_VERSION");
  });

  it.each(["up-to-date", "revoked-pck", "expired-collateral", "td-relaunch-advised-configuration-needed"])(
    "demo --scenario %s reaches the expected verdict",
    async (s) => {
      const r = await cli("demo", "--scenario", s, "--json");
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out);
      expect(j.matchesExpected).toBe(true);
    },
  );

  it("demo prints each step readably", async () => {
    const r = await cli("demo");
    expect(r.out).toContain("1. Creating a simulated TDX platform");
    expect(r.out).toContain("verified: TCB status UpToDate");
  });
});
