import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { parseQuote, serializeQuote } from "../../src/abi/index.js";
import { TdxError } from "../../src/errors.js";
import { loadCases, vectorsDir } from "../helpers/vectors.js";

const cases = loadCases();
const tdxV4 = cases.find(
  (c) => c.expected.quote.version === 4 && c.name.includes("dcapqvl_tdx_v4_b0c06f_2025-06"),
);
const sgxV3 = cases.find((c) => c.expected.quote.version === 3);
const v5 = cases.find((c) => c.expected.quote.version === 5);

function withU16(b: Uint8Array, off: number, v: number): Uint8Array {
  const c = Uint8Array.from(b);
  new DataView(c.buffer).setUint16(off, v, true);
  return c;
}
function withU32(b: Uint8Array, off: number, v: number): Uint8Array {
  const c = Uint8Array.from(b);
  new DataView(c.buffer).setUint32(off, v, true);
  return c;
}
function u32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset).getUint32(off, true);
}
function u16(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset).getUint16(off, true);
}

function expectError(bytes: Uint8Array, code: string, offset?: number): TdxError {
  try {
    parseQuote(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(TdxError);
    const err = e as TdxError;
    expect(err.code).toBe(code);
    if (offset !== undefined) expect(err.offset).toBe(offset);
    expect(err.hint).toBeTruthy();
    return err;
  }
  throw new Error(`expected ${code}, parse succeeded`);
}

describe.skipIf(!vectorsDir() || !tdxV4)("malformed v4 TDX quote: every length field", () => {
  const q = tdxV4?.quote ?? new Uint8Array(0);
  test("truncated header", () => expectError(q.subarray(0, 20), "QUOTE_TRUNCATED", 0));
  test("unsupported version", () => expectError(withU16(q, 0, 6), "QUOTE_UNSUPPORTED_VERSION", 0));
  test("unsupported key type", () => expectError(withU16(q, 2, 3), "QUOTE_UNSUPPORTED_KEY_TYPE", 2));
  test("unknown TEE type", () => expectError(withU32(q, 4, 0x42), "QUOTE_UNSUPPORTED_TEE_TYPE", 4));
  test("truncated body", () => expectError(q.subarray(0, 300), "QUOTE_TRUNCATED", 48));
  test("missing signature_data_len", () => expectError(q.subarray(0, 634), "QUOTE_TRUNCATED", 632));
  test("signature_data_len past the end", () =>
    expectError(withU32(q, 632, q.length), "QUOTE_SIGNATURE_DATA_TRUNCATED", 632));
  test("signature_data_len shorter than its parts", () =>
    expectError(withU32(q, 632, u32(q, 632) - 10), "QUOTE_CERT_DATA_SIZE", 766));
  // QVL Quote::parse / Ecdsa256BitQuoteV4AuthData::insert never check that the parts reach the declared end.
  test("signature_data_len longer than its parts: the bytes left over are slack, kept, as Intel reads it", () => {
    // Ten of the vector's trailing bytes move inside the declared length.
    const partsEnd = 636 + u32(q, 632);
    const padded = withU32(q, 632, u32(q, 632) + 10);
    const p = parseQuote(padded);
    expect(p.signatureDataSlack).toEqual(padded.subarray(partsEnd, partsEnd + 10));
    expect(p.trailing.length).toBe(q.length - partsEnd - 10);
    expect(p.layout.find((f) => f.path === "signatureDataSlack")).toEqual({
      path: "signatureDataSlack",
      offset: partsEnd,
      size: 10,
    });
    expect(serializeQuote(p)).toEqual(padded);
    expect(parseQuote(q).signatureDataSlack?.length).toBe(0);
  });
  test("outer certification data size too large", () =>
    expectError(withU32(q, 766, u32(q, 766) + 1), "QUOTE_CERT_DATA_SIZE", 766));
  test("outer certification data size too small", () => {
    const e = expectError(withU32(q, 766, u32(q, 766) - 1), "QUOTE_CERT_DATA_SIZE");
    expect(e.offset).toBe(1254);
  });
  test("unknown outer certification data type", () =>
    expectError(withU16(q, 764, 9), "QUOTE_CERT_DATA_TYPE_UNKNOWN", 764));
  test("QE auth data size too large", () =>
    expectError(withU16(q, 1218, 0xffff), "QUOTE_QE_AUTH_DATA_SIZE", 1218));
  test("QE auth data size smaller shifts the inner header into garbage", () => {
    expect(() => parseQuote(withU16(q, 1218, u16(q, 1218) - 1))).toThrow(TdxError);
  });
  test("inner certification data size too large", () =>
    expectError(withU32(q, 1254, u32(q, 1254) + 1), "QUOTE_CERT_DATA_SIZE", 1254));
  test("inner certification data size too small", () =>
    expectError(withU32(q, 1254, u32(q, 1254) - 1), "QUOTE_CERT_DATA_INCONSISTENT", 766));
  test("unknown inner certification data type", () =>
    expectError(withU16(q, 1252, 0), "QUOTE_CERT_DATA_TYPE_UNKNOWN", 1252));
  test("a TDREPORT given as a quote says so", () => {
    const tdreport = new Uint8Array(1024);
    tdreport[0] = 0x81;
    const e = expectError(tdreport, "QUOTE_UNSUPPORTED_VERSION", 0);
    expect(e.hint).toMatch(/TDREPORT/);
  });
  test("a type-5 chain without PEM is reported when read", () => {
    const c = Uint8Array.from(q);
    c.fill(0x41, 1258, 1258 + 100);
    const parsed = parseQuote(c);
    const cd = parsed.signatureData.qeReportCertificationData!.certificationData;
    // The first certificate is destroyed, the rest still parse.
    expect(cd.pckCertChain!.certificates.length).toBe(2);
    c.fill(0x41, 1258, 1258 + u32(q, 1254) - 1);
    const broken = parseQuote(c).signatureData.qeReportCertificationData!.certificationData;
    expect(() => broken.pckCertChain).toThrow(TdxError);
  });
});

describe.skipIf(!vectorsDir() || !v5)("malformed v5 quote", () => {
  const q = v5?.quote ?? new Uint8Array(0);
  test("body type", () => expectError(withU16(q, 48, 4), "QUOTE_BODY_TYPE_INVALID", 48));
  test("body size", () => expectError(withU32(q, 50, 584 + 1), "QUOTE_BODY_SIZE_MISMATCH", 50));
  test("TEE vs body type", () =>
    expectError(withU16(withU32(q, 50, 384), 48, 1), "QUOTE_TEE_BODY_MISMATCH", 48));
  test("truncated descriptor", () => expectError(q.subarray(0, 50), "QUOTE_TRUNCATED", 48));
});

describe.skipIf(!vectorsDir() || !sgxV3)("malformed v3 SGX quote", () => {
  const q = sgxV3?.quote ?? new Uint8Array(2000);
  // v3: sigLen @432, QE auth size @1012, cert type @1014+n, cert size @1016+n
  const n = u16(q, 1012);
  test("v3 with a TDX TEE type", () => expectError(withU32(q, 4, 0x81), "QUOTE_TEE_VERSION_MISMATCH", 4));
  test("signature_data_len past the end", () =>
    expectError(withU32(q, 432, q.length), "QUOTE_SIGNATURE_DATA_TRUNCATED", 432));
  test("QE auth size", () => expectError(withU16(q, 1012, 0xfff0), "QUOTE_QE_AUTH_DATA_SIZE", 1012));
  test("cert data size", () =>
    expectError(withU32(q, 1016 + n, u32(q, 1016 + n) + 5000), "QUOTE_CERT_DATA_SIZE", 1016 + n));
  test("cert data type", () =>
    expectError(withU16(q, 1014 + n, 8), "QUOTE_CERT_DATA_TYPE_UNKNOWN", 1014 + n));
  test("truncated inside the signature data", () =>
    expectError(q.subarray(0, 700), "QUOTE_SIGNATURE_DATA_TRUNCATED", 432));
});

describe.skipIf(!vectorsDir())(
  "property: mutations and truncations never throw anything but TdxError",
  () => {
    const quotes = cases.map((c) => c.quote);
    test("random byte mutations, truncations and extensions", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: quotes.length - 1 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
          fc.option(fc.nat(), { nil: undefined }),
          (which, edits, cut) => {
            const src = quotes[which]!;
            let b = Uint8Array.from(src);
            // Mutations biased towards the length fields in the first 1300 bytes.
            for (const [pos, val] of edits) b[pos % Math.min(b.length, 1300)] = val;
            if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
            try {
              const parsed = parseQuote(b);
              void parsed.layout;
              const cd = parsed.signatureData.qeReportCertificationData?.certificationData;
              if (cd?.type === 5) {
                try {
                  void cd.pckCertChain;
                } catch (e) {
                  if (!(e instanceof TdxError)) throw e;
                }
              }
              // Whatever parses must re-serialize to the same bytes.
              expect(Buffer.from(serializeQuote(parsed)).equals(Buffer.from(b))).toBe(true);
            } catch (e) {
              if (!(e instanceof TdxError)) throw e;
            }
          },
        ),
        { numRuns: 3000 },
      );
    });
  },
);
