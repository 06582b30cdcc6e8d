/**
 * Client of Intel PCS v4 and of PCCS (Intel's caching service, same paths). Several base URLs may be given;
 * each request tries them in order and the first good answer wins. Every answer is read and checked by the
 * readers in ./pcs.ts before it is handed on, so a damaged body from one endpoint makes the client try the
 * next one instead of caching garbage.
 */
import { hexOf } from "../encoding.js";
import { TdxError } from "../errors.js";
import type { Artifact } from "./cache.js";
import {
  ISSUER_CHAIN_HEADERS,
  issuerChainFromHeaders,
  readCrl,
  readQeIdentityResponse,
  readTcbInfoResponse,
} from "./pcs.js";

export type TeeKind = "sgx" | "tdx";
export type CaType = "processor" | "platform";
/** Intel's TCB evaluation data sets: `standard` (default) or `early` (the next TCB recovery, published ahead). */
export type UpdateType = "standard" | "early";

/** Intel's CRL distribution point for the SGX Root CA CRL (named in the root certificate). */
export const INTEL_ROOT_CA_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
/** Intel's Provisioning Certification Service. */
export const INTEL_PCS_URL = "https://api.trustedservices.intel.com";

export interface PcsClientOptions {
  /** Base URLs (Intel PCS or PCCS), tried in order. A trailing `/sgx|tdx/certification/v3|v4` is ignored. */
  urls: string[];
  /** Per-request timeout in milliseconds. Default 10 s. */
  timeoutMs?: number;
  /** The fetch to use (default: global fetch). */
  fetch?: typeof fetch;
  /** Progress lines (one per request), e.g. to stderr. */
  onProgress?: (line: string) => void;
  /**
   * Redirects: `none` (default: a 3xx answer is a failed attempt and the next URL is tried) or
   * `same-origin` (followed, at most 3, only to the same scheme, host and port).
   */
  redirects?: "none" | "same-origin";
  /**
   * Checks an answer before it is returned (signature, issuer chain, platform); throws to refuse it, and
   * the next URL is tried. The collateral service passes its trust gate here.
   */
  validate?: (a: Artifact) => void;
  /** Outbound requests allowed per minute over all URLs and artifacts (default 120; 0: no limit). */
  maxRequestsPerMinute?: number;
}

interface Attempt {
  url: string;
  status?: number;
  error: string;
  /** The error code when the answer arrived but was refused (COLLATERAL_FORMAT, COLLATERAL_REJECTED). */
  code?: string;
  /** Seconds, from a 429/503 Retry-After header. */
  retryAfterSeconds?: number;
}

