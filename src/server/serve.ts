import { randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import { TdxEvidenceVerifier } from "../attest/index.js";
import { type CollateralProvider, INTEL_PCS_URL, PcsCollateralProvider } from "../collateral/index.js";
import { TdxError } from "../errors.js";
import { loadKek } from "../kbs/kek.js";
import { KbsService } from "../kbs/service.js";
import { type KbsStore, openStore } from "../kbs/store/index.js";
import { initSimPlatform, loadSimPlatform, SimCollateralProvider, type SimPlatform } from "../sim/index.js";
import { INTEL_SGX_ROOT_CA_PEM } from "../verify/index.js";
import { AdminAuth, readAdminPublicKey } from "./admin-auth.js";
import type { BrokerConfig } from "./config.js";
import { parseListen } from "./config.js";
import { buildKbsApp } from "./kbs-app.js";

/** Environment variable holding an admin bearer token (alternative to admin.tokenFile). */
export const ADMIN_TOKEN_ENV = "TDX_ATTEST_KBS_ADMIN_TOKEN";
export const DEMO_RESOURCE = "default/disk/key";
export const DEMO_POLICY = "disk-unlock";

/** The demo resource's policy: an attested, non-debug TD on an up-to-date platform with current collateral. */
export const DISK_UNLOCK_POLICY = {
  description:
    "release a disk key to a TD that passed attestation, is not debuggable and runs on an up-to-date platform",
  rules: [
    { name: "attested", claim: "ear_status", in: ["affirming", "warning"] },
    { name: "not-debuggable", claim: "debug", equals: false },
    { name: "tcb-up-to-date", claim: "tcb_status", in: ["UpToDate"] },
    { name: "collateral-current", claim: "collateral_expired", equals: false },
  ],
};

export interface RunningBroker {
  url: string;
  app: FastifyInstance;
  service: KbsService;
  store: KbsStore;
  config: BrokerConfig;
  /** Stop accepting, let in-flight requests finish, close the database. */
  close(): Promise<void>;
}

/**
 * Start the key broker from a resolved configuration. Development mode makes everything it needs
 * under dataDir (KEK, admin token, simulated platform) and says so loudly; production mode makes
 * nothing up: KEK from file/env, Intel's root only (unless trustAnchors), collateral from PCCS/PCS.
 */
export async function startBroker(
  config: BrokerConfig,
  opts: {
    say?: (line: string) => void;
    logger?: boolean | Record<string, unknown>;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<RunningBroker> {
  const say = opts.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const env = opts.env ?? process.env;
  const dev = config.mode === "development";
  const dataDir = resolve(config.dataDir);
  const { host, port } = parseListen(config.listen);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const loud = (l: string) => say(`!! DEVELOPMENT DEFAULT: ${l}`);
  // Secrets on disk: production refuses what others can read or what is not a key; development says so.
  const insecure = (e: TdxError) => {
    if (!dev) throw e;
    say(`warning: ${e.message} (refused in production)`);
  };
  const dataMode = statSync(dataDir).mode & 0o777;
  if (dataMode & 0o077)
    say(
      `warning: the data directory ${dataDir} is open to others (mode ${dataMode.toString(8).padStart(4, "0")}); the files the broker creates there are 0600, but chmod 700 it`,
    );

  const {
    kek,
    source: kekSource,
    created,
  } = loadKek({
    ...(config.kek?.file ? { file: config.kek.file } : {}),
    env,
    ...(dev ? { createIfMissingAt: join(dataDir, "kek") } : {}),
  });
  if (config.kek?.file) {
    const e = looseSecretFile(config.kek.file, "key-encryption key");
    if (e) insecure(e);
  }
  const weak = kek.weakness();
  if (weak)
    insecure(
      new TdxError("KBS_KEK_WEAK", `the key-encryption key from ${kekSource} is weak: ${weak}`, {
        field: "kek",
        hint: "generate a random one: head -c 32 /dev/urandom > kek && chmod 600 kek",
      }),
    );
  if (dev && kekSource === join(dataDir, "kek"))
    loud(
      `${created ? "generated" : "using"} the key-encryption key in ${kekSource}; production reads it from kek.file or $TDX_ATTEST_KBS_KEK`,
    );

  // Admin credentials: never open by default.
  const tokens: string[] = [];
  if (config.admin?.tokenFile) {
    const e = looseSecretFile(config.admin.tokenFile, "admin token");
    if (e) insecure(e);
    tokens.push(readSecretFile(config.admin.tokenFile, "admin token"));
  }
  if (env[ADMIN_TOKEN_ENV]) tokens.push(env[ADMIN_TOKEN_ENV]!);
  const publicKeys = (config.admin?.publicKeyFiles ?? []).map((f) =>
    readAdminPublicKey(readSecretFile(f, "admin public key"), f),
  );
  if (dev && tokens.length === 0 && publicKeys.length === 0) {
    const file = join(dataDir, "admin-token");
    if (!existsSync(file)) {
      writeFileSync(file, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
      chmodSync(file, 0o600);
    }
    tokens.push(readSecretFile(file, "admin token"));
    loud(`admin API token in ${file} (the kbs commands read it from there by default)`);
  }
  const adminAuth = new AdminAuth({
    tokens,
    publicKeys,
    ...(config.admin?.maxJwtLifetimeSeconds
      ? { maxJwtLifetimeSeconds: config.admin.maxJwtLifetimeSeconds }
      : {}),
  });
  if (adminAuth.maxJwtLifetimeSeconds > 600)
    say(
      `admin JWTs accepted for up to ${adminAuth.maxJwtLifetimeSeconds} s (admin.maxJwtLifetimeSeconds): a leaked token stays usable that long`,
    );
  if (!adminAuth.enabled)
    say("admin API disabled: no admin.tokenFile, admin.publicKeyFiles or $TDX_ATTEST_KBS_ADMIN_TOKEN");

  // Collateral warnings (a refused answer, an unwritable cache) go to the request log once it exists.
  let warn = (m: string) => say(`warning: ${m}`);

  // Trust anchors and collateral.
  let collateral: CollateralProvider;
  let anchors: string[] | undefined = config.trustAnchors?.map((f) => readFileSync(f, "utf8"));
  let sim: SimPlatform | undefined;
  if (dev && !config.collateral?.urls) {
    const simDir = resolve(config.sim?.dir ?? join(dataDir, "sim"));
    sim = existsSync(join(simDir, "platform.json"))
      ? await loadSimPlatform(simDir)
      : await initSimPlatform(simDir, config.sim?.scenario ? { scenario: config.sim.scenario } : {});
    // Development trusts Intel's root (so real quotes with their own collateral verify, e.g. in the
    // explorer) and the simulated platform's root, and says so below with each root's fingerprint.
    anchors = [...(anchors ?? [INTEL_SGX_ROOT_CA_PEM]), sim.rootCaPem];
    collateral = new SimCollateralProvider(sim);
    loud(
      `trusting the SIMULATED platform root in ${simDir} and its collateral; quotes from real TDX hardware will not verify`,
    );
  } else {
    const c = config.collateral ?? {};
    const urls = c.urls ?? [INTEL_PCS_URL];
    collateral = new PcsCollateralProvider({
      urls,
      cacheDir: c.cacheDir ?? join(dataDir, "collateral-cache"),
      // The fetcher checks what it fetches against the verifier's roots (Intel's unless configured).
      ...(anchors ? { trustAnchors: anchors } : {}),
      ...(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {}),
      ...(c.redirects ? { redirects: c.redirects } : {}),
      ...(c.maxRequestsPerMinute !== undefined ? { maxRequestsPerMinute: c.maxRequestsPerMinute } : {}),
      ...(c.backoffSeconds !== undefined ? { backoffSeconds: c.backoffSeconds } : {}),
      ...(c.maxBackoffSeconds !== undefined ? { maxBackoffSeconds: c.maxBackoffSeconds } : {}),
      ...(c.notFoundSeconds !== undefined ? { notFoundSeconds: c.notFoundSeconds } : {}),
      ...(c.refreshWaitMs !== undefined ? { refreshWaitMs: c.refreshWaitMs } : {}),
      ...(c.maxAgeSeconds !== undefined ? { maxAgeSeconds: c.maxAgeSeconds } : {}),
      ...(c.refreshAheadSeconds !== undefined ? { refreshAheadSeconds: c.refreshAheadSeconds } : {}),
      onWarning: (m) => warn(m),
    });
    say(
      `collateral from ${urls.join(", ")} (cached in ${config.collateral?.cacheDir ?? join(dataDir, "collateral-cache")})`,
    );
  }
  const verifier = new TdxEvidenceVerifier(collateral, anchors ? { trustAnchors: anchors } : {});
  const simRootSha = sim
    ? new X509Certificate(sim.rootCaPem).fingerprint256.replace(/:/g, "").toLowerCase()
    : "";
  say(
    `trust anchors: ${verifier.trustAnchors
      .map((d) =>
        sim && d.includes(simRootSha)
          ? `${d} = the simulated platform's root (${join(resolve(config.sim?.dir ?? join(dataDir, "sim")), "root-ca.pem")})`
          : d,
      )
      .join("; ")}`,
  );

  const dbUrl = config.db ?? join(dataDir, "kbs.db");
  const d = config.database ?? {};
  const store = await openStore(dbUrl, {
    postgres: {
      ...(d.poolSize ? { max: d.poolSize } : {}),
      timeouts: {
        ...(d.connectTimeoutMs ? { connectMs: d.connectTimeoutMs } : {}),
        ...(d.statementTimeoutMs ? { statementMs: d.statementTimeoutMs } : {}),
        ...(d.queryTimeoutMs ? { queryMs: d.queryTimeoutMs } : {}),
        ...(d.idleInTransactionTimeoutMs ? { idleInTransactionMs: d.idleInTransactionTimeoutMs } : {}),
      },
    },
  });
  let service: KbsService;
  try {
    service = await KbsService.create({
      store,
      kek,
      verifier,
      ...(config.session?.ttlSeconds ? { sessionTtlSeconds: config.session.ttlSeconds } : {}),
      ...(config.token?.ttlSeconds ? { tokenTtlSeconds: config.token.ttlSeconds } : {}),
      ...(config.token?.issuer ? { tokenIssuer: config.token.issuer } : {}),
      ...(config.attestationPolicy ? { attestationPolicyId: config.attestationPolicy } : {}),
    });
    if (dev) await seedDemo(service, loud);
  } catch (e) {
    await store.close();
    throw e;
  }

  // Unauthenticated extras are opt-in in production (development keeps both).
  const registerExplorer = config.explorer ?? dev;
  const serveMetrics = config.metrics ?? dev;
  const { app } = await buildKbsApp({
    service,
    adminAuth,
    ...(config.rateLimit?.auth ? { authRateLimit: config.rateLimit.auth } : {}),
    ...(config.rateLimit?.attest ? { attestRateLimit: config.rateLimit.attest } : {}),
    ...(config.rateLimit?.attestPerSession
      ? { attestSessionRateLimit: config.rateLimit.attestPerSession }
      : {}),
    ...(config.http
      ? {
          timeouts: {
            ...(config.http.requestTimeoutSeconds
              ? { requestSeconds: config.http.requestTimeoutSeconds }
              : {}),
            ...(config.http.headersTimeoutSeconds
              ? { headersSeconds: config.http.headersTimeoutSeconds }
              : {}),
            ...(config.http.keepAliveSeconds ? { keepAliveSeconds: config.http.keepAliveSeconds } : {}),
          },
        }
      : {}),
    ...(config.secureCookies ? { secureCookies: true } : {}),
    logger:
      opts.logger === false
        ? false
        : {
            level: config.logLevel ?? "info",
            base: { service: "tdx-attest-kbs" },
            // Written by process.stdout on the event loop (synchronously to a file, a terminal and, on
            // Linux, a pipe), not handed to the thread pool line by line as pino's own destination does:
            // a thread hand-off per request costs more CPU than the line.
            stream: process.stdout,
            ...(typeof opts.logger === "object" ? opts.logger : {}),
          },
    defaultMetrics: true,
    metrics: serveMetrics,
    // The Node version is for the operator's dashboards, not for whoever can reach the port.
    nodeVersionMetric: dev,
    register: registerExplorer
      ? async (a) => {
          const { registerExplorerRoutes } = await import("./explorer/index.js");
          // The explorer verifies with the broker's anchors, verifier caches and collateral source.
          registerExplorerRoutes(a, {
            verifier: verifier.dcapVerifier,
            // Fetched and cached at the server's time, whatever `at` the caller verifies at: a caller's
            // time must not make entries due (a fetch of its choosing) or stamp them far in the future.
            collateralFor: (quote) => collateral.forQuote(quote, new Date()),
          });
        }
      : undefined,
  });
  warn = (m) => app.log.warn({ collateral: true }, m);
  const purge = setInterval(() => {
    store.purgeExpired(Date.now()).catch((e) => app.log.warn({ err: e }, "session purge failed"));
  }, 60_000);
  purge.unref();
  try {
    await app.listen({ host, port });
  } catch (e) {
    clearInterval(purge);
    await app.close();
    await store.close();
    throw new TdxError("KBS_LISTEN_FAILED", `cannot listen on ${config.listen}: ${(e as Error).message}`, {
      cause: e,
      hint: "pick another --listen HOST:PORT or stop what holds the port",
    });
  }
  const addr = app.server.address();
  const boundPort = typeof addr === "object" && addr ? addr.port : port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`;
  say(
    `key broker (${config.mode}) listening on ${url}, database ${store.dialect}${store.dialect === "sqlite" ? ` ${dbUrl}` : ""}`,
  );
  if (dev && sim)
    say(
      `try: tdx-attest get-resource ${DEMO_RESOURCE} --kbs ${url} --provider sim${config.sim?.dir ? ` --sim-state ${config.sim.dir}` : ""}`,
    );
  let closed: Promise<void> | undefined;
  return {
    url,
    app,
    service,
    store,
    config,
    close() {
      closed ??= (async () => {
        clearInterval(purge);
        await app.close();
        await store.close();
      })();
      return closed;
    },
  };
}

async function seedDemo(service: KbsService, loud: (l: string) => void) {
  if (!(await service.store.getPolicy("resource", DEMO_POLICY)))
    await service.putPolicy("resource", DEMO_POLICY, `${JSON.stringify(DISK_UNLOCK_POLICY, null, 2)}\n`, {
      actor: "seed",
    });
  if (!(await service.store.getResource(DEMO_RESOURCE))) {
    // 64 hex characters: printable in a terminal and a valid cryptsetup key file as they are.
    await service.putResource(DEMO_RESOURCE, new TextEncoder().encode(randomBytes(32).toString("hex")), {
      policyId: DEMO_POLICY,
      actor: "seed",
    });
    loud(`seeded the demo resource ${DEMO_RESOURCE} (a random disk key) under policy ${DEMO_POLICY}`);
  }
}

/**
 * A secret file that others than its owner may read or write (any group/other bit): the error to raise
 * in production, else null. The key-encryption key and the admin token are such files.
 */
function looseSecretFile(path: string, what: string): TdxError | null {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return null; // reading it reports the problem
  }
  if ((mode & 0o077) === 0) return null;
  const octal = mode.toString(8).padStart(4, "0");
  return new TdxError(
    "KBS_SECRET_FILE_MODE",
    `the ${what} file ${path} is open to others (mode ${octal}): a secret file must be readable by its owner only`,
    { field: path, hint: `chmod 600 ${path}`, data: { mode: octal } },
  );
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new TdxError(
      "KBS_CONFIG_INVALID",
      `cannot read the ${what} file ${path}: ${(e as Error).message}`,
      {
        field: path,
        hint: "check the path and its permissions",
      },
    );
  }
}

/**
 * Run until SIGTERM/SIGINT, then drain: stop accepting, finish in-flight requests, close the store.
 * The handlers are installed at once, before the broker has started, so a signal that arrives during
 * startup still drains instead of killing the process. A second signal exits at once.
 */
export function closeOnSignals(
  starting: Promise<RunningBroker>,
  say: (l: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<void> {
  return new Promise((resolveDone, rejectDone) => {
    let stopping = false;
    const remove = () => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    };
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        say(`${sig} again: exiting without draining`);
        process.exit(130);
      }
      stopping = true;
      say(`${sig}: draining in-flight requests, then closing`);
      starting
        .then((broker) => broker.close())
        .then(
          () => {
            remove();
            say("key broker stopped");
            resolveDone();
          },
          (e) => {
            remove();
            say(`error while closing: ${(e as Error).message}`);
            process.exitCode = 1;
            resolveDone();
          },
        );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    // A failed start is the command's error, not a shutdown.
    starting.catch((e) => {
      remove();
      rejectDone(e);
    });
  });
}
