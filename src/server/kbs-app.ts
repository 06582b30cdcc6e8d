import { randomUUID } from "node:crypto";
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from "fastify";
import { TdxError } from "../errors.js";
import { parseResourcePolicy } from "../kbs/resource-policy.js";
import {
  DEFAULT_POLICY_ID,
  type KbsService,
  MAX_SEGMENT_LENGTH,
  type RequestContext,
} from "../kbs/service.js";
import type { PolicyKind } from "../kbs/store/index.js";
import { decodePolicyField, regoUnsupported, resourcePolicyFromRego } from "../kbs/trustee-policies.js";
import { readPolicy } from "../policy/index.js";
import { AdminAuth } from "./admin-auth.js";
import { type HttpTimeouts, httpTimeoutOptions, problemOnClientError } from "./http-limits.js";
import { useDepthLimitedJsonParser } from "./json-depth.js";
import { KbsMetrics } from "./metrics.js";
import { sendProblem, statusOf } from "./problem.js";
import { SharedRateLimiter } from "./rate-limit.js";

export const SESSION_COOKIE = "kbs-session-id";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface KbsAppOptions {
  service: KbsService;
  adminAuth?: AdminAuth;
  /** /auth requests per client address per window (default 120 per 60 s; 0 disables). */
  authRateLimit?: { max: number; windowSeconds: number };
  /** /attest requests per client address per window (default 120 per 60 s; 0 disables). */
  attestRateLimit?: { max: number; windowSeconds: number };
  /** /attest requests per session per window (default 10 per 60 s; 0 disables). */
  attestSessionRateLimit?: { max: number; windowSeconds: number };
  /** HTTP timeouts (seconds): see httpTimeoutOptions. */
  timeouts?: HttpTimeouts;
  /** Set the Secure attribute on the session cookie (when clients reach the broker over TLS). */
  secureCookies?: boolean;
  /** Fastify logger option: false in tests, a pino config or instance otherwise. */
  logger?: FastifyServerOptions["logger"];
  /** Extra routes on the same server (the quote explorer). */
  register?: (app: FastifyInstance) => void | Promise<void>;
  /** Node's default process metrics on /metrics (off in tests). */
  defaultMetrics?: boolean;
  /** Serve /metrics (default true; the broker turns it off in production unless configured). */
  metrics?: boolean;
  /** Include nodejs_version_info among the default metrics (default true). */
  nodeVersionMetric?: boolean;
  /** Largest JSON body (evidence with an event log): default 4 MiB. */
  bodyLimit?: number;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    if (part.slice(0, i).trim() !== name) continue;
    const raw = part.slice(i + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      throw new TdxError("KBS_COOKIE_INVALID", `the ${name} cookie is not valid percent-encoding`, {
        field: name,
        hint: "send the kbs-session-id cookie exactly as /kbs/v0/auth set it",
      });
    }
  }
  return undefined;
}

function bearer(req: FastifyRequest): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  return m?.[1];
}

/**
 * The key broker over HTTP: the KBS protocol (RCAR 0.4.0) under /kbs/v0, the admin API, /healthz and
 * /metrics. Errors are application/problem+json with a stable type and code.
 */
