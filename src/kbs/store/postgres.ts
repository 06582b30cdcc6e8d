import pg from "pg";
import { asTdxError } from "../../errors.js";
import { type Row, SCHEMA, type SqlDb, type SqlValue } from "./sql.js";

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

// BIGINT (int8) arrives as a string by default; every BIGINT here is a time or id that fits a double.
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 20) return (v: string) => Number(v);
    return (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format);
  },
};

/** PostgreSQL through a pg pool. Transactions run on one pooled client (READ COMMITTED). */
export class PostgresDb implements SqlDb {
  readonly dialect = "postgres" as const;
  readonly #pool: pg.Pool;

  constructor(
    readonly url: string,
    opts: { max?: number } = {},
  ) {
    this.#pool = new pg.Pool({
      connectionString: url,
      max: opts.max ?? 10,
      types: types as pg.CustomTypesConfig,
    });
    // An idle client losing its server connection must not crash the broker; the next query reconnects.
    this.#pool.on("error", () => {});
  }

  get schema(): string {
    return postgresSchema;
  }

  async query(sql: string, params: SqlValue[] = []): Promise<{ rows: Row[]; changes: number }> {
    try {
      const r = await this.#pool.query(sql, params as unknown[]);
      return { rows: r.rows as Row[], changes: r.rowCount ?? 0 };
    } catch (e) {
      throw translate(e);
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
      throw translate(e);
    }
    const tx: SqlDb = {
      dialect: "postgres",
      query: async (sql, params = []) => {
        const r = await client.query(sql, params as unknown[]);
        return { rows: r.rows as Row[], changes: r.rowCount ?? 0 };
      },
      exec: async (sql) => {
        await client.query(sql);
      },
      transaction: (inner) => inner(tx),
      close: async () => {},
    };
    try {
      await client.query("BEGIN");
      const out = await fn(tx);
      await client.query("COMMIT");
      return out;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

function translate(e: unknown) {
  const code = (e as { code?: string }).code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "28P01" || code === "3D000")
    return asTdxError(e, "KBS_DB_UNAVAILABLE", "cannot reach the PostgreSQL database", {
      hint: "check the --db URL (host, port, user, password, database) and that the server is running",
    });
  return e;
}
