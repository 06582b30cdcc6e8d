import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerExplorerRoutes, writeStaticExplorer } from "../../src/server/explorer/index.js";
import { browserForTests, CHROMIUM_ARGS } from "../helpers/browser.js";
import {
  loadCases,
  projectRoot,
  VECTORS_SKIP_REASON,
  type VectorCase,
  vectorsDir,
} from "../helpers/vectors.js";

const BROWSER = browserForTests();
const CHROMIUM = BROWSER.kind === "run" ? BROWSER.path : "";
const ARTIFACTS = join(projectRoot, "test-artifacts", "explorer");
/** Waits for the page (2-core CI runs the whole suite at once, so allow more than vitest's 1 s default). */
function poll<T>(fn: () => T | Promise<T>) {
  return expect.poll(fn, { timeout: 15_000 });
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** What the page shows of a quote's SHA-256 (the first 16 hex digits). */
function shortHash(bytes: Uint8Array): string {
  return sha256Hex(bytes).slice(0, 16);
}

/** The static build's files by extension, as an ordinary web server would type them. */
const STATIC_TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
};

describe("explorer in headless Chromium", () => {
  // Fails (never skips) under CI=true without the browser, so a CI run that forgot to install it is red;
  // elsewhere the page tests below skip, after one loud line on stderr saying how to enable them.
  it.skipIf(BROWSER.kind === "skip")(
    BROWSER.kind === "run" ? `uses Chromium at ${CHROMIUM}` : `needs Chromium: ${BROWSER.reason}`,
    () => {
      expect(BROWSER.kind === "fail" ? BROWSER.reason : "").toBe("");
    },
  );
});

