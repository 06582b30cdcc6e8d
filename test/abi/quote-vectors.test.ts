import { describe, expect, test } from "vitest";
import { parseQuote, pckCertChainOf, quoteToJson, serializeQuote, toHex } from "../../src/abi/index.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

const cases = loadCases();

describe.skipIf(!vectorsDir())(
  `real quotes from ../shared/vectors${vectorsDir() ? "" : ` (${VECTORS_SKIP_REASON})`}`,
  () => {
    test("there are vectors", () => {
      expect(cases.length).toBeGreaterThan(0);
    });

    for (const c of cases) {
      describe(c.name, () => {
        const q = parseQuote(c.quote);
        const exp = c.expected.quote;

        test("decoded fields match expected.json", () => {
          expect(q.header.version).toBe(exp.version);
          const tee = typeof exp.tee_type === "string" ? Number.parseInt(exp.tee_type, 16) : exp.tee_type;
          expect(q.header.teeType).toBe(tee);
          if (exp.trailing_bytes !== undefined) expect(q.trailing.length).toBe(exp.trailing_bytes);
          if (q.body.type !== 1) {
            if (exp.mrtd) expect(toHex(q.body.report.mrTd)).toBe(exp.mrtd);
            if (exp.tee_tcb_svn) expect(toHex(q.body.report.teeTcbSvn)).toBe(exp.tee_tcb_svn);
          }
          if (typeof exp.body_type === "number") expect(q.body.type).toBe(exp.body_type);
        });

        test("serialize(parse(bytes)) is byte-exact", () => {
          expect(Buffer.from(serializeQuote(q)).equals(Buffer.from(c.quote))).toBe(true);
        });

        test("fields are views into the input, not copies", () => {
          expect(q.body.report.reportData.buffer).toBe(c.quote.buffer);
          expect(q.signatureData.signature.buffer).toBe(c.quote.buffer);
          expect(q.trailing.buffer).toBe(c.quote.buffer);
        });

        test("the PCK chain decodes to leaf, intermediate and root", () => {
          const chain = pckCertChainOf(q);
          expect(chain).not.toBeNull();
          expect(chain!.length).toBe(3);
          for (const pem of chain!)
            expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----$/);
        });

        test("layout ranges lie inside the quote and cover the signed region", () => {
          for (const r of q.layout) {
            expect(r.offset).toBeGreaterThanOrEqual(0);
            expect(r.offset + r.size).toBeLessThanOrEqual(c.quote.length);
          }
          const covered = new Uint8Array(q.signedLength);
          for (const r of q.layout)
            for (let i = r.offset; i < Math.min(r.offset + r.size, q.signedLength); i++) covered[i] = 1;
          expect(covered.every((x) => x === 1)).toBe(true);
        });

        test("JSON decode carries the same values", () => {
          const j = quoteToJson(q) as { header: { version: number }; trailing_bytes: number };
          expect(j.header.version).toBe(q.header.version);
          expect(j.trailing_bytes).toBe(q.trailing.length);
          expect(() => JSON.stringify(j)).not.toThrow();
        });
      });
    }
  },
);
