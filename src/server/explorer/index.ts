import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { FieldRange, Quote } from "../../abi/index.js";
import { decodeInputBytes, parseQuote, toHex } from "../../abi/index.js";
import { type Collateral, isQuoteFault, readCollateral } from "../../collateral/index.js";
import { isTdxError, TdxError } from "../../errors.js";
import { type Appraisal, appraise, type Policy, policyFromJson, readPolicy } from "../../policy/index.js";
import { type TrustAnchorInput, type VerificationResult, Verifier } from "../../verify/index.js";
import { checkJsonDepth, useDepthLimitedJsonParser } from "../json-depth.js";
import { ASSET_FILES, type AssetName, assetPath, loadExplorerAssets } from "./assets.js";
import { MAX_QUOTE_BYTES, parseAtTime } from "./input.js";
import { type QuoteRegion, quoteRegions } from "./regions.js";
import { type ExplorerNode, explorerTree } from "./tree.js";

export { explorerStaticDir, writeStaticExplorer } from "./assets.js";
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

/** What `POST /api/decode` answers for a well-formed quote. */
export interface DecodeResponse {
  ok: true;
  /** How the input was given. */
  encoding: "binary" | "hex" | "base64";
  /** Every byte of the input, lowercase hex (the page's hex view). */
  hex: string;
  summary: {
    version: number;
    teeType: "TDX" | "SGX";
    bodyType: string;
    size: number;
    signedLength: number;
    trailingBytes: number;
    mrTd?: string;
  };
  tree: ExplorerNode[];
  layout: FieldRange[];
  regions: QuoteRegion[];
}

const BODY_KINDS = { sgx: "SGX enclave report", td10: "TD report 1.0", td15: "TD report 1.5" } as const;

/** Turn the request's quote (binary, hex or base64) into bytes, refusing absurd sizes. */
export function quoteBytes(input: Uint8Array | string): {
  bytes: Uint8Array;
  encoding: DecodeResponse["encoding"];
} {
  const decoded = decodeInputBytes(input);
  if (decoded.bytes.length > MAX_QUOTE_BYTES) {
    throw new TdxError("EXPLORER_INPUT_TOO_LARGE", `the quote is ${decoded.bytes.length} bytes`, {
      data: { max: MAX_QUOTE_BYTES, actual: decoded.bytes.length },
      hint: `a quote is a few KiB; give at most ${MAX_QUOTE_BYTES} bytes`,
    });
  }
  return decoded;
}

/** Decode a quote given as binary, hex or base64 into what the page shows. Throws TdxError on bad input. */
export function decodeForExplorer(input: Uint8Array | string): DecodeResponse {
  const { bytes, encoding } = quoteBytes(input);
  return decodedQuote(parseQuote(bytes), encoding);
}

/** A 400 answer for bytes that are not a valid quote: the error, plus the bytes so the page can point at the offset. */
class UnparsableQuote extends Error {
  constructor(
    readonly error: TdxError,
    readonly bytes: Uint8Array,
  ) {
    super(error.message);
  }
}

function parseOrExplain(bytes: Uint8Array): Quote {
  try {
    return parseQuote(bytes);
  } catch (e) {
    if (isTdxError(e)) throw new UnparsableQuote(e, bytes);
    throw e;
  }
}

export function decodedQuote(quote: Quote, encoding: DecodeResponse["encoding"]): DecodeResponse {
  const summary: DecodeResponse["summary"] = {
    version: quote.header.version,
    teeType: quote.header.teeType === 0x81 ? "TDX" : "SGX",
    bodyType: BODY_KINDS[quote.body.kind],
    size: quote.bytes.length,
    signedLength: quote.signedLength,
    trailingBytes: quote.trailing.length,
  };
  if (quote.body.kind !== "sgx") summary.mrTd = toHex(quote.body.report.mrTd);
  return {
    ok: true,
    encoding,
    hex: toHex(quote.bytes),
    summary,
    tree: explorerTree(quote),
    layout: quote.layout,
    regions: quoteRegions(quote),
  };
}

/** The verifier's result as sent to the page: everything but the parsed quote (the page has `decode`). */
export type VerificationJson = Omit<VerificationResult, "quote">;

/** What `POST /api/verify` answers when the quote could be judged (whatever the verdict). */
export interface VerifyResponse {
  /** Verified, and allowed by the policy when one was given. */
  ok: boolean;
  /** The verification time, ISO 8601. */
  at: string;
  collateralSource: "request" | "server";
  decode: DecodeResponse;
  verification: VerificationJson;
  policy: Appraisal | null;
}

export interface VerifyRequest {
  quote: Uint8Array | string;
  /** Collateral JSON (dcap-qvl format) as text, or already parsed. */
  collateral?: unknown;
  /** Appraisal policy as JSON text, or already parsed. */
  policy?: unknown;
  /** Unix seconds or ISO 8601; absent: the server's clock. */
  at?: unknown;
}

function given(v: unknown): boolean {
  return v !== undefined && v !== null && !(typeof v === "string" && v.trim() === "");
}

