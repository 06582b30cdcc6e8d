// bench/kbs: full key-broker attestations (auth + attest + resource, real HTTP on loopback, real DCAP
// verification of simulated-platform quotes) by N concurrent TDs against one or two broker processes
// on SQLite or PostgreSQL: attestations per second, p50/p99 latency of a whole attestation, and the
// brokers' CPU time per attestation next to the cryptography one attestation needs, measured in the
// same run with node:crypto (the floor; issue 13).
//
// Run: npm run build && node bench/kbs.mjs [--store sqlite|postgres] [--brokers 1|2] [--tds 8]
//        [--seconds 5] [--rate-limits on|off] [--log-level info] [--sqlite-sync full|normal]
//        [--broker serve|skeleton|skeleton-fsync]
// --store postgres uses $DATABASE_URL (a fresh database on that server) or starts a throwaway cluster.
// --brokers 2 runs two broker processes on one database (SQLite: one file; PostgreSQL: the scale-out).
// The brokers run as their own processes (`tdx-attest serve`, the production defaults: request log at
// info, store-kept rate limits on, with limits too high to refuse anyone); this process plays the TDs,
// each request of an attestation going to the next broker in turn (a load balancer without stickiness).
// --broker skeleton runs bench/kbs-skeleton.mjs instead: the protocol's three requests on bare node:http
// with nothing but the floor's cryptography, sessions in memory (the lower bound of a Node broker);
// skeleton-fsync adds an fdatasync'd append per attestation and release (the cheapest durable write).
// Environment: BENCH_BROKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p", then
// node bench/cpuprofile.mjs /tmp/p/*.cpuprofile) go to the brokers' node; BENCH_WARMUP_SECONDS (default 4);
// BENCH_SHOW_PIDS=1 prints the brokers' pids (for perf record -p).
// The LAST line printed is one JSON object with the figures (for programs).
import { spawn } from "node:child_process";
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createPublicKey,
  randomBytes,
  sign,
  verify,
} from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { newKeyPair } from "../dist/crypto/keygen.js";
import { KbsClient } from "../dist/kbs/client.js";
import { initSimPlatform } from "../dist/sim/index.js";
import { fmt, opsPerSecond, printTable, root, startBenchPostgres } from "./lib.mjs";

// ---- arguments --------------------------------------------------------------------------------------

function parseArgs(argv) {
  const o = {
    store: "sqlite",
    brokers: 1,
    tds: 8,
    seconds: 5,
    rateLimits: "on",
    logLevel: "info",
    sqliteSync: "full",
    broker: "serve",
  };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--store") o.store = value();
    else if (a === "--brokers") o.brokers = Number(value());
    else if (a === "--tds") o.tds = Number(value());
    else if (a === "--seconds") o.seconds = Number(value());
    else if (a === "--rate-limits") o.rateLimits = value();
    else if (a === "--log-level") o.logLevel = value();
    else if (a === "--sqlite-sync") o.sqliteSync = value();
    else if (a === "--broker") o.broker = value();
    else if (a === "-h" || a === "--help") {
      console.log(
        readFileSync(new URL(import.meta.url), "utf8")
          .split("\n")
          .slice(0, 21)
          .join("\n"),
      );
      process.exit(0);
    } else if (/^\d+$/.test(a)) positional.push(Number(a));
    else throw new Error(`unknown argument ${a} (see --help)`);
  }
  // Old form: node bench/kbs.mjs [tds] [seconds]
  if (positional[0] !== undefined) o.tds = positional[0];
  if (positional[1] !== undefined) o.seconds = positional[1];
  if (!["sqlite", "postgres"].includes(o.store)) throw new Error("--store is sqlite or postgres");
  if (!(o.brokers >= 1 && o.brokers <= 8)) throw new Error("--brokers is 1 to 8");
  if (!(o.tds >= 1)) throw new Error("--tds is a positive number");
  if (!(o.seconds > 0)) throw new Error("--seconds is a positive number");
  if (!["on", "off"].includes(o.rateLimits)) throw new Error("--rate-limits is on or off");
  if (!["full", "normal"].includes(o.sqliteSync)) throw new Error("--sqlite-sync is full or normal");
  if (!["serve", "skeleton", "skeleton-fsync"].includes(o.broker))
    throw new Error("--broker is serve, skeleton or skeleton-fsync");
  // The skeleton keeps its sessions in memory: one process only, no database.
  if (o.broker !== "serve" && (o.brokers !== 1 || o.store !== "sqlite"))
    throw new Error("--broker skeleton runs one broker without a database (no --brokers, no --store)");
  return o;
}

const opts = parseArgs(process.argv.slice(2));

