/**
 * A Quote Generation Service speaking Intel's message protocol 1.1 (guest-abi §6): one request per
 * connection, framed GET_QUOTE_REQ or the bare 1024-byte TDREPORT, answered by a pluggable quoting backend
 * (the simulated Quoting Enclave in practice). Every connection has a 30-second deadline from accept; bad
 * input gets the protocol's error response or a closed connection, never a crash.
 */
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import net from "node:net";
import type { Duplex } from "node:stream";
import { isTdxError, TdxError } from "../errors.js";
import { formatQgsAddress, parseQgsAddress, type QgsAddress, VMADDR_CID_ANY } from "./address.js";
import { FdListener, sockaddrVm } from "./fdsocket.js";
import { loadLibc } from "./ffi.js";
import { ByteAccumulator, encodeFrame, QGS_FRAME_PREFIX_SIZE } from "./framing.js";
import {
  decodeGetQuoteRequest,
  encodeGetQuoteErrorResponse,
  encodeGetQuoteResponse,
  QGS_MSG_MAJOR_VERSION,
  QgsErrorCode,
  QgsMsgType,
  qgsMessageType,
  TDQE_ATTESTATION_KEY_ID,
} from "./protocol.js";
import { checkTdReportShape, TDREPORT_BYTES } from "./tdreport.js";

/** Turns a TDREPORT into a quote. The server has already checked the report's shape. */
export interface QuotingBackend {
  quote(tdReport: Uint8Array): Promise<Uint8Array>;
  /** One line for logs and `status`, e.g. "simulated TDQE (state ./data/sim)". */
  describe(): string;
}

export type QgsServerEvent =
  | { type: "quote"; form: "framed" | "bare"; bytes: number; ms: number }
  | { type: "refused"; form: "framed" | "bare" | "unknown"; code: string; message: string }
  | { type: "timeout" }
  | { type: "disconnect"; received: number };

export interface QgsServerOptions {
  backend: QuotingBackend;
  /** Where to listen; a string like "unix:/run/qgs.socket", "tcp:127.0.0.1:0", "vsock:4050". */
  listen: QgsAddress | string;
  /** Per-connection deadline from accept. Default 30 s (Intel's QGS_TIMEOUT). */
  timeoutMs?: number;
  /** Largest framed request accepted. Default 64 KiB (Intel's QGS cannot take more than 4092 bytes). */
  maxMessageSize?: number;
  onEvent?: (e: QgsServerEvent) => void;
}

export interface QgsServerStats {
  connections: number;
  quotes: number;
  refused: number;
  timeouts: number;
}

export interface QgsServer {
  /** The bound address (TCP port and vsock port resolved). */
  address: QgsAddress;
  stats: QgsServerStats;
  close(): Promise<void>;
}

export const QGS_SERVER_TIMEOUT_MS = 30_000;
export const QGS_SERVER_MAX_MESSAGE = 64 * 1024;
/** Bytes needed to tell a framed message (4 + 16-byte header) from a bare TDREPORT, as Intel's QGS does. */
const SNIFF_BYTES = QGS_FRAME_PREFIX_SIZE + 16;

function errorCodeOf(e: unknown): number {
  if (isTdxError(e) && typeof e.data?.qgsErrorCode === "number") return e.data.qgsErrorCode;
  return QgsErrorCode.UNEXPECTED;
}

function keyIdListOk(list: Uint8Array): boolean {
  if (list.length === 0) return true;
  if (list.length % 16 !== 0) return false;
  for (let i = 0; i < list.length; i += 16) {
    const id = list.subarray(i, i + 16);
    if (id.every((b, j) => b === TDQE_ATTESTATION_KEY_ID[j])) return true;
  }
  return false;
}

