/**
 * The smallest SQL surface both back ends share. Statements are written once with PostgreSQL-style
 * $1..$n placeholders; the SQLite driver rewrites them. Values are strings, numbers (bigint for
 * 64-bit ids/times), Uint8Array or null.
 */
import { TdxError } from "../../errors.js";

export type SqlValue = string | number | bigint | Uint8Array | null;
export type Row = Record<string, unknown>;

/** How a write is acknowledged. */
export interface QueryOptions {
  /**
   * false: resolve once committed (visible, and safe from a killed process) without waiting for the commit
   * to reach the disk; for writes a later write of the same request covers, or counters whose loss in a
   * power failure costs nothing (rate limits). Default true. PostgreSQL commits are always durable.
   */
  durable?: boolean;
}

/** Counters since a connection opened. */
export interface SqlDbStats {
  /** Statements sent (PostgreSQL: round trips). */
  statements: number;
  /** Commits (SQLite: group commits, each holding one or more writes). */
  commits: number;
  /** Writes committed (SQLite: the units of its group commits). */
  writes: number;
  /** fsyncs the store made itself (SQLite's group commit; PostgreSQL's are the server's). */
  fsyncs: number;
}

export interface SqlDb {
  readonly dialect: "sqlite" | "postgres";
  /** Run one statement; returns rows (RETURNING or SELECT) and the number of rows changed. */
  query(sql: string, params?: SqlValue[], opts?: QueryOptions): Promise<{ rows: Row[]; changes: number }>;
  /** Run several statements (schema); no parameters. */
  exec(sql: string): Promise<void>;
  /** Run `fn` in one serializable unit: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlDb) => Promise<T>, opts?: QueryOptions): Promise<T>;
  /** Resolves once every commit this connection has made or read is on disk (SQLite's group commit). */
  settle?(): Promise<void>;
  /** What the connection did since it opened (for /metrics and bench/kbs). */
  stats?(): SqlDbStats;
  close(): Promise<void>;
}

/**
 * The schema, one text for both back ends. {{BLOB}}, {{ID}} and {{AUDIT_TRIGGERS}} are the only
 * dialect differences (BYTEA vs BLOB, identity column, the triggers that keep audit_log append-only).
 * Times are integer milliseconds since the epoch in both. Every statement is idempotent: the same
 * text creates a new database and brings a version-1 database to version 2 (the ALTERs are added by
 * the migration, which checks the columns first).
 *
 * Version 3 adds what brokers sharing a database must count together: request-rate windows
 * (rate_limits) and the admin JWTs already used for a write (admin_tokens_used).
 *
 * Version 2 keeps the database small (docs/kbs.md "Storage"): a session holds a reference to its
 * claim set and its own few claims instead of its token; the audit log references claim sets, each
 * stored once per distinct content; audit rows older than an operator's prune are the only ones that
 * may ever be deleted.
 */
