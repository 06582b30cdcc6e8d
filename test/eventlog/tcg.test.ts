import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  describeTcgEvent,
  EVENT_LOG_QUIRK_NAMES,
  parseCcelTable,
  parseEventLog,
  parseTcgLog,
  replayEventLog,
} from "../../src/eventlog/index.js";
import { tdxErrorOf } from "../helpers/errors.js";
import {
  concat,
  EVENTLOG_SKIP_REASON,
  encodeEvent2,
  encodeSpecIdHeader,
  eventlogVectorsDir,
  readVector,
} from "./helpers.js";

const SHA384 = 0x000c;
const SHA256 = 0x000b;
const h384 = (s: string | Uint8Array) => new Uint8Array(createHash("sha384").update(s).digest());
const h256 = (s: string | Uint8Array) => new Uint8Array(createHash("sha256").update(s).digest());
const fold = (digests: Uint8Array[]) =>
  digests.reduce(
    (mr, d) => new Uint8Array(createHash("sha384").update(mr).update(d).digest()),
    new Uint8Array(48),
  );
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");

function action(mr: number, text: string, banks: number[] = [SHA384]): Uint8Array {
  return encodeEvent2(
    mr,
    0x80000007,
    banks.map((alg) => ({ alg, digest: alg === SHA384 ? h384(text) : h256(text) })),
    new TextEncoder().encode(text),
  );
}

