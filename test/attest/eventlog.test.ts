import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { replayEvidenceLog } from "../../src/attest/eventlog.js";
import { VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

/**
 * The evidence pipeline reads a CCEL as the references do: Trustee (deps/eventlog: replays MR 1..4 only, stops
 * at the 8-byte stop flag), go-eventlog (replays RTMR0..3 only, stops at MR index 0xFFFFFFFF) and dstack (skips
 * MR 0) accept an event at MR 0 or above 4 and stale bytes after the end of the log. Each use is reported.
 */
const dir = vectorsDir();
describe.skipIf(!dir)(`evidence event logs as the references read them (${VECTORS_SKIP_REASON})`, () => {
  const base = join(dir ?? "", "eventlog", "go-tdx-guest-cos113");
  const padded = dir ? readFileSync(join(base, "ccel_data.dat")) : Buffer.alloc(0);
  const quote = dir ? parseQuote(new Uint8Array(readFileSync(join(base, "cos-113-tdx-quote.dat")))) : null;
  const END = 18101; // where this log's events end and its 0xFF padding starts
  const event = (mr: number) => {
    const h = Buffer.alloc(14);
    h.writeUInt32LE(mr, 0);
    h.writeUInt32LE(0x80000007, 4); // EV_EFI_ACTION
    h.writeUInt32LE(1, 8);
    h.writeUInt16LE(0x0c, 12); // SHA-384
    const data = Buffer.from("x");
    const size = Buffer.alloc(4);
    size.writeUInt32LE(data.length);
    return Buffer.concat([h, createHash("sha384").update(data).digest(), size, data]);
  };
  const withPadding = (body: Buffer) => {
    const out = Buffer.alloc(padded.length, 0xff);
    body.copy(out);
    return new Uint8Array(out);
  };

  it("the log as captured matches, with nothing let through", () => {
    const r = replayEvidenceLog(new Uint8Array(padded), quote!);
    expect(r).toMatchObject({ replayed: true, matches: true });
    expect(r.quirksApplied).toBeUndefined();
  });

  it.each([0, 5, 0xffffffff])("an event at MR index %i is skipped and reported, the rest matches", (mr) => {
    const r = replayEvidenceLog(withPadding(Buffer.concat([padded.subarray(0, END), event(mr)])), quote!);
    expect(r).toMatchObject({ replayed: true, matches: true });
    expect(r.quirksApplied?.map((q) => q.quirk)).toEqual(["invalid-mr-index"]);
  });

  it("stale bytes after the end of the log are ignored and reported", () => {
    const stale = Buffer.from(padded);
    stale[100000] = 0x41;
    const r = replayEvidenceLog(new Uint8Array(stale), quote!);
    expect(r).toMatchObject({ replayed: true, matches: true });
    expect(r.quirksApplied?.map((q) => q.quirk)).toEqual(["trailing-garbage"]);
  });

  it("an extra event at an RTMR still breaks the match", () => {
    const r = replayEvidenceLog(withPadding(Buffer.concat([padded.subarray(0, END), event(2)])), quote!);
    expect(r).toMatchObject({ replayed: true, matches: false });
  });
});