/** Retry-After: delta seconds or an HTTP date (RFC 9110 10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

const MAX_REDIRECTS = 3;

function normaliseBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new TdxError("PCS_URL_INVALID", `not a URL: ${url}`, {
      field: "urls",
      hint: "give the PCCS or PCS base URL, e.g. https://localhost:8081 or https://api.trustedservices.intel.com",
      cause: e,
    });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new TdxError("PCS_URL_INVALID", `unsupported URL scheme ${u.protocol} in ${url}`, {
      field: "urls",
      hint: "use an http:// or https:// base URL",
    });
  const path = u.pathname.replace(/\/+$/, "").replace(/\/(sgx|tdx)\/certification\/v[34]$/, "");
  return `${u.origin}${path}`;
}

function isIntelPcs(base: string): boolean {
  return new URL(base).hostname === "api.trustedservices.intel.com";
}

export class PcsClient {
  readonly urls: readonly string[];
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly onProgress: ((line: string) => void) | undefined;
  private readonly redirects: "none" | "same-origin";
  private readonly validate: ((a: Artifact) => void) | undefined;
  private readonly maxPerMinute: number;
  private budget = { windowStart: 0, used: 0 };

  constructor(options: PcsClientOptions) {
    if (options.urls.length === 0)
      throw new TdxError("PCS_URL_MISSING", "no PCS/PCCS URL given", {
        field: "urls",
        hint: "pass --pccs URL (repeatable), e.g. --pccs https://localhost:8081",
      });
    this.urls = options.urls.map(normaliseBase);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetchFn = options.fetch ?? fetch;
    this.onProgress = options.onProgress;
    this.redirects = options.redirects ?? "none";
    if (this.redirects !== "none" && this.redirects !== "same-origin")
      throw new TdxError("PCS_URL_INVALID", `redirects must be none or same-origin, got ${this.redirects}`, {
        field: "redirects",
        hint: "use none (the default) or same-origin",
      });
    this.validate = options.validate;
    this.maxPerMinute = options.maxRequestsPerMinute ?? 120;
  }

  /**
   * Take one outbound request from the per-minute budget, or refuse (PCS_FETCH_LIMITED) so that callers
   * (attacker-driven or not) can never make this process hammer the PCS. Wall-clock: it bounds network I/O.
   */
  private takeRequest(what: string): void {
    if (this.maxPerMinute <= 0) return;
    const t = Date.now();
    if (t - this.budget.windowStart >= 60_000) this.budget = { windowStart: t, used: 0 };
    if (this.budget.used >= this.maxPerMinute) {
      const retryAfterSeconds = Math.max(1, Math.ceil((this.budget.windowStart + 60_000 - t) / 1000));
      throw new TdxError(
        "PCS_FETCH_LIMITED",
        `not fetching ${what}: ${this.maxPerMinute} requests to the collateral service this minute already`,
        {
          hint: "the outbound request budget (collateral.maxRequestsPerMinute) is spent; cached collateral is still served. Raise the budget if this is normal load",
          data: { retryAfterSeconds },
        },
      );
    }
    this.budget.used++;
  }

  /** GET with this client's timeout; 3xx answers are followed only as `redirects` allows. */
  private async get(url: string, signal: AbortSignal): Promise<Response> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await this.fetchFn(current, { signal, redirect: "manual" });
      if (res.status < 300 || res.status >= 400 || res.status === 304) return res;
      const location = res.headers.get("location");
      await res.body?.cancel().catch(() => {});
      const target = location === null ? null : safeUrl(location, current);
      const sameOrigin = target !== null && target.origin === new URL(current).origin;
      if (this.redirects === "same-origin" && sameOrigin && hop < MAX_REDIRECTS) {
        current = target.toString();
        continue;
      }
      throw new RedirectRefused(
        res.status,
        target === null
          ? "without a usable Location"
          : this.redirects === "none"
            ? "(redirects are not followed: collateral.redirects is none)"
            : sameOrigin
              ? `(more than ${MAX_REDIRECTS} redirects)`
              : "to another origin (only same-origin redirects are followed)",
      );
    }
  }

  /** TCB Info for an FMSPC. */
  async tcbInfo(tee: TeeKind, fmspc: string, update: UpdateType = "standard"): Promise<Artifact> {
    const f = fmspc.toUpperCase();
    if (!/^[0-9A-F]{12}$/.test(f))
      throw new TdxError("PCS_BAD_REQUEST", `FMSPC must be 12 hex digits, got ${fmspc}`, {
        field: "fmspc",
        hint: "the FMSPC comes from the PCK certificate's SGX extension",
      });
    const key = `${tee}/tcb/${f}/${update}`;
    return this.request(
      key,
      "tcbInfo",
      (base) => `${base}/${tee}/certification/v4/tcb?fmspc=${f}${update === "early" ? "&update=early" : ""}`,
      async (res, url) => {
        const body = new TextDecoder().decode(await readBody(res));
        const item = readTcbInfoResponse(body);
        if (item.fmspc !== f)
          throw new TdxError("COLLATERAL_FORMAT", `asked for FMSPC ${f}, got TCB Info for ${item.fmspc}`, {
            field: "tcbInfo.fmspc",
            hint: `${url} answered with another platform's TCB Info`,
          });
        const expectedId = tee === "tdx" ? "TDX" : "SGX";
        if (item.id !== null && item.id !== expectedId)
          throw new TdxError("COLLATERAL_FORMAT", `asked for ${expectedId} TCB Info, got id ${item.id}`, {
            field: "tcbInfo.id",
            hint: `${url} answered with the wrong TEE's TCB Info`,
          });
        const chain = issuerChainFromHeaders(res.headers, ISSUER_CHAIN_HEADERS.tcbInfo, 2);
        return { body, issuerChain: chain, nextUpdate: item.nextUpdate.getTime() };
      },
      `TCB Info for FMSPC ${f}`,
    );
  }

  /** QE Identity: the TD QE (`tdx`) or the SGX QE (`sgx`). */
  qeIdentity(tee: TeeKind, update: UpdateType = "standard"): Promise<Artifact> {
    const key = `${tee}/qe-identity/${update}`;
    return this.request(
      key,
      "qeIdentity",
      (base) => `${base}/${tee}/certification/v4/qe/identity${update === "early" ? "?update=early" : ""}`,
      async (res, url) => {
        const body = new TextDecoder().decode(await readBody(res));
        const item = readQeIdentityResponse(body);
        const expectedId = tee === "tdx" ? "TD_QE" : "QE";
        if (item.id !== null && item.id !== expectedId)
          throw new TdxError("COLLATERAL_FORMAT", `asked for the ${expectedId} identity, got ${item.id}`, {
            field: "enclaveIdentity.id",
            hint: `${url} answered with another enclave's identity`,
          });
        const chain = issuerChainFromHeaders(res.headers, ISSUER_CHAIN_HEADERS.qeIdentity, 2);
        return { body, issuerChain: chain, nextUpdate: item.nextUpdate.getTime() };
      },
      `${tee === "tdx" ? "TD QE" : "QE"} identity`,
    );
  }

  /** PCK CRL of the Processor or Platform CA (DER requested; PEM and hex accepted). */
  pckCrl(ca: CaType): Promise<Artifact> {
    return this.request(
      `pckcrl/${ca}`,
      "pckCrl",
      (base) => `${base}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`,
      async (res) => {
        const crl = readCrl(await readBody(res), "pckCrl");
        const chain = issuerChainFromHeaders(res.headers, ISSUER_CHAIN_HEADERS.pckCrl, 2);
        return { body: hexOf(crl.der), issuerChain: chain, nextUpdate: crlExpiry(crl.nextUpdate) };
      },
      `PCK CRL (${ca} CA)`,
    );
  }

  /**
   * Root CA CRL: PCCS serves it at /sgx/certification/v4/rootcacrl (hex of the DER); Intel PCS does not,
   * it lives at the root certificate's CRL distribution point.
   */
  rootCaCrl(): Promise<Artifact> {
    return this.request(
      "rootcacrl",
      "rootCaCrl",
      (base) => (isIntelPcs(base) ? INTEL_ROOT_CA_CRL_URL : `${base}/sgx/certification/v4/rootcacrl`),
      async (res) => {
        const crl = readCrl(await readBody(res), "rootCaCrl");
        return { body: hexOf(crl.der), issuerChain: null, nextUpdate: crlExpiry(crl.nextUpdate) };
      },
      "Root CA CRL",
    );
  }

  private async request(
    key: string,
    kind: Artifact["kind"],
    urlOf: (base: string) => string,
    read: (
      res: Response,
      url: string,
    ) => Promise<{ body: string; issuerChain: string | null; nextUpdate: number }>,
    what: string,
  ): Promise<Artifact> {
    const attempts: Attempt[] = [];
    for (const base of this.urls) {
      const url = urlOf(base);
      this.takeRequest(what);
      this.onProgress?.(`fetching ${what} from ${url}`);
      // One deadline for the answer and its body: a body trickled in slowly is cut off too.
      const signal = AbortSignal.timeout(this.timeoutMs);
      let res: Response;
      try {
        res = await this.get(url, signal);
      } catch (e) {
        const reason =
          e instanceof RedirectRefused
            ? e.message
            : isTimeout(e, signal)
              ? `no answer within ${this.timeoutMs} ms`
              : networkReason(e);
        attempts.push({ url, error: reason, ...(e instanceof RedirectRefused ? { status: e.status } : {}) });
        this.onProgress?.(`  ${url}: ${reason}`);
        continue;
      }
      if (res.status !== 200) {
        const detail = res.headers.get("Error-Message") ?? res.headers.get("Error-Code") ?? res.statusText;
        const retryAfterSeconds =
          res.status === 429 || res.status === 503
            ? parseRetryAfter(res.headers.get("Retry-After"))
            : undefined;
        await res.body?.cancel().catch(() => {});
        attempts.push({
          url,
          status: res.status,
          error: `HTTP ${res.status}${detail ? ` ${detail}` : ""}`,
          ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
        });
        this.onProgress?.(`  ${url}: HTTP ${res.status}`);
        continue;
      }
      try {
        const r = await read(res, url);
        const artifact: Artifact = { key, kind, ...r, fetchedAt: Date.now(), source: url };
        this.validate?.(artifact);
        return artifact;
      } catch (e) {
        if (!(e instanceof TdxError)) {
          // The body did not arrive (deadline, reset): the endpoint failed, the data is not at fault.
          const reason = isTimeout(e, signal)
            ? `the body did not arrive within ${this.timeoutMs} ms`
            : `the body could not be read: ${networkReason(e)}`;
          attempts.push({ url, error: reason });
          this.onProgress?.(`  ${url}: ${reason}`);
          continue;
        }
        attempts.push({ url, status: 200, error: e.message, code: e.code });
        this.onProgress?.(`  ${url}: ${e.message}`);
      }
    }
    throw failure(what, attempts);
  }
}

