import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { openProvider, probeGuest, writeOnceAndClose } from "../../src/guest/index.js";
import { simQuotingBackend, startQgsServer } from "../../src/qgs/index.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { rejectionOf } from "../helpers/errors.js";
import { FakeTdxKernel } from "./fake-kernel.js";

let platform: SimPlatform;
beforeAll(async () => {
  platform = await createSimPlatform();
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "tdx-guest-"));
}
function rd(seed: number): Uint8Array {
  return Uint8Array.from({ length: 64 }, (_, i) => (seed * 31 + i) & 0xff);
}
const noSim = join(tmpdir(), "tdx-attest-no-sim-here");

describe("configfs-tsm provider against a faithful configfs fake", () => {
  it("gets a quote for the REPORTDATA through a fresh instance and removes it afterwards", async () => {
    const k = new FakeTdxKernel(tmp(), platform);
    const p = await openProvider("configfs", { root: k.root, fs: k.fs, libc: k.libc });
    const quote = await p.getQuote(rd(1));
    expect(parseQuote(quote).body.report.reportData).toEqual(rd(1));
    expect(k.instancesCreated).toBe(1);
    expect(k.liveInstances()).toEqual([]);
    expect(readdirSync(k.paths.configfsReport)).toEqual([]);
    // a second request uses a fresh directory
    await p.getQuote(rd(2));
    expect(k.instancesCreated).toBe(2);
  });

  it("the fake holds the kernel's rules: >64 bytes is EFBIG, an open inblob is not committed", async () => {
    const k = new FakeTdxKernel(tmp(), platform);
    await k.fs.mkdir(join(k.paths.configfsReport, "x"));
    const dir = join(k.paths.configfsReport, "x");
    await expect(writeOnceAndClose(k.fs, join(dir, "inblob"), new Uint8Array(65))).rejects.toMatchObject({
      code: "EFBIG",
    });
    const f = await k.fs.open(join(dir, "inblob"), "w");
    await f.write(new Uint8Array(64));
    // not closed yet: nothing delivered, so outblob has no inblob
    const out = await k.fs.open(join(dir, "outblob"), "r");
    await expect(out.read(new Uint8Array(10))).rejects.toMatchObject({ code: "EINVAL" });
    await f.close();
    await k.fs.rmdir(dir);
  });

  it("retries when another writer moves the generation, and gives up when it keeps moving", async () => {
    const k = new FakeTdxKernel(tmp(), platform);
    const p = await openProvider("configfs", { root: k.root, fs: k.fs });
    k.race = "once";
    expect(parseQuote(await p.getQuote(rd(3))).body.report.reportData).toEqual(rd(3));
    expect(k.instancesCreated).toBe(1);
    k.race = "always";
    const e = await rejectionOf(p.getQuote(rd(3)));
    expect(e.code).toBe("GUEST_CONFIGFS_RACE");
    expect(k.liveInstances()).toEqual([]);
  });

  it("maps the errnos injected before the driver runs, always removing the instance", async () => {
    const k = new FakeTdxKernel(tmp(), platform);
    const p = await openProvider("configfs", { root: k.root, fs: k.fs, clock: k.clock });
    const cases: Array<[string, string]> = [
      ["EINTR", "GUEST_INTERRUPTED"],
      ["ENOMEM", "GUEST_OUT_OF_MEMORY"],
    ];
    for (const [errno, code] of cases) {
      k.nextQuoteErrno = errno;
      const e = await rejectionOf(p.getQuote(rd(4)));
      expect(e.code).toBe(code);
      expect(e.hint).toBeTruthy();
      expect(e.data?.errno).toBe(errno);
    }
    expect(k.liveInstances()).toEqual([]);
    expect((await rejectionOf(p.getQuote(new Uint8Array(63)))).code).toBe("GUEST_REPORT_DATA_SIZE");
  });

  it("checks the provider name and maps a missing TSM provider", async () => {
    const k = new FakeTdxKernel(tmp(), platform);
    const p = await openProvider("configfs", { root: k.root, fs: k.fs });
    k.tsmProvider = "sev_guest";
    expect((await rejectionOf(p.getQuote(rd(5)))).code).toBe("GUEST_WRONG_TSM_PROVIDER");
    k.tsmProvider = null;
    expect((await rejectionOf(p.getQuote(rd(5)))).code).toBe("GUEST_NO_TSM_PROVIDER");
    expect(k.liveInstances()).toEqual([]);
  });
});

