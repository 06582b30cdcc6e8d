import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTdxError } from "../../src/errors.js";
import { checkReportDataBinding, expectedReportData, negotiateHashAlgorithm } from "../../src/kbs/binding.js";
import { canonicalJson } from "../../src/kbs/jcs.js";

describe("RFC 8785 canonical JSON", () => {
  it("matches Trustee's parse_runtimedata_json_binding vector", () => {
    const jcs = canonicalJson({ b: 1, a: "test", c: { d: "e" } });
    expect(jcs).toBe('{"a":"test","b":1,"c":{"d":"e"}}');
    expect(createHash("sha384").update(jcs).digest("hex")).toBe(
      "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3",
    );
  });

  it("sorts by UTF-16 code units and writes RFC 8785 numbers and escapes", () => {
    // RFC 8785 §3.2.3 sorting example: code units, not code points.
    expect(canonicalJson({ "\u20ac": 1, "\r": 2, "\ud83d\ude00": 3, "1": 4, "\u00f6": 5 })).toBe(
      '{"\\r":2,"1":4,"\u00f6":5,"\u20ac":1,"\ud83d\ude00":3}',
    );
    expect(canonicalJson([1e21, 1e-7, -0, 0.1, 333333333.3333333, "\u0007\u001f"])).toBe(
      '[1e+21,1e-7,0,0.1,333333333.3333333,"\\u0007\\u001f"]',
    );
  });

  it("refuses values JSON cannot hold", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, "\ud800", { x: () => 1 }]) {
      try {
        canonicalJson(bad);
        expect.unreachable();
      } catch (e) {
        expect(isTdxError(e)).toBe(true);
      }
    }
  });
});

describe("REPORTDATA binding", () => {
  const nonce = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString("base64");
  // P-256 generator as the tee-pubkey, the reference notes' vector.
  const key = {
    kty: "EC",
    crv: "P-256",
    alg: "ECDH-ES+A256KW",
    x: "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
    y: "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
  };

  it("computes SHA-384 of the canonical runtime data, zero padded", () => {
    expect(nonce).toBe("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    const rd = expectedReportData(nonce, key, "");
    expect(Buffer.from(rd).toString("hex")).toBe(
      "9edc01b09e997f6578d6bd8f7fc2b28dfaaf4e5417793667b7ece025d50c7cf5b9b0f7d2bbbcebe25d2f53bd33807ce3" +
        "00".repeat(16),
    );
  });

  it("uses SHA-512 when negotiated and fills all 64 bytes", () => {
    const rd = expectedReportData(nonce, key, "", "sha512");
    const jcs = canonicalJson({ "additional-evidence": "", nonce, "tee-pubkey": key });
    expect(Buffer.from(rd).toString("hex")).toBe(createHash("sha512").update(jcs).digest("hex"));
  });

  it("negotiates like Trustee: default sha384, client list honoured, unknown list refused", () => {
    expect(negotiateHashAlgorithm("")).toEqual({ algorithm: "sha384", negotiated: false });
    expect(
      negotiateHashAlgorithm({ "supported-hash-algorithms": ["sha256", "sha384", "sha512", "sm3"] }),
    ).toEqual({ algorithm: "sha384", negotiated: true });
    expect(negotiateHashAlgorithm({ "supported-hash-algorithms": ["sha512"] }).algorithm).toBe("sha512");
    expect(
      negotiateHashAlgorithm({ "supported-hash-algorithms": ["sha384", "sha512"] }, "sha512").algorithm,
    ).toBe("sha512");
    expect(() => negotiateHashAlgorithm({ "supported-hash-algorithms": ["sm3"] })).toThrow(
      /none of the offered/,
    );
  });

  it("detects a quote bound to another key", () => {
    const rd = expectedReportData(nonce, key, "");
    checkReportDataBinding(rd, expectedReportData(nonce, key, ""), "sha384");
    const other = expectedReportData(nonce, { ...key, x: key.y, y: key.x }, "");
    expect(() => checkReportDataBinding(other, rd, "sha384")).toThrow(/REPORTDATA is not bound/);
  });
});

describe("canonical JSON properties", () => {
  it("is a fixed point of parse, and independent of member order", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const c = canonicalJson(v);
        expect(canonicalJson(JSON.parse(c))).toBe(c);
        expect(JSON.parse(c)).toEqual(JSON.parse(JSON.stringify(v)));
        const reversed = JSON.parse(JSON.stringify(v), (_k, x) =>
          x && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(Object.entries(x).reverse())
            : x,
        );
        expect(canonicalJson(reversed)).toBe(c);
      }),
      { numRuns: 300 },
    );
  });
});
