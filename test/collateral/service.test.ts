import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Collateral,
  CollateralCache,
  CollateralService,
  fetchCollateralForQuote,
  platformOfQuote,
  readCollateral,
  readCrl,
  splitPemCertificates,
  writeCollateral,
} from "../../src/collateral/index.js";
import { TdxError } from "../../src/errors.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";
import { deadUrl, FakePcs } from "./fake-pcs.js";

const dir = vectorsDir();
const TDX_CASE = "dcapqvl_tdx_v4_b0c06f_2025-06";
const SGX_CASE = "dcapqvl_sgx_v3_00a06711_2025-06";

function loadCase(name: string): { quote: Uint8Array; collateral: Collateral } {
  const d = join(dir as string, "cases", name);
  return {
    quote: new Uint8Array(readFileSync(join(d, "quote.bin"))),
    collateral: readCollateral(readFileSync(join(d, "collateral.json"), "utf8")),
  };
}

function same(a: Collateral, b: Collateral): void {
  const hex = (x: Uint8Array) => Buffer.from(x).toString("hex");
  expect(a.tcbInfo).toBe(b.tcbInfo);
  expect(a.qeIdentity).toBe(b.qeIdentity);
  expect(hex(a.tcbInfoSignature)).toBe(hex(b.tcbInfoSignature));
  expect(hex(a.qeIdentitySignature)).toBe(hex(b.qeIdentitySignature));
  expect(hex(a.pckCrl)).toBe(hex(b.pckCrl));
  expect(hex(a.rootCaCrl)).toBe(hex(b.rootCaCrl));
  expect(splitPemCertificates(a.pckCrlIssuerChain ?? "")).toEqual(
    splitPemCertificates(b.pckCrlIssuerChain ?? ""),
  );
  expect(splitPemCertificates(a.tcbInfoIssuerChain)).toEqual(splitPemCertificates(b.tcbInfoIssuerChain));
  expect(splitPemCertificates(a.qeIdentityIssuerChain ?? "")).toEqual(
    splitPemCertificates(b.qeIdentityIssuerChain ?? ""),
  );
}

async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof TdxError ? e.code : `not a TdxError: ${String(e)}`;
  }
  return "resolved";
}

/** The earliest nextUpdate over TCB Info, QE identity and both CRLs (unix ms). */
function earliestNextUpdateMs(c: Collateral): number {
  const tcb = Date.parse((JSON.parse(c.tcbInfo) as { nextUpdate: string }).nextUpdate);
  const qe = Date.parse((JSON.parse(c.qeIdentity) as { nextUpdate: string }).nextUpdate);
  const crls = [c.pckCrl, c.rootCaCrl].map((d) => readCrl(d).nextUpdate?.getTime() ?? 0);
  return Math.min(tcb, qe, ...crls);
}

