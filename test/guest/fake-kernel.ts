/**
 * A faithful fake of the Linux TDX guest interfaces under a temp directory, backed by an in-memory simulated
 * platform: configfs-tsm report instances (commit-on-close inblob, per-fd outblob snapshot read in chunks,
 * generation counters, EFBIG on > 64 bytes, EINVAL without a 64-byte inblob, provider file), tsm-mr sysfs
 * (48-byte reads, one write() = one extend) and the ioctl layer of /dev/tdx_guest and /dev/tdx-attest.
 * Fault injection mirrors what the kernels return (guest-abi §1.3, §2.3-2.5, §3).
 */
import { fstatSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { GuestFile, GuestFs } from "../../src/guest/index.js";
import { guestPaths, nodeGuestFs } from "../../src/guest/index.js";
import { errnoNumber } from "../../src/qgs/ffi.js";
import {
  completeGetQuoteBuffer,
  decodeFrame,
  decodeGetQuoteBuffer,
  decodeGetQuoteRequest,
  encodeFrame,
  encodeGetQuoteResponse,
  errnoName,
  GetQuoteStatus,
  type Libc,
  type PinnedMemory,
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
  legacy?: boolean;
  measurements?: boolean;
  /** The misc device directory in sysfs (evidence of a TD) even without the other interfaces. */
  miscDevice?: boolean;
}

export class FakeTdxKernel {
  readonly paths;
  readonly instances = new Map<string, Instance>();
  instancesCreated = 0;
  outblobGenerations = 0;
  /** configfs-tsm provider name; null = no provider registered (mkdir → ENXIO). */
  tsmProvider: string | null = "tdx_guest";
  /** errno for the next outblob generation (kernel: EBUSY in flight, EINTR, EIO, ETIMEDOUT, EFBIG). */
  nextQuoteErrno: string | null = null;
  /** Pre-7.0 kernels return an empty outblob when the host reports an error. */
  emptyQuote = false;
  /** Another writer bumps the generation: once after our inblob commit, or every time. */
  race: "none" | "once" | "always" = "none";
  /** errno for the next ioctl. */
  nextIoctlErrno: string | null = null;
  /** Largest outblob (TSM_REPORT_OUTBLOB_MAX: 32 KiB before 7.0). */
  outblobMax = 32 * 1024;
  /** Bytes per read() of an outblob snapshot (forces read-to-EOF loops). */
  readChunk = 700;
  ioctlCalls: number[] = [];
  private readonly pinned = new Map<bigint, Uint8Array>();
  private nextAddress = 0x7f0000001000n;
  private lastErrno = 0;
  private readonly inodes = new Map<number, "device" | "legacy">();

  constructor(
    readonly root: string,
    readonly platform: SimPlatform,
    opts: FakeKernelOptions = { configfs: true, device: true, measurements: true },
  ) {
    this.paths = guestPaths(root);
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
    for (const [flag, path, kind] of [
      [opts.device, this.paths.device, "device"],
      [opts.legacy, this.paths.legacyDevice, "legacy"],
    ] as const) {
      if (!flag) continue;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, "");
      this.inodes.set(statSync(path).ino, kind);
    }
  }

  private instanceOf(path: string): { dir: string; attr: string; inst: Instance } | null {
    const dir = dirname(path);
    const inst = this.instances.get(dir);
    return inst ? { dir, attr: path.slice(dir.length + 1), inst } : null;
  }

  private generateOutblob(inst: Instance): Uint8Array {
    if (inst.inblob === null || inst.inblob.length !== 64)
      throw new ErrnoError("EINVAL", "inblob not 64 bytes");
    if (inst.outblob && inst.readGen === inst.writeGen) return inst.outblob;
    if (this.tsmProvider === null) throw new ErrnoError("ENXIO", "provider gone");
    if (this.nextQuoteErrno) {
      const e = this.nextQuoteErrno;
      this.nextQuoteErrno = null;
      throw new ErrnoError(e, "GetQuote");
    }
    this.outblobGenerations++;
    const blob = this.emptyQuote ? new Uint8Array(0) : this.platform.quote(inst.inblob);
    if (blob.length > this.outblobMax) throw new ErrnoError("EFBIG", "outblob too large");
    inst.outblob = blob;
    inst.readGen = inst.writeGen;
    return blob;
  }

  /** The GuestFs a provider is given. */
  readonly fs: GuestFs = {
    exists: (p) => nodeGuestFs.exists(p),
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
      if (this.instances.delete(p)) {
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

  private openAttribute(attr: string, inst: Instance, mode: "r" | "w"): GuestFile {
    const text = (s: string) => new TextEncoder().encode(s);
    if (attr === "provider" || attr === "generation" || attr === "outblob") {
      if (mode === "w") throw new ErrnoError("EACCES", `${attr} is read-only`);
      if (attr === "provider") return this.snapshotFile(() => text(`${this.tsmProvider}\n`));
      if (attr === "generation") return this.snapshotFile(() => text(`${inst.writeGen}\n`));
      return this.snapshotFile(() => {
        const blob = this.generateOutblob(inst);
        if (this.race === "always") inst.writeGen++;
        return blob;
      });
    }
    if (attr === "inblob") {
      if (mode === "r") throw new ErrnoError("EACCES", "inblob is write-only");
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
          if (this.race === "once") {
            this.race = "none";
            inst.writeGen++;
          } else if (this.race === "always") inst.writeGen++;
        },
      };
    }
    throw new ErrnoError("ENOENT", attr);
  }

  private openMeasurement(name: string, mode: "r" | "w"): GuestFile {
    const td = this.platform.tdState;
    const m = /^rtmr([0-3]):sha384$/.exec(name);
    const fixed: Record<string, Uint8Array> = {
      "mrtd:sha384": td.mrTd,
      mrconfigid: td.mrConfigId,
      mrowner: td.mrOwner,
      mrownerconfig: td.mrOwnerConfig,
    };
    if (mode === "w") {
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

  /** The injected ioctl layer: the kernel side of /dev/tdx_guest and /dev/tdx-attest. */
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
      if (kind === "legacy") {
        if (request === 0xc4005401) {
          if (buf.length < 1024) return fail("EFAULT");
          buf.set(this.platform.report(buf.slice(0, 64)), 0);
          return 0;
        }
        if (request === 0x80105402) return this.legacyQuote(buf) ? 0 : fail("EFAULT");
        // the seed driver answers unknown commands with EINVAL, not ENOTTY
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

  /** The seed's GET_QUOTE with a VMM that passes framed QGS messages through to a QGS. */
  private legacyQuote(arg: Uint8Array): boolean {
    const dv = new DataView(arg.buffer, arg.byteOffset, 16);
    const mem = this.pinned.get(dv.getBigUint64(0, true));
    const len = Number(dv.getBigUint64(8, true));
    if (!mem || len > mem.length) return false;
    const req = decodeGetQuoteBuffer(mem);
    const message = decodeFrame(req.data);
    const quote = this.platform.quoteFromTdReport(decodeGetQuoteRequest(message).report);
    const resp = encodeFrame(encodeGetQuoteResponse(quote));
    completeGetQuoteBuffer(mem, GetQuoteStatus.SUCCESS, resp);
    return true;
  }

  liveInstances(): string[] {
    return [...this.instances.keys()];
  }

  static errnoName = errnoName;
}

function notHere(): number {
  throw new Error("socket calls are not part of the fake kernel");
}
