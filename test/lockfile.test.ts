import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TdxError } from "../src/errors.js";
import {
  type LockFileOptions,
  type LockOwner,
  type LockWaitInfo,
  lockBreakPath,
  withLockFile,
  withLockFileSync,
} from "../src/lockfile.js";

/**
 * The shared lock file's mechanics, in both waiting modes: who may take a lock over (a dead owner on this
 * host, an unreadable lock past its grace, our own leftover) and who never is (another host, a live
 * process, another thread of this process), the caller's errors, re-entrancy, and holding across awaits.
 * The areas' tests (test/sim/state-lock.test.ts, test/eventlog/runtime*.test.ts) run concurrent processes.
 */

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "lockfile-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function freshLock(): string {
  n += 1;
  return join(root, `l${n}.lock`);
}

function opts(timeoutMs = 2000): LockFileOptions {
  return {
    timeoutMs,
    lockedError: (info) => {
      return new TdxError("SIM_STATE_LOCKED", `locked: ${info.lockPath}`, {
        hint: "test hint",
        data: { ...info },
      });
    },
    ioError: (cause, path, action) =>
      new TdxError("SIM_STATE_UNWRITABLE", `cannot ${action} ${path}`, { cause }),
  };
}

/** The pid of a process that has exited (so no process with it exists right now, barring reuse). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  return Number(r.stdout);
}

/** Our own owner record, as this thread writes it. */
function ownRecord(): LockOwner {
  const path = freshLock();
  return withLockFileSync(path, () => JSON.parse(readFileSync(path, "utf8")) as LockOwner, opts());
}

type Mode = "sync" | "async";
const modes: Mode[] = ["sync", "async"];
function acquire<T>(mode: Mode, path: string, fn: () => T, o: LockFileOptions): Promise<T> {
  if (mode === "sync") {
    try {
      return Promise.resolve(withLockFileSync(path, fn, o));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  return withLockFile(path, fn, o);
}

describe.each(modes)("%s lock file", (mode) => {
  it("holds an O_EXCL file naming this process while fn runs, and removes it (and no breaker) afterwards", async () => {
    const path = freshLock();
    const seen = await acquire(mode, path, () => JSON.parse(readFileSync(path, "utf8")) as LockOwner, opts());
    expect(seen).toMatchObject({ pid: process.pid, host: hostname() });
    expect(typeof seen.procStart).toBe("number");
    expect(typeof seen.token).toBe("string");
    expect(existsSync(path)).toBe(false);
    expect(existsSync(lockBreakPath(path))).toBe(false);
  });

  it("releases when fn throws, and the error passes through", async () => {
    const path = freshLock();
    await expect(
      acquire(
        mode,
        path,
        () => {
          throw new Error("boom");
        },
        opts(),
      ),
    ).rejects.toThrow("boom");
    expect(existsSync(path)).toBe(false);
  });

  it("takes over a lock left by a dead process on this host", async () => {
    const path = freshLock();
    writeFileSync(
      path,
      JSON.stringify({ pid: deadPid(), host: hostname(), since: new Date().toISOString() }),
    );
    expect(await acquire(mode, path, () => 7, opts())).toBe(7);
    expect(existsSync(path)).toBe(false);
  });

  it("a lock held on another host is never taken over", async () => {
    const path = freshLock();
    const record = JSON.stringify({
      pid: deadPid(),
      host: `not-${hostname()}`,
      since: "2026-01-01T00:00:00Z",
    });
    writeFileSync(path, record);
    await expect(acquire(mode, path, () => 1, opts(50))).rejects.toMatchObject({ code: "SIM_STATE_LOCKED" });
    expect(readFileSync(path, "utf8")).toBe(record);
  });

  it("a live owner makes the waiter fail with the caller's error, naming the owner, and leaves its lock alone", async () => {
    const path = freshLock();
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      const record = JSON.stringify({ pid: holder.pid, host: hostname(), since: "2026-11-26T00:00:00Z" });
      writeFileSync(path, record);
      const err = await acquire(mode, path, () => "never", opts(100)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TdxError);
      expect(err).toMatchObject({
        code: "SIM_STATE_LOCKED",
        hint: "test hint",
        data: { lockPath: path, timeoutMs: 100, owner: { pid: holder.pid, host: hostname() } },
      });
      const info = (err as TdxError).data as unknown as LockWaitInfo;
      expect(info.waitedMs).toBeGreaterThanOrEqual(info.timeoutMs);
      expect(readFileSync(path, "utf8")).toBe(record);
    } finally {
      holder.kill();
    }
  });

  it("an unreadable lock is left alone while fresh and taken over once older than the grace period", async () => {
    const path = freshLock();
    writeFileSync(path, "");
    await expect(acquire(mode, path, () => 1, opts(50))).rejects.toMatchObject({
      code: "SIM_STATE_LOCKED",
      data: { owner: null },
    });
    expect(existsSync(path)).toBe(true);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    expect(await acquire(mode, path, () => 2, opts())).toBe(2);
    expect(existsSync(path)).toBe(false);
  });

  it("reads the earlier event-log format (PID TOKEN): a dead pid is taken over, a live one waited for", async () => {
    const path = freshLock();
    writeFileSync(path, `${deadPid()} deadbeef\n`);
    expect(await acquire(mode, path, () => 3, opts())).toBe(3);
    writeFileSync(path, `${process.pid} held\n`);
    await expect(acquire(mode, path, () => 4, opts(30))).rejects.toMatchObject({
      code: "SIM_STATE_LOCKED",
      data: { owner: { pid: process.pid } },
    });
    expect(readFileSync(path, "utf8")).toBe(`${process.pid} held\n`);
  });

  it("our pid from an earlier process (different start time) is stale; another thread of ours is not", async () => {
    const own = ownRecord();
    const path = freshLock();
    writeFileSync(path, JSON.stringify({ ...own, procStart: own.procStart! - 60_000 }));
    expect(await acquire(mode, path, () => 5, opts())).toBe(5);
    const otherThread = JSON.stringify({ ...own, token: "0000000000000000" });
    writeFileSync(path, otherThread);
    await expect(acquire(mode, path, () => 6, opts(30))).rejects.toMatchObject({ code: "SIM_STATE_LOCKED" });
    expect(readFileSync(path, "utf8")).toBe(otherThread);
  });

  it("a lock of this thread that it does not hold (a failed release) is taken over", async () => {
    const path = freshLock();
    writeFileSync(path, JSON.stringify(ownRecord()));
    expect(await acquire(mode, path, () => 8, opts())).toBe(8);
    expect(existsSync(path)).toBe(false);
  });

  it("removes a takeover breaker left by a dead process, then takes the stale lock over", async () => {
    const path = freshLock();
    const dead = JSON.stringify({ pid: deadPid(), host: hostname(), since: "2026-11-26T00:00:00Z" });
    writeFileSync(lockBreakPath(path), dead);
    writeFileSync(path, dead);
    expect(await acquire(mode, path, () => 9, opts())).toBe(9);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(lockBreakPath(path))).toBe(false);
  });

  it("a breaker held by a live process blocks the takeover", async () => {
    const path = freshLock();
    writeFileSync(
      lockBreakPath(path),
      JSON.stringify(ownRecord()).replace(/"token":"[0-9a-f]+"/, '"token":"x"'),
    );
    writeFileSync(path, JSON.stringify({ pid: deadPid(), host: hostname(), since: "2026-11-26T00:00:00Z" }));
    await expect(acquire(mode, path, () => 1, opts(50))).rejects.toMatchObject({ code: "SIM_STATE_LOCKED" });
    expect(existsSync(path)).toBe(true);
  });

  it("release never deletes a lock file that is no longer ours", async () => {
    const path = freshLock();
    const foreign = JSON.stringify({ pid: 1, host: `not-${hostname()}`, since: "2026-11-26T00:00:00Z" });
    await acquire(
      mode,
      path,
      () => {
        unlinkSync(path);
        writeFileSync(path, foreign);
      },
      opts(),
    );
    expect(readFileSync(path, "utf8")).toBe(foreign);
  });

  it("a missing directory is the caller's I/O error", async () => {
    await expect(acquire(mode, join(root, "absent", "x.lock"), () => 1, opts())).rejects.toMatchObject({
      code: "SIM_STATE_UNWRITABLE",
    });
  });
});