// ---- the brokers ------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "bench-kbs-"));
const sim = await initSimPlatform(join(dir, "sim"));
const configFile = join(dir, "config.json");
// Limits on (each request counted in the store, as in production) but far above what the bench sends.
const limit = opts.rateLimits === "on" ? 1_000_000_000 : 0;
writeFileSync(
  configFile,
  JSON.stringify({
    mode: "development",
    logLevel: opts.logLevel,
    explorer: false,
    rateLimit: {
      auth: { max: limit, windowSeconds: 60 },
      attest: { max: limit, windowSeconds: 60 },
      attestPerSession: { max: limit, windowSeconds: 60 },
    },
  }),
);

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function processCpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startBroker(db) {
  const proc = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_BROKER_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      ...(opts.broker === "serve"
        ? [
            join(root, "dist/cli/main.js"),
            "serve",
            "--config",
            configFile,
            "--listen",
            "127.0.0.1:0",
            "--data",
            join(dir, "data"),
            "--sim-dir",
            join(dir, "sim"),
            "--db",
            db,
          ]
        : [join(root, "bench/kbs-skeleton.mjs")]),
    ],
    {
      // The request log goes where a service's stdout goes when nobody reads it.
      stdio: ["ignore", "ignore", "pipe"],
      // Whatever a profiler writes to the working directory stays out of the checkout.
      cwd: dir,
      env: {
        ...process.env,
        TDX_ATTEST_KBS_KEK: "",
        TDX_ATTEST_KBS_ADMIN_TOKEN: "",
        SKELETON_FSYNC: opts.broker === "skeleton-fsync" ? "1" : "",
      },
    },
  );
  let err = "";
  const url = await new Promise((resolve, reject) => {
    proc.stderr.on("data", (d) => {
      err += d;
      const m = /listening on (http:\/\/[^\s,]+)/.exec(err);
      if (m) resolve(m[1]);
    });
    proc.once("exit", (c) => reject(new Error(`broker exited ${c}: ${err}`)));
  });
  return { proc, url };
}

async function stopBroker(b) {
  if (b.proc.exitCode !== null) return;
  const exited = new Promise((r) => b.proc.once("exit", r));
  b.proc.kill("SIGTERM");
  await exited;
}

let pg;
let db;
if (opts.store === "postgres") {
  pg = await startBenchPostgres();
  db = pg.url;
} else
  db = `sqlite:${join(dir, "data", "kbs.db")}${opts.sqliteSync === "normal" ? "?synchronous=normal" : ""}`;

// One after the other: the first creates the KEK file, the signing key and the demo resource.
const brokers = [];
for (let i = 0; i < opts.brokers; i++) brokers.push(await startBroker(db));
// For profilers attached from outside (perf record -p PID): which processes are the brokers.
if (process.env.BENCH_SHOW_PIDS) console.error(`broker pids: ${brokers.map((b) => b.proc.pid).join(" ")}`);

// ---- the floor: the cryptography of one attestation, done directly (this process, this run) ---------
// Broker side, as issue 13 counts it: the quote's ECDSA-P256 signature (the PCK chain, CRLs, TCB Info,
// QE Identity and QE report are verified once per platform and cached) and the import of its attestation
// key; the token's ES256 signature and its verification (at /resource); the ECDH-ES+A256KW wrap of the
// secret to the TD's key (import of the tee-pubkey, ephemeral key, ECDH, Concat KDF, AES key wrap,
// AES-GCM) and the AES-GCM open of the sealed secret.
const p256 = () => newKeyPair({ type: "ec", namedCurve: "P-256" });
const ak = p256();
const akJwk = ak.publicKey.export({ format: "jwk" });
const tokenKey = p256();
const quoteBody = randomBytes(632);
const quoteSig = sign("sha256", quoteBody, { key: ak.privateKey, dsaEncoding: "ieee-p1363" });
// A token of the size this broker issues (EAR claims, header with the public key): about 3 KB.
const signingInput = Buffer.from(randomBytes(2200).toString("base64url"));
const teeKey = p256();
const teeJwk = { ...teeKey.publicKey.export({ format: "jwk" }), alg: "ECDH-ES+A256KW" };
const kek = randomBytes(32);
const sealedIv = randomBytes(12);
const sealer = createCipheriv("aes-256-gcm", kek, sealedIv);
sealer.setAAD(Buffer.from("default/disk/key"));
const sealed = Buffer.concat([sealer.update(randomBytes(64)), sealer.final()]);
const sealedTag = sealer.getAuthTag();
const tokenSig = sign("sha256", signingInput, { key: tokenKey.privateKey, dsaEncoding: "ieee-p1363" });

