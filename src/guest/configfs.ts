/**
 * Quotes through configfs-tsm (guest-abi §2): a fresh instance directory per request, 64 bytes written to
 * inblob in one write and delivered by close(), the quote read from outblob through a fresh descriptor to end
 * of file, and the generation counter compared around it to catch another writer.
 *
 * The read of outblob is where the kernel runs tdx_report_new() (torvalds/linux
 * drivers/virt/coco/tdx-guest/tdx-guest.c): TDG.MR.REPORT, the GetQuote TDVMCALL, then a poll of the shared
 * buffer's status once a second for 30 s (wait_for_quote_completion). Its errnos mean different things on
 * different kernels and for different elapsed times; diagnoseRead() below names the cause.
 */
import { randomBytes } from "node:crypto";
import { readlinkSync } from "node:fs";
import { join } from "node:path";
import { TdxError } from "../errors.js";
import { checkReportData, guestSyscallError } from "./errors.js";
import { type GuestFs, readWhole, writeOnceAndClose } from "./fs.js";
import {
  describeKernel,
  hasOutLenFix,
  hasQuoteStatusCheck,
  type KernelVersion,
  outblobMax,
  quoteBufferSize,
  reportErrnosFromTdcall,
} from "./kernel.js";
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

export const TSM_PROVIDER_TDX = "tdx_guest";
/** Our instance directories: tdx-attest-<pid>-<pid namespace>-<random>. */
const INSTANCE_PREFIX = "tdx-attest-";

/**
 * The inode of our pid namespace (/proc/self/ns/pid → "pid:[4026531836]"). configfs-tsm is shared by every
 * container of the TD, and a pid only names a process inside its own namespace; so an instance is ours to
 * judge only when it was made in this namespace. "x" when it cannot be read (then nothing is judged dead).
 */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1] ?? "x";
  } catch {
    return "x";
  }
}
const PID_NS = pidNamespace();

/** A fresh instance directory name for a process of our pid namespace (tests make one for a dead pid). */
export function instanceDirName(pid: number = process.pid): string {
  return `${INSTANCE_PREFIX}${pid}-${PID_NS}-${randomBytes(6).toString("hex")}`;
}
/** The kernel polls the GetQuote status 30 times, once a second (getquote_timeout = 30). */
export const KERNEL_QUOTE_WAIT_MS = 30_000;
/** A read that took this long ran the kernel's whole wait: the host did not answer in time. */
const HOST_TIMEOUT_THRESHOLD_MS = KERNEL_QUOTE_WAIT_MS - 1000;

const HOST_CHECKS =
  "on the host: QEMU's tdx-guest object needs quote-generation-socket (e.g. vsock cid 2 port 4050, or the QGS unix socket), the QGS must run (systemctl status qgsd; journalctl -u qgsd) and reach its PCCS";

export interface ConfigfsQuoteOptions {
  fs: GuestFs;
  /** The configfs-tsm report directory (/sys/kernel/config/tsm/report). */
  root: string;
  /** Attempts when the generation counter shows a race (default 3). */
  retries?: number;
  /** How often to re-read generation while waiting for the inblob commit (default 100). */
  commitPolls?: number;
  /** The running kernel (null: unknown), for what its errnos mean. */
  kernel?: KernelVersion | null;
  /** Retries of transient failures: EIO from a GetQuote TDVMCALL the host answered RETRY, EBUSY. */
  retry?: RetryPolicy;
  clock?: GuestClock;
}

export interface ConfigfsQuote {
  quote: Uint8Array;
  attempts: number;
  retries: QuoteRetry[];
  warnings: string[];
}

async function readText(fs: GuestFs, path: string): Promise<string> {
  try {
    return new TextDecoder().decode(await readWhole(fs, path));
  } catch (e) {
    throw guestSyscallError("configfs-read", e, path);
  }
}

async function readGeneration(fs: GuestFs, dir: string): Promise<bigint> {
  const path = join(dir, "generation");
  const text = (await readText(fs, path)).trim();
  if (!/^\d+$/.test(text))
    throw new TdxError("GUEST_CONFIGFS_UNEXPECTED", `generation reads "${text}", not a number`, {
      field: "generation",
      hint: "this is not a configfs-tsm report instance",
      data: { path },
    });
  return BigInt(text);
}

/** The provider name of a configfs-tsm instance ("tdx_guest" in a TD). */
export async function configfsProviderOf(fs: GuestFs, dir: string): Promise<string> {
  return (await readText(fs, join(dir, "provider"))).trim();
}

