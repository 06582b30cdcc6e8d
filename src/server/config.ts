import { readFileSync } from "node:fs";
import { TdxError } from "../errors.js";

/** The broker's configuration (a JSON file, environment variables and flags, in rising precedence). */
export interface BrokerConfig {
  /** development: simulated platform trusted, keys generated under dataDir, demo seeded. production: none of that. */
  mode: "development" | "production";
  /** HOST:PORT (default 127.0.0.1:8080). */
  listen: string;
  /** Data directory (default ./data): SQLite file, development keys, sim state, collateral cache. */
  dataDir: string;
  /** postgres://... or a SQLite path (default DATA/kbs.db). */
  db?: string;
  kek?: { file?: string };
  /**
   * maxJwtLifetimeSeconds: the longest admin JWT (exp - iat) accepted, default 600. Trustee's kbs-client
   * signs 2-hour tokens (7200); a longer cap lets a stolen token act for longer.
   */
  admin?: { tokenFile?: string; publicKeyFiles?: string[]; maxJwtLifetimeSeconds?: number };
  /** PEM files of the roots to trust instead of Intel's SGX Root CA. */
  trustAnchors?: string[];
  /**
   * The collateral service (PCCS/PCS) and how the broker treats it: redirects (none | same-origin),
   * maxRequestsPerMinute (outbound, all artifacts; default 120), backoffSeconds / maxBackoffSeconds after a
   * failure (10 / 600), notFoundSeconds (a 404 remembered, 300), refreshWaitMs (the longest an attestation
   * waits for a refresh while valid collateral is cached, 1000), maxAgeSeconds / refreshAheadSeconds (1 day).
   */
  collateral?: {
    urls?: string[];
    cacheDir?: string;
    timeoutMs?: number;
    redirects?: "none" | "same-origin";
    maxRequestsPerMinute?: number;
    backoffSeconds?: number;
    maxBackoffSeconds?: number;
    notFoundSeconds?: number;
    refreshWaitMs?: number;
    maxAgeSeconds?: number;
    refreshAheadSeconds?: number;
  };
  /**
   * PostgreSQL deadlines and pool size: connectTimeoutMs (2000; also the wait for a pooled connection),
   * statementTimeoutMs (5000, server side), queryTimeoutMs (statement + 1000, client side: a stalled
   * server), idleInTransactionTimeoutMs (10000), poolSize (10).
   */
  database?: {
    connectTimeoutMs?: number;
    statementTimeoutMs?: number;
    queryTimeoutMs?: number;
    idleInTransactionTimeoutMs?: number;
    poolSize?: number;
  };
  sim?: { dir?: string; scenario?: string };
  session?: { ttlSeconds?: number };
  token?: { ttlSeconds?: number; issuer?: string };
  rateLimit?: {
    auth?: { max: number; windowSeconds: number };
    attest?: { max: number; windowSeconds: number };
    attestPerSession?: { max: number; windowSeconds: number };
  };
  /** Request deadlines in seconds (request: headers and body, default 10; headers, default 5; keepAlive, default 5). */
  http?: { requestTimeoutSeconds?: number; headersTimeoutSeconds?: number; keepAliveSeconds?: number };
  /** Set Secure on the session cookie (when a TLS proxy fronts the broker). */
  secureCookies?: boolean;
  logLevel?: string;
  /**
   * Serve the quote explorer page at / and its unauthenticated /api/verify (default: on in development,
   * off in production).
   */
  explorer?: boolean;
  /** Serve Prometheus metrics at /metrics, unauthenticated (default: on in development, off in production). */
  metrics?: boolean;
  /** Attestation policy id applied at /attest (default "default"). */
  attestationPolicy?: string;
}

const KEYS: Record<string, string> = {
  mode: "string",
  listen: "string",
  dataDir: "string",
  db: "string",
  kek: "object",
  admin: "object",
  trustAnchors: "array",
  collateral: "object",
  database: "object",
  sim: "object",
  session: "object",
  token: "object",
  rateLimit: "object",
  http: "object",
  secureCookies: "boolean",
  logLevel: "string",
  explorer: "boolean",
  metrics: "boolean",
  attestationPolicy: "string",
};

/** The keys of the configuration's objects and their types ("count": a non-negative integer). */
const NESTED: Record<string, Record<string, string>> = {
  kek: { file: "string" },
  admin: { tokenFile: "string", publicKeyFiles: "array", maxJwtLifetimeSeconds: "count" },
  collateral: {
    urls: "array",
    cacheDir: "string",
    timeoutMs: "count",
    redirects: "one of none|same-origin",
    maxRequestsPerMinute: "count",
    backoffSeconds: "count",
    maxBackoffSeconds: "count",
    notFoundSeconds: "count",
    refreshWaitMs: "count",
    maxAgeSeconds: "count",
    refreshAheadSeconds: "count",
  },
  database: {
    connectTimeoutMs: "count",
    statementTimeoutMs: "count",
    queryTimeoutMs: "count",
    idleInTransactionTimeoutMs: "count",
    poolSize: "count",
  },
  sim: { dir: "string", scenario: "string" },
  session: { ttlSeconds: "count" },
  token: { ttlSeconds: "count", issuer: "string" },
  rateLimit: { auth: "object", attest: "object", attestPerSession: "object" },
  http: { requestTimeoutSeconds: "count", headersTimeoutSeconds: "count", keepAliveSeconds: "count" },
};

