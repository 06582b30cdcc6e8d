import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, resolve } from "node:path";
import type { TdxError } from "./errors.js";

/**
 * An exclusive lock file next to some state, shared by the simulated platform's state directory
 * (src/sim/state-lock.ts, synchronous) and the runtime event log (src/guest/runtime-log-file.ts, asynchronous).
 *
 * The lock is the file PATH, created with O_CREAT|O_EXCL and holding the owner's pid, host, process start
 * time and a per-thread token. A waiter polls with a short jittered back-off up to a bounded time, then
 * fails with the caller's error. A lock whose owner is a dead process on this host is stale and taken
 * over; a lock of another host never is. A lock without a readable owner (its writer died between create
 * and write) is stale once older than a grace period. Taking over (deleting someone else's lock file) is
 * serialised by a second O_EXCL file, PATH.break, and re-checks the lock file's identity (inode) under it:
 * two waiters that both found the same stale lock can then not delete each other's fresh lock. Ordinary
 * acquirers only ever create the lock and owners only delete their own, so the lock file can change under
 * the breaker only by a create after a delete.
 *
 * The two entry points share every step and differ only in how they wait: `withLockFileSync` blocks the
 * thread (Atomics.wait) so that synchronous callers stay synchronous; `withLockFile` awaits a timer and
 * holds the lock across the awaits of its callback. The file operations are synchronous in both: each is
 * one small system call on a local file.
 */

/** The owner record written into a lock file. */
export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  /** Start time of the owning process (ms, rounded): tells a reused pid from the process that wrote it. */
  procStart?: number;
  /** Random per loaded module (one per worker thread): tells this thread's locks from other threads'. */
  token?: string;
}

/** What a caller's timeout error is built from. */
export interface LockWaitInfo {
  lockPath: string;
  /** The owner that kept the lock, when its record was readable. */
  owner: LockOwner | null;
  waitedMs: number;
  timeoutMs: number;
}

export interface LockFileOptions {
  /** How long to wait for another owner's lock before failing (default 10 s). */
  timeoutMs?: number;
  /** The error thrown when another live owner keeps the lock past the timeout (the caller's code and hint). */
  lockedError: (info: LockWaitInfo) => TdxError;
  /** The error thrown when the lock file cannot be created, read or removed for a reason other than the lock. */
  ioError: (cause: unknown, path: string, action: "create" | "read" | "remove") => TdxError;
}

export interface LockFileSyncOptions extends LockFileOptions {
  /**
   * Nested `withLockFileSync` calls on the same lock in this thread run inside the outer hold instead of
   * waiting for it (default false). Only synchronous holds nest; an asynchronous hold is never re-entered.
   */
  reentrant?: boolean;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;
/** A lock file without a readable owner that is older than this was left by a crash between create and write. */
export const UNREADABLE_LOCK_GRACE_MS = 5_000;
const MAX_PAUSE_MS = 50;

const PROC_START = Math.round(Date.now() - process.uptime() * 1000);
const TOKEN = randomBytes(8).toString("hex");

interface Hold {
  /** Nesting depth of synchronous re-entrant holds (1 for any other hold). */
  depth: number;
  sync: boolean;
}

/** Locks this thread holds, by identity of the lock file's directory and name. */
const held = new Map<string, Hold>();

/** Render an owner for an error message: "pid N on HOST (since T)", or "another process" when unknown. */
export function describeLockOwner(owner: LockOwner | null): string {
  return owner ? `pid ${owner.pid} on ${owner.host} (since ${owner.since})` : "another process";
}

/** The breaker file that serialises takeovers of `lockPath`. */
export function lockBreakPath(lockPath: string): string {
  return `${lockPath}.break`;
}

function ownerText(): string {
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    procStart: PROC_START,
    token: TOKEN,
  };
  return `${JSON.stringify(owner)}\n`;
}

/** O_EXCL create of `path` with our owner record; the text written, or null if it exists. */
function tryCreate(path: string, opts: LockFileOptions): string | null {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return null;
    throw opts.ioError(e, path, "create");
  }
  const text = ownerText();
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return text;
}

interface LockFileState {
  ino: number;
  ageMs: number;
  text: string;
  owner: LockOwner | null;
}

/**
 * The owner named by a lock file's text: our JSON record, or the earlier runtime event log's "PID TOKEN\n"
 * (written by appenders of this host only). Null while being written or when left empty by a crash.
 */
function parseOwner(text: string): LockOwner | null {
  const legacy = /^(\d+) \S+\n$/.exec(text);
  if (legacy) return { pid: Number(legacy[1]), host: hostname(), since: "" };
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (Number.isInteger(o.pid) && typeof o.host === "string") {
      const owner: LockOwner = { pid: o.pid!, host: o.host, since: String(o.since ?? "") };
      if (typeof o.procStart === "number") owner.procStart = o.procStart;
      if (typeof o.token === "string") owner.token = o.token;
      return owner;
    }
  } catch {
    // Partial or empty.
  }
  return null;
}

