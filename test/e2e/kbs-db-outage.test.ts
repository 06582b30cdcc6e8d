import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initSimPlatform } from "../../src/sim/index.js";
import { type PrivateCluster, startPrivateCluster } from "../kbs/postgres.js";
import { type SpawnedBroker, spawnBroker } from "../kbs/spawn-broker.js";

const ADMIN = "db-outage-admin-token-0123456789";
const env = { TDX_ATTEST_KBS_KEK: randomBytes(32).toString("hex"), TDX_ATTEST_KBS_ADMIN_TOKEN: ADMIN };

interface Answer {
  status: number;
  code?: string;
  retryAfter: string | null;
  body: string;
  ms: number;
}

async function call(
  url: string,
  method: string,
  path: string,
  body?: string,
  timeoutMs = 15_000,
): Promise<Answer> {
  const t = Date.now();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN}`,
      ...(body === undefined
        ? {}
        : { "content-type": path.includes("/resource/") ? "application/octet-stream" : "application/json" }),
    },
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { code?: string }).code;
  } catch {
    // not JSON
  }
  return {
    status: res.status,
    ...(code ? { code } : {}),
    retryAfter: res.headers.get("retry-after"),
    body: text,
    ms: Date.now() - t,
  };
}

const auth = (url: string) =>
  call(url, "POST", "/kbs/v0/auth", JSON.stringify({ version: "0.4.0", tee: "tdx" }));

/**
 * The broker (its own process) on a PostgreSQL cluster of its own that the test restarts, stops and
 * stalls (SIGSTOP of the postmaster and every backend): every database-unavailable condition is a 503
 * KBS_DB_UNAVAILABLE with Retry-After, never a 500; nothing waits for a stalled database beyond the
 * deadlines; /healthz (readiness) answers within a second, /livez does not ask the database.
 */
describe("key broker when PostgreSQL restarts, stops or stalls", () => {
  let pg: PrivateCluster;
  let dir: string;
  let broker: SpawnedBroker;

  beforeAll(async () => {
    pg = await startPrivateCluster();
    dir = mkdtempSync(join(tmpdir(), "kbs-db-outage-"));
    await initSimPlatform(join(dir, "sim"));
    const config = join(dir, "kbs.json");
    writeFileSync(
      config,
      JSON.stringify({
        mode: "development",
        db: pg.url,
        dataDir: join(dir, "data"),
        sim: { dir: join(dir, "sim") },
        database: { connectTimeoutMs: 500, statementTimeoutMs: 1000, queryTimeoutMs: 1500 },
        rateLimit: { auth: { max: 0, windowSeconds: 60 } },
      }),
    );
    broker = await spawnBroker(["--config", config], env);
  });
  afterAll(async () => {
    await broker?.stop("SIGKILL");
    pg?.resume();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers 503 with Retry-After, never 500, while PostgreSQL restarts under load; acknowledged writes stay", async () => {
    const answers: Answer[] = [];
    const acknowledged: string[] = [];
    let running = true;
    const worker = async (w: number) => {
      for (let i = 0; running; i++) {
        const path = `/kbs/v0/resource/load/w${w}/s${i}`;
        const put = await call(broker.url, "PUT", path, `secret ${w} ${i}`).catch(() => null);
        if (put) answers.push(put);
        if (put?.status === 200) acknowledged.push(path);
        const a = await auth(broker.url).catch(() => null);
        if (a) answers.push(a);
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 500));
    await pg.restart();
    await new Promise((r) => setTimeout(r, 1500));
    await pg.restart();
    await new Promise((r) => setTimeout(r, 1500));
    running = false;
    await Promise.all(workers);

    const statuses = new Set(answers.map((a) => a.status));
    const unavailable = answers.filter((a) => a.status === 503);
    expect(
      [...statuses].filter((s) => s !== 200 && s !== 503),
      JSON.stringify(answers.find((a) => a.status >= 500 && a.status !== 503)),
    ).toEqual([]);
    expect(unavailable.length).toBeGreaterThan(0);
    for (const a of unavailable) {
      expect(a.code).toBe("KBS_DB_UNAVAILABLE");
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
      // No address of the database in what a client sees.
      expect(a.body).not.toContain("127.0.0.1");
    }
    // Everything acknowledged is there.
    for (const path of acknowledged) {
      const got = await call(broker.url, "GET", path.replace("/kbs/v0/resource/", "/kbs/v0/admin/resource/"));
      expect(got.status, path).toBe(200);
    }
  });

  it("answers 503 within the deadlines while PostgreSQL is stalled (SIGSTOP); /livez stays up, /healthz says so within a second", async () => {
    expect((await call(broker.url, "GET", "/healthz")).status).toBe(200);
    pg.stall();
    try {
      // All at once, while the server is frozen: each must come back long before the stall ends.
      const [health, ready, live, a, put] = await Promise.all([
        call(broker.url, "GET", "/healthz", undefined, 8000),
        call(broker.url, "GET", "/readyz", undefined, 8000),
        call(broker.url, "GET", "/livez", undefined, 8000),
        auth(broker.url),
        call(broker.url, "PUT", "/kbs/v0/resource/stall/x/y", "during the stall", 8000),
      ]);
      expect(health.status).toBe(503);
      expect(health.ms).toBeLessThan(2500);
      expect(ready.status).toBe(503);
      expect(live.status).toBe(200);
      for (const x of [a, put]) {
        expect([x.status, x.code]).toEqual([503, "KBS_DB_UNAVAILABLE"]);
        expect(Number(x.retryAfter)).toBeGreaterThan(0);
      }
    } finally {
      pg.resume();
    }
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await call(broker.url, "GET", "/healthz")).status === 200;
      if (!ok) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ok).toBe(true);
    expect((await auth(broker.url)).status).toBe(200);
  });

  it("answers 503 while PostgreSQL is down and recovers when it is back", async () => {
    await pg.stopServer();
    try {
      const a = await auth(broker.url);
      expect([a.status, a.code]).toEqual([503, "KBS_DB_UNAVAILABLE"]);
      expect(a.body).not.toContain("127.0.0.1");
      expect((await call(broker.url, "GET", "/healthz")).status).toBe(503);
    } finally {
      await pg.startServer();
    }
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await auth(broker.url)).status === 200;
      if (!ok) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ok).toBe(true);
  });
});

describe("key broker when its SQLite file is locked by another process", () => {
  it("answers 503 KBS_DB_UNAVAILABLE with Retry-After once the busy timeout passes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kbs-sqlite-busy-"));
    await initSimPlatform(join(dir, "sim"));
    const b = await spawnBroker(["--data", join(dir, "data"), "--sim-dir", join(dir, "sim")], env);
    const holder = new Database(join(dir, "data", "kbs.db"));
    try {
      holder.exec("BEGIN EXCLUSIVE");
      const put = await call(b.url, "PUT", "/kbs/v0/resource/busy/x/y", "while locked");
      expect([put.status, put.code]).toEqual([503, "KBS_DB_UNAVAILABLE"]);
      expect(Number(put.retryAfter)).toBeGreaterThan(0);
      holder.exec("ROLLBACK");
      expect((await call(b.url, "PUT", "/kbs/v0/resource/busy/x/y", "after")).status).toBe(200);
    } finally {
      holder.close();
      await b.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
