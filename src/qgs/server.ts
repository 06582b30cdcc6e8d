/**
 * A Quote Generation Service speaking Intel's message protocol 1.1 (guest-abi §6): one request per
 * connection, framed GET_QUOTE_REQ, GET_COLLATERAL_REQ or GET_PLATFORM_INFO_REQ, or the bare 1024-byte
 * TDREPORT, answered by a pluggable backend (the simulated platform in practice). Every connection has a
 * 30-second deadline from accept; bad input gets the protocol's error response or a closed connection, never
 * a crash.
 *
 * What gets an answer follows Intel's QGS (intel/confidential-computing.tee.dcap QuoteGeneration/
 * quote_wrapper/qgs/qgs_ql_logic.cpp `get_resp`, qgs_server.cpp): the three request types it serves are
 * answered with their response type, an error code in it when the request cannot be served; every other type
 * (responses 1/3/5, GET_QUOTE_MIG_REQ 6, types beyond Intel's enumeration) gets the connection closed
 * without data, as `get_resp` returns an empty buffer for them and qgs_server closes on an empty response.
 */
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import net from "node:net";
import type { Duplex } from "node:stream";
import { isTdxError, TdxError } from "../errors.js";
import {
  checkQgsAddress,
  formatQgsAddress,
  parseQgsAddress,
  type QgsAddress,
  VMADDR_CID_ANY,
} from "./address.js";
import {
  decodeGetCollateralRequest,
  encodeGetCollateralResponse,
  type PckCaName,
  pckCaNameOf,
  type QgsCollateralParts,
} from "./collateral-message.js";
import { FdListener, sockaddrVm } from "./fdsocket.js";
import { loadLibc } from "./ffi.js";
import { ByteAccumulator, encodeFrame, QGS_FRAME_PREFIX_SIZE } from "./framing.js";
import {
  decodeGetPlatformInfoRequest,
  encodeGetPlatformInfoResponse,
  type QgsPlatformInfo,
} from "./platform-info-message.js";
import {
  decodeGetQuoteRequest,
  decodeQgsHeader,
  encodeErrorResponse,
  encodeGetQuoteResponse,
  QGS_HEADER_SIZE,
  QGS_MSG_MAJOR_VERSION,
  QGS_RESPONSE_TYPE,
  QgsErrorCode,
  QgsMsgType,
} from "./protocol.js";
import { checkTdReportShape, TDREPORT_BYTES } from "./tdreport.js";

/**
 * What the QGS serves from: the Quoting Enclave, and where the platform has them, its collateral and
 * platform info. The server has already checked a TDREPORT's shape and parsed every request.
 */
export interface QuotingBackend {
  quote(tdReport: Uint8Array): Promise<Uint8Array>;
  /** One line for logs and `status`, e.g. "simulated TDQE (state ./data/sim)". */
  describe(): string;
  /**
   * GET_COLLATERAL_REQ: the collateral for an FMSPC and PCK CA as the QPL would return it, or null when there
   * is none for them. Absent: the backend has no collateral, every request gets UNEXPECTED.
   */
  collateral?(fmspc: Uint8Array, pckCa: PckCaName): Promise<QgsCollateralParts | null>;
  /** GET_PLATFORM_INFO_REQ (`tee_att_get_platform_info`). Absent: every request gets UNEXPECTED. */
  platformInfo?(): Promise<QgsPlatformInfo>;
}

export type QgsServerEvent =
  | { type: "quote"; form: "framed" | "bare"; bytes: number; ms: number }
  | { type: "collateral"; fmspc: string; pckCa: PckCaName; bytes: number; ms: number }
  | { type: "platform-info"; ms: number }
  | { type: "refused"; form: "framed" | "bare" | "unknown"; code: string; message: string }
  | { type: "timeout" }
  | { type: "disconnect"; received: number };

