// bench/verify, browser row: tdx-attest (dist/ as built, ES modules, WebCrypto backend, `verifyAsync`) vs
// @phala/dcap-qvl-web (Rust/WASM) side by side in the same Chromium page (a fresh one per cold trial, one for the steady rounds), same quote + collateral JSON + time as the Node
// rows. bench/verify.mjs runs it after the Node rows; alone: npm run build && node bench/verify-browser.mjs [CASE]
// Knobs: BENCH_COLD_TRIALS (9), BENCH_ROUNDS (9), BENCH_WARMUP_MS (2500), BENCH_DEBUG=1 prints each cold trial.
//
// Both sides are served from a loopback node:http server (ES modules do not load from file://), uncompressed,
// `Cache-Control: no-store`, cross-origin isolated (COOP/COEP: performance.now() at 5 us, not 100 us).
// Cold start: a fresh browser context (empty HTTP and code caches, a new renderer) per trial; in its page each
// side is loaded and then verifies once, the two sides in alternating order over the trials. Load and first
// verification are timed separately and as a sum:
//   - load: ours = import() of dist/verify/index.js + dist/collateral/readers.js (45 + a few module files);
//     theirs = import() of dcap-qvl-web.js + its init (fetch + WebAssembly.instantiateStreaming of the 1 MiB
//     WASM, as the package loads itself in a page).
//   - first verification: ours = new Verifier().verifyAsync(quote, readCollateral(text)); theirs =
//     js_verify(quote, JSON.parse(text), now): both read the collateral JSON text.
// Steady state (one page, both loaded, JIT warmed the same for both: 2.5 s each): interleaved rounds of
// ~150 ms per contender, median of the rounds' verifications/s, wall clock in the page (Chromium gives a page
// no CPU clock), so other load on the machine shifts absolute figures more than ratios.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { CHROMIUM_ARGS, findChromium, fmt, loadVectorCases, printTable, root } from "./lib.mjs";

const require = createRequire(import.meta.url);
const DEFAULT_CASE = "dcapqvl_tdx_v4_b0c06f_2025-06";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json; charset=utf-8",
  ".bin": "application/octet-stream",
};

