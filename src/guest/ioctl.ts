/**
 * TDREPORTs and legacy quotes through ioctl(2) on the guest driver nodes (guest-abi §1.3, §1.4), via the
 * libc layer (koffi, loaded lazily; tests inject a fake kernel). The argument layouts are byte-exact.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { TdxError } from "../errors.js";
import {
  checkTdReportShape,
  decodeFrame,
  decodeGetQuoteBuffer,
  decodeGetQuoteResponse,
  encodeFrame,
  encodeGetQuoteBuffer,
  encodeGetQuoteRequest,
  GetQuoteStatus,
  type Libc,
  quoteFromGetQuoteBuffer,
  quoteFromResponse,
  SyscallError,
} from "../qgs/index.js";
import { checkReportData, type GuestOp, guestSyscallError } from "./errors.js";

/** _IOWR('T', 1, struct tdx_report_req{u8 reportdata[64]; u8 tdreport[1024]}) — mainline since 6.2. */
export const TDX_CMD_GET_REPORT0 = 0xc4405401;
/** _IOWR('T', 1, union{u8 reportdata[64]; u8 tdreport[1024]}) — the 2022 seed driver /dev/tdx-attest. */
export const LEGACY_TDX_CMD_GET_REPORT = 0xc4005401;
/** _IOR('T', 2, struct tdx_quote_req{u64 buf; u64 len}) — the seed driver's GetQuote. */
export const LEGACY_TDX_CMD_GET_QUOTE = 0x80105402;
/** libtdx_attest's request buffer size for the TDVMCALL path (16 KiB). */
export const LEGACY_QUOTE_BUFFER_SIZE = 16 * 1024;

async function withDevice<T>(path: string, fn: (fd: number) => T): Promise<T> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDWR);
  } catch (e) {
    throw guestSyscallError("device-open", e, path);
  }
  try {
    return fn(fh.fd);
  } finally {
    await fh.close();
  }
}

function ioctlOrThrow(
  libc: Libc,
  fd: number,
  request: number,
  arg: Uint8Array,
  op: GuestOp,
  path: string,
): void {
  const r = libc.ioctl(fd, request, arg);
  if (r < 0) throw guestSyscallError(op, new SyscallError("ioctl", libc.errno()), path);
}

function checkReturnedReport(report: Uint8Array, path: string): Uint8Array {
  const bad = checkTdReportShape(report);
  if (bad)
    throw new TdxError(
      "GUEST_BAD_TDREPORT",
      `${path} returned something that is not a TDREPORT: ${bad.message}`,
      {
        cause: bad,
        hint: "the driver behind this node has another ABI; run `tdx-attest status`",
      },
    );
  return report;
}

/** TDX_CMD_GET_REPORT0: 1088-byte argument, REPORTDATA in at 0, TDREPORT out at 64. */
export function deviceGetTdReport(libc: Libc, path: string, reportData: Uint8Array): Promise<Uint8Array> {
  checkReportData(reportData);
  return withDevice(path, (fd) => {
    const req = new Uint8Array(64 + 1024);
    req.set(reportData, 0);
    ioctlOrThrow(libc, fd, TDX_CMD_GET_REPORT0, req, "ioctl-report", path);
    return checkReturnedReport(req.slice(64), path);
  });
}

/** The seed ABI: one 1024-byte buffer whose first 64 bytes are REPORTDATA, overwritten by the TDREPORT. */
export function legacyGetTdReport(libc: Libc, path: string, reportData: Uint8Array): Promise<Uint8Array> {
  checkReportData(reportData);
  return withDevice(path, (fd) => {
    const buf = new Uint8Array(1024);
    buf.set(reportData, 0);
    ioctlOrThrow(libc, fd, LEGACY_TDX_CMD_GET_REPORT, buf, "ioctl-report", path);
    return checkReturnedReport(buf, path);
  });
}

/**
 * The seed's TDX_CMD_GET_QUOTE: the argument points at a user buffer laid out as the GetQuote shared buffer
 * (24-byte header + data). The payload is Intel's convention for this path (libtdx_attest): a framed QGS
 * GET_QUOTE_REQ in, a framed GET_QUOTE_RESP out, passed through by the VMM. `payload: "raw"` sends the bare
 * TDREPORT instead, for VMMs that wrap it themselves.
 */
export function legacyGetQuote(
  libc: Libc,
  path: string,
  tdReport: Uint8Array,
  opts: { payload?: "qgs" | "raw" } = {},
): Promise<Uint8Array> {
  const raw = opts.payload === "raw";
  return withDevice(path, (fd) => {
    const mem = libc.allocPinned(LEGACY_QUOTE_BUFFER_SIZE);
    try {
      const payload = raw ? tdReport : encodeFrame(encodeGetQuoteRequest(tdReport));
      mem.bytes.set(encodeGetQuoteBuffer(payload, LEGACY_QUOTE_BUFFER_SIZE));
      const arg = new Uint8Array(16);
      const dv = new DataView(arg.buffer);
      dv.setBigUint64(0, mem.address, true);
      dv.setBigUint64(8, BigInt(LEGACY_QUOTE_BUFFER_SIZE), true);
      ioctlOrThrow(libc, fd, LEGACY_TDX_CMD_GET_QUOTE, arg, "ioctl-quote", path);
      const buf = mem.bytes.slice();
      const header = decodeGetQuoteBuffer(buf);
      if (header.status === GetQuoteStatus.IN_FLIGHT)
        throw new TdxError("GUEST_BUSY", "the host still holds the GetQuote buffer", {
          hint: "the host has not finished the previous quote; retry in a few seconds",
        });
      const data = quoteFromGetQuoteBuffer(buf);
      if (raw) return data.slice();
      // Intel's convention: the 4-byte big-endian length must equal out_len - 4.
      return quoteFromResponse(decodeGetQuoteResponse(decodeFrame(data))).slice();
    } finally {
      mem.free();
    }
  });
}
