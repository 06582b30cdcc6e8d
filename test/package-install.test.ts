import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runRecordingPackages, SERVER_PACKAGES } from "./helpers/loaded-packages.js";
import { loadCases, projectRoot, VECTORS_SKIP_REASON } from "./helpers/vectors.js";

/**
 * What a user of the published package gets: `npm pack` (its prepack builds, in a copy of the sources as a
 * fresh clone has them), then `npm install` of the tarball into an empty project, from the npm registry.
 * One install for every check here (it is the slow part).
 */

const OPTIONAL_PEERS = ["better-sqlite3", "fastify", "koffi", "pg", "prom-client", "pino"];
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

let work: string;
let consumer: string;
let installOutput: string;
const recorder = () => join(consumer, "record-packages.mjs");

/** A TDX quote Intel's QVL judges UpToDate at its time, with its collateral. */
const vectorCase = loadCases().find(
  (c) =>
    String(c.expected.quote.tee_type) === "0x81" &&
    c.expected.expect.tcbStatus === "UpToDate" &&
    c.expected.expect.error === null &&
    !c.expected.expect.collateralExpired,
);

function copySources(to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "README.md"])
    copyFileSync(join(projectRoot, f), join(to, f));
  for (const d of ["src", "scripts", "docs"]) cpSync(join(projectRoot, d), join(to, d), { recursive: true });
  // The build's tools (tsc); the tarball and the install do not use them.
  symlinkSync(realpathSync(join(projectRoot, "node_modules")), join(to, "node_modules"), "dir");
}

/** Every file under dir (following no symlink). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

describe("the packed package installed into an empty project", () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "tdx-pack-"));
    const clone = join(work, "clone");
    copySources(clone);
    const tarball = execFileSync(npm, ["pack", "--silent", "--pack-destination", work], {
      cwd: clone,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    })
      .trim()
      .split("\n")
      .pop() as string;
    consumer = join(work, "consumer");
    mkdirSync(consumer);
    writeFileSync(
      join(consumer, "package.json"),
      `${JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
    );
    const install = spawnSync(npm, ["install", "--no-audit", "--no-fund", join(work, tarball)], {
      cwd: consumer,
      encoding: "utf8",
      timeout: 300_000,
    });
    installOutput = `${install.stdout}\n${install.stderr}`;
    if (install.status !== 0) throw new Error(`npm install of ${tarball} failed:\n${installOutput}`);
    for (const f of ["record-packages.mjs", "record-packages-hooks.mjs"])
      copyFileSync(join(projectRoot, "test", "helpers", f), join(consumer, f));
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("installs with no warning (no EBADENGINE) and no native module: no server, store or FFI package", () => {
    expect(installOutput).not.toMatch(/EBADENGINE|npm warn|gyp/i);
    const modules = join(consumer, "node_modules");
    for (const name of OPTIONAL_PEERS) expect(existsSync(join(modules, name)), name).toBe(false);
    const native = filesUnder(modules).filter((f) => f.endsWith(".node") || f.endsWith("binding.gyp"));
    expect(native).toEqual([]);
    expect(existsSync(join(modules, "tdx-attest", "dist", "verify", "node.js"))).toBe(true);
  });

  it.skipIf(!vectorCase)(
    `verifies a real Intel quote through tdx-attest/verify and the root, loading nothing of the server${vectorCase ? "" : `: ${VECTORS_SKIP_REASON}`}`,
    () => {
      const c = vectorCase!;
      const args = JSON.stringify({
        quote: join(c.dir, "quote.bin"),
        collateral: join(c.dir, "collateral.json"),
      });
      const verify = (from: string, readersFrom: string) => `
        import { readFileSync } from "node:fs";
        const { verifyQuote } = await import(${JSON.stringify(from)});
        const { readCollateral } = await import(${JSON.stringify(readersFrom)});
        const a = ${args};
        const r = verifyQuote(readFileSync(a.quote), readCollateral(readFileSync(a.collateral, "utf8")), { now: ${c.expected.at} });
        console.log(JSON.stringify({ ok: r.ok, tcbStatus: r.tcbStatus, error: r.error?.code ?? null }));`;
      for (const [from, readers] of [
        ["tdx-attest/verify", "tdx-attest/collateral/readers"],
        ["tdx-attest", "tdx-attest"],
      ] as const) {
        const r = runRecordingPackages(verify(from, readers), consumer, recorder());
        expect(r.status, `${from}: ${r.stderr}`).toBe(0);
        expect(JSON.parse(r.stdout), from).toEqual({ ok: true, tcbStatus: "UpToDate", error: null });
        expect(r.packages, from).toContain("tdx-attest");
        expect(
          r.packages.filter((p) => SERVER_PACKAGES.includes(p) || p === "commander"),
          from,
        ).toEqual([]);
      }
      // The README's command, from the CLI installed alone.
      const cli = spawnSync(
        process.execPath,
        [
          join(consumer, "node_modules", "tdx-attest", "dist", "cli", "main.js"),
          "verify",
          join(c.dir, "quote.bin"),
          "--collateral",
          join(c.dir, "collateral.json"),
          "--at",
          new Date(c.expected.at * 1000).toISOString(),
          "--json",
        ],
        { cwd: consumer, encoding: "utf8" },
      );
      expect(cli.status, cli.stderr).toBe(0);
      expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, tcbStatus: "UpToDate" });
    },
  );

  it("`tdx-attest serve` without the server's packages says which to install, and starts nothing", () => {
    const bin = join(consumer, "node_modules", ".bin", "tdx-attest");
    const human = spawnSync(bin, ["serve", "--data", "./broker-data"], { cwd: consumer, encoding: "utf8" });
    expect(human.status).toBe(2);
    expect(human.stderr).toMatch(
      /^error DEPENDENCY_MISSING: missing packages fastify, prom-client, better-sqlite3 \(needed by tdx-attest serve\)/m,
    );
    expect(human.stderr).toMatch(/^hint: npm install fastify prom-client better-sqlite3/m);
    const json = spawnSync(bin, ["serve", "--json", "--db", "postgres://u@127.0.0.1/kbs"], {
      cwd: consumer,
      encoding: "utf8",
    });
    expect(json.status).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({
      code: "DEPENDENCY_MISSING",
      data: { packages: ["fastify", "prom-client", "pg"] },
    });
    for (const [command, args] of [
      ["pcs serve", ["pcs", "serve", "--sim-state", "./sim"]],
      ["explorer serve", ["explorer", "serve"]],
    ] as const) {
      const r = spawnSync(bin, args, { cwd: consumer, encoding: "utf8" });
      expect(r.status, command).toBe(2);
      expect(r.stderr, command).toContain(`missing package fastify (needed by tdx-attest ${command})`);
    }
    expect(existsSync(join(consumer, "broker-data"))).toBe(false);
  });

  it("a store opened without its driver names the package, and leaves no file", () => {
    const r = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { openStore } from "tdx-attest";
         try { await openStore("./store/kbs.db"); console.log("opened"); }
         catch (e) { console.log(JSON.stringify(e.toJSON())); }`,
      ],
      { cwd: consumer, encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      code: "DEPENDENCY_MISSING",
      field: "better-sqlite3",
      hint: expect.stringContaining("npm install better-sqlite3"),
    });
    expect(existsSync(join(consumer, "store"))).toBe(false);
  });
});