/** Serves /dist/* (our browser artifact), /dcap/* (dcap-qvl-web's package folder) and /case/* on loopback. */
async function serve(mounts) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const headers = {
      "cache-control": "no-store",
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    };
    if (path === "/") {
      res.writeHead(200, { ...headers, "content-type": TYPES[".html"] });
      res.end("<!doctype html><title>bench/verify browser row</title><body>bench</body>");
      return;
    }
    const mount = Object.keys(mounts).find((m) => path.startsWith(`${m}/`));
    const base = mount && mounts[mount];
    const file = base && normalize(join(base, path.slice(mount.length + 1)));
    if (!file?.startsWith(base + sep) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

/** In the page: load both sides in `order`, each verifying once right after its load. */
async function coldInPage({ order, now }) {
  const quote = new Uint8Array(await (await fetch("/case/quote.bin")).arrayBuffer());
  const text = await (await fetch("/case/collateral.json")).text();
  // Ours, unbundled (dist/ modules) or bundled (one file): load the modules, then one verification.
  const ourSide = async (load) => {
    let t = performance.now();
    const { Verifier, readCollateral } = await load();
    const loadMs = performance.now() - t;
    t = performance.now();
    const verifier = new Verifier();
    const r = await verifier.verifyAsync(quote, readCollateral(text), { now });
    const first = performance.now() - t;
    return {
      load: loadMs,
      first,
      status: r.ok ? r.tcbStatus : `error ${r.error?.code}`,
      backend: verifier.cryptoBackend,
    };
  };
  const sides = {
    ours: () =>
      ourSide(async () => {
        const [v, readers] = await Promise.all([
          import("/dist/verify/index.js"),
          import("/dist/collateral/readers.js"),
        ]);
        return { Verifier: v.Verifier, readCollateral: readers.readCollateral };
      }),
    bundled: () => ourSide(() => import("/bundle/tdx-attest.js")),
    async theirs() {
      let t = performance.now();
      const web = await import("/dcap/dcap-qvl-web.js");
      await web.default();
      const load = performance.now() - t;
      t = performance.now();
      const r = web.js_verify(quote, JSON.parse(text), BigInt(now));
      const first = performance.now() - t;
      return { load, first, status: r.status };
    },
  };
  const out = {};
  for (const side of order) out[side] = await sides[side]();
  return out;
}

/** In the page: steady-state verifications/s of each contender, interleaved rounds. */
async function steadyInPage({ now, warmupMs, rounds, roundMs }) {
  const quote = new Uint8Array(await (await fetch("/case/quote.bin")).arrayBuffer());
  const text = await (await fetch("/case/collateral.json")).text();
  const [v, readers, web] = await Promise.all([
    import("/dist/verify/index.js"),
    import("/dist/collateral/readers.js"),
    import("/dcap/dcap-qvl-web.js"),
  ]);
  await web.default();
  const collateral = readers.readCollateral(text);
  const warm = new v.Verifier();
  // The floor: one WebCrypto P-256 verification (key imported once), awaited.
  const subtle = crypto.subtle;
  const keys = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const msg = quote.subarray(0, 632);
  const sig = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, msg);
  const contenders = {
    floor: async () => {
      if (!(await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, keys.publicKey, sig, msg)))
        throw new Error("floor");
    },
    coldAsync: () => new v.Verifier().verifyAsync(quote, readers.readCollateral(text), { now }),
    warmAsync: () => warm.verifyAsync(quote, collateral, { now }),
    warmAsyncFresh: () => warm.verifyAsync(quote, readers.readCollateral(text), { now }),
    warmSync: () => warm.verify(quote, collateral, { now }),
    theirs: () => web.js_verify(quote, JSON.parse(text), BigInt(now)),
  };
  const statuses = {
    coldAsync: (await contenders.coldAsync()).tcbStatus,
    warmAsync: (await contenders.warmAsync()).tcbStatus,
    warmSync: contenders.warmSync().tcbStatus,
    theirs: contenders.theirs().status,
  };
  for (const fn of Object.values(contenders)) {
    const until = performance.now() + warmupMs;
    for (let i = 0; i < 3 || (i < 4000 && performance.now() < until); i++) await fn();
  }
  const samples = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(contenders)) {
      let n = 0;
      const start = performance.now();
      let now2 = start;
      while (now2 - start < roundMs) {
        await fn();
        n++;
        now2 = performance.now();
      }
      samples[name].push((n * 1000) / (now2 - start));
    }
  }
  return { samples, statuses, backend: warm.cryptoBackend, userAgent: navigator.userAgent };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Our two entry points bundled into one file (rolldown, minified, tree-shaken), for a load row that shows what
 * the module count costs: rolldown comes with vitest (vite), it is not a dependency of ours; without it that
 * row is left out and one line says so.
 */
async function bundleOurs(dist) {
  let rolldown;
  try {
    ({ rolldown } = await import("rolldown"));
  } catch (e) {
    return { skipped: `rolldown not loadable (${e.code ?? e.message})` };
  }
  const dir = mkdtempSync(join(tmpdir(), "tdx-bench-bundle-"));
  const entry = join(dir, "entry.js");
  writeFileSync(
    entry,
    `export { Verifier } from ${JSON.stringify(join(dist, "verify", "index.js"))};\n` +
      `export { readCollateral } from ${JSON.stringify(join(dist, "collateral", "readers.js"))};\n`,
  );
  const bundle = await rolldown({ input: entry, logLevel: "silent" });
  const { output } = await bundle.generate({ format: "esm", minify: true });
  await bundle.close();
  if (output.length !== 1) throw new Error(`the bundle came out as ${output.length} files`);
  writeFileSync(join(dir, "tdx-attest.js"), output[0].code);
  return { dir, bytes: Buffer.byteLength(output[0].code) };
}

