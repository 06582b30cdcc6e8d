/**
 * TDREPORTs and legacy quotes through ioctl(2) on the guest driver nodes (guest-abi §1.3, §1.4), via the
 * libc layer (koffi, loaded lazily; tests inject a fake kernel). The argument layouts are byte-exact.
 * TDREPORT ioctls are TDCALLs the TDX module answers at once, so they run inline; the seed's GET_QUOTE waits on
 * the host and runs in a child process (quote-child.ts).
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
import { type QuoteChildHost, runQuoteIoctlInChild } from "./quote-child.js";
import { trimQuote } from "./quote-length.js";
import {
  backoffFor,
  DEFAULT_RETRY,
  type GuestClock,
  type QuoteRetry,
  type RetryPolicy,
  realClock,
  withData,
} from "./result.js";

/** _IOWR('T', 1, struct tdx_report_req{u8 reportdata[64]; u8 tdreport[1024]}) — mainline since 6.2. */
export const TDX_CMD_GET_REPORT0 = 0xc4405401;
/** _IOWR('T', 1, union{u8 reportdata[64]; u8 tdreport[1024]}) — the 2022 seed driver /dev/tdx-attest. */
export const LEGACY_TDX_CMD_GET_REPORT = 0xc4005401;
/** _IOR('T', 2, struct tdx_quote_req{u64 buf; u64 len}) — the seed driver's GetQuote. */
export const LEGACY_TDX_CMD_GET_QUOTE = 0x80105402;
/** libtdx_attest's request buffer size for the TDVMCALL path (16 KiB). */
export const LEGACY_QUOTE_BUFFER_SIZE = 16 * 1024;
/** Our deadline for the seed's GET_QUOTE, which has none (the kernel, QEMU and the QGS each use 30 s). */
export const LEGACY_QUOTE_TIMEOUT_MS = 30_000;
/**
 * The 2021-2022 /dev/tdx-attest of Intel's TDX guest kernel branches (intel/tdx, the LKML v1-v5 series
 * "x86/tdx: Add TDX Guest attestation interface driver"), used by DCAP 1.14/1.15: pointer-sized
 * _IOWR('T', 1, __u64) GET_TDREPORT (1024-byte buffer, REPORTDATA in its first 64 bytes, same as the seed's),
 * _IOR('T', 2, __u64) GEN_QUOTE and _IOR('T', 3, __u64) GET_QUOTE_SIZE (guest-abi §1.4, §5.5).
 */
export const TDX_ATTEST_2021_GET_TDREPORT = 0xc0085401;
export const TDX_ATTEST_2021_GEN_QUOTE = 0x80085402;
export const TDX_ATTEST_2021_GET_QUOTE_SIZE = 0x80085403;

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
export async function legacyGetTdReport(
  libc: Libc,
  path: string,
  reportData: Uint8Array,
): Promise<Uint8Array> {
  checkReportData(reportData);
  try {
    return await withDevice(path, (fd) => {
      const buf = new Uint8Array(1024);
      buf.set(reportData, 0);
      ioctlOrThrow(libc, fd, LEGACY_TDX_CMD_GET_REPORT, buf, "ioctl-report", path);
      return checkReturnedReport(buf, path);
    });
  } catch (e) {
    // The seed answers unknown commands with EINVAL, others with ENOTTY: try the 2021-2022 driver's number.
    const errno = e instanceof TdxError ? e.data?.errno : undefined;
    if (errno !== "EINVAL" && errno !== "ENOTTY") throw e;
    try {
      return await withDevice(path, (fd) => {
        const buf = new Uint8Array(1024);
        buf.set(reportData, 0);
        ioctlOrThrow(libc, fd, TDX_ATTEST_2021_GET_TDREPORT, buf, "ioctl-report", path);
        return checkReturnedReport(buf, path);
      });
    } catch {
      throw e;
    }
  }
}

/** Is the driver behind `path` the 2021-2022 one? Its GET_QUOTE_SIZE only stores a u64 and has no side effect. */
async function isTdxAttest2021(libc: Libc, path: string): Promise<boolean> {
  try {
    return await withDevice(
      path,
      (fd) => libc.ioctl(fd, TDX_ATTEST_2021_GET_QUOTE_SIZE, new Uint8Array(8)) === 0,
    );
  } catch {
    return false;
  }
}

