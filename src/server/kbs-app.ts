import { randomUUID } from "node:crypto";
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from "fastify";
import { TdxError } from "../errors.js";
import type { KbsService } from "../kbs/service.js";
import type { PolicyKind } from "../kbs/store/index.js";
import { AdminAuth } from "./admin-auth.js";
import { KbsMetrics } from "./metrics.js";
import { sendProblem, statusOf } from "./problem.js";
import { RateLimiter } from "./rate-limit.js";

export const SESSION_COOKIE = "kbs-session-id";

export interface KbsAppOptions {
  service: KbsService;
  adminAuth?: AdminAuth;
  /** /auth requests per client address per window (default 120 per 60 s; 0 disables). */
  authRateLimit?: { max: number; windowSeconds: number };
  /** Set the Secure attribute on the session cookie (when clients reach the broker over TLS). */
  secureCookies?: boolean;
  /** Fastify logger option: false in tests, a pino config or instance otherwise. */
  logger?: FastifyServerOptions["logger"];
  /** Extra routes on the same server (the quote explorer). */
  register?: (app: FastifyInstance) => void | Promise<void>;
  /** Node's default process metrics on /metrics (off in tests). */
  defaultMetrics?: boolean;
  /** Largest JSON body (evidence with an event log): default 4 MiB. */
  bodyLimit?: number;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
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
    defaultMetrics: opts.defaultMetrics ?? false,
  });
  const rl = opts.authRateLimit ?? { max: 120, windowSeconds: 60 };
  const limiter = new RateLimiter(rl.max, rl.windowSeconds * 1000);
  let closing = false;

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 4 * 1024 * 1024,
    requestIdHeader: "x-request-id",
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });
  app.addHook("onRequest", async (req, reply) => {
    reply.header("x-request-id", req.id);
    (req as FastifyRequest & { startedAt?: bigint }).startedAt = process.hrtime.bigint();
  });
  app.addHook("onResponse", async (req, reply) => {
    if (closing) setImmediate(() => app.server.closeIdleConnections?.());
    const start = (req as FastifyRequest & { startedAt?: bigint }).startedAt;
    if (start === undefined) return;
    const route = req.routeOptions.url ?? "unmatched";
    metrics.httpDuration.observe(
      { method: req.method, route, status: String(reply.statusCode) },
      Number(process.hrtime.bigint() - start) / 1e9,
    );
  });
  // Draining: from the moment close starts, answers carry Connection: close and idle sockets are
  // closed, so keep-alive clients with a request in flight do not hold the shutdown open.
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", async (_req, reply) => {
    if (closing) reply.header("connection", "close");
  });
  app.setErrorHandler((error, _req, reply) => {
    if (!(error instanceof TdxError) && !((error as { statusCode?: number }).statusCode! < 500))
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

  app.get("/healthz", async (_req, reply) => {
    if (closing) return reply.code(503).send({ status: "shutting-down" });
    try {
      await svc.store.ping();
      return { status: "ok", db: svc.store.dialect };
    } catch {
      return reply.code(503).send({ status: "db-unavailable" });
    }
  });
  app.get("/metrics", async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  await app.register(
    async (kbs) => {
      kbs.addContentTypeParser(
        ["application/octet-stream", "text/plain"],
        { parseAs: "buffer", bodyLimit: 1024 * 1024 + 1 },
        (_req, body, done) => done(null, body),
      );
      const ctx = (req: FastifyRequest, actor?: string) => ({
        requestId: String(req.id),
        ...(actor ? { actor } : {}),
      });

      // ---- RCAR ----
      kbs.post("/auth", async (req, reply) => {
        try {
          limiter.hit(req.ip, Date.now());
          const { sessionId, expiresAt, challenge } = await svc.auth(req.body, ctx(req));
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
          const out = await svc.attest(cookieValue(req.headers.cookie, SESSION_COOKIE), req.body, ctx(req));
          end({ result: "allowed" });
          metrics.attestTotal.inc({ result: "allowed" });
          metrics.verdictTotal.inc({ verdict: "allowed", code: "OK" });
          const sid = cookieValue(req.headers.cookie, SESSION_COOKIE)!;
          setSessionCookie(reply, sid, out.sessionExpiresAt, opts.secureCookies ?? false);
          req.log.info({ session: sid }, "attestation allowed");
          return { token: out.token };
        } catch (e) {
          const result = e instanceof TdxError && statusOf(e.code) < 500 ? "denied" : "error";
          end({ result });
          metrics.attestTotal.inc({ result });
          metrics.verdictTotal.inc({ verdict: result, code: e instanceof TdxError ? e.code : "INTERNAL" });
          if (e instanceof TdxError) req.log.info({ code: e.code }, `attestation refused: ${e.message}`);
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
      const admin = async (req: FastifyRequest) =>
        adminAuth.authenticate(req.headers.authorization, svc.now());
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
      kbs.delete("/resource/:repo/:type/:tag", async (req, reply) => {
        const actor = await admin(req);
        await svc.deleteResource(resourcePath(req.params as Record<string, string>), ctx(req, actor));
        return reply.code(204).send();
      });
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
        return {
          entries: await svc.audit({
            ...(q.after ? { afterId: count(q.after, "after") } : {}),
            ...(q.limit ? { limit: count(q.limit, "limit") } : {}),
            ...(q.resource ? { resource: q.resource } : {}),
          }),
        };
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

function setSessionCookie(reply: FastifyReply, id: string, expires: Date, secure: boolean) {
  reply.header(
    "set-cookie",
    `${SESSION_COOKIE}=${id}; Expires=${expires.toUTCString()}; Path=/kbs; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`,
  );
}
