import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedReportData } from "../../src/kbs/binding.js";
import { attestationMessage, generateTeeKeyPair } from "../../src/kbs/client.js";
import { openStore } from "../../src/kbs/store/index.js";
import { initSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { startTestPostgres, type TestPostgres } from "../kbs/postgres.js";
import { type SpawnedBroker, spawnBroker } from "../kbs/spawn-broker.js";

const ADMIN = "pg-e2e-admin-token-0123456789";

async function post(url: string, path: string, body: unknown, cookie?: string) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    cookie: res.headers.get("set-cookie")?.split(";")[0],
    json: (await res.json()) as Record<string, unknown>,
  };
}

describe("two broker processes on one PostgreSQL", () => {
  let pg: TestPostgres;
  let dir: string;
  let sim: SimPlatform;
  let a: SpawnedBroker;
  let b: SpawnedBroker;
  const env = { TDX_ATTEST_KBS_KEK: randomBytes(32).toString("hex"), TDX_ATTEST_KBS_ADMIN_TOKEN: ADMIN };

  beforeAll(async () => {
    pg = await startTestPostgres();
    dir = mkdtempSync(join(tmpdir(), "kbs-pg-"));
    sim = await initSimPlatform(join(dir, "sim"));
    const args = (n: string) => ["--db", pg.url, "--data", join(dir, n), "--sim-dir", join(dir, "sim")];
    // Started together: schema creation and key initialisation race too.
    [a, b] = await Promise.all([spawnBroker(args("a"), env), spawnBroker(args("b"), env)]);
  });
  afterAll(async () => {
    await a?.stop("SIGKILL");
    await b?.stop("SIGKILL");
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("shares resources, sessions and the token key: auth on one, attest on the other, fetch on the first", async () => {
    const auth = await post(a.url, "/kbs/v0/auth", { version: "0.4.0", tee: "tdx", "extra-params": "" });
    const nonce = String(auth.json.nonce);
    const key = generateTeeKeyPair();
    const quote = sim.quote(expectedReportData(nonce, key.publicJwk, ""));
    const att = await post(
      b.url,
      "/kbs/v0/attest",
      attestationMessage(nonce, key.publicJwk, quote),
      auth.cookie,
    );
    expect(att.status).toBe(200);
    const res = await fetch(`${a.url}/kbs/v0/resource/default/disk/key`, {
      headers: { cookie: auth.cookie! },
    });
    expect(res.status).toBe(200);
    const passport = await fetch(`${b.url}/kbs/v0/resource/default/disk/key`, {
      headers: { authorization: `Bearer ${att.json.token}` },
    });
    expect(passport.status).toBe(200);
  });

  it("lets exactly one broker accept a nonce raced between them (the others: replayed, or that session's token)", async () => {
    for (let round = 0; round < 8; round++) {
      const auth = await post(a.url, "/kbs/v0/auth", { version: "0.4.0", tee: "tdx", "extra-params": "" });
      const nonce = String(auth.json.nonce);
      const key = generateTeeKeyPair();
      const msg = attestationMessage(
        nonce,
        key.publicJwk,
        sim.quote(expectedReportData(nonce, key.publicJwk, "")),
      );
      const results = await Promise.all([
        post(a.url, "/kbs/v0/attest", msg, auth.cookie),
        post(b.url, "/kbs/v0/attest", msg, auth.cookie),
        post(a.url, "/kbs/v0/attest", msg, auth.cookie),
        post(b.url, "/kbs/v0/attest", msg, auth.cookie),
      ]);
      // One attestation happens; a call that arrives after it gets that session's token (same jti),
      // one that races it while in flight is refused as a replay.
      const ok = results.filter((r) => r.status === 200);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      const jti = (r: { json: Record<string, unknown> }) =>
        JSON.parse(Buffer.from(String(r.json.token).split(".")[1]!, "base64url").toString()).jti;
      expect(new Set(ok.map(jti)).size).toBe(1);
      for (const r of results.filter((x) => x.status !== 200))
        expect([r.status, r.json.code]).toEqual([401, "KBS_NONCE_REPLAYED"]);
    }
    const store = await openStore(pg.url);
    try {
      const entries = await store.listAudit({ limit: 10_000 });
      expect(entries.filter((e) => e.event === "attest" && e.verdict === "allowed").length).toBe(9);
    } finally {
      await store.close();
    }
  });
});
