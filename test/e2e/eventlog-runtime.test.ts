/**
 * Measure-then-attest on the simulated platform: firmware events and runtime events are extended into a
 * simulated TD's RTMRs (runtime ones through appendRuntimeEvent's extend hook, concurrently), the TD is quoted,
 * and `tdx-attest eventlog replay FIRMWARE-LOG RUNTIME-LOG --quote QUOTE` must agree, or name what diverges.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { parseTcgLog, replayEventLogs, sha384DigestOf } from "../../src/eventlog/index.js";
import { appendRuntimeEvent } from "../../src/guest/index.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { concat, encodeEvent2, encodeSpecIdHeader } from "../eventlog/helpers.js";
import { runCli } from "../helpers/cli.js";

const h = (s: string) => new Uint8Array(createHash("sha384").update(s).digest());

describe("event log replay against a simulated TD's quote", () => {
  let platform: SimPlatform;
  let dir: string;
  let firmwareLog: string;
  let runtimeLog: string;
  let quoteFile: string;

  beforeAll(async () => {
    platform = await createSimPlatform();
    dir = mkdtempSync(join(tmpdir(), "tdx-el-e2e-"));
    // "Firmware": a TCG log whose events are extended into RTMR0..2 as TDVF would.
    const events = [
      [1, 0x8000000b, "TdxTable"],
      [1, 0x80000001, "SecureBoot=0"],
      [1, 0x00000004, "\0\0\0\0"],
      [2, 0x80000003, "kernel image"],
      [3, 0x00000006, "console=hvc0 root=/dev/vda1"],
    ] as const;
    const bytes = concat(
      encodeSpecIdHeader([{ id: 0x000c, size: 48 }]),
      ...events.map(([mr, type, text]) =>
        encodeEvent2(mr, type, [{ alg: 0x000c, digest: h(text) }], new TextEncoder().encode(text)),
      ),
      new Uint8Array(256).fill(0xff),
    );
    firmwareLog = join(dir, "ccel.bin");
    writeFileSync(firmwareLog, bytes);
    for (const e of parseTcgLog(bytes).events.slice(1))
      platform.extendRtmr(e.mrIndex - 1, sha384DigestOf(e)!);
    // Runtime: concurrent appenders, each extending under the log's lock.
    runtimeLog = join(dir, "runtime.json");
    await Promise.all(
      ["app-id", "compose-hash", "instance-id", "key-provider", "system-ready"].map((event, i) =>
        appendRuntimeEvent(
          runtimeLog,
          { rtmr: 3, event, data: `value-${i}` },
          { extend: (rtmr, digest) => void platform.extendRtmr(rtmr, digest) },
        ),
      ),
    );
    quoteFile = join(dir, "quote.bin");
    writeFileSync(quoteFile, platform.quote(new Uint8Array(64)));
  });

  it("library: firmware + runtime logs replay to the quote's RTMR0-3", () => {
    const r = replayEventLogs([readFileSync(firmwareLog), readFileSync(runtimeLog, "utf8")], {
      expected: parseQuote(new Uint8Array(readFileSync(quoteFile))),
    });
    expect(r.ok).toBe(true);
    expect(r.registers.map((x) => x.events)).toEqual([3, 1, 1, 5]);
  });

  it("CLI: exit 0 when every register matches", () => {
    const r = runCli(["eventlog", "replay", firmwareLog, runtimeLog, "--quote", quoteFile]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("every RTMR matches");
  });

  it("CLI: a TDREPORT (hex) works as the evidence too", () => {
    const tdreport = join(dir, "tdreport.hex");
    writeFileSync(tdreport, Buffer.from(platform.report(new Uint8Array(64))).toString("hex"));
    const r = runCli(["eventlog", "replay", firmwareLog, runtimeLog, "--quote", tdreport]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("(TDREPORT)");
  });

  it("CLI: a runtime log missing its firmware log fails on RTMR0-2 and names no event for them", () => {
    const r = runCli(["eventlog", "replay", "--json", runtimeLog, "--quote", quoteFile]);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.registers.map((x: { match: boolean }) => x.match)).toEqual([false, false, false, true]);
    expect(j.firstDivergence).toMatchObject({ register: "RTMR0", reason: "missing-events", event: null });
  });

  it("CLI: an entry logged but never extended is named as the first divergence (exit 1)", async () => {
    const extra = join(dir, "extra.json");
    writeFileSync(extra, readFileSync(runtimeLog));
    await appendRuntimeEvent(extra, { rtmr: 3, event: "not-extended", data: "x" });
    const r = runCli(["eventlog", "replay", "--json", firmwareLog, extra, "--quote", quoteFile]);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout).firstDivergence).toMatchObject({
      register: "RTMR3",
      reason: "extra-events",
      matchedEvents: 5,
      event: { log: 1, eventIndex: 5, eventName: "not-extended", format: "runtime" },
    });
  });

  it("CLI: a runtime log edited after the fact is refused as bad input (exit 2)", () => {
    const doc = JSON.parse(readFileSync(runtimeLog, "utf8"));
    doc.events[0].data = "forged";
    const forged = join(dir, "forged.json");
    writeFileSync(forged, JSON.stringify(doc));
    const r = runCli(["eventlog", "replay", firmwareLog, forged, "--quote", quoteFile]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("RUNTIME_LOG_DIGEST_MISMATCH");
  });
});
