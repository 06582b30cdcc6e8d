// bench/eventlog: CCEL event-log parse + RTMR replay throughput against its floor, the bare SHA-384 extends
// of the same digests (node:crypto, digests pre-extracted): the work any replay must do. No JS peer replays
// TCG logs (@phala/dcap-qvl does not), so the floor is the reference. Run: npm run build && node bench/eventlog.mjs
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseTcgLog, replayEventLog, sha384DigestOf } from "../dist/eventlog/index.js";
import { fmt, opsPerSecond, printTable, vectorsDir } from "./lib.mjs";

const dir = vectorsDir();
if (!dir) {
  console.log(
    "bench/eventlog: skipped, vectors not found (set TDX_VECTORS or place them at ../shared/vectors)",
  );
  process.exit(0);
}
const padded = new Uint8Array(readFileSync(join(dir, "eventlog", "go-tdx-guest-cos113", "ccel_data.dat")));
const unpadded = padded.subarray(0, parseTcgLog(padded).endOffset);
const extended = parseTcgLog(padded)
  .events.filter((e) => e.type !== 3)
  .map((e) => ({ rtmr: e.mrIndex - 1, digest: sha384DigestOf(e) }));

function floor() {
  const regs = [0, 1, 2, 3].map(() => new Uint8Array(48));
  for (const e of extended)
    regs[e.rtmr] = createHash("sha384").update(regs[e.rtmr]).update(e.digest).digest();
  return regs;
}
// Rounds interleave the three workloads so that load from other processes hits them alike.
const work = [floor, () => replayEventLog(unpadded), () => replayEventLog(padded)];
const rounds = work.map(() => []);
for (let r = 0; r < 7; r++) {
  for (let w = 0; w < work.length; w++)
    rounds[w].push(await opsPerSecond(work[w], { batch: 50, ms: 150, rounds: 1 }));
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const [opsFloor, opsUnpadded, opsPadded] = rounds.map(median);

console.log(
  `bench/eventlog: GCP COS-113 CCEL log, ${extended.length} extended events (${unpadded.length} bytes of events, ${padded.length}-byte padded area), replays per second`,
);
printTable([
  ["work", "replays/s", "ratio vs floor"],
  ["floor: SHA-384 extends only (digests pre-extracted)", fmt(opsFloor), "1.00x"],
  ["tdx-attest replayEventLog (events only)", fmt(opsUnpadded), `${fmt(opsUnpadded / opsFloor)}x`],
  ["tdx-attest replayEventLog (256 KiB padded log area)", fmt(opsPadded), `${fmt(opsPadded / opsFloor)}x`],
]);
console.log(
  `parse + mapping + comparison overhead over the floor: ${fmt((opsFloor / opsUnpadded - 1) * 100)}% (events only)`,
);