const floorParts = {
  "quote signature (ECDSA P-256 verify)": () => {
    if (!verify("sha256", quoteBody, { key: ak.publicKey, dsaEncoding: "ieee-p1363" }, quoteSig))
      throw new Error("verify");
  },
  // As the verifier imports a quote's key (src/crypto/backend.ts).
  "attestation key import": () => createPublicKey({ key: akJwk, format: "jwk" }),
  "token ES256 sign": () =>
    sign("sha256", signingInput, { key: tokenKey.privateKey, dsaEncoding: "ieee-p1363" }),
  "token ES256 verify": () => {
    if (!verify("sha256", signingInput, { key: tokenKey.publicKey, dsaEncoding: "ieee-p1363" }, tokenSig))
      throw new Error("verify");
  },
  // The cheapest way node:crypto offers: the ECDH class takes the TD's point as bytes (validated on the
  // curve as it is decoded), no key objects for either key.
  "ECDH-ES+A256KW wrap + A256GCM": () => {
    const recipient = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(teeJwk.x, "base64url"),
      Buffer.from(teeJwk.y, "base64url"),
    ]);
    const eph = createECDH("prime256v1");
    eph.generateKeys();
    const z = eph.computeSecret(recipient);
    eph.getPublicKey();
    const kdf = createHash("sha256").update(z).update("ECDH-ES+A256KW").digest();
    const cek = randomBytes(32);
    const kw = createCipheriv("id-aes256-wrap", kdf, Buffer.alloc(8, 0xa6));
    Buffer.concat([kw.update(cek), kw.final()]);
    const gcm = createCipheriv("aes-256-gcm", cek, randomBytes(12));
    gcm.setAAD(Buffer.alloc(200));
    Buffer.concat([gcm.update(randomBytes(64)), gcm.final()]);
    gcm.getAuthTag();
  },
  "sealed secret open (AES-256-GCM)": () => {
    const d = createDecipheriv("aes-256-gcm", kek, sealedIv);
    d.setAAD(Buffer.from("default/disk/key"));
    d.setAuthTag(sealedTag);
    Buffer.concat([d.update(sealed), d.final()]);
  },
};
/** Milliseconds per operation of each part, `rounds` rounds of about 150 ms each. */
async function floorRounds(rounds, into) {
  for (const [name, fn] of Object.entries(floorParts)) {
    into[name] ??= [];
    for (let r = 0; r < rounds; r++)
      into[name].push(1000 / (await opsPerSecond(fn, { ms: 150, rounds: 1, batch: 10 })));
  }
}

// ---- the TDs ----------------------------------------------------------------------------------------

const source = { getQuote: async (rd) => ({ quote: sim.quote(rd) }) };
// The TDs' HTTP: node:http with keep-alive, the part of fetch's interface KbsClient uses. On one machine
// the simulated TDs share the cores with the brokers; undici's fetch costs them several times more CPU
// per request than node:http, CPU the brokers would not get.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function lightFetch(url, init = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? "GET", headers: init.headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const header = (n) => [res.headers[n.toLowerCase()] ?? []].flat().join(", ") || null;
        resolve({
          ok: res.statusCode >= 200 && res.statusCode < 300,
          status: res.statusCode,
          statusText: res.statusMessage,
          headers: { get: header },
          json: async () => JSON.parse(body),
          text: async () => body,
        });
      });
    });
    req.on("error", reject);
    req.end(init.body);
  });
}
let turn = 0;
const first = brokers[0].url;
// Each request to the next broker: sessions live in the shared database, so any broker can serve any step.
const roundRobin = (u, init) =>
  lightFetch(String(u).replace(first, brokers[turn++ % brokers.length].url), init);
const flow = async () => {
  const { secret } = await new KbsClient({ url: first, fetch: roundRobin }).getResource(
    "default/disk/key",
    source,
  );
  if (secret.length !== 64) throw new Error("wrong secret");
};
// Warm up every broker: collateral issued and cached once per broker, verifier caches, then the JIT
// (V8 keeps compiling for seconds under load): the figures are those of a broker that has been running.
for (let i = 0; i < 10 * brokers.length; i++) await flow();
const warmUntil = performance.now() + (Number(process.env.BENCH_WARMUP_SECONDS) || 4) * 1000;
await Promise.all(
  Array.from({ length: opts.tds }, async () => {
    while (performance.now() < warmUntil) await flow();
  }),
);

/** The brokers' database counters (statements, commits, writes, fsyncs) summed, from /metrics. */
async function dbCounters() {
  const sum = { statements: 0, commits: 0, writes: 0, fsyncs: 0 };
  if (opts.broker !== "serve") return sum; // no database
  for (const b of brokers) {
    const text = await (await fetch(`${b.url}/metrics`)).text();
    for (const k of Object.keys(sum)) {
      const m = new RegExp(`^kbs_db_${k}_total (\\S+)$`, "m").exec(text);
      if (m) sum[k] += Number(m[1]);
    }
  }
  return sum;
}