/** Serve one connection. Exported so tests and other transports can drive it with any Duplex. */
export function serveQgsConnection(
  stream: Duplex,
  backend: QuotingBackend,
  opts: {
    timeoutMs?: number;
    maxMessageSize?: number;
    onEvent?: (e: QgsServerEvent) => void;
    stats?: QgsServerStats;
  },
): void {
  const timeoutMs = opts.timeoutMs ?? QGS_SERVER_TIMEOUT_MS;
  const maxMessage = opts.maxMessageSize ?? QGS_SERVER_MAX_MESSAGE;
  const emit = (e: QgsServerEvent) => {
    try {
      opts.onEvent?.(e);
    } catch {
      // a faulty logger must not take the server down
    }
  };
  const acc = new ByteAccumulator();
  let mode: "framed" | "bare" | undefined;
  let busy = false;
  let finished = false;

  const close = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    stream.destroy();
  };
  const timer = setTimeout(() => {
    if (opts.stats) opts.stats.timeouts++;
    emit({ type: "timeout" });
    close();
  }, timeoutMs);
  timer.unref?.();

  const reply = (bytes: Uint8Array) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    stream.end(bytes, () => stream.destroy());
  };
  const refuse = (form: "framed" | "bare" | "unknown", e: unknown, response?: Uint8Array) => {
    if (opts.stats) opts.stats.refused++;
    emit({
      type: "refused",
      form,
      code: isTdxError(e) ? e.code : "QGS_UNEXPECTED",
      message: e instanceof Error ? e.message : String(e),
    });
    if (response) reply(response);
    else close();
  };

  const handleFramed = async (message: Uint8Array) => {
    const started = Date.now();
    let type: number;
    try {
      type = qgsMessageType(message);
    } catch (e) {
      refuse("framed", e, encodeFrame(encodeGetQuoteErrorResponse(errorCodeOf(e))));
      return;
    }
    if (type !== QgsMsgType.GET_QUOTE_REQ) {
      // Intel's QGS has no answer for these here: close without data.
      refuse("framed", new TdxError("QGS_UNSUPPORTED_TYPE", `message type ${type} is not served`));
      return;
    }
    let report: Uint8Array;
    let idList: Uint8Array;
    try {
      ({ report, idList } = decodeGetQuoteRequest(message));
    } catch (e) {
      refuse("framed", e, encodeFrame(encodeGetQuoteErrorResponse(errorCodeOf(e))));
      return;
    }
    if (!keyIdListOk(idList)) {
      refuse(
        "framed",
        new TdxError("QGS_UNSUPPORTED_KEY_ID", "no offered attestation key id is the TDQE's"),
        encodeFrame(encodeGetQuoteErrorResponse(QgsErrorCode.UNEXPECTED)),
      );
      return;
    }
    const shape = checkTdReportShape(report);
    if (shape) {
      refuse("framed", shape, encodeFrame(encodeGetQuoteErrorResponse(QgsErrorCode.UNEXPECTED)));
      return;
    }
    let quote: Uint8Array;
    try {
      quote = await backend.quote(report);
    } catch (e) {
      refuse("framed", e, encodeFrame(encodeGetQuoteErrorResponse(QgsErrorCode.UNEXPECTED)));
      return;
    }
    if (opts.stats) opts.stats.quotes++;
    emit({ type: "quote", form: "framed", bytes: quote.length, ms: Date.now() - started });
    reply(
      encodeFrame(
        encodeGetQuoteResponse(quote, idList.length > 0 ? { selectedId: TDQE_ATTESTATION_KEY_ID } : {}),
      ),
    );
  };

  const handleBare = async (report: Uint8Array) => {
    const started = Date.now();
    const shape = checkTdReportShape(report);
    if (shape) {
      refuse("bare", shape);
      return;
    }
    try {
      const quote = await backend.quote(report);
      if (opts.stats) opts.stats.quotes++;
      emit({ type: "quote", form: "bare", bytes: quote.length, ms: Date.now() - started });
      reply(quote);
    } catch (e) {
      refuse("bare", e);
    }
  };

  const advance = () => {
    if (finished || busy) return;
    if (mode === undefined) {
      if (acc.length < SNIFF_BYTES) return;
      const head = acc.bytes(SNIFF_BYTES);
      const dv = new DataView(head.buffer, head.byteOffset, SNIFF_BYTES);
      const announced = dv.getUint32(0, false);
      const headerSize = dv.getUint32(QGS_FRAME_PREFIX_SIZE + 8, true);
      // Intel's rule: a non-zero prefix that equals header.size marks a framed message; anything else is
      // taken as a bare TDREPORT.
      mode = announced !== 0 && announced === headerSize ? "framed" : "bare";
      if (mode === "framed" && announced > maxMessage) {
        const major = dv.getUint16(QGS_FRAME_PREFIX_SIZE, true);
        const type = dv.getUint32(QGS_FRAME_PREFIX_SIZE + 4, true);
        const e = new TdxError(
          "QGS_FRAME_TOO_LARGE",
          `frame announces ${announced} bytes, limit ${maxMessage}`,
        );
        if (major === QGS_MSG_MAJOR_VERSION && type === QgsMsgType.GET_QUOTE_REQ)
          refuse("framed", e, encodeFrame(encodeGetQuoteErrorResponse(QgsErrorCode.INVALID_SIZE)));
        else refuse("framed", e);
        return;
      }
    }
    if (mode === "framed") {
      const announced = new DataView(acc.bytes(4).buffer, acc.bytes(4).byteOffset, 4).getUint32(0, false);
      if (acc.length < QGS_FRAME_PREFIX_SIZE + announced) return;
      busy = true;
      const message = acc.bytes(QGS_FRAME_PREFIX_SIZE + announced).slice(QGS_FRAME_PREFIX_SIZE);
      void handleFramed(message);
      return;
    }
    if (acc.length > TDREPORT_BYTES) {
      refuse(
        "bare",
        new TdxError("QGS_NOT_A_MESSAGE", `${acc.length} bytes are neither a framed message nor a TDREPORT`),
      );
      return;
    }
    if (acc.length < TDREPORT_BYTES) return;
    busy = true;
    void handleBare(acc.bytes().slice());
  };

  stream.on("data", (chunk: Uint8Array) => {
    if (finished) return;
    acc.push(chunk);
    if (acc.length > maxMessage + QGS_FRAME_PREFIX_SIZE && !busy) {
      refuse("unknown", new TdxError("QGS_FRAME_TOO_LARGE", `more than ${maxMessage} bytes received`));
      return;
    }
    advance();
  });
  stream.on("end", () => {
    if (!busy && !finished) {
      emit({ type: "disconnect", received: acc.length });
      close();
    }
  });
  stream.on("error", () => close());
  stream.on("close", () => {
    clearTimeout(timer);
    finished = true;
  });
}

