/** Where a QGS listens or is reached: `unix:PATH`, `tcp:HOST:PORT`, `vsock:PORT` or `vsock:CID:PORT`. */
import { TdxError } from "../errors.js";

export type QgsAddress =
  | { kind: "unix"; path: string }
  | { kind: "tcp"; host: string; port: number }
  | { kind: "vsock"; cid: number; port: number };

/** Intel's QGS default port and the host CID a guest dials (guest-abi §6.6). */
export const QGS_DEFAULT_VSOCK_PORT = 4050;
export const VMADDR_CID_ANY = 0xffffffff;
export const VMADDR_CID_LOCAL = 1;
export const VMADDR_CID_HOST = 2;
/** Intel's QGS socket path when it runs with port = 0. */
export const QGS_DEFAULT_UNIX_PATH = "/var/run/tdx-qgs/qgs.socket";

/**
 * The longest unix socket path in bytes: sockaddr_un's sun_path holds 108 with the terminating NUL. Node
 * does not refuse a longer path: it binds and connects to the path cut at 107 bytes.
 */
export const UNIX_SOCKET_PATH_MAX_BYTES = 107;

/** A unix socket path that fits sockaddr_un, else QGS_SOCKET_PATH_TOO_LONG with the limit. */
export function checkUnixSocketPath(path: string): string {
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > UNIX_SOCKET_PATH_MAX_BYTES)
    throw new TdxError(
      "QGS_SOCKET_PATH_TOO_LONG",
      `the unix socket path is ${bytes} bytes; at most ${UNIX_SOCKET_PATH_MAX_BYTES} fit in sockaddr_un: ${path}`,
      {
        field: "address",
        data: { bytes, max: UNIX_SOCKET_PATH_MAX_BYTES },
        hint: "use a shorter path (e.g. /run/tdx-qgs/qgs.socket), or cd to the socket's directory and give a relative path",
      },
    );
  return path;
}

/** Check an address given as an object as parseQgsAddress checks text (the unix path's length). */
export function checkQgsAddress(a: QgsAddress): QgsAddress {
  if (a.kind === "unix") checkUnixSocketPath(a.path);
  return a;
}

function badAddress(text: string, why: string): TdxError {
  return new TdxError("QGS_BAD_ADDRESS", `cannot use QGS address "${text}": ${why}`, {
    field: "address",
    hint: "write unix:/path/to/qgs.socket, tcp:127.0.0.1:4050, vsock:4050 or vsock:CID:PORT",
  });
}

function parsePort(text: string, s: string, max: number): number {
  if (!/^\d+$/.test(s)) throw badAddress(text, `"${s}" is not a number`);
  const n = Number(s);
  if (n > max) throw badAddress(text, `${n} is out of range`);
  return n;
}

/**
 * Parse an address. `vsock:PORT` means CID `defaultCid`: VMADDR_CID_HOST (2) for a client inside a TD,
 * VMADDR_CID_ANY for a server.
 */
export function parseQgsAddress(text: string, defaultCid: number = VMADDR_CID_HOST): QgsAddress {
  const colon = text.indexOf(":");
  if (colon < 0) throw badAddress(text, "no scheme");
  const scheme = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (scheme === "unix") {
    if (rest.length === 0) throw badAddress(text, "empty path");
    return { kind: "unix", path: checkUnixSocketPath(rest) };
  }
  if (scheme === "tcp") {
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(rest);
    if (!m) throw badAddress(text, "expected tcp:HOST:PORT");
    const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
    return { kind: "tcp", host, port: parsePort(text, m[2]!, 65535) };
  }
  if (scheme === "vsock") {
    const parts = rest.split(":");
    if (parts.length === 1)
      return { kind: "vsock", cid: defaultCid, port: parsePort(text, parts[0]!, 0xffffffff) };
    if (parts.length === 2)
      return {
        kind: "vsock",
        cid: parsePort(text, parts[0]!, 0xffffffff),
        port: parsePort(text, parts[1]!, 0xffffffff),
      };
    throw badAddress(text, "expected vsock:PORT or vsock:CID:PORT");
  }
  throw badAddress(text, `unknown scheme "${scheme}"`);
}

export function formatQgsAddress(a: QgsAddress): string {
  if (a.kind === "unix") return `unix:${a.path}`;
  if (a.kind === "tcp") return `tcp:${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
  return `vsock:${a.cid}:${a.port}`;
}
