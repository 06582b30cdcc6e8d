/**
 * A faithful fake of the Linux TDX guest interfaces under a temp directory, backed by an in-memory simulated
 * platform: configfs-tsm report instances (commit-on-close inblob, per-fd outblob snapshot read in chunks,
 * generation counters, EFBIG on > 64 bytes, EINVAL without a 64-byte inblob, provider file), tsm-mr sysfs
 * (48-byte reads, one write() = one extend) and the ioctl layer of /dev/tdx_guest and /dev/tdx-attest.
 *
 * The quote behind outblob is tdx_report_new() of the kernel version set in `kernelRelease`, against a host
 * (VMM + QGS) set in `host` (guest-abi §1.6, §2.5; torvalds/linux drivers/virt/coco/tdx-guest/tdx-guest.c):
 * TDG.MR.REPORT and its errno mapping (6.16 changed it), the GetQuote TDVMCALL (RETRY → EIO), the 30-poll
 * wait with its off-by-one (a silent host is "success"; ETIMEDOUT only when the host answers in the 30th
 * second), the status check (7.1), the 8 KiB / 128 KiB buffer (7.0), the out_len check (CVE-2026-31470 fix)
 * or, without it, the copy from past the buffer; and the configfs-tsm core of drivers/virt/coco/guest/report.c
 * (ENOTTY → ENXIO and the refusal to re-register a provider while instances remain, fba4ceaa242d). Time is a
 * virtual clock: the kernel's 30-second wait advances it, nothing sleeps.
 *
 * The seed driver's GET_QUOTE runs in a child process (src/guest/quote-child.ts); its VMM is fake-vmm.mjs,
 * configured through quoteHost().
 */
import { fstatSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { GuestClock, GuestFile, GuestFs, QuoteChildHost } from "../../src/guest/index.js";
import {
  guestPaths,
  hasOutLenFix,
  hasQuoteStatusCheck,
  type KernelVersion,
  nodeGuestFs,
  outblobMax,
  parseKernelRelease,
  quoteBufferSize,
} from "../../src/guest/index.js";
import { errnoNumber } from "../../src/qgs/ffi.js";
import {
  errnoName,
  type Libc,
  type PinnedMemory,
  type QgsServer,
  simQuotingBackend,
  startQgsServer,
} from "../../src/qgs/index.js";
import type { SimPlatform } from "../../src/sim/index.js";

export class ErrnoError extends Error {
  readonly code: string;
  readonly errno: number;
  constructor(code: string, what: string) {
    super(`${code}: ${what}`);
    this.code = code;
    this.errno = errnoNumber(code);
  }
}

interface Instance {
  writeGen: bigint;
  readGen: bigint;
  inblob: Uint8Array | null;
  outblob: Uint8Array | null;
}

export interface FakeKernelOptions {
  configfs?: boolean;
  device?: boolean;
  /** /dev/tdx-attest: the 2022 seed driver, or (`"tdx-attest-2021"`) the 2021-2022 Intel driver of DCAP 1.14/1.15. */
  legacy?: boolean | "seed" | "tdx-attest-2021";
  measurements?: boolean;
  /** The misc device directory in sysfs (evidence of a TD) even without the other interfaces. */
  miscDevice?: boolean;
  /** The kernel release string (default "6.8.0"). */
  kernelRelease?: string;
}

/**
 * The host side of a configfs-tsm quote (what QEMU and the QGS do with the GetQuote TDVMCALL):
 * - answers: the quote, status SUCCESS, out_len = its length (or `hostOutLen`), `hostTrailer` after it
 * - no-quote-socket: QEMU without quote-generation-socket: status SERVICE_UNAVAILABLE at once
 * - error: the QGS failed: status ERROR after 2 s
 * - silent: never answers within the kernel's 30 polls (status stays IN_FLIGHT)
 * - late: answers during the 30th second
 */
export type FakeHost = "answers" | "no-quote-socket" | "error" | "silent" | "late";

const GET_QUOTE_HEADER = 24;

export class FakeTdxKernel {
  readonly paths;
  readonly instances = new Map<string, Instance>();
  instancesCreated = 0;
  outblobGenerations = 0;
  /** configfs-tsm provider name; null = no provider registered (mkdir → ENXIO). */
  tsmProvider: string | null = "tdx_guest";
  /** errno for the next outblob generation, injected before the driver runs (EINTR, ENOMEM). */
  nextQuoteErrno: string | null = null;
  /** Another writer bumps the generation: once after our inblob commit, or every time. */
  race: "none" | "once" | "always" = "none";
  /** errno for the next ioctl. */
  nextIoctlErrno: string | null = null;
  /** Bytes per read() of an outblob snapshot (forces read-to-EOF loops). */
  readChunk = 700;
  ioctlCalls: number[] = [];
  /** The host behind the GetQuote TDVMCALL. */
  host: FakeHost = "answers";
  /** The next N GetQuote TDVMCALLs are answered RETRY (the host is busy; the kernel turns that into EIO). */
  hostRetries = 0;
  /** out_len the host writes instead of the quote's length. */
  hostOutLen: number | null = null;
  /** Bytes the host writes after the quote in the shared buffer. */
  hostTrailer: Uint8Array = new Uint8Array(0);
  /** The kernel's shared GetQuote buffer is still owned by the host (a request it never answered). */
  quoteBufferInFlight = false;
  /** The next TDG.MR.REPORT fails with this TDX module status class. */
  nextReportTdcall: "invalid" | "busy" | "other" | null = null;
  /** tdx_guest is unloaded right after our inblob commit (between the provider check and the read). */
  unloadAfterCommit = false;
  /** rmdir of a report instance fails with this errno. */
  rmdirErrno: string | null = null;
  /** Virtual time in ms; the kernel's waits and the client's backoff advance it. */
  nowMs = 1_000_000;
  readonly sleeps: number[] = [];
  readonly clock: GuestClock = {
    now: () => this.nowMs,
    sleep: async (ms) => {
      this.sleeps.push(ms);
      this.nowMs += ms;
    },
  };
  private kernelVersion: KernelVersion;
  private readonly pinned = new Map<bigint, Uint8Array>();
  private nextAddress = 0x7f0000001000n;
  private lastErrno = 0;
  private readonly inodes = new Map<number, "device" | "seed" | "tdx-attest-2021">();
  private qgs: QgsServer | null = null;

  constructor(
    readonly root: string,
    readonly platform: SimPlatform,
    opts: FakeKernelOptions = { configfs: true, device: true, measurements: true },
  ) {
    this.paths = guestPaths(root);
    this.kernelVersion = parseKernelRelease(opts.kernelRelease ?? "6.8.0")!;
    mkdirSync(dirname(this.paths.osrelease), { recursive: true });
    writeFileSync(this.paths.osrelease, `${this.kernelVersion.release}\n`);
    if (opts.configfs) mkdirSync(this.paths.configfsReport, { recursive: true });
    if (opts.device || opts.measurements || opts.miscDevice)
      mkdirSync(this.paths.miscDevice, { recursive: true });
    if (opts.measurements) {
      mkdirSync(this.paths.measurements, { recursive: true });
      for (const f of [
        "mrtd:sha384",
        "mrconfigid",
        "mrowner",
        "mrownerconfig",
        ...[0, 1, 2, 3].map((i) => `rtmr${i}:sha384`),
      ])
        writeFileSync(join(this.paths.measurements, f), "");
    }
    const legacy = opts.legacy === true ? "seed" : opts.legacy || null;
    for (const [flag, path, kind] of [
      [opts.device ? "device" : null, this.paths.device, "device"],
      [legacy, this.paths.legacyDevice, legacy],
    ] as const) {
      if (!flag || !kind) continue;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, "");
      this.inodes.set(statSync(path).ino, kind);
    }
  }

  get kernel(): KernelVersion {
    return this.kernelVersion;
  }
  set kernelRelease(release: string) {
    this.kernelVersion = parseKernelRelease(release)!;
    writeFileSync(this.paths.osrelease, `${release}\n`);
  }

  private atLeast(major: number, minor: number): boolean {
    const v = this.kernelVersion;
    return v.major > major || (v.major === major && v.minor >= minor);
  }

  /** tsm_report_unregister(): always succeeds, instances stay (and keep failing). */
  unloadProvider(): void {
    this.tsmProvider = null;
  }

  /** tsm_report_register(): EBUSY while any instance directory remains ("configfs/tsm/report not empty"). */
  loadProvider(): "ok" | "EBUSY" {
    if (this.atLeast(6, 16) && this.instances.size > 0) return "EBUSY";
    this.tsmProvider = "tdx_guest";
    return "ok";
  }

  /** The host finally answers the request it sat on; the kernel's buffer is free again. */
  hostAnswersStuckRequest(): void {
    this.quoteBufferInFlight = false;
  }

  private instanceOf(path: string): { dir: string; attr: string; inst: Instance } | null {
    const dir = dirname(path);
    const inst = this.instances.get(dir);
    return inst ? { dir, attr: path.slice(dir.length + 1), inst } : null;
  }

  /** tdx_mcall_get_report0(): TDX_OPERAND_INVALID / TDX_OPERAND_BUSY / other, mapped as the kernel does. */
  private reportTdcallErrno(): string | null {
    const f = this.nextReportTdcall;
    if (f === null) return null;
    this.nextReportTdcall = null;
    if (this.atLeast(6, 16)) return f === "invalid" ? "ENXIO" : f === "busy" ? "EBUSY" : "EIO";
    return f === "invalid" ? "EINVAL" : "EIO";
  }

  /** tdx_report_new_locked() of the configured kernel against the configured host. */
  private tdxReportNew(inblob: Uint8Array): Uint8Array {
    if (this.quoteBufferInFlight) throw new ErrnoError("EBUSY", "GetQuote buffer in flight");
    const tdcall = this.reportTdcallErrno();
    if (tdcall) throw new ErrnoError(tdcall, "TDG.MR.REPORT");
    const report = this.platform.report(inblob);
    if (this.hostRetries > 0) {
      this.hostRetries--;
      throw new ErrnoError("EIO", "GetQuote TDVMCALL: RETRY");
    }
    const bufSize = quoteBufferSize(this.kernelVersion);
    let status: "success" | "error" | "in-flight" = "success";
    let outLen = 0;
    const shared = new Uint8Array(bufSize - GET_QUOTE_HEADER);
    switch (this.host) {
      case "no-quote-socket":
        status = "error";
        break;
      case "error":
        this.nowMs += 2000;
        status = "error";
        break;
      case "silent":
        // 30 polls, then the loop ends with i = 31 != 30: "success", status still IN_FLIGHT.
        this.nowMs += 30_000;
        status = "in-flight";
        this.quoteBufferInFlight = true;
        break;
      case "late":
        // The host completed during the 30th sleep: the loop ends with i == 30 → ETIMEDOUT, answer lost.
        this.nowMs += 30_000;
        throw new ErrnoError("ETIMEDOUT", "GetQuote answered in the 30th second");
      case "answers": {
        this.nowMs += 1000;
        const quote = this.platform.quoteFromTdReport(report);
        if (quote.length + this.hostTrailer.length > shared.length) {
          status = "error"; // QEMU: the QGS answer does not fit the guest's buffer
          break;
        }
        shared.set(quote);
        shared.set(this.hostTrailer, quote.length);
        outLen = this.hostOutLen ?? quote.length;
        break;
      }
    }
    if (status !== "success" && hasQuoteStatusCheck(this.kernelVersion))
      throw new ErrnoError("EIO", "GetQuote status != SUCCESS");
    if (hasOutLenFix(this.kernelVersion) && outLen > shared.length)
      throw new ErrnoError("EFBIG", "out_len > TDX_QUOTE_MAX_LEN");
    // kvmemdup(quote_buf->data, out_len): past the shared buffer lies other guest kernel memory.
    const blob = new Uint8Array(outLen);
    blob.set(shared.subarray(0, Math.min(outLen, shared.length)));
    for (let i = shared.length; i < outLen; i++) blob[i] = "KERNEL-MEMORY!".charCodeAt(i % 14);
    return blob;
  }

  private generateOutblob(inst: Instance): Uint8Array {
    if (inst.inblob === null || inst.inblob.length === 0) throw new ErrnoError("EINVAL", "no inblob");
    if (inst.outblob && inst.readGen === inst.writeGen) return inst.outblob;
    if (this.tsmProvider === null)
      throw new ErrnoError(this.atLeast(6, 16) ? "ENXIO" : "ENOTTY", "provider gone");
    if (this.nextQuoteErrno) {
      const e = this.nextQuoteErrno;
      this.nextQuoteErrno = null;
      throw new ErrnoError(e, "GetQuote");
    }
    if (inst.inblob.length !== 64) throw new ErrnoError("EINVAL", "inblob not 64 bytes");
    this.outblobGenerations++;
    const blob = this.tdxReportNew(inst.inblob);
    // configfs_bin_attr read: a blob larger than cb_max_size (TSM_REPORT_OUTBLOB_MAX) is EFBIG.
    if (blob.length > outblobMax(this.kernelVersion)) throw new ErrnoError("EFBIG", "outblob too large");
    inst.outblob = blob;
    inst.readGen = inst.writeGen;
    return blob;
  }

  /** The GuestFs a provider is given. */
  readonly fs: GuestFs = {
    exists: (p) => nodeGuestFs.exists(p),
    readdir: (p) => nodeGuestFs.readdir(p),
    mkdir: async (p) => {
      if (dirname(p) === this.paths.configfsReport) {
        if (this.tsmProvider === null) throw new ErrnoError("ENXIO", "no TSM provider");
        mkdirSync(p);
        for (const f of ["inblob", "outblob", "provider", "generation"]) writeFileSync(join(p, f), "");
        this.instances.set(p, { writeGen: 0n, readGen: 0n, inblob: null, outblob: null });
        this.instancesCreated++;
        return;
      }
      await nodeGuestFs.mkdir(p);
    },
    rmdir: async (p) => {
      if (this.instances.has(p)) {
        if (this.rmdirErrno) throw new ErrnoError(this.rmdirErrno, `rmdir ${p}`);
        this.instances.delete(p);
        rmSync(p, { recursive: true });
        return;
      }
      await nodeGuestFs.rmdir(p);
    },
    open: async (p, mode) => {
      const hit = this.instanceOf(p);
      if (hit) return this.openAttribute(hit.attr, hit.inst, mode);
      if (dirname(p) === this.paths.measurements)
        return this.openMeasurement(p.slice(dirname(p).length + 1), mode);
      return nodeGuestFs.open(p, mode);
    },
  };

  private snapshotFile(bytes: () => Uint8Array): GuestFile {
    let snap: Uint8Array | null = null;
    let pos = 0;
    return {
      read: async (buf) => {
        snap ??= bytes();
        const n = Math.min(buf.length, this.readChunk, snap.length - pos);
        buf.set(snap.subarray(pos, pos + n));
        pos += n;
        return n;
      },
      write: async () => {
        throw new ErrnoError("EACCES", "read-only attribute");
      },
      close: async () => {},
    };
  }

  private openAttribute(attr: string, inst: Instance, mode: "r" | "w" | "rw"): GuestFile {
    const text = (s: string) => new TextEncoder().encode(s);
    if (attr === "provider" || attr === "generation" || attr === "outblob") {
      if (mode !== "r") throw new ErrnoError("EACCES", `${attr} is read-only`);
      if (attr === "provider")
        return this.snapshotFile(() => {
          if (this.tsmProvider === null)
            // Before fba4ceaa242d provider_show dereferenced the missing ops (an oops); since, ENXIO.
            throw new ErrnoError(this.atLeast(6, 16) ? "ENXIO" : "EFAULT", "no provider");
          return text(`${this.tsmProvider}\n`);
        });
      if (attr === "generation") return this.snapshotFile(() => text(`${inst.writeGen}\n`));
      return this.snapshotFile(() => {
        const blob = this.generateOutblob(inst);
        if (this.race === "always") inst.writeGen++;
        return blob;
      });
    }
    if (attr === "inblob") {
      if (mode !== "w") throw new ErrnoError("EACCES", "inblob is write-only");
      // configfs buffers binary writes per open file and hands them to the driver on close().
      let buffer = new Uint8Array(0);
      let pos = 0;
      return {
        read: async () => {
          throw new ErrnoError("ETXTBSY", "read on a write fd");
        },
        write: async (buf) => {
          if (pos + buf.length > 64) throw new ErrnoError("EFBIG", "inblob max 64");
          const next = new Uint8Array(Math.max(buffer.length, pos + buf.length));
          next.set(buffer);
          next.set(buf, pos);
          buffer = next;
          pos += buf.length;
          return buf.length;
        },
        close: async () => {
          // The driver's EBUSY (generation wrap guard) is ignored by configfs on release.
          if (inst.writeGen === inst.readGen - 1n) return;
          inst.writeGen++;
          inst.inblob = buffer;
          if (this.unloadAfterCommit) {
            this.unloadAfterCommit = false;
            this.unloadProvider();
          }
          if (this.race === "once") {
            this.race = "none";
            inst.writeGen++;
          } else if (this.race === "always") inst.writeGen++;
        },
      };
    }
    throw new ErrnoError("ENOENT", attr);
  }

  private openMeasurement(name: string, mode: "r" | "w" | "rw"): GuestFile {
    const td = this.platform.tdState;
    const m = /^rtmr([0-3]):sha384$/.exec(name);
    const fixed: Record<string, Uint8Array> = {
      "mrtd:sha384": td.mrTd,
      mrconfigid: td.mrConfigId,
      mrowner: td.mrOwner,
      mrownerconfig: td.mrOwnerConfig,
    };
    if (mode !== "r") {
      if (!m) throw new ErrnoError("EACCES", `${name} is read-only`);
      let pos = 0;
      // sysfs delivers each write() at once: exactly 48 bytes at offset 0 extends.
      return {
        read: async () => {
          throw new ErrnoError("EBADF", "write-only fd");
        },
        write: async (buf) => {
          if (pos >= 48) throw new ErrnoError("EFBIG", "past end");
          const n = Math.min(buf.length, 48 - pos);
          if (pos !== 0 || n !== 48) throw new ErrnoError("EINVAL", "extend needs 48 bytes at 0");
          this.platform.extendRtmr(Number(m[1]), buf.slice(0, 48));
          pos += n;
          return n;
        },
        close: async () => {},
      };
    }
    if (m) return this.snapshotFile(() => this.platform.tdState.rtmr[Number(m[1])]!.slice());
    const v = fixed[name];
    if (!v) throw new ErrnoError("ENOENT", name);
    return this.snapshotFile(() => v.slice());
  }

  /** The injected ioctl layer: the kernel side of /dev/tdx_guest and /dev/tdx-attest (TDCALLs only). */
  readonly libc: Libc = {
    ioctl: (fd, request, buf) => {
      this.ioctlCalls.push(request);
      const fail = (code: string) => {
        this.lastErrno = errnoNumber(code);
        return -1;
      };
      if (this.nextIoctlErrno) {
        const e = this.nextIoctlErrno;
        this.nextIoctlErrno = null;
        return fail(e);
      }
      const kind = this.inodes.get(fstatSync(fd).ino);
      if (kind === "device") {
        if (request !== 0xc4405401 || buf.length !== 1088) return fail("ENOTTY");
        buf.set(this.platform.report(buf.slice(0, 64)), 64);
        return 0;
      }
      if (kind === "seed") {
        if (request === 0xc4005401) {
          if (buf.length < 1024) return fail("EFAULT");
          buf.set(this.platform.report(buf.slice(0, 64)), 0);
          return 0;
        }
        // The seed's GET_QUOTE waits on the host: it must never run on the caller's main thread.
        if (request === 0x80105402) throw new Error("TDX_CMD_GET_QUOTE ran on the main thread");
        // the seed driver answers unknown commands with EINVAL, not ENOTTY
        return fail("EINVAL");
      }
      if (kind === "tdx-attest-2021") {
        if (request === 0xc0085401) {
          if (buf.length < 1024) return fail("EFAULT");
          buf.set(this.platform.report(buf.slice(0, 64)), 0);
          return 0;
        }
        if (request === 0x80085403) {
          new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, 8192n, true);
          return 0;
        }
        if (request === 0x80085402) throw new Error("TDX_CMD_GEN_QUOTE must not be called");
        return fail("EINVAL");
      }
      return fail("ENOTTY");
    },
    allocPinned: (size): PinnedMemory => {
      const address = this.nextAddress;
      this.nextAddress += 0x10000n;
      const bytes = new Uint8Array(size);
      this.pinned.set(address, bytes);
      return { address, bytes, free: () => this.pinned.delete(address) };
    },
    errno: () => this.lastErrno,
    socket: notHere,
    connect: notHere,
    bind: notHere,
    listen: notHere,
    accept4: notHere,
    getsockname: notHere,
    getsockoptInt: notHere,
    recv: notHere,
    send: notHere,
    shutdown: notHere,
    close: notHere,
    poll: () => {
      throw new Error("poll is not part of the fake kernel");
    },
  };

  /**
   * The VMM behind the seed's GET_QUOTE, for the child process that runs it (fake-vmm.mjs):
   * - passthrough: the framed QGS request goes to a QGS backed by this platform, the answer comes back
   * - silent: the ioctl never returns (the host never raises the completion interrupt)
   * - service-unavailable: the GetQuote status says so, at once
   * `retries` GetQuote TDVMCALLs are answered RETRY first (the seed turns that into EIO).
   */
  async quoteHost(
    vmm: "passthrough" | "silent" | "service-unavailable",
    opts: { retries?: number } = {},
  ): Promise<QuoteChildHost> {
    let qgs: string | null = null;
    if (vmm === "passthrough") {
      if (!this.qgs)
        this.qgs = await startQgsServer({
          backend: simQuotingBackend(this.platform),
          listen: `unix:${join(this.root, "qgs.socket")}`,
        });
      qgs = join(this.root, "qgs.socket");
    }
    const state = join(this.root, `vmm-state-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(state, JSON.stringify({ retriesLeft: opts.retries ?? 0, calls: 0 }));
    const kind = this.inodes.get(statSync(this.paths.legacyDevice).ino);
    return {
      module: new URL("./fake-vmm.mjs", import.meta.url).href,
      data: { driver: kind, vmm, qgs, state },
    };
  }

  async close(): Promise<void> {
    await this.qgs?.close();
    this.qgs = null;
  }

  liveInstances(): string[] {
    return [...this.instances.keys()];
  }

  static errnoName = errnoName;
}

function notHere(): number {
  throw new Error("socket calls are not part of the fake kernel");
}
