/**
 * Which guest kernel answers, and what its version changes in the errnos it returns. The guest interfaces are
 * the same files on every kernel; what a given errno *means* moved between releases (docs/guest.md, "Kernel
 * versions and what changes", lists each change with the commit it comes from). A kernel we cannot name
 * (no /proc/sys/kernel/osrelease, a distribution string we cannot parse) is described with every meaning.
 */
import type { GuestFs } from "./fs.js";
import { readWhole } from "./fs.js";

export interface KernelVersion {
  major: number;
  minor: number;
  patch: number;
  /** Release candidate number ("7.0.0-rc5" → 5), when the release string says so. */
  rc?: number;
  /** The release string as read. */
  release: string;
}

/** "6.8.0-60-generic", "7.0.0-rc5", "6.12.80" → {major, minor, patch, rc}; null when it is not a version. */
export function parseKernelRelease(text: string): KernelVersion | null {
  const release = text.trim();
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?/.exec(release);
  if (!m) return null;
  const v: KernelVersion = {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: m[3] === undefined ? 0 : Number(m[3]),
    release,
  };
  if (m[4] !== undefined) v.rc = Number(m[4]);
  return v;
}

/** The running kernel, from `osrelease` (proc/sys/kernel/osrelease under the guest root); null if unknown. */
export async function readKernelVersion(fs: GuestFs, osreleasePath: string): Promise<KernelVersion | null> {
  try {
    return parseKernelRelease(new TextDecoder().decode(await readWhole(fs, osreleasePath)));
  } catch {
    return null;
  }
}

function atLeast(v: KernelVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/**
 * GetQuote `status != SUCCESS` → EIO instead of a zero-length outblob: tip x86/tdx 0f409eaea53e ("virt:
 * tdx-guest: Return error for GetQuote failures", committed 2026-03-05, after the 7.0 merge window), so 7.1.
 */
export function hasQuoteStatusCheck(v: KernelVersion): boolean {
  return atLeast(v, 7, 1);
}

/** The GetQuote shared buffer: SZ_8K up to 6.19, SZ_128K from 7.0 (43185067c6fd, "Increase Quote buffer size to 128KB"). */
export function quoteBufferSize(v: KernelVersion): number {
  return atLeast(v, 7, 0) ? 128 * 1024 : 8 * 1024;
}

/** configfs-tsm TSM_REPORT_OUTBLOB_MAX: 32 KiB up to 6.19, 16 MiB from 7.0 (9342bf3d670b). */
export function outblobMax(v: KernelVersion): number {
  return atLeast(v, 7, 0) ? 16 * 1024 * 1024 : 32 * 1024;
}

/**
 * The fix for CVE-2026-31470 (c3fd16c3b98e, "virt: tdx-guest: Fix handling of host controlled 'quote' buffer
 * length"): out_len is read once and `out_len > TDX_QUOTE_MAX_LEN` gives EFBIG. In 7.0-rc6 and the stable
 * releases 6.12.80, 6.18.21 and 6.19.11. Distribution kernels may carry it under another number.
 */
export function hasOutLenFix(v: KernelVersion): boolean {
  if (atLeast(v, 7, 1)) return true;
  if (v.major === 7 && v.minor === 0) return v.rc === undefined || v.rc >= 6;
  if (v.major === 6 && v.minor === 12) return v.patch >= 80;
  if (v.major === 6 && v.minor === 18) return v.patch >= 21;
  if (v.major === 6 && v.minor === 19) return v.patch >= 11;
  return false;
}

/**
 * From 6.16 TDG.MR.REPORT goes through tdx_do_report() for configfs quotes too, and tdx_mcall_get_report0()
 * maps TDX_OPERAND_INVALID → ENXIO and TDX_OPERAND_BUSY → EBUSY (before: EINVAL and EIO). So an outblob read
 * can fail with ENXIO or EBUSY for a reason that has nothing to do with the TSM provider or the host.
 */
export function reportErrnosFromTdcall(v: KernelVersion): "6.16" | "before-6.16" {
  return atLeast(v, 6, 16) ? "6.16" : "before-6.16";
}

/**
 * configfs-tsm answered a read with ENOTTY when the provider had been unregistered, until fba4ceaa242d
 * ("configfs-tsm-report: Fix NULL dereference of tsm_ops", 6.16, backported to 6.15 stable) made it ENXIO and
 * made provider registration fail while report instances remain.
 */
export function providerGoneErrno(v: KernelVersion): "ENXIO" | "ENOTTY" {
  return atLeast(v, 6, 16) ? "ENXIO" : "ENOTTY";
}

export function describeKernel(v: KernelVersion | null): string {
  return v ? `Linux ${v.release}` : "this kernel (version unknown)";
}
