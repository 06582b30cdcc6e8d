import { TdxError } from "../../errors.js";
import { PostgresDb, type PostgresTimeouts } from "./postgres.js";
import {
  type LimitCount,
  type LimitsAt,
  limitParams,
  limitsWithin,
  limitValues,
  limitWindows,
  rateLimitUpsert,
  upsertLimits,
  withinLimits,
} from "./rate-limits.js";
import {
  ADDED_COLUMNS,
  type Row,
  SCHEMA_VERSION,
  type SqlDb,
  type SqlDbStats,
  type SqlValue,
} from "./sql.js";
import { SqliteDb } from "./sqlite.js";

export { PostgresDb, type PostgresTimeouts } from "./postgres.js";
export type { LimitCount, LimitHit, LimitsAt } from "./rate-limits.js";
export type { QueryOptions, SqlDb, SqlDbStats } from "./sql.js";
export { SqliteDb } from "./sqlite.js";

export type PolicyKind = "attestation" | "resource";

export interface PolicyRecord {
  id: string;
  kind: PolicyKind;
  body: string;
  createdAt: number;
  updatedAt: number;
}

export interface ResourceRecord {
  path: string;
  policyId: string;
  kekId: string;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
  size: number;
  createdAt: number;
  updatedAt: number;
}

export interface SessionRecord {
  id: string;
  nonce: string;
  tee: string;
  hashAlg: string;
  state: "pending" | "consumed" | "attested";
  createdAt: number;
  expiresAt: number;
  consumedAt: number | null;
  /** Digest of the session's claim set (claim_sets), once attested. */
  claimsRef: string | null;
  /** The claims that belong to this attestation alone (runtime data, jti, iat, exp), JSON. */
  sessionClaims: string | null;
  tokenExpiresAt: number | null;
  /** /attest calls refused after the session's one attempt (counted, not logged one by one). */
  refusals: number;
}

export interface AuditEntry {
  at: number;
  event: "auth" | "attest" | "release" | "admin";
  resource?: string | null;
  sessionId?: string | null;
  evidenceSha256?: string | null;
  /** Inline claims (version-1 rows); new rows reference a claim set instead. */
  claims?: unknown;
  /** Digest of the claim set (claim_sets) the decision was about. */
  claimsRef?: string | null;
  verdict: "allowed" | "denied" | "error" | "ok";
  reason?: string | null;
  actor?: string | null;
  requestId?: string | null;
}

export interface AuditRecord extends AuditEntry {
  id: number;
}

/** How consuming a nonce ended: only "ok" lets an attestation proceed. */
export type ConsumeOutcome = "ok" | "unknown-session" | "expired" | "replayed" | "nonce-mismatch";

/**
 * The broker's state on SQLite or PostgreSQL: one schema and one implementation of every query,
 * over the SqlDb surface. Sealing secrets is the caller's job (resources arrive encrypted).
 */
export class KbsStore {
  /** Parsed claim sets by digest: content-addressed, so never stale; frozen, shared by every reader. */
  readonly #claimSets = new Map<string, Record<string, unknown>>();

  constructor(readonly db: SqlDb) {}

  /**
   * Resolves once everything this store has committed or read is on disk: a response that rests on reads
   * alone waits for it (SQLite's group commit makes a commit visible a moment before its fsync ends).
   */
  async settle(): Promise<void> {
    await this.db.settle?.();
  }

  /** The database connection's counters (statements, commits, writes, fsyncs), when it keeps them. */
  stats(): SqlDbStats | undefined {
    return this.db.stats?.();
  }

  get dialect() {
    return this.db.dialect;
  }

  async migrate(): Promise<void> {
    const before = await this.#schemaVersion();
    if (before !== undefined && Number(before) > SCHEMA_VERSION)
      throw new TdxError(
        "KBS_DB_SCHEMA_MISMATCH",
        `the database has schema version ${before}, this broker uses ${SCHEMA_VERSION}`,
        { hint: "run the broker version that created this database (or a newer one)" },
      );
    await this.db.exec((this.db as SqliteDb | PostgresDb).schema);
    for (const c of ADDED_COLUMNS) {
      if (this.dialect === "postgres")
        await this.db.query(`ALTER TABLE ${c.table} ADD COLUMN IF NOT EXISTS ${c.column} ${c.type}`);
      else {
        const { rows } = await this.db.query(`SELECT name FROM pragma_table_info('${c.table}')`);
        if (!rows.some((r) => r.name === c.column))
          await this.db.query(`ALTER TABLE ${c.table} ADD COLUMN ${c.column} ${c.type}`);
      }
    }
    await this.db.query(
      this.dialect === "postgres"
        ? "INSERT INTO kbs_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        : "INSERT INTO kbs_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      [String(SCHEMA_VERSION)],
    );
    const v = await this.getMeta("schema_version");
    if (v !== String(SCHEMA_VERSION))
      throw new TdxError(
        "KBS_DB_SCHEMA_MISMATCH",
        `the database has schema version ${v}, this broker uses ${SCHEMA_VERSION}`,
        {
          hint: "run the broker version that created this database, or migrate it",
        },
      );
  }