/** Bytes a page fetches for one side (files as served, uncompressed). */
function sizeOf(files) {
  return files.reduce((n, f) => n + statSync(f).size, 0);
}

/**
 * Runs the browser row and prints it. Returns false when the verdicts differ; true when it ran, or when it was
 * skipped for want of Chromium (then one line says so and why). A page that fails throws.
 */
export async function runBrowserRow(caseName = DEFAULT_CASE) {
  const found = findChromium(process.env);
  if (found.kind !== "run") {
    console.log(`bench/verify browser row ${found.kind === "fail" ? "FAILED" : "SKIPPED"}: ${found.reason}`);
    return found.kind !== "fail";
  }
  const c = loadVectorCases().find((x) => x.name === caseName);
  if (!c) throw new Error(`no vector case ${caseName}`);
  const now = c.expected.at;
  const dist = join(root, "dist");
  if (!statSync(join(dist, "verify", "index.js"), { throwIfNoEntry: false }))
    throw new Error("dist/ is not built: run `npm run build` first");
  const webDir = dirname(require.resolve("@phala/dcap-qvl-web/dcap-qvl-web_bg.wasm"));
  const bundled = await bundleOurs(dist);
  const sides = bundled.dir ? ["ours", "bundled", "theirs"] : ["ours", "theirs"];
  const { server, base } = await serve({
    "/dist": dist,
    "/dcap": webDir,
    "/case": c.dir,
    ...(bundled.dir ? { "/bundle": bundled.dir } : {}),
  });
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: found.path, headless: true, args: CHROMIUM_ARGS });
  try {
    const trials = Number(process.env.BENCH_COLD_TRIALS ?? 9);
    const cold = Object.fromEntries(sides.map((s) => [s, { load: [], first: [], total: [] }]));
    const verdicts = new Set();
    let ourFiles = 0;
    for (let i = 0; i < trials; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${base}/`);
      // Each side goes first, second, ... equally often.
      const order = sides.map((_, k) => sides[(i + k) % sides.length]);
      const r = await page.evaluate(coldInPage, { order, now });
      ourFiles = await page.evaluate(
        () => performance.getEntriesByType("resource").filter((e) => e.name.includes("/dist/")).length,
      );
      await context.close();
      if (process.env.BENCH_DEBUG) console.log(JSON.stringify({ order, ...r }));
      for (const side of sides) {
        cold[side].load.push(r[side].load);
        cold[side].first.push(r[side].first);
        cold[side].total.push(r[side].load + r[side].first);
        if (side !== "theirs" && r[side].backend !== "webcrypto")
          throw new Error(`the page's verifier used ${r[side].backend}, not webcrypto`);
      }
      verdicts.add(sides.map((s) => `${s} ${r[s].status}`).join(", "));
      if (new Set(sides.map((s) => r[s].status)).size !== 1) {
        console.log(`bench/verify browser row: verdicts DIFFER: ${[...verdicts].at(-1)}`);
        return false;
      }
    }
    if (verdicts.size !== 1)
      throw new Error(`verdicts changed between cold trials: ${[...verdicts].join("; ")}`);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/`);
    const rounds = Number(process.env.BENCH_ROUNDS ?? 9);
    const steady = await page.evaluate(steadyInPage, {
      now,
      warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 2500),
      rounds,
      roundMs: 150,
    });
    await context.close();
    const st = steady.statuses;
    if (new Set(Object.values(st)).size !== 1) {
      console.log(`bench/verify browser row: verdicts DIFFER in the steady page: ${JSON.stringify(st)}`);
      return false;
    }
    console.log(
      `\nbench/verify browser row: ${caseName} at ${now} in headless Chromium ${browser.version()}, ` +
        `one page per run, served from ${base}: tdx-attest ${st.warmAsync} (${steady.backend} backend), ` +
        `dcap-qvl-web ${st.theirs}`,
    );
    const ms = Object.fromEntries(
      Object.entries(cold).map(([side, t]) => [
        side,
        Object.fromEntries(Object.entries(t).map(([k, xs]) => [k, median(xs)])),
      ]),
    );
    const ops = Object.fromEntries(Object.entries(steady.samples).map(([k, xs]) => [k, median(xs)]));
    const msEach = (x) => (x >= 10 ? `${fmt(x)} ms` : `${x.toFixed(3)} ms`);
    const coldRow = (name, side, part) => [
      name,
      fmt(1000 / ms[side][part]),
      msEach(ms[side][part]),
      `${fmt(ms.theirs[part] / ms[side][part])}x`,
      `${fmt(ms[side][part] / (1000 / ops.floor))} verifies`,
    ];
    const steadyRow = (name, key) => [
      name,
      fmt(ops[key]),
      msEach(1000 / ops[key]),
      `${fmt(ops[key] / ops.theirs)}x`,
      `${fmt(ops.floor / ops[key])} verifies`,
    ];
    const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
    const theirBytes = sizeOf([join(webDir, "dcap-qvl-web.js"), join(webDir, "dcap-qvl-web_bg.wasm")]);
    console.log(
      `cold start: median of ${trials} fresh browser contexts, each side first equally often; HTTP/1.1 on ` +
        `loopback, uncompressed, no cache; steady: median of ${rounds} interleaved rounds; wall clock in the page`,
    );
    printTable([
      ["in Chromium", "verifications/s", "time each", "vs dcap-qvl-web", "cost in WebCrypto P-256 verifies"],
      coldRow(`tdx-attest cold start: load (dist/ as built, ${ourFiles} module files)`, "ours", "load"),
      coldRow("tdx-attest cold start: first verifyAsync after load, reads the JSON", "ours", "first"),
      coldRow("tdx-attest cold start: load + first verification", "ours", "total"),
      ...(bundled.dir
        ? [
            coldRow(
              `tdx-attest bundled cold start: load (1 file, ${kib(bundled.bytes)} minified)`,
              "bundled",
              "load",
            ),
            coldRow("tdx-attest bundled cold start: load + first verification", "bundled", "total"),
          ]
        : []),
      coldRow(
        `@phala/dcap-qvl-web cold start: load (JS + WASM, ${kib(theirBytes)}, instantiate)`,
        "theirs",
        "load",
      ),
      coldRow(
        "@phala/dcap-qvl-web cold start: first js_verify after load, parses the JSON",
        "theirs",
        "first",
      ),
      coldRow("@phala/dcap-qvl-web cold start: load + first verification", "theirs", "total"),
      steadyRow("tdx-attest cold: fresh Verifier, verifyAsync, reads the JSON", "coldAsync"),
      steadyRow("tdx-attest warm: same Verifier and objects, verifyAsync", "warmAsync"),
      steadyRow("tdx-attest warm: same Verifier, verifyAsync, re-reads the JSON", "warmAsyncFresh"),
      steadyRow("tdx-attest warm: same Verifier and objects, verify (plain-JS ECDSA)", "warmSync"),
      steadyRow("@phala/dcap-qvl-web (WASM), parses the JSON", "theirs"),
      ["floor: one crypto.subtle.verify P-256", fmt(ops.floor), msEach(1000 / ops.floor), "", "1"],
    ]);
    if (!bundled.dir) console.log(`bundled tdx-attest rows left out: ${bundled.skipped}`);
    console.log(
      `browser ratios (speed, ours/theirs): cold start ${fmt(ms.theirs.total / ms.ours.total)}x ` +
        `(load ${fmt(ms.theirs.load / ms.ours.load)}x, first verification ${fmt(ms.theirs.first / ms.ours.first)}x` +
        `${bundled.dir ? `; bundled ${fmt(ms.theirs.total / ms.bundled.total)}x` : ""}), ` +
        `cold ${fmt(ops.coldAsync / ops.theirs)}x, warm ${fmt(ops.warmAsync / ops.theirs)}x`,
    );
    return true;
  } finally {
    await browser.close();
    server.close();
    if (bundled.dir) rmSync(bundled.dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = (await runBrowserRow(process.argv[2] ?? DEFAULT_CASE)) ? 0 : 1;
}
