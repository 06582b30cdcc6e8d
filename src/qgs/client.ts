/**
 * QGS client: one request per connection, as Intel's QGS expects. Speaks the framed message protocol 1.1
 * (GET_QUOTE, GET_COLLATERAL, GET_PLATFORM_INFO) or the bare 1024-byte TDREPORT form, over a unix socket, TCP
 * or AF_VSOCK, with a 30-second default timeout.
 */
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Collateral } from "../collateral/index.js";
import { asTdxError, TdxError } from "../errors.js";
import { checkQgsAddress, formatQgsAddress, parseQgsAddress, type QgsAddress } from "./address.js";
import {
  collateralFromResponse,
  decodeGetCollateralResponse,
  encodeGetCollateralRequest,
  type GetCollateralResponse,
  type PckCaName,
  type QgsCollateralParts,
} from "./collateral-message.js";
import { collateralFromQgsParts } from "./collateral-parts.js";
import { connectFdSocket, sockaddrVm } from "./fdsocket.js";
import { loadLibc } from "./ffi.js";
import { ByteAccumulator, encodeFrame, QGS_FRAME_PREFIX_SIZE } from "./framing.js";
import {
  decodeGetPlatformInfoResponse,
  encodeGetPlatformInfoRequest,
  platformInfoFromResponse,
  type QgsPlatformInfo,
} from "./platform-info-message.js";
import {
  decodeGetQuoteResponse,
  encodeGetQuoteRequest,
  type GetQuoteResponse,
  quoteFromResponse,
} from "./protocol.js";

export const QGS_TIMEOUT_MS = 30_000;
/** Largest response we accept: Linux 7.0's quote limit (131048) rounded up generously. */
export const QGS_MAX_RESPONSE_SIZE = 1024 * 1024;

export interface QgsClientOptions {
  address: QgsAddress | string;
  /** Whole-exchange timeout (connect, send, receive). Default 30 s, as the kernel, QEMU and QGS use. */
  timeoutMs?: number;
  /** Attestation key ids to offer (16 bytes each). Default: none, the QGS picks the TDQE. */
  idList?: Uint8Array;
  maxResponseSize?: number;
  /** Message minor version to send (default 1). */
  minorVersion?: number;
}

function resolveAddress(a: QgsAddress | string): QgsAddress {
  return typeof a === "string" ? parseQgsAddress(a) : checkQgsAddress(a);
}

function unreachable(addr: QgsAddress, e: unknown): TdxError {
  const code = (e as { code?: string }).code ?? "";
  const where = formatQgsAddress(addr);
  const hint =
    addr.kind === "vsock"
      ? "no QGS answers on that vsock port: start qgsd on the host (port 4050 by default) and check the VM has a vhost-vsock device"
      : code === "ENOENT"
        ? "the socket file does not exist: start the QGS (tdx-attest qgs serve --listen unix:PATH) or fix the path"
        : code === "EACCES"
          ? "permission denied on the QGS socket: run as a user allowed to reach it"
          : "start the QGS (tdx-attest qgs serve) or fix the address";
  return asTdxError(e, "QGS_UNREACHABLE", `cannot connect to the QGS at ${where}`, {
    hint,
    data: { address: where, errno: code },
  });
}

/** Open a stream to a QGS. vsock goes through the koffi layer; unix and TCP through node:net. */
export async function openQgsStream(
  address: QgsAddress | string,
  timeoutMs = QGS_TIMEOUT_MS,
): Promise<Duplex> {
  const addr = resolveAddress(address);
  if (addr.kind === "vsock") {
    const libc = await loadLibc();
    try {
      return await withTimeout(connectFdSocket(libc, sockaddrVm(addr.cid, addr.port)), timeoutMs, addr);
    } catch (e) {
      if (e instanceof TdxError) throw e;
      throw unreachable(addr, e);
    }
  }
  return new Promise((resolve, reject) => {
    const s = addr.kind === "unix" ? net.connect(addr.path) : net.connect(addr.port, addr.host);
    const timer = setTimeout(() => {
      s.destroy();
      reject(timeoutError(addr, timeoutMs, "connecting"));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(unreachable(addr, e));
    });
  });
}

