import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAzTdxVtpmEvidence, parseTpmsAttest, toHex } from "../../src/abi/index.js";
import { runCli, runCliInProcess } from "../helpers/cli.js";

/**
 * The Azure flow through the CLI on a simulated Azure TD (`sim init --platform azure`), across processes as on a
 * VM: status finds it, auto picks it, `evidence` collects az-tdx-vtpm evidence through the vTPM's raw TPM 2.0
 * commands, `verify --tee az-tdx-vtpm` accepts it with the simulated root only.
 */
describe("az-tdx-vtpm on a simulated Azure TD through the CLI", () => {
  let dir: string;
  let state: string;
  let tdxState: string;
  const cli = (...args: string[]) => runCliInProcess(args);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "azure-cli-"));
    state = join(dir, "az");
    tdxState = join(dir, "tdx");
    const init = await cli("sim", "init", "--state", state, "--platform", "azure", "--json");
    expect(init.code).toBe(0);
    const j = JSON.parse(init.out);
    expect(j).toMatchObject({
      platform: "azure",
      azure: { akName: expect.stringMatching(/^000b[0-9a-f]{64}$/) },
    });
    expect((await cli("sim", "init", "--state", tdxState)).code).toBe(0);
    expect((await cli("sim", "collateral", "--state", state, "--out", join(dir, "coll.json"))).code).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("status (another process) names the simulated Azure TD, picks it, and shows its PCRs", () => {
    const s = runCli(["status", "--sim-state", state, "--json"]);
    expect(s.status).toBe(0);
    const j = JSON.parse(s.stdout);
    expect(j.auto.chosen).toBe("sim");
    expect(j.auto.reason).toMatch(/simulated Azure TDX confidential VM/);
    expect(j.providers.find((p: { name: string }) => p.name === "sim")).toMatchObject({
      tee: "az-tdx-vtpm",
      available: true,
    });
    expect(Object.keys(j.pcrs)).toHaveLength(24);
    expect(j.pcrs.pcr17).toBe("ff".repeat(32));
    expect(j.measurements.rtmr).toEqual(Array(4).fill("00".repeat(48)));
    const human = runCli(["status", "--sim-state", state]);
    expect(human.stdout).toMatch(/\+ sim +simulated Azure TDX confidential VM/);
    expect(human.stdout).toMatch(/- az-tdx-vtpm +no TPM device/);
    expect(human.stdout).toMatch(/vTPM PCRs \(SHA-256\):\n {2}PCR00 {2}[0-9a-f]{64}/);
  });

  it("evidence (another process) verifies with verify --tee az-tdx-vtpm and the sim root, and only with it", () => {
    const ev = join(dir, "evidence.json");
    const e = runCli(["evidence", "--sim-state", state, "--nonce", "challenge", "--out", ev]);
    expect([e.status, e.stderr]).toEqual([
      0,
      expect.stringMatching(/provider: sim \(auto\): simulated Azure TDX/),
    ]);
    expect(e.stderr).toMatch(/wrote az-tdx-vtpm evidence v2 to /);
    expect(e.stdout).toBe("");
    const parsed = parseAzTdxVtpmEvidence(readFileSync(ev, "utf8"));
    expect(new TextDecoder().decode(parseTpmsAttest(parsed.tpmQuote.message).extraData)).toBe("challenge");
    const base = ["verify", ev, "--tee", "az-tdx-vtpm", "--collateral", join(dir, "coll.json"), "--json"];
    const v = runCli([...base, "--trust-root", join(state, "root-ca.pem"), "--nonce", "challenge"]);
    expect(v.status).toBe(0);
    const vj = JSON.parse(v.stdout);
    expect(vj).toMatchObject({
      ok: true,
      tee: "az-tdx-vtpm",
      evidenceVersion: 2,
      nonce: toHex(new TextEncoder().encode("challenge")),
    });
    expect(Object.keys(vj.pcrs)).toHaveLength(24);
    // Intel's root is the only default anchor; another nonce is a replay.
    expect(runCli([...base, "--nonce", "challenge"]).status).toBe(2);
    expect(runCli([...base, "--trust-root", join(state, "root-ca.pem"), "--nonce", "other"]).status).toBe(2);
  });

  it("evidence --json inlines the evidence; --evidence-version and --nonce-hex; bad flags are coded errors", async () => {
    const r = await cli(
      "evidence",
      "--provider",
      "sim",
      "--sim-state",
      state,
      "--nonce-hex",
      "00ff".repeat(24),
      "--evidence-version",
      "1",
      "--json",
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      ok: true,
      tee: "az-tdx-vtpm",
      evidenceVersion: 1,
      reportData: "00ff".repeat(24),
      provider: { name: "sim", tee: "az-tdx-vtpm", simulated: true },
      tdQuote: { version: 4 },
      tpmQuote: { extraData: "00ff".repeat(24) },
    });
    expect(parseAzTdxVtpmEvidence(j.evidence).version).toBe(1);
    const plain = await cli("evidence", "--sim-state", state, "--nonce", "n");
    expect(parseAzTdxVtpmEvidence(plain.out.trim()).version).toBe(2);

    const cases: [string[], string][] = [
      [["evidence", "--sim-state", state], "GUEST_BAD_NONCE"],
      [["evidence", "--sim-state", state, "--nonce", "a", "--nonce-hex", "00"], "GUEST_REPORT_DATA_CONFLICT"],
      [["evidence", "--sim-state", state, "--nonce", "x".repeat(65)], "GUEST_REPORT_DATA_SIZE"],
      [
        ["evidence", "--sim-state", state, "--nonce", "a", "--evidence-version", "3"],
        "GUEST_EVIDENCE_VERSION",
      ],
      [["evidence", "--sim-state", state, "--nonce", "a", "--tee", "tdx"], "GUEST_UNKNOWN_TEE"],
      [["evidence", "--sim-state", tdxState, "--nonce", "a"], "GUEST_EVIDENCE_UNSUPPORTED"],
      [
        ["quote", "--provider", "sim", "--sim-state", state, "--report-data", "01"],
        "GUEST_REPORTDATA_OWNED_BY_PARAVISOR",
      ],
      [["report", "--provider", "sim", "--sim-state", state], "GUEST_REPORTDATA_OWNED_BY_PARAVISOR"],
      [
        ["evidence", "--provider", "az-tdx-vtpm", "--nonce", "a", "--tpm-device", join(dir, "no-tpm")],
        "GUEST_TPM_MISSING",
      ],
    ];
    for (const [args, code] of cases) {
      const x = await cli(...args);
      expect([args.join(" "), x.code, x.err]).toEqual([args.join(" "), 2, expect.stringContaining(code)]);
    }
  });

  it("extend is refused before the runtime log is touched (the paravisor owns the RTMRs)", async () => {
    const log = join(dir, "run", "runtime-log.json");
    const r = await cli(
      "extend",
      "--provider",
      "sim",
      "--sim-state",
      state,
      "--rtmr",
      "3",
      "--event",
      "app",
      "--data",
      "x",
      "--log",
      log,
    );
    expect([r.code, r.err]).toEqual([2, expect.stringContaining("GUEST_EXTEND_UNSUPPORTED")]);
    // Not even its directory or lock: the refusal comes before appendRuntimeEvent.
    expect(existsSync(join(dir, "run"))).toBe(false);
  });

  it("demo --platform azure runs the flow in one process and matches the scenario's verdict", async () => {
    const r = await cli("demo", "--platform", "azure", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      platform: "azure",
      evidenceVersion: 2,
      akBinding: { equal: true },
      tdQuote: { version: 4 },
      verdict: { ok: true, tcbStatus: "UpToDate", error: null },
      matchesExpected: true,
    });
    expect(Object.keys(j.pcrs)).toHaveLength(24);
    expect(j.checks.map((c: { name: string }) => c.name)).toEqual(
      expect.arrayContaining([
        "hcl.varData.hash",
        "hcl.akPub",
        "tpm.signature",
        "tpm.nonce",
        "hcl.userData",
        "tpm.pcrDigest",
      ]),
    );
    const human = await cli(
      "demo",
      "--platform",
      "azure",
      "--scenario",
      "out-of-date",
      "--evidence-version",
      "1",
    );
    expect(human.code).toBe(0);
    for (const step of [
      /1\. Creating a simulated TDX platform \(scenario out-of-date\) and an Azure-like paravisor/,
      /HCL report: signature HCLA, version 2, report type TDX, hash SHA-256/,
      /3\. AK binding/,
      /4\. IMDS: POST/,
      /5\. TPM2_Quote with the AK over SHA-256 PCRs 0\.\.23/,
      /PCR23 [0-9a-f]{64}/,
      /verified: TCB status OutOfDate/,
      /matches the verdict Intel's rules give for this scenario \(OutOfDate\)/,
    ])
      expect(human.out).toMatch(step);
    expect(human.out).not.toMatch(/hcl\.userData/); // v1 has no user-data binding
    // Without the flag the demo is the TDX one, unchanged.
    const tdx = await cli("demo", "--json");
    expect(JSON.parse(tdx.out)).toMatchObject({ quoteSize: expect.any(Number), matchesExpected: true });
    expect((await cli("demo", "--platform", "azure", "--version", "4")).err).toContain("SIM_QUOTE_VERSION");
    expect((await cli("demo", "--platform", "gcp")).err).toContain("SIM_PLATFORM");
    // Azure binds init-data through PCR 8, not MRCONFIGID: refused before anything is written.
    const initData = await cli(
      "sim",
      "init",
      "--state",
      join(dir, "az-init"),
      "--platform",
      "azure",
      "--init-data",
      join(dir, "coll.json"),
    );
    expect([initData.code, initData.err]).toEqual([2, expect.stringContaining("SIM_PLATFORM")]);
    expect(existsSync(join(dir, "az-init"))).toBe(false);
  });

  it("--help explains the commands", async () => {
    const e = runCli(["evidence", "--help"]);
    expect(e.stdout).toMatch(/az-tdx-vtpm/);
    expect(e.stdout).toMatch(/NV 0x01400002/);
    expect(e.stdout).toMatch(/--nonce-hex/);
    expect(runCli(["demo", "--help"]).stdout).toMatch(/--platform <kind>/);
    expect(runCli(["sim", "init", "--help"]).stdout).toMatch(/--platform <kind>/);
    expect(runCli(["quote", "--help"]).stdout).toMatch(/az-tdx-vtpm/);
  });
});
