import { beforeAll, describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import {
  declaredQuoteLength,
  hasOutLenFix,
  hasQuoteStatusCheck,
  parseKernelRelease,
  quoteBufferSize,
  trimQuote,
} from "../../src/guest/index.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { tdxErrorOf } from "../helpers/errors.js";

let platform: SimPlatform;
beforeAll(async () => {
  platform = await createSimPlatform();
});

describe("a quote's own length", () => {
  it("is header + body + signature data for v4 and v5, whatever follows", () => {
    for (const version of [4, 5] as const) {
      const q = platform.quote(new Uint8Array(64), { version });
      expect(declaredQuoteLength(q)).toBe(q.length);
      const padded = new Uint8Array(q.length + 100).fill(0x41);
      padded.set(q);
      const t = trimQuote(padded, "test", true);
      expect(t.quote).toEqual(q);
      expect(parseQuote(t.quote).trailing.length).toBe(0);
      expect(t.warnings[0]).toMatch(/dropped the 100 bytes after it .*CVE-2026-31470/);
      expect(trimQuote(padded, "a QGS", false).warnings[0]).toMatch(/\(they are not part of the quote\)$/);
      expect(trimQuote(q, "test", true)).toEqual({ quote: q, warnings: [] });
    }
  });

  it("a blob shorter than its header says is refused; a blob that is not a TD quote passes with a warning", () => {
    const q = platform.quote(new Uint8Array(64));
    const e = tdxErrorOf(() => declaredQuoteLength(q.subarray(0, q.length - 1)));
    expect(e.code).toBe("GUEST_QUOTE_TRUNCATED");
    expect(e.data).toEqual({ received: q.length - 1, declared: q.length });
    expect(tdxErrorOf(() => declaredQuoteLength(q.subarray(0, 600))).code).toBe("GUEST_QUOTE_TRUNCATED");
    const cbor = new Uint8Array(200).fill(0xd8);
    expect(declaredQuoteLength(cbor)).toBeNull();
    const t = trimQuote(cbor, "configfs-tsm outblob", true);
    expect(t.quote).toBe(cbor);
    expect(t.warnings[0]).toMatch(/do not start like a TD quote/);
  });
});

describe("kernel versions", () => {
  it("parses release strings and knows which release changed what", () => {
    expect(parseKernelRelease("6.8.0-60-generic\n")).toEqual({
      major: 6,
      minor: 8,
      patch: 0,
      release: "6.8.0-60-generic",
    });
    expect(parseKernelRelease("7.0.0-rc5")).toMatchObject({ major: 7, minor: 0, rc: 5 });
    expect(parseKernelRelease("6.16")).toMatchObject({ major: 6, minor: 16, patch: 0 });
    expect(parseKernelRelease("garbage")).toBeNull();
    const v = (s: string) => parseKernelRelease(s)!;
    expect([hasQuoteStatusCheck(v("7.0.9")), hasQuoteStatusCheck(v("7.1.0"))]).toEqual([false, true]);
    expect([quoteBufferSize(v("6.19.11")), quoteBufferSize(v("7.0.0"))]).toEqual([8192, 131072]);
    expect(
      [
        "6.12.79",
        "6.12.80",
        "6.18.20",
        "6.18.21",
        "6.19.10",
        "6.19.11",
        "6.16.5",
        "7.0.0-rc5",
        "7.0.0-rc6",
        "7.0.0",
        "7.2.0",
      ].map((s) => hasOutLenFix(v(s))),
    ).toEqual([false, true, false, true, false, true, false, false, true, true, true]);
  });
});
