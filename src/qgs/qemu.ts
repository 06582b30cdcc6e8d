/**
 * What upstream QEMU does with a TD's TDVMCALL<GetQuote> (guest-abi §7): check the shared buffer, mark it
 * IN_FLIGHT, wrap the guest's raw TDREPORT in a GET_QUOTE_REQ for the QGS, check the answer strictly (message
 * version exactly 1.1, no selected id, sizes consistent, fits the buffer) and complete the buffer. Used to
 * exercise the buffer codec and our QGS end to end the way a real VMM drives them.
 */
import { isTdxError } from "../errors.js";
import type { QgsAddress } from "./address.js";
import { QGS_TIMEOUT_MS, qgsRoundTrip } from "./client.js";
import { QGS_FRAME_PREFIX_SIZE } from "./framing.js";
import { decodeQgsHeader, encodeGetQuoteRequest, QGS_GET_QUOTE_FIXED_SIZE, QgsMsgType } from "./protocol.js";
import {
  completeGetQuoteBuffer,
  GET_QUOTE_HEADER_SIZE,
  GET_QUOTE_MAX_BUFFER,
  GET_QUOTE_VERSION,
  GetQuoteStatus,
  TdvmcallStatus,
} from "./tdvmcall.js";

export interface QemuGetQuoteOptions {
  qgs: QgsAddress | string;
  /** QEMU's TRANSACTION_TIMEOUT (30 s). */
  timeoutMs?: number;
  /** Guest-physical address of the buffer; QEMU requires 4 KiB alignment. Default 0 (aligned). */
  gpa?: bigint;
}

export interface QemuGetQuoteResult {
  /** What the TDVMCALL returns in R10 right away. */
  r10: bigint;
  /** Resolves when the buffer's status has left IN_FLIGHT (immediately when r10 is not SUCCESS). */
  completion: Promise<void>;
}

/** Handle a GetQuote on `buf` (the whole shared buffer; its length is the TDVMCALL size in R13). */
export function qemuHandleGetQuote(buf: Uint8Array, opts: QemuGetQuoteOptions): QemuGetQuoteResult {
  const done = Promise.resolve();
  const size = buf.length;
  if (size === 0) return { r10: TdvmcallStatus.INVALID_OPERAND, completion: done };
  if ((opts.gpa ?? 0n) % 4096n !== 0n || size % 4096 !== 0)
    return { r10: TdvmcallStatus.ALIGN_ERROR, completion: done };
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const inLen = dv.getUint32(16, true);
  if (
    dv.getBigUint64(0, true) !== GET_QUOTE_VERSION ||
    size > GET_QUOTE_MAX_BUFFER ||
    inLen > size - GET_QUOTE_HEADER_SIZE
  )
    return { r10: TdvmcallStatus.INVALID_OPERAND, completion: done };
  completeGetQuoteBuffer(buf, GetQuoteStatus.IN_FLIGHT);
  const report = buf.slice(GET_QUOTE_HEADER_SIZE, GET_QUOTE_HEADER_SIZE + inLen);
  const payloadLen = size - GET_QUOTE_HEADER_SIZE;
  const completion = (async () => {
    let message: Uint8Array;
    try {
      message = await qgsRoundTrip(encodeGetQuoteRequest(report), {
        address: opts.qgs,
        timeoutMs: opts.timeoutMs ?? QGS_TIMEOUT_MS,
        maxResponseSize: payloadLen - QGS_FRAME_PREFIX_SIZE,
      });
    } catch (e) {
      const unreachable = isTdxError(e) && e.code === "QGS_UNREACHABLE";
      completeGetQuoteBuffer(buf, unreachable ? GetQuoteStatus.SERVICE_UNAVAILABLE : GetQuoteStatus.ERROR);
      return;
    }
    const quote = strictQuote(message, payloadLen);
    if (quote === null) completeGetQuoteBuffer(buf, GetQuoteStatus.ERROR);
    else completeGetQuoteBuffer(buf, GetQuoteStatus.SUCCESS, quote);
  })();
  return { r10: TdvmcallStatus.SUCCESS, completion };
}

/** QEMU's checks on the QGS answer; null when any fails. */
function strictQuote(message: Uint8Array, payloadLen: number): Uint8Array | null {
  const len = message.length;
  if (len === 0 || len > payloadLen - QGS_FRAME_PREFIX_SIZE || len < QGS_GET_QUOTE_FIXED_SIZE) return null;
  const h = decodeQgsHeader(message);
  if (h.majorVersion !== 1 || h.minorVersion !== 1) return null;
  if (
    h.type !== QgsMsgType.GET_QUOTE_RESP ||
    h.size > payloadLen - QGS_FRAME_PREFIX_SIZE ||
    h.errorCode !== 0
  )
    return null;
  const dv = new DataView(message.buffer, message.byteOffset, message.byteLength);
  if (dv.getUint32(16, true) !== 0) return null;
  const quoteSize = dv.getUint32(20, true);
  if (quoteSize !== len - QGS_GET_QUOTE_FIXED_SIZE) return null;
  return message.slice(QGS_GET_QUOTE_FIXED_SIZE);
}
