/**
 * The smallest SQL surface both back ends share. Statements are written once with PostgreSQL-style
 * $1..$n placeholders; the SQLite driver rewrites them. Values are strings, numbers (bigint for
 * 64-bit ids/times), Uint8Array or null.
 */
export type SqlValue = string | number | bigint | Uint8Array | null;
export type Row = Record<string, unknown>;

export interface SqlDb {
  readonly dialect: "sqlite" | "postgres";
  /** Run one statement; returns rows (RETURNING or SELECT) and the number of rows changed. */
  query(sql: string, params?: SqlValue[]): Promise<{ rows: Row[]; changes: number }>;
  /** Run several statements (schema); no parameters. */
  exec(sql: string): Promise<void>;
  /** Run `fn` in one serializable unit: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * The schema, one text for both back ends. {{BLOB}}, {{ID}} and {{AUDIT_TRIGGERS}} are the only
 * dialect differences (BYTEA vs BLOB, identity column, the triggers that keep audit_log append-only).
 * Times are integer milliseconds since the epoch in both. Every statement is idempotent: the same
 * text creates a new database and brings a version-1 database to version 2 (the ALTERs are added by
 * the migration, which checks the columns first).
 *
 * Version 2 keeps the database small (docs/kbs.md "Storage"): a session holds a reference to its
 * claim set and its own few claims instead of its token; the audit log references claim sets, each
 * stored once per distinct content; audit rows older than an operator's prune are the only ones that
 * may ever be deleted.
 */
export const SCHEMA_VERSION = 2;
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
{{AUDIT_TRIGGERS}}
`;

/** Columns version 2 added to version-1 tables (the migration adds those a database lacks). */
export const ADDED_COLUMNS: { table: string; column: string; type: string }[] = [
  { table: "sessions", column: "claims_ref", type: "TEXT" },
  { table: "sessions", column: "session_claims", type: "TEXT" },
  { table: "sessions", column: "refusals", type: "INTEGER NOT NULL DEFAULT 0" },
  { table: "audit_log", column: "claims_ref", type: "TEXT" },
];

/** Rewrite $1..$n to SQLite's positional ? while keeping parameter order (and repeats). */
export function toPositional(sql: string, params: SqlValue[]): { sql: string; params: SqlValue[] } {
  const out: SqlValue[] = [];
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    out.push(params[Number(n) - 1] ?? null);
    return "?";
  });
  return { sql: text, params: out };
}