/** A redirect this client does not follow: a failed attempt. */
class RedirectRefused extends Error {
  constructor(
    readonly status: number,
    why: string,
  ) {
    super(`HTTP ${status} redirect ${why}`);
  }
}

function safeUrl(location: string, base: string): URL | null {
  try {
    return new URL(location, base);
  } catch {
    return null;
  }
}

function isTimeout(e: unknown, signal: AbortSignal): boolean {
  if (signal.aborted) return true;
  return e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
}

/** Largest response body accepted (Intel's largest, a PCK CRL, is a few hundred kB). */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Reads a response body, refusing one larger than MAX_RESPONSE_BYTES (a broken or hostile endpoint). */
async function readBody(res: Response): Promise<Uint8Array> {
  const declared = Number(res.headers.get("Content-Length") ?? "0");
  if (declared > MAX_RESPONSE_BYTES) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(declared);
  }
  if (res.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge(total);
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function tooLarge(size: number): TdxError {
  return new TdxError("COLLATERAL_FORMAT", `response body of ${size} bytes exceeds ${MAX_RESPONSE_BYTES}`, {
    hint: "the endpoint is not a PCS/PCCS or is misbehaving",
  });
}

function crlExpiry(nextUpdate: Date | null): number {
  if (nextUpdate === null)
    throw new TdxError("COLLATERAL_FORMAT", "CRL has no nextUpdate", {
      field: "crl.nextUpdate",
      hint: "Intel CRLs always carry nextUpdate; the endpoint returned something else",
    });
  return nextUpdate.getTime();
}

function networkReason(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as Error & { cause?: unknown }).cause;
    const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined;
    const cmsg = cause instanceof Error ? cause.message : undefined;
    return typeof code === "string" ? `${code}${cmsg ? ` (${cmsg})` : ""}` : (cmsg ?? e.message);
  }
  return String(e);
}