function timeoutError(addr: QgsAddress, ms: number, phase: string): TdxError {
  return new TdxError(
    "QGS_TIMEOUT",
    `no answer from the QGS at ${formatQgsAddress(addr)} within ${ms} ms (${phase})`,
    {
      hint: "the QGS is stuck or cannot reach its PCCS; check the QGS log on the host",
      data: { address: formatQgsAddress(addr), timeoutMs: ms },
    },
  );
}

function withTimeout<T extends Duplex>(p: Promise<T>, ms: number, addr: QgsAddress): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(timeoutError(addr, ms, "connecting"));
      p.then(
        (s) => s.destroy(),
        () => {},
      );
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        if (done) v.destroy();
        else resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        if (!done) reject(e);
      },
    );
  });
}

/**
 * Send `payload` and collect the answer until `complete(received)` returns true or, when `untilEof`, the peer
 * closes. Resolves with everything received.
 */
async function exchange(
  addr: QgsAddress,
  payload: Uint8Array,
  timeoutMs: number,
  complete: (acc: ByteAccumulator) => boolean | TdxError,
  untilEof: boolean,
  maxSize: number,
): Promise<Uint8Array> {
  const started = Date.now();
  const stream = await openQgsStream(addr, timeoutMs);
  const remaining = Math.max(1, timeoutMs - (Date.now() - started));
  return new Promise((resolve, reject) => {
    const acc = new ByteAccumulator();
    let settled = false;
    const finish = (err: TdxError | null, value?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(
      () => finish(timeoutError(addr, timeoutMs, "waiting for the response")),
      remaining,
    );
    stream.on("data", (chunk: Uint8Array) => {
      acc.push(chunk);
      if (acc.length > maxSize + QGS_FRAME_PREFIX_SIZE) {
        finish(
          new TdxError("QGS_RESPONSE_TOO_LARGE", `QGS response exceeds ${maxSize} bytes`, {
            hint: "the peer is not a QGS, or raise maxResponseSize",
          }),
        );
        return;
      }
      if (untilEof) return;
      const verdict = complete(acc);
      if (verdict instanceof TdxError) finish(verdict);
      else if (verdict) finish(null, acc.bytes().slice());
    });
    stream.on("end", () => {
      if (untilEof) {
        finish(null, acc.bytes().slice());
        return;
      }
      finish(
        new TdxError(
          "QGS_CONNECTION_CLOSED",
          `the QGS at ${formatQgsAddress(addr)} closed the connection after ${acc.length} bytes without a complete response`,
          {
            hint: "the QGS refused the request (Intel's QGS closes without an answer when it cannot parse it); check its log",
            data: { received: acc.length },
          },
        ),
      );
    });
    stream.on("error", (e) =>
      finish(
        asTdxError(e, "QGS_CONNECTION_ERROR", `connection to the QGS at ${formatQgsAddress(addr)} failed`),
      ),
    );
    stream.write(payload);
  });
}

/** Send one framed QGS message and return the response message (without the length prefix). */
export async function qgsRoundTrip(message: Uint8Array, opts: QgsClientOptions): Promise<Uint8Array> {
  const addr = resolveAddress(opts.address);
  const max = opts.maxResponseSize ?? QGS_MAX_RESPONSE_SIZE;
  let announced = -1;
  const bytes = await exchange(
    addr,
    encodeFrame(message),
    opts.timeoutMs ?? QGS_TIMEOUT_MS,
    (acc) => {
      if (announced < 0 && acc.length >= QGS_FRAME_PREFIX_SIZE) {
        const b = acc.bytes(4);
        announced = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);
        if (announced > max)
          return new TdxError("QGS_RESPONSE_TOO_LARGE", `QGS response frame announces ${announced} bytes`, {
            hint: "the peer is not a QGS, or raise maxResponseSize",
          });
      }
      return announced >= 0 && acc.length >= QGS_FRAME_PREFIX_SIZE + announced;
    },
    false,
    max,
  );
  return bytes.subarray(QGS_FRAME_PREFIX_SIZE, QGS_FRAME_PREFIX_SIZE + announced);
}

