import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN_ENV as CLI_ADMIN_TOKEN_ENV } from "../../src/cli/commands/kbs.js";
import {
  dependencyMissing,
  importWith,
  isInstalled,
  requireOptional,
  requirePackages,
} from "../../src/optional.js";
import { ADMIN_TOKEN_ENV } from "../../src/server/serve.js";
import { INTEL_SGX_ROOT_CA_SHA256 } from "../../src/verify/index.js";
import { cliPath, runCli } from "../helpers/cli.js";

/**
 * The servers' start-up with --json: one JSON object, the first line on stdout, instead of the banner.
 * Each server is spawned from the built CLI, its first line read and parsed, then it is stopped.
 */

const children: ChildProcess[] = [];
let dir: string;

beforeAll(() => {
  if (!existsSync(cliPath))
    throw new Error(`${cliPath} is missing: run "npm run build" first (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), "tdx-servers-json-"));
  const init = runCli(["sim", "init", "--sim-state", join(dir, "sim")]);
  expect(init.status, init.stderr).toBe(0);
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  /** The first line on stdout. */
  line: string;
  /** Everything printed so far, the first line excepted. */
  printed(): { stdout: string; stderr: string };
}

/** Spawn the CLI, resolve once its first stdout line is out; reject on early exit. */
function firstLine(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr?.on("data", (d) => {
    err += String(d);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line within 30 s; stderr: ${err}`)), 30_000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before a line; stdout: ${out} stderr: ${err}`));
    };
    child.on("exit", onExit);
    child.stdout?.on("data", (d) => {
      const had = out.includes("\n");
      out += String(d);
      const nl = out.indexOf("\n");
      if (!had && nl >= 0) {
        clearTimeout(timer);
        child.off("exit", onExit);
        const line = out.slice(0, nl);
        resolve({ child, line, printed: () => ({ stdout: out.slice(nl + 1), stderr: err }) });
      }
    });
  });
}

/** SIGTERM; the exit code and everything printed after the first line (the server must stop by itself). */
function stop(r: Running): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // "close", not "exit": the last lines may arrive after the process has exited.
    r.child.on("close", (code) => resolve({ code, ...r.printed() }));
    r.child.kill("SIGTERM");
  });
}

/** The CLI to its end, without blocking this process (a port it holds must keep answering). */
function runCliAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += String(d);
  });
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

const simRootSha = () =>
  new X509Certificate(readFileSync(join(dir, "sim", "root-ca.pem"))).fingerprint256
    .replace(/:/g, "")
    .toLowerCase();

describe("servers' start-up line (--json)", () => {
  it("serve: url, port, mode, database, both trusted roots named with their SHA-256, notices; the request log after it", async () => {
    const server = await firstLine([
      "serve",
      "--listen",
      "127.0.0.1:0",
      "--data",
      join(dir, "kbs"),
      "--sim-state",
      join(dir, "sim"),
      "--json",
    ]);
    const s = JSON.parse(server.line);
    expect(server.printed().stderr).toBe(""); // the banner's lines are in the object, not beside it
    expect(s).toMatchObject({
      server: "kbs",
      mode: "development",
      host: "127.0.0.1",
      database: { dialect: "sqlite", file: join(dir, "kbs", "kbs.db") },
      collateral: { source: "simulated", simState: join(dir, "sim") },
      explorer: true,
      metrics: true,
    });
    expect(s.port).toBeGreaterThan(0);
    expect(s.url).toBe(`http://127.0.0.1:${s.port}`);
    expect(s.trustRoots).toEqual([
      { name: "Intel's SGX Root CA", sha256: INTEL_SGX_ROOT_CA_SHA256, intel: true, simulated: false },
      {
        name: "CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US",
        sha256: simRootSha(),
        intel: false,
        simulated: true,
        file: join(dir, "sim", "root-ca.pem"),
      },
    ]);
    expect(s.notices.some((n: string) => n.includes("DEVELOPMENT DEFAULT"))).toBe(true);
    // It answers at that address.
    const res = await fetch(`${s.url}/kbs/v0/resource/default/disk/key`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    const end = await stop(server);
    expect(end.code).toBe(0);
    // The request log (pino, JSON) came after the start-up line; stopping is said as JSON too.
    const log = end.stdout;
    for (const l of log.split("\n").filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
    expect(log).toContain("Server listening at");
    expect(log).toContain("request completed");
    for (const l of end.stderr.split("\n").filter(Boolean)) expect(JSON.parse(l)).toHaveProperty("notice");
  });

  it("serve --json that cannot start: the error as JSON on stdout, what it said meanwhile as JSON notices", async () => {
    const holder = createServer();
    await new Promise<void>((done) => holder.listen(0, "127.0.0.1", done));
    const port = (holder.address() as AddressInfo).port;
    try {
      const r = await runCliAsync([
        "serve",
        "--listen",
        `127.0.0.1:${port}`,
        "--data",
        join(dir, "kbs3"),
        "--json",
      ]);
      expect(r.status).toBe(2);
      expect(JSON.parse(r.stdout).error.code).toBe("KBS_LISTEN_FAILED");
      const notices = r.stderr
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).notice);
      expect(notices.some((n) => n.startsWith("!! DEVELOPMENT DEFAULT"))).toBe(true);
    } finally {
      holder.close();
    }
  });

  it("serve without --json keeps the human banner on stderr", async () => {
    const server = await firstLine(["serve", "--listen", "127.0.0.1:0", "--data", join(dir, "kbs2")]);
    const end = await stop(server);
    // Without --json the first stdout line is the request log's; the banner went to stderr.
    expect(JSON.parse(server.line)).toHaveProperty("level");
    expect(end.stderr).toMatch(/^key broker \(development\) listening on http:\/\/127\.0\.0\.1:\d+/m);
  });

  it("pcs serve: url, port, the simulated platform's state, scenario and root", async () => {
    const server = await firstLine([
      "pcs",
      "serve",
      "--sim-state",
      join(dir, "sim"),
      "--listen",
      "127.0.0.1:0",
      "--json",
    ]);
    const s = JSON.parse(server.line);
    expect(s).toMatchObject({
      server: "pcs",
      host: "127.0.0.1",
      simState: join(dir, "sim"),
      scenario: "up-to-date",
      trustRoots: [
        { sha256: simRootSha(), intel: false, simulated: true, file: join(dir, "sim", "root-ca.pem") },
      ],
    });
    expect(s.url).toBe(`http://127.0.0.1:${s.port}`);
    const res = await fetch(`${s.url}/tdx/certification/v4/qe/identity`);
    expect(res.status).toBe(200);
    expect((await stop(server)).code).toBe(0); // the handlers were in place before the line was out
  });

  it("qgs serve: the address, the backend, the root; the closing counts as a JSON line", async () => {
    const server = await firstLine([
      "qgs",
      "serve",
      "--sim-state",
      join(dir, "sim"),
      "--listen",
      "tcp:127.0.0.1:0",
      "--json",
    ]);
    const s = JSON.parse(server.line);
    expect(s).toMatchObject({
      server: "qgs",
      kind: "tcp",
      host: "127.0.0.1",
      simState: join(dir, "sim"),
      scenario: "up-to-date",
      trustRoots: [{ sha256: simRootSha(), simulated: true }],
    });
    expect(s.address).toBe(`tcp:127.0.0.1:${s.port}`);
    expect(s.backend).toContain("simulated TDQE");
    const end = await stop(server);
    expect(end.code).toBe(0);
    expect(JSON.parse(end.stderr.trim().split("\n").pop() as string)).toMatchObject({
      stopped: true,
      connections: 0,
    });
  });

  it("explorer serve: url, port, where collateral comes from, the trusted root", async () => {
    const server = await firstLine(["explorer", "serve", "--listen", "127.0.0.1:0", "--json"]);
    const s = JSON.parse(server.line);
    expect(s).toMatchObject({
      server: "explorer",
      host: "127.0.0.1",
      collateral: { source: "page", urls: [] },
      trustRoots: [{ name: "Intel's SGX Root CA", sha256: INTEL_SGX_ROOT_CA_SHA256, intel: true }],
    });
    expect(s.url).toBe(`http://127.0.0.1:${s.port}/`);
    expect((await fetch(s.url)).status).toBe(200);
    expect((await stop(server)).code).toBe(0); // the handlers were in place before the line was out
  });

  it("every server command documents --json in its help", () => {
    for (const args of [["serve"], ["pcs", "serve"], ["qgs", "serve"], ["explorer", "serve"]]) {
      const r = runCli([...args, "--help"]);
      expect(r.stdout, args.join(" ")).toMatch(/--json\s+print the start-up as one JSON object/);
    }
  });
});

