import type { Duplex } from "node:stream";
import type { FastifyServerOptions } from "fastify";
import type { ErrorCode } from "../errors.js";
import { problemType, statusOf } from "./problem.js";

/** Seconds a request (headers and body) may take, and how long an idle keep-alive socket stays. */
export interface HttpTimeouts {
  /** The whole request, headers and body (default 10 s): a body trickled in byte by byte is cut off. */
  requestSeconds?: number;
  /** The request headers (default 5 s, at most requestSeconds). */
  headersSeconds?: number;
  /** An idle keep-alive connection (default 5 s). */
  keepAliveSeconds?: number;
}

/**
 * Fastify/Node server options that bound how long a client may hold a connection with an unfinished
 * request (a "slow loris"): every listener (broker, explorer, PCS) takes them. Node checks the
 * deadlines every second here (its default is every 30 s).
 */
export function httpTimeoutOptions(t: HttpTimeouts = {}): FastifyServerOptions {
  const request = Math.max(1, t.requestSeconds ?? 10);
  const headers = Math.min(request, Math.max(1, t.headersSeconds ?? 5));
  // `http` is handed to http.createServer by Fastify (lib/server.js) though its types do not list it.
  return {
    requestTimeout: request * 1000,
    keepAliveTimeout: Math.max(1, t.keepAliveSeconds ?? 5) * 1000,
    connectionTimeout: (request + 5) * 1000,
    ...({ http: { headersTimeout: headers * 1000, connectionsCheckingInterval: 1000 } } as object),
  };
}

/** A client error Node reports itself (a request past its deadline, a malformed request line). */
export function problemOnClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return;
  const timeout = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
  const code: ErrorCode = timeout ? "KBS_REQUEST_TIMEOUT" : "KBS_REQUEST_INVALID";
  const status = statusOf(code);
  const body = JSON.stringify({
    type: problemType(code),
    title: timeout ? "Request Timeout" : "Bad Request",
    status,
    detail: timeout ? "the request was not received in time" : "the request could not be read",
    code,
    hint: timeout
      ? "send the whole request at once; the server does not wait for slow clients"
      : "send a valid HTTP/1.1 request",
  });
  socket.end(
    `HTTP/1.1 ${status} ${timeout ? "Request Timeout" : "Bad Request"}\r\nConnection: close\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
