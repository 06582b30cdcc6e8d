import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectedReportData } from "../../src/kbs/binding.js";
import { attestationMessage, generateTeeKeyPair } from "../../src/kbs/client.js";
import type { BrokerConfig } from "../../src/server/config.js";
import { buildPcsServer } from "../../src/server/pcs.js";
import { type RunningBroker, startBroker } from "../../src/server/serve.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { HostileProxy } from "../collateral/hostile-proxy.js";

const TOKEN = "hostile-collateral-admin-token-0123";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function post(url: string, path: string, body: unknown, cookie?: string) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    cookie: res.headers.get("set-cookie")?.split(";")[0],
    text: await res.text(),
  };
}

/** One RCAR round with a quote from `platform`: the /attest answer (status, headers, body text). */
async function attest(url: string, platform: SimPlatform) {
  const auth = await post(url, "/kbs/v0/auth", { version: "0.4.0", tee: "tdx", "extra-params": "" });
  const nonce = String((JSON.parse(auth.text) as { nonce: string }).nonce);
  const key = generateTeeKeyPair();
  const quote = platform.quote(expectedReportData(nonce, key.publicJwk, ""));
  return post(url, "/kbs/v0/attest", attestationMessage(nonce, key.publicJwk, quote), auth.cookie);
}

const metric = (text: string, name: string) =>
  Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? "NaN");

/**
 * The broker in production mode against a hostile collateral service (a proxy in front of the simulated
 * PCS), over real HTTP: a bad answer never poisons its cache, a hanging PCCS is backed off while valid
 * collateral is served, outsiders cannot make it fetch, and its problem documents do not name the PCCS.
 */
