import { describe, expect, it } from "vitest";
import {
  completeGetQuoteBuffer,
  decodeGetQuoteBuffer,
  encodeGetQuoteBuffer,
  GetQuoteStatus,
  quoteFromGetQuoteBuffer,
} from "../../src/qgs/index.js";
import { tdxErrorOf } from "../helpers/errors.js";
import { fakeTdReport } from "./helpers.js";

const codeOf = (f: () => unknown): string => tdxErrorOf(f).code;

describe("TDVMCALL GetQuote shared buffer", () => {
  it("writes the 24-byte header {version 1, status 0, in_len, out_len 0} and the TDREPORT at 24", () => {
    const report = fakeTdReport(9);
    const buf = encodeGetQuoteBuffer(report, 8192);
    const dv = new DataView(buf.buffer);
    expect(dv.getBigUint64(0, true)).toBe(1n);
    expect(dv.getBigUint64(8, true)).toBe(0n);
    expect(dv.getUint32(16, true)).toBe(1024);
    expect(dv.getUint32(20, true)).toBe(0);
    expect(buf.subarray(24, 24 + 1024)).toEqual(report);
    const d = decodeGetQuoteBuffer(buf);
    expect(d.statusName).toBe("SUCCESS");
    expect(d.data).toEqual(report);
  });

  it("reads back a completed quote and names every failure status", () => {
    const buf = encodeGetQuoteBuffer(fakeTdReport(), 8192);
    completeGetQuoteBuffer(buf, GetQuoteStatus.IN_FLIGHT);
    expect(codeOf(() => quoteFromGetQuoteBuffer(buf))).toBe("TDVMCALL_QUOTE_IN_FLIGHT");
    completeGetQuoteBuffer(buf, GetQuoteStatus.SERVICE_UNAVAILABLE);
    expect(codeOf(() => quoteFromGetQuoteBuffer(buf))).toBe("TDVMCALL_QGS_UNAVAILABLE");
    completeGetQuoteBuffer(buf, GetQuoteStatus.ERROR);
    expect(codeOf(() => quoteFromGetQuoteBuffer(buf))).toBe("TDVMCALL_QUOTE_FAILED");
    const quote = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff);
    completeGetQuoteBuffer(buf, GetQuoteStatus.SUCCESS, quote);
    expect(new DataView(buf.buffer).getUint32(20, true)).toBe(5000);
    expect(quoteFromGetQuoteBuffer(buf)).toEqual(quote);
    expect(codeOf(() => completeGetQuoteBuffer(buf, 0n, new Uint8Array(8192)))).toBe(
      "TDVMCALL_BUFFER_TOO_SMALL",
    );
    expect(codeOf(() => encodeGetQuoteBuffer(new Uint8Array(8180), 8192))).toBe("TDVMCALL_BUFFER_TOO_SMALL");
    expect(codeOf(() => decodeGetQuoteBuffer(new Uint8Array(10)))).toBe("TDVMCALL_BUFFER_TRUNCATED");
  });
});
