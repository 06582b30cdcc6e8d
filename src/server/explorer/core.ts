import type { FieldRange, Quote } from "../../abi/index.js";
import { decodeInputBytes, parseQuote, toHex } from "../../abi/index.js";
import { readCollateral } from "../../collateral/json.js";
import type { Collateral } from "../../collateral/types.js";
import { isTdxError, TdxError } from "../../errors.js";
import { type Appraisal, appraise, type Policy, policyFromJson, readPolicy } from "../../policy/index.js";
import type { VerificationResult, Verifier } from "../../verify/index.js";
import { MAX_QUOTE_BYTES, parseAtTime } from "./input.js";
import { type QuoteRegion, quoteRegions } from "./regions.js";
import { type ExplorerNode, explorerTree } from "./tree.js";

/**
 * What the explorer's two calls do (decode, verify), without HTTP and without Node: the server's routes
 * (index.ts) and the in-page verifier of a static build (local.ts) both answer with these.
 */

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
export class UnparsableQuote extends Error {
  constructor(
    readonly error: TdxError,
    readonly bytes: Uint8Array,
  ) {
    super(error.message);
  }
}

export function parseOrExplain(bytes: Uint8Array): Quote {
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
export class ErrorWithDecode extends Error {
  constructor(
    readonly error: TdxError,
    readonly decode: DecodeResponse,
  ) {
    super(error.message);
  }
}

export interface VerifyContext {
  verifier: Verifier;
  /** Where collateral comes from when the request carries none (the server's PCCS/PCS client). */
  collateralFor?: ((quote: Quote, now: Date) => Promise<Collateral>) | undefined;
  clock: () => number;
  /** Where the details of a collateral failure go (the request's log). */
  log?: (e: unknown) => void;
  /**
   * Whether a collateral failure is the quote's own fault (its PCK chain), which the caller may see; the
   * server passes collateral/service.ts's isQuoteFault (kept out of this file, which runs in pages too).
   */
  isQuoteFault?: (e: unknown) => boolean;
  /** Verify with `verifyAsync` (WebCrypto in a page); default `verify`. The same result either way. */
  async?: boolean;
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
        if (ctx.isQuoteFault?.(e) && isTdxError(e)) throw e;
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
    const now = { now: Math.floor(atMs / 1000) };
    const result = ctx.async
      ? await ctx.verifier.verifyAsync(quote, collateral, now)
      : ctx.verifier.verify(quote, collateral, now);
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