export interface LegacyQuoteOptions {
  payload?: "qgs" | "raw";
  /** Deadline for the ioctl, which the seed driver lets wait forever (default 30 s). */
  timeoutMs?: number;
  /** The child process's ioctl layer (tests). */
  host?: QuoteChildHost;
  retry?: RetryPolicy;
  clock?: GuestClock;
}

export interface LegacyQuote {
  quote: Uint8Array;
  attempts: number;
  retries: QuoteRetry[];
  warnings: string[];
}

/**
 * The seed's TDX_CMD_GET_QUOTE: the argument points at a user buffer laid out as the GetQuote shared buffer
 * (24-byte header + data). The payload is Intel's convention for this path (libtdx_attest): a framed QGS
 * GET_QUOTE_REQ in, a framed GET_QUOTE_RESP out, passed through by the VMM. `payload: "raw"` sends the bare
 * TDREPORT instead, for VMMs that wrap it themselves. The ioctl runs in a child process with a deadline
 * (quote-child.ts); a refused TDVMCALL (EIO: the host answered RETRY) is retried with backoff.
 */
export async function legacyGetQuote(
  libc: Libc,
  path: string,
  tdReport: Uint8Array,
  opts: LegacyQuoteOptions = {},
): Promise<LegacyQuote> {
  const raw = opts.payload === "raw";
  const policy = opts.retry ?? DEFAULT_RETRY;
  const clock = opts.clock ?? realClock;
  const payload = raw ? tdReport : encodeFrame(encodeGetQuoteRequest(tdReport));
  const retries: QuoteRetry[] = [];
  for (let attempt = 1; ; attempt++) {
    let r: Awaited<ReturnType<typeof runQuoteIoctlInChild>>;
    try {
      r = await runQuoteIoctlInChild({
        path,
        request: LEGACY_TDX_CMD_GET_QUOTE,
        buffer: encodeGetQuoteBuffer(payload, LEGACY_QUOTE_BUFFER_SIZE),
        timeoutMs: opts.timeoutMs ?? LEGACY_QUOTE_TIMEOUT_MS,
        ...(opts.host ? { host: opts.host } : {}),
      });
    } catch (e) {
      if (e instanceof TdxError) throw e;
      throw guestSyscallError("device-open", e, path);
    }
    if (r.rc < 0) {
      const err = guestSyscallError("ioctl-quote", new SyscallError("ioctl", r.errno), path);
      const errno = err.data?.errno;
      if ((errno === "EINVAL" || errno === "ENOTTY") && (await isTdxAttest2021(libc, path)))
        throw new TdxError(
          "GUEST_LEGACY_ABI_UNSUPPORTED",
          `${path} is the 2021-2022 Intel TDX guest driver (TDX_CMD_GEN_QUOTE _IOR('T', 2, __u64) = 0x80085402, the kernels DCAP 1.14 and 1.15 were built for); tdx-attest does not speak its quote ioctl`,
          {
            cause: err,
            hint: "its GEN_QUOTE carried protobuf-encoded QGS messages and changed layout between driver revisions; use --provider qgs (TDREPORTs from this driver, the quote from the host's QGS over vsock port 4050, which needs a QGS of DCAP 1.16 or later), or move the guest to Linux 6.7+ (configfs-tsm)",
            data: { path, errno, request: TDX_ATTEST_2021_GEN_QUOTE },
          },
        );
      if (errno === "EIO" && attempt < policy.attempts) {
        const waitedMs = backoffFor(policy, attempt);
        retries.push({ attempt, code: err.code, errno: "EIO", waitedMs });
        await clock.sleep(waitedMs);
        continue;
      }
      throw attempt > 1 ? withData(err, { retries, attempts: attempt }) : err;
    }
    const header = decodeGetQuoteBuffer(r.buffer);
    if (header.status === GetQuoteStatus.IN_FLIGHT)
      throw new TdxError("GUEST_BUSY", "the host still holds the GetQuote buffer", {
        hint: "the host has not finished the previous quote; retry in a few seconds",
      });
    const data = quoteFromGetQuoteBuffer(r.buffer);
    // Intel's convention: the 4-byte big-endian length must equal out_len - 4.
    const blob = raw ? data.slice() : quoteFromResponse(decodeGetQuoteResponse(decodeFrame(data))).slice();
    const trimmed = trimQuote(blob, `TDX_CMD_GET_QUOTE on ${path}`, false);
    return { quote: trimmed.quote, attempts: attempt, retries, warnings: trimmed.warnings };
  }
}
