import type { FastifyReply } from "fastify";
import { isTdxError, type TdxError } from "../errors.js";

/** Stable problem type URIs: `urn:tdx-attest:problem:<slug>`, the slug derived from the error code. */
export function problemType(code: string): string {
  return `urn:tdx-attest:problem:${code.replace(/^KBS_/, "").toLowerCase().replace(/_/g, "-")}`;
}

/** HTTP status per error code; RCAR: 401 unauthenticated, 403 policy, 404 unknown resource. */
const STATUS: Record<string, number> = {
  KBS_REQUEST_INVALID: 400,
  KBS_EVIDENCE_INVALID: 400,
  KBS_TEE_PUBKEY_INVALID: 400,
  KBS_HASH_ALGORITHM_UNSUPPORTED: 400,
  KBS_TEE_UNSUPPORTED: 400,
  INIT_DATA_INVALID: 400,
  INIT_DATA_TOML_INVALID: 400,
  KBS_COOKIE_INVALID: 400,
  KBS_REQUEST_TOO_DEEP: 400,
  KBS_REGO_UNSUPPORTED: 400,
  KBS_AUDIT_PRUNE_INVALID: 400,
  JCS_TOO_DEEP: 400,
  KBS_RESOURCE_PATH_INVALID: 400,
  KBS_RESOURCE_POLICY_INVALID: 400,
  KBS_RESOURCE_SIZE: 400,
  KBS_POLICY_ID_INVALID: 400,
  KBS_POLICY_KIND_INVALID: 400,
  POLICY_INVALID: 400,
  KBS_PROTOCOL_VERSION_MISMATCH: 401,
  KBS_SESSION_MISSING: 401,
  KBS_SESSION_UNKNOWN: 401,
  KBS_SESSION_EXPIRED: 401,
  KBS_NOT_ATTESTED: 401,
  KBS_NONCE_MISMATCH: 401,
  KBS_NONCE_REPLAYED: 401,
  KBS_REPORTDATA_MISMATCH: 401,
  KBS_EVIDENCE_REJECTED: 401,
  KBS_EVENTLOG_MISMATCH: 401,
  KBS_INIT_DATA_MISMATCH: 401,
  KBS_TOKEN_EXPIRED: 401,
  KBS_TOKEN_INVALID: 401,
  KBS_ADMIN_UNAUTHENTICATED: 401,
  KBS_ADMIN_DISABLED: 401,
  KBS_ADMIN_TOKEN_REPLAYED: 401,
  KBS_ATTESTATION_POLICY_DENIED: 403,
  // Trustee answers a resource-policy denial with 401 (PolicyDeny), and guest-components' client
  // re-attests only on 401: anything else is fatal to it.
  KBS_RESOURCE_POLICY_DENIED: 401,
  KBS_RESOURCE_NOT_FOUND: 404,
  KBS_POLICY_NOT_FOUND: 404,
  KBS_NOT_FOUND: 404,
  KBS_POLICY_IN_USE: 409,
  KBS_REQUEST_TIMEOUT: 408,
  KBS_PAYLOAD_TOO_LARGE: 413,
  KBS_UNSUPPORTED_MEDIA_TYPE: 415,
  KBS_RATE_LIMITED: 429,
  KBS_REFERENCE_VALUES_UNSUPPORTED: 501,
  KBS_SHUTTING_DOWN: 503,
  KBS_DB_UNAVAILABLE: 503,
  KBS_COLLATERAL_UNAVAILABLE: 503,
};

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

export function statusOf(code: string): number {
  return STATUS[code] ?? 500;
}

/** An RFC 9457 problem document for an error; internal errors say nothing about their insides. */
export function problemOf(e: unknown, requestId: string): { status: number; body: Record<string, unknown> } {
  if (isTdxError(e)) return { status: statusOf(e.code), body: tdxProblem(e, requestId) };
  const fe = e as { statusCode?: number; code?: string; message?: string };
  if (typeof fe?.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Fastify's own client errors (bad JSON, body too large, unsupported media type).
    const code =
      fe.statusCode === 413
        ? "KBS_PAYLOAD_TOO_LARGE"
        : fe.statusCode === 415
          ? "KBS_UNSUPPORTED_MEDIA_TYPE"
          : fe.statusCode === 404
            ? "KBS_NOT_FOUND"
            : "KBS_REQUEST_INVALID";
    const status = statusOf(code);
    return {
      status,
      body: {
        type: problemType(code),
        title: TITLES[status] ?? "Error",
        status,
        detail: fe.message ?? "bad request",
        code,
        hint: "send a JSON body (application/json) shaped as docs/kbs.md describes",
        instance: `urn:request:${requestId}`,
      },
    };
  }
  return {
    status: 500,
    body: {
      type: problemType("KBS_INTERNAL"),
      title: "Internal Server Error",
      status: 500,
      detail: "the broker failed while handling this request; the log has the details under this request id",
      code: "KBS_INTERNAL",
      instance: `urn:request:${requestId}`,
    },
  };
}

function tdxProblem(e: TdxError, requestId: string): Record<string, unknown> {
  const status = statusOf(e.code);
  const body: Record<string, unknown> = {
    type: problemType(e.code),
    title: TITLES[status] ?? "Error",
    status,
    detail: e.message,
    code: e.code,
    instance: `urn:request:${requestId}`,
  };
  if (e.hint) body.hint = e.hint;
  if (e.field) body.field = e.field;
  if (e.data) for (const [k, v] of Object.entries(e.data)) if (!(k in body)) body[k] = v;
  return body;
}

export function sendProblem(reply: FastifyReply, e: unknown): FastifyReply {
  const { status, body } = problemOf(e, String(reply.request.id));
  // 429 and 503 say when to come back: the error's own estimate, else a few seconds (a database
  // restarting, a collateral service recovering).
  if (status === 429 || status === 503) {
    const given = isTdxError(e) ? e.data?.retryAfterSeconds : undefined;
    const seconds =
      typeof given === "number" && given > 0 ? Math.ceil(given) : status === 503 ? 5 : undefined;
    if (seconds !== undefined) reply.header("retry-after", String(seconds));
  }
  return reply.code(status).type("application/problem+json").send(body);
}