describe("TCG crypto-agile log (synthetic)", () => {
  const header = encodeSpecIdHeader([{ id: SHA384, size: 48 }]);
  const log = concat(header, action(1, "a"), action(2, "b"), action(4, "c"), action(1, "d"));

  it("replays MR index 1..4 into RTMR0..3 in order", () => {
    const r = replayEventLog(log);
    expect(r.registers.map((x) => x.replayed)).toEqual([
      hexOf(fold([h384("a"), h384("d")])),
      hexOf(fold([h384("b")])),
      hexOf(new Uint8Array(48)),
      hexOf(fold([h384("c")])),
    ]);
    expect(r.ok).toBeNull();
    expect(r.logs[0]).toMatchObject({ events: 5, extended: 4, end: "end-of-buffer" });
  });

  it("skips the digests of other banks by the sizes the Spec ID declares", () => {
    const two = encodeSpecIdHeader([
      { id: SHA256, size: 32 },
      { id: SHA384, size: 48 },
    ]);
    const r = replayEventLog(concat(two, action(1, "a", [SHA256, SHA384]), action(1, "b", [SHA384, SHA256])));
    expect(r.registers[0]!.replayed).toBe(hexOf(fold([h384("a"), h384("b")])));
  });

  it("does not extend EV_NO_ACTION events", () => {
    const noAction = encodeEvent2(1, 3, [{ alg: SHA384, digest: h384("x") }], new TextEncoder().encode("x"));
    const r = replayEventLog(concat(header, noAction, action(1, "a")));
    expect(r.registers[0]!.replayed).toBe(hexOf(fold([h384("a")])));
  });

  it("ends at 0xFF or 0x00 padding, and refuses other bytes after the end unless trailing-garbage", () => {
    for (const pad of [0xff, 0x00]) {
      const padded = concat(log, new Uint8Array(100).fill(pad));
      const p = parseTcgLog(padded);
      expect(p).toMatchObject({ end: "padding", endOffset: log.length, paddingLength: 100 });
    }
    // A padding tail shorter than a record header is still padding.
    expect(parseTcgLog(concat(log, new Uint8Array(3).fill(0xff))).end).toBe("padding");
    const dirty = concat(log, new Uint8Array(64).fill(0xff));
    dirty[log.length + 40] = 0x42;
    const e = tdxErrorOf(() => parseTcgLog(dirty));
    expect(e).toMatchObject({ code: "EVENTLOG_TRAILING_DATA", offset: log.length + 40 });
    expect(e.hint).toMatch(/--quirk trailing-garbage/);
    const ok = parseTcgLog(dirty, { quirks: ["trailing-garbage"] });
    expect(ok.quirksApplied).toEqual([
      expect.objectContaining({ quirk: "trailing-garbage", offset: log.length + 40 }),
    ]);
    expect(ok.events).toHaveLength(5);
  });

  it("missing-spec-id: a header-less log is refused, or read as SHA-384 under the quirk", () => {
    const bare = log.subarray(header.length);
    expect(tdxErrorOf(() => parseTcgLog(bare))).toMatchObject({ code: "EVENTLOG_NO_SPEC_ID", offset: 0 });
    const r = replayEventLog(bare, { quirks: ["missing-spec-id"] });
    expect(r.registers.map((x) => x.replayed)).toEqual(replayEventLog(log).registers.map((x) => x.replayed));
    expect(r.quirksApplied.map((q) => q.quirk)).toEqual(["missing-spec-id"]);
  });

  it("invalid-mr-index: MR 0xFFFFFFFF or an extend at MR 0 fails, or is skipped under the quirk", () => {
    for (const mr of [0xffffffff, 0, 5]) {
      const bad = concat(header, action(mr, "z"), action(1, "a"));
      const e = tdxErrorOf(() => replayEventLog(bad));
      expect(e).toMatchObject({ code: "EVENTLOG_BAD_MR_INDEX", offset: header.length, field: "mrIndex" });
      const r = replayEventLog(bad, { quirks: ["invalid-mr-index"] });
      expect(r.registers[0]!.replayed).toBe(hexOf(fold([h384("a")])));
      expect(r.quirksApplied[0]).toMatchObject({ quirk: "invalid-mr-index", offset: header.length });
    }
  });

  it("event-size-overrun: a last event cut inside its data fails, or keeps its digest under the quirk", () => {
    const cut = log.subarray(0, log.length - 1);
    const e = tdxErrorOf(() => parseTcgLog(cut));
    expect(e).toMatchObject({ code: "EVENTLOG_TRUNCATED", field: "eventSize", offset: cut.length - 4 });
    const r = replayEventLog(cut, { quirks: ["event-size-overrun"] });
    expect(r.registers.map((x) => x.replayed)).toEqual(replayEventLog(log).registers.map((x) => x.replayed));
    const p = parseTcgLog(cut, { quirks: ["event-size-overrun"] });
    expect(p.events[4]!.dataTruncated).toBe(true);
    expect(describeTcgEvent(p.events[4]!).dataTruncated).toBe(true);
  });

  it("truncation inside a digest is an error with the byte offset, whatever the quirks", () => {
    const cut = log.subarray(0, header.length + 12 + 2 + 20);
    const e = tdxErrorOf(() => parseTcgLog(cut, { quirks: EVENT_LOG_QUIRK_NAMES }));
    expect(e).toMatchObject({ code: "EVENTLOG_TRUNCATED", field: "digest", offset: header.length + 14 });
    expect(e.hint).toBeTruthy();
  });

  it("rejects digests of undeclared algorithms and impossible digest counts", () => {
    const sha256Only = encodeEvent2(1, 0x80000007, [{ alg: SHA256, digest: h256("a") }], new Uint8Array(1));
    expect(tdxErrorOf(() => parseTcgLog(concat(header, sha256Only)))).toMatchObject({
      code: "EVENTLOG_UNKNOWN_ALGORITHM",
      offset: header.length + 12,
    });
    const twoDigests = encodeEvent2(
      1,
      0x80000007,
      [
        { alg: SHA384, digest: h384("a") },
        { alg: SHA384, digest: h384("a") },
      ],
      new Uint8Array(1),
    );
    expect(tdxErrorOf(() => parseTcgLog(concat(header, twoDigests)))).toMatchObject({
      code: "EVENTLOG_BAD_DIGEST_COUNT",
      offset: header.length + 8,
    });
  });

  it("a log without SHA-384 cannot be replayed into RTMRs", () => {
    const tpm = concat(encodeSpecIdHeader([{ id: SHA256, size: 32 }]), action(1, "a", [SHA256]));
    expect(parseTcgLog(tpm).events).toHaveLength(2);
    expect(tdxErrorOf(() => replayEventLog(tpm))).toMatchObject({ code: "EVENTLOG_NO_SHA384_BANK" });
  });

  it("checks the Spec ID's digest sizes against the known algorithms", () => {
    const wrong = encodeSpecIdHeader([{ id: SHA384, size: 32 }]);
    expect(tdxErrorOf(() => parseTcgLog(concat(wrong, action(1, "a"))))).toMatchObject({
      code: "EVENTLOG_BAD_SPEC_ID",
      field: "specId.digestSizes",
      offset: 32 + 30,
    });
  });

  it("refuses an empty or all-padding log, and the CCEL table given as the log", () => {
    expect(tdxErrorOf(() => parseTcgLog(new Uint8Array(0)))).toMatchObject({ code: "EVENTLOG_EMPTY" });
    expect(tdxErrorOf(() => parseTcgLog(new Uint8Array(4096).fill(0xff)))).toMatchObject({
      code: "EVENTLOG_EMPTY",
    });
    const table = new Uint8Array(56);
    table.set(new TextEncoder().encode("CCEL"));
    expect(tdxErrorOf(() => parseEventLog(table))).toMatchObject({ code: "EVENTLOG_IS_CCEL_TABLE" });
  });

  it("accepts the binary log as hex or base64 text", () => {
    const expected = replayEventLog(log).registers;
    expect(replayEventLog(Buffer.from(log).toString("hex")).registers).toEqual(expected);
    expect(replayEventLog(Buffer.from(log).toString("base64")).registers).toEqual(expected);
    // Also as the bytes of a text file.
    expect(replayEventLog(new Uint8Array(Buffer.from(Buffer.from(log).toString("hex")))).registers).toEqual(
      expected,
    );
  });
});