  /** The recorded schema version, or undefined for a new database. */
  async #schemaVersion(): Promise<string | undefined> {
    try {
      return await this.getMeta("schema_version");
    } catch {
      return undefined; // no kbs_meta table yet
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /**
   * Health probe: one round trip to the database, within `deadlineMs` (default 1000): a stalled
   * database is reported as unavailable at once, not after the query timeout.
   */
  async ping(deadlineMs = 1000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TdxError("KBS_DB_UNAVAILABLE", `the database did not answer within ${deadlineMs} ms`, {
              hint: "the database is stalled or overloaded; retry later",
              data: { retryAfterSeconds: 2 },
            }),
          ),
        deadlineMs,
      );
    });
    const probe = this.db.query("SELECT 1 AS ok");
    probe.catch(() => {});
    try {
      await Promise.race([probe, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- meta (e.g. the sealed token signing key) -------------------------------------------------

  async getMeta(key: string): Promise<string | undefined> {
    const { rows } = await this.db.query("SELECT value FROM kbs_meta WHERE key = $1", [key]);
    return rows[0] ? String(rows[0].value) : undefined;
  }

  /** Insert the value unless one exists; return whichever value won (two brokers converge on one). */
  async getOrInitMeta(key: string, value: string): Promise<string> {
    await this.db.query(
      this.dialect === "postgres"
        ? "INSERT INTO kbs_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
        : "INSERT OR IGNORE INTO kbs_meta (key, value) VALUES ($1, $2)",
      [key, value],
    );
    return (await this.getMeta(key)) ?? value;
  }

  // ---- policies ---------------------------------------------------------------------------------

  async putPolicy(p: { id: string; kind: PolicyKind; body: string; now: number }): Promise<void> {
    await this.db.query(
      `INSERT INTO policies (id, kind, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
      [p.id, p.kind, p.body, p.now],
    );
  }

  async getPolicy(kind: PolicyKind, id: string): Promise<PolicyRecord | undefined> {
    const { rows } = await this.db.query(
      `SELECT ${POLICY_SELECT} FROM policies WHERE kind = $1 AND id = $2`,
      [kind, id],
    );
    return rows[0] ? policyRow(rows[0]) : undefined;
  }

  async listPolicies(kind?: PolicyKind): Promise<PolicyRecord[]> {
    const { rows } = kind
      ? await this.db.query(`SELECT ${POLICY_SELECT} FROM policies WHERE kind = $1 ORDER BY id`, [kind])
      : await this.db.query(`SELECT ${POLICY_SELECT} FROM policies ORDER BY kind, id`);
    return rows.map(policyRow);
  }

  async deletePolicy(kind: PolicyKind, id: string): Promise<boolean> {
    const { changes } = await this.db.query("DELETE FROM policies WHERE kind = $1 AND id = $2", [kind, id]);
    return changes > 0;
  }

  async policyInUse(id: string): Promise<string[]> {
    const { rows } = await this.db.query("SELECT path FROM resources WHERE policy_id = $1 ORDER BY path", [
      id,
    ]);
    return rows.map((r) => String(r.path));
  }

  // ---- resources --------------------------------------------------------------------------------

  async putResource(r: Omit<ResourceRecord, "createdAt" | "updatedAt">, now: number): Promise<void> {
    await this.db.query(
      `INSERT INTO resources (path, policy_id, kek_id, iv, ciphertext, tag, size, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
       ON CONFLICT (path) DO UPDATE SET policy_id = excluded.policy_id, kek_id = excluded.kek_id, iv = excluded.iv,
         ciphertext = excluded.ciphertext, tag = excluded.tag, size = excluded.size, updated_at = excluded.updated_at`,
      [r.path, r.policyId, r.kekId, r.iv, r.ciphertext, r.tag, r.size, now],
    );
  }

  async getResource(path: string): Promise<ResourceRecord | undefined> {
    const { rows } = await this.db.query(`SELECT ${RESOURCE_SELECT} FROM resources WHERE path = $1`, [path]);
    return rows[0] ? resourceRow(rows[0]) : undefined;
  }

  /** A resource and the resource policy guarding it (undefined when that policy is gone), in one query. */
  async getResourceAndPolicy(
    path: string,
  ): Promise<{ resource: ResourceRecord; policy: PolicyRecord | undefined } | undefined> {
    const { rows } = await this.db.query(
      `SELECT ${RESOURCE_COLUMNS.map((c) => `r.${c}`).join(", ")}, p.body AS policy_body, p.created_at AS policy_created_at, p.updated_at AS policy_updated_at
       FROM resources r LEFT JOIN policies p ON p.kind = 'resource' AND p.id = r.policy_id
       WHERE r.path = $1`,
      [path],
    );
    const r = rows[0];
    if (!r) return undefined;
    const resource = resourceRow(r);
    return {
      resource,
      policy:
        r.policy_body === null || r.policy_body === undefined
          ? undefined
          : policyRow({
              id: resource.policyId,
              kind: "resource",
              body: r.policy_body,
              created_at: r.policy_created_at,
              updated_at: r.policy_updated_at,
            }),
    };
  }

  /**
   * A session, and a resource with its policy, in one query (the two reads of a release). Either may be
   * missing; `policy` is undefined when the resource's policy is gone.
   */
  async getSessionAndResource(
    sessionId: string,
    path: string,
  ): Promise<{
    session: SessionRecord | undefined;
    found: { resource: ResourceRecord; policy: PolicyRecord | undefined } | undefined;
  }> {
    const { rows } = await this.db.query(SESSION_AND_RESOURCE, [sessionId, path]);
    const r = rows[0] ?? {};
    const s = unprefixed(r, "s_");
    const res = unprefixed(r, "r_");
    const resource = res.path === null || res.path === undefined ? undefined : resourceRow(res);
    return {
      session: s.id === null || s.id === undefined ? undefined : sessionRow(s),
      found: resource ? { resource, policy: prefixedPolicy(r) } : undefined,
    };
  }

  async listResources(): Promise<Omit<ResourceRecord, "iv" | "ciphertext" | "tag">[]> {
    const { rows } = await this.db.query(
      "SELECT path, policy_id, kek_id, size, created_at, updated_at FROM resources ORDER BY path",
    );
    return rows.map((r) => ({
      path: String(r.path),
      policyId: String(r.policy_id),
      kekId: String(r.kek_id),
      size: Number(r.size),
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
    }));
  }

  async deleteResource(path: string): Promise<boolean> {
    const { changes } = await this.db.query("DELETE FROM resources WHERE path = $1", [path]);
    return changes > 0;
  }

  // ---- sessions and nonces ----------------------------------------------------------------------

  async createSession(
    s: {
      id: string;
      nonce: string;
      tee: string;
      hashAlg: string;
      createdAt: number;
      expiresAt: number;
    },
    /** Counted in the same statement or commit; the session is stored only when every count is within. */
    opts: { limits?: LimitsAt } = {},
  ): Promise<{ created: boolean; limits: LimitCount[] }> {
    const insert = `INSERT INTO sessions (id, nonce, tee, hash_alg, state, created_at, expires_at)
       VALUES ($1, $2, $3, $4, 'pending', $5, $6)`;
    const params = [s.id, s.nonce, s.tee, s.hashAlg, s.createdAt, s.expiresAt];
    const limits = opts.limits?.hits ?? [];
    // Not awaited to disk on SQLite: a challenge a power loss forgets costs the TD a new /auth, and an
    // attestation that used it is on disk only after it (the WAL is written in order).
    if (limits.length === 0) {
      await this.db.query(insert, params, { durable: false });
      return { created: true, limits: [] };
    }
    const windows = limitWindows(limits, opts.limits!.now);
    if (this.dialect === "postgres" && windows.distinct) {
      // The counts and the session in one round trip; the session only when every count is within its limit.
      const n = params.length;
      const { rows } = await this.db.query(
        `WITH rl AS (${rateLimitUpsert("GREATEST", limitValues(windows.list.length, n))}),
           ok AS (${limitsWithin(windows.list.length, n + 3 * windows.list.length)}),
           ins AS (INSERT INTO sessions (id, nonce, tee, hash_alg, state, created_at, expires_at)
             SELECT $1, $2, $3, $4, 'pending', $5, $6 FROM ok WHERE ok.within RETURNING id)
         SELECT rl.key, rl.count, rl.expires_at, (SELECT count(*) FROM ins) AS created FROM rl`,
        [...params, ...limitParams(windows.list)],
      );
      return { created: Number(rows[0]?.created) === 1, limits: windows.counts(rows) };
    }
    return this.db.transaction(
      async (tx) => {
        const counts = await upsertLimits(tx, windows);
        const within = withinLimits(counts, limits);
        if (within) await tx.query(insert, params);
        return { created: within, limits: counts };
      },
      { durable: false },
    );
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const { rows } = await this.db.query(`SELECT ${SESSION_SELECT} FROM sessions WHERE id = $1`, [id]);
    return rows[0] ? sessionRow(rows[0]) : undefined;
  }

  /**
   * Use a session's nonce, once. The conditional UPDATE and the insert into used_nonces (primary
   * key) run in one transaction, so of two brokers racing on one database exactly one gets "ok".
   */
  async consumeNonce(sessionId: string, nonce: string, now: number): Promise<ConsumeOutcome> {
    try {
      return await this.db.transaction(async (tx) => {
        const upd = await tx.query(
          `UPDATE sessions SET state = 'consumed', consumed_at = $1
           WHERE id = $2 AND nonce = $3 AND state = 'pending' AND expires_at > $1`,
          [now, sessionId, nonce],
        );
        if (upd.changes === 1) {
          await tx.query("INSERT INTO used_nonces (nonce, session_id, used_at) VALUES ($1, $2, $3)", [
            nonce,
            sessionId,
            now,
          ]);
          return "ok" as const;
        }
        const { rows } = await tx.query(`SELECT ${SESSION_SELECT} FROM sessions WHERE id = $1`, [sessionId]);
        const s = rows[0] ? sessionRow(rows[0]) : undefined;
        if (!s) return "unknown-session" as const;
        if (s.state !== "pending") return "replayed" as const;
        if (s.nonce !== nonce) return "nonce-mismatch" as const;
        return "expired" as const;
      });
    } catch (e) {
      // A unique violation on used_nonces means another writer used this nonce first.
      if (isUniqueViolation(e)) return "replayed";
      throw e;
    }
  }

  /**
   * Use a pending session's nonce, once, in one round trip: the session as it is now consumed, or, when it
   * could not be consumed, the session as it is (undefined when there is none) for the caller to say why.
   * As with consumeNonce, of two brokers racing on one database exactly one gets "ok". Not awaited to disk
   * on SQLite: the attestation's verdict, written next, is, and a commit is on disk only after all before it.
   */
  async consumeSession(
    sessionId: string,
    now: number,
    opts: { policy?: { kind: PolicyKind; id: string }; limits?: LimitsAt } = {},
  ): Promise<
    | { consumed: true; session: SessionRecord; policy?: PolicyRecord | undefined; limits?: LimitCount[] }
    | { consumed: false; session?: SessionRecord; limited?: true; limits?: LimitCount[] }
  > {
    const consume = (guard: string) => `UPDATE sessions SET state = 'consumed', consumed_at = $1
      WHERE id = $2 AND state = 'pending' AND expires_at > $1${guard} RETURNING ${SESSION_SELECT}`;
    const hits = opts.limits?.hits ?? [];
    const windows = hits.length > 0 ? limitWindows(hits, opts.limits!.now) : undefined;
    let counts: LimitCount[] | undefined;
    let row: Row | undefined;
    let policy: PolicyRecord | undefined;
    try {
      if (this.dialect === "postgres" && (!windows || windows.distinct)) {
        // The policy the attestation will be judged by comes back in the same round trip, and so do the
        // request's limit counts: the session is consumed only when every count is within its limit.
        const n = windows?.list.length ?? 0;
        const { rows } = await this.db.query(
          `WITH ${windows ? `rl AS (${rateLimitUpsert("GREATEST", limitValues(n, 4))}), ok AS (${limitsWithin(n, 4 + 3 * n)}),` : ""}
             upd AS (${consume(windows ? " AND (SELECT within FROM ok)" : "")}),
             ins AS (INSERT INTO used_nonces (nonce, session_id, used_at) SELECT nonce, id, $1 FROM upd)
           SELECT ${SESSION_COLUMNS.map((c) => `upd.${c}`).join(", ")}, p.id AS policy_id, p.kind AS policy_kind, p.body AS policy_body,
             p.created_at AS policy_created_at, p.updated_at AS policy_updated_at${
               windows
                 ? ", (SELECT json_agg(json_build_array(rl.key, rl.count, rl.expires_at)) FROM rl) AS rate_limits"
                 : ""
             }
           FROM ${windows ? "(SELECT 1) one LEFT JOIN upd ON true" : "upd"} LEFT JOIN policies p ON p.kind = $3 AND p.id = $4`,
          [
            now,
            sessionId,
            opts.policy?.kind ?? null,
            opts.policy?.id ?? null,
            ...(windows ? limitParams(windows.list) : []),
          ],
        );
        row = rows[0];
        if (windows) {
          counts = windows.counts(
            ((row?.rate_limits ?? []) as [string, number, number][]).map(([key, count, expires]) => ({
              key,
              count,
              expires_at: expires,
            })),
          );
          // No session consumed (the row of the outer join is all NULL): the limits or the session said no.
          if (row?.id === null || row?.id === undefined) row = undefined;
        }
        if (row) policy = prefixedPolicy(row);
      } else {
        const consumed = await this.db.transaction(
          async (tx) => {
            const c = windows ? await upsertLimits(tx, windows) : undefined;
            if (c && !withinLimits(c, hits)) return { counts: c, row: undefined };
            const r = (await tx.query(consume(""), [now, sessionId])).rows[0];
            if (r)
              await tx.query("INSERT INTO used_nonces (nonce, session_id, used_at) VALUES ($1, $2, $3)", [
                r.nonce as string,
                sessionId,
                now,
              ]);
            return { counts: c, row: r };
          },
          { durable: false },
        );
        counts = consumed.counts;
        row = consumed.row;
        if (row && opts.policy) policy = await this.getPolicy(opts.policy.kind, opts.policy.id);
      }
    } catch (e) {
      // A unique violation on used_nonces means another writer used this nonce first.
      if (!isUniqueViolation(e)) throw e;
      row = undefined;
    }
    const limits = counts ? { limits: counts } : {};
    if (counts && !withinLimits(counts, hits)) return { consumed: false, limited: true, ...limits };
    if (row)
      return { consumed: true, session: sessionRow(row), ...(opts.policy ? { policy } : {}), ...limits };
    const s = await this.getSession(sessionId);
    return s ? { consumed: false, session: s, ...limits } : { consumed: false, ...limits };
  }

  /** Count a refused /attest on a session whose challenge is used up (no audit row each time). */
  async countRefusal(sessionId: string): Promise<void> {
    await this.db.query("UPDATE sessions SET refusals = refusals + 1 WHERE id = $1", [sessionId], {
      durable: false,
    });
  }

  /**
   * Record a successful attestation in one commit: the claim set (stored once per distinct content),
   * the session's own claims and expiry, and the audit row.
   */
  async attachClaims(
    sessionId: string,
    claimSet: { digest: string; body: string },
    sessionClaims: string,
    tokenExpiresAt: number,
    sessionExpiresAt: number,
    audit: AuditEntry,
  ): Promise<void> {
    const attachParams = [claimSet.digest, sessionClaims, tokenExpiresAt, sessionExpiresAt, sessionId];
    if (this.dialect === "postgres") {
      // One statement, one round trip: PostgreSQL runs every data-modifying part of a WITH, atomically.
      await this.db.query(ATTACH_CLAIMS_PG, [
        ...attachParams,
        claimSet.digest,
        claimSet.body,
        audit.at,
        ...auditParams({ ...audit, claimsRef: claimSet.digest }),
      ]);
      return;
    }
    await this.db.transaction(async (tx) => {
      await upsertClaimSet(tx, claimSet, audit.at);
      await tx.query(ATTACH_SESSION, attachParams);
      await insertAudit(tx, { ...audit, claimsRef: claimSet.digest });
    });
  }

  /**
   * A claim set by digest (the parsed JSON, frozen: several readers share it), or undefined. Kept in memory
   * once read: a digest names one content forever.
   */
  async getClaimSet(digest: string): Promise<Record<string, unknown> | undefined> {
    const known = this.#claimSets.get(digest);
    if (known) return known;
    const { rows } = await this.db.query("SELECT body FROM claim_sets WHERE digest = $1", [digest]);
    if (!rows[0]) return undefined;
    const parsed = deepFreeze(JSON.parse(String(rows[0].body)) as Record<string, unknown>);
    if (this.#claimSets.size >= 1024) this.#claimSets.clear();
    this.#claimSets.set(digest, parsed);
    return parsed;
  }

  /**
   * Drop sessions and used nonces whose life is over (nonces kept a day past their session). A session
   * that had /attest refused more than once leaves one audit row saying how often, as it goes.
   */
  async purgeExpired(now: number): Promise<number> {
    const changes = await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO audit_log (at, event, session_id, verdict, reason)
         SELECT $1, 'attest', id, 'denied',
           'KBS_NONCE_REPLAYED: ' || refusals || ' more /attest call(s) on this used challenge, refused and counted'
         FROM sessions WHERE expires_at <= $1 AND refusals > 0`,
        [now],
      );
      return (await tx.query("DELETE FROM sessions WHERE expires_at <= $1", [now])).changes;
    });
    await this.db.query(
      "DELETE FROM used_nonces WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = used_nonces.session_id) AND used_at <= $1",
      [now - 24 * 3600 * 1000],
    );
    await this.db.query("DELETE FROM rate_limits WHERE expires_at <= $1", [now]);
    // Kept a minute past expiry: a token is refused as expired by then anyway, whatever the clock skew.
    await this.db.query("DELETE FROM admin_tokens_used WHERE expires_at <= $1", [now - 60_000]);
    return changes;
  }

  // ---- limits shared by every broker on the database ----------------------------------------------

  /**
   * Count one request against each of `hits` (key, window length) in fixed windows aligned to the
   * epoch, in one commit; returns each key's count in its current window and when that window ends.
   * Brokers sharing the database share the windows (a client gets one budget, not one per broker),
   * and a restart does not reset them. A broker whose clock lags never reopens a newer window.
   */
  async hitRateLimits(
    hits: { key: string; windowMs: number }[],
    now: number,
  ): Promise<{ count: number; resetAt: number }[]> {
    if (hits.length === 0) return [];
    // Counters: a power loss may forget the last few, which costs nothing; so not awaited to disk.
    const windows = limitWindows(hits, now);
    if (windows.distinct) return upsertLimits(this.db, windows, { durable: false });
    return this.db.transaction((tx) => upsertLimits(tx, windows), { durable: false });
  }

  /**
   * Record that an admin credential (a JWT's jti, or its digest) was used for a write; false when it
   * was already used (a replay), on this broker or another one sharing the database.
   */
  async useAdminTokenOnce(tokenId: string, expiresAt: number): Promise<boolean> {
    try {
      await this.db.query("INSERT INTO admin_tokens_used (token_id, expires_at) VALUES ($1, $2)", [
        tokenId,
        expiresAt,
      ]);
      return true;
    } catch (e) {
      if (isUniqueViolation(e)) return false;
      throw e;
    }
  }

  // ---- audit ------------------------------------------------------------------------------------

  async appendAudit(e: AuditEntry): Promise<number> {
    return insertAudit(this.db, e);
  }

  /** An audit row that references a claim set, stored (once) in the same commit. */
  async appendAuditWithClaims(e: AuditEntry, claimSet: { digest: string; body: string }): Promise<number> {
    if (this.dialect === "postgres") {
      const { rows } = await this.db.query(AUDIT_WITH_CLAIMS_PG, [
        claimSet.digest,
        claimSet.body,
        e.at,
        ...auditParams({ ...e, claimsRef: claimSet.digest }),
      ]);
      return Number(rows[0]?.id);
    }
    return this.db.transaction(async (tx) => {
      await upsertClaimSet(tx, claimSet, e.at);
      return insertAudit(tx, { ...e, claimsRef: claimSet.digest });
    });
  }

  /** Claim sets by digest, for an audit page (export resolves references with it). */
  async getClaimSets(digests: string[]): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const d of [...new Set(digests)]) {
      const c = await this.getClaimSet(d);
      if (c) out[d] = c;
    }
    return out;
  }

  /**
   * Delete the audit rows older than `before` (operator retention, after an export), in one commit
   * with the record of the prune; claim sets no row or session references any more go too. Rows from
   * `before` on stay append-only: the triggers refuse anything newer than the latest prune.
   */
  async pruneAudit(before: number, now: number, actor: string | null): Promise<number> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query("SELECT COUNT(*) AS n FROM audit_log WHERE at < $1", [before]);
      const pruned = Number(rows[0]?.n ?? 0);
      await tx.query("INSERT INTO audit_prunes (at, before_at, pruned, actor) VALUES ($1, $2, $3, $4)", [
        now,
        before,
        pruned,
        actor,
      ]);
      await tx.query("DELETE FROM audit_log WHERE at < $1", [before]);
      await tx.query(
        `DELETE FROM claim_sets WHERE last_used_at < $1
           AND digest NOT IN (SELECT claims_ref FROM audit_log WHERE claims_ref IS NOT NULL)
           AND digest NOT IN (SELECT claims_ref FROM sessions WHERE claims_ref IS NOT NULL)`,
        [before],
      );
      return pruned;
    });
  }

  async listAudit(
    opts: { afterId?: number; limit?: number; resource?: string } = {},
  ): Promise<AuditRecord[]> {
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 10_000);
    const params: SqlValue[] = [opts.afterId ?? 0, limit];
    let where = "id > $1";
    if (opts.resource) {
      params.push(opts.resource);
      where += " AND resource = $3";
    }
    const { rows } = await this.db.query(
      `SELECT * FROM audit_log WHERE ${where} ORDER BY id LIMIT $2`,
      params,
    );
    return rows.map(auditRow);
  }
}