describe("re-entrancy", () => {
  it("reentrant synchronous holds nest and release once, also when the work throws", () => {
    const path = freshLock();
    const o = { ...opts(), reentrant: true };
    const inner = withLockFileSync(
      path,
      () => {
        expect(existsSync(path)).toBe(true);
        return withLockFileSync(path, () => 42, o);
      },
      o,
    );
    expect(inner).toBe(42);
    expect(existsSync(path)).toBe(false);
    expect(() =>
      withLockFileSync(
        path,
        () =>
          withLockFileSync(
            path,
            () => {
              throw new Error("boom");
            },
            o,
          ),
        o,
      ),
    ).toThrow("boom");
    expect(existsSync(path)).toBe(false);
  });

  it("without reentrant, a nested synchronous call waits for the outer hold (and times out)", () => {
    const path = freshLock();
    expect(() => withLockFileSync(path, () => withLockFileSync(path, () => 1, opts(30)), opts())).toThrow(
      expect.objectContaining({ code: "SIM_STATE_LOCKED" }),
    );
    expect(existsSync(path)).toBe(false);
  });

  it("an asynchronous hold is never re-entered", async () => {
    const path = freshLock();
    await expect(
      withLockFile(path, () => withLockFile(path, () => 1, opts(30)), opts()),
    ).rejects.toMatchObject({ code: "SIM_STATE_LOCKED" });
    await expect(
      withLockFile(path, () => withLockFileSync(path, () => 1, { ...opts(30), reentrant: true }), opts()),
    ).rejects.toMatchObject({ code: "SIM_STATE_LOCKED" });
    expect(existsSync(path)).toBe(false);
  });
});

describe("asynchronous holds", () => {
  it("are held across awaits: concurrent holders in one process never overlap and all run", async () => {
    const path = freshLock();
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        withLockFile(
          path,
          async () => {
            inside += 1;
            most = Math.max(most, inside);
            await new Promise((r) => setTimeout(r, 1));
            await Promise.resolve();
            order.push(i);
            inside -= 1;
          },
          opts(),
        ),
      ),
    );
    expect(most).toBe(1);
    expect([...order].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(existsSync(path)).toBe(false);
  });
});
