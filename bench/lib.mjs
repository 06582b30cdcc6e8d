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