const INSERT_AUDIT = `INSERT INTO audit_log (at, event, resource, session_id, evidence_sha256, claims, verdict, reason, actor, request_id, claims_ref)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`;

function auditParams(e: AuditEntry): SqlValue[] {
  return [
    e.at,
    e.event,
    e.resource ?? null,
    e.sessionId ?? null,
    e.evidenceSha256 ?? null,
    e.claims === undefined || e.claims === null ? null : JSON.stringify(e.claims),
    e.verdict,
    e.reason ?? null,
    e.actor ?? null,
    e.requestId ?? null,
    e.claimsRef ?? null,
  ] as SqlValue[];
}

async function insertAudit(db: SqlDb, e: AuditEntry): Promise<number> {
  const { rows } = await db.query(INSERT_AUDIT, auditParams(e));
  return Number(rows[0]?.id);
}

/**
 * Store a claim set unless it is there; touch its last use at most every 10 minutes (a prune only
 * removes sets unused since its cutoff, so a set an attestation is about to reference stays).
 */
const UPSERT_CLAIM_SET = `INSERT INTO claim_sets (digest, body, created_at, last_used_at) VALUES ($1, $2, $3, $3)
  ON CONFLICT (digest) DO UPDATE SET last_used_at = excluded.last_used_at
    WHERE claim_sets.last_used_at < excluded.last_used_at - 600000`;

