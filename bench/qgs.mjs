// bench/qgs: quotes per second through our QGS over a unix socket (framed GET_QUOTE_REQ, one connection per
// quote as Intel's protocol has it), next to its floor measured in the same run: one ECDSA P-256 signature
// (node:crypto), the least work any quote needs (the attestation key signs every quote). Also shown: the
// simulated QE alone in process, so the cost of the protocol + socket is visible.
// Run: npm run build && node bench/qgs.mjs
import { sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newKeyPair } from "../dist/crypto/keygen.js";
import { qgsGetQuote, simQuotingBackend, startQgsServer } from "../dist/qgs/index.js";
import { createSimPlatform } from "../dist/sim/index.js";
import { fmt, opsPerSecond, printTable } from "./lib.mjs";

const platform = await createSimPlatform();
const dir = mkdtempSync(join(tmpdir(), "bench-qgs-"));
const sock = join(dir, "qgs.socket");
const server = await startQgsServer({ backend: simQuotingBackend(platform), listen: `unix:${sock}` });
const report = platform.report(new Uint8Array(64).fill(7));
const { privateKey } = newKeyPair({ type: "ec", namedCurve: "P-256" });
const message = new Uint8Array(632).fill(1); // a v4 quote's signed region is 632 bytes

const CONCURRENCY = 8;
const work = [
  [
    "ECDSA P-256 sign (floor)",
    () => sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" }),
    20,
  ],
  ["simulated QE in process", () => platform.quoteFromTdReport(report), 5],
  ["QGS over unix socket, 1 client", () => qgsGetQuote(report, { address: `unix:${sock}` }), 5],
  [
    `QGS over unix socket, ${CONCURRENCY} concurrent`,
    () =>
      Promise.all(
        Array.from({ length: CONCURRENCY }, () => qgsGetQuote(report, { address: `unix:${sock}` })),
      ),
    1,
    CONCURRENCY,
  ],
];
// Rounds interleave the workloads so that load from other processes hits them alike.
const rounds = work.map(() => []);
for (let r = 0; r < 5; r++)
  for (let w = 0; w < work.length; w++)
    rounds[w].push(
      (await opsPerSecond(work[w][1], { batch: work[w][2], ms: 250, rounds: 1 })) * (work[w][3] ?? 1),
    );
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ops = rounds.map(median);
await server.close();
rmSync(dir, { recursive: true, force: true });

console.log(
  `bench/qgs: ${report.length}-byte TDREPORT → quote (${platform.quoteFromTdReport(report).length} bytes), per second`,
);
printTable([
  ["workload", "ops/s", "vs one ECDSA sign"],
  ...work.map((w, i) => [w[0], fmt(ops[i]), `${(ops[i] / ops[0]).toFixed(3)}x`]),
]);
console.log(
  `ratio: QGS quotes/s (1 client) / ECDSA signs/s = ${(ops[2] / ops[0]).toFixed(3)}; ` +
    `${CONCURRENCY} concurrent = ${(ops[3] / ops[0]).toFixed(3)}`,
);