function readLock(path: string, opts: LockFileOptions): LockFileState | null {
  try {
    const st = statSync(path);
    const text = readFileSync(path, "utf8");
    return { ino: st.ino, ageMs: Date.now() - st.mtimeMs, text, owner: parseOwner(text) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw opts.ioError(e, path, "read");
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the lock's owner is gone, so the lock can be taken over. Locks of other hosts are never stale. */
function isStale(s: LockFileState, key: string): boolean {
  if (!s.owner) return s.ageMs > UNREADABLE_LOCK_GRACE_MS;
  if (s.owner.host !== hostname()) return false;
  if (s.owner.pid === process.pid) {
    // An earlier process that had our pid (containers rerun the same pid), or this very process: another
    // worker thread (alive) or this thread (stale unless we hold it, e.g. left by a failed release).
    if (s.owner.procStart !== undefined && Math.abs(s.owner.procStart - PROC_START) > 1000) return true;
    if (s.owner.token !== TOKEN) return false;
    return !held.has(key);
  }
  return !processAlive(s.owner.pid);
}

/**
 * Delete the stale lock file if it is still the one judged stale (same inode, owner still gone); serialised
 * by the breaker file. True when this call removed it.
 */
function breakStaleLock(lockPath: string, stale: LockFileState, key: string, opts: LockFileOptions): boolean {
  const breakPath = lockBreakPath(lockPath);
  if (tryCreate(breakPath, opts) === null) {
    // Another waiter is breaking the lock. A breaker left by a dead process is removed: it is only held for
    // the few system calls below, so two waiters both finding the same dead breaker is a double fault.
    const b = readLock(breakPath, opts);
    if (b && isStale(b, key)) rmSync(breakPath, { force: true });
    return false;
  }
  try {
    const now = readLock(lockPath, opts);
    if (now && now.ino === stale.ino && isStale(now, key)) {
      try {
        unlinkSync(lockPath);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw opts.ioError(e, lockPath, "remove");
      }
      return true;
    }
    return false;
  } finally {
    rmSync(breakPath, { force: true });
  }
}

/** Identity of a lock: its directory's device and inode (any spelling of the path), and its name. */
function lockKey(lockPath: string, opts: LockFileOptions): string {
  const dir = dirname(resolve(lockPath));
  try {
    const st = statSync(dir);
    return `${st.dev}:${st.ino}/${basename(lockPath)}`;
  } catch (e) {
    throw opts.ioError(e, lockPath, "create");
  }
}

/** One acquisition in progress: the steps both entry points share. */
class Acquisition {
  private readonly started = Date.now();
  private readonly timeoutMs: number;
  private pause = 2;
  /** Set once acquired: the lock file's inode and text, to only ever delete our own lock. */
  private mine: { ino: number; text: string } | null = null;

  constructor(
    private readonly lockPath: string,
    private readonly key: string,
    private readonly opts: LockFileOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  }

  /** Try once: null when acquired, else how long to wait before the next try. Throws past the timeout. */
  attempt(): number | null {
    for (;;) {
      const text = tryCreate(this.lockPath, this.opts);
      if (text !== null) {
        this.mine = { ino: statSync(this.lockPath).ino, text };
        held.set(this.key, { depth: 1, sync: false });
        return null;
      }
      const s = readLock(this.lockPath, this.opts);
      if (s === null) continue; // released between our create and our read
      if (isStale(s, this.key) && breakStaleLock(this.lockPath, s, this.key, this.opts)) continue;
      const waited = Date.now() - this.started;
      if (waited >= this.timeoutMs) {
        throw this.opts.lockedError({
          lockPath: this.lockPath,
          owner: s.owner,
          waitedMs: waited,
          timeoutMs: this.timeoutMs,
        });
      }
      // Jittered back-off so that waiters do not retry in lock-step.
      const wait = Math.min(this.pause + Math.random() * this.pause, this.timeoutMs - waited);
      this.pause = Math.min(this.pause * 2, MAX_PAUSE_MS);
      return wait;
    }
  }

  /**
   * Delete the lock file if it is still ours. Best effort: a lock left behind by a failed removal names
   * this thread, which takes it over on its next acquisition.
   */
  release(): void {
    held.delete(this.key);
    const mine = this.mine;
    this.mine = null;
    if (!mine) return;
    try {
      const now = readLock(this.lockPath, this.opts);
      if (now && now.ino === mine.ino && now.text === mine.text) rmSync(this.lockPath, { force: true });
    } catch {
      // See above.
    }
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Run `fn` holding the exclusive lock file `lockPath` (its directory must exist), waiting by blocking the
 * thread. Fails with `opts.lockedError` when another live owner keeps the lock past the timeout.
 */
export function withLockFileSync<T>(lockPath: string, fn: () => T, opts: LockFileSyncOptions): T {
  const key = lockKey(lockPath, opts);
  const hold = held.get(key);
  if (opts.reentrant && hold?.sync) {
    hold.depth += 1;
    try {
      return fn();
    } finally {
      hold.depth -= 1;
    }
  }
  const a = new Acquisition(lockPath, key, opts);
  for (let wait = a.attempt(); wait !== null; wait = a.attempt()) Atomics.wait(sleepCell, 0, 0, wait);
  held.set(key, { depth: 1, sync: true });
  try {
    return fn();
  } finally {
    a.release();
  }
}

/**
 * Run `fn` holding the exclusive lock file `lockPath` (its directory must exist) across its awaits,
 * waiting on timers. Not re-entrant: a nested call waits for the outer hold (and so times out).
 * Fails with `opts.lockedError` when another live owner keeps the lock past the timeout.
 */
export async function withLockFile<T>(
  lockPath: string,
  fn: () => Promise<T> | T,
  opts: LockFileOptions,
): Promise<T> {
  const key = lockKey(lockPath, opts);
  const a = new Acquisition(lockPath, key, opts);
  for (let wait = a.attempt(); wait !== null; wait = a.attempt()) {
    await new Promise((r) => setTimeout(r, wait));
  }
  try {
    return await fn();
  } finally {
    a.release();
  }
}
