/**
 * Stream sockets opened through the libc layer (AF_VSOCK, which Node cannot open itself), wrapped in a Node
 * Duplex so the QGS client and server treat them exactly like net.Socket. Non-blocking fds driven by
 * libuv polling: no thread is parked in recv().
 */
import { Duplex } from "node:stream";
import { TdxError } from "../errors.js";
import { checkUnixSocketPath } from "./address.js";
import { errnoName, errnoNumber, type Libc, type PollWatch, SyscallError } from "./ffi.js";

export const AF_UNIX = 1;
export const AF_VSOCK = 40;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_ERROR = 4;
const SHUT_WR = 1;
const MSG_NOSIGNAL = 0x4000;
const EAGAIN = errnoNumber("EAGAIN");
const EINPROGRESS = errnoNumber("EINPROGRESS");
const EINTR = errnoNumber("EINTR");

export interface SockAddr {
  family: number;
  bytes: Uint8Array;
}

/** struct sockaddr_vm: family u16, reserved u16, port u32, cid u32, flags u8, zero[3] (16 bytes). */
export function sockaddrVm(cid: number, port: number): SockAddr {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_VSOCK, true);
  v.setUint32(4, port >>> 0, true);
  v.setUint32(8, cid >>> 0, true);
  return { family: AF_VSOCK, bytes: b };
}

/** struct sockaddr_un with a NUL-terminated path (for testing this layer without vsock). */
export function sockaddrUn(path: string): SockAddr {
  const p = new TextEncoder().encode(checkUnixSocketPath(path));
  const b = new Uint8Array(2 + p.length + 1);
  new DataView(b.buffer).setUint16(0, AF_UNIX, true);
  b.set(p, 2);
  return { family: AF_UNIX, bytes: b };
}

/** A connected non-blocking socket fd as a Duplex. Owns the fd. */
export class FdSocket extends Duplex {
  private readonly watch: PollWatch;
  private wantRead = false;
  private pending: { data: Uint8Array; cb: (e?: Error | null) => void } | undefined;
  private fdClosed = false;

  constructor(
    private readonly libc: Libc,
    readonly fd: number,
  ) {
    super();
    this.watch = libc.poll(fd, {}, (ev) => this.onPoll(ev));
  }

  private updatePoll(): void {
    if (this.fdClosed) return;
    this.watch.update({ readable: this.wantRead, writable: this.pending !== undefined });
  }

  private onPoll(ev: { readable: boolean; writable: boolean; disconnect: boolean }): void {
    if (this.fdClosed) return;
    if (this.pending && (ev.writable || ev.disconnect)) this.flush();
    if (this.wantRead && (ev.readable || ev.disconnect)) this.drain();
  }

  private drain(): void {
    const buf = new Uint8Array(65536);
    while (this.wantRead && !this.fdClosed) {
      const n = this.libc.recv(this.fd, buf, buf.length, 0);
      if (n > 0) {
        if (!this.push(buf.slice(0, n))) this.wantRead = false;
        continue;
      }
      if (n === 0) {
        this.wantRead = false;
        this.push(null);
        break;
      }
      const errno = this.libc.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) break;
      this.destroy(new SyscallError("recv", errno));
      return;
    }
    this.updatePoll();
  }

  private flush(): void {
    const p = this.pending;
    if (!p) return;
    while (p.data.length > 0) {
      const n = this.libc.send(this.fd, p.data, p.data.length, MSG_NOSIGNAL);
      if (n >= 0) {
        p.data = p.data.subarray(n);
        continue;
      }
      const errno = this.libc.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) {
        this.updatePoll();
        return;
      }
      this.pending = undefined;
      this.updatePoll();
      p.cb(new SyscallError("send", errno));
      return;
    }
    this.pending = undefined;
    this.updatePoll();
    p.cb();
  }

  override _read(): void {
    this.wantRead = true;
    this.drain();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.pending = { data: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), cb };
    this.flush();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.libc.shutdown(this.fd, SHUT_WR);
    cb();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    if (!this.fdClosed) {
      this.fdClosed = true;
      this.watch.close();
      this.libc.close(this.fd);
    }
    cb(err);
  }
}

/** Connect a non-blocking stream socket; resolves once the connection is established. */
export function connectFdSocket(libc: Libc, addr: SockAddr): Promise<FdSocket> {
  const fd = libc.socket(addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Promise.reject(new SyscallError("socket", libc.errno()));
  const r = libc.connect(fd, addr.bytes, addr.bytes.length);
  if (r === 0) return Promise.resolve(new FdSocket(libc, fd));
  const errno = libc.errno();
  if (errno !== EINPROGRESS && errno !== EAGAIN) {
    libc.close(fd);
    return Promise.reject(new SyscallError("connect", errno));
  }
  return new Promise((resolve, reject) => {
    const watch = libc.poll(fd, { writable: true }, () => {
      watch.close();
      const soError = libc.getsockoptInt(fd, SOL_SOCKET, SO_ERROR);
      if (soError !== 0) {
        libc.close(fd);
        reject(new SyscallError("connect", soError < 0 ? libc.errno() : soError));
        return;
      }
      resolve(new FdSocket(libc, fd));
    });
  });
}

/** A failed socket/bind/listen/getsockname of a listener, as QGS_LISTEN_FAILED with the errno. */
function listenError(syscall: string, errno: number): TdxError {
  return new TdxError(
    "QGS_LISTEN_FAILED",
    `cannot listen on vsock: ${syscall} failed with ${errnoName(errno)}`,
    {
      cause: new SyscallError(syscall, errno),
      data: { syscall, errno: errnoName(errno) },
      hint: "vsock needs the vsock kernel modules (vhost_vsock on a host, vmw_vsock_virtio_transport in a guest) and a free port",
    },
  );
}

/** A listening socket that hands each accepted connection to `onConnection` as an FdSocket. */
export class FdListener {
  private readonly watch: PollWatch;
  private fdClosed = false;

  private constructor(
    private readonly libc: Libc,
    readonly fd: number,
    onConnection: (s: FdSocket) => void,
  ) {
    this.watch = libc.poll(fd, { readable: true }, () => {
      for (;;) {
        if (this.fdClosed) return;
        const c = libc.accept4(fd, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
          onConnection(new FdSocket(libc, c));
          continue;
        }
        const errno = libc.errno();
        if (errno === EINTR) continue;
        // EAGAIN: drained; anything else (EMFILE, ECONNABORTED) is per-connection: keep listening.
        return;
      }
    });
  }

  static listen(libc: Libc, addr: SockAddr, onConnection: (s: FdSocket) => void, backlog = 128): FdListener {
    const fd = libc.socket(addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw listenError("socket", libc.errno());
    if (libc.bind(fd, addr.bytes, addr.bytes.length) < 0) {
      const e = listenError("bind", libc.errno());
      libc.close(fd);
      throw e;
    }
    if (libc.listen(fd, backlog) < 0) {
      const e = listenError("listen", libc.errno());
      libc.close(fd);
      throw e;
    }
    return new FdListener(libc, fd, onConnection);
  }

  /** The vsock port actually bound (useful with VMADDR_PORT_ANY). */
  boundVsockPort(): number {
    const b = new Uint8Array(16);
    const len = Uint32Array.of(16);
    if (this.libc.getsockname(this.fd, b, len) < 0) throw listenError("getsockname", this.libc.errno());
    return new DataView(b.buffer).getUint32(4, true);
  }

  close(): void {
    if (this.fdClosed) return;
    this.fdClosed = true;
    this.watch.close();
    this.libc.close(this.fd);
  }
}