describe("optional packages (src/optional.ts)", () => {
  it("an absent package is DEPENDENCY_MISSING naming it, what needs it and the install command", () => {
    const name = "tdx-attest-no-such-package";
    expect(isInstalled(name)).toBe(false);
    expect(isInstalled("fastify")).toBe(true);
    let caught: unknown;
    try {
      requirePackages(["fastify", name, `${name}-2`], "tdx-attest serve");
    } catch (e) {
      caught = e;
    }
    expect(caught).toMatchObject({
      code: "DEPENDENCY_MISSING",
      message: `missing packages ${name}, ${name}-2 (needed by tdx-attest serve)`,
      field: name,
      data: { packages: [name, `${name}-2`] },
    });
    expect((caught as { hint: string }).hint).toMatch(new RegExp(`^npm install ${name} ${name}-2 `));
    expect(dependencyMissing(["pg"], "x").message).toBe("missing package pg (needed by x)");
  });

  it("a module whose graph needs an absent package is refused with its name", async () => {
    await expect(
      importWith([], "tdx-attest something", () => import("tdx-attest-no-such-package" as string)),
    ).rejects.toMatchObject({
      code: "DEPENDENCY_MISSING",
      data: { packages: ["tdx-attest-no-such-package"] },
    });
  });

  it("an installed package loads synchronously, once", () => {
    const a = requireOptional<{ Pool: unknown }>("pg");
    expect(typeof a.Pool).toBe("function");
    expect(requireOptional("pg")).toBe(a);
  });

  it("the CLI's admin-token variable is the server's (the admin commands do not load the server for it)", () => {
    expect(CLI_ADMIN_TOKEN_ENV).toBe(ADMIN_TOKEN_ENV);
  });
});
