/**
 * The foreign-function layer: Node has neither ioctl(2) nor AF_VSOCK, so both go through koffi, an optional
 * dependency loaded lazily on first use. Everything above this file talks to the `Libc` interface, which tests
 * may replace.
 */
import { constants as osConstants } from "node:os";
import { TdxError } from "../errors.js";

/** The libc calls the guest and QGS code needs. Every call returns -1 and sets errno() on failure. */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, addr: Uint8Array, len: number): number;
  bind(fd: number, addr: Uint8Array, len: number): number;
  listen(fd: number, backlog: number): number;
  accept4(fd: number, flags: number): number;
  getsockname(fd: number, addr: Uint8Array, lenInOut: Uint32Array): number;
  getsockoptInt(fd: number, level: number, name: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
  shutdown(fd: number, how: number): number;
  close(fd: number): number;
  /** ioctl(fd, request, buf): the kernel reads and writes `buf` in place. */
  ioctl(fd: number, request: number, buf: Uint8Array): number;
  /** Memory the kernel can reach through a pointer stored inside an ioctl argument. */
  allocPinned(size: number): PinnedMemory;
  errno(): number;
  /** Wait until fd is readable and/or writable (level-triggered); returns a stopper. */
  poll(
    fd: number,
    events: { readable?: boolean; writable?: boolean },
    cb: (ev: PollEvents) => void,
  ): PollWatch;
}

export interface PollEvents {
  readable: boolean;
  writable: boolean;
  disconnect: boolean;
}

export interface PollWatch {
  update(events: { readable?: boolean; writable?: boolean }): void;
  close(): void;
}

export interface PinnedMemory {
  /** The user-space address to store inside an ioctl argument. */
  address: bigint;
  bytes: Uint8Array;
  free(): void;
}

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osConstants.errno))
  if (!errnoNames.has(num)) errnoNames.set(num, name);

/** errno number → name ("EBUSY"), or "E<num>" when unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

export function errnoNumber(name: string): number {
  const n = (osConstants.errno as Record<string, number>)[name];
  if (n === undefined) throw new Error(`unknown errno name ${name}`);
  return n;
}

/** A failed system call: carries the errno like Node's own fs errors do. */
export class SyscallError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  constructor(syscall: string, errno: number) {
    super(`${syscall} failed: ${errnoName(errno)}`);
    this.errno = errno;
    this.code = errnoName(errno);
    this.syscall = syscall;
  }
}

let libcPromise: Promise<Libc> | undefined;
let injected: Libc | undefined;

/** Replace the libc layer (tests). Pass undefined to go back to the real one. */
export function setLibcForTesting(libc: Libc | undefined): void {
  injected = libc;
}

/** Load koffi and libc on first use. Throws FFI_UNAVAILABLE with a hint when koffi cannot load. */
export function loadLibc(): Promise<Libc> {
  if (injected) return Promise.resolve(injected);
  libcPromise ??= loadRealLibc().catch((e: unknown) => {
    libcPromise = undefined;
    throw e;
  });
  return libcPromise;
}

async function loadRealLibc(): Promise<Libc> {
  if (process.platform !== "linux")
    throw new TdxError("FFI_UNAVAILABLE", `ioctl and AF_VSOCK need Linux; this is ${process.platform}`, {
      hint: "run inside a Linux TD, or use --provider sim / a unix: or tcp: QGS address",
    });
  // biome-ignore lint/suspicious/noExplicitAny: koffi's module shape differs between its CJS and ESM entry points.
  let koffi: any;
  try {
    const mod = await import("koffi");
    koffi = (mod as { default?: unknown }).default ?? mod;
  } catch (e) {
    throw new TdxError("FFI_UNAVAILABLE", "the optional dependency koffi is not installed or cannot load", {
      cause: e,
      hint: "npm install koffi (needed for /dev/tdx_guest ioctls and vsock); configfs-tsm, unix: and tcp: work without it",
    });
  }
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load("libc.so.6");
  } catch (e) {
    throw new TdxError("FFI_UNAVAILABLE", "cannot load libc.so.6 through koffi", {
      cause: e,
      hint: "this needs a glibc-based Linux; on musl use configfs-tsm or a unix:/tcp: QGS",
    });
  }
  const f = {
    socket: lib.func("int socket(int, int, int)"),
    connect: lib.func("int connect(int, const void *, uint32_t)"),
    bind: lib.func("int bind(int, const void *, uint32_t)"),
    listen: lib.func("int listen(int, int)"),
    accept4: lib.func("int accept4(int, void *, void *, int)"),
    getsockname: lib.func("int getsockname(int, void *, _Inout_ uint32_t *)"),
    getsockopt: lib.func("int getsockopt(int, int, int, void *, _Inout_ uint32_t *)"),
    recv: lib.func("long recv(int, void *, size_t, int)"),
    send: lib.func("long send(int, const void *, size_t, int)"),
    shutdown: lib.func("int shutdown(int, int)"),
    close: lib.func("int close(int)"),
    ioctl: lib.func("int ioctl(int, unsigned long, ...)"),
  };
  return {
    socket: (d, t, p) => f.socket(d, t, p),
    connect: (fd, a, l) => f.connect(fd, a, l),
    bind: (fd, a, l) => f.bind(fd, a, l),
    listen: (fd, b) => f.listen(fd, b),
    accept4: (fd, flags) => f.accept4(fd, null, null, flags),
    getsockname: (fd, a, lenInOut) => {
      const len = [lenInOut[0]!];
      const r = f.getsockname(fd, a, len);
      lenInOut[0] = len[0]!;
      return r;
    },
    getsockoptInt: (fd, level, name) => {
      const v = new Int32Array(1);
      const r = f.getsockopt(fd, level, name, v, [4]);
      return r < 0 ? r : v[0]!;
    },
    recv: (fd, b, l, fl) => Number(f.recv(fd, b, l, fl)),
    send: (fd, b, l, fl) => Number(f.send(fd, b, l, fl)),
    shutdown: (fd, how) => f.shutdown(fd, how),
    close: (fd) => f.close(fd),
    ioctl: (fd, req, buf) => f.ioctl(fd, req, "void *", buf),
    allocPinned: (size) => {
      const ptr = koffi.alloc("uint8_t", size);
      const bytes = new Uint8Array(koffi.view(ptr, size));
      return { address: BigInt(koffi.address(ptr)), bytes, free: () => koffi.free(ptr) };
    },
    errno: () => koffi.errno(),
    poll: (fd, events, cb) => {
      // koffi calls back with (status, events) despite its typings; a negative status is a poll error, which
      // we surface as "everything ready" so the next recv/send reports the errno.
      const onPoll = (status: number, ev: PollEvents) =>
        cb(status < 0 ? { readable: true, writable: true, disconnect: true } : ev);
      const handle = koffi.node.poll(
        fd,
        { readable: !!events.readable, writable: !!events.writable },
        onPoll,
      );
      if (!events.readable && !events.writable) handle.stop();
      return {
        update: (ev) => {
          if (!ev.readable && !ev.writable) handle.stop();
          else handle.start({ readable: !!ev.readable, writable: !!ev.writable }, onPoll);
        },
        close: () => handle.close(),
      };
    },
  };
}
