import { statSync } from "node:fs";
import { join } from "node:path";
import { TdxError } from "../errors.js";
import { describeLockOwner, withLockFileSync } from "../lockfile.js";

/**
 * An exclusive lock on a simulated platform's state directory, so that concurrent processes (two
 * `tdx-attest sim extend`, a guest agent and the CLI, ...) never lose each other's read-modify-write.
 *
 * The lock is the file DIR/state.lock, managed by the shared lock file of src/lockfile.ts: O_CREAT|O_EXCL
 * create holding the owner's pid and host, bounded jittered wait (then SIM_STATE_LOCKED), takeover of a
 * lock whose owner is a dead process on this host (serialised by DIR/state.lock.break, with an inode
 * re-check), never of another host's lock.
 *
 * The wait is synchronous (Atomics.wait), so that SimPlatform's methods stay synchronous; the lock is
 * held for the few milliseconds of one state update.
 */

export const STATE_LOCK_FILE = "state.lock";

export interface StateLockOptions {
  /** How long to wait for another process's lock before failing (default 10 s). */
  timeoutMs?: number;
}

/**
 * Run `fn` holding the exclusive lock of state directory `dir` (which must exist). Re-entrant within
 * one process. Fails with SIM_STATE_LOCKED when another live process keeps the lock past the timeout.
 */
export function withStateLock<T>(dir: string, fn: () => T, opts: StateLockOptions = {}): T {
  assertStateDir(dir);
  const lockFile = join(dir, STATE_LOCK_FILE);
  return withLockFileSync(lockFile, fn, {
    timeoutMs: opts.timeoutMs,
    reentrant: true,
    lockedError: ({ owner, waitedMs }) =>
      new TdxError(
        "SIM_STATE_LOCKED",
        `the simulated platform state in ${dir} is locked by ${describeLockOwner(owner)}; gave up after ${waitedMs} ms`,
        {
          field: "state",
          hint: `another tdx-attest command is updating this state directory: retry when it is done; if that process no longer exists (e.g. it ran on another host), remove ${lockFile}`,
          data: { lockFile, owner, waitedMs },
        },
      ),
    ioError: (cause, path, action) =>
      new TdxError("SIM_STATE_UNWRITABLE", `cannot ${action} the lock file ${path}`, {
        field: "state",
        cause,
        hint: "check that the state directory exists and is writable",
      }),
  });
}

function assertStateDir(dir: string): void {
  try {
    statSync(dir);
  } catch (e) {
    throw new TdxError("SIM_STATE_MISSING", `the state directory ${dir} does not exist`, {
      field: "state",
      cause: e,
      hint: `create a platform with \`tdx-attest sim init --sim-state ${dir}\``,
    });
  }
}
