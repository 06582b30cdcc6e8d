import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { TdxEvidenceVerifier } from "../../attest/verifier.js";
import { INTEL_PCS_URL } from "../../collateral/client.js";
import { isErrorCode } from "../../error-registry.js";
import { TdxError } from "../../errors.js";
import { isAzTdxVtpmProvider, openProvider, PROVIDER_NAMES, type ProviderName } from "../../guest/index.js";
import type { AzTdxVtpmEvidenceSource } from "../../kbs/az-client.js";
import { KbsClient, type QuoteSource } from "../../kbs/client.js";
import { signAdminJwt } from "../../server/admin-auth.js";
import {
  type BrokerConfig,
  configFromEnv,
  parseListen,
  readConfigFile,
  resolveConfig,
} from "../../server/config.js";
import type { RunningBroker } from "../../server/serve.js";
import { readInputFile, writeFileAtomic } from "../io.js";
import { writeJson } from "../output.js";
import {
  HeldUntilStarted,
  HTTP_SERVER_PACKAGES,
  loadServer,
  noticeWriter,
  writeStartupLine,
} from "../servers.js";

/**
 * The environment variable of an admin bearer token: src/server/serve.ts's ADMIN_TOKEN_ENV, repeated here so
 * the admin commands do not load the server (test/cli/servers.test.ts checks that the two agree).
 */
export const ADMIN_TOKEN_ENV = "TDX_ATTEST_KBS_ADMIN_TOKEN";

const DEFAULT_KBS_URL = "http://127.0.0.1:8080";
const DEFAULT_ADMIN_TOKEN_FILE = "./data/admin-token";

const collect = (v: string, prev: string[] = []) => [...prev, v];

const isPostgresUrl = (db: string | undefined) => db !== undefined && /^postgres(ql)?:\/\//.test(db);

/** The broker's start-up line (--json): what the banner says, in fields. */
function brokerStartup(broker: RunningBroker, notices: string[]): Record<string, unknown> {
  const { config } = broker;
  const dev = config.mode === "development";
  const dataDir = resolve(config.dataDir);
  const address = broker.app.server.address();
  const { host, port: asked } = parseListen(config.listen);
  const port = address && typeof address === "object" ? address.port : asked;
  // The same choice as startBroker: development without collateral URLs runs on the simulated platform.
  const simDir =
    dev && !config.collateral?.urls ? resolve(config.sim?.dir ?? join(dataDir, "sim")) : undefined;
  const simRootFile = simDir ? join(simDir, "root-ca.pem") : undefined;
  const simRootSha =
    simRootFile && existsSync(simRootFile)
      ? new X509Certificate(readFileSync(simRootFile)).fingerprint256.replace(/:/g, "").toLowerCase()
      : undefined;
  const verifier = broker.service.verifier;
  const roots = verifier instanceof TdxEvidenceVerifier ? verifier.dcapVerifier.trustRoots : [];
  const dbUrl = config.db ?? join(dataDir, "kbs.db");
  let database: Record<string, unknown> = { dialect: broker.store.dialect };
  if (isPostgresUrl(config.db)) {
    // Never the URL itself: it may carry a password.
    const u = new URL(dbUrl);
    database = { ...database, host: u.hostname, port: Number(u.port || 5432), name: u.pathname.slice(1) };
  } else database = { ...database, file: resolve(dbUrl) };
  return {
    server: "kbs",
    mode: config.mode,
    url: broker.url,
    host,
    port,
    dataDir,
    database,
    trustRoots: roots.map((r) =>
      r.sha256 === simRootSha ? { ...r, simulated: true, file: simRootFile } : { ...r, simulated: false },
    ),
    collateral: simDir
      ? { source: "simulated", simState: simDir }
      : {
          source: "pcs",
          urls: config.collateral?.urls ?? [INTEL_PCS_URL],
          cacheDir: resolve(config.collateral?.cacheDir ?? join(dataDir, "collateral-cache")),
        },
    explorer: config.explorer ?? dev,
    metrics: config.metrics ?? dev,
    notices,
  };
}

