import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyEncryptionKey } from "../../src/kbs/kek.js";
import { type KbsStore, openStore } from "../../src/kbs/store/index.js";
import { startTestPostgres, type TestPostgres } from "./postgres.js";

/** The same suite on both back ends; each gets a fresh database. */
const backends: [string, () => Promise<{ url: string; stop(): Promise<void> }>][] = [
  [
    "sqlite",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "kbs-store-"));
      return { url: join(dir, "kbs.db"), stop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
  ["postgres", () => startTestPostgres() as Promise<TestPostgres>],
];

describe.each(backends)("KbsStore on %s", (_name, start) => {
  let db: { url: string; stop(): Promise<void> };
  let store: KbsStore;
  let other: KbsStore;

  beforeAll(async () => {
    db = await start();
    store = await openStore(db.url);
    // A second connection pool on the same database stands in for a second broker.
    other = await openStore(db.url);
  });
  afterAll(async () => {
    await store?.close();
    await other?.close();
    await db?.stop();
  });

  it("migrates idempotently and records the schema version", async () => {
    await store.migrate();
    expect(await store.getMeta("schema_version")).toBe("3");
  });

  it("counts rate-limit windows shared by every connection (broker), without a lagging clock reopening one", async () => {
    const key = `auth:${Math.random()}`;
    const w = 60_000;
    const t = 10 * w + 5;
    const counts = [];
    for (const s of [store, other, store]) counts.push((await s.hitRateLimits([{ key, windowMs: w }], t))[0]);
    expect(counts.map((c) => c?.count)).toEqual([1, 2, 3]);
    expect(counts[0]?.resetAt).toBe(11 * w);
    // A broker whose clock is a window behind counts into the current window, it does not reset it.
    expect((await other.hitRateLimits([{ key, windowMs: w }], t - w))[0]?.count).toBe(4);
    // The next window starts over; several keys in one commit.
    const next = await store.hitRateLimits(
      [
        { key, windowMs: w },
        { key: `${key}:s`, windowMs: w },
      ],
      t + w,
    );
    expect(next.map((c) => c.count)).toEqual([1, 1]);
    await store.purgeExpired(13 * w);
    expect((await store.hitRateLimits([{ key, windowMs: w }], 13 * w))[0]?.count).toBe(1);
  });

  it("lets an admin token be used for a write once, on any connection, until it expires", async () => {
    const id = `jti:${Math.random()}`;
    expect(await store.useAdminTokenOnce(id, 1_000_000)).toBe(true);
    expect(await other.useAdminTokenOnce(id, 1_000_000)).toBe(false);
    await store.purgeExpired(1_000_000 + 60_001);
    expect(await other.useAdminTokenOnce(id, 2_000_000)).toBe(true);
  });

  it("stores, lists, replaces and deletes policies", async () => {
    await store.putPolicy({ id: "p1", kind: "resource", body: '{"allow":"all"}', now: 1000 });
    await store.putPolicy({ id: "p1", kind: "resource", body: '{"allow":"none"}', now: 2000 });
    await store.putPolicy({ id: "p1", kind: "attestation", body: "{}", now: 3000 });
    const p = await store.getPolicy("resource", "p1");
    expect(p).toMatchObject({
      id: "p1",
      kind: "resource",
      body: '{"allow":"none"}',
      createdAt: 1000,
      updatedAt: 2000,
    });
    expect((await store.listPolicies("resource")).map((x) => x.id)).toEqual(["p1"]);
    expect((await store.listPolicies()).map((x) => `${x.kind}/${x.id}`)).toEqual([
      "attestation/p1",
      "resource/p1",
    ]);
    expect(await store.deletePolicy("resource", "p1")).toBe(true);
    expect(await store.deletePolicy("resource", "p1")).toBe(false);
    expect(await store.getPolicy("resource", "p1")).toBeUndefined();
    expect(await store.getPolicy("attestation", "p1")).toBeDefined();
  });

  it("keeps resources sealed and round-trips their bytes", async () => {
    const kek = new KeyEncryptionKey(new Uint8Array(32).fill(7));
    const secret = Uint8Array.from([0, 1, 2, 255, 254, 0]);
    const sealed = kek.seal(secret, "repo/type/tag");
    await store.putResource(
      { path: "repo/type/tag", policyId: "default", size: secret.length, ...sealed },
      5,
    );
    const r = await other.getResource("repo/type/tag");
    expect(r).toBeDefined();
    expect(Buffer.from(r!.ciphertext).equals(Buffer.from(secret))).toBe(false);
    expect([...kek.open(r!, "repo/type/tag")]).toEqual([...secret]);
    // The path is bound as AAD: a row moved to another path does not decrypt.
    expect(() => kek.open(r!, "repo/type/other")).toThrow(/failed authentication/);
    expect((await store.listResources()).map((x) => x.path)).toEqual(["repo/type/tag"]);
    expect(await store.policyInUse("default")).toEqual(["repo/type/tag"]);
    expect(await store.deleteResource("repo/type/tag")).toBe(true);
    expect(await store.getResource("repo/type/tag")).toBeUndefined();
  });

  it("uses a nonce once and tells why it refuses", async () => {
    const base = { tee: "tdx", hashAlg: "sha384", createdAt: 0 };
    await store.createSession({ ...base, id: "s-ok", nonce: "n-ok", expiresAt: 10_000 });
    await store.createSession({ ...base, id: "s-old", nonce: "n-old", expiresAt: 100 });
    expect(await store.consumeNonce("s-ok", "wrong", 50)).toBe("nonce-mismatch");
    expect(await store.consumeNonce("s-ok", "n-ok", 50)).toBe("ok");
    expect(await store.consumeNonce("s-ok", "n-ok", 60)).toBe("replayed");
    expect(await other.consumeNonce("s-ok", "n-ok", 60)).toBe("replayed");
    expect(await store.consumeNonce("s-old", "n-old", 100)).toBe("expired");
    expect(await store.consumeNonce("nope", "n-ok", 50)).toBe("unknown-session");
    await store.attachClaims("s-ok", { digest: "d1", body: '{"a":1}' }, '{"jti":"j"}', 900, 1200, {
      at: 60,
      event: "attest",
      verdict: "allowed",
    });
    expect(await store.getSession("s-ok")).toMatchObject({
      state: "attested",
      claimsRef: "d1",
      sessionClaims: '{"jti":"j"}',
      tokenExpiresAt: 900,
      expiresAt: 1200,
    });
    expect(await other.getClaimSet("d1")).toEqual({ a: 1 });
  });

  it("lets exactly one of many concurrent consumers on two connections win a nonce", async () => {
    for (let round = 0; round < 5; round++) {
      const id = `race-${round}`;
      await store.createSession({
        id,
        nonce: `nonce-${round}`,
        tee: "tdx",
        hashAlg: "sha384",
        createdAt: 0,
        expiresAt: 1e12,
      });
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? store : other).consumeNonce(id, `nonce-${round}`, 10)),
      );
      expect(outcomes.filter((o) => o === "ok")).toHaveLength(1);
      expect(outcomes.filter((o) => o === "replayed")).toHaveLength(11);
    }
  });

  it("consumes a session in one step, with the policy it will be judged by, and says why it could not", async () => {
    const base = { tee: "tdx", hashAlg: "sha384", createdAt: 0 };
    await store.putPolicy({ kind: "attestation", id: "judge", body: '{"x":1}', now: 5 });
    await store.createSession({ ...base, id: "cs-ok", nonce: "cs-n-ok", expiresAt: 10_000 });
    await store.createSession({ ...base, id: "cs-old", nonce: "cs-n-old", expiresAt: 100 });
    const policy = { kind: "attestation" as const, id: "judge" };
    const ok = await store.consumeSession("cs-ok", 50, { policy });
    expect(ok).toMatchObject({ consumed: true, session: { id: "cs-ok", state: "consumed", consumedAt: 50 } });
    expect(ok.consumed && ok.policy).toMatchObject({ kind: "attestation", id: "judge", body: '{"x":1}' });
    expect(await other.consumeSession("cs-ok", 60, { policy })).toMatchObject({
      consumed: false,
      session: { state: "consumed" },
    });
    // The nonce is recorded as used, as consumeNonce records it.
    expect(await store.consumeNonce("cs-ok", "cs-n-ok", 70)).toBe("replayed");
    expect(await store.consumeSession("cs-old", 100)).toMatchObject({
      consumed: false,
      session: { state: "pending", expiresAt: 100 },
    });
    expect(await store.consumeSession("cs-none", 50)).toEqual({ consumed: false });
    await store.createSession({ ...base, id: "cs-2", nonce: "cs-n-2", expiresAt: 10_000 });
    const missing = await store.consumeSession("cs-2", 50, {
      policy: { kind: "attestation", id: "no-such-policy" },
    });
    expect(missing).toMatchObject({ consumed: true, policy: undefined });
    for (let round = 0; round < 5; round++) {
      const id = `cs-race-${round}`;
      await store.createSession({ ...base, id, nonce: `cs-race-n-${round}`, expiresAt: 1e12 });
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? store : other).consumeSession(id, 10, { policy })),
      );
      expect(outcomes.filter((o) => o.consumed)).toHaveLength(1);
    }
  });

  it("counts a request's limits with its session insert or nonce consumption, which happen only within them", async () => {
    const base = { tee: "tdx", hashAlg: "sha384", createdAt: 0, expiresAt: 1e12 };
    const w = 60_000;
    const now = 20 * w + 1;
    const ip = `lim-ip:${Math.random()}`;
    const hits = (max: number) => ({ hits: [{ key: ip, windowMs: w, max }], now });
    const before = store.stats()!;
    const first = await store.createSession({ ...base, id: "lim-1", nonce: "lim-n1" }, { limits: hits(2) });
    // PostgreSQL: the count and the insert in one statement (one round trip).
    if (store.dialect === "postgres") expect(store.stats()!.statements - before.statements).toBe(1);
    expect(first).toEqual({ created: true, limits: [{ count: 1, resetAt: 21 * w }] });
    expect(
      await other.createSession({ ...base, id: "lim-2", nonce: "lim-n2" }, { limits: hits(2) }),
    ).toMatchObject({ created: true, limits: [{ count: 2 }] });
    // Past the limit: counted, and no session stored.
    expect(
      await store.createSession({ ...base, id: "lim-3", nonce: "lim-n3" }, { limits: hits(2) }),
    ).toMatchObject({ created: false, limits: [{ count: 3 }] });
    expect(await store.getSession("lim-3")).toBeUndefined();

    const policy = { kind: "attestation" as const, id: "judge" };
    await store.putPolicy({ kind: "attestation", id: "judge", body: "{}", now: 5 });
    const session = `lim-s:${Math.random()}`;
    const two = (max: number) => ({
      hits: [
        { key: `${ip}:attest`, windowMs: w, max: 100 },
        { key: session, windowMs: w, max },
      ],
      now,
    });
    // Past a limit: the session stays pending (not consumed), the counts say which.
    for (const s of [store, other]) await s.hitRateLimits([{ key: session, windowMs: w }], now);
    const limited = await store.consumeSession("lim-1", 50, { policy, limits: two(2) });
    expect(limited).toEqual({
      consumed: false,
      limited: true,
      limits: [
        { count: 1, resetAt: 21 * w },
        { count: 3, resetAt: 21 * w },
      ],
    });
    expect((await store.getSession("lim-1"))?.state).toBe("pending");
    const at = other.stats()!;
    const ok = await other.consumeSession("lim-1", 50, { policy, limits: two(10) });
    expect(ok).toMatchObject({
      consumed: true,
      session: { id: "lim-1", state: "consumed" },
      policy: { id: "judge" },
      limits: [{ count: 2 }, { count: 4 }],
    });
    // PostgreSQL: the counts, the consumption and the policy in one statement.
    if (other.dialect === "postgres") expect(other.stats()!.statements - at.statements).toBe(1);
    // Within the limits but already used: counted, not consumed again, the session as it is.
    expect(await store.consumeSession("lim-1", 60, { policy, limits: two(10) })).toMatchObject({
      consumed: false,
      session: { state: "consumed" },
      limits: [{ count: 3 }, { count: 5 }],
    });
    expect(await store.consumeSession("lim-none", 60, { limits: two(10) })).toEqual({
      consumed: false,
      limits: [
        { count: 4, resetAt: 21 * w },
        { count: 6, resetAt: 21 * w },
      ],
    });
    // A key twice in one request (one upsert cannot count a row twice): counted twice, in one commit.
    expect(
      await store.createSession(
        { ...base, id: "lim-dup", nonce: "lim-ndup" },
        {
          limits: {
            hits: [
              { key: `${ip}:dup`, windowMs: w, max: 5 },
              { key: `${ip}:dup`, windowMs: w, max: 5 },
            ],
            now,
          },
        },
      ),
    ).toMatchObject({ created: true, limits: [{ count: 2 }, { count: 2 }] });
  });

  it("reads a session and a resource with its policy in one query, each possibly missing", async () => {
    const sealed = {
      kekId: "k",
      iv: new Uint8Array(12),
      ciphertext: new Uint8Array([1, 2]),
      tag: new Uint8Array(16),
    };
    await store.putPolicy({ kind: "resource", id: "sr-pol", body: '{"allow":"all"}', now: 7 });
    await store.putResource({ path: "sr/a/b", policyId: "sr-pol", size: 2, ...sealed }, 8);
    await store.putResource({ path: "sr/a/orphan", policyId: "sr-gone", size: 2, ...sealed }, 8);
    await store.createSession({
      id: "sr-s",
      nonce: "sr-n",
      tee: "tdx",
      hashAlg: "sha384",
      createdAt: 1,
      expiresAt: 9,
    });
    const both = await other.getSessionAndResource("sr-s", "sr/a/b");
    expect(both.session).toEqual(await store.getSession("sr-s"));
    expect(both.found?.resource).toEqual(await store.getResource("sr/a/b"));
    expect(both.found?.policy).toEqual(await store.getPolicy("resource", "sr-pol"));
    expect(await other.getSessionAndResource("sr-s", "sr/a/orphan")).toMatchObject({
      session: { id: "sr-s" },
      found: { resource: { path: "sr/a/orphan" }, policy: undefined },
    });
    expect(await other.getSessionAndResource("sr-none", "sr/a/b")).toMatchObject({
      session: undefined,
      found: { resource: { path: "sr/a/b" } },
    });
    expect(await other.getSessionAndResource("sr-s", "sr/a/none")).toMatchObject({
      session: { id: "sr-s" },
      found: undefined,
    });
    expect(await store.getResourceAndPolicy("sr/a/b")).toEqual(both.found);
  });

  it("keeps answering after a newer schema adds columns under it (prepared statements name their columns)", async () => {
    const base = { tee: "tdx", hashAlg: "sha384", createdAt: 0, expiresAt: 1e12 };
    await store.createSession({ ...base, id: "alter-1", nonce: "alter-n1" });
    await store.createSession({ ...base, id: "alter-2", nonce: "alter-n2" });
    expect((await store.getSession("alter-1"))?.id).toBe("alter-1");
    expect((await store.getPolicy("resource", "default"))?.id ?? "none").toBeDefined();
    await other.db.query("ALTER TABLE sessions ADD COLUMN later_version_column TEXT");
    await other.db.query("ALTER TABLE policies ADD COLUMN later_version_column TEXT");
    expect((await store.getSession("alter-1"))?.id).toBe("alter-1");
    expect(
      (await store.consumeSession("alter-2", 5, { policy: { kind: "resource", id: "x" } })).consumed,
    ).toBe(true);
    await store.getPolicy("resource", "default");
    await other.db.query("ALTER TABLE sessions DROP COLUMN later_version_column");
    await other.db.query("ALTER TABLE policies DROP COLUMN later_version_column");
  });

  it("refuses a second session with a nonce already issued", async () => {
    await store.createSession({
      id: "dup-1",
      nonce: "same",
      tee: "tdx",
      hashAlg: "sha384",
      createdAt: 0,
      expiresAt: 1e12,
    });
    await expect(
      other.createSession({
        id: "dup-2",
        nonce: "same",
        tee: "tdx",
        hashAlg: "sha384",
        createdAt: 0,
        expiresAt: 1e12,
      }),
    ).rejects.toThrow();
  });

  it("purges expired sessions", async () => {
    await store.createSession({
      id: "gone",
      nonce: "gone-n",
      tee: "tdx",
      hashAlg: "sha384",
      createdAt: 0,
      expiresAt: 5,
    });
    expect(await store.purgeExpired(6)).toBeGreaterThanOrEqual(1);
    expect(await store.getSession("gone")).toBeUndefined();
  });

  it("keeps the audit log append-only", async () => {
    const id = await store.appendAudit({
      at: 42,
      event: "release",
      resource: "a/b/c",
      verdict: "denied",
      reason: "debug equals",
      claims: { debug: true },
    });
    const rows = await other.listAudit({ afterId: id - 1, limit: 5 });
    expect(rows[0]).toMatchObject({
      id,
      at: 42,
      event: "release",
      resource: "a/b/c",
      verdict: "denied",
      claims: { debug: true },
    });
    await expect(
      store.db.query("UPDATE audit_log SET verdict = 'allowed' WHERE id = $1", [id]),
    ).rejects.toThrow(/append-only/);
    await expect(store.db.query("DELETE FROM audit_log WHERE id = $1", [id])).rejects.toThrow(/append-only/);
    expect((await store.listAudit({ resource: "a/b/c" })).length).toBe(1);
  });

  it("stores a claim set once however many rows reference it", async () => {
    const set = { digest: "same-set", body: '{"tcb":"UpToDate"}' };
    for (let i = 0; i < 5; i++)
      await (i % 2 ? store : other).appendAuditWithClaims(
        { at: 70 + i, event: "attest", verdict: "allowed" },
        set,
      );
    const { rows } = await store.db.query("SELECT COUNT(*) AS n FROM claim_sets WHERE digest = $1", [
      set.digest,
    ]);
    expect(Number(rows[0]!.n)).toBe(1);
    const refs = (await store.listAudit({ limit: 10_000 })).filter((r) => r.claimsRef === set.digest);
    expect(refs).toHaveLength(5);
  });

  it("counts repeated refusals of a session and leaves one audit row for them when it is purged", async () => {
    await store.createSession({
      id: "ref",
      nonce: "ref-n",
      tee: "tdx",
      hashAlg: "sha384",
      createdAt: 0,
      expiresAt: 500,
    });
    for (let i = 0; i < 7; i++) await store.countRefusal("ref");
    expect((await store.getSession("ref"))!.refusals).toBe(7);
    const before = (await store.listAudit({ limit: 10_000 })).length;
    await store.purgeExpired(501);
    const rows = await store.listAudit({ limit: 10_000 });
    expect(rows.length).toBe(before + 1);
    expect(rows.at(-1)).toMatchObject({ sessionId: "ref", verdict: "denied" });
    expect(rows.at(-1)!.reason).toMatch(/7 more/);
  });

  it("prunes audit rows older than a date (recorded), and only those", async () => {
    await store.appendAuditWithClaims(
      { at: 1_000, event: "attest", verdict: "allowed" },
      { digest: "old-set", body: "{}" },
    );
    const keep = await store.appendAudit({ at: 5_000_000, event: "admin", verdict: "ok", reason: "new" });
    const pruned = await store.pruneAudit(2_000, 6_000_000, "test");
    expect(pruned).toBeGreaterThan(0);
    const rows = await other.listAudit({ limit: 10_000 });
    expect(rows.every((r) => r.at >= 2_000)).toBe(true);
    expect(rows.some((r) => r.id === keep)).toBe(true);
    expect(await store.getClaimSet("old-set")).toBeUndefined();
    // Newer rows stay append-only.
    await expect(store.db.query("DELETE FROM audit_log WHERE id = $1", [keep])).rejects.toThrow(
      /append-only/,
    );
    const { rows: prunes } = await store.db.query("SELECT before_at, pruned, actor FROM audit_prunes");
    expect(prunes).toEqual([{ before_at: 2000, pruned, actor: "test" }]);
  });

  it("converges two writers on one meta value", async () => {
    const [a, b] = await Promise.all([
      store.getOrInitMeta("signing", "A"),
      other.getOrInitMeta("signing", "B"),
    ]);
    expect(a).toBe(b);
  });
});