export interface QgsQuoteResult {
  quote: Uint8Array;
  /** The attestation key id the QGS selected (empty when none was offered). */
  selectedId: Uint8Array;
  response: GetQuoteResponse;
}

/** GET_QUOTE_REQ for a TDREPORT; returns the quote or throws the mapped QGS error. */
export async function qgsGetQuote(tdReport: Uint8Array, opts: QgsClientOptions): Promise<QgsQuoteResult> {
  const req = encodeGetQuoteRequest(tdReport, {
    ...(opts.idList ? { idList: opts.idList } : {}),
    ...(opts.minorVersion !== undefined ? { minorVersion: opts.minorVersion } : {}),
  });
  const message = await qgsRoundTrip(req, opts);
  const response = decodeGetQuoteResponse(message);
  const quote = quoteFromResponse(response);
  return { quote, selectedId: response.selectedId, response };
}

export interface QgsCollateralResult {
  /** The collateral in the project's form (what `verify` takes and `writeCollateral` writes). */
  collateral: Collateral;
  /** The parts exactly as the QGS sent them (views into the response). */
  parts: QgsCollateralParts;
  response: GetCollateralResponse;
}

/**
 * GET_COLLATERAL_REQ for an FMSPC (6 bytes) and PCK CA, sent as Intel's tdx_att_get_collateral builds it
 * (the CA name with its NUL); the parts come back converted to the project's `Collateral`, or the mapped QGS
 * error (`QGS_UNEXPECTED` when the QGS has no collateral for them).
 */
export async function qgsGetCollateral(
  fmspc: Uint8Array,
  pckCa: PckCaName,
  opts: QgsClientOptions,
): Promise<QgsCollateralResult> {
  const req = encodeGetCollateralRequest(
    fmspc,
    pckCa,
    opts.minorVersion !== undefined ? { minorVersion: opts.minorVersion } : {},
  );
  const response = decodeGetCollateralResponse(
    await qgsRoundTrip(req, opts),
    opts.minorVersion !== undefined ? { requestMinorVersion: opts.minorVersion } : {},
  );
  const parts = collateralFromResponse(response);
  const collateral = collateralFromQgsParts(parts, {
    fmspc: Buffer.from(fmspc).toString("hex").toUpperCase(),
  });
  return { collateral, parts, response };
}

/** GET_PLATFORM_INFO_REQ: the QGS host's TDQE/PCE ISVSVNs, platform id (QE ID) and CPUSVN. */
export async function qgsGetPlatformInfo(opts: QgsClientOptions): Promise<QgsPlatformInfo> {
  const req = encodeGetPlatformInfoRequest(
    opts.minorVersion !== undefined ? { minorVersion: opts.minorVersion } : {},
  );
  return platformInfoFromResponse(decodeGetPlatformInfoResponse(await qgsRoundTrip(req, opts)));
}

/** The bare form: send the raw 1024-byte TDREPORT, read the raw quote until the QGS closes. */
export async function qgsGetQuoteBare(tdReport: Uint8Array, opts: QgsClientOptions): Promise<Uint8Array> {
  const addr = resolveAddress(opts.address);
  const quote = await exchange(
    addr,
    tdReport,
    opts.timeoutMs ?? QGS_TIMEOUT_MS,
    () => false,
    true,
    opts.maxResponseSize ?? QGS_MAX_RESPONSE_SIZE,
  );
  if (quote.length === 0)
    throw new TdxError(
      "QGS_CONNECTION_CLOSED",
      "the QGS closed the connection without a quote (bare request)",
      {
        hint: "the QGS refused the TDREPORT (a bare request gets no error message); check its log",
      },
    );
  return quote;
}