/** Registers serve, get-resource and the kbs admin commands on the tdx-attest program. */
export function registerKbsCommands(program: Command): void {
  program
    .command("serve")
    .summary("run the key broker (the main job): verify TD quotes, release secrets to verified TDs")
    .description(
      "Run the key broker (KBS protocol 0.4.0): verify TD quotes, release secrets wrapped to the TD's key. " +
        "Without --config it runs in development mode: a simulated platform under DATA/sim is trusted and a " +
        "demo resource default/disk/key is seeded (it says so loudly). With --config: production mode.",
    )
    .option("--listen <host:port>", "address to listen on (default 127.0.0.1:8080)")
    .option("--db <url>", "postgres://user:pass@host/db or a SQLite file (default DATA/kbs.db)")
    .option("--data <dir>", "data directory (default ./data)")
    .option("--config <file>", "JSON configuration (implies --mode production unless it says otherwise)")
    .option("--mode <mode>", "development or production")
    .option("--kek-file <file>", "key-encryption key file (32 bytes, hex or base64); or $TDX_ATTEST_KBS_KEK")
    .option("--admin-token-file <file>", `admin bearer token file; or $${ADMIN_TOKEN_ENV}`)
    .option("--admin-public-key <pem>", "admin public key that verifies admin JWTs (repeatable)", collect)
    .option(
      "--admin-jwt-max-lifetime <seconds>",
      "longest admin JWT accepted (exp - iat; default 600; Trustee's kbs-client signs 7200): longer means a leaked token works longer",
    )
    .option("--request-timeout <seconds>", "deadline for a whole HTTP request, headers and body (default 10)")
    .option("--pccs-url <url>", "PCCS/PCS base URL for collateral (repeatable, tried in order)", collect)
    .option(
      "--trust-anchor <pem>",
      "root CA PEM to trust instead of Intel's SGX Root CA (repeatable)",
      collect,
    )
    .option("--sim-state <dir>", "development: simulated platform state (default DATA/sim)")
    .option("--log-level <level>", "pino log level (default info)")
    .option(
      "--explorer",
      "serve the quote explorer page at / and its /api/verify (default: development only)",
    )
    .option("--no-explorer", "do not serve the quote explorer page")
    .option("--metrics", "serve Prometheus metrics at /metrics (default: development only)")
    .option("--no-metrics", "do not serve /metrics")
    .option(
      "--json",
      "print the start-up as one JSON object on stdout (url, port, mode, database, trust roots with their SHA-256, collateral, notices) instead of the banner; the request log follows as JSON lines",
    )
    .addHelpText(
      "after",
      "\nThe broker needs the packages fastify, prom-client and better-sqlite3 (or pg for a postgres:// --db):\n" +
        "optional peer dependencies of tdx-attest, installed with `npm install fastify prom-client better-sqlite3`.\n" +
        "\nExamples:\n  tdx-attest serve\n  tdx-attest serve --config /etc/tdx-attest/kbs.json\n" +
        "  tdx-attest serve --listen 127.0.0.1:0 --json | head -n 1    # the start-up object: url, port, trust roots\n",
    )
    .action(async (o: Record<string, unknown>) => {
      const file = o.config ? readConfigFile(String(o.config)) : {};
      const flags: Partial<BrokerConfig> = {};
      if (o.config) flags.mode = file.mode ?? "production";
      if (o.mode !== undefined) {
        if (o.mode !== "development" && o.mode !== "production")
          throw new TdxError(
            "KBS_CONFIG_INVALID",
            `--mode ${String(o.mode)} is not development or production`,
            {
              field: "mode",
            },
          );
        flags.mode = o.mode;
      }
      if (o.listen) flags.listen = String(o.listen);
      if (o.db) flags.db = String(o.db);
      if (o.data) flags.dataDir = String(o.data);
      if (o.kekFile) flags.kek = { file: String(o.kekFile) };
      if (o.adminTokenFile || o.adminPublicKey || o.adminJwtMaxLifetime)
        flags.admin = {
          ...(o.adminTokenFile ? { tokenFile: String(o.adminTokenFile) } : {}),
          ...(o.adminPublicKey ? { publicKeyFiles: o.adminPublicKey as string[] } : {}),
          ...(o.adminJwtMaxLifetime
            ? { maxJwtLifetimeSeconds: seconds(o.adminJwtMaxLifetime, "admin-jwt-max-lifetime") }
            : {}),
        };
      if (o.requestTimeout)
        flags.http = { requestTimeoutSeconds: seconds(o.requestTimeout, "request-timeout") };
      if (o.pccsUrl) flags.collateral = { urls: o.pccsUrl as string[] };
      if (o.trustAnchor) flags.trustAnchors = o.trustAnchor as string[];
      if (o.simState) flags.sim = { dir: String(o.simState) };
      if (o.logLevel) flags.logLevel = String(o.logLevel);
      if (typeof o.explorer === "boolean") flags.explorer = o.explorer;
      if (typeof o.metrics === "boolean") flags.metrics = o.metrics;
      const config = resolveConfig(file, configFromEnv(process.env), flags);
      const dbPackage = isPostgresUrl(config.db) ? "pg" : "better-sqlite3";
      const { closeOnSignals, startBroker } = await loadServer(
        "serve",
        [...HTTP_SERVER_PACKAGES, "prom-client", dbPackage],
        () => import("../../server/serve.js"),
      );
      if (!o.json) {
        await closeOnSignals(startBroker(config));
        return;
      }
      // --json: the banner's lines become the start-up object's notices; the request log waits for it.
      const notices: string[] = [];
      const requestLog = new HeldUntilStarted();
      const starting = startBroker(config, { say: (l) => notices.push(l), logger: { stream: requestLog } });
      // A failed start: what it said and logged meanwhile is let through before the error.
      starting.catch(() => {
        for (const n of notices) noticeWriter(true)(n);
        requestLog.release();
      });
      await closeOnSignals(
        starting.then((broker) => {
          writeStartupLine(brokerStartup(broker, notices));
          requestLog.release();
          return broker;
        }),
        noticeWriter(true),
      );
    });

  program
    .command("get-resource")
    .summary("from inside a TD: attest to a key broker and print a secret (e.g. a disk key)")
    .description(
      "From inside a TD (or the simulator): attest to a key broker and print the resource REPO/TYPE/TAG.\n" +
        "Example: tdx-attest get-resource default/disk/key --kbs http://kbs:8080 | cryptsetup open --key-file=- /dev/vdb data",
    )
    .argument("<path>", "resource path REPOSITORY/TYPE/TAG")
    .option("--kbs <url>", "key broker URL (default $TDX_ATTEST_KBS_URL or http://127.0.0.1:8080)")
    .option(
      "--provider <name>",
      "evidence provider: auto, configfs, device, legacy, qgs, az-tdx-vtpm (Azure TDX VM: sends az-tdx-vtpm evidence) or sim",
      "auto",
    )
    .option(
      "--sim-state <dir>",
      "simulated platform state for --provider sim (default $TDX_SIM_STATE, else ./data/sim)",
    )
    .option(
      "--qgs <addr>",
      "QGS address for the device/qgs providers (unix:PATH, tcp:HOST:PORT, vsock:[CID:]PORT)",
    )
    .option(
      "--eventlog <file>",
      "event log to send with the quote (CCEL with runtime events, or a runtime log; not on Azure, whose evidence carries the PCRs)",
    )
    .option(
      "--init-data <file>",
      "init-data document (TOML) the TD was launched with: sent along, the broker checks it against MRCONFIGID",
    )
    .option("--out <file>", "write the secret to this file (mode 0600) instead of stdout")
    .option("--key-type <type>", "TEE key: ec (P-256, ECDH-ES+A256KW) or rsa (RSA-OAEP-256)", "ec")
    .option("--token-out <file>", "also write the attestation token (JWT) here")
    .option("--json", "print {path, size, secret (base64) or out, token} as JSON")
    .action(async (path: string, o: Record<string, string | undefined>) => {
      const keyType = o.keyType === "rsa" ? "rsa" : o.keyType === "ec" ? "ec" : undefined;
      if (!keyType)
        throw new TdxError("KBS_KEY_TYPE_INVALID", `--key-type ${o.keyType} is not ec or rsa`, {
          field: "key-type",
        });
      const source = await quoteSourceFor(o.provider ?? "auto", {
        ...(o.simState ? { simDir: o.simState } : {}),
        ...(o.qgs ? { qgs: o.qgs } : {}),
        ...(o.eventlog ? { eventlog: o.eventlog } : {}),
      });
      const initData = o.initData ? Buffer.from(readInputFile(o.initData)).toString("utf8") : undefined;
      const client = new KbsClient({ url: kbsUrl(o.kbs) });
      const { secret, token } = await client.getResource(path, source, {
        keyType,
        ...(initData !== undefined ? { initData } : {}),
      });
      if (o.tokenOut) writeFileAtomic(o.tokenOut, `${token}\n`, 0o600);
      if (o.out) writeFileAtomic(o.out, secret, 0o600);
      if (o.json)
        writeJson({
          path,
          size: secret.length,
          out: o.out ?? null,
          ...(o.out ? {} : { secret: Buffer.from(secret).toString("base64") }),
          token,
        });
      else if (!o.out) await writeStdout(secret);
      secret.fill(0);
    });

  const kbs = program.command("kbs").description("administer a key broker: secrets, policies, audit log");
  const adminOptions = (c: Command) =>
    c
      .option("--kbs <url>", "key broker URL (default $TDX_ATTEST_KBS_URL or http://127.0.0.1:8080)")
      .option(
        "--admin-token-file <file>",
        `admin token file (default $${ADMIN_TOKEN_ENV}, else ./data/admin-token)`,
      )
      .option("--admin-key <pem>", "sign a short-lived admin JWT with this private key instead of a token")
      .option("--json", "print JSON");

  const secret = kbs.command("secret").description("Resources the broker releases");
  adminOptions(
    secret
      .command("put")
      .description("store a secret (create or replace) under a resource policy")
      .argument("<path>", "REPOSITORY/TYPE/TAG")
      .requiredOption("--file <file>", "the secret's bytes (- for stdin)")
      .option("--policy <id>", "resource policy that guards it (default: default)"),
  ).action(async (path: string, o: AdminOpts & { file: string; policy?: string }) => {
    const bytes = readInputFile(o.file);
    const q = o.policy ? `?policy=${encodeURIComponent(o.policy)}` : "";
    const res = await adminCall(
      o,
      "PUT",
      `/kbs/v0/resource/${resourcePath(path)}${q}`,
      Buffer.from(bytes),
      "application/octet-stream",
    );
    const out = (await res.json()) as { path: string; policyId: string; size: number };
    if (o.json) writeJson(out);
    else
      process.stdout.write(`stored ${out.path} (${out.size} bytes) under resource policy ${out.policyId}\n`);
  });
  adminOptions(
    secret
      .command("get")
      .description("read a secret back as an administrator (its bytes, or --json with them in base64)")
      .argument("<path>", "REPOSITORY/TYPE/TAG")
      .option("--out <file>", "write it here (mode 0600) instead of stdout"),
  ).action(async (path: string, o: AdminOpts & { out?: string }) => {
    const res = await adminCall(o, "GET", `/kbs/v0/admin/resource/${resourcePath(path)}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (o.out) writeFileAtomic(o.out, bytes, 0o600);
    if (o.json)
      return writeJson({
        path,
        size: bytes.length,
        out: o.out ?? null,
        ...(o.out ? {} : { base64: Buffer.from(bytes).toString("base64") }),
      });
    if (!o.out) await writeStdout(bytes);
  });
  adminOptions(
    secret.command("list").description("list the stored secrets with their policies and sizes"),
  ).action(async (o: AdminOpts) => {
    const res = await adminCall(o, "GET", "/kbs/v0/admin/resources");
    const { resources } = (await res.json()) as {
      resources: { path: string; policyId: string; size: number; updatedAt: number }[];
    };
    if (o.json) return writeJson(resources);
    for (const r of resources)
      process.stdout.write(
        `${r.path}\t${r.size} bytes\tpolicy ${r.policyId}\tupdated ${new Date(r.updatedAt).toISOString()}\n`,
      );
  });
  adminOptions(
    secret.command("delete").description("delete a secret").argument("<path>", "REPOSITORY/TYPE/TAG"),
  ).action(async (path: string, o: AdminOpts) => {
    await adminCall(o, "DELETE", `/kbs/v0/resource/${resourcePath(path)}`);
    if (!o.json) process.stdout.write(`deleted ${path}\n`);
    else writeJson({ deleted: path });
  });

  const policy = kbs
    .command("policy")
    .description(
      "Resource policies (release rules over token claims) and attestation policies (appraisal at /attest)",
    );
  const kindOpt = (c: Command) => c.option("--kind <kind>", "resource or attestation", "resource");
  adminOptions(
    kindOpt(
      policy
        .command("set")
        .description("store a policy (create or replace) from a JSON file")
        .argument("<id>", "policy id")
        .requiredOption("--file <file>", "policy JSON (- for stdin)"),
    ),
  ).action(async (id: string, o: AdminOpts & { file: string; kind: string }) => {
    const text = Buffer.from(readInputFile(o.file)).toString("utf8");
    const res = await adminCall(
      o,
      "PUT",
      `/kbs/v0/admin/policy/${kind(o.kind)}/${encodeURIComponent(id)}`,
      text,
      "text/plain",
    );
    const p = (await res.json()) as { kind: string; id: string };
    if (o.json) writeJson(p);
    else process.stdout.write(`stored ${p.kind} policy ${p.id}\n`);
  });
  adminOptions(
    kindOpt(policy.command("get").description("print a policy's JSON").argument("<id>", "policy id")),
  ).action(async (id: string, o: AdminOpts & { kind: string }) => {
    const res = await adminCall(o, "GET", `/kbs/v0/admin/policy/${kind(o.kind)}/${encodeURIComponent(id)}`);
    const p = (await res.json()) as { body: string };
    if (o.json) writeJson(p);
    else process.stdout.write(p.body.endsWith("\n") ? p.body : `${p.body}\n`);
  });
  adminOptions(
    policy
      .command("list")
      .description("list the policies")
      .option("--kind <kind>", "only resource or attestation policies"),
  ).action(async (o: AdminOpts & { kind?: string }) => {
    const res = await adminCall(o, "GET", `/kbs/v0/admin/policies${o.kind ? `?kind=${kind(o.kind)}` : ""}`);
    const { policies } = (await res.json()) as {
      policies: { kind: string; id: string; updatedAt: number }[];
    };
    if (o.json) return writeJson(policies);
    for (const p of policies)
      process.stdout.write(`${p.kind}\t${p.id}\tupdated ${new Date(p.updatedAt).toISOString()}\n`);
  });
  adminOptions(
    kindOpt(policy.command("delete").description("delete a policy").argument("<id>", "policy id")),
  ).action(async (id: string, o: AdminOpts & { kind: string }) => {
    await adminCall(o, "DELETE", `/kbs/v0/admin/policy/${kind(o.kind)}/${encodeURIComponent(id)}`);
    if (o.json) writeJson({ deleted: id });
    else process.stdout.write(`deleted ${o.kind} policy ${id}\n`);
  });

  const audit = kbs
    .command("audit")
    .description(
      "Print the audit log (every release, refusal, attestation and admin change); export it, prune what was exported",
    );
  adminOptions(
    audit
      .option("--after <id>", "only entries after this id")
      .option("--limit <n>", "at most this many entries (default 100)")
      .option("--resource <path>", "only entries about this resource"),
  ).action(async (o: AdminOpts & { after?: string; limit?: string; resource?: string }) => {
    const q = new URLSearchParams();
    if (o.after) q.set("after", o.after);
    if (o.limit) q.set("limit", o.limit);
    if (o.resource) q.set("resource", o.resource);
    const res = await adminCall(o, "GET", `/kbs/v0/admin/audit${q.size ? `?${q}` : ""}`);
    const { entries } = (await res.json()) as { entries: AuditLine[] };
    if (o.json) return writeJson(entries);
    // Actors (a JWT's sub) and reasons come from outside: printed with control characters escaped, so
    // a name cannot move the cursor, clear the screen or forge a line. --json has them raw (JSON-escaped).
    for (const e of entries)
      process.stdout.write(
        `${e.id}\t${new Date(e.at).toISOString()}\t${e.event}\t${e.verdict}\t${printable(e.resource ?? "-")}\t${printable(e.actor ?? "")}${e.reason ? `\t${printable(e.reason)}` : ""}\n`,
      );
  });
  adminOptions(
    audit
      .command("export")
      .description(
        "Write the audit log as JSON lines: each claim set once ({kind: claims, digest, claims}) before the rows that reference it ({kind: audit, ...})",
      )
      .requiredOption("--out <file>", "the .jsonl file to write (written whole, then renamed into place)")
      .option("--after <id>", "only entries after this id (to continue an earlier export)"),
  ).action(async (o: AdminOpts & { out: string; after?: string }) => {
    const lines: string[] = [];
    const seen = new Set<string>();
    let after = o.after ? Number(o.after) : 0;
    let rows = 0;
    let last = after;
    for (;;) {
      const res = await adminCall(o, "GET", `/kbs/v0/admin/audit?after=${after}&limit=5000&claims=1`);
      const page = (await res.json()) as { entries: AuditLine[]; claimSets: Record<string, unknown> };
      for (const e of page.entries) {
        if (e.claimsRef && !seen.has(e.claimsRef) && page.claimSets[e.claimsRef] !== undefined) {
          seen.add(e.claimsRef);
          lines.push(
            JSON.stringify({ kind: "claims", digest: e.claimsRef, claims: page.claimSets[e.claimsRef] }),
          );
        }
        lines.push(JSON.stringify({ kind: "audit", ...e }));
        rows++;
        last = e.id;
      }
      if (page.entries.length < 5000) break;
      after = last;
    }
    writeFileAtomic(o.out, lines.length ? `${lines.join("\n")}\n` : "", 0o600);
    if (o.json) writeJson({ out: o.out, rows, claimSets: seen.size, lastId: last });
    else
      process.stdout.write(
        `wrote ${rows} audit rows and ${seen.size} claim sets to ${o.out} (last id ${last}; continue with --after ${last})\n`,
      );
  });
  adminOptions(
    audit
      .command("prune")
      .description(
        "Delete audit rows older than a date (export them first); the prune is itself audited and newer rows stay append-only",
      )
      .requiredOption("--before <date>", "ISO 8601 date, e.g. 2026-01-01; at most an hour ago"),
  ).action(async (o: AdminOpts & { before: string }) => {
    const res = await adminCall(
      o,
      "POST",
      "/kbs/v0/admin/audit/prune",
      JSON.stringify({ before: o.before }),
      "application/json",
    );
    const out = (await res.json()) as { pruned: number; before: string };
    if (o.json) writeJson(out);
    else process.stdout.write(`pruned ${out.pruned} audit rows older than ${out.before}\n`);
  });
}

interface AuditLine {
  id: number;
  at: number;
  event: string;
  resource: string | null;
  verdict: string;
  reason: string | null;
  actor: string | null;
  claimsRef?: string | null;
}

interface AdminOpts {
  kbs?: string;
  adminTokenFile?: string;
  adminKey?: string;
  json?: boolean;
}

function seconds(v: unknown, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new TdxError("KBS_CONFIG_INVALID", `--${flag} ${String(v)} is not a positive number of seconds`, {
      field: flag,
    });
  return n;
}

function kbsUrl(flag: string | undefined): string {
  return flag ?? process.env.TDX_ATTEST_KBS_URL ?? DEFAULT_KBS_URL;
}

function kind(k: string): string {
  if (k !== "resource" && k !== "attestation")
    throw new TdxError("KBS_POLICY_KIND_INVALID", `--kind ${k} is not resource or attestation`, {
      field: "kind",
    });
  return k;
}

function resourcePath(p: string): string {
  const parts = p.split("/");
  if (parts.length !== 3 || parts.some((x) => x === ""))
    throw new TdxError("KBS_RESOURCE_PATH_INVALID", `${p} is not REPOSITORY/TYPE/TAG`, {
      field: "path",
      hint: "e.g. default/disk/key",
    });
  return parts.map(encodeURIComponent).join("/");
}

async function adminCredential(o: AdminOpts): Promise<string> {
  if (o.adminKey) return signAdminJwt(readFileSync(o.adminKey, "utf8"), new Date());
  if (o.adminTokenFile) return readFileSync(o.adminTokenFile, "utf8").trim();
  const env = process.env[ADMIN_TOKEN_ENV];
  if (env) return env.trim();
  if (existsSync(DEFAULT_ADMIN_TOKEN_FILE)) return readFileSync(DEFAULT_ADMIN_TOKEN_FILE, "utf8").trim();
  throw new TdxError("KBS_ADMIN_CREDENTIAL_MISSING", "no admin credential", {
    hint: `pass --admin-token-file FILE or --admin-key KEY.pem, or set $${ADMIN_TOKEN_ENV}`,
  });
}

async function adminCall(
  o: AdminOpts,
  method: string,
  path: string,
  body?: Buffer | string,
  contentType?: string,
) {
  const base = kbsUrl(o.kbs).replace(/\/+$/, "");
  const headers: Record<string, string> = { authorization: `Bearer ${await adminCredential(o)}` };
  if (contentType) headers["content-type"] = contentType;
  let res: Response;
  try {
    const payload = typeof body === "string" || body === undefined ? body : new Uint8Array(body);
    res = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload as BodyInit } : {}),
    });
  } catch (e) {
    throw new TdxError("KBS_UNREACHABLE", `cannot reach the key broker at ${base}: ${(e as Error).message}`, {
      hint: "check --kbs URL and that the broker runs (tdx-attest serve)",
    });
  }
  if (res.ok) return res;
  let p: Record<string, unknown> = {};
  try {
    p = (await res.json()) as Record<string, unknown>;
  } catch {
    // not a problem document
  }
  // A code this version does not declare (another broker, no problem document) is KBS_HTTP_ERROR.
  const code = isErrorCode(p.code) ? p.code : "KBS_HTTP_ERROR";
  const data: Record<string, unknown> = { status: res.status };
  if (code !== p.code && p.code !== undefined) data.code = p.code;
  if (p.denials) data.denials = p.denials;
  throw new TdxError(code, `the key broker refused (${res.status}): ${String(p.detail ?? res.statusText)}`, {
    ...(code === p.code && typeof p.field === "string" ? { field: p.field } : {}),
    ...(code === p.code && typeof p.offset === "number" ? { offset: p.offset } : {}),
    ...(typeof p.hint === "string" ? { hint: p.hint } : {}),
    data,
  });
}

/**
 * An evidence source for get-resource: a guest provider (configfs-tsm, /dev/tdx_guest, QGS, or the simulator);
 * on an Azure TDX confidential VM (or a simulated one) its az-tdx-vtpm evidence, v2 as Trustee's attester sends.
 */
async function quoteSourceFor(
  provider: string,
  opts: { simDir?: string; qgs?: string; eventlog?: string },
): Promise<QuoteSource | AzTdxVtpmEvidenceSource> {
  if (!(provider === "auto" || (PROVIDER_NAMES as readonly string[]).includes(provider)))
    throw new TdxError("KBS_PROVIDER_INVALID", `--provider ${provider} is not a quote provider`, {
      field: "provider",
      hint: `use auto or one of: ${PROVIDER_NAMES.join(", ")}`,
    });
  const p = await openProvider(provider as ProviderName | "auto", {
    ...(opts.simDir ? { simState: opts.simDir } : {}),
    ...(opts.qgs ? { qgs: opts.qgs } : {}),
  });
  if (isAzTdxVtpmProvider(p)) {
    if (opts.eventlog)
      throw new TdxError(
        "KBS_EVENTLOG_UNSUPPORTED",
        "--eventlog cannot go with az-tdx-vtpm evidence: the RTMRs are the paravisor's",
        {
          field: "eventlog",
          hint: "on Azure the guest's measurements are the vTPM PCRs the evidence carries; drop --eventlog",
        },
      );
    return {
      tee: "az-tdx-vtpm",
      getAzTdxVtpmEvidence: async (reportData) => (await p.getAzTdxVtpmEvidence(reportData)).json,
    };
  }
  const ccEventlog = opts.eventlog ? readInputFile(opts.eventlog) : undefined;
  return {
    getQuote: async (reportData) => ({
      quote: await p.getQuote(reportData),
      ...(ccEventlog ? { ccEventlog } : {}),
    }),
  };
}

function writeStdout(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(bytes, (e) => (e ? reject(e) : resolve()));
  });
}

/**
 * Text from the audit log made safe for a terminal: C0 and C1 control characters (ESC, CR, LF, TAB, ...),
 * DEL and the Unicode bidirectional overrides are written as \xNN / \uNNNN, and a backslash as \\ so the
 * escaped form cannot be mistaken for the raw one.
 */
export function printable(text: string): string {
  return text.replace(/[\\\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === "\\") return "\\\\";
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`;
  });
}