/** The version-1 schema as the previous release created it (tables and append-only triggers). */
const V1_TABLES = `
CREATE TABLE kbs_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE policies (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE resources (path TEXT PRIMARY KEY, policy_id TEXT NOT NULL, kek_id TEXT NOT NULL, iv {{BLOB}} NOT NULL,
  ciphertext {{BLOB}} NOT NULL, tag {{BLOB}} NOT NULL, size INTEGER NOT NULL, created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL);
CREATE TABLE sessions (id TEXT PRIMARY KEY, nonce TEXT NOT NULL UNIQUE, tee TEXT NOT NULL, hash_alg TEXT NOT NULL,
  state TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, consumed_at BIGINT, token TEXT,
  token_expires_at BIGINT);
CREATE TABLE used_nonces (nonce TEXT PRIMARY KEY, session_id TEXT NOT NULL, used_at BIGINT NOT NULL);
CREATE TABLE audit_log (id {{ID}}, at BIGINT NOT NULL, event TEXT NOT NULL, resource TEXT, session_id TEXT,
  evidence_sha256 TEXT, claims TEXT, verdict TEXT NOT NULL, reason TEXT, actor TEXT, request_id TEXT);
INSERT INTO kbs_meta (key, value) VALUES ('schema_version', '1');
INSERT INTO audit_log (at, event, claims, verdict) VALUES (10, 'attest', '{"tcb_status":"UpToDate"}', 'allowed');
INSERT INTO sessions (id, nonce, tee, hash_alg, state, created_at, expires_at, token)
  VALUES ('old', 'old-n', 'tdx', 'sha384', 'attested', 0, 99, 'a.b.c');
`;
const V1_SQLITE = `${V1_TABLES.replace(/\{\{BLOB\}\}/g, "BLOB").replace(/\{\{ID\}\}/g, "INTEGER PRIMARY KEY AUTOINCREMENT")}
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;`;
const V1_POSTGRES = `${V1_TABLES.replace(/\{\{BLOB\}\}/g, "BYTEA").replace(/\{\{ID\}\}/g, "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")}
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $fn$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();`;