async function upsertClaimSet(db: SqlDb, c: { digest: string; body: string }, now: number): Promise<void> {
  await db.query(UPSERT_CLAIM_SET, [c.digest, c.body, now]);
}

const ATTACH_SESSION = `UPDATE sessions SET state = 'attested', claims_ref = $1, session_claims = $2,
    token_expires_at = $3, expires_at = $4
  WHERE id = $5 AND state = 'consumed'`;

/** `sql` with its placeholders $n renumbered to $(n + by), to put statements side by side in one. */
const shifted = (sql: string, by: number) => sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + by}`);

/**
 * PostgreSQL: claim set, session and audit row in one statement, one round trip (every data-modifying part
 * of a WITH runs, once, atomically with the rest). $1..$5 the session, $6..$8 the claim set, $9.. the audit row.
 */
const ATTACH_CLAIMS_PG = `WITH cs AS (${shifted(UPSERT_CLAIM_SET, 5)}), att AS (${ATTACH_SESSION})
  ${shifted(INSERT_AUDIT, 8)}`;
/** PostgreSQL: claim set ($1..$3) and audit row ($4..) in one statement. */
const AUDIT_WITH_CLAIMS_PG = `WITH cs AS (${UPSERT_CLAIM_SET}) ${shifted(INSERT_AUDIT, 3)}`;

const SESSION_COLUMNS = [
  "id",
  "nonce",
  "tee",
  "hash_alg",
  "state",
  "created_at",
  "expires_at",
  "consumed_at",
  "token_expires_at",
  "claims_ref",
  "session_claims",
  "refusals",
];
const RESOURCE_COLUMNS = [
  "path",
  "policy_id",
  "kek_id",
  "iv",
  "ciphertext",
  "tag",
  "size",
  "created_at",
  "updated_at",
];
const SESSION_SELECT = SESSION_COLUMNS.join(", ");
const RESOURCE_SELECT = RESOURCE_COLUMNS.join(", ");
// Named columns, never *: PostgreSQL's prepared statements (src/kbs/store/postgres.ts) must keep their
// result type when a later schema version adds a column.
const POLICY_SELECT = "id, kind, body, created_at, updated_at";

/** A session by id and a resource by path (with its policy): unrelated rows, joined to one row. */
const SESSION_AND_RESOURCE = `SELECT ${SESSION_COLUMNS.map((c) => `s.${c} AS s_${c}`).join(", ")},
  ${RESOURCE_COLUMNS.map((c) => `r.${c} AS r_${c}`).join(", ")},
  p.id AS policy_id, p.kind AS policy_kind, p.body AS policy_body, p.created_at AS policy_created_at,
  p.updated_at AS policy_updated_at