// The floor is measured right before and right after the measured window, on the same machine under
// the same load, and the median of those rounds taken: a floor measured at another moment would compare
// the broker with a machine in another state.
const floorSamples = {};
await floorRounds(3, floorSamples);
const db0 = await dbCounters();
const latencies = [];
let done = 0;
const cpu0 = brokers.map((b) => processCpuSeconds(b.proc.pid));
const selfCpu0 = process.cpuUsage();
const load0 = loadavg()[0];
const start = performance.now();
const deadline = start + opts.seconds * 1000;
await Promise.all(
  Array.from({ length: opts.tds }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await flow();
      latencies.push(performance.now() - t0);
      done++;
    }
  }),
);
const elapsed = (performance.now() - start) / 1000;
const brokerCpu = brokers.reduce((s, b, i) => s + processCpuSeconds(b.proc.pid) - cpu0[i], 0);
const selfCpu = process.cpuUsage(selfCpu0);
const load1 = loadavg()[0];
const db1 = await dbCounters();
await floorRounds(3, floorSamples);
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const floorMs = Object.fromEntries(Object.entries(floorSamples).map(([k, v]) => [k, median(v)]));
const cryptoFloorMs = Object.values(floorMs).reduce((x, y) => x + y, 0);
for (const b of brokers) await stopBroker(b);
await pg?.stop();
rmSync(dir, { recursive: true, force: true });

latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];

// ---- report ------------------------------------------------------------------------------------------

const rate = done / elapsed;
const brokerCpuMs = (brokerCpu * 1000) / done;
const skeleton = {
  skeleton: "skeleton broker, sessions in memory, no durable write",
  "skeleton-fsync": "skeleton broker, fdatasync'd append log",
}[opts.broker];
const setup =
  skeleton ??
  `${opts.store}, ${opts.brokers} broker${opts.brokers > 1 ? "s" : ""}${opts.store === "postgres" ? (process.env.DATABASE_URL ? " ($DATABASE_URL server)" : " (throwaway cluster)") : `, synchronous=${opts.sqliteSync.toUpperCase()}`}`;
console.log(
  `bench/kbs: full attestations (auth + attest + resource) over loopback HTTP: ${setup}, ${opts.tds} concurrent TDs, ${opts.seconds} s, rate limits ${opts.rateLimits}, log level ${opts.logLevel}; load average ${load0.toFixed(2)} -> ${load1.toFixed(2)} (${process.env.BENCH_LOAD_NOTE ?? "2-core machine"})`,
);
printTable([
  [
    "setup",
    "attestations",
    "attestations/s",
    "p50",
    "p99",
    "broker CPU/attestation",
    "TD-side CPU/attestation",
    "vs crypto floor",
  ],
  [
    setup,
    String(done),
    fmt(rate),
    `${pct(50).toFixed(2)} ms`,
    `${pct(99).toFixed(2)} ms`,
    `${brokerCpuMs.toFixed(3)} ms`,
    `${((selfCpu.user + selfCpu.system) / 1000 / done).toFixed(3)} ms`,
    `${(brokerCpuMs / cryptoFloorMs).toFixed(2)}x`,
  ],
]);
const perAttestation = (k) => ((db1[k] - db0[k]) / done).toFixed(2);
if (!skeleton)
  console.log(
    `database per attestation: ${perAttestation("statements")} statements${opts.store === "sqlite" ? `, ${perAttestation("writes")} writes in ${perAttestation("commits")} group commits, ${perAttestation("fsyncs")} fsyncs` : " (round trips)"}`,
  );
printTable([
  ["crypto floor of one attestation (broker side)", "time"],
  ...Object.entries(floorMs).map(([k, v]) => [k, `${(v * 1000).toFixed(0)} us`]),
  ["total", `${(cryptoFloorMs * 1000).toFixed(0)} us`],
]);
const round = (x, d = 3) => Number(x.toFixed(d));
console.log(
  JSON.stringify({
    // The skeleton's line names it in place of a store (a program reading broker lines can tell).
    store: opts.broker === "serve" ? opts.store : opts.broker,
    brokers: opts.brokers,
    tds: opts.tds,
    attestationsPerSecond: round(rate, 1),
    p50Ms: round(pct(50), 2),
    p99Ms: round(pct(99), 2),
    brokerCpuMsPerAttestation: round(brokerCpuMs),
    cryptoFloorMs: round(cryptoFloorMs),
    ratio: round(brokerCpuMs / cryptoFloorMs, 2),
  }),
);