describe.each(backends)("a version-1 database on %s", (name, start) => {
  it("is migrated to the current version in place: old rows kept and readable, old rows prunable, new ones append-only", async () => {
    const db = await start();
    try {
      if (name === "sqlite") {
        const { default: Database } = await import("better-sqlite3");
        const raw = new Database(db.url);
        raw.exec(V1_SQLITE);
        raw.close();
      } else {
        const { default: pg } = await import("pg");
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        await c.query(V1_POSTGRES);
        await c.end();
      }
      const store = await openStore(db.url);
      try {
        expect(await store.getMeta("schema_version")).toBe("3");
        const [old] = await store.listAudit({ limit: 10 });
        expect(old).toMatchObject({ at: 10, claims: { tcb_status: "UpToDate" }, claimsRef: null });
        expect(await store.getSession("old")).toMatchObject({
          state: "attested",
          claimsRef: null,
          refusals: 0,
        });
        const id = await store.appendAudit({ at: 5_000, event: "admin", verdict: "ok" });
        expect(await store.pruneAudit(1_000, 10_000, "test")).toBe(1);
        await expect(store.db.query("DELETE FROM audit_log WHERE id = $1", [id])).rejects.toThrow(
          /append-only/,
        );
        await store.migrate();
      } finally {
        await store.close();
      }
    } finally {
      await db.stop();
    }
  });
});

