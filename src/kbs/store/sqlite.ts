import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type Database from "better-sqlite3";
import { asTdxError } from "../../errors.js";
import { requireOptional } from "../../optional.js";
import { type Row, SCHEMA, type SqlDb, type SqlValue, toPositional, translateDbError } from "./sql.js";

const sqliteSchema = SCHEMA.replace(/\{\{BLOB\}\}/g, "BLOB")
  .replace(/\{\{ID\}\}/g, "INTEGER PRIMARY KEY AUTOINCREMENT")
  .replace(
    "{{AUDIT_TRIGGERS}}",
    // Rows older than the latest operator prune may be deleted (by the prune); nothing else, ever.
    `CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
DROP TRIGGER IF EXISTS audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.at >= (SELECT COALESCE(MAX(before_at), 0) FROM audit_prunes)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;`,
  );

const fileLocks = new Map<string, Promise<void>>();

/**
 * SQLite through better-sqlite3 in WAL mode. synchronous=FULL (the default) makes every commit
 * durable even against power loss; NORMAL keeps commits safe from a killed process (the WAL is
 * in the OS cache) but may lose the last ones on power loss, in exchange for fewer fsyncs. better-sqlite3 is synchronous, but a transaction body may await; a lock keeps
 * other requests' statements out of the connection until the transaction ends (inside one, use
 * only the `tx` handle).
 */
export class SqliteDb implements SqlDb {
  readonly dialect = "sqlite" as const;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  /** Shared by every connection to one file in this process (see #locked). */
  readonly #lockKey: string;

  constructor(
    readonly file: string,
    opts: { synchronous?: "full" | "normal" } = {},
  ) {
    // An optional peer dependency: loaded before anything touches the disk, so its absence leaves no file.
    const Sqlite = requireOptional<typeof Database>("better-sqlite3");
    if (file !== ":memory:") {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      // Created 0600 whatever the umask or the directory's mode: SQLite gives its -wal and -shm files
      // the database file's permissions.
      try {
        closeSync(openSync(file, "wx", 0o600));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST")
          throw asTdxError(e, "KBS_DB_OPEN_FAILED", `cannot create SQLite database ${file}`, {
            hint: "check that the data directory exists and is writable",
          });
      }
    }
    this.#lockKey = file === ":memory:" ? `:memory:${Math.random()}` : resolve(file);
    try {
      this.#db = new Sqlite(file);
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma(`synchronous = ${opts.synchronous === "normal" ? "NORMAL" : "FULL"}`);
      this.#db.pragma("busy_timeout = 5000");
      this.#db.pragma("foreign_keys = ON");
    } catch (e) {
      throw asTdxError(e, "KBS_DB_OPEN_FAILED", `cannot open SQLite database ${file}`, {
        hint: "check that the data directory exists and is writable",
      });
    }
  }

  get schema(): string {
    return sqliteSchema;
  }

  #run(sql: string, params: SqlValue[]): { rows: Row[]; changes: number } {
    const p = toPositional(sql, params);
    let stmt = this.#statements.get(p.sql);
    if (!stmt) {
      stmt = this.#db.prepare(p.sql);
      // The statements are a fixed set written in src/kbs/store; the cap only guards against misuse.
      if (this.#statements.size < 256) this.#statements.set(p.sql, stmt);
    }
    const args = p.params.map((v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v) : v));
    if (stmt.reader) return { rows: stmt.all(...args) as Row[], changes: 0 };
    const r = stmt.run(...args);
    return { rows: [], changes: r.changes };
  }

  /**
   * Serialize statements per database file within this process. Two connections to one file in one
   * process would otherwise deadlock: SQLite's busy wait is synchronous and would block the very
   * thread that has to finish the other connection's transaction.
   */
  async #locked<T>(fn: () => Promise<T> | T): Promise<T> {
    const prev = fileLocks.get(this.#lockKey) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    fileLocks.set(this.#lockKey, mine);
    await prev;
    try {
      return await fn();
    } finally {
      if (fileLocks.get(this.#lockKey) === mine) fileLocks.delete(this.#lockKey);
      release();
    }
  }

  async query(sql: string, params: SqlValue[] = []) {
    try {
      return await this.#locked(() => this.#run(sql, params));
    } catch (e) {
      // Busy past busy_timeout, disk full, I/O error: 503 with Retry-After, not a 500.
      throw translateDbError(e);
    }
  }

  async exec(sql: string): Promise<void> {
    await this.#locked(() => this.#db.exec(sql));
  }

  async transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T> {
    try {
      return await this.#transaction(fn);
    } catch (e) {
      throw translateDbError(e);
    }
  }

  async #transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T> {
    return this.#locked(async () => {
      // IMMEDIATE takes the write lock up front, so two processes on one file serialize here.
      this.#db.exec("BEGIN IMMEDIATE");
      const tx: SqlDb = {
        dialect: "sqlite",
        query: async (sql, params = []) => this.#run(sql, params),
        exec: async (sql) => {
          this.#db.exec(sql);
        },
        transaction: (inner) => inner(tx),
        close: async () => {},
      };
      try {
        const out = await fn(tx);
        this.#db.exec("COMMIT");
        return out;
      } catch (e) {
        if (this.#db.inTransaction) this.#db.exec("ROLLBACK");
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    await this.#locked(() => this.#db.close());
  }
}
