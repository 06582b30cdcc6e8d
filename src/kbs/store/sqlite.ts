import { closeSync, fdatasync, fstatSync, fsyncSync, mkdirSync, openSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { asTdxError } from "../../errors.js";
import { requireOptional } from "../../optional.js";
import {
  type QueryOptions,
  type Row,
  SCHEMA,
  type SqlDb,
  type SqlDbStats,
  type SqlValue,
  translateDbError,
} from "./sql.js";

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

/** $1..$n rewritten to SQLite's positional ?, once per statement text: the text and the parameter order. */
const positional = new Map<string, { sql: string; order: number[] }>();

function toPositionalCached(sql: string): { sql: string; order: number[] } {
  let p = positional.get(sql);
  if (!p) {
    const order: number[] = [];
    const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
      order.push(Number(n) - 1);
      return "?";
    });
    p = { sql: text, order };
    // The statements are a fixed set written in src/kbs/store; the cap only guards against misuse.
    if (positional.size < 512) positional.set(sql, p);
  }
  return p;
}

/**
 * The checkpointer: a thread with a connection of its own that copies the WAL into the database file
 * (PRAGMA wal_checkpoint(PASSIVE): never waits for readers or writers) every few hundred milliseconds.
 * SQLite would otherwise checkpoint inside a commit every 1000 pages, on the event loop, with two fsyncs:
 * tens of milliseconds during which no request is served.
 */