describe.skipIf(!vectorsDir() || BROWSER.kind !== "run")(
  vectorsDir() ? "explorer page on real quotes" : `explorer page on real quotes: ${VECTORS_SKIP_REASON}`,
  () => {
    let app: FastifyInstance;
    let base: string;
    let context: BrowserContext;
    let profile: string;
    let page: Page;
    const foreignRequests: string[] = [];
    const allowedOrigins: string[] = [];
    const cases = loadCases();
    const tdx = cases.find((c) => c.expected.quote.mrtd && c.expected.expect.tcbStatus) as VectorCase;

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      app = Fastify();
      registerExplorerRoutes(app);
      await app.listen({ host: "127.0.0.1", port: 0 });
      const addr = app.server.address();
      if (!addr || typeof addr === "string") throw new Error("no port");
      base = `http://127.0.0.1:${addr.port}`;
      allowedOrigins.push(base);
      profile = mkdtempSync(join(tmpdir(), "tdx-explorer-chromium-"));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1440, height: 1000 },
      });
      // Works offline: any request leaving the server's origin is recorded and refused.
      await context.route("**/*", (route) => {
        const url = route.request().url();
        if (allowedOrigins.some((o) => url.startsWith(o))) return route.continue();
        foreignRequests.push(url);
        return route.abort();
      });
      page = await context.newPage();
      // A stuck wait then fails with the selector it waited for, well inside the test's own timeout.
      page.setDefaultTimeout(25_000);
    }, 60_000);

    afterAll(async () => {
      await context?.close();
      await app?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
    });

    async function openWithQuoteFile(c: VectorCase): Promise<void> {
      await page.goto(base);
      await page.waitForSelector("html[data-ready=true]");
      await page.setInputFiles("#quote-file", join(c.dir, "quote.bin"));
      await page.waitForSelector('#tree [role="treeitem"]');
    }

    /**
     * Each icon the page links, loaded as an image in the page: its width, 0 when it does not load. The
     * query string is there because Playwright aborts every request whose URL ends in /favicon.ico while
     * requests are routed (as here, to refuse foreign ones).
     */
    async function linkedIconSizes(): Promise<number[]> {
      return page.evaluate(async () => {
        const links = [...document.querySelectorAll<HTMLLinkElement>('link[rel~="icon"]')];
        return Promise.all(
          links.map(
            (link) =>
              new Promise<number>((done) => {
                const img = new Image();
                img.onload = () => done(img.naturalWidth);
                img.onerror = () => done(0);
                img.src = `${link.href}?probe`;
              }),
          ),
        );
      });
    }

    /** Whether the element lies wholly inside the viewport as it is scrolled now. */
    async function inViewport(selector: string): Promise<boolean> {
      const box = await page.locator(selector).first().boundingBox();
      const size = page.viewportSize();
      if (!box || !size) return false;
      return box.y >= 0 && box.x >= 0 && box.y + box.height <= size.height && box.x + box.width <= size.width;
    }

    it("decodes a dropped binary quote and shows its MRTD; hovering a field highlights its bytes", async () => {
      await openWithQuoteFile(tdx);
      const mrtd = tdx.expected.quote.mrtd!;
      const item = page.locator('[role="treeitem"][data-path="body.mr_td"]');
      await poll(() => item.count()).toBe(1);
      // The body group is open by default; MRTD is visible with its value.
      await expect
        .poll(() => item.locator(":scope > .label .val").textContent())
        .toContain(mrtd.slice(0, 32));
      await item.locator(":scope > .label").hover();
      const highlighted = page.locator("#hex .hb span.hl");
      await poll(() => highlighted.count()).toBe(48);
      expect((await highlighted.allTextContents()).join("")).toBe(mrtd);
      await poll(() => page.locator("#field-info").textContent()).toContain("body.mr_td");
      await page.screenshot({ path: join(ARTIFACTS, "decode-hover-mrtd.png"), fullPage: true });

      // The other way round: hovering a byte outlines and names its field; clicking selects it in the tree.
      const [, offset] =
        /^@(\d+)\+48$/.exec((await item.locator(":scope > .label .range").textContent()) ?? "") ?? [];
      expect(offset).toBeDefined();
      const byte = page.locator(`#hex .hb span[data-i="${Number(offset) + 5}"]`);
      await byte.hover();
      await poll(() => page.locator("#hex .hb span.peek").count()).toBe(48);
      expect(await page.locator("#field-info").textContent()).toContain("body.mr_td");
      await page.mouse.move(0, 0);
      await page.locator('[role="treeitem"][data-path="header"] > .label').click();
      await byte.click();
      await expect
        .poll(() => page.locator('[role="treeitem"].selected').getAttribute("data-path"))
        .toBe("body.mr_td");

      // Every region is drawn in its own colour, listed in the legend.
      const legend = await page.locator("#legend li").allTextContents();
      for (const label of ["Header", "Body", "Signature data", "QE report", "Certification data"]) {
        expect(legend.some((l) => l.startsWith(label))).toBe(true);
      }
      expect(await page.locator("#hex .hb span.rg-qeReport").count()).toBe(384);
      expect(await page.locator("#hex .hb span.rg-trailing").count()).toBe(
        tdx.expected.quote.trailing_bytes ?? 0,
      );
      expect(foreignRequests).toEqual([]);
    });

    it("is usable by keyboard: arrows move through the tree, Enter selects and highlights", async () => {
      await openWithQuoteFile(tdx);
      await page.locator('[role="treeitem"]').first().focus();
      // header (open) -> version
      await page.keyboard.press("ArrowDown");
      await page.keyboard.press("Enter");
      const selected = page.locator('[role="treeitem"].selected');
      await poll(() => selected.getAttribute("data-path")).toBe("header.version");
      await poll(() => page.locator("#hex .hb span.hl").count()).toBe(2);
      // Collapse header with Left (to the parent, then collapse), move Down into body.
      await page.keyboard.press("ArrowLeft");
      await page.keyboard.press("ArrowLeft");
      await expect
        .poll(() => page.locator('[role="treeitem"][data-path="header"]').getAttribute("aria-expanded"))
        .toBe("false");
      await page.keyboard.press("ArrowDown");
      await expect
        .poll(() => page.evaluate(() => document.activeElement?.getAttribute("data-path")))
        .toBe("body");
      await page.keyboard.press("ArrowRight"); // already open: into the first child
      await page.keyboard.press("Enter");
      await poll(() => selected.getAttribute("data-path")).toMatch(/^body\./);
      await page.screenshot({ path: join(ARTIFACTS, "keyboard-select.png") });
    });

    async function verifyInPage(c: VectorCase, policy?: string): Promise<void> {
      await openWithQuoteFile(c);
      await page.setInputFiles("#collateral-file", join(c.dir, "collateral.json"));
      await expect
        .poll(() => page.inputValue("#collateral-text").then((v) => v.length))
        .toBeGreaterThan(1000);
      await page.fill("#at", String(c.expected.at));
      if (policy !== undefined) await page.fill("#policy-text", policy);
      await page.click("#verify");
      await page.waitForSelector("#verdict-body .verdict-status");
    }

    it("verifies a real quote with its collateral at the vector's time: MRTD and Intel's verdict", async () => {
      const expected = tdx.expected.expect;
      await verifyInPage(tdx, "{}");
      expect(await page.locator("#tcb-status").textContent()).toBe(expected.tcbStatus);
      expect(await page.locator("#verify-error-code").count()).toBe(0);
      const facts = await page.locator("#verdict-body dl.facts").textContent();
      expect(facts).toContain(`Matched TCB level${expected.matchedTcbLevel!.tcbDate}`);
      const advisories = await page.locator("#verdict-body dl.facts .chip").allTextContents();
      expect(advisories).toEqual(expected.matchedTcbLevel!.advisoryIDs ?? []);
      expect(facts).toContain(expected.collateralExpired ? "Collateral expiredyes" : "Collateral expiredno");
      // Every check is listed with its outcome; on a verified quote none failed.
      const checks = page.locator("#checks > li");
      expect(await checks.count()).toBeGreaterThan(10);
      expect(await page.locator("#checks > li.fail").count()).toBe(0);
      // The default policy accepts UpToDate only: anything else is denied, naming the rule.
      const decision = await page.locator("#policy-decision").textContent();
      expect(decision).toBe(expected.tcbStatus === "UpToDate" ? "Policy: allowed" : "Policy: denied");
      if (expected.tcbStatus !== "UpToDate") {
        expect(await page.locator("#policy-rules li.fail").allTextContents()).toEqual(
          expect.arrayContaining([expect.stringContaining("acceptedTcbStatuses")]),
        );
      }
      // The MRTD of the quote is in the tree beside the verdict.
      expect(await page.locator('[data-path="body.mr_td"] > .label .val').textContent()).toContain(
        tdx.expected.quote.mrtd!.slice(0, 40),
      );
      await page.screenshot({ path: join(ARTIFACTS, "verify-verdict.png"), fullPage: true });
      expect(foreignRequests).toEqual([]);
    });

    it("flags expired collateral and shows a verification failure with its code", async () => {
      const expired = cases.find((c) => c.expected.expect.collateralExpired && c.expected.expect.tcbStatus);
      expect(expired, "the vectors hold a case with expired collateral").toBeDefined();
      await verifyInPage(expired!);
      expect(await page.locator("#tcb-status").textContent()).toBe(expired!.expected.expect.tcbStatus);
      expect(await page.locator("#collateral-expired").count()).toBe(1);
      await page.screenshot({ path: join(ARTIFACTS, "verify-expired.png"), fullPage: true });
      const failing = cases.find((c) => c.expected.expect.error && c.expected.quote.mrtd);
      expect(failing, "the vectors hold a case Intel refuses").toBeDefined();
      await verifyInPage(failing!);
      expect(await page.locator("#tcb-status").count()).toBe(0);
      expect(await page.locator("#verify-error-code").textContent()).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(await page.locator("#checks > li.fail").count()).toBe(1);
      await page.screenshot({ path: join(ARTIFACTS, "verify-failure.png"), fullPage: true });
    });

    it("a verdict belongs to the bytes it judged: another quote, even a broken one, never shows it", async () => {
      const other = cases.find(
        (c) => c.expected.quote.mrtd && sha256Hex(c.quote) !== sha256Hex(tdx.quote),
      ) as VectorCase;
      expect(other, "the vectors hold a second TDX quote").toBeDefined();
      const verdict = page.locator("#verdict");
      const status = page.locator("#tcb-status");

      // The verdict names the bytes it judged, as the structure does.
      await verifyInPage(tdx);
      await poll(() => status.count()).toBe(1);
      expect(await verdict.getAttribute("data-quote-sha256")).toBe(sha256Hex(tdx.quote));
      expect(await page.locator("#verdict-body").textContent()).toContain(shortHash(tdx.quote));
      expect(await page.locator("#quote-summary").textContent()).toContain(shortHash(tdx.quote));

      // Decoding the same bytes again keeps it: it still judges what is shown.
      await page.click("#decode");
      await poll(() => page.locator("#quote-summary").textContent()).toContain(shortHash(tdx.quote));
      expect(await status.count()).toBe(1);

      // Another quote (a file): the verdict is gone, and what replaces it names the bytes it was for.
      await page.setInputFiles("#quote-file", join(other.dir, "quote.bin"));
      await poll(() => page.locator("#quote-summary").textContent()).toContain(shortHash(other.quote));
      expect(await status.count()).toBe(0);
      expect(await verdict.getAttribute("data-quote-sha256")).toBeNull();
      expect(await verdict.textContent()).not.toMatch(/quote verified|verification failed|UpToDate/);
      expect(await page.locator("#verdict-retired").textContent()).toContain(shortHash(tdx.quote));

      // A broken quote pasted after a success never sits beside that success.
      await verifyInPage(tdx);
      await poll(() => status.count()).toBe(1);
      await page.fill("#quote-text", Buffer.from(other.quote.subarray(0, 700)).toString("hex"));
      await page.click("#decode");
      await page.waitForSelector("#error:not([hidden])");
      expect(await status.count()).toBe(0);
      expect(await verdict.textContent()).not.toMatch(/quote verified|UpToDate/);
      expect(await page.locator("#verdict-retired").textContent()).toContain(shortHash(tdx.quote));
      // Text that is no quote at all (no bytes to show) clears it too.
      await verifyInPage(tdx);
      await poll(() => status.count()).toBe(1);
      await page.fill("#quote-text", "not a quote!");
      await page.click("#decode");
      await poll(() => page.locator("#error-code").textContent()).toBe("INPUT_ENCODING");
      expect(await status.count()).toBe(0);
      expect(await verdict.textContent()).not.toMatch(/quote verified|UpToDate/);

      // Changing what the verdict was judged with (here the time) marks it as judged with the old inputs.
      await verifyInPage(tdx);
      await poll(() => status.count()).toBe(1);
      expect(await page.locator("#verdict-inputs-changed").count()).toBe(0);
      await page.fill("#at", String(tdx.expected.at + 86_400 * 400));
      await poll(() => page.locator("#verdict-inputs-changed").count()).toBe(1);
      await page.screenshot({ path: join(ARTIFACTS, "verdict-inputs-changed.png") });
      expect(foreignRequests).toEqual([]);
    });

    it("at 1400x1000 Decode brings the structure into view, however long the verdict beside it", async () => {
      const refused = cases.find((c) => c.expected.expect.error && c.expected.quote.mrtd) as VectorCase;
      expect(refused, "the vectors hold a case Intel refuses").toBeDefined();
      await page.setViewportSize({ width: 1400, height: 1000 });
      try {
        // A fresh page: the summary and the first rows of the tree show without scrolling.
        await openWithQuoteFile(tdx);
        expect(await inViewport("#quote-summary")).toBe(true);
        expect(await inViewport('#tree [role="treeitem"] > .label')).toBe(true);
        expect(await inViewport('[data-path="body.mr_td"] > .label')).toBe(true);

        // A refused quote with a policy: every check and rule listed, a long verdict. The structure of the
        // quote it judged stays in view beside it, and stays there when Decode runs again.
        await verifyInPage(refused, "{}");
        await poll(() => page.locator("#checks > li.fail").count()).toBe(1);
        await page.evaluate(() => window.scrollTo(0, 0));
        expect(await inViewport('#tree [role="treeitem"] > .label')).toBe(true);
        await page.click("#decode");
        await poll(() => page.locator("#quote-summary").textContent()).toContain(shortHash(refused.quote));
        expect(await page.locator("#verify-error-code").count()).toBe(1);
        expect(await inViewport("#quote-summary")).toBe(true);
        expect(await inViewport('[data-path="body.mr_td"] > .label')).toBe(true);
        await page.screenshot({ path: join(ARTIFACTS, "layout-1400x1000-verdict.png") });

        // Then another quote: what Decode changed is in view.
        await page.setInputFiles("#quote-file", join(tdx.dir, "quote.bin"));
        await poll(() => page.locator("#quote-summary").textContent()).toContain(shortHash(tdx.quote));
        expect(await inViewport("#quote-summary")).toBe(true);
        expect(await inViewport('[data-path="body.mr_td"] > .label')).toBe(true);

        // A narrow window (one column, the verdict above the structure): Decode scrolls the page to the
        // structure rather than change nothing in view.
        await page.setViewportSize({ width: 900, height: 800 });
        await page.goto(base);
        await page.waitForSelector("html[data-ready=true]");
        await page.fill("#quote-text", Buffer.from(tdx.quote).toString("hex"));
        await page.click("#decode");
        await page.waitForSelector('#tree [role="treeitem"]');
        await poll(() => inViewport("#quote-summary")).toBe(true);
        expect(await inViewport('#tree [role="treeitem"] > .label')).toBe(true);
      } finally {
        await page.setViewportSize({ width: 1440, height: 1000 });
      }
    });

    it("serves its icon: /favicon.ico answers an image and the icons the page links load", async () => {
      await page.goto(base);
      await page.waitForSelector("html[data-ready=true]");
      const ico = await page.request.get(`${base}/favicon.ico`);
      expect(ico.status()).toBe(200);
      expect(ico.headers()["content-type"]).toMatch(/^image\//);
      // An ICO file: reserved 0, type 1 (icon), one image.
      expect([...(await ico.body()).subarray(0, 6)]).toEqual([0, 0, 1, 0, 1, 0]);
      expect(await linkedIconSizes()).toEqual([16, 16]);
      expect(foreignRequests).toEqual([]);
    });

    it("a static build hosted on another origin decodes through --api (CORS)", async () => {
      const site = mkdtempSync(join(tmpdir(), "tdx-explorer-site-"));
      const api = Fastify();
      const files = createServer((req, res) => {
        const path = (req.url ?? "/").split("?")[0] === "/" ? "/index.html" : (req.url ?? "/").split("?")[0]!;
        try {
          const body = readFileSync(join(site, path));
          const type = STATIC_TYPES[/\.[a-z]+$/.exec(path)?.[0] ?? ""] ?? "application/octet-stream";
          res.writeHead(200, { "content-type": type }).end(body);
        } catch {
          res.writeHead(404).end();
        }
      });
      try {
        await new Promise<void>((done) => files.listen(0, "127.0.0.1", done));
        const siteOrigin = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
        registerExplorerRoutes(api, { corsOrigin: siteOrigin });
        await api.listen({ host: "127.0.0.1", port: 0 });
        const apiOrigin = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
        allowedOrigins.push(siteOrigin, apiOrigin);
        writeStaticExplorer(site, { apiUrl: apiOrigin });
        await page.goto(`${siteOrigin}/`);
        await page.waitForSelector("html[data-ready=true]");
        await page.setInputFiles("#quote-file", join(tdx.dir, "quote.bin"));
        await page.waitForSelector('[role="treeitem"][data-path="body.mr_td"]');
        expect(await page.locator("#quote-summary").textContent()).toContain(
          `quote v${tdx.expected.quote.version}`,
        );
        // The static build carries its icons: /favicon.ico where browsers look by convention, and the
        // icons the page links, each an image Chromium can draw.
        const ico = await page.request.get(`${siteOrigin}/favicon.ico`);
        expect(ico.status()).toBe(200);
        expect(ico.headers()["content-type"]).toMatch(/^image\//);
        expect(await linkedIconSizes()).toEqual([16, 16]);
      } catch (e) {
        await page.screenshot({ path: join(ARTIFACTS, "cors-failure.png"), fullPage: true }).catch(() => {});
        throw e;
      } finally {
        allowedOrigins.splice(1);
        // Chromium keeps its connections alive: drop them so closing cannot wait on them.
        api.server.closeAllConnections();
        files.closeAllConnections();
        await api.close();
        await new Promise((done) => files.close(done));
        rmSync(site, { recursive: true, force: true });
      }
    }, 120_000);

    it("a static build with no server decodes and verifies in the page (WebCrypto): Intel's verdict, no request out", async () => {
      const site = mkdtempSync(join(tmpdir(), "tdx-explorer-local-"));
      const served: string[] = [];
      const files = createServer((req, res) => {
        const path = (req.url ?? "/").split("?")[0] === "/" ? "/index.html" : (req.url ?? "/").split("?")[0]!;
        served.push(path);
        try {
          const body = readFileSync(join(site, path));
          const type = STATIC_TYPES[/\.[a-z]+$/.exec(path)?.[0] ?? ""] ?? "application/octet-stream";
          res.writeHead(200, { "content-type": type }).end(body);
        } catch {
          res.writeHead(404).end();
        }
      });
      const requests: string[] = [];
      const onRequest = (r: { url(): string; method(): string }) => requests.push(`${r.method()} ${r.url()}`);
      try {
        await new Promise<void>((done) => files.listen(0, "127.0.0.1", done));
        const siteOrigin = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
        // Only the static files' origin is reachable: no API server, every other request refused.
        allowedOrigins.splice(0, allowedOrigins.length, siteOrigin);
        const written = writeStaticExplorer(site);
        expect(written.some((f) => f.endsWith("lib/server/explorer/local.js"))).toBe(true);
        page.on("request", onRequest);
        const expected = tdx.expected.expect;
        await page.goto(`${siteOrigin}/`);
        await page.waitForSelector("html[data-ready=true]");
        await page.setInputFiles("#quote-file", join(tdx.dir, "quote.bin"));
        await page.waitForSelector('[role="treeitem"][data-path="body.mr_td"]');
        await page.setInputFiles("#collateral-file", join(tdx.dir, "collateral.json"));
        await expect
          .poll(() => page.inputValue("#collateral-text").then((v) => v.length))
          .toBeGreaterThan(1000);
        await page.fill("#at", String(tdx.expected.at));
        await page.click("#verify");
        await page.waitForSelector("#verdict-body .verdict-status");
        expect(await page.locator("#verify-error-code").count()).toBe(0);
        expect(await page.locator("#tcb-status").textContent()).toBe(expected.tcbStatus);
        const facts = await page.locator("#verdict-body dl.facts").textContent();
        expect(facts).toContain(`Matched TCB level${expected.matchedTcbLevel!.tcbDate}`);
        expect(await page.locator("#checks > li.fail").count()).toBe(0);
        await page.screenshot({ path: join(ARTIFACTS, "static-local-verdict.png"), fullPage: true });
        // Nothing was posted anywhere: only GETs of the static files, all on the site's origin.
        expect(requests.filter((r) => !r.startsWith(`GET ${siteOrigin}/`))).toEqual([]);
        expect(served.some((p) => p.includes("/explorer/lib/verify/verifier.js"))).toBe(true);
        expect(foreignRequests).toEqual([]);
      } catch (e) {
        await page
          .screenshot({ path: join(ARTIFACTS, "static-local-failure.png"), fullPage: true })
          .catch(() => {});
        throw e;
      } finally {
        page.off("request", onRequest);
        allowedOrigins.splice(0, allowedOrigins.length, base);
        files.closeAllConnections();
        await new Promise((done) => files.close(done));
        rmSync(site, { recursive: true, force: true });
      }
    }, 120_000);

    it("shows the error code and hint for a malformed quote", async () => {
      await page.goto(base);
      await page.waitForSelector("html[data-ready=true]");
      const truncated = Buffer.from(tdx.quote.subarray(0, 700)).toString("hex");
      await page.fill("#quote-text", truncated);
      await page.click("#decode");
      await page.waitForSelector("#error:not([hidden])");
      const code = await page.locator("#error-code").textContent();
      expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect((await page.locator("#error-hint").textContent())?.length).toBeGreaterThan(10);
      // The bytes that did decode are shown, the offending offset marked.
      expect(await page.locator("#error-where").textContent()).toContain("byte offset");
      expect(await page.locator("#hex span.err").count()).toBe(1);
      // The bytes are named by their SHA-256 (700 bytes: the padding takes a second block).
      expect(await page.locator("#quote-summary .sha").getAttribute("title")).toBe(
        `SHA-256 ${sha256Hex(tdx.quote.subarray(0, 700))}`,
      );
      await page.screenshot({ path: join(ARTIFACTS, "malformed-quote.png"), fullPage: true });

      await page.fill("#quote-text", "not a quote!");
      await page.click("#decode");
      await poll(() => page.locator("#error-code").textContent()).toBe("INPUT_ENCODING");
      writeFileSync(join(ARTIFACTS, "README.txt"), "Screenshots from test/e2e/explorer-browser.test.ts\n");
    });
  },
);
