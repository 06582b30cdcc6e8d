import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import * as root from "../src/index.js";
import { runRecordingPackages, SERVER_PACKAGES } from "./helpers/loaded-packages.js";
import { projectRoot } from "./helpers/vectors.js";

interface PackageJson {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optionalDependencies?: Record<string, string>;
  overrides?: Record<string, unknown>;
}

const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as PackageJson;
const lock = JSON.parse(readFileSync(join(projectRoot, "package-lock.json"), "utf8")) as {
  packages: Record<
    string,
    PackageJson & { dev?: boolean; devOptional?: boolean; engines?: { node?: string } }
  >;
};

/** What only the servers and the stores need: optional peers, never installed with the library. */
const OPTIONAL_PEERS = ["better-sqlite3", "fastify", "koffi", "pg", "prom-client"];

/** Whether Node 20.x satisfies an engines range (the forms npm packages use; throws on any other). */
function allowsNode20(range: string): boolean {
  return range.split("||").some((alt) => {
    const a = alt.trim();
    let m = /^>=\s*v?(\d+)(?:\.(?:\d+|x)){0,2}$/.exec(a);
    if (m) return Number(m[1]) <= 20;
    m = /^(?:\^|~)?v?(\d+)(?:\.(?:\d+|x)){0,2}$/.exec(a);
    if (m) return Number(m[1]) === 20;
    if (a === "*" || a === "") return true;
    throw new Error(`engines range "${range}": form "${a}" not understood by this test`);
  });
}

const dist = (p: string) => join(projectRoot, "dist", p);
function requireDist(): void {
  if (!existsSync(dist("index.js")))
    throw new Error(`${dist("index.js")} is missing: run "npm run build" first (npm test does)`);
}

describe("a light library: what installs", () => {
  it("the servers' and stores' packages are optional peers (and dev dependencies), never dependencies", () => {
    for (const name of OPTIONAL_PEERS) {
      expect(pkg.dependencies[name], name).toBeUndefined();
      expect(pkg.optionalDependencies?.[name], name).toBeUndefined();
      expect(pkg.peerDependencies?.[name], name).toBeDefined();
      expect(pkg.peerDependenciesMeta?.[name]?.optional, name).toBe(true);
      // The project's own tests and `npm start` need them: a clone's `npm install` brings them.
      expect(pkg.devDependencies[name], name).toBe(pkg.peerDependencies?.[name]);
    }
    expect(Object.keys(pkg.dependencies).sort()).toEqual([
      "@peculiar/x509",
      "commander",
      "jose",
      "reflect-metadata",
    ]);
  });

  it("package-lock.json agrees with package.json (dependencies, optional peers)", () => {
    const rootEntry = lock.packages[""] as PackageJson;
    expect(rootEntry.dependencies).toEqual(pkg.dependencies);
    expect(rootEntry.peerDependencies).toEqual(pkg.peerDependencies);
    expect(rootEntry.peerDependenciesMeta).toEqual(pkg.peerDependenciesMeta);
    expect(rootEntry.optionalDependencies).toBeUndefined();
    for (const name of OPTIONAL_PEERS) expect(lock.packages[`node_modules/${name}`]?.dev, name).toBe(true);
  });

  it("every package a consumer installs with tdx-attest (as locked) allows Node 20: no EBADENGINE", () => {
    const runtime = Object.entries(lock.packages).filter(
      ([path, e]) => path !== "" && !e.dev && !e.devOptional,
    );
    expect(runtime.length).toBeGreaterThan(0);
    const refused = runtime.filter(([, e]) => e.engines?.node !== undefined && !allowsNode20(e.engines.node));
    expect(refused.map(([p, e]) => `${p} ${e.engines?.node}`)).toEqual([]);
    // `overrides` does not reach a consumer: a package the project pins there (light-my-request, whose newer
    // releases need cookie@2 and Node 22) must not be among what a consumer installs.
    const overridden = Object.keys(pkg.overrides ?? {});
    expect(
      runtime.map(([p]) => p).filter((p) => overridden.some((o) => p.endsWith(`node_modules/${o}`))),
    ).toEqual([]);
    // None of them is native: a consumer's install builds nothing.
    for (const [path] of runtime) {
      const dir = join(projectRoot, path);
      if (existsSync(dir)) expect(existsSync(join(dir, "binding.gyp")), path).toBe(false);
    }
  });
});