/** Read and check a JSON config file; unknown keys are errors (a typo must not silently weaken security). */
export function readConfigFile(path: string): Partial<BrokerConfig> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new TdxError("KBS_CONFIG_INVALID", `cannot read config ${path}: ${(e as Error).message}`, {
      field: path,
      hint: 'the config is one JSON object; see docs/kbs.md "Production configuration"',
    });
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw new TdxError("KBS_CONFIG_INVALID", `config ${path} must be a JSON object`, { field: path });
  for (const [k, v] of Object.entries(doc)) {
    const want = KEYS[k];
    if (!want)
      throw new TdxError("KBS_CONFIG_INVALID", `config ${path}: unknown key ${k}`, {
        field: k,
        hint: `known keys: ${Object.keys(KEYS).join(", ")}`,
      });
    const got = Array.isArray(v) ? "array" : typeof v;
    if (got !== want)
      throw new TdxError(
        "KBS_CONFIG_INVALID",
        `config ${path}: ${k} must be ${want === "array" ? "an" : "a"} ${want}`,
        {
          field: k,
        },
      );
  }
  for (const [k, fields] of Object.entries(NESTED)) {
    const v = (doc as Record<string, unknown>)[k];
    if (v === undefined) continue;
    for (const [sub, val] of Object.entries(v as Record<string, unknown>)) {
      const want = fields[sub];
      if (!want)
        throw new TdxError("KBS_CONFIG_INVALID", `config ${path}: unknown key ${k}.${sub}`, {
          field: `${k}.${sub}`,
          hint: `known keys of ${k}: ${Object.keys(fields).join(", ")}`,
        });
      const ok =
        want === "array"
          ? Array.isArray(val) && val.every((x) => typeof x === "string")
          : want === "count"
            ? typeof val === "number" && Number.isInteger(val) && val >= 0
            : want.startsWith("one of ")
              ? want.slice(7).split("|").includes(String(val))
              : typeof val === want;
      if (!ok)
        throw new TdxError(
          "KBS_CONFIG_INVALID",
          `config ${path}: ${k}.${sub} must be ${want === "array" ? "a list of strings" : want === "count" ? "a non-negative integer" : want.startsWith("one of ") ? want.replace("|", ", ") : `a ${want}`}`,
          { field: `${k}.${sub}` },
        );
    }
  }
  const c = doc as Partial<BrokerConfig>;
  if (c.mode !== undefined && c.mode !== "development" && c.mode !== "production")
    throw new TdxError("KBS_CONFIG_INVALID", `config ${path}: mode must be development or production`, {
      field: "mode",
    });
  return c;
}

/** Environment variables the broker reads (documented in docs/kbs.md). */
export function configFromEnv(env: NodeJS.ProcessEnv): Partial<BrokerConfig> {
  const c: Partial<BrokerConfig> = {};
  if (env.TDX_ATTEST_MODE === "production" || env.TDX_ATTEST_MODE === "development")
    c.mode = env.TDX_ATTEST_MODE;
  if (env.TDX_ATTEST_LISTEN) c.listen = env.TDX_ATTEST_LISTEN;
  if (env.TDX_ATTEST_DATA) c.dataDir = env.TDX_ATTEST_DATA;
  if (env.TDX_ATTEST_DB) c.db = env.TDX_ATTEST_DB;
  if (env.TDX_ATTEST_PCCS_URL)
    c.collateral = { urls: env.TDX_ATTEST_PCCS_URL.split(",").map((s) => s.trim()) };
  if (env.TDX_ATTEST_LOG_LEVEL) c.logLevel = env.TDX_ATTEST_LOG_LEVEL;
  return c;
}

/** Merge layers (later wins; nested objects merged one level deep) and fill defaults. */
export function resolveConfig(...layers: Partial<BrokerConfig>[]): BrokerConfig {
  const out: Record<string, unknown> = {};
  for (const layer of layers)
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      const prev = out[k];
      out[k] =
        prev && typeof prev === "object" && !Array.isArray(prev) && typeof v === "object" && !Array.isArray(v)
          ? { ...prev, ...v }
          : v;
    }
  const c = out as Partial<BrokerConfig>;
  return {
    ...c,
    mode: c.mode ?? "development",
    listen: c.listen ?? "127.0.0.1:8080",
    dataDir: c.dataDir ?? "./data",
  };
}

/** Split HOST:PORT ([v6]:port allowed). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw new TdxError("KBS_LISTEN_INVALID", `--listen ${listen} is not HOST:PORT`, {
      field: "listen",
      hint: "e.g. 127.0.0.1:8080 or [::1]:8080",
    });
  return { host: (m[1] ?? m[2])!, port };
}
