/**
 * `auto` on a TD whose host has no quote-generation-socket (or a host that stopped answering): configfs-tsm
 * fails on the host side, and the quote comes from /dev/tdx_guest + a QGS reached directly, as Intel's
 * libtdx_attest does over vsock (QuoteGeneration/quote_wrapper/tdx_attest/tdx_attest.c). The result names
 * the path that produced the quote.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { openProvider, probeGuest } from "../../src/guest/index.js";
import { type QgsServer, simQuotingBackend, startQgsServer } from "../../src/qgs/index.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { rejectionOf } from "../helpers/errors.js";
import { FakeTdxKernel } from "./fake-kernel.js";

let platform: SimPlatform;
let server: QgsServer;
let qgs: string;
beforeAll(async () => {
  platform = await createSimPlatform();
  qgs = `unix:${join(mkdtempSync(join(tmpdir(), "tdx-fallback-qgs-")), "qgs.socket")}`;
  server = await startQgsServer({ backend: simQuotingBackend(platform), listen: qgs });
});
afterAll(async () => {
  await server.close();
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "tdx-fallback-"));
}
function rd(seed: number): Uint8Array {
  return Uint8Array.from({ length: 64 }, (_, i) => (seed * 13 + i) & 0xff);
}
const noSim = join(tmpdir(), "tdx-attest-no-sim-here");

function td(release = "6.8.0", device = true) {
  return new FakeTdxKernel(tmp(), platform, { configfs: true, device, kernelRelease: release });
}

describe("auto: configfs-tsm, else /dev/tdx_guest + QGS", () => {
  it("a host without a quote socket: the quote comes from the QGS, and the result says which path and why", async () => {
    const k = td();
    k.host = "no-quote-socket";
    const p = await openProvider("auto", {
      root: k.root,
      fs: k.fs,
      libc: k.libc,
      qgs,
      simState: noSim,
      clock: k.clock,
    });
    expect(p.name).toBe("configfs");
    expect(p.describe().summary).toMatch(
      /if the host's side of that fails, .*tdx_guest ioctl TDX_CMD_GET_REPORT0 .* \+ QGS at unix:/,
    );
    const r = await p.getQuoteResult(rd(1));
    expect(parseQuote(r.quote).body.report.reportData).toEqual(rd(1));
    expect(r.path).toBe("device");
    expect(r.via).toBe(`${k.paths.device} TDREPORT + QGS at ${qgs}`);
    expect(r.fallback).toEqual({
      from: "configfs",
      code: "GUEST_QUOTE_EMPTY",
      message: expect.stringMatching(/empty quote/),
    });
    expect(k.ioctlCalls).toEqual([0xc4405401]);
    expect(k.liveInstances()).toEqual([]);
    const s = await probeGuest({ root: k.root, fs: k.fs, libc: k.libc, qgs, simState: noSim });
    expect(s.auto).toEqual({
      chosen: "configfs",
      fallback: "device",
      reason: expect.stringMatching(
        /quotes fall back to .*tdx_guest \+ QGS at unix:.* when the host's side of configfs-tsm fails/,
      ),
    });
  });

  it("a host that stopped answering, and a kernel buffer left in flight, are bypassed the same way", async () => {
    const k = td("7.1.0");
    k.host = "silent";
    const p = await openProvider("auto", {
      root: k.root,
      fs: k.fs,
      libc: k.libc,
      qgs,
      simState: noSim,
      clock: k.clock,
    });
    const r1 = await p.getQuoteResult(rd(2));
    expect([r1.path, r1.fallback?.code]).toEqual(["device", "GUEST_QUOTE_HOST_TIMEOUT"]);
    k.host = "answers";
    const r2 = await p.getQuoteResult(rd(3));
    expect([r2.path, r2.fallback?.code]).toEqual(["device", "GUEST_QUOTE_BUFFER_IN_FLIGHT"]);
    expect(parseQuote(r2.quote).body.report.reportData).toEqual(rd(3));
    // and a healthy host goes through configfs-tsm again
    k.hostAnswersStuckRequest();
    const r3 = await p.getQuoteResult(rd(4));
    expect([r3.path, r3.fallback]).toEqual(["configfs", undefined]);
  });

  it("a fallback that fails too names both failures", async () => {
    const k = td();
    k.host = "no-quote-socket";
    const nowhere = `unix:${join(tmp(), "absent.socket")}`;
    const p = await openProvider("auto", {
      root: k.root,
      fs: k.fs,
      libc: k.libc,
      qgs: nowhere,
      simState: noSim,
      clock: k.clock,
    });
    const e = await rejectionOf(p.getQuote(rd(5)));
    expect(e.code).toBe("GUEST_QUOTE_EMPTY");
    expect(e.message).toMatch(/the fallback \(QGS at unix:.*absent\.socket\) failed too: QGS_UNREACHABLE/);
    expect(e.data?.fallback).toEqual({
      path: "device",
      code: "QGS_UNREACHABLE",
      message: expect.any(String),
    });
    expect(e.hint).toMatch(/For the fallback: the socket file does not exist/);
  });

  it("no fallback for an explicit --provider configfs, with fallback: false, without /dev/tdx_guest, or for non-host failures", async () => {
    const k = td();
    k.host = "no-quote-socket";
    const explicit = await openProvider("configfs", {
      root: k.root,
      fs: k.fs,
      libc: k.libc,
      qgs,
      clock: k.clock,
    });
    expect((await rejectionOf(explicit.getQuote(rd(6)))).code).toBe("GUEST_QUOTE_EMPTY");
    const off = await openProvider("auto", {
      root: k.root,
      fs: k.fs,
      libc: k.libc,
      qgs,
      simState: noSim,
      clock: k.clock,
      fallback: false,
    });
    expect((await rejectionOf(off.getQuote(rd(6)))).code).toBe("GUEST_QUOTE_EMPTY");
    const bare = td("6.8.0", false);
    bare.host = "no-quote-socket";
    const s = await probeGuest({ root: bare.root, fs: bare.fs, libc: bare.libc, qgs, simState: noSim });
    expect(s.auto.fallback).toBeUndefined();
    const noDev = await openProvider("auto", {
      root: bare.root,
      fs: bare.fs,
      libc: bare.libc,
      qgs,
      simState: noSim,
      clock: bare.clock,
    });
    expect((await rejectionOf(noDev.getQuote(rd(6)))).code).toBe("GUEST_QUOTE_EMPTY");
    // a refused TDG.MR.REPORT is not the host's fault: /dev/tdx_guest would fail the same way
    const k2 = td("6.16.0");
    const p2 = await openProvider("auto", {
      root: k2.root,
      fs: k2.fs,
      libc: k2.libc,
      qgs,
      simState: noSim,
      clock: k2.clock,
    });
    k2.nextReportTdcall = "invalid";
    expect((await rejectionOf(p2.getQuote(rd(7)))).code).toBe("GUEST_INVALID_REQUEST");
  });
});
