import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TdxError } from "../../src/errors.js";
import {
  decodeFrame,
  decodeGetQuoteRequest,
  decodeGetQuoteResponse,
  decodeQgsHeader,
  encodeFrame,
  encodeGetQuoteErrorResponse,
  encodeGetQuoteRequest,
  encodeGetQuoteResponse,
  encodeQgsHeader,
  QgsErrorCode,
  QgsMsgType,
  qgsErrorInfo,
  qgsMessageType,
  quoteFromResponse,
  TDQE_ATTESTATION_KEY_ID,
} from "../../src/qgs/index.js";
import { tdxErrorOf } from "../helpers/errors.js";
import { fakeTdReport } from "./helpers.js";

const codeOf = (f: () => unknown): string => tdxErrorOf(f).code;

describe("QGS message protocol 1.1", () => {
  it("lays out GET_QUOTE_REQ as Intel does: 16-byte LE header, sizes, report, id list", () => {
    const report = fakeTdReport(3);
    const msg = encodeGetQuoteRequest(report, { idList: TDQE_ATTESTATION_KEY_ID });
    expect(msg.length).toBe(24 + 1024 + 16);
    const dv = new DataView(msg.buffer);
    expect([dv.getUint16(0, true), dv.getUint16(2, true)]).toEqual([1, 1]);
    expect(dv.getUint32(4, true)).toBe(QgsMsgType.GET_QUOTE_REQ);
    expect(dv.getUint32(8, true)).toBe(msg.length);
    expect(dv.getUint32(12, true)).toBe(0);
    expect(dv.getUint32(16, true)).toBe(1024);
    expect(dv.getUint32(20, true)).toBe(16);
    const back = decodeGetQuoteRequest(msg);
    expect(back.report).toEqual(report);
    expect(back.idList).toEqual(TDQE_ATTESTATION_KEY_ID);
  });

  it("frames with a 4-byte big-endian length: the TDREPORT-only request is 1052 bytes on the wire", () => {
    const framed = encodeFrame(encodeGetQuoteRequest(fakeTdReport()));
    expect(framed.length).toBe(1052);
    expect([...framed.subarray(0, 4)]).toEqual([0, 0, 0x04, 0x18]);
    expect(decodeFrame(framed).length).toBe(1048);
    expect(codeOf(() => decodeFrame(framed.subarray(0, 100)))).toBe("QGS_FRAME_TRUNCATED");
    expect(codeOf(() => decodeFrame(framed, 1000))).toBe("QGS_FRAME_TOO_LARGE");
  });

  it("round-trips responses, with and without a selected id", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.boolean(), (quote, withId) => {
        const msg = encodeGetQuoteResponse(quote, withId ? { selectedId: TDQE_ATTESTATION_KEY_ID } : {});
        const r = decodeGetQuoteResponse(msg);
        expect(r.errorCode).toBe(0);
        expect(r.quote).toEqual(quote);
        expect(r.selectedId.length).toBe(withId ? 16 : 0);
        expect(quoteFromResponse(r)).toEqual(quote);
      }),
      { numRuns: 50 },
    );
  });

  it("checks major version, type, sizes and codes exactly like qgs_msg_lib", () => {
    const good = encodeGetQuoteRequest(fakeTdReport());
    const mutate = (f: (dv: DataView, b: Uint8Array) => void) => {
      const b = good.slice();
      f(new DataView(b.buffer), b);
      return b;
    };
    expect(codeOf(() => decodeGetQuoteRequest(good.subarray(0, 20)))).toBe("QGS_INVALID_PARAMETER");
    expect(codeOf(() => decodeGetQuoteRequest(mutate((dv) => dv.setUint16(0, 2, true))))).toBe(
      "QGS_INVALID_VERSION",
    );
    // minor versions are not checked by qgs_msg_lib
    expect(decodeGetQuoteRequest(mutate((dv) => dv.setUint16(2, 0, true))).report.length).toBe(1024);
    expect(codeOf(() => decodeGetQuoteRequest(mutate((dv) => dv.setUint32(4, 1, true))))).toBe(
      "QGS_INVALID_TYPE",
    );
    expect(codeOf(() => decodeGetQuoteRequest(mutate((dv) => dv.setUint32(8, 1047, true))))).toBe(
      "QGS_INVALID_SIZE",
    );
    expect(codeOf(() => decodeGetQuoteRequest(mutate((dv) => dv.setUint32(16, 1023, true))))).toBe(
      "QGS_INVALID_SIZE",
    );
    expect(codeOf(() => decodeGetQuoteRequest(mutate((dv) => dv.setUint32(12, 5, true))))).toBe(
      "QGS_INVALID_CODE",
    );
    const zeroReport = encodeGetQuoteRequest(new Uint8Array(0));
    expect(codeOf(() => decodeGetQuoteRequest(zeroReport))).toBe("QGS_INVALID_CODE");
    // qgs_msg_get_type reports an unknown type as INVALID_VERSION (sic); Intel's current header ends at
    // GET_QUOTE_MIG_REQ 6, so 7 is the first unknown type
    const hdr = encodeQgsHeader({ majorVersion: 1, minorVersion: 1, type: 7, size: 16, errorCode: 0 });
    expect(codeOf(() => qgsMessageType(hdr))).toBe("QGS_INVALID_VERSION");
    expect(qgsMessageType(good)).toBe(0);
  });

  it("encodes error responses as 24 bytes and maps every error code to a named TdxError with a hint", () => {
    for (const [name, code] of Object.entries(QgsErrorCode)) {
      if (code === 0) continue;
      const msg = encodeGetQuoteErrorResponse(code);
      expect(msg.length).toBe(24);
      expect(decodeQgsHeader(msg).errorCode).toBe(code);
      const r = decodeGetQuoteResponse(msg);
      try {
        quoteFromResponse(r);
        throw new Error("no throw");
      } catch (e) {
        const t = e as TdxError;
        expect(t.code).toBe(`QGS_${name}`);
        expect(t.hint).toBeTruthy();
        expect(t.data?.remote).toBe(true);
      }
      expect(qgsErrorInfo(code).name).toBe(name);
    }
    expect(codeOf(() => encodeGetQuoteErrorResponse(0))).toBe("QGS_BAD_ERROR_CODE");
  });

  it("rejects inconsistent responses: payload with an error, empty quote on success, codes beyond the enum", () => {
    const err = encodeGetQuoteErrorResponse(QgsErrorCode.UNEXPECTED);
    const withPayload = new Uint8Array(30);
    withPayload.set(err);
    const dv = new DataView(withPayload.buffer);
    dv.setUint32(8, 30, true);
    dv.setUint32(20, 6, true);
    expect(codeOf(() => decodeGetQuoteResponse(withPayload))).toBe("QGS_INVALID_SIZE");
    const emptyOk = encodeGetQuoteResponse(new Uint8Array(0));
    expect(codeOf(() => decodeGetQuoteResponse(emptyOk))).toBe("QGS_INVALID_SIZE");
    const beyond = err.slice();
    new DataView(beyond.buffer).setUint32(12, 0x12008, true);
    expect(codeOf(() => decodeGetQuoteResponse(beyond))).toBe("QGS_INVALID_CODE");
  });
});