describe("key broker against a hostile collateral service", () => {
  let sim: SimPlatform;
  let stranger: SimPlatform;
  let pcs: FastifyInstance;
  let proxy: HostileProxy;
  let dir: string;
  const brokers: RunningBroker[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kbs-hostile-"));
    sim = await createSimPlatform();
    stranger = await createSimPlatform();
    pcs = buildPcsServer({ platform: sim });
    await pcs.listen({ host: "127.0.0.1", port: 0 });
    writeFileSync(join(dir, "kek"), randomBytes(32), { mode: 0o600 });
    writeFileSync(join(dir, "admin-token"), `${TOKEN}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "sim-root.pem"), sim.rootCaPem);
  });
  afterEach(async () => {
    for (const b of brokers.splice(0)) await b.close();
    await proxy?.stop();
  });
  afterAll(async () => {
    await pcs?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const startProxy = async () => {
    proxy = await new HostileProxy(`http://127.0.0.1:${(pcs.server.address() as AddressInfo).port}`).start();
  };
  const broker = async (
    dataDir: string,
    collateral: Partial<NonNullable<BrokerConfig["collateral"]>> = {},
  ) => {
    const b = await startBroker(
      {
        mode: "production",
        listen: "127.0.0.1:0",
        dataDir,
        kek: { file: join(dir, "kek") },
        admin: { tokenFile: join(dir, "admin-token") },
        trustAnchors: [join(dir, "sim-root.pem")],
        collateral: {
          urls: [proxy.url],
          maxAgeSeconds: 1,
          backoffSeconds: 1,
          refreshWaitMs: 200,
          ...collateral,
        },
        explorer: true,
        metrics: true,
      },
      { say: () => {}, logger: false, env: {} },
    );
    brokers.push(b);
    return b;
  };
  const metrics = async (b: RunningBroker) => (await fetch(`${b.url}/metrics`)).text();

  it("keeps attesting when a refresh answers with a broken TCB Info signature, also after a restart", async () => {
    await startProxy();
    const data = join(dir, "poison");
    const a = await broker(data);
    expect((await attest(a.url, sim)).status).toBe(200);
    proxy.set({ kind: "corrupt-tcb-signature" });
    await sleep(1100); // every entry is due (maxAge 1 s)
    const during = await attest(a.url, sim);
    expect([during.status, during.text]).toEqual([200, expect.any(String)]);
    const m = await metrics(a);
    expect(metric(m, "kbs_collateral_rejected_total")).toBeGreaterThanOrEqual(1);
    expect(metric(m, "kbs_collateral_stale_served_total")).toBeGreaterThanOrEqual(1);
    await a.close();
    brokers.splice(0);
    // Restarted on the same data directory, the service still hostile: the good entries on disk hold.
    const b = await broker(data);
    await sleep(1100);
    expect((await attest(b.url, sim)).status).toBe(200);
    expect(metric(await metrics(b), "kbs_collateral_rejected_total")).toBeGreaterThanOrEqual(1);
  });

  it("answers 503 with Retry-After (no PCCS address) when the very first answer is bad, and recovers", async () => {
    await startProxy();
    const b = await broker(join(dir, "first-bad"));
    proxy.set({ kind: "corrupt-tcb-signature" });
    const refused = await attest(b.url, sim);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.text).code).toBe("KBS_COLLATERAL_UNAVAILABLE");
    expect(JSON.parse(refused.text).reason).toBe("COLLATERAL_REJECTED");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    const port = new URL(proxy.url).port;
    expect(refused.text).not.toContain(port);
    expect(refused.text).not.toContain("127.0.0.1");
    proxy.set({ kind: "pass" });
    await sleep(1100); // past the backoff
    expect((await attest(b.url, sim)).status).toBe(200);
  });

  it("serves valid collateral at once while the PCCS hangs, asking once per artifact", async () => {
    await startProxy();
    const b = await broker(join(dir, "hang"), { timeoutMs: 60_000, backoffSeconds: 60 });
    expect((await attest(b.url, sim)).status).toBe(200);
    const before = proxy.requests.length;
    proxy.set({ kind: "hang" });
    await sleep(1100);
    for (let i = 0; i < 3; i++) expect((await attest(b.url, sim)).status).toBe(200);
    // One refresh per artifact, still hanging; the three attestations did not wait for it.
    expect(proxy.requests.length - before).toBe(4);
    const m = await metrics(b);
    expect(metric(m, "kbs_collateral_stale_served_total")).toBeGreaterThanOrEqual(12);
  });

  it("fetches nothing for quotes whose PCK chain it does not trust (/attest and the explorer)", async () => {
    await startProxy();
    const b = await broker(join(dir, "outsiders"));
    for (let i = 0; i < 10; i++) {
      const r = await attest(b.url, stranger);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.text).code).toBe("KBS_EVIDENCE_REJECTED");
      expect(r.text).toContain("QUOTE_PCK_CHAIN_UNTRUSTED");
    }
    for (let i = 0; i < 10; i++) {
      const quote = Buffer.from(stranger.quote(new Uint8Array(64).fill(i))).toString("hex");
      const r = await post(b.url, "/api/verify", { quote });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.text).error.code).toBe("QUOTE_PCK_CHAIN_UNTRUSTED");
    }
    expect(proxy.requests).toEqual([]);
  });

  it("does not let the explorer's verification time drive the collateral cache", async () => {
    await startProxy();
    const b = await broker(join(dir, "explorer-time"), { maxAgeSeconds: 3600 });
    expect((await attest(b.url, sim)).status).toBe(200);
    const before = proxy.requests.length;
    const quote = Buffer.from(sim.quote(new Uint8Array(64))).toString("hex");
    for (const days of [400, -400, 40_000]) {
      const at = new Date(Date.now() + days * 86_400_000).toISOString();
      expect((await post(b.url, "/api/verify", { quote, at })).status).toBe(200);
    }
    // No refresh was made for those times, and none is stamped into the future: the next one is now's.
    expect(proxy.requests.length).toBe(before);
    expect((await attest(b.url, sim)).status).toBe(200);
    expect(proxy.requests.length).toBe(before);
  });

  it("keeps the PCCS address out of the explorer's answers when it is down", async () => {
    await startProxy();
    const b = await broker(join(dir, "explorer-down"));
    proxy.set({ kind: "status", status: 502 });
    const r = await post(b.url, "/api/verify", {
      quote: Buffer.from(sim.quote(new Uint8Array(64))).toString("hex"),
    });
    expect(r.status).toBe(503);
    const body = JSON.parse(r.text);
    expect(body.error.code).toBe("EXPLORER_COLLATERAL_UNAVAILABLE");
    // The answer echoes the caller's own quote decoded (hex, certificates), where the port's digits can turn
    // up by chance: the port is looked for in everything else, the full address in the whole answer.
    const { decode: _ownQuote, ...rest } = body;
    expect(JSON.stringify(rest)).not.toContain(new URL(proxy.url).port);
    expect(r.text).not.toContain(new URL(proxy.url).host);
  });
});