const CHECKPOINTER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
let db;
try {
  db = new Database(workerData.file);
  db.pragma("busy_timeout = 0");
} catch {}
const timer = setInterval(() => {
  try {
    db?.pragma("wal_checkpoint(PASSIVE)");
  } catch {
    // busy (another process holds the file) or closing: the next round tries again
  }
}, workerData.intervalMs);
parentPort.on("message", (m) => {
  if (m !== "close") return;
  clearInterval(timer);
  try {
    db?.close();
  } catch {}
  parentPort.close();
});
`;

/** A prepared statement and the order its $n parameters go in. */
interface Prepared {
  stmt: Database.Statement;
  order: number[];
}

/** One caller's writes, run inside a group commit under its own savepoint. */
interface WriteUnit {
  fn: (tx: SqlDb) => Promise<unknown>;
  /** Resolve only once the commit is on disk (false: once committed, e.g. a request counter). */
  durable: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * SQLite through better-sqlite3 in WAL mode, with group commit.
 *
 * Writes (statements that change something, and transactions) are not committed one by one: those that
 * arrive in one turn of the event loop run in one transaction, each under its own savepoint (a unit that
 * fails is rolled back alone and its caller gets the error; the others commit). With synchronous=FULL
 * (the default) the commit is then made durable by an fdatasync of the WAL file on libuv's thread pool,
 * one fsync for every commit made before it started, so the event loop never waits for the disk; a write's
 * promise resolves after its commit is on disk. SQLite itself runs with synchronous=NORMAL meanwhile (the
 * WAL is written at commit and synced at checkpoints, as SQLite documents for WAL mode), so the fsync is
 * the only difference to SQLite's FULL and durability is the same: what a caller was told is committed
 * survives a killed process (it is in the WAL, in the OS) and a power loss (it is on disk). With
 * `synchronous: "normal"` there is no fsync at commit: safe from a killed process only.
 *
 * Reads run at once, outside the group, and see every commit made so far (a commit is visible a moment
 * before its fsync ends; `settle()` waits until what a connection can see is on disk).
 *
 * better-sqlite3 is synchronous, but a transaction body may await; a lock keeps other requests' statements
 * out of the connection until the group's transaction ends (inside one, use only the `tx` handle).
 */
export class SqliteDb implements SqlDb {
  readonly dialect = "sqlite" as const;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  /** Shared by every connection to one file in this process (see #locked). */
  readonly #lockKey: string;
  /** Our own fsync of the WAL after commits (synchronous=FULL on a file); false: none (NORMAL, :memory:). */
  readonly #groupFsync: boolean;
  readonly #walPath: string;
  #walFd: number | undefined;
  #walIno = -1;
  /** Writes waiting for the next group commit. */
  #pending: WriteUnit[] = [];
  #flushScheduled = false;
  /** Group commits made / known to be on disk (sequence numbers). */
  #committed = 0;
  #durable = 0;
  #syncing = false;
  #syncWaiters: { seq: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** PRAGMA data_version when this connection last synced: another connection's commit changes it. */
  #dataVersion = -1;
  #closed = false;
  #dataVersionStmt: Database.Statement | undefined;
  #checkpointer: Worker | undefined;
  readonly #stats: SqlDbStats = { statements: 0, commits: 0, writes: 0, fsyncs: 0 };
  /** BEGIN IMMEDIATE, COMMIT, ... prepared once: cheaper than parsing them at every group commit. */
  #control:
    | Record<"begin" | "commit" | "rollback" | "savepoint" | "release" | "rollbackTo", Database.Statement>
    | undefined;

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
    this.#walPath = `${this.#lockKey}-wal`;
    try {
      this.#db = new Sqlite(file);
      const mode = String(this.#db.pragma("journal_mode = WAL", { simple: true })).toLowerCase();
      this.#groupFsync = opts.synchronous !== "normal" && mode === "wal";
      // FULL is kept by our own fsync of the WAL after each group commit (see above); a journal mode other
      // than WAL (an in-memory database) keeps SQLite's own setting.
      this.#db.pragma(
        `synchronous = ${opts.synchronous === "normal" || this.#groupFsync ? "NORMAL" : "FULL"}`,
      );
      this.#db.pragma("busy_timeout = 5000");
      // 16 MiB of page cache (SQLite's default is 2 MiB): the B-tree pages a request reads stay in memory
      // instead of being read again from the WAL or the file, one pread each.
      this.#db.pragma("cache_size = -16384");
      this.#db.pragma("foreign_keys = ON");
      if (mode === "wal") this.#startCheckpointer();
    } catch (e) {
      throw asTdxError(e, "KBS_DB_OPEN_FAILED", `cannot open SQLite database ${file}`, {
        hint: "check that the data directory exists and is writable",
      });
    }
  }

  get schema(): string {
    return sqliteSchema;
  }

  /** Checkpoints move to a thread of their own (see CHECKPOINTER); SQLite's own, in commits, are off. */
  #startCheckpointer(): void {
    let worker: Worker;
    try {
      worker = new Worker(CHECKPOINTER, {
        eval: true,
        workerData: {
          module: createRequire(import.meta.url).resolve("better-sqlite3"),
          file: this.#lockKey,
          intervalMs: 200,
        },
      });
    } catch {
      return; // no worker threads here: SQLite keeps checkpointing in commits
    }
    worker.unref();
    worker.on("exit", () => {
      // The thread died (or was closed): SQLite checkpoints in commits again.
      if (this.#checkpointer !== worker) return;
      this.#checkpointer = undefined;
      if (!this.#closed) this.#db.pragma("wal_autocheckpoint = 1000");
    });
    worker.on("error", () => {});
    this.#checkpointer = worker;
    this.#db.pragma("wal_autocheckpoint = 0");
  }

  #statement(sql: string): Prepared {
    const p = toPositionalCached(sql);
    let stmt = this.#statements.get(p.sql);
    if (!stmt) {
      stmt = this.#db.prepare(p.sql);
      if (this.#statements.size < 256) this.#statements.set(p.sql, stmt);
    }
    return { stmt, order: p.order };
  }

  #run(sql: string, params: SqlValue[], prepared = this.#statement(sql)): { rows: Row[]; changes: number } {
    this.#stats.statements++;
    const { stmt, order } = prepared;
    const args = order.map((i) => {
      const v = params[i] ?? null;
      return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v) : v;
    });
    if (stmt.reader) {
      const rows = stmt.all(...args) as Row[];
      return { rows, changes: stmt.readonly ? 0 : rows.length };
    }
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

  async query(sql: string, params: SqlValue[] = [], opts: QueryOptions = {}) {
    let prepared: Prepared;
    try {
      prepared = this.#statement(sql);
    } catch (e) {
      throw translateDbError(e);
    }
    if (!prepared.stmt.readonly) return this.#write(async (tx) => tx.query(sql, params), opts);
    try {
      // Nobody holds the file: read now, without a turn through the lock's promises.
      if (!fileLocks.has(this.#lockKey)) return this.#run(sql, params, prepared);
      return await this.#locked(() => this.#run(sql, params, prepared));
    } catch (e) {
      // Busy past busy_timeout, disk full, I/O error: 503 with Retry-After, not a 500.
      throw translateDbError(e);
    }
  }

  async exec(sql: string): Promise<void> {
    await this.#locked(() => this.#db.exec(sql));
    // The schema, at start: on disk before anything is served.
    if (this.#groupFsync) this.#syncWalNow();
  }

  transaction<T>(fn: (tx: SqlDb) => Promise<T>, opts: QueryOptions = {}): Promise<T> {
    return this.#write(fn, opts);
  }

  stats(): SqlDbStats {
    return { ...this.#stats };
  }

  /** Resolves once every commit this connection has made or seen is on disk (no-op without group fsync). */
  async settle(): Promise<void> {
    if (!this.#groupFsync || this.#closed) return;
    // Another connection's commit we may have read: ours to sync too before anything depends on it.
    // Prepared once: db.pragma() would parse the statement again at every call.
    this.#dataVersionStmt ??= this.#db.prepare("PRAGMA data_version").pluck();
    const version = Number(this.#dataVersionStmt.get());
    if (version !== this.#dataVersion) {
      this.#dataVersion = version;
      this.#committed++;
    }
    await this.#waitDurable(this.#committed);
  }

  #write<T>(fn: (tx: SqlDb) => Promise<T>, opts: QueryOptions): Promise<T> {
    if (this.#closed) return Promise.reject(translateDbError(new Error("the database connection is closed")));
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({
        fn,
        durable: opts.durable !== false,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // Everything written during this turn of the event loop goes into one commit.
        setImmediate(() => {
          this.#flushScheduled = false;
          void this.#flush();
        });
      }
    });
  }

  #controlStatements() {
    this.#control ??= {
      begin: this.#db.prepare("BEGIN IMMEDIATE"),
      commit: this.#db.prepare("COMMIT"),
      rollback: this.#db.prepare("ROLLBACK"),
      savepoint: this.#db.prepare("SAVEPOINT unit"),
      release: this.#db.prepare("RELEASE unit"),
      rollbackTo: this.#db.prepare("ROLLBACK TO unit"),
    };
    return this.#control;
  }

  /**
   * One group commit: the pending units one after the other in one transaction, one COMMIT, then one fsync.
   * Optimistic: units seldom fail, so the first pass runs them without savepoints (two statements fewer per
   * unit). When one fails, that pass is rolled back and the group runs again with each unit under its own
   * savepoint, so the failing unit gets its error and the others commit. A unit is a function of the
   * transaction handle only, so running it twice (the first run rolled back) does what running it once does.
   */
  async #flush(): Promise<void> {
    const units = this.#pending;
    this.#pending = [];
    if (units.length === 0) return;
    let outcomes: { ok: boolean; value: unknown }[] = [];
    const alone = units.length === 1;
    try {
      await this.#locked(async () => {
        const c = this.#controlStatements();
        const tx: SqlDb = {
          dialect: "sqlite",
          query: async (sql, params = []) => this.#run(sql, params),
          exec: async (sql) => {
            this.#db.exec(sql);
          },
          transaction: (inner) => inner(tx),
          close: async () => {},
        };
        const pass = async (savepoints: boolean): Promise<boolean> => {
          outcomes = [];
          // IMMEDIATE takes the write lock up front, so two processes on one file serialize here.
          c.begin.run();
          try {
            for (const u of units) {
              if (savepoints) c.savepoint.run();
              try {
                outcomes.push({ ok: true, value: await u.fn(tx) });
                if (savepoints) c.release.run();
              } catch (e) {
                outcomes.push({ ok: false, value: e });
                // Alone, or an error that ended the whole transaction (disk full, I/O error): the group fails.
                if (alone || !this.#db.inTransaction) throw e;
                if (!savepoints) {
                  c.rollback.run();
                  return false;
                }
                c.rollbackTo.run();
                c.release.run();
              }
            }
            c.commit.run();
            return true;
          } catch (e) {
            if (this.#db.inTransaction) c.rollback.run();
            throw e;
          }
        };
        if (!(await pass(false))) await pass(true);
      });
    } catch (e) {
      // Nothing of this group was committed: every caller gets the error (a unit alone, its own).
      const err = translateDbError(alone && outcomes[0] && !outcomes[0].ok ? outcomes[0].value : e);
      for (const u of units) u.reject(err);
      return;
    }
    const seq = ++this.#committed;
    this.#stats.commits++;
    this.#stats.writes += units.length;
    let durable: Promise<void> | undefined;
    units.forEach((u, i) => {
      const o = outcomes[i]!;
      if (!o.ok) u.reject(translateDbError(o.value));
      else if (!u.durable || !this.#groupFsync) u.resolve(o.value);
      else {
        durable ??= this.#waitDurable(seq);
        durable.then(
          () => u.resolve(o.value),
          (e: unknown) => u.reject(translateDbError(e)),
        );
      }
    });
  }

  #waitDurable(seq: number): Promise<void> {
    if (this.#durable >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#syncWaiters.push({ seq, resolve, reject });
      this.#startSync();
    });
  }

  /** One fdatasync of the WAL at a time, on the thread pool; it covers every commit made before it started. */
  #startSync(): void {
    if (this.#syncing || this.#syncWaiters.length === 0) return;
    this.#syncing = true;
    const target = this.#committed;
    let fd: number;
    try {
      fd = this.#wal();
    } catch (e) {
      this.#syncDone(target, e);
      return;
    }
    this.#stats.fsyncs++;
    fdatasync(fd, (err) => this.#syncDone(target, err));
  }

  #syncDone(target: number, err: unknown): void {
    this.#syncing = false;
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    if (err) {
      // The commits are in the WAL (safe from a killed process) but not known to be on disk: say so.
      // Reported as SQLite reports a failed sync (SQLITE_IOERR_FSYNC): 503, the database cannot serve now.
      const e = Object.assign(new Error(`fsync of the SQLite WAL failed: ${(err as Error).message}`), {
        code: "SQLITE_IOERR_FSYNC",
        cause: err,
      });
      for (const w of waiters) w.reject(e);
    } else {
      this.#durable = Math.max(this.#durable, target);
      for (const w of waiters) {
        if (w.seq <= this.#durable) w.resolve();
        else this.#syncWaiters.push(w);
      }
    }
    this.#startSync();
  }

  /** The WAL file's descriptor, reopened if the file was replaced; its directory entry synced once. */
  #wal(): number {
    if (this.#walFd !== undefined) {
      // One stat per sync: the path still names the file the descriptor was opened on (its inode, kept).
      let same = false;
      try {
        same = statSync(this.#walPath).ino === this.#walIno;
      } catch {
        same = false;
      }
      if (same) return this.#walFd;
      closeSync(this.#walFd);
      this.#walFd = undefined;
    }
    const fd = openSync(this.#walPath, "r");
    const dir = openSync(dirname(this.#walPath), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this.#walIno = fstatSync(fd).ino;
    this.#walFd = fd;
    return fd;
  }

  #syncWalNow(): void {
    fsyncSync(this.#wal());
    this.#durable = this.#committed;
  }

  async close(): Promise<void> {
    // Writes already handed in are committed (and synced) first.
    while (this.#pending.length > 0 || this.#flushScheduled) await new Promise((r) => setImmediate(r));
    await this.#locked(() => {});
    if (this.#groupFsync) await this.#waitDurable(this.#committed).catch(() => {});
    this.#closed = true;
    const checkpointer = this.#checkpointer;
    this.#checkpointer = undefined;
    if (checkpointer) {
      // Held until it has closed its connection (the last connection to close checkpoints the WAL).
      const exited = new Promise((r) => checkpointer.once("exit", r));
      checkpointer.ref();
      checkpointer.postMessage("close");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      await checkpointer.terminate();
    }
    // The last connection to close checkpoints the WAL into the file, as SQLite does.
    await this.#locked(() => this.#db.close());
    if (this.#walFd !== undefined) closeSync(this.#walFd);
    this.#walFd = undefined;
  }
}
