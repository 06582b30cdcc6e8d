/**
 * The TDVMCALL<GetQuote> shared buffer (guest-abi §1.6, §7): a 24-byte little-endian header
 * {u64 version = 1, u64 status, u32 in_len, u32 out_len} followed by data. The TD writes the request
 * (Linux and upstream QEMU: the raw 1024-byte TDREPORT) and the VMM overwrites it with the response.
 */
import { TdxError } from "../errors.js";

export const GET_QUOTE_HEADER_SIZE = 24;
export const GET_QUOTE_VERSION = 1n;
/** QEMU refuses buffers larger than this (TDX_GET_QUOTE_MAX_BUF_LEN). */
export const GET_QUOTE_MAX_BUFFER = 128 * 1024;

export const GetQuoteStatus = {
  SUCCESS: 0x0000000000000000n,
  IN_FLIGHT: 0xffffffffffffffffn,
  ERROR: 0x8000000000000000n,
  SERVICE_UNAVAILABLE: 0x8000000000000001n,
} as const;

/** TDVMCALL return codes in R10 (what the VMM answers the hypercall itself with). */
export const TdvmcallStatus = {
  SUCCESS: 0n,
  RETRY: 1n,
  INVALID_OPERAND: 0x8000000000000000n,
  GPA_INUSE: 0x8000000000000001n,
  ALIGN_ERROR: 0x8000000000000002n,
  SUBFUNC_UNSUPPORTED: 0x8000000000000003n,
} as const;

export function getQuoteStatusName(status: bigint): string {
  for (const [name, value] of Object.entries(GetQuoteStatus)) if (value === status) return name;
  return `0x${status.toString(16)}`;
}

export interface GetQuoteBuffer {
  version: bigint;
  status: bigint;
  statusName: string;
  inLen: number;
  outLen: number;
  /** Bytes at offset 24 of length out_len when status is SUCCESS, else in_len (a view). */
  data: Uint8Array;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Build the shared buffer a TD hands to GetQuote: version 1, status 0, out_len 0, payload at 24. */
export function encodeGetQuoteBuffer(payload: Uint8Array, bufferSize = 8192): Uint8Array {
  if (GET_QUOTE_HEADER_SIZE + payload.length > bufferSize)
    throw new TdxError(
      "TDVMCALL_BUFFER_TOO_SMALL",
      `a ${payload.length}-byte payload does not fit a ${bufferSize}-byte GetQuote buffer`,
      { field: "in_len", hint: "use a larger shared buffer (Linux 7.0 uses 128 KiB)" },
    );
  const out = new Uint8Array(bufferSize);
  const v = dv(out);
  v.setBigUint64(0, GET_QUOTE_VERSION, true);
  v.setBigUint64(8, 0n, true);
  v.setUint32(16, payload.length, true);
  v.setUint32(20, 0, true);
  out.set(payload, GET_QUOTE_HEADER_SIZE);
  return out;
}

export function decodeGetQuoteBuffer(buf: Uint8Array): GetQuoteBuffer {
  if (buf.length < GET_QUOTE_HEADER_SIZE)
    throw new TdxError(
      "TDVMCALL_BUFFER_TRUNCATED",
      `GetQuote buffer of ${buf.length} bytes has no 24-byte header`,
      { offset: buf.length, hint: "pass the whole shared buffer" },
    );
  const v = dv(buf);
  const version = v.getBigUint64(0, true);
  const status = v.getBigUint64(8, true);
  const inLen = v.getUint32(16, true);
  const outLen = v.getUint32(20, true);
  const len = status === GetQuoteStatus.SUCCESS && outLen > 0 ? outLen : inLen;
  if (GET_QUOTE_HEADER_SIZE + len > buf.length)
    throw new TdxError(
      "TDVMCALL_BUFFER_TRUNCATED",
      `GetQuote header announces ${len} data bytes but the buffer holds ${buf.length - GET_QUOTE_HEADER_SIZE}`,
      { field: status === GetQuoteStatus.SUCCESS && outLen > 0 ? "out_len" : "in_len", offset: 16 },
    );
  return {
    version,
    status,
    statusName: getQuoteStatusName(status),
    inLen,
    outLen,
    data: buf.subarray(GET_QUOTE_HEADER_SIZE, GET_QUOTE_HEADER_SIZE + len),
  };
}

/** What the VMM writes back: the status, and on success out_len and the quote at offset 24. */
export function completeGetQuoteBuffer(buf: Uint8Array, status: bigint, quote?: Uint8Array): void {
  const v = dv(buf);
  if (quote !== undefined) {
    if (GET_QUOTE_HEADER_SIZE + quote.length > buf.length)
      throw new TdxError(
        "TDVMCALL_BUFFER_TOO_SMALL",
        `a ${quote.length}-byte quote does not fit the ${buf.length}-byte GetQuote buffer`,
        { field: "out_len", hint: "the TD must offer a larger shared buffer" },
      );
    buf.set(quote, GET_QUOTE_HEADER_SIZE);
    v.setUint32(20, quote.length, true);
  }
  v.setBigUint64(8, status, true);
}

/** The quote from a completed buffer, or a TdxError naming the VMM's status (as Linux 7.0 maps it). */
export function quoteFromGetQuoteBuffer(buf: Uint8Array): Uint8Array {
  const b = decodeGetQuoteBuffer(buf);
  if (b.status === GetQuoteStatus.IN_FLIGHT)
    throw new TdxError("TDVMCALL_QUOTE_IN_FLIGHT", "the VMM still owns the GetQuote buffer", {
      field: "status",
      offset: 8,
      hint: "the quote is not ready yet; poll the status again (Linux gives up after 30 s)",
    });
  if (b.status === GetQuoteStatus.SERVICE_UNAVAILABLE)
    throw new TdxError("TDVMCALL_QGS_UNAVAILABLE", "the VMM could not reach a Quote Generation Service", {
      field: "status",
      offset: 8,
      hint: "configure QEMU's quote-generation-socket and start the QGS on the host",
    });
  if (b.status !== GetQuoteStatus.SUCCESS)
    throw new TdxError("TDVMCALL_QUOTE_FAILED", `GetQuote completed with status ${b.statusName}`, {
      field: "status",
      offset: 8,
      hint: "the QGS refused the request or timed out; check the QGS log on the host",
    });
  if (b.outLen === 0)
    throw new TdxError("TDVMCALL_QUOTE_EMPTY", "GetQuote succeeded with out_len 0", {
      field: "out_len",
      offset: 20,
      hint: "the VMM returned no quote; check the QGS log on the host",
    });
  return b.data;
}
