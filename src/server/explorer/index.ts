import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Quote } from "../../abi/index.js";
import { toHex } from "../../abi/index.js";
import { type Collateral, isQuoteFault } from "../../collateral/index.js";
import { httpStatusOf } from "../../error-registry.js";
import { type ErrorCode, isTdxError, TdxError } from "../../errors.js";
import { type TrustAnchorInput, Verifier } from "../../verify/index.js";
import { checkJsonDepth, useDepthLimitedJsonParser } from "../json-depth.js";
import { ASSET_FILES, type AssetName, assetPath, loadExplorerAssets } from "./assets.js";

export { explorerStaticDir, writeStaticExplorer } from "./assets.js";
export {
  type DecodeResponse,
  decodedQuote,
  decodeForExplorer,
  quoteBytes,
  quoteFromBody,
  type VerificationJson,
  type VerifyRequest,
  type VerifyResponse,
  verifyForExplorer,
} from "./core.js";
export { MAX_QUOTE_BYTES, parseAtTime } from "./input.js";
export { type QuoteRegion, quoteRegions, type RegionId } from "./regions.js";
export { type ByteRange, type ExplorerNode, explorerTree } from "./tree.js";

export interface ExplorerOptions {
  /**
   * Where the server gets collateral for a quote when the request carries none (e.g. a PCCS/PCS client
   * with its cache), given the verification time. Absent: such a request is refused with
   * EXPLORER_NO_COLLATERAL.
   */
  collateralFor?: (quote: Quote, now: Date) => Promise<Collateral>;
  /** Roots to trust instead of Intel's SGX Root CA (ignored when `verifier` is given). */
  trustAnchors?: TrustAnchorInput[];
  /** A verifier to share (and its caches) with the rest of the server; default: a new one with `trustAnchors`. */
  verifier?: Verifier;
  /** The clock used when a request gives no `at` time (unix milliseconds or a Date); default Date.now. Tests set it. */
  now?: () => number | Date;
  /** Allow the page to be hosted elsewhere (a static build) and call this server's API from that origin. */
  corsOrigin?: string;
  /** Largest request body accepted by the API routes, in bytes (default 4 MiB: a quote plus collateral). */
  bodyLimit?: number;
}

import {
  type DecodeResponse,
  decodedQuote,
  ErrorWithDecode,
  parseOrExplain,
  quoteBytes,
  quoteFromBody,
  UnparsableQuote,
  type VerifyContext,
  type VerifyRequest,
  verifyForExplorer,
} from "./core.js";

interface ErrorBody {
  ok: false;
  error: Record<string, unknown>;
  /** The decoded quote, when the error is about something else (collateral, policy, time). */
  decode?: DecodeResponse;
  /** The input's bytes when it decoded as hex/base64 but is not a valid quote. */
  hex?: string;
}

function errorBody(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof UnparsableQuote) {
    return { status: 400, body: { ok: false, error: e.error.toJSON(), hex: toHex(e.bytes) } };
  }
  // The status of the code's table entry (EXPLORER_COLLATERAL_UNAVAILABLE: 503, the server's source failed);
  // the explorer's input is the caller's, so a code without one is 400.
  if (e instanceof ErrorWithDecode) {
    return {
      status: httpStatusOf(e.error.code) ?? 400,
      body: { ok: false, error: e.error.toJSON(), decode: e.decode },
    };
  }
  if (isTdxError(e)) return { status: httpStatusOf(e.code) ?? 400, body: { ok: false, error: e.toJSON() } };
  const fe = e as Partial<FastifyError>;
  if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    const code: ErrorCode = "EXPLORER_BODY_TOO_LARGE";
    return {
      status: httpStatusOf(code)!,
      body: {
        ok: false,
        error: {
          code,
          message: "the request body is too large",
          hint: "send one quote (a few KiB) and its collateral, not more",
        },
      },
    };
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ErrorCode = "EXPLORER_BAD_REQUEST";
    return {
      status: fe.statusCode,
      body: {
        ok: false,
        error: {
          code,
          message: fe.message ?? "bad request",
          hint: 'send JSON such as {"quote": "<hex or base64>"} with content-type application/json',
        },
      },
    };
  }
  const internal: ErrorCode = "INTERNAL";
  return {
    status: 500,
    body: {
      ok: false,
      error: {
        code: internal,
        message: e instanceof Error ? e.message : String(e),
        hint: "this is a bug in tdx-attest; please report it with the input",
      },
    },
  };
}

