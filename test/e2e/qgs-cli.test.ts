/**
 * The QGS as a separate process (`tdx-attest qgs serve`), reached by the guest CLI (`tdx-attest quote
 * --provider sim --qgs unix:...`) and by `tdx-attest qgs quote|collateral|platform-info`; the quotes verify
 * against the simulated root, with the collateral fetched over the QGS itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseQuote, toHex } from "../../src/abi/index.js";
import { encodeFrame, encodeQgsHeader } from "../../src/qgs/index.js";
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
/** Waits for the server's stderr to show `pattern` (spawnSync runs of the CLI hold the event loop meanwhile). */
async function logged(pattern: RegExp | string): Promise<string> {
  const seen = () => (typeof pattern === "string" ? serverErr.includes(pattern) : pattern.test(serverErr));
  for (let i = 0; i < 100 && !seen(); i++) await new Promise((r) => setTimeout(r, 50));
  return serverErr;
}

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
      "az-tdx-vtpm",
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

  it("qgs collateral writes collateral JSON with which `verify --collateral` accepts the platform's quote", async () => {
    const quotePath = join(dir, "q.bin");
    const collateralPath = join(dir, "qgs-collateral.json");
    const c = runCli([
      "qgs",
      "collateral",
      "--qgs",
      `unix:${sock}`,
      "--fmspc",
      "90c06f000000",
      "--ca",
      "platform",
      "--out",
      collateralPath,
    ]);
    expect([c.status, c.stderr]).toEqual([
      0,
      `wrote ${collateralPath}: collateral of FMSPC 90C06F000000 (platform CA), version 4.0, from unix:${sock}\n`,
    ]);
    const rootPem = join(state, "root-ca.pem");
    const v = runCli([
      "verify",
      quotePath,
      "--collateral",
      collateralPath,
      "--trust-root",
      rootPem,
      "--json",
    ]);
    const result = JSON.parse(v.stdout);
    expect([v.status, result.ok, result.tcbStatus, result.error]).toEqual([0, true, "UpToDate", null]);
    // Intel's root stays the only default anchor: without --trust-root the same files do not verify
    const untrusted = runCli(["verify", quotePath, "--collateral", collateralPath, "--json"]);
    expect([untrusted.status, JSON.parse(untrusted.stdout).verified]).toEqual([2, false]);
    // without --out the JSON goes to stdout
    const stdout = runCli([
      "qgs",
      "collateral",
      "--qgs",
      `unix:${sock}`,
      "--fmspc",
      "90C06F000000",
      "--ca",
      "platform",
    ]);
    expect(Object.keys(JSON.parse(stdout.stdout))).toContain("tcb_info");
    const log = /collateral FMSPC 90C06F000000 \(platform CA\) \d+ bytes/;
    expect(await logged(log)).toMatch(log);
  });

  it("qgs collateral: an FMSPC the QGS has no collateral for, bad flags, an unreachable QGS", async () => {
    const unknown = runCli([
      "qgs",
      "collateral",
      "--qgs",
      `unix:${sock}`,
      "--fmspc",
      "00906ED50000",
      "--ca",
      "platform",
    ]);
    expect([unknown.status, unknown.stdout]).toEqual([2, ""]);
    expect(unknown.stderr).toContain("error QGS_UNEXPECTED: QGS answered GET_COLLATERAL with error 0x12001");
    const log = "refused framed: QGS_NO_COLLATERAL: no collateral for FMSPC 00906ED50000 (platform CA)";
    expect(await logged(log)).toContain(log);
    const badFmspc = runCli([
      "qgs",
      "collateral",
      "--qgs",
      `unix:${sock}`,
      "--fmspc",
      "90C06F",
      "--ca",
      "platform",
    ]);
    expect([badFmspc.status, badFmspc.stderr]).toEqual([2, expect.stringContaining("QGS_BAD_FMSPC")]);
    const badCa = runCli([
      "qgs",
      "collateral",
      "--qgs",
      `unix:${sock}`,
      "--fmspc",
      "90C06F000000",
      "--ca",
      "root",
    ]);
    expect([badCa.status, badCa.stderr]).toEqual([
      2,
      expect.stringContaining("Allowed choices are platform, processor"),
    ]);
    const gone = runCli([
      "qgs",
      "collateral",
      "--qgs",
      `unix:${sock}.x`,
      "--fmspc",
      "90C06F000000",
      "--ca",
      "platform",
    ]);
    expect([gone.status, gone.stderr]).toEqual([2, expect.stringContaining("QGS_UNREACHABLE")]);
  });

  it("qgs platform-info reports the QE ID, ISVSVNs and CPUSVN the platform's quotes carry", async () => {
    const r = runCli(["qgs", "platform-info", "--qgs", `unix:${sock}`, "--json"]);
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    const q = parseQuote(new Uint8Array(readFileSync(join(dir, "q.bin"))));
    const qe = q.signatureData.qeReportCertificationData?.qeReport;
    const platform = await loadSimPlatform(state);
    expect(info).toEqual({
      ok: true,
      qgs: `unix:${sock}`,
      tdqeIsvSvn: qe?.isvSvn,
      pceIsvSvn: platform.tcb.pceSvn,
      platformId: toHex(q.header.userData.subarray(0, 16)),
      cpuSvn: toHex(qe?.cpuSvn ?? new Uint8Array(0)),
    });
    const text = runCli(["qgs", "platform-info", "--qgs", `unix:${sock}`]);
    expect(text.stdout).toContain(`platform id  ${info.platformId} (QE ID)`);
    expect(await logged(/platform info in \d+ ms/)).toMatch(/platform info in \d+ ms/);
  });

  it("logs a request type it does not serve and closes without an answer", async () => {
    const message = encodeQgsHeader({ majorVersion: 1, minorVersion: 1, type: 7, size: 16, errorCode: 0 });
    const received = await new Promise<number>((resolve, reject) => {
      const s = net.connect(sock);
      let n = 0;
      s.on("data", (c) => {
        n += c.length;
      });
      s.on("close", () => resolve(n));
      s.on("error", reject);
      s.write(encodeFrame(message));
    });
    expect(received).toBe(0);
    const log = "refused framed: QGS_UNSUPPORTED_TYPE: message type 7 (major version 1)";
    expect(await logged(log)).toContain(log);
  });

  it("qgs quote takes --qgs like the other qgs commands (--connect still works)", () => {
    const report = join(dir, "r.bin");
    const r = runCli(["qgs", "quote", "--qgs", `unix:${sock}`, "--report", report]);
    expect([r.status, r.stdout.trim().length > 0]).toEqual([0, true]);
    const none = runCli(["qgs", "quote", "--report", report]);
    expect([none.status, none.stderr]).toEqual([2, expect.stringContaining("QGS_NO_ADDRESS")]);
  });

  it("stops cleanly on SIGTERM and reports what it served", async () => {
    const exited = new Promise<number | null>((r) => server.once("exit", (code) => r(code)));
    server.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(serverErr).toMatch(
      /qgs stopped: \d+ connections, \d+ quotes, [1-9]\d* collateral, [1-9]\d* platform info, [1-9]\d* refused/,
    );
  });
});