describe("ACPI CCEL table (synthetic)", () => {
  function table(ccType = 2, size = 56): Uint8Array {
    const t = Buffer.alloc(size);
    t.write("CCEL", 0, "latin1");
    t.writeUInt32LE(size, 4);
    t[8] = 1;
    t.write("INTEL ", 10, "latin1");
    t[36] = ccType;
    t.writeBigUInt64LE(0x10000n, 40);
    t.writeBigUInt64LE(0x7d649000n, 48);
    let sum = 0;
    for (const b of t) sum = (sum + b) & 0xff;
    t[9] = (256 - sum) & 0xff;
    return new Uint8Array(t);
  }

  it("parses a valid table", () => {
    expect(parseCcelTable(table())).toMatchObject({ ccType: 2, logAreaMinimumLength: 0x10000n });
  });

  // The kernel (acpi_ccel_data_init) and go-eventlog (parseCCELACPITable) take a table of at least 56 bytes.
  it("takes a longer table of a later revision whose length field says so", () => {
    expect(parseCcelTable(table(2, 60))).toMatchObject({ length: 60, ccType: 2 });
  });

  it("reports each inconsistency with its offset", () => {
    const badSum = table();
    badSum[20] = badSum[20]! ^ 1;
    expect(tdxErrorOf(() => parseCcelTable(badSum))).toMatchObject({ code: "CCEL_BAD_CHECKSUM", offset: 9 });
    const badSig = table();
    badSig[0] = 0x58;
    expect(tdxErrorOf(() => parseCcelTable(badSig))).toMatchObject({ code: "CCEL_BAD_SIGNATURE", offset: 0 });
    expect(tdxErrorOf(() => parseCcelTable(table().subarray(0, 40)))).toMatchObject({
      code: "CCEL_TRUNCATED",
    });
    expect(tdxErrorOf(() => parseCcelTable(concat(table(), new Uint8Array(4))))).toMatchObject({
      code: "CCEL_BAD_LENGTH",
      offset: 4,
    });
    expect(tdxErrorOf(() => parseCcelTable(table(1)))).toMatchObject({ code: "CCEL_NOT_TDX", offset: 36 });
    expect(parseCcelTable(table(1), { anyCcType: true }).ccTypeName).toBe("AMD SEV");
  });

  it("refuses a log whose events run past the table's LAML", () => {
    const header = encodeSpecIdHeader([{ id: SHA384, size: 48 }]);
    const events = Array.from({ length: 1000 }, (_, i) => action(1, `event ${i}`));
    const big = concat(header, ...events);
    expect(big.length).toBeGreaterThan(0x10000);
    expect(tdxErrorOf(() => replayEventLog(big, { ccelTable: table() }))).toMatchObject({
      code: "EVENTLOG_EXCEEDS_LAML",
      offset: big.length,
    });
  });
});

describe.skipIf(!eventlogVectorsDir())(
  eventlogVectorsDir() ? "quirks on real logs" : `quirks on real logs (${EVENTLOG_SKIP_REASON})`,
  () => {
    it("missing-exit-boot-services: a log captured before ExitBootServices matches RTMR1 only with the quirk", async () => {
      const { parseQuote } = await import("../../src/abi/index.js");
      const bytes = readVector("go-tdx-guest-cos113/ccel_data.dat");
      const quote = parseQuote(readVector("go-tdx-guest-cos113/cos-113-tdx-quote.dat"));
      const log = parseTcgLog(bytes);
      const ebs = log.events.filter(
        (e) =>
          e.type === 0x80000007 && Buffer.from(e.data).toString("latin1").startsWith("Exit Boot Services"),
      );
      expect(ebs.map((e) => Buffer.from(e.data).toString("latin1"))).toEqual([
        "Exit Boot Services Invocation",
        "Exit Boot Services Returned with Success",
      ]);
      const kept = log.events.filter((e) => !ebs.includes(e));
      const preEbs = concat(...kept.map((e) => bytes.subarray(e.offset, e.offset + e.size)));
      const strict = replayEventLog(preEbs, { expected: quote });
      expect(strict.ok).toBe(false);
      expect(strict.firstDivergence).toMatchObject({ register: "RTMR1" });
      const lenient = replayEventLog(preEbs, { expected: quote, quirks: ["missing-exit-boot-services"] });
      expect(lenient.ok).toBe(true);
      expect(lenient.quirksApplied).toEqual([
        expect.objectContaining({ quirk: "missing-exit-boot-services" }),
      ]);
    });

    it("a flipped digest byte makes the register diverge and names a real event", async () => {
      const { parseQuote } = await import("../../src/abi/index.js");
      const bytes = new Uint8Array(readVector("go-tdx-guest-cos113/ccel_data.dat"));
      const quote = parseQuote(readVector("go-tdx-guest-cos113/cos-113-tdx-quote.dat"));
      const log = parseTcgLog(bytes);
      const target = log.events.filter((e) => e.mrIndex === 3)[5]!;
      bytes[target.offset + 14] = bytes[target.offset + 14]! ^ 0xff; // first byte of its SHA-384 digest
      const r = replayEventLog(bytes, { expected: quote });
      expect(r.registers.map((x) => x.match)).toEqual([true, true, false, true]);
      // The first five RTMR2 events are intact, but the quote's value is the full chain: no prefix matches.
      expect(r.firstDivergence).toMatchObject({ register: "RTMR2", reason: "no-prefix-matches" });
      expect(r.firstDivergence!.event!.eventType).toBe("EV_IPL");
    });
  },
);
