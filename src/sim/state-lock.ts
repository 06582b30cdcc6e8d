import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { TdxError } from "../errors.js";

/**
 * An exclusive lock on a simulated platform's state directory, so that concurrent processes (two
 * `tdx-attest sim extend`, a guest agent and the CLI, ...) never lose each other's read-modify-write.
 *
 * The lock is the file DIR/state.lock, created with O_CREAT|O_EXCL and holding the owner's pid and host.
 * A waiter polls with a short back-off up to a bounded time, then fails with SIM_STATE_LOCKED. A lock
 * whose owner is a dead process on this host is stale and taken over. Taking over (deleting someone
 * else's lock file) is itself serialised by a second O_EXCL file, DIR/state.lock.break, and re-checks the
 * lock file's identity (inode) under it: two waiters that both found the same stale lock can then not
 * delete each other's fresh lock. Ordinary acquirers only ever create the lock and owners only delete
 * their own, so the lock file can change under the breaker only by a create after a delete.
 *
 * The wait is synchronous (Atomics.wait), so that SimPlatform's methods stay synchronous; the lock is
 * held for the few milliseconds of one state update.
 */

export const STATE_LOCK_FILE = "state.lock";
const BREAK_FILE = "state.lock.break";

export interface StateLockOptions {
  /** How long to wait for another process's lock before failing (default 10 s). */
  timeoutMs?: number;
}

interface LockOwner {
  pid: number;
  host: string;
  since: string;
  /** Start time of the owning process (ms, rounded): tells a reused pid from the process that wrote it. */
  procStart?: number;
  /** Random per loaded module (one per worker thread): tells this thread's locks from other threads'. */
  token?: string;
}

const PROC_START = Math.round(Date.now() - process.uptime() * 1000);
const TOKEN = randomBytes(8).toString("hex");

const DEFAULT_TIMEOUT_MS = 10_000;
/** A lock file without a readable owner that is older than this was left by a crash between create and write. */
const UNREADABLE_GRACE_MS = 5_000;

/** Directories whose lock this process holds, with the nesting depth (the lock is re-entrant per process). */
const held = new Map<string, number>();

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
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

/** O_EXCL create of `path` with our owner record; false if it exists. */
function tryCreate(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new TdxError("SIM_STATE_UNWRITABLE", `cannot create the lock file ${path}`, {
      field: "state",
      cause: e,
      hint: "check that the state directory exists and is writable",
    });
  }
  try {
    writeSync(fd, ownerText());
  } finally {
    closeSync(fd);
  }
  return true;
}

interface LockFileState {
  ino: number;
  ageMs: number;
  owner: LockOwner | null;
}

function readLock(path: string): LockFileState | null {
  try {
    const st = statSync(path);
    let owner: LockOwner | null = null;
    try {
      const o = JSON.parse(readFileSync(path, "utf8")) as Partial<LockOwner>;
      if (Number.isInteger(o.pid) && typeof o.host === "string") {
        owner = { pid: o.pid!, host: o.host, since: String(o.since ?? "") };
        if (typeof o.procStart === "number") owner.procStart = o.procStart;
        if (typeof o.token === "string") owner.token = o.token;
      }
    } catch {
      owner = null; // being written right now, or left empty by a crash
    }
    return { ino: st.ino, ageMs: Date.now() - st.mtimeMs, owner };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
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
function isStale(s: LockFileState, dirKey: string): boolean {
  if (!s.owner) return s.ageMs > UNREADABLE_GRACE_MS;
  if (s.owner.host !== hostname()) return false;
  if (s.owner.pid === process.pid) {
    // An earlier process that had our pid (containers rerun the same pid), or this very process: another
    // worker thread (alive) or this thread (stale unless we hold it, e.g. left by a failed release).
    if (s.owner.procStart !== undefined && Math.abs(s.owner.procStart - PROC_START) > 1000) return true;
    if (s.owner.token !== TOKEN) return false;
    return !held.has(dirKey);
  }
  return !processAlive(s.owner.pid);
}

/**
 * Delete the stale lock file if it is still the one judged stale (same inode, owner still dead); serialised
 * by the breaker file. True when this call removed it.
 */
function breakStaleLock(dir: string, stale: LockFileState, dirKey: string): boolean {
  const lockPath = join(dir, STATE_LOCK_FILE);
  const breakPath = join(dir, BREAK_FILE);
  if (!tryCreate(breakPath)) {
    // Another waiter is breaking the lock. A breaker left by a dead process is removed: it is only held for
    // the few system calls below, so two waiters both finding the same dead breaker is a double fault.
    const b = readLock(breakPath);
    if (b && isStale(b, dirKey)) rmSync(breakPath, { force: true });
    return false;
  }
  try {
    const now = readLock(lockPath);
    if (now && now.ino === stale.ino && isStale(now, dirKey)) {
      unlinkSync(lockPath);
      return true;
    }
    return false;
  } finally {
    rmSync(breakPath, { force: true });
  }
}

function lockedError(dir: string, s: LockFileState | null, waitedMs: number): TdxError {
  const who = s?.owner ? `pid ${s.owner.pid} on ${s.owner.host} (since ${s.owner.since})` : "another process";
  return new TdxError(
    "SIM_STATE_LOCKED",
    `the simulated platform state in ${dir} is locked by ${who}; gave up after ${waitedMs} ms`,
    {
      field: "state",
      hint: `another tdx-attest command is updating this state directory: retry when it is done; if that process no longer exists (e.g. it ran on another host), remove ${join(dir, STATE_LOCK_FILE)}`,
      data: { lockFile: join(dir, STATE_LOCK_FILE), owner: s?.owner ?? null, waitedMs },
    },
  );
}

/**
 * Run `fn` holding the exclusive lock of state directory `dir` (which must exist). Re-entrant within
 * one process. Fails with SIM_STATE_LOCKED when another live process keeps the lock past the timeout.
 */
export function withStateLock<T>(dir: string, fn: () => T, opts: StateLockOptions = {}): T {
  const dirKey = dirKeyOf(dir);
  const depth = held.get(dirKey) ?? 0;
  if (depth > 0) {
    held.set(dirKey, depth + 1);
    try {
      return fn();
    } finally {
      held.set(dirKey, depth);
    }
  }
  const lockPath = join(dir, STATE_LOCK_FILE);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = Date.now();
  let pause = 2;
  for (;;) {
    if (tryCreate(lockPath)) break;
    const s = readLock(lockPath);
    if (s === null) continue; // released between our create and our read
    if (isStale(s, dirKey) && breakStaleLock(dir, s, dirKey)) continue;
    const waited = Date.now() - started;
    if (waited >= timeoutMs) throw lockedError(dir, s, waited);
    // Jittered back-off so that waiters do not retry in lock-step.
    sleepSync(Math.min(pause + Math.random() * pause, timeoutMs - waited));
    pause = Math.min(pause * 2, 50);
  }
  held.set(dirKey, 1);
  const ino = statSync(lockPath).ino;
  try {
    return fn();
  } finally {
    held.delete(dirKey);
    // Only ever delete our own lock file.
    const now = readLock(lockPath);
    if (now && now.ino === ino) rmSync(lockPath, { force: true });
  }
}

function dirKeyOf(dir: string): string {
  try {
    const st = statSync(dir);
    return `${st.dev}:${st.ino}`;
  } catch (e) {
    throw new TdxError("SIM_STATE_MISSING", `the state directory ${dir} does not exist`, {
      field: "state",
      cause: e,
      hint: `create a platform with \`tdx-attest sim init --state ${dir}\``,
    });
  }
}