describe("/dev/tdx_guest and /dev/tdx-attest through an injected ioctl layer", () => {
  it("GET_REPORT0 returns the TD's TDREPORT for the REPORTDATA", async () => {
    const k = new FakeTdxKernel(tmp(), platform, { device: true });
    const p = await openProvider("device", { root: k.root, fs: k.fs, libc: k.libc });
    const report = await p.getTdReport(rd(6));
    expect(report.length).toBe(1024);
    expect(report.subarray(128, 192)).toEqual(rd(6));
    expect(k.ioctlCalls).toEqual([0xc4405401]);
  });

  it("maps every errno the kernels return for GET_REPORT0", async () => {
    const k = new FakeTdxKernel(tmp(), platform, { device: true });
    const p = await openProvider("device", { root: k.root, fs: k.fs, libc: k.libc });
    const cases: Array<[string, string]> = [
      ["EINVAL", "GUEST_INVALID_REQUEST"],
      ["ENXIO", "GUEST_INVALID_REQUEST"],
      ["EBUSY", "GUEST_BUSY"],
      ["EINTR", "GUEST_INTERRUPTED"],
      ["EIO", "GUEST_TDCALL_FAILED"],
      ["EFAULT", "GUEST_FAULT"],
      ["ENOTTY", "GUEST_IOCTL_UNSUPPORTED"],
      ["ENOMEM", "GUEST_OUT_OF_MEMORY"],
    ];
    for (const [errno, code] of cases) {
      k.nextIoctlErrno = errno;
      const e = await rejectionOf(p.getTdReport(rd(7)));
      expect([e.code, e.data?.errno]).toEqual([code, errno]);
    }
  });

  it("says plainly when this is not a TD", async () => {
    const p = await openProvider("device", { root: tmp(), simState: noSim });
    const e = await rejectionOf(p.getTdReport(rd(8)));
    expect(e.code).toBe("GUEST_NOT_IN_TD");
    expect(e.hint).toMatch(/tdx_guest is missing; use --provider sim/);
  });

  it("device quotes go to the QGS (our server, backed by the same platform's QE)", async () => {
    const k = new FakeTdxKernel(tmp(), platform, { device: true });
    const sock = join(tmp(), "qgs.socket");
    const server = await startQgsServer({ backend: simQuotingBackend(platform), listen: `unix:${sock}` });
    try {
      const p = await openProvider("device", { root: k.root, fs: k.fs, libc: k.libc, qgs: `unix:${sock}` });
      expect(parseQuote(await p.getQuote(rd(9))).body.report.reportData).toEqual(rd(9));
      const q = await openProvider("qgs", { root: k.root, fs: k.fs, libc: k.libc, qgs: `unix:${sock}` });
      expect(parseQuote(await q.getQuote(rd(10))).body.report.reportData).toEqual(rd(10));
    } finally {
      await server.close();
    }
  });

  it("the seed ABI: GET_REPORT over one 1024-byte buffer, GET_QUOTE through the GetQuote buffer", async () => {
    const k = new FakeTdxKernel(tmp(), platform, { legacy: true });
    try {
      const p = await openProvider("legacy", {
        root: k.root,
        fs: k.fs,
        libc: k.libc,
        quoteHost: await k.quoteHost("passthrough"),
      });
      const report = await p.getTdReport(rd(11));
      expect(report.subarray(128, 192)).toEqual(rd(11));
      const r = await p.getQuoteResult(rd(12));
      expect(parseQuote(r.quote).body.report.reportData).toEqual(rd(12));
      expect([r.path, r.via]).toEqual(["legacy", `${k.paths.legacyDevice} TDX_CMD_GET_QUOTE`]);
      // GET_QUOTE ran in the child process; only the TDREPORT ioctls ran here
      expect(k.ioctlCalls).toEqual([0xc4005401, 0xc4005401]);
      k.nextIoctlErrno = "EIO";
      expect((await rejectionOf(p.getTdReport(rd(11)))).code).toBe("GUEST_TDCALL_FAILED");
    } finally {
      await k.close();
    }
  });
});

describe("measurement registers", () => {
  it("reads tsm-mr sysfs and extends an RTMR with one 48-byte write", async () => {
    const plat = await createSimPlatform();
    const k = new FakeTdxKernel(tmp(), plat, { configfs: true, device: true, measurements: true });
    const p = await openProvider("configfs", { root: k.root, fs: k.fs, libc: k.libc });
    const before = await p.readMeasurements();
    expect(before.mrTd).toEqual(plat.tdState.mrTd);
    const digest = new Uint8Array(createHash("sha384").update("event").digest());
    await p.extendRtmr(3, digest);
    const after = await p.readMeasurements();
    expect(after.rtmr[3]).toEqual(
      new Uint8Array(createHash("sha384").update(before.rtmr[3]).update(digest).digest()),
    );
    expect(after.rtmr[2]).toEqual(before.rtmr[2]);
    expect((await rejectionOf(p.extendRtmr(4, digest))).code).toBe("GUEST_RTMR_INDEX");
    expect((await rejectionOf(p.extendRtmr(3, digest.subarray(0, 32)))).code).toBe("GUEST_RTMR_DIGEST_SIZE");
  });

  it("falls back to a TDREPORT for reads and refuses extends without tsm-mr (kernels before 6.16)", async () => {
    const k = new FakeTdxKernel(tmp(), platform, { device: true });
    const p = await openProvider("device", { root: k.root, fs: k.fs, libc: k.libc });
    const m = await p.readMeasurements();
    expect(m.mrTd).toEqual(platform.tdState.mrTd);
    expect(m.rtmr[0]).toEqual(platform.tdState.rtmr[0]);
    expect((await rejectionOf(p.extendRtmr(3, new Uint8Array(48)))).code).toBe("GUEST_EXTEND_UNSUPPORTED");
  });
});