export const SCHEMA_VERSION = 3;
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS kbs_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS policies (
  kind TEXT NOT NULL CHECK (kind IN ('attestation', 'resource')),
  id TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS resources (
  path TEXT PRIMARY KEY,
  policy_id TEXT NOT NULL,
  kek_id TEXT NOT NULL,
  iv {{BLOB}} NOT NULL,
  ciphertext {{BLOB}} NOT NULL,
  tag {{BLOB}} NOT NULL,
  size INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  nonce TEXT NOT NULL UNIQUE,
  tee TEXT NOT NULL,
  hash_alg TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'consumed', 'attested')),
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  consumed_at BIGINT,
  token_expires_at BIGINT,
  claims_ref TEXT,
  session_claims TEXT,
  refusals INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS used_nonces (
  nonce TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  used_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS claim_sets (
  digest TEXT PRIMARY KEY,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
  id {{ID}},
  at BIGINT NOT NULL,
  event TEXT NOT NULL,
  resource TEXT,
  session_id TEXT,
  evidence_sha256 TEXT,
  claims TEXT,
  verdict TEXT NOT NULL,
  reason TEXT,
  actor TEXT,
  request_id TEXT,
  claims_ref TEXT
);
CREATE TABLE IF NOT EXISTS audit_prunes (
  id {{ID}},
  at BIGINT NOT NULL,
  before_at BIGINT NOT NULL,
  pruned BIGINT NOT NULL,
  actor TEXT
);
CREATE TABLE IF NOT EXISTS rate_limits (
  key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_limits_expires ON rate_limits (expires_at);
CREATE TABLE IF NOT EXISTS admin_tokens_used (
  token_id TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
{{AUDIT_TRIGGERS}}
`;

/** Columns version 2 added to version-1 tables (the migration adds those a database lacks). */
export const ADDED_COLUMNS: { table: string; column: string; type: string }[] = [
  { table: "sessions", column: "claims_ref", type: "TEXT" },
  { table: "sessions", column: "session_claims", type: "TEXT" },
  { table: "sessions", column: "refusals", type: "INTEGER NOT NULL DEFAULT 0" },
  { table: "audit_log", column: "claims_ref", type: "TEXT" },
];

/** SQLSTATE classes and codes that mean "the database cannot serve now" (PostgreSQL appendix A). */
const PG_UNAVAILABLE: [RegExp, string, number][] = [
  [/^08/, "the connection to the database failed", 2],
  [/^57P0[123]$/, "the database server is shutting down, restarting or starting up", 2],
  [/^53/, "the database server is out of resources (connections, memory or disk)", 5],
  [/^57014$/, "a statement took longer than the statement timeout", 2],
  [/^25P03$/, "a transaction sat idle longer than the idle-in-transaction timeout", 1],
  [/^(40001|40P01)$/, "a transaction conflicted with another (serialization failure or deadlock)", 1],
  [/^58/, "the database server had an I/O error", 5],
  [/^(28P01|28000)$/, "the database refused the credentials", 30],
  [/^3D000$/, "the database does not exist", 30],
];

/** Node socket errors that mean the database is unreachable. */
const NET_UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** What the pg driver says when a connection died, timed out or was closed under it. */
const PG_DRIVER_UNAVAILABLE =
  /Connection terminated|timeout expired|timeout exceeded when trying to connect|Query read timeout|is not queryable|Connection ended/i;

/** SQLite result codes that mean "cannot serve now" (busy past busy_timeout, disk full, I/O error). */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL|NOMEM)/;

/**
 * The database-unavailable condition an error stands for, or undefined for anything else (a constraint
 * violation, a bug). The message names the condition, never the host, port or path: it reaches
 * unauthenticated clients; the original error is kept as the cause for the log.
 */
export function unavailableReason(e: unknown): { reason: string; retryAfterSeconds: number } | undefined {
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === "string" ? err.code : "";
  const message = typeof err?.message === "string" ? err.message : "";
  for (const [re, reason, retry] of PG_UNAVAILABLE)
    if (/^[0-9A-Z]{5}$/.test(code) && re.test(code))
      return { reason: `${reason} (SQLSTATE ${code})`, retryAfterSeconds: retry };
  if (NET_UNAVAILABLE.has(code))
    return { reason: `the database is unreachable (${code})`, retryAfterSeconds: 2 };
  if (SQLITE_UNAVAILABLE.test(code))
    return { reason: `the database file cannot be used now (${code})`, retryAfterSeconds: 2 };
  if (PG_DRIVER_UNAVAILABLE.test(message))
    return {
      reason: `the database connection failed or timed out (${message.slice(0, 60)})`,
      retryAfterSeconds: 2,
    };
  return undefined;
}

/** A database-unavailable error as KBS_DB_UNAVAILABLE (503 with Retry-After); anything else unchanged. */
export function translateDbError(e: unknown): unknown {
  if (e instanceof TdxError) return e;
  const u = unavailableReason(e);
  if (!u) return e;
  return new TdxError("KBS_DB_UNAVAILABLE", `the database is unavailable: ${u.reason}`, {
    cause: e,
    hint: "retry after the time Retry-After gives; operators: check the database server and the --db URL (the broker log has the details)",
    data: { retryAfterSeconds: u.retryAfterSeconds },
  });
}
