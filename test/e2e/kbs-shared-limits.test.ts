import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newKeyPair } from "../../src/crypto/keygen.js";
import { initSimPlatform } from "../../src/sim/index.js";
import { startTestPostgres, type TestPostgres } from "../kbs/postgres.js";
import { type SpawnedBroker, spawnBroker } from "../kbs/spawn-broker.js";

const HOUR = 3_600_000;

async function post(url: string, path: string, body: unknown) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    code: JSON.parse(text).code as string | undefined,
  };
}

const auth = (url: string) => post(url, "/kbs/v0/auth", { version: "0.4.0", tee: "tdx" });

/**
 * Two broker processes on one PostgreSQL: the /auth and /attest limits are one budget per client for
 * both (and survive a restart), and an admin JWT used for a write on one is refused on the other.
 */
describe("limits and admin token use shared by brokers on one database", () => {
  let pg: TestPostgres;
  let dir: string;
  let config: string;
  let a: SpawnedBroker;
  let b: SpawnedBroker;
  const admin = newKeyPair({ type: "ec", namedCurve: "P-256" });
  const env = { TDX_ATTEST_KBS_KEK: randomBytes(32).toString("hex"), TDX_ATTEST_KBS_ADMIN_TOKEN: "" };
  const start = (name: string) => spawnBroker(["--config", config, "--data", join(dir, name)], env);

  beforeAll(async () => {
    // Windows are aligned to the hour here: do not start a few seconds before one ends.
    const left = HOUR - (Date.now() % HOUR);
    if (left < 20_000) await new Promise((r) => setTimeout(r, left + 100));
    pg = await startTestPostgres();
    dir = mkdtempSync(join(tmpdir(), "kbs-shared-"));
    await initSimPlatform(join(dir, "sim"));
    writeFileSync(join(dir, "admin.pub.pem"), admin.publicKey.export({ type: "spki", format: "pem" }));
    config = join(dir, "kbs.json");
    writeFileSync(
      config,
      JSON.stringify({
        mode: "development",
        db: pg.url,
        sim: { dir: join(dir, "sim") },
        admin: { publicKeyFiles: [join(dir, "admin.pub.pem")], maxJwtLifetimeSeconds: 7200 },
        rateLimit: {
          auth: { max: 5, windowSeconds: 3600 },
          attest: { max: 3, windowSeconds: 3600 },
          attestPerSession: { max: 100, windowSeconds: 3600 },
        },
      }),
    );
    [a, b] = await Promise.all([start("a"), start("b")]);
  });
  afterAll(async () => {
    await a?.stop("SIGKILL");
    await b?.stop("SIGKILL");
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("gives a client one /auth budget across brokers, kept across a restart", async () => {
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await auth(a.url), await auth(b.url));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429]);
    expect(Number(answers[5]!.retryAfter)).toBeGreaterThan(0);
    expect(answers[5]!.code).toBe("KBS_RATE_LIMITED");
    // A restarted broker does not hand out a fresh budget.
    await a.stop("SIGKILL");
    a = await start("a");
    expect((await auth(a.url)).status).toBe(429);
  });

  it("gives a client one /attest budget across brokers, counted before any work", async () => {
    const junk = { "runtime-data": {}, "tee-evidence": {} };
    const statuses = [];
    for (const url of [a.url, b.url, a.url, b.url])
      statuses.push((await post(url, "/kbs/v0/attest", junk)).status);
    // No session cookie: the first three are refused by the protocol (401), the fourth by the limit.
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it("refuses an admin JWT used for a write on one broker when it comes again on another", async () => {
    const sign = async (jti: boolean) => {
      const iat = Math.floor(Date.now() / 1000);
      let t = new SignJWT({})
        .setProtectedHeader({ alg: "ES256" })
        .setIssuedAt(iat)
        .setExpirationTime(iat + 7200);
      if (jti) t = t.setJti(randomBytes(8).toString("hex"));
      return t.sign(admin.privateKey);
    };
    const put = (url: string, jwt: string, tag: string) =>
      fetch(`${url}/kbs/v0/resource/shared/jwt/${tag}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${jwt}`, "content-type": "application/octet-stream" },
        body: "secret",
      });
    for (const withJti of [true, false]) {
      const jwt = await sign(withJti);
      expect((await put(a.url, jwt, `first-${withJti}`)).status).toBe(200);
      const replay = await put(b.url, jwt, `second-${withJti}`);
      expect(replay.status).toBe(401);
      expect(((await replay.json()) as { code: string }).code).toBe("KBS_ADMIN_TOKEN_REPLAYED");
      expect((await put(a.url, jwt, `third-${withJti}`)).status).toBe(401);
      // Reads that reveal no secret are not writes: the same token lists resources.
      const list = await fetch(`${b.url}/kbs/v0/admin/resources`, {
        headers: { authorization: `Bearer ${jwt}` },
      });
      expect(list.status).toBe(200);
    }
  });
});
