/**
 * The runtime event log's file, inside the TD: read it, and append one event under an exclusive lock
 * (optionally extending the RTMR under that lock). The format itself is src/eventlog/runtime.ts (pure).
 */
import { randomBytes } from "node:crypto";
import { constants as fsc } from "node:fs";
import { mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { asTdxError, TdxError } from "../errors.js";
import { MR_SIZE, unhex } from "../eventlog/bytes.js";
import {
  emptyRuntimeLog,
  makeRuntimeLogEntry,
  parseRuntimeLog,
  type RuntimeEventInput,
  type RuntimeLog,
  type RuntimeLogEntry,
  serializeRuntimeLog,
} from "../eventlog/runtime.js";
import { withLockFile } from "../lockfile.js";

/**
 * Where `tdx-attest extend` keeps the log unless told otherwise. /run is a tmpfs: the log disappears on
 * reboot exactly when the RTMRs are reset, so it never describes a previous boot.
 */
export const DEFAULT_RUNTIME_LOG_PATH = "/run/tdx-attest/runtime-log.json";

export interface AppendRuntimeEventOptions {
  /**
   * Performs the RTMR extend. Called with the exact digest while the log's lock is held, before the entry
   * is written, so concurrent extenders log in the order they extended. If it throws, nothing is written.
   */
  extend?: (rtmr: number, digest: Uint8Array) => Promise<void> | void;
  /** Time recorded in the entry (default: now). */
  time?: Date;
  /** How long to wait for another appender's lock (default 10 s). */
  lockTimeoutMs?: number;
}

/** Reads and checks a runtime log file. A missing or empty file is an empty log. */
export async function readRuntimeLog(logPath: string): Promise<RuntimeLog> {
  let text: string;
  try {
    text = await readFile(logPath, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return emptyRuntimeLog();
    throw asTdxError(e, "RUNTIME_LOG_IO", `cannot read runtime log ${logPath}`, {
      hint: "check the path and its permissions",
    });
  }
  if (text.trim() === "") return emptyRuntimeLog();
  return parseRuntimeLog(text);
}

/**
 * Exclusive lock file next to the log (the shared lock file of src/lockfile.ts: O_CREAT|O_EXCL, holding the
 * owner's pid and host), held across `fn`'s awaits. A lock whose owner process on this host is gone
 * (crashed mid-append), or an unreadable one older than 5 s, is taken over; past `timeoutMs`,
 * RUNTIME_LOG_LOCK_TIMEOUT.
 */
function withRuntimeLogLock<T>(lockPath: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  return withLockFile(lockPath, fn, {
    timeoutMs,
    lockedError: () =>
      new TdxError(
        "RUNTIME_LOG_LOCK_TIMEOUT",
        `runtime log ${basename(lockPath)} stayed locked for ${timeoutMs} ms`,
        {
          hint: `another tdx-attest process is appending; if none is, remove ${lockPath}`,
        },
      ),
    ioError: (cause, path, action) =>
      asTdxError(cause, "RUNTIME_LOG_IO", `cannot ${action} lock ${path}`, {
        hint: "the directory of the runtime log must exist and be writable",
      }),
  });
}

async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, fsc.O_CREAT | fsc.O_EXCL | fsc.O_WRONLY, mode);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // Make the rename itself durable.
  try {
    const dir = await open(dirname(path), fsc.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}

/**
 * Appends one event to the runtime log at `logPath` (created, with its directory, if absent). The file is replaced atomically
 * (temp file, fsync, rename), so readers see the old or the new log, never a partial one; a lock file
 * serializes concurrent appenders. With `options.extend` the extend happens under the same lock.
 */
export async function appendRuntimeEvent(
  logPath: string,
  input: RuntimeEventInput,
  options: AppendRuntimeEventOptions = {},
): Promise<RuntimeLogEntry> {
  // Validate before touching anything.
  const time = options.time ?? new Date();
  makeRuntimeLogEntry(input, 0, time);
  try {
    await mkdir(dirname(logPath), { recursive: true, mode: 0o755 });
  } catch (e) {
    throw asTdxError(e, "RUNTIME_LOG_IO", `cannot create the directory of ${logPath}`, {
      hint: "choose a writable location for the runtime log (e.g. as root: /run/tdx-attest/)",
    });
  }
  return withRuntimeLogLock(`${logPath}.lock`, options.lockTimeoutMs ?? 10_000, async () => {
    const log = await readRuntimeLog(logPath);
    const entry = makeRuntimeLogEntry(input, log.events.length, time);
    const digest = unhex(entry.digest, "digest", MR_SIZE);
    if (options.extend) {
      try {
        await options.extend(entry.rtmr, digest);
      } catch (e) {
        throw asTdxError(e, "RUNTIME_EVENT_EXTEND_FAILED", `extending RTMR${entry.rtmr} failed`, {
          hint: "nothing was logged; check the guest provider (tdx-attest status)",
        });
      }
    }
    log.events.push(entry);
    let mode = 0o644;
    try {
      mode = (await stat(logPath)).mode & 0o777;
    } catch {
      // New file: default mode.
    }
    try {
      await writeFileAtomic(logPath, serializeRuntimeLog(log), mode);
    } catch (e) {
      throw asTdxError(e, "RUNTIME_LOG_IO", `cannot write runtime log ${logPath}`, {
        hint: options.extend
          ? `RTMR${entry.rtmr} WAS extended with ${entry.digest} but the log was not updated; replay will not match until it is recorded`
          : "check free space and permissions of the log's directory",
        data: { entry },
      });
    }
    return entry;
  });
}
