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

    it("a static build hosted on another origin decodes through --api (CORS)", async () => {
      const site = mkdtempSync(join(tmpdir(), "tdx-explorer-site-"));
      const api = Fastify();
      const files = createServer((req, res) => {
        const path = (req.url ?? "/").split("?")[0] === "/" ? "/index.html" : (req.url ?? "/").split("?")[0]!;
        try {
          const body = readFileSync(join(site, path));
          const type = path.endsWith(".html")
            ? "text/html"
            : path.endsWith(".js")
              ? "text/javascript"
              : "text/css";
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
      await page.screenshot({ path: join(ARTIFACTS, "malformed-quote.png"), fullPage: true });

      await page.fill("#quote-text", "not a quote!");
      await page.click("#decode");
      await poll(() => page.locator("#error-code").textContent()).toBe("INPUT_ENCODING");
      writeFileSync(join(ARTIFACTS, "README.txt"), "Screenshots from test/e2e/explorer-browser.test.ts\n");
    });
  },
);
