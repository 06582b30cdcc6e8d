import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  CollateralCache,
  CollateralService,
  type CollateralServiceOptions,
  isQuoteFault,
} from "../../src/collateral/index.js";
import { TdxError } from "../../src/errors.js";
import { buildPcsServer } from "../../src/server/pcs.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { verifyQuote } from "../../src/verify/index.js";
import { HostileProxy } from "./hostile-proxy.js";

const TCB = "/tdx/certification/v4/tcb";
const TCB_KEY = "tdx/tcb/90C06F000000/standard";
const HOUR = 3_600_000;

async function failure(p: Promise<unknown>): Promise<TdxError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TdxError) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

/**
 * The collateral fetcher against a hostile collateral service: a proxy in front of the simulated PCS
 * (real HTTP) that corrupts, hangs, trickles, redirects, inflates and rate-limits. Time is the input
 * `now`; the simulated PCS issues its collateral relative to the same clock.
 */
describe("collateral fetcher against a hostile PCS", () => {
  let platform: SimPlatform;
  let other: SimPlatform;
  let pcs: FastifyInstance;
  let otherPcs: FastifyInstance;
  let pcsUrl: string;
  let otherUrl: string;
  let proxy: HostileProxy;
  let quote: Uint8Array;
  const t0 = Date.now();
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "hostile-pcs-"));
    dirs.push(d);
    return d;
  };
  const listen = async (app: FastifyInstance) => {
    await app.listen({ host: "127.0.0.1", port: 0 });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  };
  const service = (opts: Partial<CollateralServiceOptions> = {}) =>
    new CollateralService({
      urls: [proxy.url],
      trustAnchors: [platform.rootCaPem],
      maxAgeSeconds: 3600,
      ...opts,
    });
  const verifies = (c: Parameters<typeof verifyQuote>[1], at: number) =>
    verifyQuote(quote, c, { now: new Date(at), trustAnchors: [platform.rootCaPem] });

  beforeAll(async () => {
    platform = await createSimPlatform();
    other = await createSimPlatform();
    // The PCS issues collateral an hour before t0, valid 30 days: the test's times all lie inside.
    pcs = buildPcsServer({ platform, now: () => new Date(t0) });
    otherPcs = buildPcsServer({ platform: other, now: () => new Date(t0) });
    pcsUrl = await listen(pcs);
    otherUrl = await listen(otherPcs);
    quote = platform.quote(new Uint8Array(64).fill(1));
  });
  afterAll(async () => {
    await pcs?.close();
    await otherPcs?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  afterEach(async () => {
    await proxy?.stop();
  });
  const startProxy = async () => {
    proxy = await new HostileProxy(pcsUrl).start();
    return proxy;
  };

  it("keeps the last good TCB Info when a refresh answers with a broken signature, in memory and on disk, across a restart", async () => {
    await startProxy();
    const dir = tmp();
    const warnings: string[] = [];
    const a = service({ cacheDir: dir, onWarning: (w) => warnings.push(w) });
    expect(verifies(await a.forQuote(quote, { now: new Date(t0) }), t0).ok).toBe(true);
    const file = join(dir, CollateralCache.fileName(TCB_KEY));
    const good = readFileSync(file, "utf8");

    proxy.set({ kind: "corrupt-tcb-signature" });
    const t1 = t0 + 2 * HOUR; // every entry is due (maxAge 1 h)
    const served = await a.forQuote(quote, { now: new Date(t1) });
    expect(proxy.count(TCB)).toBe(2);
    expect(verifies(served, t1).ok).toBe(true);
    expect(a.stats().rejected).toBe(1);
    expect(a.stats().staleServed).toBe(1);
    expect(warnings.join("\n")).toMatch(
      /refused tdx\/tcb\/90C06F000000\/standard: .*signature.*keeping the entry/,
    );
    expect(readFileSync(file, "utf8")).toBe(good);

    // A restarted process, the PCS still hostile: the good file is loaded and kept.
    const b = service({ cacheDir: dir });
    const afterRestart = await b.forQuote(quote, { now: new Date(t1 + 60_000) });
    expect(verifies(afterRestart, t1 + 60_000).ok).toBe(true);
    expect(b.stats().rejected).toBe(1);
    expect(readFileSync(file, "utf8")).toBe(good);
  });

  it("refuses a bad first answer (nothing cached, remembered for the backoff), then takes the good one", async () => {
    await startProxy();
    const dir = tmp();
    const s = service({ cacheDir: dir });
    proxy.set({ kind: "corrupt-tcb-signature" });
    const e = await failure(s.forQuote(quote, { now: new Date(t0) }));
    expect(e.code).toBe("COLLATERAL_REJECTED");
    expect(readdirSync(dir)).not.toContain(CollateralCache.fileName(TCB_KEY));
    // Backing off: answered at once from the remembered failure, no request.
    const again = await failure(s.forQuote(quote, { now: new Date(t0 + 5000) }));
    expect(again.code).toBe("COLLATERAL_REJECTED");
    expect(again.message).toMatch(/not fetched again before/);
    expect(proxy.count(TCB)).toBe(1);
    expect(s.stats().backoffRefused).toBe(1);
    proxy.set({ kind: "pass" });
    const ok = await s.forQuote(quote, { now: new Date(t0 + 11_000) });
    expect(verifies(ok, t0 + 11_000).ok).toBe(true);
    expect(readdirSync(dir)).toContain(CollateralCache.fileName(TCB_KEY));
  });

  it("refuses a TCB Info signed under another root (a PCCS with its own PKI)", async () => {
    await startProxy();
    proxy.set({ kind: "tcb-from", upstream: otherUrl });
    const e = await failure(service().forQuote(quote, { now: new Date(t0) }));
    expect(e.code).toBe("COLLATERAL_REJECTED");
    expect(e.message).toMatch(/trusted root/);
  });

  it("fetches nothing for a quote whose PCK chain no trusted root vouches for", async () => {
    await startProxy();
    const s = service();
    const foreign = other.quote(new Uint8Array(64).fill(2));
    for (let i = 0; i < 10; i++) {
      const e = await failure(s.forQuote(foreign, { now: new Date(t0) }));
      expect(e.code).toBe("QUOTE_PCK_CHAIN_UNTRUSTED");
      expect(isQuoteFault(e)).toBe(true);
    }
    expect(proxy.requests).toEqual([]);
  });

  it("serves stale-but-valid entries at once while a refresh hangs, one request per artifact", async () => {
    await startProxy();
    const s = service({ timeoutMs: 60_000, refreshWaitMs: 100 });
    await s.forQuote(quote, { now: new Date(t0) });
    proxy.set({ kind: "hang" });
    const t1 = t0 + 2 * HOUR;
    for (let i = 0; i < 3; i++)
      expect(verifies(await s.forQuote(quote, { now: new Date(t1 + i) }), t1).ok).toBe(true);
    // All three were answered while the four refreshes still hang (nothing waited for the timeout).
    expect(proxy.requests.length).toBe(8);
    expect(s.stats().staleServed).toBe(12);
    expect(s.stats().joined).toBe(8);
  });

  it("backs off per artifact after failures, doubling, and serves the valid entry meanwhile", async () => {
    await startProxy();
    const s = service();
    await s.forQuote(quote, { now: new Date(t0) });
    proxy.set({ kind: "status", status: 500 });
    const t1 = t0 + 2 * HOUR;
    const seen = (at: number) =>
      s.forQuote(quote, { now: new Date(at) }).then(() => proxy.requests.length - 4);
    expect(await seen(t1)).toBe(4); // one failed refresh per artifact
    expect(await seen(t1 + 5_000)).toBe(4); // backing off (10 s)
    expect(await seen(t1 + 11_000)).toBe(8); // second failure: 20 s now
    expect(await seen(t1 + 25_000)).toBe(8);
    expect(await seen(t1 + 32_000)).toBe(12);
    expect(s.stats().fetchErrors).toBe(12);
    expect(s.stats().staleServed).toBe(20);
    proxy.set({ kind: "pass" });
    expect(await seen(t1 + 80_000)).toBe(16); // healthy again: refreshed, the backoff forgotten
    expect(await seen(t1 + 81_000)).toBe(16);
  });

  it("honours Retry-After of a 429", async () => {
    await startProxy();
    const s = service();
    await s.forQuote(quote, { now: new Date(t0) });
    proxy.set({ kind: "status", status: 429, retryAfter: "120" }, TCB);
    const t1 = t0 + 2 * HOUR;
    await s.forQuote(quote, { now: new Date(t1) });
    expect(proxy.count(TCB)).toBe(2);
    await s.forQuote(quote, { now: new Date(t1 + 60_000) });
    expect(proxy.count(TCB)).toBe(2); // the backoff alone (10 s) would have asked again
    await s.forQuote(quote, { now: new Date(t1 + 121_000) });
    expect(proxy.count(TCB)).toBe(3);
  });

  it("remembers a 404 (unknown FMSPC) for a while: ten calls, one request", async () => {
    await startProxy();
    const s = service();
    proxy.set({ kind: "status", status: 404 }, TCB);
    for (let i = 0; i < 10; i++)
      expect((await failure(s.forQuote(quote, { now: new Date(t0 + i * 1000) }))).code).toBe("PCS_NOT_FOUND");
    expect(proxy.count(TCB)).toBe(1);
    await failure(s.forQuote(quote, { now: new Date(t0 + 301_000) }));
    expect(proxy.count(TCB)).toBe(2);
  });

  it("reports a body that does not arrive in time as PCS_UNREACHABLE, not as a format error", async () => {
    await startProxy();
    proxy.set({ kind: "trickle" }, TCB);
    const e = await failure(service({ timeoutMs: 500 }).forQuote(quote, { now: new Date(t0) }));
    expect(e.code).toBe("PCS_UNREACHABLE");
    expect(e.message).toMatch(/body did not arrive within 500 ms/);
  });

  it("follows no redirect by default, and with same-origin only those to the same origin", async () => {
    await startProxy();
    // To another port (the PCS itself): refused either way.
    proxy.set({ kind: "redirect", location: (p) => `${pcsUrl}${p}` }, TCB);
    for (const redirects of [undefined, "same-origin"] as const) {
      const e = await failure(service(redirects ? { redirects } : {}).forQuote(quote, { now: new Date(t0) }));
      expect(e.code).toBe("PCS_UNREACHABLE");
      expect(e.message).toMatch(/HTTP 302 redirect/);
    }
    // To the same origin: followed only when allowed.
    proxy.set({ kind: "redirect", location: (p) => `/same${p}` }, TCB);
    expect((await failure(service().forQuote(quote, { now: new Date(t0) }))).code).toBe("PCS_UNREACHABLE");
    const followed = await service({ redirects: "same-origin" }).forQuote(quote, { now: new Date(t0) });
    expect(verifies(followed, t0).ok).toBe(true);
  });

  it("refuses an inflating body (gzip bomb) at the size limit", async () => {
    await startProxy();
    proxy.set({ kind: "gzip-bomb", inflatedBytes: 64 * 1024 * 1024 }, TCB);
    const e = await failure(service().forQuote(quote, { now: new Date(t0) }));
    expect(e.code).toBe("COLLATERAL_FORMAT");
    expect(e.message).toMatch(/exceeds/);
  });

  it("bounds outbound requests per minute in total", async () => {
    await startProxy();
    const s = service({ maxRequestsPerMinute: 5 });
    await s.forQuote(quote, { now: new Date(t0) });
    // Early TCB data needs two more requests (TCB Info and QE identity): one fits, the other does not.
    const e = await failure(s.forQuote(quote, { now: new Date(t0), update: "early" }));
    expect(e.code).toBe("PCS_FETCH_LIMITED");
    // The one that fit may still be on its way when the other's refusal ends the call.
    for (let i = 0; i < 100 && proxy.requests.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
    expect(proxy.requests.length).toBe(5);
    expect((await failure(s.forQuote(quote, { now: new Date(t0 + 1000), update: "early" }))).code).toMatch(
      /PCS_FETCH_LIMITED/,
    );
    expect(proxy.requests.length).toBe(5);
  });
});
