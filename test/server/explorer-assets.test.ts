import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { FAVICON_PALETTE, FAVICON_PIXELS, faviconIco } from "../../src/server/explorer/favicon.js";
import { registerExplorerRoutes, writeStaticExplorer } from "../../src/server/explorer/index.js";

// The page's icons without a browser (test/e2e/explorer-browser.test.ts has Chromium draw them).

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Every href/src of the page that is not an anchor or the API meta tag. */
function pageReferences(html: string): string[] {
  return [...html.matchAll(/\s(?:href|src)="([^"#]+)"/g)].map((m) => m[1] as string);
}

describe("explorer favicon", () => {
  it("is a 16x16 ICO of one 32-bit image drawn from the pixel map", () => {
    expect(FAVICON_PIXELS).toHaveLength(16);
    for (const row of FAVICON_PIXELS) {
      expect(row).toHaveLength(16);
      for (const letter of row) expect(Object.keys(FAVICON_PALETTE)).toContain(letter);
    }
    const ico = faviconIco();
    // ICONDIR: reserved 0, type 1, one image; its entry: 16x16, 32 bits, the image right after (offset 22).
    expect([ico.readUInt16LE(0), ico.readUInt16LE(2), ico.readUInt16LE(4)]).toEqual([0, 1, 1]);
    expect([ico[6], ico[7], ico.readUInt16LE(12), ico.readUInt32LE(18)]).toEqual([16, 16, 32, 22]);
    expect(ico.readUInt32LE(14)).toBe(ico.length - 22);
    // BITMAPINFOHEADER: 40 bytes, 16 wide, 32 high (colour rows and mask rows), 32 bits.
    expect([ico.readUInt32LE(22), ico.readInt32LE(26), ico.readInt32LE(30), ico.readUInt16LE(36)]).toEqual([
      40, 16, 32, 32,
    ]);
    expect(ico.length).toBe(22 + 40 + 16 * 16 * 4 + 16 * 4);
    // Rows are stored bottom-up as BGRA: the top-left pixel (transparent corner) is the first of the last
    // row, with its mask bit set; the one beside it is the accent blue.
    const colours = 22 + 40;
    const topRow = colours + 15 * 16 * 4;
    expect([...ico.subarray(topRow, topRow + 8)]).toEqual([0, 0, 0, 0, 0xce, 0x63, 0x0b, 0xff]);
    const mask = colours + 16 * 16 * 4;
    // AND mask, 4 bytes a row, bottom-up: the top row is transparent at x = 0 and x = 15; the next is opaque.
    expect([...ico.subarray(mask + 15 * 4, mask + 16 * 4)]).toEqual([0x80, 0x01, 0, 0]);
    expect([...ico.subarray(mask + 14 * 4, mask + 15 * 4)]).toEqual([0, 0, 0, 0]);
  });

  it("answers /favicon.ico and /explorer/favicon.svg, which the page links", async () => {
    const app = Fastify();
    registerExplorerRoutes(app);
    try {
      const ico = await app.inject({ method: "GET", url: "/favicon.ico" });
      expect(ico.statusCode).toBe(200);
      expect(ico.headers["content-type"]).toBe("image/x-icon");
      expect(Buffer.compare(ico.rawPayload, faviconIco())).toBe(0);
      const svg = await app.inject({ method: "GET", url: "/explorer/favicon.svg" });
      expect(svg.statusCode).toBe(200);
      expect(svg.headers["content-type"]).toBe("image/svg+xml");
      expect(svg.body).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* viewBox="0 0 16 16"/);
      // Drawn, not scripted, and nothing fetched from elsewhere.
      expect(svg.body).not.toMatch(/<script|href=|url\(/);
      const page = await app.inject({ method: "GET", url: "/" });
      expect(page.body).toContain('<link rel="icon" href="favicon.ico"');
      expect(page.body).toContain('<link rel="icon" href="explorer/favicon.svg" type="image/svg+xml"');
      // Every file the page refers to is served.
      for (const ref of pageReferences(page.body)) {
        const res = await app.inject({ method: "GET", url: `/${ref}` });
        expect(res.statusCode, ref).toBe(200);
      }
    } finally {
      await app.close();
    }
  });

  it("is part of the static build, beside every other file the page refers to", () => {
    const out = mkdtempSync(join(tmpdir(), "tdx-explorer-assets-"));
    dirs.push(out);
    const written = writeStaticExplorer(out);
    expect(written).toEqual(
      expect.arrayContaining([join(out, "favicon.ico"), join(out, "explorer", "favicon.svg")]),
    );
    expect(Buffer.compare(readFileSync(join(out, "favicon.ico")), faviconIco())).toBe(0);
    const html = readFileSync(join(out, "index.html"), "utf8");
    const refs = pageReferences(html);
    expect(refs).toEqual(
      expect.arrayContaining([
        "favicon.ico",
        "explorer/favicon.svg",
        "explorer/app.js",
        "explorer/style.css",
      ]),
    );
    for (const ref of refs) expect(existsSync(join(out, ref)), ref).toBe(true);
  });
});
