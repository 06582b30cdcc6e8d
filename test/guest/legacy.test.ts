/**
 * /dev/tdx-attest: the 2022 seed driver's GET_QUOTE waits without a timeout (cc-api/linux
 * arch/x86/coco/tdx/attest.c, wait_for_completion_interruptible), so it runs in a child process with a
 * deadline; the 2021-2022 Intel driver of DCAP 1.14/1.15 (_IOR('T', 2, __u64) = 0x80085402) gives TDREPORTs
 * but its quote ioctl is refused with a hint naming it.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { openProvider } from "../../src/guest/index.js";
import { simQuotingBackend, startQgsServer } from "../../src/qgs/index.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { rejectionOf } from "../helpers/errors.js";
import { FakeTdxKernel } from "./fake-kernel.js";

let platform: SimPlatform;
beforeAll(async () => {
  platform = await createSimPlatform();
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "tdx-legacy-"));
}
function rd(seed: number): Uint8Array {
  return Uint8Array.from({ length: 64 }, (_, i) => (seed * 7 + i) & 0xff);
}
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the seed's GET_QUOTE off the main thread", () => {
  it("a host that never answers cannot freeze the event loop: a timer keeps firing, the deadline ends it", async () => {
    const k = new FakeTdxKernel(tmp(), platform, { legacy: true });
    const p = await openProvider("legacy", {
      root: k.root,
      fs: k.fs,
      libc: k.libc,
      quoteHost: await k.quoteHost("silent"),
      quoteTimeoutMs: 1500,
    });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const started = Date.now();
    const e = await rejectionOf(p.getQuote(rd(1)));
    clearInterval(timer);
    const elapsed = Date.now() - started;
    expect(e.code).toBe("GUEST_QUOTE_DEADLINE");
    expect(e.message).toMatch(
      /no quote from the host within 1500 ms: TDX_CMD_GET_QUOTE .* waits without a timeout/,
    );
    expect(e.hint).toMatch(/quoteTimeoutMs/);
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    // ~75 ticks in 1.5 s; a blocked main thread would give none
    expect(ticks).toBeGreaterThan(elapsed / 20 / 3);
    // the stuck process was killed, not left behind
    const pid = e.data?.childPid as number;
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  });

  it("RETRY from the host (EIO) is retried with backoff; SERVICE_UNAVAILABLE is named", async () => {
    const k = new FakeTdxKernel(tmp(), platform, { legacy: true });
    try {
      const p = await openProvider("legacy", {
        root: k.root,
        fs: k.fs,
        libc: k.libc,
        clock: k.clock,
        quoteHost: await k.quoteHost("passthrough", { retries: 2 }),
      });
      const r = await p.getQuoteResult(rd(2));
      expect(parseQuote(r.quote).body.report.reportData).toEqual(rd(2));
      expect(r.attempts).toBe(3);
      expect(r.retries.map((x) => [x.errno, x.waitedMs])).toEqual([
        ["EIO", 1000],
        ["EIO", 2000],
      ]);
      const down = await openProvider("legacy", {
        root: k.root,
        fs: k.fs,
        libc: k.libc,
        clock: k.clock,
        quoteHost: await k.quoteHost("service-unavailable"),
      });
      expect((await rejectionOf(down.getQuote(rd(3)))).code).toBe("TDVMCALL_QGS_UNAVAILABLE");
    } finally {
      await k.close();
    }
  });
});

describe("the 2021-2022 /dev/tdx-attest (DCAP 1.14/1.15 kernels)", () => {
  it("gives TDREPORTs through its GET_TDREPORT, refuses its GEN_QUOTE with a hint, and the qgs provider works", async () => {
    const k = new FakeTdxKernel(tmp(), platform, { legacy: "tdx-attest-2021" });
    const p = await openProvider("legacy", {
      root: k.root,
      fs: k.fs,
      libc: k.libc,
      quoteHost: await k.quoteHost("passthrough"),
    });
    try {
      const report = await p.getTdReport(rd(4));
      expect(report.subarray(128, 192)).toEqual(rd(4));
      expect(k.ioctlCalls).toEqual([0xc4005401, 0xc0085401]);
      const e = await rejectionOf(p.getQuote(rd(5)));
      expect(e.code).toBe("GUEST_LEGACY_ABI_UNSUPPORTED");
      expect(e.message).toMatch(
        /2021-2022 Intel TDX guest driver \(TDX_CMD_GEN_QUOTE _IOR\('T', 2, __u64\) = 0x80085402, the kernels DCAP 1\.14 and 1\.15 were built for\)/,
      );
      expect(e.hint).toMatch(/--provider qgs/);
      expect(e.hint).toMatch(/Linux 6\.7\+/);
      // the GET_QUOTE_SIZE probe, never GEN_QUOTE itself
      expect(k.ioctlCalls.slice(-1)).toEqual([0x80085403]);
      const sock = join(k.root, "direct-qgs.socket");
      const server = await startQgsServer({ backend: simQuotingBackend(platform), listen: `unix:${sock}` });
      try {
        const q = await openProvider("qgs", { root: k.root, fs: k.fs, libc: k.libc, qgs: `unix:${sock}` });
        const r = await q.getQuoteResult(rd(6));
        expect(parseQuote(r.quote).body.report.reportData).toEqual(rd(6));
        expect(r.via).toMatch(/tdx-attest\) TDREPORT \+ QGS at unix:/);
      } finally {
        await server.close();
      }
    } finally {
      await k.close();
    }
  });

  it("a seed driver's EINVAL is not mistaken for the 2021 driver", async () => {
    const k = new FakeTdxKernel(tmp(), platform, { legacy: true });
    const p = await openProvider("legacy", { root: k.root, fs: k.fs, libc: k.libc });
    k.nextIoctlErrno = "EINVAL";
    const e = await rejectionOf(p.getTdReport(rd(7)));
    expect(e.code).toBe("GUEST_INVALID_REQUEST");
    // the seed refuses the 2021 number too, so the first error stands
    expect(k.ioctlCalls).toEqual([0xc4005401, 0xc0085401]);
  });
});