describe("auto and status", () => {
  it("prefers configfs-tsm, then /dev/tdx_guest, then /dev/tdx-attest, and says why", async () => {
    const all = new FakeTdxKernel(tmp(), platform, { configfs: true, device: true, legacy: true });
    const s = await probeGuest({ root: all.root, fs: all.fs, libc: all.libc, simState: noSim });
    expect(s.auto.chosen).toBe("configfs");
    expect(s.providers.map((x) => [x.name, x.available])).toEqual([
      ["configfs", true],
      ["device", true],
      ["legacy", true],
      ["az-tdx-vtpm", false],
      ["qgs", true],
      ["sim", false],
    ]);
    expect(all.liveInstances()).toEqual([]);
    const dev = new FakeTdxKernel(tmp(), platform, { device: true, legacy: true });
    expect(
      (await openProvider("auto", { root: dev.root, fs: dev.fs, libc: dev.libc, simState: noSim })).name,
    ).toBe("device");
    const leg = new FakeTdxKernel(tmp(), platform, { legacy: true });
    expect(
      (await openProvider("auto", { root: leg.root, fs: leg.fs, libc: leg.libc, simState: noSim })).name,
    ).toBe("legacy");
  });

  it("never falls back to the simulator on a machine that claims to be a TD", async () => {
    const simDir = tmp();
    const { initSimPlatform } = await import("../../src/sim/index.js");
    await initSimPlatform(simDir);
    const k = new FakeTdxKernel(tmp(), platform, { miscDevice: true });
    const e = await rejectionOf(
      openProvider("auto", { root: k.root, fs: k.fs, libc: k.libc, simState: simDir }),
    );
    expect(e.code).toBe("GUEST_TD_UNUSABLE");
    expect(e.message).toMatch(/refusing to fall back to the simulator/);
    // on a plain machine the simulator is chosen, and it says so
    const plain = tmp();
    const s = await probeGuest({ root: plain, simState: simDir });
    expect(s.auto).toEqual({
      chosen: "sim",
      reason: expect.stringMatching(/not a TD; using the simulated platform/),
    });
    const p = await openProvider("auto", { root: plain, simState: simDir });
    expect(p.describe().simulated).toBe(true);
    // and with neither, a clear error
    const none = await rejectionOf(openProvider("auto", { root: plain, simState: noSim }));
    expect(none.code).toBe("GUEST_NOT_IN_TD");
    expect(none.hint).toMatch(/use --provider sim with --sim-state pointing at the broker's DATA\/sim/);
    expect(none.hint).toMatch(/--qgs ADDR/);
    expect(existsSync(join(simDir, "platform.json"))).toBe(true);
    // --provider sim without a platform points at the development broker's, not at a new untrusted one
    const missing = await rejectionOf(openProvider("sim", { root: plain, simState: noSim }));
    expect(missing.code).toBe("GUEST_SIM_STATE_MISSING");
    expect(missing.hint).toMatch(/development broker .* DATA\/sim/);
    expect(missing.hint).toMatch(/does not trust/);
  });
});

describe("sim provider on a state directory", () => {
  it("sees RTMR extends made by another process (another provider instance) before extending", async () => {
    const { initSimPlatform, rtmrExtend } = await import("../../src/sim/index.js");
    const dir = tmp();
    await initSimPlatform(dir);
    const a = await openProvider("sim", { simState: dir });
    const b = await openProvider("sim", { simState: dir });
    const d1 = new Uint8Array(48).fill(1);
    const d2 = new Uint8Array(48).fill(2);
    await a.extendRtmr(3, d1);
    await b.extendRtmr(3, d2);
    const expected = rtmrExtend(rtmrExtend(new Uint8Array(48), d1), d2);
    expect((await a.readMeasurements()).rtmr[3]).toEqual(expected);
    const q = parseQuote(await a.getQuote(rd(30)));
    if (q.body.kind === "sgx") throw new Error("expected a TD quote");
    expect(q.body.report.rtmr[3]).toEqual(expected);
  });
});
