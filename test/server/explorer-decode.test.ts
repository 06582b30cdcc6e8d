import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import {
  type DecodeResponse,
  decodeForExplorer,
  type ExplorerNode,
  quoteRegions,
  registerExplorerRoutes,
} from "../../src/server/explorer/index.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

function walk(nodes: ExplorerNode[], out: ExplorerNode[] = []): ExplorerNode[] {
  for (const n of nodes) {
    out.push(n);
    if (n.children) walk(n.children, out);
  }
  return out;
}

function find(nodes: ExplorerNode[], path: string): ExplorerNode {
  const n = walk(nodes).find((x) => x.path === path);
  if (!n) throw new Error(`no node ${path}`);
  return n;
}

describe.skipIf(!vectorsDir())(
  vectorsDir() ? "explorer decode on real quotes" : `explorer decode on real quotes: ${VECTORS_SKIP_REASON}`,
  () => {
    const cases = loadCases();

    it.each(cases.map((c) => [c.name, c] as const))("%s: every leaf maps to its bytes", (_name, c) => {
      const decoded = decodeForExplorer(c.quote);
      const quote = parseQuote(c.quote);
      expect(decoded.summary.version).toBe(c.expected.quote.version);
      if (c.expected.quote.mrtd) {
        expect(decoded.summary.mrTd).toBe(c.expected.quote.mrtd);
        const mrtd = find(decoded.tree, "body.mr_td");
        expect(mrtd.value).toBe(c.expected.quote.mrtd);
        // The highlighted bytes of MRTD are exactly its value.
        const r = mrtd.range!;
        expect(Buffer.from(c.quote.subarray(r.offset, r.offset + r.size)).toString("hex")).toBe(
          c.expected.quote.mrtd,
        );
      }
      if (typeof c.expected.quote.trailing_bytes === "number") {
        expect(decoded.summary.trailingBytes).toBe(c.expected.quote.trailing_bytes);
      }
      // Every hex-valued leaf with its own layout field shows exactly the bytes it occupies.
      let checked = 0;
      for (const n of walk(decoded.tree)) {
        if (
          n.field &&
          n.range &&
          typeof n.value === "string" &&
          /^[0-9a-f]+$/.test(n.value) &&
          n.value.length === n.range.size * 2
        ) {
          expect(
            Buffer.from(c.quote.subarray(n.range.offset, n.range.offset + n.range.size)).toString("hex"),
          ).toBe(n.value);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(10);
      // Every field of the layout lies within a leaf (or a group with its own field) the user can hover.
      const leaves = walk(decoded.tree).filter((n) => (!n.children || n.field) && n.range);
      const unreachable = quote.layout
        .filter(
          (f) =>
            !leaves.some(
              (n) => n.range!.offset <= f.offset && f.offset + f.size <= n.range!.offset + n.range!.size,
            ),
        )
        .map((f) => f.path);
      expect(unreachable).toEqual([]);
      // The PEM certificates are found in the certification data.
      const certs = walk(decoded.tree).filter((n) => n.key.startsWith("certificate "));
      expect(certs.length).toBeGreaterThanOrEqual(1);
      for (const cert of certs) {
        const r = cert.range!;
        expect(Buffer.from(c.quote.subarray(r.offset, r.offset + r.size)).toString("latin1")).toBe(
          cert.value,
        );
      }
    });

    it.each(cases.map((c) => [c.name, c] as const))("%s: regions tile the quote in order", (_name, c) => {
      const quote = parseQuote(c.quote);
      const regions = quoteRegions(quote);
      const byId = new Map(regions.map((r) => [r.id, r]));
      const header = byId.get("header")!;
      const body = byId.get("body")!;
      const sig = byId.get("signatureData")!;
      expect(header).toMatchObject({ offset: 0, size: 48 });
      expect(body.offset).toBe(48);
      expect(sig.offset).toBe(body.offset + body.size);
      const sigEnd = sig.offset + sig.size;
      const trailing = byId.get("trailing");
      expect(trailing ? trailing.size : 0).toBe(quote.trailing.length);
      if (trailing) expect(trailing.offset + trailing.size).toBe(c.quote.length);
      else expect(sigEnd).toBe(c.quote.length);
      // The QE report and the PCK certification data sit inside the signature data.
      const qe = byId.get("qeReport")!;
      const cd = byId.get("certificationData")!;
      expect(qe.size).toBe(384);
      for (const inner of [qe, cd]) {
        expect(inner.offset).toBeGreaterThanOrEqual(sig.offset);
        expect(inner.offset + inner.size).toBeLessThanOrEqual(sigEnd);
      }
      expect(cd.offset).toBeGreaterThan(qe.offset);
    });

    it("serves the decode API for binary, hex and base64 bodies alike", async () => {
      const c = cases.find((x) => x.expected.quote.mrtd)!;
      const app = Fastify();
      registerExplorerRoutes(app);
      const binary = await app.inject({
        method: "POST",
        url: "/api/decode",
        headers: { "content-type": "application/octet-stream" },
        payload: Buffer.from(c.quote),
      });
      expect(binary.statusCode).toBe(200);
      const b = binary.json() as DecodeResponse;
      expect(b.encoding).toBe("binary");
      for (const text of [Buffer.from(c.quote).toString("hex"), Buffer.from(c.quote).toString("base64")]) {
        const res = await app.inject({ method: "POST", url: "/api/decode", payload: { quote: text } });
        expect(res.statusCode).toBe(200);
        const d = res.json() as DecodeResponse;
        expect(d.hex).toBe(b.hex);
        expect(d.summary.mrTd).toBe(c.expected.quote.mrtd);
      }
      await app.close();
    });

    it("a truncated quote is a 400 with the abi's code, offset and hint", async () => {
      const c = cases[0]!;
      const app = Fastify();
      registerExplorerRoutes(app);
      const res = await app.inject({
        method: "POST",
        url: "/api/decode",
        payload: { quote: Buffer.from(c.quote.subarray(0, 600)).toString("hex") },
      });
      expect(res.statusCode).toBe(400);
      const body = res.json() as { ok: boolean; error: { code: string; hint?: string; offset?: number } };
      expect(body.ok).toBe(false);
      expect(body.error.code).toMatch(/^[A-Z_]+$/);
      expect(body.error.hint).toBeTruthy();
      // The bytes come back so the page can show where the quote went wrong.
      expect((body as { hex?: string }).hex).toBe(Buffer.from(c.quote.subarray(0, 600)).toString("hex"));
      await app.close();
    });
  },
);

describe("explorer routes", () => {
  it("serves the page and its assets from the package, with a strict CSP", async () => {
    const app = Fastify();
    registerExplorerRoutes(app);
    const page = await app.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(page.body).toContain('src="explorer/app.js"');
    // Offline: nothing is loaded from another origin.
    expect(page.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    const js = await app.inject({ method: "GET", url: "/explorer/app.js" });
    expect(js.headers["content-type"]).toContain("javascript");
    expect(js.body).not.toMatch(/https?:\/\//);
    const css = await app.inject({ method: "GET", url: "/explorer/style.css" });
    expect(css.headers["content-type"]).toContain("text/css");
    expect(css.body).not.toMatch(/url\(|@import/);
    await app.close();
  });

  it("refuses input that is neither hex nor base64, and a request without a quote", async () => {
    const app = Fastify();
    registerExplorerRoutes(app);
    const bad = await app.inject({ method: "POST", url: "/api/decode", payload: { quote: "not a quote!" } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe("INPUT_ENCODING");
    const empty = await app.inject({ method: "POST", url: "/api/decode", payload: { quote: "   " } });
    expect(empty.json().error.code).toBe("INPUT_EMPTY");
    const none = await app.inject({ method: "POST", url: "/api/decode", payload: { other: 1 } });
    expect(none.statusCode).toBe(400);
    expect(none.json().error).toMatchObject({ code: "EXPLORER_NO_QUOTE", field: "quote" });
    const badJson = await app.inject({
      method: "POST",
      url: "/api/decode",
      headers: { "content-type": "application/json" },
      payload: "{nope",
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe("EXPLORER_BAD_REQUEST");
    await app.close();
  });
});