export interface QgsServerOptions {
  backend: QuotingBackend;
  /** Where to listen; a string like "unix:/run/qgs.socket", "tcp:127.0.0.1:0", "vsock:4050". */
  listen: QgsAddress | string;
  /** Per-connection deadline from accept. Default 30 s (Intel's QGS_TIMEOUT). */
  timeoutMs?: number;
  /**
   * Largest framed request accepted; a larger one of a served type gets INVALID_SIZE without being read (Intel's
   * QGS closes it), any other is closed. Default 1 MiB (Intel's QGS limit).
   */
  maxMessageSize?: number;
  onEvent?: (e: QgsServerEvent) => void;
}

export interface QgsServerStats {
  connections: number;
  quotes: number;
  collaterals: number;
  platformInfos: number;
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
export const QGS_SERVER_MAX_MESSAGE = 1024 * 1024;
/** Bytes needed to tell a framed message (4 + 16-byte header) from a bare TDREPORT, as Intel's QGS does. */
const SNIFF_BYTES = QGS_FRAME_PREFIX_SIZE + 16;

function errorCodeOf(e: unknown): number {
  if (isTdxError(e) && typeof e.data?.qgsErrorCode === "number") return e.data.qgsErrorCode;
  return QgsErrorCode.UNEXPECTED;
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

  /** A request the server has no answer for: closed without data, as Intel's QGS does. */
  const unserved = (header: { majorVersion: number; type: number } | null, length: number) => {
    const what =
      header === null
        ? `a ${length}-byte framed message without a QGS header`
        : `message type ${header.type} (major version ${header.majorVersion})`;
    refuse(
      "framed",
      new TdxError("QGS_UNSUPPORTED_TYPE", `${what} is not a request this QGS serves; closing`),
    );
  };

  const handleFramed = async (message: Uint8Array) => {
    if (message.length < QGS_HEADER_SIZE) {
      unserved(null, message.length);
      return;
    }
    const header = decodeQgsHeader(message);
    const responseType = QGS_RESPONSE_TYPE[header.type];
    if (responseType === undefined) {
      unserved(header, message.length);
      return;
    }
    const fail = (e: unknown, code = errorCodeOf(e)) =>
      refuse("framed", e, encodeFrame(encodeErrorResponse(code, responseType)));
    try {
      if (header.type === QgsMsgType.GET_QUOTE_REQ) await serveQuote(message, fail);
      else if (header.type === QgsMsgType.GET_COLLATERAL_REQ) await serveCollateral(message, fail);
      else await servePlatformInfo(message, fail);
    } catch (e) {
      // A request that does not parse, or a backend that fails: Intel's get_resp answers UNEXPECTED for
      // every inflate failure (qgs_ql_logic.cpp), whatever the parser's own code.
      fail(e, QgsErrorCode.UNEXPECTED);
    }
  };

  const serveQuote = async (message: Uint8Array, fail: (e: unknown, code?: number) => void) => {
    const started = Date.now();
    // The attestation key id list is not read (Intel's QGS passes NULL to tee_att_get_quote and answers
    // with no selected id, which QEMU's reader requires).
    const { report } = decodeGetQuoteRequest(message);
    const shape = checkTdReportShape(report);
    if (shape) {
      fail(shape, QgsErrorCode.UNEXPECTED);
      return;
    }
    let quote: Uint8Array;
    try {
      quote = await backend.quote(report);
    } catch (e) {
      fail(e, QgsErrorCode.UNEXPECTED);
      return;
    }
    if (opts.stats) opts.stats.quotes++;
    emit({ type: "quote", form: "framed", bytes: quote.length, ms: Date.now() - started });
    reply(encodeFrame(encodeGetQuoteResponse(quote)));
  };

  const serveCollateral = async (message: Uint8Array, fail: (e: unknown, code?: number) => void) => {
    const started = Date.now();
    const request = decodeGetCollateralRequest(message);
    const fmspc = Buffer.from(request.fmspc).toString("hex").toUpperCase();
    const pckCa = pckCaNameOf(request.pckCa);
    // Intel's QGS reports every failure past parsing as UNEXPECTED (qgs_ql_logic.cpp GET_COLLATERAL_REQ).
    if (pckCa === null) {
      fail(
        new TdxError(
          "QGS_UNSUPPORTED_PCK_CA",
          `PCK CA ${JSON.stringify(Buffer.from(request.pckCa).toString("latin1"))} is neither "platform" nor "processor"`,
        ),
        QgsErrorCode.UNEXPECTED,
      );
      return;
    }
    if (backend.collateral === undefined) {
      fail(new TdxError("QGS_NO_COLLATERAL", "this backend has no collateral"), QgsErrorCode.UNEXPECTED);
      return;
    }
    let response: Uint8Array | null;
    try {
      const parts = await backend.collateral(request.fmspc, pckCa);
      response =
        parts === null
          ? null
          : encodeGetCollateralResponse(parts, { requestMinorVersion: request.header.minorVersion });
    } catch (e) {
      fail(e, QgsErrorCode.UNEXPECTED);
      return;
    }
    if (response === null) {
      fail(
        new TdxError("QGS_NO_COLLATERAL", `no collateral for FMSPC ${fmspc} (${pckCa} CA)`),
        QgsErrorCode.UNEXPECTED,
      );
      return;
    }
    if (opts.stats) opts.stats.collaterals++;
    emit({ type: "collateral", fmspc, pckCa, bytes: response.length, ms: Date.now() - started });
    reply(encodeFrame(response));
  };

  const servePlatformInfo = async (message: Uint8Array, fail: (e: unknown, code?: number) => void) => {
    const started = Date.now();
    decodeGetPlatformInfoRequest(message);
    if (backend.platformInfo === undefined) {
      fail(
        new TdxError("QGS_NO_PLATFORM_INFO", "this backend has no platform info"),
        QgsErrorCode.UNEXPECTED,
      );
      return;
    }
    let response: Uint8Array;
    try {
      response = encodeGetPlatformInfoResponse(await backend.platformInfo());
    } catch (e) {
      fail(e, QgsErrorCode.UNEXPECTED);
      return;
    }
    if (opts.stats) opts.stats.platformInfos++;
    emit({ type: "platform-info", ms: Date.now() - started });
    reply(encodeFrame(response));
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
      // taken as a bare TDREPORT. (Intel also asks qgs_msg_get_type to accept the header; a frame it would
      // refuse there is answered here by its parser's error reply instead of waiting for 1024 bytes.)
      mode = announced !== 0 && announced === headerSize ? "framed" : "bare";
      if (mode === "framed" && announced > maxMessage) {
        const major = dv.getUint16(QGS_FRAME_PREFIX_SIZE, true);
        const responseType = QGS_RESPONSE_TYPE[dv.getUint32(QGS_FRAME_PREFIX_SIZE + 4, true)];
        const e = new TdxError(
          "QGS_FRAME_TOO_LARGE",
          `frame announces ${announced} bytes, limit ${maxMessage}`,
        );
        // A served request type gets its INVALID_SIZE reply without the body being read (Intel's QGS closes
        // a message over its 1 MiB limit without a reply); anything else is closed.
        if (major === QGS_MSG_MAJOR_VERSION && responseType !== undefined)
          refuse("framed", e, encodeFrame(encodeErrorResponse(QgsErrorCode.INVALID_SIZE, responseType)));
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
  const addr =
    typeof opts.listen === "string"
      ? parseQgsAddress(opts.listen, VMADDR_CID_ANY)
      : checkQgsAddress(opts.listen);
  const stats: QgsServerStats = {
    connections: 0,
    quotes: 0,
    collaterals: 0,
    platformInfos: 0,
    refused: 0,
    timeouts: 0,
  };
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
    let port: number;
    try {
      listener = FdListener.listen(libc, sockaddrVm(addr.cid, addr.port), onStream);
      try {
        port = listener.boundVsockPort();
      } catch (e) {
        listener.close();
        throw e;
      }
    } catch (e) {
      throw new TdxError("QGS_LISTEN_FAILED", `cannot listen on ${formatQgsAddress(addr)}`, {
        cause: e,
        hint: "vsock needs the vsock kernel modules (vhost_vsock on a host, vmw_vsock_virtio_transport in a guest) and a free port",
      });
    }
    const bound: QgsAddress = { kind: "vsock", cid: addr.cid, port };
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
