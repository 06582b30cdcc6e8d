/**
 * configfs-tsm quotes against the failure modes of real kernels (issue 17), each modelled by the fake kernel
 * from the kernel source that shows it (torvalds/linux drivers/virt/coco/tdx-guest/tdx-guest.c,
 * drivers/virt/coco/guest/report.c, arch/x86/coco/tdx/tdx.c).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { declaredQuoteLength, instanceDirName, openProvider, probeGuest } from "../../src/guest/index.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { rejectionOf } from "../helpers/errors.js";
import { FakeTdxKernel } from "./fake-kernel.js";

let platform: SimPlatform;
beforeAll(async () => {
  platform = await createSimPlatform();
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "tdx-kernel-"));
}
function rd(seed: number): Uint8Array {
  return Uint8Array.from({ length: 64 }, (_, i) => (seed * 17 + i) & 0xff);
}
async function configfsOn(release: string) {
  const k = new FakeTdxKernel(tmp(), platform, { configfs: true, kernelRelease: release });
  const p = await openProvider("configfs", { root: k.root, fs: k.fs, clock: k.clock });
  return { k, p };
}
const noSim = join(tmpdir(), "tdx-attest-no-sim-here");

describe("a slow host", () => {
  it.each([
    ["6.8.0", "an empty outblob"],
    ["7.1.0", "EIO"],
  ])(
    "on %s a host that never answers is named as such (the kernel reports %s), and later quotes name the stuck buffer",
    async (release, how) => {
      const { k, p } = await configfsOn(release);
      k.host = "silent";
      const e = await rejectionOf(p.getQuote(rd(1)));
      expect(e.code).toBe("GUEST_QUOTE_HOST_TIMEOUT");
      expect(e.message).toMatch(/did not answer: the kernel waited 30 s/);
      expect(e.message).toContain(how === "EIO" ? "failed with EIO" : "returned an empty outblob");
      expect(e.message).toMatch(/every later quote .* gets EBUSY until the host answers/);
      expect(e.hint).toMatch(/quote-generation-socket/);
      expect(e.hint).toMatch(/qgsd/);
      expect(k.quoteBufferInFlight).toBe(true);
      // the kernel's buffer stays in flight: later requests get EBUSY (retried, then named)
      k.host = "answers";
      const busy = await rejectionOf(p.getQuote(rd(2)));
      expect(busy.code).toBe("GUEST_QUOTE_BUFFER_IN_FLIGHT");
      expect(busy.message).toMatch(/after 3 attempts/);
      expect(busy.data?.retries).toHaveLength(2);
      expect(busy.hint).not.toMatch(/retry in a few seconds/);
      expect(k.liveInstances()).toEqual([]);
      // once the host answers the stuck request, quotes work again
      k.hostAnswersStuckRequest();
      expect(parseQuote(await p.getQuote(rd(3))).body.report.reportData).toEqual(rd(3));
    },
  );

  it("ETIMEDOUT comes only when the host answers in the 30th second; the buffer is free for a retry", async () => {
    const { k, p } = await configfsOn("6.8.0");
    k.host = "late";
    const e = await rejectionOf(p.getQuote(rd(4)));
    expect(e.code).toBe("GUEST_QUOTE_TIMEOUT");
    expect(e.message).toMatch(/last second of the kernel's 30-second wait/);
    expect(e.hint).toMatch(/a retry can succeed/);
    expect(k.quoteBufferInFlight).toBe(false);
    k.host = "answers";
    expect((await p.getQuoteResult(rd(4))).attempts).toBe(1);
  });

  it("a host without a quote socket: an empty outblob up to 7.0, EIO from 7.1 (the status check, 0f409eaea53e)", async () => {
    const old = await configfsOn("7.0.0");
    old.k.host = "no-quote-socket";
    const e = await rejectionOf(old.p.getQuote(rd(5)));
    expect(e.code).toBe("GUEST_QUOTE_EMPTY");
    expect(e.message).toMatch(/7\.1 returns EIO/);
    expect(e.hint).toMatch(/SERVICE_UNAVAILABLE when QEMU has no quote-generation-socket/);
    const now = await configfsOn("7.1.0");
    now.k.host = "no-quote-socket";
    const e2 = await rejectionOf(now.p.getQuote(rd(5)));
    expect(e2.code).toBe("GUEST_QUOTE_FAILED");
    expect(e2.message).toMatch(/the host reported an error status \(7\.1\+/);
    // on 6.x the EIO text does not claim a status check the kernel does not have
    const six = await configfsOn("6.8.0");
    six.k.hostRetries = 9;
    const e3 = await rejectionOf(six.p.getQuote(rd(5)));
    expect(e3.code).toBe("GUEST_QUOTE_FAILED");
    expect(e3.message).not.toMatch(/error status/);
  });
});

describe("transient host answers", () => {
  it("RETRY from the GetQuote TDVMCALL (EIO) is retried with backoff and the result says so", async () => {
    const { k, p } = await configfsOn("6.8.0");
    k.hostRetries = 2;
    const r = await p.getQuoteResult(rd(6));
    expect(parseQuote(r.quote).body.report.reportData).toEqual(rd(6));
    expect(r.attempts).toBe(3);
    expect(r.retries).toEqual([
      { attempt: 1, code: "GUEST_QUOTE_FAILED", errno: "EIO", waitedMs: 1000 },
      { attempt: 2, code: "GUEST_QUOTE_FAILED", errno: "EIO", waitedMs: 2000 },
    ]);
    expect(k.sleeps).toEqual([1000, 2000]);
    expect(k.liveInstances()).toEqual([]);
  });

  it("gives up after the bounded attempts, naming them", async () => {
    const { k, p } = await configfsOn("6.8.0");
    k.hostRetries = 5;
    const e = await rejectionOf(p.getQuote(rd(7)));
    expect(e.code).toBe("GUEST_QUOTE_FAILED");
    expect(e.message).toMatch(/answers RETRY when it is busy.*\(after 3 attempts\)/);
    expect(e.data?.retries).toHaveLength(2);
    expect(k.hostRetries).toBe(2);
    const custom = await openProvider("configfs", {
      root: k.root,
      fs: k.fs,
      clock: k.clock,
      retry: { attempts: 1 },
    });
    expect((await rejectionOf(custom.getQuote(rd(7)))).data?.retries).toBeUndefined();
  });
});

describe("a quote longer than the buffer", () => {
  it("before the CVE-2026-31470 fix: the blob is cut at the quote's own length, with a warning naming the fix", async () => {
    const { k, p } = await configfsOn("6.8.0");
    k.hostTrailer = new TextEncoder().encode("host junk");
    k.hostOutLen = 8 * 1024 - 24 + 300; // past the 8 KiB buffer: the kernel copies its own memory
    const r = await p.getQuoteResult(rd(8));
    const q = parseQuote(r.quote);
    expect(q.body.report.reportData).toEqual(rd(8));
    expect(q.trailing.length).toBe(0);
    expect(r.quote.length).toBe(declaredQuoteLength(r.quote));
    expect(Buffer.from(r.quote).includes("KERNEL-MEMORY")).toBe(false);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/returned 8468 bytes but the quote ends at byte \d+/);
    expect(r.warnings[0]).toMatch(
      /CVE-2026-31470 \(c3fd16c3b98e, Linux 7\.0-rc6; stable 6\.12\.80, 6\.18\.21, 6\.19\.11\)/,
    );
  });

  it("with the fix the kernel answers EFBIG: its own code; an unfixed kernel's outblob limit keeps the old one", async () => {
    for (const release of ["6.12.80", "6.18.21", "6.19.11", "7.0.0", "7.1.0"]) {
      const { k, p } = await configfsOn(release);
      k.hostOutLen = (release.startsWith("7") ? 128 : 8) * 1024;
      const e = await rejectionOf(p.getQuote(rd(9)));
      expect([release, e.code]).toEqual([release, "GUEST_QUOTE_LENGTH_REFUSED"]);
      expect(e.message).toMatch(/refused to copy it \(the CVE-2026-31470 fix, c3fd16c3b98e\)/);
      expect(e.hint).toMatch(/corrupt answer/);
    }
    for (const release of ["6.12.79", "7.0.0-rc5"]) {
      const { k, p } = await configfsOn(release);
      k.hostOutLen = 40 * 1024; // past configfs-tsm's 32 KiB outblob (7.0-rc5 already has 16 MiB)
      if (release === "7.0.0-rc5") k.hostOutLen = 17 * 1024 * 1024;
      const e = await rejectionOf(p.getQuote(rd(9)));
      expect([release, e.code]).toEqual([release, "GUEST_QUOTE_TOO_LARGE"]);
      expect(e.hint).toMatch(/c3fd16c3b98e/);
    }
  });

  it("within the buffer, bytes the host put after the quote are dropped on a fixed kernel too", async () => {
    const { k, p } = await configfsOn("7.1.0");
    k.hostTrailer = new Uint8Array(32).fill(0xee);
    k.hostOutLen = null;
    const clean = await p.getQuoteResult(rd(10));
    expect(clean.warnings).toEqual([]);
    k.hostOutLen = clean.quote.length + 32;
    const r = await p.getQuoteResult(rd(10));
    expect(r.quote.length).toBe(clean.quote.length);
    expect(r.warnings[0]).toMatch(/dropped the 32 bytes after it/);
  });
});

describe("errnos with two meanings", () => {
  it("from 6.16 ENXIO on outblob is TDG.MR.REPORT when the provider is there, a missing provider when not", async () => {
    const { k, p } = await configfsOn("6.16.0");
    k.nextReportTdcall = "invalid";
    const e = await rejectionOf(p.getQuote(rd(11)));
    expect(e.code).toBe("GUEST_INVALID_REQUEST");
    expect(e.message).toMatch(/TDX module refused TDG\.MR\.REPORT \(TDX_OPERAND_INVALID/);
    expect(e.hint).not.toMatch(/modprobe tdx_guest/);
    k.unloadAfterCommit = true;
    const gone = await rejectionOf(p.getQuote(rd(11)));
    expect(gone.code).toBe("GUEST_NO_TSM_PROVIDER");
    expect(gone.message).toMatch(/unregistered \(tdx_guest unloaded\) while the request ran/);
    expect(gone.hint).toMatch(/modprobe tdx_guest/);
  });

  it("on 6.7-era kernels a provider unloaded during a read gives ENOTTY, which is not an unknown ioctl", async () => {
    const { k, p } = await configfsOn("6.8.0");
    k.unloadAfterCommit = true;
    const e = await rejectionOf(p.getQuote(rd(12)));
    expect(e.code).toBe("GUEST_NO_TSM_PROVIDER");
    expect(e.data?.errno).toBe("ENOTTY");
    expect(e.message).toMatch(/kernels before 6\.16 report that as ENOTTY/);
  });

  it("EBUSY from TDG.MR.REPORT (6.16+) clears on retry; before 6.16 an invalid TDG.MR.REPORT is EINVAL", async () => {
    const { k, p } = await configfsOn("6.16.0");
    k.nextReportTdcall = "busy";
    const r = await p.getQuoteResult(rd(13));
    expect(r.retries).toEqual([
      { attempt: 1, code: "GUEST_QUOTE_BUFFER_IN_FLIGHT", errno: "EBUSY", waitedMs: 1000 },
    ]);
    const old = await configfsOn("6.8.0");
    old.k.nextReportTdcall = "invalid";
    const e = await rejectionOf(old.p.getQuote(rd(13)));
    expect(e.code).toBe("GUEST_INVALID_REQUEST");
    expect(e.message).toMatch(/before 6\.16 that is TDX_OPERAND_INVALID from TDG\.MR\.REPORT/);
    expect(e.hint).not.toMatch(/modprobe/);
  });

  it("says modprobe when no provider is registered, and rmdir first when instances block its registration", async () => {
    const { k, p } = await configfsOn("6.16.0");
    k.unloadProvider();
    const e = await rejectionOf(p.getQuote(rd(14)));
    expect(e.code).toBe("GUEST_NO_TSM_PROVIDER");
    expect(e.hint).toMatch(/modprobe tdx_guest/);
    expect(e.hint).not.toMatch(/rmdir/);
    expect(k.loadProvider()).toBe("ok");
    // another tool's instance outlives an unload: the kernel refuses to re-register until it is gone
    await k.fs.mkdir(join(k.paths.configfsReport, "com.intel.dcap"));
    k.unloadProvider();
    expect(k.loadProvider()).toBe("EBUSY");
    const blocked = await rejectionOf(p.getQuote(rd(14)));
    expect(blocked.code).toBe("GUEST_NO_TSM_PROVIDER");
    expect(blocked.hint).toMatch(
      /rmdir .*com\.intel\.dcap.*refuses to register tdx_guest while any exists \(fba4ceaa242d\); then modprobe tdx_guest/,
    );
    const s = await probeGuest({ root: k.root, fs: k.fs, simState: noSim });
    expect(s.configfsInstances).toEqual(["com.intel.dcap"]);
    expect(s.kernel).toBe("6.16.0");
    expect(s.providers[0]!.reason).toMatch(/rmdir/);
    await k.fs.rmdir(join(k.paths.configfsReport, "com.intel.dcap"));
    expect(k.loadProvider()).toBe("ok");
  });
});

describe("leftover report instances", () => {
  it("a failed rmdir is reported, not ignored; instances of dead tdx-attest processes are removed on start", async () => {
    const { k, p } = await configfsOn("6.16.0");
    k.rmdirErrno = "EBUSY";
    const r = await p.getQuoteResult(rd(15));
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(
      /could not remove the report instance .*tdx-attest-\d+-\d+-[0-9a-f]+ \(EBUSY\)/,
    );
    expect(r.warnings[0]).toMatch(/refuses to re-register tdx_guest/);
    expect(k.liveInstances()).toHaveLength(1);
    // a failure path reports it too
    k.host = "no-quote-socket";
    const e = await rejectionOf(p.getQuote(rd(15)));
    expect(e.data?.warnings).toEqual([expect.stringMatching(/could not remove/)]);
    k.rmdirErrno = null;
    k.host = "answers";
    // a dead process's instance (pid beyond PID_MAX_LIMIT), the same pid in another pid namespace (another
    // container: not ours to judge), another tool's, and a live one of ours
    const dead = join(k.paths.configfsReport, instanceDirName(4194305));
    const otherNs = join(k.paths.configfsReport, "tdx-attest-4194305-1234-0123456789ab");
    const foreign = join(k.paths.configfsReport, "com.intel.dcap");
    await k.fs.mkdir(dead);
    await k.fs.mkdir(otherNs);
    await k.fs.mkdir(foreign);
    const before = new Set(k.liveInstances());
    const r2 = await p.getQuoteResult(rd(16));
    expect(r2.warnings).toEqual([
      `removed ${dead}, left behind by tdx-attest process 4194305 which no longer runs`,
    ]);
    const after = k.liveInstances();
    expect(after).not.toContain(dead);
    expect(after).toContain(foreign);
    expect(after).toContain(otherNs);
    expect(after).toHaveLength(before.size - 1);
  });
});
