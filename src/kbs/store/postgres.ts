import type pg from "pg";
import { TdxError } from "../../errors.js";
import { requireOptional } from "../../optional.js";
import { type Row, SCHEMA, type SqlDb, type SqlDbStats, type SqlValue, translateDbError } from "./sql.js";

const postgresSchema = `SELECT pg_advisory_xact_lock(7310542861);
${SCHEMA.replace(/\{\{BLOB\}\}/g, "BYTEA")
  .replace(/\{\{ID\}\}/g, "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
  .replace(
    "{{AUDIT_TRIGGERS}}",
    // Rows older than the latest operator prune may be deleted (by the prune); nothing else, ever.
    `
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.at < (SELECT COALESCE(MAX(before_at), 0) FROM audit_prunes) THEN RETURN OLD; END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only';
END $fn$;
DO $do$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_no_change') THEN
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
  END IF;
END $do$;`,
  )}`;

/** pg, an optional peer dependency: loaded when the first PostgresDb is made. */
const pgLib = () => requireOptional<typeof pg>("pg");

// BIGINT (int8) arrives as a string by default; every BIGINT here is a time or id that fits a double.
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 20) return (v: string) => Number(v);
    return (pgLib().types.getTypeParser as (o: number, f?: string) => unknown)(oid, format);
  },
};

/** Names of the prepared statements, by text (the store's statements are a fixed set). */
const statementNames = new Map<string, string>();

/**
 * The name to prepare `sql` under, once per pooled connection: the server parses and plans it once
 * instead of at every call. Only data statements with named columns: a `*` would change its
 * result type when a later schema adds a column, which a prepared statement refuses.
 */
function statementName(sql: string): string | undefined {
  let name = statementNames.get(sql);
  if (name === undefined) {
    if (!/^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(sql) || /(SELECT|RETURNING)\s+\*|\.\*/i.test(sql))
      return undefined;
    if (statementNames.size >= 256) return undefined;
    name = `tdx_kbs_${statementNames.size}`;
    statementNames.set(sql, name);
  }
  return name;
}

/** Deadlines of the PostgreSQL store (milliseconds). */
export interface PostgresTimeouts {
  /** Opening a connection, and waiting for a free pooled one (default 2000). */
  connectMs?: number;
  /** Server-side statement_timeout (default 5000). */
  statementMs?: number;
  /** Client-side: the longest the broker waits for any answer, e.g. from a stalled server (default statementMs + 1000). */
  queryMs?: number;
  /** Server-side idle_in_transaction_session_timeout (default 10000). */
  idleInTransactionMs?: number;
}

/**
 * PostgreSQL through a pg pool. Transactions run on one pooled client (READ COMMITTED). Every call has a
 * deadline (connect, statement, answer, idle in transaction), so a stalled or restarting server makes
 * requests fail fast with KBS_DB_UNAVAILABLE (503, Retry-After) instead of hanging; every condition that
 * means "the database cannot serve now" is translated, inside transactions too.
 */
export class PostgresDb implements SqlDb {
  readonly dialect = "postgres" as const;
  readonly #pool: pg.Pool;
  readonly #stats: SqlDbStats = { statements: 0, commits: 0, writes: 0, fsyncs: 0 };

  constructor(
    readonly url: string,
    opts: { max?: number; timeouts?: PostgresTimeouts } = {},
  ) {
    const t = opts.timeouts ?? {};
    const statementMs = t.statementMs ?? 5000;
    this.#pool = new (pgLib().Pool)({
      connectionString: url,
      max: opts.max ?? 10,
      types: types as pg.CustomTypesConfig,
      connectionTimeoutMillis: t.connectMs ?? 2000,
      statement_timeout: statementMs,
      query_timeout: t.queryMs ?? statementMs + 1000,
      idle_in_transaction_session_timeout: t.idleInTransactionMs ?? 10_000,
      idleTimeoutMillis: 10_000,
      keepAlive: true,
    });
    // An idle client losing its server connection must not crash the broker; the next query reconnects.
    this.#pool.on("error", () => {});
  }

  get schema(): string {
    return postgresSchema;
  }

  stats(): SqlDbStats {
    return { ...this.#stats };
  }

  async query(sql: string, params: SqlValue[] = []): Promise<{ rows: Row[]; changes: number }> {
    this.#stats.statements++;
    try {
      const name = statementName(sql);
      const r = await this.#pool.query(
        name ? { name, text: sql, values: params as unknown[] } : { text: sql, values: params as unknown[] },
      );
      return { rows: r.rows as Row[], changes: r.rowCount ?? 0 };
    } catch (e) {
      throw translateDbError(e);
    }
  }

  async exec(sql: string): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.exec(sql);
    });
  }

  async transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (e) {
      throw translateDbError(e);
    }
    const run = async (sql: string, params?: unknown[]) => {
      this.#stats.statements++;
      try {
        return await client.query(sql, params);
      } catch (e) {
        throw translateDbError(e);
      }
    };
    const tx: SqlDb = {
      dialect: "postgres",
      query: async (sql, params = []) => {
        const r = await run(sql, params as unknown[]);
        return { rows: r.rows as Row[], changes: r.rowCount ?? 0 };
      },
      exec: async (sql) => {
        await run(sql);
      },
      transaction: (inner) => inner(tx),
      close: async () => {},
    };
    let broken: unknown;
    try {
      await run("BEGIN");
      const out = await fn(tx);
      await run("COMMIT");
      return out;
    } catch (e) {
      // A connection that failed or timed out is not given back to the pool.
      if (e instanceof TdxError && e.code === "KBS_DB_UNAVAILABLE") broken = e;
      else
        await client.query("ROLLBACK").catch((r: unknown) => {
          broken = r;
        });
      throw e;
    } finally {
      client.release(broken instanceof Error ? broken : broken === undefined ? undefined : true);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
