// bench/kbs: full key-broker attestations per second on loopback (auth + attest + resource, real HTTP,
// real DCAP verification of simulated-platform quotes, SQLite store), with p50/p99 latency, printed
// next to the cost of the cryptography one attestation needs, measured in the same run.
// The broker runs as its own process (`tdx-attest serve`); this process plays the TDs.
// Run: npm run build && node bench/kbs.mjs [concurrency] [seconds]
import { spawn } from "node:child_process";
import { createCipheriv, createHash, diffieHellman, randomBytes, sign, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newKeyPair } from "../dist/crypto/keygen.js";
import { KbsClient } from "../dist/kbs/client.js";
import { initSimPlatform } from "../dist/sim/index.js";
import { fmt, opsPerSecond, printTable, root } from "./lib.mjs";

const concurrency = Number(process.argv[2] ?? 4);
const seconds = Number(process.argv[3] ?? 5);
const dir = mkdtempSync(join(tmpdir(), "bench-kbs-"));
const sim = await initSimPlatform(join(dir, "sim"));
const configFile = join(dir, "config.json");
writeFileSync(
  configFile,
  JSON.stringify({
    mode: "development",
    logLevel: "error",
    explorer: false,
    rateLimit: {
      auth: { max: 0, windowSeconds: 60 },
      attest: { max: 0, windowSeconds: 60 },
      attestPerSession: { max: 0, windowSeconds: 60 },
    },
  }),
);
/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function processCpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Start a broker on `db`, run `concurrency` TDs for `seconds`, stop it; rate and latencies. */
async function runBroker(db, label) {
  const proc = spawn(
    process.execPath,
    [
      // BENCH_BROKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p") go to the broker's node.
      ...(process.env.BENCH_BROKER_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
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
    ],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, TDX_ATTEST_KBS_KEK: "", TDX_ATTEST_KBS_ADMIN_TOKEN: "" },
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
  const source = { getQuote: async (rd) => ({ quote: sim.quote(rd) }) };
  const flow = async () => {
    const { secret } = await new KbsClient({ url }).getResource("default/disk/key", source);
    if (secret.length !== 64) throw new Error("wrong secret");
  };
  for (let i = 0; i < 20; i++) await flow(); // warm up: JIT, collateral issued once, verifier caches
  const latencies = [];
  let done = 0;
  const cpu0 = processCpuSeconds(proc.pid);
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await flow();
        latencies.push(performance.now() - t0);
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const brokerCpu = processCpuSeconds(proc.pid) - cpu0;
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return {
    label,
    done,
    elapsed,
    rate: done / elapsed,
    p50: pct(50),
    p99: pct(99),
    brokerCpuUs: (brokerCpu / done) * 1e6,
  };
}

const runs = [
  await runBroker(join(dir, "data", "kbs.db"), "SQLite, synchronous=FULL (default)"),
  await runBroker(`sqlite:${join(dir, "data", "kbs.db")}?synchronous=normal`, "SQLite, synchronous=NORMAL"),
];

// The cryptography of one attestation, done directly (same process, same run):
// broker: quote ECDSA-P256 verify + QE report ECDSA-P256 verify (chains and CRLs are cached after the
// first quote), ES256 token sign + verify, ECDH-ES (ephemeral P-256 key + derive) + AES-KW + AES-GCM,
// AES-GCM open of the stored secret; TD: P-256 key generation, ECDH derive, SHA-384 binding, and the
// simulated QE's two ECDSA-P256 signatures.
const p256 = () => newKeyPair({ type: "ec", namedCurve: "P-256" });
const ak = p256();
const tk = p256();
const msg = randomBytes(632);
const sigAk = sign("sha256", msg, { key: ak.privateKey, dsaEncoding: "ieee-p1363" });
const teeKey = p256();
const kek = randomBytes(32);
const brokerCrypto = () => {
  verify("sha256", msg, { key: ak.publicKey, dsaEncoding: "ieee-p1363" }, sigAk);
  verify("sha256", msg.subarray(0, 384), { key: ak.publicKey, dsaEncoding: "ieee-p1363" }, sigAk);
  const t = sign("sha256", msg.subarray(0, 300), { key: tk.privateKey, dsaEncoding: "ieee-p1363" });
  verify("sha256", msg.subarray(0, 300), { key: tk.publicKey, dsaEncoding: "ieee-p1363" }, t);
  const eph = p256();
  const z = diffieHellman({ privateKey: eph.privateKey, publicKey: teeKey.publicKey });
  const kw = createCipheriv("id-aes256-wrap", createHash("sha256").update(z).digest(), Buffer.alloc(8, 0xa6));
  kw.update(randomBytes(32));
  kw.final();
  for (let i = 0; i < 2; i++) {
    const c = createCipheriv("aes-256-gcm", kek, randomBytes(12));
    c.update(randomBytes(64));
    c.final();
  }
};
const tdCrypto = () => {
  const k = p256();
  diffieHellman({ privateKey: k.privateKey, publicKey: teeKey.publicKey });
  createHash("sha384").update(msg).digest();
  sign("sha256", msg, { key: ak.privateKey, dsaEncoding: "ieee-p1363" });
  sign("sha256", msg.subarray(0, 384), { key: ak.privateKey, dsaEncoding: "ieee-p1363" });
};
const brokerOps = await opsPerSecond(brokerCrypto, { ms: 300, rounds: 5 });
const tdOps = await opsPerSecond(tdCrypto, { ms: 300, rounds: 5 });
const bothOps = 1 / (1 / brokerOps + 1 / tdOps);

rmSync(dir, { recursive: true, force: true });

console.log(
  `bench/kbs: full attestations (auth + attest + resource) over loopback HTTP, ${concurrency} concurrent TDs, ${seconds} s per store`,
);
printTable([
  ["store", "attestations/s", "p50", "p99", "broker CPU/attestation", "vs broker crypto floor"],
  ...runs.map((r) => [
    r.label,
    fmt(r.rate),
    `${r.p50.toFixed(2)} ms`,
    `${r.p99.toFixed(2)} ms`,
    `${r.brokerCpuUs.toFixed(0)} us`,
    `${(r.brokerCpuUs / (1e6 / brokerOps)).toFixed(1)}x`,
  ]),
]);
printTable([
  ["crypto of one attestation", "time", "rate on one core"],
  ["broker side", `${(1e6 / brokerOps).toFixed(0)} us`, `${fmt(brokerOps)}/s`],
  ["TD side", `${(1e6 / tdOps).toFixed(0)} us`, `${fmt(tdOps)}/s`],
  ["both", `${(1e6 / bothOps).toFixed(0)} us`, `${fmt(bothOps)}/s`],
]);
const best = runs.reduce((a, b) => (b.rate > a.rate ? b : a));
console.log(
  `ratio: the broker spends ${best.brokerCpuUs.toFixed(0)} us of CPU per attestation = ${(best.brokerCpuUs / (1e6 / brokerOps)).toFixed(1)}x ` +
    `the ${(1e6 / brokerOps).toFixed(0)} us its cryptography needs; end to end ${fmt(best.rate)}/s = ${(best.rate / bothOps).toFixed(2)}x ` +
    `the one-core crypto floor of broker + TD (${fmt(bothOps)}/s), TDs and broker sharing this machine's cores`,
);