function readPolicyInput(v: unknown): Policy {
  return typeof v === "string" ? readPolicy(v) : policyFromJson(v);
}

function readCollateralInput(v: unknown): Collateral {
  return readCollateral(typeof v === "string" ? v : JSON.stringify(v));
}

/** Make a value JSON-safe: bytes as lowercase hex, bigints as decimal strings. */
function jsonSafe(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonSafe(x);
    return out;
  }
  return v;
}

/** A request error after the quote decoded: the page keeps showing the quote beside the error. */
class ErrorWithDecode extends Error {
  constructor(
    readonly error: TdxError,
    readonly decode: DecodeResponse,
  ) {
    super(error.message);
  }
}

interface VerifyContext {
  verifier: Verifier;
  collateralFor: ExplorerOptions["collateralFor"];
  clock: () => number;
  /** Where the details of a collateral failure go (the request's log). */
  log?: (e: unknown) => void;
}

/** Decode, verify and (when a policy is given) appraise one quote; what `POST /api/verify` does. */
export async function verifyForExplorer(req: VerifyRequest, ctx: VerifyContext): Promise<VerifyResponse> {
  const { bytes, encoding } = quoteBytes(req.quote);
  const quote = parseOrExplain(bytes);
  const decode = decodedQuote(quote, encoding);
  try {
    const atMs = given(req.at) ? parseAtTime(req.at) : ctx.clock();
    const policy = given(req.policy) ? readPolicyInput(req.policy) : null;
    let collateral: Collateral;
    let collateralSource: VerifyResponse["collateralSource"];
    if (given(req.collateral)) {
      collateral = readCollateralInput(req.collateral);
      collateralSource = "request";
    } else if (ctx.collateralFor) {
      try {
        collateral = await ctx.collateralFor(quote, new Date(atMs));
      } catch (e) {
        // The quote's own fault (its PCK chain) is the caller's to see; the service's failures name
        // URLs and hosts, which stay in the server's log.
        if (isQuoteFault(e) && isTdxError(e)) throw e;
        ctx.log?.(e);
        const code = isTdxError(e) ? e.code : "INTERNAL";
        throw new TdxError(
          "EXPLORER_COLLATERAL_UNAVAILABLE",
          `the server could not get collateral for this quote (${code}); the server's log has the details`,
          {
            hint: "open the quote's collateral JSON on the page, or retry later",
            data: { cause: code },
          },
        );
      }
      collateralSource = "server";
    } else {
      throw new TdxError(
        "EXPLORER_NO_COLLATERAL",
        "no collateral was given and this server has no collateral source",
        {
          field: "collateral",
          hint: "open the quote's collateral JSON (dcap-qvl format, e.g. written by `tdx-attest collateral fetch`), or run the server with a PCCS/PCS URL",
        },
      );
    }
    const result = ctx.verifier.verify(quote, collateral, { now: Math.floor(atMs / 1000) });
    const { quote: _parsed, ...rest } = result;
    const appraisal = policy ? appraise(result, policy) : null;
    return {
      ok: result.ok && (appraisal ? appraisal.allowed : true),
      at: new Date(atMs).toISOString(),
      collateralSource,
      decode,
      verification: jsonSafe(rest) as VerificationJson,
      policy: appraisal ? (jsonSafe(appraisal) as Appraisal) : null,
    };
  } catch (e) {
    if (isTdxError(e)) throw new ErrorWithDecode(e, decode);
    throw e;
  }
}

/** Read the quote from a request body: raw bytes (octet-stream), text, or JSON `{ "quote": "<hex|base64>" }`. */
export function quoteFromBody(body: unknown): Uint8Array | string {
  if (body instanceof Uint8Array) return body;
  if (typeof body === "string") return body;
  if (body && typeof body === "object" && "quote" in body) {
    const q = (body as { quote: unknown }).quote;
    if (typeof q === "string") return q;
  }
  throw new TdxError("EXPLORER_NO_QUOTE", "the request carries no quote", {
    field: "quote",
    hint: 'send JSON {"quote": "<hex or base64>"}, or the binary quote as application/octet-stream',
  });
}

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
  if (e instanceof ErrorWithDecode) {
    return { status: 400, body: { ok: false, error: e.error.toJSON(), decode: e.decode } };
  }
  if (isTdxError(e)) return { status: 400, body: { ok: false, error: e.toJSON() } };
  const fe = e as Partial<FastifyError>;
  if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return {
      status: 413,
      body: {
        ok: false,
        error: {
          code: "EXPLORER_BODY_TOO_LARGE",
          message: "the request body is too large",
          hint: "send one quote (a few KiB) and its collateral, not more",
        },
      },
    };
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      body: {
        ok: false,
        error: {
          code: "EXPLORER_BAD_REQUEST",
          message: fe.message ?? "bad request",
          hint: 'send JSON such as {"quote": "<hex or base64>"} with content-type application/json',
        },
      },
    };
  }
  return {
    status: 500,
    body: {
      ok: false,
      error: {
        code: "INTERNAL",
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
          log: (e) => request.log.warn({ err: e }, "explorer: no collateral for a quote"),
        }),
      );
    });
  });
}
