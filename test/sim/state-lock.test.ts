import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  initSimPlatform,
  loadSimPlatform,
  rtmrExtend,
  STATE_LOCK_FILE,
  withStateLock,
} from "../../src/sim/index.js";
import { cliPath } from "../helpers/cli.js";
import { projectRoot } from "../helpers/vectors.js";

/**
 * The state directory lock: concurrent processes extending the same RTMR lose no update (the final RTMR
 * is the fold of every extend, in the order they took the lock), a lock left by a dead process is taken
 * over, and a live owner makes a waiter give up with SIM_STATE_LOCKED after its bounded wait. The lock
 * file's own mechanics (other hosts, unreadable locks, takeover races, ...) are tested in test/lockfile.test.ts.
 */

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "sim-lock-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const digestOf = (label: string) => new Uint8Array(createHash("sha384").update(label).digest());

interface Extend {
  digest: string;
  after: string;
}

/**
 * Put the extends in the order they happened: each one's result is SHA-384(previous || digest), so from
 * zero exactly one pending extend continues the chain at each step. Fails if any extend is missing from
 * the chain (a lost update) or two claim the same predecessor.
 */
function chainOrder(extends_: Extend[]): string {
  let current = new Uint8Array(48);
  const pending = [...extends_];
  while (pending.length > 0) {
    const prev = current;
    const next = pending.filter(
      (e) => hex(rtmrExtend(prev, Uint8Array.from(Buffer.from(e.digest, "hex")))) === e.after,
    );
    if (next.length !== 1) {
      throw new Error(
        `${pending.length} of ${extends_.length} extends do not continue the chain from ${hex(prev).slice(0, 16)}…: ${next.length} candidates`,
      );
    }
    current = Uint8Array.from(Buffer.from(next[0]!.after, "hex"));
    pending.splice(pending.indexOf(next[0]!), 1);
  }
  return hex(current);
}

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    p.once("exit", (code) => resolve({ code, out, err }));
  });
}

const built = existsSync(cliPath);

describe.skipIf(!built)(
  `concurrent processes on one state directory (built CLI ${built ? "present" : "missing: run npm run build"})`,
  () => {
    it("parallel `tdx-attest sim extend` runs: RTMR2 is the fold of all of them", async () => {
      const state = join(root, "cli");
      await initSimPlatform(state);
      const n = 6;
      const digests = Array.from({ length: n }, (_, i) => hex(digestOf(`cli extend ${i}`)));
      const results = await Promise.all(
        digests.map((d) => run([cliPath, "sim", "extend", "--state", state, "--rtmr", "2", "--digest", d])),
      );
      const extends_ = results.map((r, i) => {
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        const m = /RTMR2 = ([0-9a-f]{96})/.exec(r.out);
        expect(m).not.toBeNull();
        return { digest: digests[i]!, after: m![1]! };
      });
      const final = chainOrder(extends_);
      expect(hex((await loadSimPlatform(state)).tdState.rtmr[2])).toBe(final);
      expect(existsSync(join(state, STATE_LOCK_FILE))).toBe(false);
    });

    it("processes extending in a tight loop lose no update", async () => {
      const state = join(root, "loop");
      await initSimPlatform(state);
      const simModule = pathToFileURL(join(projectRoot, "dist", "sim", "index.js")).href;
      // Each process loads the platform once (as a long-running guest agent would) and extends 20 times.
      const script = `
        import { createHash } from "node:crypto";
        const { loadSimPlatform } = await import(${JSON.stringify(simModule)});
        const p = await loadSimPlatform(process.argv[1]);
        for (let i = 0; i < 20; i++) {
          const d = createHash("sha384").update(process.argv[2] + " " + i).digest();
          const after = p.extendRtmr(3, new Uint8Array(d));
          process.stdout.write(d.toString("hex") + " " + Buffer.from(after).toString("hex") + "\\n");
        }`;
      const results = await Promise.all(
        [0, 1, 2, 3].map((w) => run(["--input-type=module", "-e", script, state, `worker ${w}`])),
      );
      const extends_: Extend[] = [];
      for (const r of results) {
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        for (const line of r.out.trim().split("\n")) {
          const [digest, after] = line.split(" ");
          extends_.push({ digest: digest!, after: after! });
        }
      }
      expect(extends_.length).toBe(80);
      const final = chainOrder(extends_);
      expect(hex((await loadSimPlatform(state)).tdState.rtmr[3])).toBe(final);
    });
  },
);

/** The pid of a process that has exited (so no process with it exists right now, barring reuse). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  return Number(r.stdout);
}

describe("lock ownership", () => {
  it("a lock left by a dead process is taken over", async () => {
    const state = join(root, "stale");
    const p = await initSimPlatform(state);
    const pid = deadPid();
    writeFileSync(
      join(state, STATE_LOCK_FILE),
      JSON.stringify({ pid, host: hostname(), since: new Date().toISOString() }),
    );
    const d = digestOf("after a crash");
    const v = p.extendRtmr(1, d);
    expect(hex(v)).toBe(hex(rtmrExtend(new Uint8Array(48), d)));
    expect(existsSync(join(state, STATE_LOCK_FILE))).toBe(false);
  });

  it("a live owner makes the waiter fail with SIM_STATE_LOCKED after its bounded wait", async () => {
    const state = join(root, "live");
    await initSimPlatform(state);
    const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      const lock = join(state, STATE_LOCK_FILE);
      const record = JSON.stringify({ pid: holder.pid, host: hostname(), since: new Date().toISOString() });
      writeFileSync(lock, record);
      let caught: unknown;
      try {
        withStateLock(state, () => "never", { timeoutMs: 150 });
      } catch (e) {
        caught = e;
      }
      expect(caught).toMatchObject({
        code: "SIM_STATE_LOCKED",
        field: "state",
        data: { owner: { pid: holder.pid } },
      });
      expect(String((caught as Error).message)).toContain(`pid ${holder.pid}`);
      // The waiter leaves the owner's lock alone.
      expect(readFileSync(lock, "utf8")).toBe(record);
    } finally {
      holder.kill();
    }
  });

  it("is re-entrant within a process and released afterwards, also when the work throws", async () => {
    const state = join(root, "nested");
    await initSimPlatform(state);
    const lock = join(state, STATE_LOCK_FILE);
    const inner = withStateLock(state, () => {
      expect(existsSync(lock)).toBe(true);
      return withStateLock(state, () => 42);
    });
    expect(inner).toBe(42);
    expect(existsSync(lock)).toBe(false);
    expect(() =>
      withStateLock(state, () => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(existsSync(lock)).toBe(false);
  });

  it("two concurrent inits of one directory: one platform, not a mix of both", async () => {
    const state = join(root, "init-race");
    const outcomes = await Promise.allSettled([initSimPlatform(state), initSimPlatform(state)]);
    const ok = outcomes.filter((o) => o.status === "fulfilled");
    const failed = outcomes.filter((o) => o.status === "rejected");
    expect(ok.length).toBe(1);
    expect(failed.length).toBe(1);
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: "SIM_STATE_EXISTS" });
    const winner = (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof initSimPlatform>>>).value;
    const loaded = await loadSimPlatform(state);
    expect(loaded.rootCaPem).toBe(winner.rootCaPem);
    expect(loaded.pckCertChainPem).toBe(winner.pckCertChainPem);
  });

  it("a missing state directory is reported as such", () => {
    expect(() => withStateLock(join(root, "absent"), () => 1)).toThrow(
      expect.objectContaining({ code: "SIM_STATE_MISSING" }),
    );
  });
});
