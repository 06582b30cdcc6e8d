import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { appendRuntimeEvent } from "../../src/guest/index.js";
import { runCli } from "../helpers/cli.js";
import {
  concat,
  EVENTLOG_SKIP_REASON,
  encodeEvent2,
  encodeSpecIdHeader,
  eventlogVectorsDir,
} from "./helpers.js";

const V = eventlogVectorsDir();
const T = new Date("2026-11-26T12:00:00.000Z");

function syntheticLogFile(): string {
  const h = (s: string) => new Uint8Array(createHash("sha384").update(s).digest());
  const log = concat(
    encodeSpecIdHeader([{ id: 0x000c, size: 48 }]),
    encodeEvent2(1, 0x80000007, [{ alg: 0x000c, digest: h("hello") }], new TextEncoder().encode("hello")),
    encodeEvent2(0xffffffff, 0x80000007, [{ alg: 0x000c, digest: h("x") }], new TextEncoder().encode("x")),
    new Uint8Array(32).fill(0xff),
  );
  const file = join(mkdtempSync(join(tmpdir(), "tdx-el-cli-")), "log.bin");
  writeFileSync(file, log);
  return file;
}

describe("tdx-attest eventlog (synthetic logs)", () => {
  it("show prints types by name, digests and strings; bad MR index shown as not extended", () => {
    const r = runCli(["eventlog", "show", syntheticLogFile()]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("EV_EFI_ACTION");
    expect(r.stdout).toContain('string: "hello"');
    expect(r.stdout).toMatch(/not extended: MR index 4294967295/);
  });

  it("replay refuses an invalid MR index (exit 2) unless --quirk invalid-mr-index", () => {
    const file = syntheticLogFile();
    const bad = runCli(["eventlog", "replay", file]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("EVENTLOG_BAD_MR_INDEX");
    expect(bad.stderr).toMatch(/offset \d+/);
    expect(bad.stderr).toContain("--quirk invalid-mr-index");
    const ok = runCli(["eventlog", "replay", "--quirk", "invalid-mr-index", "--json", file]);
    expect(ok.status).toBe(0);
    const j = JSON.parse(ok.stdout);
    expect(j.ok).toBeNull();
    expect(j.quirksApplied[0].quirk).toBe("invalid-mr-index");
  });

  it("unknown quirk or format is bad input (exit 2)", () => {
    expect(runCli(["eventlog", "replay", "--quirk", "nope", syntheticLogFile()]).status).toBe(2);
    expect(runCli(["eventlog", "replay", "--format", "xml", syntheticLogFile()]).status).toBe(2);
    expect(runCli(["eventlog", "replay", "/nonexistent/log"]).status).toBe(2);
  });

  it("shows and replays a tdx-attest runtime log", async () => {
    const log = join(mkdtempSync(join(tmpdir(), "tdx-el-cli-")), "runtime.json");
    await appendRuntimeEvent(log, { rtmr: 3, event: "app-config", data: "port=8080" }, { time: T });
    await appendRuntimeEvent(
      log,
      { rtmr: 3, event: "key", data: "s3cr3t", recordData: false, description: "disk key id" },
      { time: T },
    );
    const show = runCli(["eventlog", "show", log]);
    expect(show.status).toBe(0);
    expect(show.stdout).toContain('RTMR3  RUNTIME_EVENT "app-config"');
    expect(show.stdout).toContain('data: "port=8080"');
    expect(show.stdout).toContain('description: "disk key id"');
    const replay = runCli(["eventlog", "replay", "--json", log]);
    expect(replay.status).toBe(0);
    expect(JSON.parse(replay.stdout).registers[3].events).toBe(2);
  });
});

describe.skipIf(!V)(
  V ? "tdx-attest eventlog (vectors)" : `tdx-attest eventlog (${EVENTLOG_SKIP_REASON})`,
  () => {
    const cos = (f: string) => join(V!, "go-tdx-guest-cos113", f);

    it("replay LOG --ccel TABLE --quote QUOTE: every register matches, exit 0", () => {
      const r = runCli([
        "eventlog",
        "replay",
        cos("ccel_data.dat"),
        "--ccel",
        cos("ccel_table.dat"),
        "--quote",
        cos("cos-113-tdx-quote.dat"),
      ]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("result: every RTMR matches the evidence");
      expect(r.stdout).toMatch(/RTMR2 {2}4969684dc87381fc\w+ +20 events {2}match/);
      expect(r.stdout).toContain("CCEL table: Intel TDX");
    });

    it("--json carries the same report", () => {
      const r = runCli([
        "eventlog",
        "replay",
        "--json",
        cos("ccel_data.dat"),
        "--quote",
        cos("cos-113-tdx-quote.dat"),
      ]);
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.ok).toBe(true);
      expect(j.registers.map((x: { match: boolean }) => x.match)).toEqual([true, true, true, true]);
      expect(j.mrtd.expected).toMatch(/^dae67181/);
    });

    it("a log of another boot: exit 1 naming the register and first event", () => {
      const other = join(V!, "go-eventlog-ccel", "cos-113-intel-tdx-dupe-separator.bin");
      const r = runCli(["eventlog", "replay", other, "--quote", cos("cos-113-tdx-quote.dat")]);
      expect(r.status).toBe(1);
      expect(r.stdout).toContain("RTMR0, RTMR1 do not match");
      expect(r.stdout).toContain("register RTMR0, log 0, event 1, type EV_EFI_HANDOFF_TABLES2, offset 65");
      const j = JSON.parse(
        runCli(["eventlog", "replay", "--json", other, "--quote", cos("cos-113-tdx-quote.dat")]).stdout,
      );
      expect(j.ok).toBe(false);
      expect(j.firstDivergence).toMatchObject({ register: "RTMR0", event: { eventIndex: 1 } });
    });

    it("--reference names the first differing event; exit 1 on a difference even without a quote", () => {
      const other = join(V!, "go-eventlog-ccel", "cos-113-intel-tdx-dupe-separator.bin");
      const r = runCli(["eventlog", "replay", other, "--reference", cos("ccel_data.dat")]);
      expect(r.status).toBe(1);
      expect(r.stdout).toContain("reference: RTMR0, RTMR1 differ from the reference log(s)");
      expect(r.stdout).toContain("RTMR1 event #1: log 0 event 17 (EV_EFI_GPT_EVENT at offset 9554) differs");
      expect(
        runCli(["eventlog", "replay", cos("ccel_data.dat"), "--reference", cos("ccel_data.dat")]).status,
      ).toBe(0);
    });

    it("a dstack JSON log is checked against the quote it carries", () => {
      const r = runCli(["eventlog", "replay", join(V!, "dstack-verifier-fixtures", "quote-report.json")]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("quote embedded in");
    });

    it("a truncated log is bad input with the byte offset of the bad size field (exit 2), also as --json", () => {
      const cut = join(mkdtempSync(join(tmpdir(), "tdx-el-cli-")), "cut.bin");
      writeFileSync(cut, readFileSync(cos("ccel_data.dat")).subarray(0, 5000));
      const r = runCli(["eventlog", "replay", cut]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("EVENTLOG_TRUNCATED");
      expect(r.stderr).toContain("offset 4074");
      const j = runCli(["eventlog", "replay", "--json", cut]);
      expect(j.status).toBe(2);
      expect(JSON.parse(j.stdout).error).toMatchObject({ code: "EVENTLOG_TRUNCATED", offset: 4074 });
    });

    it("show --json decodes UEFI variable names", () => {
      const r = runCli(["eventlog", "show", "--json", cos("ccel_data.dat")]);
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.events).toHaveLength(44);
      expect(
        j.events.map((e: { details: { variableName?: string } }) => e.details.variableName).filter(Boolean),
      ).toEqual(expect.arrayContaining(["SecureBoot", "PK", "KEK", "db", "dbx", "BootOrder"]));
    });
  },
);