describe.skipIf(!dir)(`collateral service against a fake PCS ${dir ? "" : VECTORS_SKIP_REASON}`, () => {
  let tdx: { quote: Uint8Array; collateral: Collateral };
  let pcs: FakePcs;
  const tmpDirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "tdx-collateral-"));
    tmpDirs.push(d);
    return d;
  };

  beforeAll(async () => {
    tdx = loadCase(TDX_CASE);
    pcs = await new FakePcs(tdx.collateral).start();
  });
  afterAll(async () => {
    await pcs.stop();
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  });

  it("reads TEE, FMSPC and CA type from the quote's PCK chain", () => {
    const p = platformOfQuote(tdx.quote);
    expect(p.tee).toBe("tdx");
    expect(p.fmspc).toBe("B0C06F000000");
    expect(p.caType).toBe("platform");
    expect(p.pckChain).toHaveLength(3);
  });

  it("fetches exactly the vector's collateral, and the bundle round-trips through the JSON format", async () => {
    const lines: string[] = [];
    const service = new CollateralService({ urls: [pcs.url], onProgress: (l) => lines.push(l) });
    const got = await service.fetchForQuote(tdx.quote, {
      now: new Date(earliestNextUpdateMs(tdx.collateral) - 60_000),
    });
    same(got.collateral, tdx.collateral);
    same(readCollateral(writeCollateral(got.collateral)), tdx.collateral);
    expect(got.platform).toEqual({ tee: "tdx", fmspc: "B0C06F000000", caType: "platform" });
    expect(got.validUntil.getTime()).toBeLessThanOrEqual(earliestNextUpdateMs(tdx.collateral));
    expect(lines.some((l) => l.includes("/tdx/certification/v4/tcb?fmspc=B0C06F000000"))).toBe(true);
    expect(lines.some((l) => l.includes("/sgx/certification/v4/pckcrl?ca=platform&encoding=der"))).toBe(true);
    expect(service.stats().misses).toBe(4);
  });

  it("fetches SGX collateral from the /sgx paths for an SGX quote", async () => {
    const sgx = loadCase(SGX_CASE);
    const sgxPcs = await new FakePcs(sgx.collateral, { v3TcbHeader: true, pckCrlPem: true }).start();
    try {
      const p = platformOfQuote(sgx.quote);
      expect(p.tee).toBe("sgx");
      const service = new CollateralService({ urls: [sgxPcs.url] });
      const got = await service.forQuote(sgx.quote, {
        now: new Date(earliestNextUpdateMs(sgx.collateral) - 60_000),
      });
      same(got, sgx.collateral);
      expect(sgxPcs.count("/sgx/certification/v4/tcb")).toBe(1);
      expect(sgxPcs.count("/tdx/")).toBe(0);
      expect(sgxPcs.count(`/sgx/certification/v4/pckcrl?ca=${p.caType}`)).toBe(1);
    } finally {
      await sgxPcs.stop();
    }
  });

  it("fails over to the next URL when the first is unreachable or erroring", async () => {
    const broken = await new FakePcs(tdx.collateral).start();
    broken.failWith = 503;
    try {
      const service = new CollateralService({
        urls: [await deadUrl(), broken.url, pcs.url],
        timeoutMs: 5000,
      });
      const before = pcs.requests.length;
      const got = await service.forQuote(tdx.quote, {
        now: new Date(earliestNextUpdateMs(tdx.collateral) - 60_000),
      });
      same(got, tdx.collateral);
      expect(broken.requests.length).toBe(4);
      expect(pcs.requests.length - before).toBe(4);
    } finally {
      await broken.stop();
    }
  });

  it("refuses an oversized or damaged body and moves on to the next endpoint", async () => {
    const { createServer } = await import("node:http");
    const huge = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(Buffer.alloc(9 * 1024 * 1024, 0x20));
    });
    await new Promise<void>((r) => huge.listen(0, "127.0.0.1", r));
    const hugeUrl = `http://127.0.0.1:${(huge.address() as { port: number }).port}`;
    try {
      const now = new Date(earliestNextUpdateMs(tdx.collateral) - 60_000);
      const alone = new CollateralService({ urls: [hugeUrl] });
      const err = await alone.forQuote(tdx.quote, { now }).catch((e: unknown) => e);
      expect((err as TdxError).code).toBe("COLLATERAL_FORMAT");
      expect((err as TdxError).message).toMatch(/exceeds|not JSON|CRL/);
      const withFallback = new CollateralService({ urls: [hugeUrl, pcs.url] });
      same(await withFallback.forQuote(tdx.quote, { now }), tdx.collateral);
    } finally {
      huge.closeAllConnections();
      await new Promise<void>((r) => huge.close(() => r()));
    }
  });

  it("says PCS_UNREACHABLE when nothing answers and PCS_NOT_FOUND for an unknown FMSPC", async () => {
    const now = new Date(earliestNextUpdateMs(tdx.collateral) - 60_000);
    const down = new CollateralService({ urls: [await deadUrl()] });
    expect(await rejectionCode(down.forQuote(tdx.quote, { now }))).toBe("PCS_UNREACHABLE");
    const other = await new FakePcs(tdx.collateral, { knownFmspc: ["00906ED50000"] }).start();
    try {
      const service = new CollateralService({ urls: [other.url] });
      const err = await service.forQuote(tdx.quote, { now }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TdxError);
      expect((err as TdxError).code).toBe("PCS_NOT_FOUND");
      expect((err as TdxError).hint).toMatch(/FMSPC/);
    } finally {
      await other.stop();
    }
  });

  it("runs a single fetch per artifact for concurrent callers", async () => {
    const gated = await new FakePcs(tdx.collateral).start();
    let release: () => void = () => {};
    gated.gate = new Promise<void>((r) => {
      release = r;
    });
    try {
      const service = new CollateralService({ urls: [gated.url] });
      const now = new Date(earliestNextUpdateMs(tdx.collateral) - 60_000);
      const calls = Array.from({ length: 6 }, () => service.forQuote(tdx.quote, { now }));
      // Every caller is registered before any answer arrives: wait until the 4 requests reached the server.
      while (gated.requests.length < 4) await new Promise((r) => setTimeout(r, 5));
      release();
      const results = await Promise.all(calls);
      for (const r of results) same(r, tdx.collateral);
      expect(gated.requests.length).toBe(4);
      expect(service.stats().joined).toBe(20);
      expect(service.stats().misses).toBe(4);
    } finally {
      release();
      await gated.stop();
    }
  });

  it("serves cached entries while fresh, refreshes ahead of nextUpdate, serves stale-but-valid when down", async () => {
    const local = await new FakePcs(tdx.collateral).start();
    try {
      const expiry = earliestNextUpdateMs(tdx.collateral);
      // maxAge far away so that only the refresh-ahead window decides.
      const service = new CollateralService({
        urls: [local.url],
        refreshAheadSeconds: 600,
        maxAgeSeconds: 10 * 86_400,
      });
      const t0 = expiry - 3 * 86_400_000;
      await service.forQuote(tdx.quote, { now: new Date(t0) });
      expect(local.requests.length).toBe(4);
      // Still fresh: hits, no request.
      await service.forQuote(tdx.quote, { now: new Date(expiry - 601_000) });
      expect(local.requests.length).toBe(4);
      expect(service.stats().hits).toBe(4);
      // Inside the refresh window of the earliest-expiring artifact (the PCK CRL here): it alone is refetched.
      await service.forQuote(tdx.quote, { now: new Date(expiry - 599_000) });
      expect(local.count("/sgx/certification/v4/pckcrl")).toBe(2);
      expect(local.requests.length).toBe(5);
      expect(service.stats().refreshes).toBe(1);
      // Down, still inside the window but before nextUpdate: the old entries are served.
      local.failWith = 500;
      const stale = await service.forQuote(tdx.quote, { now: new Date(expiry - 1000) });
      same(stale, tdx.collateral);
      expect(service.stats().staleServed).toBe(1);
      // Down and past nextUpdate: nothing valid to serve.
      expect(await rejectionCode(service.forQuote(tdx.quote, { now: new Date(expiry + 1000) }))).toBe(
        "PCS_UNREACHABLE",
      );
    } finally {
      await local.stop();
    }
  });

  it("does not ask again within a minute for data that was already expired when fetched", async () => {
    const local = await new FakePcs(tdx.collateral).start();
    try {
      const late = new Date(earliestNextUpdateMs(tdx.collateral) + 86_400_000);
      const service = new CollateralService({ urls: [local.url] });
      await service.forQuote(tdx.quote, { now: late });
      await service.forQuote(tdx.quote, { now: new Date(late.getTime() + 59_000) });
      expect(local.requests.length).toBe(4);
      await service.forQuote(tdx.quote, { now: new Date(late.getTime() + 61_000) });
      expect(local.requests.length).toBe(7); // the root CA CRL is still valid then; the other three are not
    } finally {
      await local.stop();
    }
  });

  it("refetches entries older than maxAge even far from nextUpdate", async () => {
    const local = await new FakePcs(tdx.collateral).start();
    try {
      const expiry = earliestNextUpdateMs(tdx.collateral);
      const service = new CollateralService({
        urls: [local.url],
        refreshAheadSeconds: 60,
        maxAgeSeconds: 3600,
      });
      const t0 = expiry - 20 * 86_400_000;
      await service.forQuote(tdx.quote, { now: new Date(t0) });
      await service.forQuote(tdx.quote, { now: new Date(t0 + 3_599_000) });
      expect(local.requests.length).toBe(4);
      await service.forQuote(tdx.quote, { now: new Date(t0 + 3_601_000) });
      expect(local.requests.length).toBe(8);
    } finally {
      await local.stop();
    }
  });

  it("keeps one file per artifact in the cache directory, written atomically, and serves it when offline", async () => {
    const cacheDir = tmp();
    const now = new Date(earliestNextUpdateMs(tdx.collateral) - 3_600_000);
    const online = new CollateralService({ urls: [pcs.url], cacheDir });
    await online.forQuote(tdx.quote, { now });
    const files = readdirSync(cacheDir).sort();
    expect(files).toEqual(
      ["pckcrl/platform", "rootcacrl", "tdx/tcb/B0C06F000000/standard", "tdx/qe-identity/standard"]
        .map((k) => CollateralCache.fileName(k))
        .sort(),
    );
    // A fresh process, every endpoint down: served from disk.
    const offline = new CollateralService({ urls: [await deadUrl()], cacheDir, maxAgeSeconds: 10 * 86_400 });
    same(await offline.forQuote(tdx.quote, { now }), tdx.collateral);
    expect(offline.stats().diskLoads).toBe(4);
    expect(offline.stats().hits).toBe(4);
    // A damaged file is ignored (counted), and the artifact is fetched again.
    writeFileSync(join(cacheDir, CollateralCache.fileName("rootcacrl")), '{"key":"rootcacrl","kind":');
    const repair = new CollateralService({ urls: [pcs.url], cacheDir });
    same(await repair.forQuote(tdx.quote, { now }), tdx.collateral);
    expect(repair.stats().diskErrors).toBe(1);
    expect(repair.stats().misses).toBe(1);
    expect(JSON.parse(readFileSync(join(cacheDir, CollateralCache.fileName("rootcacrl")), "utf8")).key).toBe(
      "rootcacrl",
    );
    expect(readdirSync(cacheDir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("keeps working in memory when the cache directory cannot be written", async () => {
    const notADir = join(tmp(), "file");
    writeFileSync(notADir, "x");
    const warnings: string[] = [];
    const service = new CollateralService({
      urls: [pcs.url],
      cacheDir: notADir,
      onWarning: (w) => warnings.push(w),
    });
    const now = new Date(earliestNextUpdateMs(tdx.collateral) - 3_600_000);
    same(await service.forQuote(tdx.quote, { now }), tdx.collateral);
    expect(service.stats().diskErrors).toBe(8); // 4 unreadable (ENOTDIR) + 4 unwritable
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toMatch(/cannot write the collateral cache file/);
    await service.forQuote(tdx.quote, { now });
    expect(service.stats().hits).toBe(4);
  });

  it("fetchCollateralForQuote shares one service per URL list", async () => {
    const now = earliestNextUpdateMs(tdx.collateral) / 1000 - 60;
    const before = pcs.requests.length;
    const a = await fetchCollateralForQuote(tdx.quote, { urls: [pcs.url], now });
    const b = await fetchCollateralForQuote(tdx.quote, { urls: [pcs.url], now });
    same(a, tdx.collateral);
    same(b, tdx.collateral);
    expect(pcs.requests.length - before).toBe(4);
  });

  it("serves every vector's platform from its own collateral", async () => {
    let served = 0;
    for (const v of loadCases()) {
      let platform: ReturnType<typeof platformOfQuote>;
      try {
        platform = platformOfQuote(v.quote);
      } catch {
        continue; // quotes whose PCK extension the abi or crypto layer rejects are the verifier's tests
      }
      const c = readCollateral(v.collateralText);
      const tcb = JSON.parse(c.tcbInfo) as { fmspc: string };
      const tcbId = (JSON.parse(c.tcbInfo) as { id?: string }).id ?? "SGX";
      // The WRONGCOLLATERAL case pairs a TDX quote with SGX collateral: a real PCS has nothing for it.
      if (tcb.fmspc.toUpperCase() !== platform.fmspc || tcbId.toLowerCase() !== platform.tee) continue;
      const fake = await new FakePcs(c).start();
      try {
        const service = new CollateralService({ urls: [fake.url] });
        same(await service.forQuote(v.quote, { now: v.expected.at }), c);
        served++;
      } finally {
        await fake.stop();
      }
    }
    expect(served).toBeGreaterThanOrEqual(10);
  });
});
