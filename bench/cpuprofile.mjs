// Summarize V8 CPU profiles (node --cpu-prof): where the time went, by self time per function and by
// place (a package under node_modules, a file of src/, node's internals, GC, idle).
// Run: node bench/cpuprofile.mjs FILE.cpuprofile... [--top 30] [--window FROM,TO]
// With bench/kbs.mjs: BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" node bench/kbs.mjs, then
// node bench/cpuprofile.mjs DIR/*.cpuprofile (the warm-up is included: run the bench long enough).
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 30;
// --window FROM,TO: only the samples FROM..TO seconds after the profile started (e.g. the measured window).
const windowAt = args.indexOf("--window");
const [from, to] = windowAt >= 0 ? args.splice(windowAt, 2)[1].split(",").map(Number) : [0, Infinity];
const byFunction = new Map();
/** Inclusive time: each function counted once per sample, whatever its recursion. */
const inclusive = new Map();
const byPlace = new Map();
let total = 0;
let idle = 0;

function place(cf) {
  const url = cf.url || "";
  if (!url) return cf.functionName.startsWith("(") ? cf.functionName : "(native)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith("node:")) return url;
  const src = /\/dist\/(.+?)\.js$/.exec(url) ?? /\/(src\/.+?)\.ts$/.exec(url);
  return src ? src[1] : url.replace(/^file:\/\//, "");
}

for (const file of args) {
  const p = JSON.parse(readFileSync(file, "utf8"));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let t = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from * 1e6 || t > to * 1e6) continue;
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  for (const [id, us] of self) {
    if (nodes.get(id).callFrame.functionName === "(idle)") continue;
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = nodes.get(cur).callFrame;
      const fn = `${cf.functionName || "(anonymous)"} ${place(cf)}:${cf.lineNumber + 1}`;
      if (seen.has(fn)) continue;
      seen.add(fn);
      inclusive.set(fn, (inclusive.get(fn) ?? 0) + us);
    }
  }
  for (const [id, us] of self) {
    const cf = nodes.get(id).callFrame;
    if (cf.functionName === "(idle)") {
      idle += us;
      continue;
    }
    total += us;
    const fn = `${cf.functionName || "(anonymous)"} ${place(cf)}:${cf.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const pl = place(cf);
    byPlace.set(pl, (byPlace.get(pl) ?? 0) + us);
  }
}
const pct = (us) => `${((100 * us) / total).toFixed(1)}%`.padStart(6);
console.log(
  `busy ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s (${args.length} profile(s))`,
);
console.log("\nby place (self time)");
for (const [k, v] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`);
console.log("\nby function (self time)");
for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(v)}  ${k}`);
console.log("\nby function (inclusive time, the project's code)");
for (const [k, v] of [...inclusive]
  .filter(([k]) => !/node_modules|node:|^\(|\(native\)|\(program\)/.test(k) && !k.includes(" ("))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`${pct(v)}  ${k}`);
