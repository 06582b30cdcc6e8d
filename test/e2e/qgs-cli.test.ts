/**
 * The QGS as a separate process (`tdx-attest qgs serve`), reached by the guest CLI (`tdx-attest quote
 * --provider sim --qgs unix:...`) and by `tdx-attest qgs quote`; the quotes verify against the simulated root.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseQuote, toHex } from "../../src/abi/index.js";
import { initSimPlatform, loadSimPlatform, rtmrExtend } from "../../src/sim/index.js";
import { verifyQuote } from "../../src/verify/index.js";
import { cliPath, runCli } from "../helpers/cli.js";

let dir: string;
let state: string;
let sock: string;
let server: ChildProcess;
let serverOut = "";
let serverErr = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "qgs-e2e-"));
  state = join(dir, "sim");
  sock = join(dir, "qgs.socket");
  await initSimPlatform(state);
  server = spawn(process.execPath, [cliPath, "qgs", "serve", "--state", state, "--listen", `unix:${sock}`]);
  server.stderr?.on("data", (c: Buffer) => {
    serverErr += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    server.stdout?.on("data", (c: Buffer) => {
      serverOut += c.toString();
      if (serverOut.includes("qgs listening on")) resolve();
    });
    server.once("exit", (code) => reject(new Error(`qgs serve exited with ${code}: ${serverErr}`)));
  });
});
afterAll(() => {
  if (server.exitCode === null) server.kill("SIGKILL");
});

describe("tdx-attest qgs serve + guest CLI", () => {
  it("announces where it listens and what backs it", () => {
    expect(serverOut).toContain(`qgs listening on unix:${sock} (simulated TDQE`);
  });

  it("quote --provider sim --qgs: REPORTDATA is SHA-512 of the nonce and the quote verifies", async () => {
    const nonce = Buffer.from("the verifier's nonce");
    const out = join(dir, "q.bin");
    const r = runCli([
      "quote",
      "--provider",
      "sim",
      "--sim-state",
      state,
      "--qgs",
      `unix:${sock}`,
      "--nonce",
      nonce.toString("base64"),
      "--out",
      out,
    ]);
    expect(r.stderr).toContain("provider: sim");
    expect(r.status).toBe(0);
    const quote = new Uint8Array(readFileSync(out));
    const q = parseQuote(quote);
    expect(toHex(q.body.report.reportData)).toBe(createHash("sha512").update(nonce).digest("hex"));
    const platform = await loadSimPlatform(state);
    const v = verifyQuote(quote, await platform.collateral(), {
      now: new Date(),
      trustAnchors: [platform.rootCaPem],
    });
    expect(v.ok).toBe(true);
    expect(serverErr).toMatch(/quote framed \d+ bytes/);
  });

  it("report --out then qgs quote, framed and bare, give quotes over the same REPORTDATA", () => {
    const report = join(dir, "r.bin");
    expect(
      runCli([
        "report",
        "--provider",
        "sim",
        "--sim-state",
        state,
        "--report-data",
        "c0ffee",
        "--out",
        report,
      ]).status,
    ).toBe(0);
    for (const extra of [[], ["--bare"]]) {
      const out = join(dir, `q${extra.length}.bin`);
      const r = runCli([
        "qgs",
        "quote",
        "--connect",
        `unix:${sock}`,
        "--report",
        report,
        "--out",
        out,
        ...extra,
      ]);
      expect(r.status).toBe(0);
      const q = parseQuote(new Uint8Array(readFileSync(out)));
      expect(toHex(q.body.report.reportData).slice(0, 6)).toBe("c0ffee");
    }
  });

  it("extend records the event, and the next quote carries the extended RTMR3", async () => {
    const before = (await loadSimPlatform(state)).tdState.rtmr[3].slice();
    const e = runCli([
      "extend",
      "--provider",
      "sim",
      "--sim-state",
      state,
      "--rtmr",
      "3",
      "--event",
      "app.config",
      "--data",
      "mode=prod",
      "--json",
    ]);
    expect(e.status).toBe(0);
    const entry = JSON.parse(e.stdout);
    expect(entry.log).toBe(join(state, "runtime-log.json"));
    const expected = rtmrExtend(before, Buffer.from(entry.entry.digest, "hex"));
    const log = JSON.parse(readFileSync(entry.log, "utf8"));
    expect(log.events.at(-1).event).toBe("app.config");
    const q = runCli(["quote", "--provider", "sim", "--sim-state", state, "--qgs", `unix:${sock}`, "--json"]);
    const quote = parseQuote(new Uint8Array(Buffer.from(JSON.parse(q.stdout).quote, "hex")));
    if (quote.body.kind === "sgx") throw new Error("expected a TD quote");
    expect(toHex(quote.body.report.rtmr[3])).toBe(toHex(expected));
  });

  it("status --json names the choice; bad flags are coded errors with exit 2", () => {
    const s = runCli(["status", "--json", "--sim-state", state]);
    expect(s.status).toBe(0);
    const j = JSON.parse(s.stdout);
    expect(j.auto.chosen).toBe("sim");
    expect(j.providers.map((p: { name: string }) => p.name)).toEqual([
      "configfs",
      "device",
      "legacy",
      "qgs",
      "sim",
    ]);
    const both = runCli([
      "quote",
      "--provider",
      "sim",
      "--sim-state",
      state,
      "--nonce",
      "AA==",
      "--report-data",
      "00",
    ]);
    expect([both.status, both.stderr]).toEqual([2, expect.stringContaining("GUEST_REPORT_DATA_CONFLICT")]);
    const unreachable = runCli([
      "quote",
      "--provider",
      "sim",
      "--sim-state",
      state,
      "--qgs",
      `unix:${sock}.x`,
    ]);
    expect(unreachable.stderr).toContain("QGS_UNREACHABLE");
  });

  it("stops cleanly on SIGTERM and reports what it served", async () => {
    const exited = new Promise<number | null>((r) => server.once("exit", (code) => r(code)));
    server.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(serverErr).toMatch(/qgs stopped: \d+ connections, \d+ quotes/);
  });
});