const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The quote explorer on a Fastify server: the page at `GET /`, its files under `/explorer/`, and
 * `POST /api/decode` and `POST /api/verify`. The routes live in their own encapsulated scope, so the body parsers and error
 * handler added here do not change the rest of the server.
 */
export function registerExplorerRoutes(app: FastifyInstance, options: ExplorerOptions = {}): void {
  const assets = loadExplorerAssets();
  const bodyLimit = options.bodyLimit ?? 4 * 1024 * 1024;
  const clock = options.now;
  const ctx: VerifyContext = {
    verifier:
      options.verifier ?? new Verifier(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
    collateralFor: options.collateralFor,
    clock: () => {
      const t = clock ? clock() : Date.now();
      return t instanceof Date ? t.getTime() : t;
    },
  };
  app.register(async (scope) => {
    useDepthLimitedJsonParser(scope, "EXPLORER_REQUEST_TOO_DEEP", bodyLimit);
    scope.addContentTypeParser(
      ["application/octet-stream", "application/x-binary"],
      { parseAs: "buffer", bodyLimit },
      (_req, body, done) => done(null, new Uint8Array(body as Buffer)),
    );
    scope.setErrorHandler((error, _request, reply) => {
      const { status, body } = errorBody(error);
      return reply.code(status).type("application/json").send(body);
    });
    if (options.corsOrigin) {
      const origin = options.corsOrigin;
      scope.addHook("onRequest", async (request, reply) => {
        if (!request.url.startsWith("/api/")) return;
        reply.header("access-control-allow-origin", origin);
        reply.header("vary", "origin");
      });
      scope.options("/api/*", async (_request, reply) =>
        reply
          .header("access-control-allow-methods", "POST, OPTIONS")
          .header("access-control-allow-headers", "content-type, accept")
          .header("access-control-max-age", "600")
          .code(204)
          .send(),
      );
    }

    const sendAsset = (name: AssetName) => async (_request: FastifyRequest, reply: FastifyReply) => {
      reply.header("content-type", ASSET_FILES[name]).header("cache-control", "no-cache");
      reply.header("x-content-type-options", "nosniff");
      if (name === "index.html") reply.header("content-security-policy", PAGE_CSP);
      return reply.send(assets.get(name));
    };
    scope.get("/", sendAsset("index.html"));
    // app.js, style.css, favicon.svg under /explorer/; favicon.ico at /favicon.ico, where browsers ask.
    for (const name of Object.keys(ASSET_FILES) as AssetName[]) {
      if (name !== "index.html") scope.get(`/${assetPath(name)}`, sendAsset(name));
    }

    scope.post("/api/decode", { bodyLimit }, async (request, reply) => {
      const { bytes, encoding } = quoteBytes(quoteFromBody(request.body));
      return reply.send(decodedQuote(parseOrExplain(bytes), encoding));
    });

    scope.post("/api/verify", { bodyLimit }, async (request, reply) => {
      const body = request.body;
      if (!body || typeof body !== "object" || body instanceof Uint8Array) {
        throw new TdxError("EXPLORER_VERIFY_BODY", "POST /api/verify takes a JSON object", {
          hint: 'send {"quote": "<hex or base64>", "collateral": "<collateral JSON text>", "policy": {...}, "at": 1752919234}',
        });
      }
      const b = body as Record<string, unknown>;
      // Collateral sent as JSON text is checked like a body, before anything reads it.
      if (typeof b.collateral === "string")
        checkJsonDepth(b.collateral, "EXPLORER_REQUEST_TOO_DEEP", "collateral");
      const request_: VerifyRequest = {
        quote: quoteFromBody(b),
        collateral: b.collateral,
        policy: b.policy,
        at: b.at,
      };
      return reply.send(
        await verifyForExplorer(request_, {
          ...ctx,
          isQuoteFault,
          log: (e) => request.log.warn({ err: e }, "explorer: no collateral for a quote"),
        }),
      );
    });
  });
}