export async function buildKbsApp(
  opts: KbsAppOptions,
): Promise<{ app: FastifyInstance; metrics: KbsMetrics }> {
  const svc = opts.service;
  const adminAuth = opts.adminAuth ?? new AdminAuth();
  const metrics = new KbsMetrics({
    ...(svc.verifier.cacheStats ? { cacheStats: () => svc.verifier.cacheStats!() } : {}),
    storeStats: () => svc.store.stats(),
    defaultMetrics: opts.defaultMetrics ?? false,
    nodeVersion: opts.nodeVersionMetric ?? true,
  });
  // Limits live in the store: brokers sharing it share each client's budget, restarts keep it.
  const limits = new SharedRateLimiter(svc.store);
  const authLimit = opts.authRateLimit ?? { max: 120, windowSeconds: 60 };
  const attestLimit = opts.attestRateLimit ?? { max: 120, windowSeconds: 60 };
  const sessionLimit = opts.attestSessionRateLimit ?? { max: 10, windowSeconds: 60 };
  let closing = false;

  /**
   * One access-log line per request, when its answer has gone, with the attestation's verdict on it,
   * instead of Fastify's two (incoming, completed) and a third of the route's own.
   */
  class AccessLog extends Fastify.LogController {
    override incomingRequest(): void {}
    override requestCompleted(
      error: Error | null | undefined,
      req: FastifyRequest,
      reply: FastifyReply,
    ): void {
      const line = {
        // Through the logger's req serializer, which names the address remoteAddress.
        req: { method: req.method, url: req.url, ip: req.ip },
        res: { statusCode: reply.statusCode },
        responseTime: reply.elapsedTime,
        ...(req as FastifyRequest & { outcome?: Record<string, unknown> }).outcome,
      };
      if (error) reply.log.error({ ...line, err: error }, "request errored");
      else reply.log.info(line, "request completed");
    }
  }

  const app = Fastify({
    logger: opts.logger ?? false,
    logController: new AccessLog(),
    bodyLimit: opts.bodyLimit ?? 4 * 1024 * 1024,
    requestIdHeader: "x-request-id",
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // One limit for resource path segments and policy ids (the service's rule), one error shape past it.
    routerOptions: { maxParamLength: MAX_SEGMENT_LENGTH },
    frameworkErrors: (error, _req, reply) => {
      const tooLong = (error as { code?: string }).code === "FST_ERR_MAX_PARAM_LENGTH";
      return sendProblem(
        reply,
        new TdxError(
          tooLong ? "KBS_RESOURCE_PATH_INVALID" : "KBS_REQUEST_INVALID",
          tooLong
            ? `a path segment is longer than ${MAX_SEGMENT_LENGTH} characters`
            : `the request URL could not be read: ${error.message}`,
          {
            field: "path",
            hint: tooLong
              ? `use segments of at most ${MAX_SEGMENT_LENGTH} letters, digits, '.', '_' or '-'`
              : "percent-encode the path correctly",
          },
        ),
      );
    },
    ...httpTimeoutOptions(opts.timeouts),
    clientErrorHandler: problemOnClientError,
  });
  // Callback hooks, not async ones: a promise less per request and hook.
  app.addHook("onResponse", (req, reply, done) => {
    if (closing) setImmediate(() => app.server.closeIdleConnections?.());
    const route = req.routeOptions.url ?? "unmatched";
    metrics.httpDuration.observe(
      { method: req.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
  // Draining: from the moment close starts, answers carry Connection: close and idle sockets are
  // closed, so keep-alive clients with a request in flight do not hold the shutdown open.
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", (req, reply, payload, done) => {
    reply.header("x-request-id", req.id);
    if (closing) reply.header("connection", "close");
    done(null, payload);
  });
  app.setErrorHandler((error, _req, reply) => {
    if (error instanceof TdxError) {
      // The broker's own failures: the client's problem document is terse (no hosts, no URLs); the
      // log has the whole chain of causes under the request id.
      if (statusOf(error.code) >= 500)
        reply.log.warn({ err: error, code: error.code }, `request failed: ${error.code}`);
    } else if (!((error as { statusCode?: number }).statusCode! < 500))
      reply.log.error({ err: error }, "request failed");
    return sendProblem(reply, error);
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(
      reply,
      new TdxError("KBS_NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`, {
        hint: "the KBS protocol lives under /kbs/v0 (auth, attest, resource/REPO/TYPE/TAG)",
      }),
    ),
  );

  // Readiness: can this broker serve now (database answering within a second, not draining)?
  const ready = async (_req: FastifyRequest, reply: FastifyReply) => {
    if (closing) return reply.code(503).header("retry-after", "5").send({ status: "shutting-down" });
    try {
      await svc.store.ping(1000);
      return { status: "ok", db: svc.store.dialect };
    } catch {
      return reply.code(503).header("retry-after", "2").send({ status: "db-unavailable" });
    }
  };
  app.get("/readyz", ready);
  app.get("/healthz", ready);
  // Liveness: the process answers; nothing it depends on is asked (a database outage must not get
  // the broker restarted).
  app.get("/livez", async () => ({ status: "alive" }));
  if (opts.metrics ?? true)
    app.get("/metrics", async (_req, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    });

  await app.register(
    async (kbs) => {
      useDepthLimitedJsonParser(kbs, "KBS_REQUEST_TOO_DEEP");
      kbs.addContentTypeParser(
        ["application/octet-stream", "text/plain"],
        { parseAs: "buffer", bodyLimit: 1024 * 1024 + 1 },
        (_req, body, done) => done(null, body),
      );
      const ctx = (req: FastifyRequest, actor?: string): RequestContext => ({
        requestId: String(req.id),
        ...(actor ? { actor } : {}),
      });

      // ---- RCAR ----
      kbs.post("/auth", async (req, reply) => {
        try {
          // Counted by the session's own insert (one statement on PostgreSQL), before it is stored.
          const limited = limits.prepare([{ what: "/auth", key: req.ip, limit: authLimit }], Date.now());
          const { sessionId, expiresAt, challenge } = await svc.auth(req.body, {
            ...ctx(req),
            ...(limited ? { limits: limited } : {}),
          });
          metrics.authTotal.inc({ result: "ok" });
          setSessionCookie(reply, sessionId, expiresAt, opts.secureCookies ?? false);
          return challenge;
        } catch (e) {
          metrics.authTotal.inc({ result: e instanceof TdxError ? e.code : "error" });
          throw e;
        }
      });

      kbs.post("/attest", async (req, reply) => {
        const end = metrics.attestDuration.startTimer();
        try {
          // Limits before any work: per address, and per session (a session has one real attempt;
          // what follows is answered from the store, still not without bound).
          // (Counted by the nonce's consumption, in the same statement on PostgreSQL, which happens only
          // within them.)
          const sessionId = cookieValue(req.headers.cookie, SESSION_COOKIE);
          const limited = limits.prepare(
            [
              { what: "/attest", key: req.ip, limit: attestLimit },
              // Only what could be a session of ours gets a row (ours are UUIDs; anything else is refused).
              ...(sessionId && UUID.test(sessionId)
                ? [{ what: "/attest", key: `session:${sessionId}`, limit: sessionLimit }]
                : []),
            ],
            Date.now(),
          );
          const out = await svc.attest(sessionId, req.body, {
            ...ctx(req),
            ...(limited ? { limits: limited } : {}),
          });
          end({ result: "allowed" });
          metrics.attestTotal.inc({ result: "allowed" });
          metrics.verdictTotal.inc({ verdict: "allowed", code: "OK" });
          const sid = cookieValue(req.headers.cookie, SESSION_COOKIE)!;
          setSessionCookie(reply, sid, out.sessionExpiresAt, opts.secureCookies ?? false);
          outcome(req, { attestation: "allowed", session: sid });
          return { token: out.token };
        } catch (e) {
          const result = e instanceof TdxError && statusOf(e.code) < 500 ? "denied" : "error";
          end({ result });
          metrics.attestTotal.inc({ result });
          metrics.verdictTotal.inc({ verdict: result, code: e instanceof TdxError ? e.code : "INTERNAL" });
          if (e instanceof TdxError)
            outcome(req, { attestation: "refused", code: e.code, reason: e.message.slice(0, 500) });
          throw e;
        }
      });

      const resourcePath = (p: Record<string, string>) => `${p.repo}/${p.type}/${p.tag}`;

      kbs.get("/resource/:repo/:type/:tag", async (req) => {
        try {
          const sessionId = cookieValue(req.headers.cookie, SESSION_COOKIE);
          const token = bearer(req);
          const out = await svc.resource(
            resourcePath(req.params as Record<string, string>),
            { ...(sessionId ? { sessionId } : {}), ...(token ? { bearer: token } : {}) },
            ctx(req),
          );
          metrics.resourceTotal.inc({ result: "released" });
          metrics.verdictTotal.inc({ verdict: "released", code: "OK" });
          return out;
        } catch (e) {
          metrics.resourceTotal.inc({ result: e instanceof TdxError ? "denied" : "error" });
          metrics.verdictTotal.inc({ verdict: "refused", code: e instanceof TdxError ? e.code : "INTERNAL" });
          throw e;
        }
      });

      kbs.get("/token-jwks", async () => ({ keys: [await svc.tokenPublicJwk()] }));

      // ---- admin ----
      // Admin calls: who is asking. A JWT that changes something (or reads a secret) is used once: the
      // store remembers it until it expires, so a captured token cannot be replayed, on any broker.
      const admin = async (req: FastifyRequest) => {
        const { actor, jwt } = await adminAuth.credential(req.headers.authorization, svc.now());
        const once = req.method !== "GET" || req.url.startsWith("/kbs/v0/admin/resource/");
        if (jwt && once && !(await svc.store.useAdminTokenOnce(jwt.id, jwt.expiresAt)))
          throw new TdxError("KBS_ADMIN_TOKEN_REPLAYED", "this admin JWT was already used for a write", {
            hint: "sign a fresh JWT (with its own jti) for every call that changes something; tdx-attest kbs --admin-key does",
          });
        return actor;
      };
      const secretBody = (req: FastifyRequest): Uint8Array => {
        const b = req.body;
        if (Buffer.isBuffer(b)) return new Uint8Array(b);
        throw new TdxError("KBS_REQUEST_INVALID", "the resource body must be raw bytes", {
          hint: "send it with Content-Type: application/octet-stream",
        });
      };
      const putResource = async (req: FastifyRequest) => {
        const actor = await admin(req);
        const q = req.query as Record<string, string | undefined>;
        return svc.putResource(resourcePath(req.params as Record<string, string>), secretBody(req), {
          ...(q.policy ? { policyId: q.policy } : {}),
          ...ctx(req, actor),
        });
      };
      // POST is Trustee's registration call; PUT is the same.
      kbs.post("/resource/:repo/:type/:tag", putResource);
      kbs.put("/resource/:repo/:type/:tag", putResource);
      // 200 (not 204): Trustee's kbs-client treats any other status as a failure.
      kbs.delete("/resource/:repo/:type/:tag", async (req) => {
        const actor = await admin(req);
        const path = resourcePath(req.params as Record<string, string>);
        await svc.deleteResource(path, ctx(req, actor));
        return { deleted: path };
      });

      // ---- Trustee's admin calls (kbs-client config ...), mapped onto this broker's policies ----
      kbs.post("/resource-policy", async (req) => {
        const actor = await admin(req);
        const text = decodePolicyField((req.body as Record<string, unknown> | null)?.policy, "policy");
        let body: string;
        let canned: string | null = null;
        try {
          parseResourcePolicy(text);
          body = text;
        } catch (e) {
          const rego = resourcePolicyFromRego(text);
          if (!rego) {
            if (text.trimStart().startsWith("{")) throw e;
            throw regoUnsupported(
              "the resource policy is Rego other than Trustee's allow_all, deny_all, affirming and default",
              "send this broker's JSON rules base64url-encoded in `policy` (docs/kbs.md \"Policies\"), or one of Trustee's canned policies (kbs-client set-resource-policy --allow-all|--deny-all|--affirming|--default)",
            );
          }
          canned = rego.name;
          body = `${JSON.stringify({ description: `Trustee's ${rego.name}.rego, as rules`, ...rego.policy }, null, 2)}\n`;
        }
        // Trustee has one resource policy: here it is the default one, which guards every resource
        // stored without ?policy=.
        const p = await svc.putPolicy("resource", DEFAULT_POLICY_ID, body, ctx(req, actor));
        return { kind: p.kind, id: p.id, ...(canned ? { from: `${canned}.rego` } : {}) };
      });
      kbs.get("/resource-policy", async (req) => {
        await admin(req);
        const p = await svc.getPolicy("resource", DEFAULT_POLICY_ID);
        return { policy: Buffer.from(p.body, "utf8").toString("base64url") };
      });
      kbs.post("/attestation-policy", async (req) => {
        const actor = await admin(req);
        const b = (req.body ?? {}) as Record<string, unknown>;
        const text = decodePolicyField(b.policy, "policy");
        const id = typeof b.policy_id === "string" && b.policy_id !== "" ? b.policy_id : DEFAULT_POLICY_ID;
        try {
          readPolicy(text);
        } catch (e) {
          if (text.trimStart().startsWith("{")) throw e;
          throw regoUnsupported(
            "the attestation policy is Rego",
            'send this broker\'s appraisal policy (JSON, docs/policy.md) base64url-encoded in `policy` with "type": "json", or set it with: tdx-attest kbs policy set --kind attestation ID --file POLICY.json',
          );
        }
        const p = await svc.putPolicy("attestation", id, text, ctx(req, actor));
        return { kind: p.kind, id: p.id };
      });
      const noReferenceValues = async (req: FastifyRequest) => {
        await admin(req);
        throw new TdxError(
          "KBS_REFERENCE_VALUES_UNSUPPORTED",
          "this broker has no reference value provider service (RVPS)",
          {
            hint: "put reference values in the attestation policy (mrTd, rtmr0..3, xfam allow-lists, docs/policy.md) or in resource policy rules (claim mr_td / rtmr_1 ..., docs/kbs.md), with tdx-attest kbs policy set",
          },
        );
      };
      kbs.get("/reference-value", noReferenceValues);
      kbs.get("/reference-value/*", noReferenceValues);
      kbs.post("/reference-value", noReferenceValues);
      kbs.get("/admin/resources", async (req) => {
        await admin(req);
        return { resources: await svc.listResources() };
      });
      kbs.get("/admin/resource/:repo/:type/:tag", async (req, reply) => {
        const actor = await admin(req);
        const bytes = await svc.readResource(
          resourcePath(req.params as Record<string, string>),
          ctx(req, actor),
        );
        return reply.type("application/octet-stream").send(Buffer.from(bytes));
      });
      kbs.get("/admin/policies", async (req) => {
        await admin(req);
        const kind = (req.query as Record<string, string | undefined>).kind;
        return { policies: await svc.listPolicies(kind ? policyKind(kind) : undefined) };
      });
      kbs.get("/admin/policy/:kind/:id", async (req) => {
        await admin(req);
        const p = req.params as Record<string, string>;
        return svc.getPolicy(policyKind(p.kind!), p.id!);
      });
      kbs.put("/admin/policy/:kind/:id", async (req) => {
        const actor = await admin(req);
        const p = req.params as Record<string, string>;
        const body = Buffer.isBuffer(req.body)
          ? req.body.toString("utf8")
          : `${JSON.stringify(req.body, null, 2)}\n`;
        return svc.putPolicy(policyKind(p.kind!), p.id!, body, ctx(req, actor));
      });
      kbs.delete("/admin/policy/:kind/:id", async (req, reply) => {
        const actor = await admin(req);
        const p = req.params as Record<string, string>;
        await svc.deletePolicy(policyKind(p.kind!), p.id!, ctx(req, actor));
        return reply.code(204).send();
      });
      kbs.get("/admin/audit", async (req) => {
        await admin(req);
        const q = req.query as Record<string, string | undefined>;
        const entries = await svc.audit({
          ...(q.after ? { afterId: count(q.after, "after") } : {}),
          ...(q.limit ? { limit: count(q.limit, "limit") } : {}),
          ...(q.resource ? { resource: q.resource } : {}),
        });
        // ?claims=1: the claim sets the rows reference, each once (what `kbs audit export` writes).
        if (q.claims === "1" || q.claims === "true")
          return {
            entries,
            claimSets: await svc.claimSets(entries.flatMap((e) => (e.claimsRef ? [e.claimsRef] : []))),
          };
        return { entries };
      });
      kbs.post("/admin/audit/prune", async (req) => {
        const actor = await admin(req);
        const before = (req.body as Record<string, unknown> | null)?.before;
        if (typeof before !== "string")
          throw new TdxError("KBS_AUDIT_PRUNE_INVALID", "the prune request names no date", {
            field: "before",
            hint: 'send {"before": "2026-01-01T00:00:00Z"}',
          });
        return svc.pruneAudit(new Date(before), ctx(req, actor));
      });
    },
    { prefix: "/kbs/v0" },
  );

  if (opts.register) await opts.register(app);
  return { app, metrics };
}

/** A non-negative integer query parameter. */
function count(v: string, name: string): number {
  if (!/^\d{1,15}$/.test(v))
    throw new TdxError("KBS_REQUEST_INVALID", `query parameter ${name}=${v} is not a non-negative integer`, {
      field: name,
      hint: `e.g. ?${name}=100`,
    });
  return Number(v);
}

function policyKind(k: string): PolicyKind {
  if (k === "resource" || k === "attestation") return k;
  throw new TdxError(
    "KBS_POLICY_KIND_INVALID",
    `policy kind ${JSON.stringify(k)} is not attestation or resource`,
    {
      field: "kind",
      hint: "use /kbs/v0/admin/policy/resource/ID or /kbs/v0/admin/policy/attestation/ID",
    },
  );
}

/** What the request's access-log line says besides the request and the status (the attestation's verdict). */
function outcome(req: FastifyRequest, fields: Record<string, unknown>): void {
  (req as FastifyRequest & { outcome?: Record<string, unknown> }).outcome = fields;
}

function setSessionCookie(reply: FastifyReply, id: string, expires: Date, secure: boolean) {
  reply.header(
    "set-cookie",
    `${SESSION_COOKIE}=${id}; Expires=${expires.toUTCString()}; Path=/kbs; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`,
  );
}