FROM (SELECT 1 AS one) AS one
  LEFT JOIN sessions s ON s.id = $1
  LEFT JOIN resources r ON r.path = $2
  LEFT JOIN policies p ON p.kind = 'resource' AND p.id = r.policy_id`;

/** The columns of `row` named `prefix`..., without the prefix. */
function unprefixed(row: Row, prefix: string): Row {
  const out: Row = {};
  for (const k of Object.keys(row)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = row[k];
  return out;
}

/** The policy joined to a row as policy_id, policy_kind, policy_body, ...; undefined when none joined. */
function prefixedPolicy(row: Row): PolicyRecord | undefined {
  if (row.policy_body === null || row.policy_body === undefined) return undefined;
  return policyRow({
    id: row.policy_id,
    kind: row.policy_kind,
    body: row.policy_body,
    created_at: row.policy_created_at,
    updated_at: row.policy_updated_at,
  });
}

function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

const bytes = (v: unknown) => (v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array());

function policyRow(r: Row): PolicyRecord {
  return {
    id: String(r.id),
    kind: r.kind as PolicyKind,
    body: String(r.body),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function resourceRow(r: Row): ResourceRecord {
  return {
    path: String(r.path),
    policyId: String(r.policy_id),
    kekId: String(r.kek_id),
    iv: bytes(r.iv),
    ciphertext: bytes(r.ciphertext),
    tag: bytes(r.tag),
    size: Number(r.size),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function sessionRow(r: Row): SessionRecord {
  return {
    id: String(r.id),
    nonce: String(r.nonce),
    tee: String(r.tee),
    hashAlg: String(r.hash_alg),
    state: r.state as SessionRecord["state"],
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    consumedAt: r.consumed_at === null ? null : Number(r.consumed_at),
    claimsRef: r.claims_ref === null || r.claims_ref === undefined ? null : String(r.claims_ref),
    sessionClaims:
      r.session_claims === null || r.session_claims === undefined ? null : String(r.session_claims),
    tokenExpiresAt: r.token_expires_at === null ? null : Number(r.token_expires_at),
    refusals: Number(r.refusals ?? 0),
  };
}

function auditRow(r: Row): AuditRecord {
  return {
    id: Number(r.id),
    at: Number(r.at),
    event: r.event as AuditEntry["event"],
    resource: r.resource as string | null,
    sessionId: r.session_id as string | null,
    evidenceSha256: r.evidence_sha256 as string | null,
    claims: r.claims === null ? null : JSON.parse(String(r.claims)),
    claimsRef: (r.claims_ref as string | null | undefined) ?? null,
    verdict: r.verdict as AuditEntry["verdict"],
    reason: r.reason as string | null,
    actor: r.actor as string | null,
    requestId: r.request_id as string | null,
  };
}

/**
 * Open the store a --db value names: postgres://... or postgresql://... for PostgreSQL, sqlite:PATH,
 * file:PATH (optionally ?synchronous=normal) or a plain path for SQLite. Migrates the schema before
 * returning.
 */
export async function openStore(
  url: string,
  opts: { postgres?: { max?: number; timeouts?: PostgresTimeouts } } = {},
): Promise<KbsStore> {
  let db: SqlDb;
  if (/^postgres(ql)?:\/\//.test(url)) db = new PostgresDb(url, opts.postgres ?? {});
  else if (/^(sqlite|file):/.test(url)) {
    // sqlite:PATH[?synchronous=normal]
    const [path, query] = url.replace(/^(sqlite|file):(\/\/)?/, "").split("?", 2) as [
      string,
      string | undefined,
    ];
    const sync = new URLSearchParams(query ?? "").get("synchronous");
    if (sync !== null && sync !== "full" && sync !== "normal")
      throw new TdxError("KBS_DB_URL_INVALID", `synchronous=${sync} is not full or normal`, {
        hint: "use sqlite:PATH?synchronous=normal (fewer fsyncs) or leave it out (full)",
      });
    db = new SqliteDb(path, sync ? { synchronous: sync } : {});
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    throw new TdxError(
      "KBS_DB_URL_INVALID",
      `unsupported database URL ${url.replace(/\/\/[^@]*@/, "//***@")}`,
      {
        hint: "use postgres://user:pass@host/db or a SQLite file path (sqlite:./data/kbs.db)",
      },
    );
  else db = new SqliteDb(url);
  const store = new KbsStore(db);
  try {
    await store.migrate();
  } catch (e) {
    await db.close().catch(() => {});
    throw e;
  }
  return store;
}