describe("a light library: what loads", () => {
  it("the root exports the stable API and no test hook or internal", () => {
    const names = Object.keys(root);
    expect(names.filter((n) => /ForTesting$/i.test(n))).toEqual([]);
    // Entry points of each part, and the README's example.
    for (const n of [
      "TdxError",
      "isTdxError",
      "parseQuote",
      "parseTdReport",
      "toHex",
      "readCollateral",
      "verifyQuote",
      "verifyQuoteAsync",
      "Verifier",
      "appraise",
      "readPolicy",
      "PcsClient",
      "CollateralService",
      "replayEventLogs",
      "openProvider",
      "probeGuest",
      "qgsGetQuote",
      "startQgsServer",
      "KbsClient",
      "KbsService",
      "openStore",
      "TdxEvidenceVerifier",
      "verifyTeeEvidence",
      "createSimPlatform",
      "SimCollateralProvider",
      "verifyAzTdxVtpm",
      "INTEL_SGX_ROOT_CA_PEM",
    ])
      expect(names, n).toContain(n);
    // Layout constants, protocol encoders and crypto-backend switches stay on their subpaths.
    for (const n of [
      "setLibcForTesting",
      "setCryptoBackend",
      "encodeGetQuoteRequest",
      "TDREPORT_OFFSETS",
      "be16",
    ])
      expect(names, n).not.toContain(n);
    expect(names.length).toBeLessThan(100);
  });

  it("importing the root, tdx-attest/verify, /abi, /policy, /collateral loads no server, store or certificate-builder package", () => {
    requireDist();
    for (const entry of [
      "index.js",
      "verify/node.js",
      "verify/index.js",
      "abi/index.js",
      "policy/index.js",
      "collateral/index.js",
      "collateral/readers.js",
      "sim/index.js",
      "kbs/index.js",
    ]) {
      const r = runRecordingPackages(`await import(${JSON.stringify(dist(entry))});`, projectRoot);
      expect(r.status, `${entry}: ${r.stderr}`).toBe(0);
      expect(
        r.packages.filter((p) => SERVER_PACKAGES.includes(p) || p === "commander"),
        entry,
      ).toEqual([]);
    }
  });

  it("the root's type declarations name no optional package (a consumer without fastify type-checks)", () => {
    requireDist();
    const seen = new Set<string>();
    const todo = [dist("index.d.ts")];
    const named: string[] = [];
    while (todo.length > 0) {
      const file = todo.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) {
        const spec = m[1] as string;
        if (spec.startsWith(".")) todo.push(resolve(dirname(file), spec.replace(/\.js$/, ".d.ts")));
        else if (OPTIONAL_PEERS.some((p) => spec === p || spec.startsWith(`${p}/`)))
          named.push(`${file}: ${spec}`);
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(named).toEqual([]);
  });

  it("the simulator loads @peculiar/x509 when it first issues a certificate, and then works", async () => {
    requireDist();
    const r = runRecordingPackages(
      `const { createSimPlatform } = await import(${JSON.stringify(dist("sim/index.js"))});
       const { verifyQuote } = await import(${JSON.stringify(dist("verify/index.js"))});
       const p = await createSimPlatform();
       const quote = await p.quote(new Uint8Array(64));
       const r = verifyQuote(quote, (await p.collateralBundle()).collateral, { now: Date.now() / 1000, trustAnchors: [p.rootCaPem] });
       console.log(JSON.stringify({ ok: r.ok, tcbStatus: r.tcbStatus }));`,
      projectRoot,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, tcbStatus: "UpToDate" });
    expect(r.packages).toContain("@peculiar/x509");
  });
});