describe("SQLite group commit", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kbs-group-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("commits the writes of one turn together; a failing write is rolled back alone and its caller told", async () => {
    const store = await openStore(join(dir, "group.db"));
    try {
      await store.createSession({
        id: "g0",
        nonce: "g-dup",
        tee: "tdx",
        hashAlg: "sha384",
        createdAt: 0,
        expiresAt: 1,
      });
      const before = store.stats()!;
      const writes = Array.from({ length: 10 }, (_, i) =>
        store.createSession({
          id: `g${i + 1}`,
          // Every third one reuses a nonce: a unique violation in the middle of the group.
          nonce: i % 3 === 2 ? "g-dup" : `g-n${i}`,
          tee: "tdx",
          hashAlg: "sha384",
          createdAt: 0,
          expiresAt: 1,
        }),
      );
      const audits = Array.from({ length: 5 }, (_, i) =>
        store.appendAudit({ at: i, event: "admin", verdict: "ok", reason: `group ${i}` }),
      );
      const outcomes = await Promise.allSettled([...writes, ...audits]);
      const after = store.stats()!;
      expect(outcomes.map((o) => o.status)).toEqual([
        ...Array.from({ length: 10 }, (_, i) => (i % 3 === 2 ? "rejected" : "fulfilled")),
        ...Array(5).fill("fulfilled"),
      ]);
      expect(after.commits - before.commits).toBe(1);
      expect(after.writes - before.writes).toBe(15);
      // The durable writes (the audit rows) waited for one fsync of the WAL.
      expect(after.fsyncs - before.fsyncs).toBe(1);
      for (let i = 0; i < 10; i++)
        expect(Boolean(await store.getSession(`g${i + 1}`)), `g${i + 1}`).toBe(i % 3 !== 2);
      expect((await store.listAudit({ limit: 100 })).map((r) => r.reason)).toEqual(
        Array.from({ length: 5 }, (_, i) => `group ${i}`),
      );
    } finally {
      await store.close();
    }
  });

  it("a write alone that fails rolls back what it did; close() commits what was handed in", async () => {
    const store = await openStore(join(dir, "alone.db"));
    await expect(
      store.db.transaction(async (tx) => {
        await tx.query("INSERT INTO kbs_meta (key, value) VALUES ('half', 'done')");
        await tx.query("INSERT INTO no_such_table VALUES (1)");
      }),
    ).rejects.toThrow(/no_such_table/);
    expect(await store.getMeta("half")).toBeUndefined();
    const pending = store.db.query("INSERT INTO kbs_meta (key, value) VALUES ('last', 'write')");
    await store.close();
    await pending;
    const again = await openStore(join(dir, "alone.db"));
    try {
      expect(await again.getMeta("last")).toBe("write");
    } finally {
      await again.close();
    }
  });

  it("refuses to acknowledge a write it cannot make durable (503 KBS_DB_UNAVAILABLE), e.g. its WAL was deleted", async () => {
    const file = join(dir, "lost-wal.db");
    const store = await openStore(file);
    try {
      await store.appendAudit({ at: 1, event: "admin", verdict: "ok" });
      rmSync(`${file}-wal`);
      const err = await store.appendAudit({ at: 2, event: "admin", verdict: "ok" }).then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      );
      expect(err?.code).toBe("KBS_DB_UNAVAILABLE");
      expect(err?.message).toMatch(/cannot be used now \(SQLITE_IOERR_FSYNC\)/);
    } finally {
      await store.close();
    }
  });

  it("with synchronous=normal commits in groups without an fsync", async () => {
    const store = await openStore(`sqlite:${join(dir, "normal.db")}?synchronous=normal`);
    try {
      const before = store.stats()!;
      await Promise.all(
        Array.from({ length: 4 }, (_, i) => store.appendAudit({ at: i, event: "admin", verdict: "ok" })),
      );
      const after = store.stats()!;
      expect([after.commits - before.commits, after.fsyncs - before.fsyncs]).toEqual([1, 0]);
    } finally {
      await store.close();
    }
  });
});
