import type { FastifyReply } from "fastify";
import { httpStatusOf } from "../error-registry.js";
import { type ErrorCode, isTdxError, type TdxError } from "../errors.js";

/** Stable problem type URIs: `urn:tdx-attest:problem:<slug>`, the slug derived from the error code. */
export function problemType(code: string): string {
  return `urn:tdx-attest:problem:${code.replace(/^KBS_/, "").toLowerCase().replace(/_/g, "-")}`;
}

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

/**
 * The HTTP status of an error code: the `http` of its table's entry (src/<folder>/error-codes.ts), else 500.
 * RCAR's statuses: 401 unauthenticated, 403 policy, 404 unknown resource.
 */
export function statusOf(code: string): number {
  return httpStatusOf(code) ?? 500;
}

/** An RFC 9457 problem document for an error; internal errors say nothing about their insides. */
export function problemOf(e: unknown, requestId: string): { status: number; body: Record<string, unknown> } {
  if (isTdxError(e)) return { status: statusOf(e.code), body: tdxProblem(e, requestId) };
  const fe = e as { statusCode?: number; code?: string; message?: string };
  if (typeof fe?.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Fastify's own client errors (bad JSON, body too large, unsupported media type).
    const code: ErrorCode =
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
  const internal: ErrorCode = "KBS_INTERNAL";
  return {
    status: 500,
    body: {
      type: problemType(internal),
      title: "Internal Server Error",
      status: 500,
      detail: "the broker failed while handling this request; the log has the details under this request id",
      code: internal,
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
  // The error's own shape (code, message, field, offset, hint) reaches the client whole.
  if (e.hint) body.hint = e.hint;
  if (e.field) body.field = e.field;
  if (e.offset !== undefined) body.offset = e.offset;
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