function failure(what: string, attempts: Attempt[]): TdxError {
  const tried = attempts.map((a) => `${a.url}: ${a.error}`).join("; ");
  const retryAfter = attempts.reduce<number | undefined>(
    (m, a) => (a.retryAfterSeconds === undefined ? m : Math.max(m ?? 0, a.retryAfterSeconds)),
    undefined,
  );
  const data = { attempts, ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }) };
  if (attempts.some((a) => a.code === "COLLATERAL_REJECTED"))
    return new TdxError("COLLATERAL_REJECTED", `no endpoint returned ${what} that verifies (${tried})`, {
      hint: "an endpoint answered with collateral whose signature or issuer chain does not verify up to a trusted root, or for another platform; check the PCCS and its upstream (cached collateral stays in use while valid)",
      data,
    });
  if (attempts.length > 0 && attempts.every((a) => a.status === 404))
    return new TdxError("PCS_NOT_FOUND", `no endpoint has ${what} (${tried})`, {
      hint: what.startsWith("TCB Info")
        ? "this FMSPC is unknown to the service: register the platform with Intel PCS (or the PCCS's upstream), or check that the quote's TEE type matches the service"
        : "the service does not serve this item; check that the URL is a PCS v4 compatible PCCS or Intel PCS",
      data,
    });
  if (attempts.some((a) => a.status === 200))
    return new TdxError("COLLATERAL_FORMAT", `no endpoint returned usable ${what} (${tried})`, {
      hint: "an endpoint answered with a damaged or mismatching body; check the PCCS's upstream and cache",
      data,
    });
  return new TdxError("PCS_UNREACHABLE", `cannot fetch ${what}: every endpoint failed (${tried})`, {
    hint: "check that the PCCS/PCS is running and reachable (URL, port, TLS, proxy), or verify offline with --collateral FILE",
    data,
  });
}