/** Instance directories under the report root, ours (with the owner pid) and others'. */
export async function listInstances(
  fs: GuestFs,
  root: string,
): Promise<{ name: string; ownerPid: number | null; ownNamespace: boolean }[]> {
  let names: string[];
  try {
    names = await fs.readdir(root);
  } catch {
    return [];
  }
  return names.map((name) => {
    const m = new RegExp(`^${INSTANCE_PREFIX}(\\d+)-(\\d+|x)-[0-9a-f]+$`).exec(name);
    return {
      name,
      ownerPid: m ? Number(m[1]) : null,
      ownNamespace: m !== null && m[2] === PID_NS && PID_NS !== "x",
    };
  });
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/**
 * Remove instance directories a dead tdx-attest process left behind (a crash between mkdir and rmdir, or an
 * rmdir that failed). They matter: since fba4ceaa242d (6.16, in 6.15 stable) tsm_report_register() refuses
 * to register a provider while any instance exists ("configfs/tsm/report not empty"), so a leftover keeps
 * tdx_guest from coming back after an unload. Other tools' instances (libtdx_attest's com.intel.dcap), those
 * of live processes and those made in another pid namespace (another container) are left alone. Returns one
 * line per directory handled.
 */
export async function removeDeadInstances(fs: GuestFs, root: string): Promise<string[]> {
  const notes: string[] = [];
  for (const { name, ownerPid, ownNamespace } of await listInstances(fs, root)) {
    if (ownerPid === null || !ownNamespace || processAlive(ownerPid)) continue;
    const dir = join(root, name);
    try {
      await fs.rmdir(dir);
      notes.push(`removed ${dir}, left behind by tdx-attest process ${ownerPid} which no longer runs`);
    } catch (e) {
      notes.push(leftoverWarning(dir, e));
    }
  }
  return notes;
}

function leftoverWarning(dir: string, e: unknown): string {
  const errno = (e as { code?: string }).code ?? String(e);
  return `could not remove the report instance ${dir} (${errno}); while it exists the kernel refuses to re-register tdx_guest after an unload (fba4ceaa242d): remove it with rmdir ${dir}`;
}

/** Create a uniquely named instance directory; ENXIO here means no TSM provider is registered. */
export async function createInstance(fs: GuestFs, root: string): Promise<string> {
  const dir = join(root, instanceDirName());
  try {
    await fs.mkdir(dir);
  } catch (e) {
    const err = guestSyscallError("configfs-mkdir", e, dir);
    if (err.code !== "GUEST_NO_TSM_PROVIDER") throw err;
    // modprobe is the cure only when nothing blocks the registration.
    const left = (await listInstances(fs, root)).map((i) => join(root, i.name));
    if (left.length === 0) throw err;
    throw new TdxError(err.code, `${err.message}; ${left.length} report instance(s) remain`, {
      cause: e,
      hint: `remove the leftover instance(s) first (${left.map((d) => `rmdir ${d}`).join("; ")}): the kernel refuses to register tdx_guest while any exists (fba4ceaa242d); then modprobe tdx_guest`,
      data: { ...err.data, leftovers: left },
    });
  }
  return dir;
}

/** Remove our instance; a failure is returned as a warning (never thrown: the quote is in hand). */
export async function removeInstance(fs: GuestFs, dir: string): Promise<string | null> {
  try {
    await fs.rmdir(dir);
    return null;
  } catch (e) {
    return leftoverWarning(dir, e);
  }
}

interface ReadOutcome {
  blob: Uint8Array;
  elapsedMs: number;
}

class OutblobError extends Error {
  constructor(
    readonly failure: unknown,
    readonly elapsedMs: number,
    readonly path: string,
  ) {
    super("outblob read failed");
  }
  get errno(): string {
    return (this.failure as { code?: string }).code ?? "EUNKNOWN";
  }
}

/** One inblob write + outblob read, retried when another writer moves the generation. */
async function oneQuote(
  fs: GuestFs,
  dir: string,
  reportData: Uint8Array,
  races: number,
  commitPolls: number,
  clock: GuestClock,
): Promise<ReadOutcome> {
  let lastRace = "";
  for (let attempt = 1; attempt <= races; attempt++) {
    const g1 = await readGeneration(fs, dir);
    const inblob = join(dir, "inblob");
    let written: number;
    try {
      written = await writeOnceAndClose(fs, inblob, reportData);
    } catch (e) {
      throw guestSyscallError("configfs-write", e, inblob);
    }
    if (written !== 64)
      throw new TdxError("GUEST_CONFIGFS_SHORT_WRITE", `inblob accepted ${written} of 64 bytes`, {
        field: "inblob",
        hint: "retry; configfs takes the whole REPORTDATA in one write",
      });
    // The write is delivered on close(); generation moves once the driver has it.
    let g2 = await readGeneration(fs, dir);
    for (let i = 0; g2 === g1 && i < commitPolls; i++) {
      await new Promise((r) => setImmediate(r));
      g2 = await readGeneration(fs, dir);
    }
    if (g2 !== g1 + 1n) {
      lastRace = `generation went ${g1} → ${g2} around our inblob write`;
      continue;
    }
    const outblob = join(dir, "outblob");
    const t0 = clock.now();
    let blob: Uint8Array;
    try {
      blob = await readWhole(fs, outblob);
    } catch (e) {
      throw new OutblobError(e, clock.now() - t0, outblob);
    }
    const elapsedMs = clock.now() - t0;
    const g3 = await readGeneration(fs, dir);
    if (g3 !== g2) {
      lastRace = `generation went ${g2} → ${g3} while reading outblob`;
      continue;
    }
    return { blob, elapsedMs };
  }
  throw new TdxError(
    "GUEST_CONFIGFS_RACE",
    `another writer kept changing the report instance (${lastRace})`,
    {
      hint: "something else writes to our configfs-tsm instance; retry, and make sure no other tool shares it",
      data: { attempts: races },
    },
  );
}

interface Diagnosis {
  error: TdxError;
  /** Worth another attempt after a pause. */
  transient: boolean;
}

function hostTimeout(kernel: KernelVersion | null, elapsedMs: number, how: string, path: string): TdxError {
  return new TdxError(
    "GUEST_QUOTE_HOST_TIMEOUT",
    `the host's quote service did not answer: the kernel waited ${Math.round(elapsedMs / 1000)} s and then ${how}. The kernel's GetQuote buffer stays in flight, so every later quote through configfs-tsm gets EBUSY until the host answers (or gives up; QEMU does after its own 30 s)`,
    {
      hint: `${HOST_CHECKS}. tdx_guest's wait_for_quote_completion() reports a host that never answers as success (an empty outblob before 7.1, EIO from 7.1), not as ETIMEDOUT; a direct QGS connection (--provider device, vsock port 4050) does not use the kernel's buffer`,
      data: { path, elapsedMs, kernel: kernel?.release ?? null },
    },
  );
}

/** Name the cause of an outblob read that failed or came back empty. */
async function diagnoseRead(
  fs: GuestFs,
  dir: string,
  outcome: OutblobError | ReadOutcome,
  kernel: KernelVersion | null,
): Promise<Diagnosis> {
  const k = describeKernel(kernel);
  const since616 = kernel === null || reportErrnosFromTdcall(kernel) === "6.16";
  if (!(outcome instanceof OutblobError)) {
    // An empty outblob: the driver copied out_len = 0 bytes.
    const path = join(dir, "outblob");
    if (outcome.elapsedMs >= HOST_TIMEOUT_THRESHOLD_MS)
      return {
        error: hostTimeout(kernel, outcome.elapsedMs, "returned an empty outblob", path),
        transient: false,
      };
    return {
      error: new TdxError(
        "GUEST_QUOTE_EMPTY",
        `configfs-tsm returned an empty quote: the host reported an error in the GetQuote status (${k} passes that on as an empty outblob${kernel && hasQuoteStatusCheck(kernel) ? ", although 7.1 returns EIO for it: this kernel differs from mainline" : "; 7.1 returns EIO"})`,
        {
          field: "outblob",
          hint: `the host refused or failed the quote (GET_QUOTE_SERVICE_UNAVAILABLE when QEMU has no quote-generation-socket, GET_QUOTE_ERROR when the QGS failed); ${HOST_CHECKS}`,
          data: { path, elapsedMs: outcome.elapsedMs, kernel: kernel?.release ?? null },
        },
      ),
      transient: false,
    };
  }
  const { errno, elapsedMs, path } = outcome;
  const cause = outcome.failure;
  const data = { errno, op: "configfs-read", path, elapsedMs, kernel: kernel?.release ?? null };
  switch (errno) {
    case "EIO": {
      if (elapsedMs >= HOST_TIMEOUT_THRESHOLD_MS)
        return { error: hostTimeout(kernel, elapsedMs, "failed with EIO", path), transient: false };
      const meanings = [
        "the GetQuote TDVMCALL was refused (the host answers RETRY when it is busy, e.g. QEMU with 16 requests in flight; the kernel does not retry)",
        ...(kernel === null || hasQuoteStatusCheck(kernel)
          ? [
              "the host reported an error status (7.1+: GET_QUOTE_SERVICE_UNAVAILABLE without a quote-generation-socket, GET_QUOTE_ERROR)",
            ]
          : []),
        "TDG.MR.REPORT failed",
      ];
      return {
        error: new TdxError(
          "GUEST_QUOTE_FAILED",
          `reading outblob failed with EIO on ${k}: ${meanings.join("; or ")}`,
          {
            cause,
            hint: `${HOST_CHECKS}; the kernel log (dmesg) says "GetQuote hypercall failed" or "GetReport call failed"`,
            data,
          },
        ),
        transient: true,
      };
    }
    case "EBUSY":
      return {
        error: new TdxError(
          "GUEST_QUOTE_BUFFER_IN_FLIGHT",
          `reading outblob failed with EBUSY on ${k}: the kernel's GetQuote buffer is still in flight from an earlier request the host never answered${since616 ? " (from 6.16 EBUSY can also be TDX_OPERAND_BUSY from TDG.MR.REPORT, but that clears within the retries)" : ""}; the guest stays busy until the host answers, maybe never`,
          {
            cause,
            hint: `the host's quote service is stuck on an earlier request: ${HOST_CHECKS}. A direct QGS connection (--provider device) does not use the kernel's buffer; otherwise rebooting the TD frees it`,
            data,
          },
        ),
        transient: true,
      };
    case "ETIMEDOUT":
      return {
        error: new TdxError(
          "GUEST_QUOTE_TIMEOUT",
          "the host answered in the last second of the kernel's 30-second wait and the kernel dropped the answer (wait_for_quote_completion() returns ETIMEDOUT only then)",
          {
            cause,
            hint: `the buffer is free again, so a retry can succeed, but the host takes about 30 s per quote: check its QGS and PCCS latency (${HOST_CHECKS})`,
            data,
          },
        ),
        transient: false,
      };
    case "ENXIO":
    case "ENOTTY": {
      let provider: string | null = null;
      try {
        provider = await configfsProviderOf(fs, dir);
      } catch {
        provider = null;
      }
      if (errno === "ENXIO" && provider === TSM_PROVIDER_TDX)
        return {
          error: new TdxError(
            "GUEST_INVALID_REQUEST",
            `reading outblob failed with ENXIO while tdx_guest is registered: the TDX module refused TDG.MR.REPORT (TDX_OPERAND_INVALID, reported as ENXIO since 6.16)`,
            {
              cause,
              hint: "the kernel log has the WARN from tdx_mcall_get_report0(); check the TDX module version on the host (this is not a missing driver: modprobe will not help)",
              data,
            },
          ),
          transient: false,
        };
      return {
        error: new TdxError(
          "GUEST_NO_TSM_PROVIDER",
          `reading outblob failed with ${errno}: the TSM provider was unregistered (tdx_guest unloaded) while the request ran${errno === "ENOTTY" ? " (kernels before 6.16 report that as ENOTTY)" : ""}`,
          {
            cause,
            hint: "remove every directory under /sys/kernel/config/tsm/report first (the kernel refuses to re-register tdx_guest while any exists), then modprobe tdx_guest",
            data,
          },
        ),
        transient: false,
      };
    }
    case "EINVAL":
      return {
        error: new TdxError(
          "GUEST_INVALID_REQUEST",
          `reading outblob failed with EINVAL after a committed 64-byte inblob on ${k}${since616 ? "" : ": before 6.16 that is TDX_OPERAND_INVALID from TDG.MR.REPORT"}`,
          {
            cause,
            hint: since616
              ? "the instance lost its inblob (another writer?); retry"
              : "the TDX module refused TDG.MR.REPORT; check dmesg and the TDX module version on the host",
            data,
          },
        ),
        transient: false,
      };
    case "EFBIG": {
      if (kernel === null || hasOutLenFix(kernel))
        return {
          error: new TdxError(
            "GUEST_QUOTE_LENGTH_REFUSED",
            `the host announced a quote longer than the kernel's ${kernel ? `${quoteBufferSize(kernel) / 1024} KiB ` : ""}GetQuote buffer (out_len > buffer − 24) and the kernel refused to copy it (the CVE-2026-31470 fix, c3fd16c3b98e)`,
            {
              cause,
              hint: "the host's VMM or QGS returned a corrupt answer: check their versions and logs; a genuine quote over 8 KiB (DICE) needs a 7.0+ guest kernel with its 128 KiB buffer",
              data,
            },
          ),
          transient: false,
        };
      return {
        error: new TdxError(
          "GUEST_QUOTE_TOO_LARGE",
          `the outblob exceeds configfs-tsm's ${outblobMax(kernel) / 1024} KiB limit on ${k}: the host announced an out_len past the kernel's ${quoteBufferSize(kernel) / 1024} KiB GetQuote buffer, and this kernel (without the CVE-2026-31470 fix) copies from past its buffer`,
          {
            cause,
            hint: "check the host's VMM/QGS (a quote fits in 8 KiB); update the guest kernel (fix c3fd16c3b98e: 7.0-rc6, stable 6.12.80, 6.18.21, 6.19.11)",
            data,
          },
        ),
        transient: false,
      };
    }
    default:
      return { error: guestSyscallError("configfs-read", cause, path), transient: false };
  }
}

function afterAttempts(e: TdxError, attempts: number, retries: QuoteRetry[]): TdxError {
  if (attempts <= 1) return e;
  return new TdxError(e.code, `${e.message} (after ${attempts} attempts)`, {
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
    cause: e.cause,
    data: { ...(e.data ?? {}), retries },
  });
}

async function quoteLoop(
  reportData: Uint8Array,
  dir: string,
  opts: ConfigfsQuoteOptions,
  warnings: string[],
): Promise<ConfigfsQuote> {
  const { fs } = opts;
  const races = opts.retries ?? 3;
  const commitPolls = opts.commitPolls ?? 100;
  const policy = opts.retry ?? DEFAULT_RETRY;
  const clock = opts.clock ?? realClock;
  const kernel = opts.kernel ?? null;
  const retries: QuoteRetry[] = [];
  const provider = await configfsProviderOf(fs, dir);
  if (provider !== TSM_PROVIDER_TDX)
    throw new TdxError(
      "GUEST_WRONG_TSM_PROVIDER",
      `configfs-tsm provider is "${provider}", not ${TSM_PROVIDER_TDX}`,
      {
        field: "provider",
        hint: "this confidential VM is not a TDX TD (e.g. SEV-SNP); use that platform's tooling",
        data: { provider },
      },
    );
  for (let attempt = 1; ; attempt++) {
    let outcome: ReadOutcome | OutblobError;
    try {
      outcome = await oneQuote(fs, dir, reportData, races, commitPolls, clock);
    } catch (e) {
      if (!(e instanceof OutblobError)) throw e;
      outcome = e;
    }
    if (!(outcome instanceof OutblobError) && outcome.blob.length > 0) {
      const trimmed = trimQuote(outcome.blob, "configfs-tsm outblob", true);
      warnings.push(...trimmed.warnings);
      return { quote: trimmed.quote, attempts: attempt, retries, warnings };
    }
    const d = await diagnoseRead(fs, dir, outcome, kernel);
    if (!d.transient || attempt >= policy.attempts) throw afterAttempts(d.error, attempt, retries);
    const waitedMs = backoffFor(policy, attempt);
    const errno = d.error.data?.errno;
    retries.push({ attempt, code: d.error.code, ...(typeof errno === "string" ? { errno } : {}), waitedMs });
    await clock.sleep(waitedMs);
  }
}

/**
 * Get a TD quote for 64 bytes of REPORTDATA through configfs-tsm: clean up instances dead tdx-attest
 * processes left, create ours, retry transient failures with backoff, remove ours (a failure to is a warning).
 */
export async function configfsGetQuote(
  reportData: Uint8Array,
  opts: ConfigfsQuoteOptions,
): Promise<ConfigfsQuote> {
  checkReportData(reportData);
  const warnings = await removeDeadInstances(opts.fs, opts.root);
  const dir = await createInstance(opts.fs, opts.root);
  let result: ConfigfsQuote;
  try {
    result = await quoteLoop(reportData, dir, opts, warnings);
  } catch (e) {
    const err = e instanceof TdxError ? e : guestSyscallError("configfs-read", e, dir);
    const left = await removeInstance(opts.fs, dir);
    if (left) warnings.push(left);
    throw warnings.length > 0 ? withData(err, { warnings }) : err;
  }
  const left = await removeInstance(opts.fs, dir);
  if (left) result.warnings.push(left);
  return result;
}
