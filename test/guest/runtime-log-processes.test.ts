/** Concurrent appends from separate processes (the built package, as `tdx-attest extend` runs it). */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { runtimeEventDigest } from "../../src/eventlog/index.js";
import { readRuntimeLog } from "../../src/guest/index.js";
import { projectRoot } from "../helpers/vectors.js";

const built = join(projectRoot, "dist", "guest", "index.js");

function appender(log: string, name: string, count: number): Promise<number> {
  const script = `
    const { appendRuntimeEvent } = await import(${JSON.stringify(pathToFileURL(built).href)});
    for (let i = 0; i < ${count}; i++) {
      await appendRuntimeEvent(${JSON.stringify(log)}, { rtmr: 3, event: ${JSON.stringify(name)} + "-" + i, data: String(i) });
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? -1));
  });
}

describe.skipIf(!existsSync(built))(
  existsSync(built)
    ? "runtime log across processes"
    : "runtime log across processes (dist missing: run npm run build)",
  () => {
    it("4 processes x 8 appends: every entry present once, sequence intact, digests valid", async () => {
      const log = join(mkdtempSync(join(tmpdir(), "tdx-rtlog-mp-")), "runtime.json");
      const codes = await Promise.all(["a", "b", "c", "d"].map((n) => appender(log, n, 8)));
      expect(codes).toEqual([0, 0, 0, 0]);
      const events = (await readRuntimeLog(log)).events;
      expect(events).toHaveLength(32);
      expect(events.map((e) => e.seq)).toEqual([...Array(32).keys()]);
      expect(new Set(events.map((e) => e.event)).size).toBe(32);
      for (const e of events)
        expect(e.digest).toBe(Buffer.from(runtimeEventDigest(e.event, e.data!)).toString("hex"));
      // Each process's own entries stay in its order.
      for (const n of ["a", "b", "c", "d"]) {
        const mine = events.filter((e) => e.event.startsWith(`${n}-`)).map((e) => Number(e.event.slice(2)));
        expect(mine).toEqual([...Array(8).keys()]);
      }
    });
  },
);