function prepareUnixPath(path: string): void {
  if (!existsSync(path)) return;
  const st = lstatSync(path);
  if (!st.isSocket())
    throw new TdxError("QGS_ADDRESS_IN_USE", `${path} exists and is not a socket`, {
      hint: "choose another --listen path or remove the file",
    });
  // A stale socket from a previous run: listen() would fail with EADDRINUSE. A live server is detected by
  // the caller's listen error after we refuse to unlink anything that answers.
  unlinkSync(path);
}

async function unixPathLive(path: string): Promise<boolean> {
  if (!existsSync(path)) return false;
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Start a QGS on a unix socket, TCP or vsock address. */
export async function startQgsServer(opts: QgsServerOptions): Promise<QgsServer> {
  const addr = typeof opts.listen === "string" ? parseQgsAddress(opts.listen, VMADDR_CID_ANY) : opts.listen;
  const stats: QgsServerStats = { connections: 0, quotes: 0, refused: 0, timeouts: 0 };
  const sockets = new Set<Duplex>();
  const onStream = (s: Duplex) => {
    stats.connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    serveQgsConnection(s, opts.backend, {
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.maxMessageSize !== undefined ? { maxMessageSize: opts.maxMessageSize } : {}),
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
      stats,
    });
  };
  const destroyAll = () => {
    for (const s of sockets) s.destroy();
  };

  if (addr.kind === "vsock") {
    const libc = await loadLibc();
    let listener: FdListener;
    try {
      listener = FdListener.listen(libc, sockaddrVm(addr.cid, addr.port), onStream);
    } catch (e) {
      throw new TdxError("QGS_LISTEN_FAILED", `cannot listen on ${formatQgsAddress(addr)}`, {
        cause: e,
        hint: "vsock needs the vsock kernel modules (vhost_vsock on a host, vmw_vsock_virtio_transport in a guest) and a free port",
      });
    }
    const bound: QgsAddress = { kind: "vsock", cid: addr.cid, port: listener.boundVsockPort() };
    return {
      address: bound,
      stats,
      close: async () => {
        listener.close();
        destroyAll();
      },
    };
  }

  if (addr.kind === "unix") {
    if (await unixPathLive(addr.path))
      throw new TdxError("QGS_ADDRESS_IN_USE", `a server already answers on ${addr.path}`, {
        hint: "stop the other QGS or choose another --listen path",
      });
    prepareUnixPath(addr.path);
  }
  const server = net.createServer({ allowHalfOpen: true }, onStream);
  server.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error) =>
      reject(
        new TdxError("QGS_LISTEN_FAILED", `cannot listen on ${formatQgsAddress(addr)}: ${e.message}`, {
          cause: e,
          hint: "the address is in use or not permitted; choose another --listen address",
        }),
      );
    server.once("error", onError);
    const done = () => {
      server.off("error", onError);
      resolve();
    };
    if (addr.kind === "unix") server.listen(addr.path, done);
    else server.listen(addr.port, addr.host, done);
  });
  const a = server.address();
  const bound: QgsAddress =
    addr.kind === "unix" || a === null || typeof a === "string"
      ? addr
      : { kind: "tcp", host: addr.host, port: a.port };
  return {
    address: bound,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        destroyAll();
        server.close(() => resolve());
      }),
  };
}
