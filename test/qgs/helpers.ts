import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QuotingBackend } from "../../src/qgs/index.js";

/** A TDREPORT-shaped buffer (type 0x81, reserved fields zero) with the given REPORTDATA at 128. */
export function fakeTdReport(seed = 0): Uint8Array {
  const r = new Uint8Array(1024);
  r[0] = 0x81;
  for (let i = 0; i < 64; i++) r[128 + i] = (seed + i) & 0xff;
  for (let i = 512; i < 960; i++) r[i] = (seed * 7 + i) & 0xff;
  return r;
}

/** A backend whose "quote" is a digest of the report: deterministic, so tests can compare answers. */
export function fakeQuoteFor(report: Uint8Array): Uint8Array {
  const d = createHash("sha512").update(report).digest();
  const q = new Uint8Array(1200);
  for (let i = 0; i < q.length; i++) q[i] = d[i % d.length]!;
  return q;
}

export function fakeBackend(
  opts: { fail?: boolean; delayMs?: number } = {},
): QuotingBackend & { calls: number } {
  const b = {
    calls: 0,
    quote: async (report: Uint8Array) => {
      b.calls++;
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (opts.fail) throw new Error("backend exploded");
      return fakeQuoteFor(report);
    },
    describe: () => "fake backend",
  };
  return b;
}

export function tempDir(prefix = "tdx-qgs-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
