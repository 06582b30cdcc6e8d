/**
 * What a quote needs from PCS/PCCS, fetched through the expiry-driven cache and assembled into the
 * `Collateral` the verifier takes: the PCK CRL of the CA that issued the quote's PCK certificate, the Root
 * CA CRL, the TCB Info of the platform's FMSPC for its TEE (SGX or TDX), and the matching QE Identity.
 */
import { parseQuote, pckCertChainOf } from "../abi/index.js";
import type { Quote } from "../abi/types.js";
import { TEE_TYPE_TDX } from "../abi/types.js";
import { parsePckExtensions, pckCaType } from "../crypto/pck.js";
import { certificateDer } from "../crypto/x509.js";
import { TdxError } from "../errors.js";
import { type Artifact, type CacheStats, CollateralCache, type CollateralCacheOptions } from "./cache.js";
import { type CaType, PcsClient, type TeeKind, type UpdateType } from "./client.js";
import { readCrl, readQeIdentityResponse, readTcbInfoResponse, splitPemCertificates } from "./pcs.js";
import { CollateralTrust, type CollateralTrustAnchor } from "./trust.js";
import type { Collateral } from "./types.js";

/** What identifies the collateral of a platform. */
export interface PlatformCollateralKey {
  tee: TeeKind;
  /** Uppercase hex, 12 digits. */
  fmspc: string;
  /** Which CA issued the PCK certificate (selects the PCK CRL). */
  caType: CaType;
}

/** Reads TEE type, FMSPC and PCK CA type from a quote (its type-5 PCK chain, or `pckCertificateChain`). */
export function platformOfQuote(
  quote: Quote | Uint8Array,
  pckCertificateChain?: string,
): PlatformCollateralKey & { pckChain: string[] } {
  const q = quote instanceof Uint8Array ? parseQuote(quote) : quote;
  const chain =
    pckCertificateChain !== undefined ? splitPemCertificates(pckCertificateChain) : pckCertChainOf(q);
  const leaf = chain?.[0];
  if (chain === null || leaf === undefined)
    throw new TdxError(
      "QUOTE_NO_PCK_CHAIN",
      "the quote carries no PCK certificate chain (certification data type 5)",
      {
        field: "signatureData.certificationData",
        hint: "fetch the PCK certificate for this platform separately and pass it as the PCK certificate chain",
      },
    );
  const der = certificateDer(leaf);
  const ext = parsePckExtensions(der);
  return {
    tee: q.header.teeType === TEE_TYPE_TDX ? "tdx" : "sgx",
    fmspc: ext.fmspc.toUpperCase(),
    caType: pckCaType(der),
    pckChain: chain,
  };
}

export interface CollateralServiceOptions extends CollateralCacheOptions {
  /** PCCS / PCS base URLs, tried in order. */
  urls: string[];
  /** Directory for the on-disk cache (alias of `dir`). */
  cacheDir?: string;
  /** Per-request timeout (ms). Default 10 s. */
  timeoutMs?: number;
  /** The fetch to use (default: global fetch). */
  fetch?: typeof fetch;
  /** Progress lines for network work. */
  onProgress?: (line: string) => void;
  /** Clock used when a call passes no `now` (unix ms). Default Date.now. */
  clock?: () => number;
  /**
   * Roots the fetched collateral and the quotes' PCK chains must lead to (PEM or DER). Default: Intel's
   * SGX Root CA only. A quote whose PCK chain does not lead to one gets nothing fetched
   * (QUOTE_PCK_CHAIN_UNTRUSTED); an answer whose signature or issuer chain does not verify is refused
   * (COLLATERAL_REJECTED) and never replaces a cached entry.
   */
  trustAnchors?: CollateralTrustAnchor[];
  /** Redirects of the PCS/PCCS: `none` (default) or `same-origin`. */
  redirects?: "none" | "same-origin";
  /** Outbound requests per minute over everything this service fetches (default 120; 0: no limit). */
  maxRequestsPerMinute?: number;
}

export interface CollateralRequestOptions {
  /** Intel's TCB evaluation data set; `early` is the next TCB recovery published ahead. Default standard. */
  update?: UpdateType;
  /** The time the cache judges freshness at: a Date or unix seconds. Default: the service clock. */
  now?: Date | number;
  /** PEM PCK chain for quotes without certification data type 5; copied into the collateral. */
  pckCertificateChain?: string;
}

/** The collateral plus where each part came from and until when it is valid. */
export interface FetchedCollateral {
  collateral: Collateral;
  platform: PlatformCollateralKey;
  artifacts: Artifact[];
  /** Earliest nextUpdate over TCB Info, QE Identity and both CRLs. */
  validUntil: Date;
}

/** Converts `Date | unix seconds` to unix ms. */
export function toUnixMs(now: Date | number): number {
  if (now instanceof Date) return now.getTime();
  if (!Number.isFinite(now))
    throw new TdxError("TIME_INVALID", `not a time: ${now}`, {
      field: "now",
      hint: "pass a Date or unix seconds",
    });
  return now * 1000;
}

const quoteFaults = new WeakSet<Error>();

/**
 * Whether an error of `fetchForQuote` is the quote's own fault (no PCK chain, a chain no trusted root
 * vouches for, an unreadable certificate) rather than the collateral service's: a caller answers the
 * first as a refused quote, the second as "collateral unavailable, retry later".
 */
export function isQuoteFault(e: unknown): boolean {
  return e instanceof Error && quoteFaults.has(e);
}

export class CollateralService {
  readonly client: PcsClient;
  readonly cache: CollateralCache;
  readonly trust: CollateralTrust;
  private readonly clock: () => number;

  constructor(options: CollateralServiceOptions) {
    this.trust = new CollateralTrust(options.trustAnchors);
    const validate = (a: Artifact) => this.trust.checkArtifact(a);
    this.client = new PcsClient({
      urls: options.urls,
      validate,
      ...(options.redirects === undefined ? {} : { redirects: options.redirects }),
      ...(options.maxRequestsPerMinute === undefined
        ? {}
        : { maxRequestsPerMinute: options.maxRequestsPerMinute }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    const dir = options.cacheDir ?? options.dir;
    this.cache = new CollateralCache({
      ...(dir === undefined ? {} : { dir }),
      ...(options.refreshAheadSeconds === undefined
        ? {}
        : { refreshAheadSeconds: options.refreshAheadSeconds }),
      ...(options.maxAgeSeconds === undefined ? {} : { maxAgeSeconds: options.maxAgeSeconds }),
      ...(options.backoffSeconds === undefined ? {} : { backoffSeconds: options.backoffSeconds }),
      ...(options.maxBackoffSeconds === undefined ? {} : { maxBackoffSeconds: options.maxBackoffSeconds }),
      ...(options.notFoundSeconds === undefined ? {} : { notFoundSeconds: options.notFoundSeconds }),
      ...(options.refreshWaitMs === undefined ? {} : { refreshWaitMs: options.refreshWaitMs }),
      validate,
      ...((options.onWarning ?? options.onProgress)
        ? { onWarning: options.onWarning ?? options.onProgress }
        : {}),
    });
    this.clock = options.clock ?? Date.now;
  }

  /** Cache counters (hits, misses, refreshes, stale served, ...). */
  stats(): CacheStats {
    return this.cache.stats();
  }

  /** The collateral for a quote (parsed or raw bytes). */
  async forQuote(quote: Quote | Uint8Array, options: CollateralRequestOptions = {}): Promise<Collateral> {
    return (await this.fetchForQuote(quote, options)).collateral;
  }

  /** Like `forQuote`, with the platform identity, the artifacts and the validity end. */
  async fetchForQuote(
    quote: Quote | Uint8Array,
    options: CollateralRequestOptions = {},
  ): Promise<FetchedCollateral> {
    let platform: ReturnType<typeof platformOfQuote>;
    try {
      platform = platformOfQuote(quote, options.pckCertificateChain);
      // Nothing is fetched for a chain no trusted root vouches for: outsiders do not choose the FMSPC.
      this.trust.checkPckChain(platform.pckChain);
    } catch (e) {
      if (e instanceof Error) quoteFaults.add(e);
      throw e;
    }
    const fetched = await this.fetchForPlatform(platform, options);
    if (options.pckCertificateChain !== undefined)
      fetched.collateral.pckCertificateChain = options.pckCertificateChain;
    return fetched;
  }

  /** The collateral for a platform given by TEE, FMSPC and PCK CA type. */
  async fetchForPlatform(
    platform: PlatformCollateralKey,
    options: CollateralRequestOptions = {},
  ): Promise<FetchedCollateral> {
    const now = options.now === undefined ? this.clock() : toUnixMs(options.now);
    const update = options.update ?? "standard";
    const { tee, fmspc, caType } = platform;
    const c = this.client;
    const [pckCrl, rootCaCrl, tcbInfo, qeIdentity] = await Promise.all([
      this.cache.get(`pckcrl/${caType}`, () => c.pckCrl(caType), now),
      this.cache.get("rootcacrl", () => c.rootCaCrl(), now),
      this.cache.get(`${tee}/tcb/${fmspc.toUpperCase()}/${update}`, () => c.tcbInfo(tee, fmspc, update), now),
      this.cache.get(`${tee}/qe-identity/${update}`, () => c.qeIdentity(tee, update), now),
    ]);
    const tcb = readTcbInfoResponse(tcbInfo.body);
    const qe = readQeIdentityResponse(qeIdentity.body);
    const collateral: Collateral = {
      pckCrlIssuerChain: requireChain(pckCrl),
      rootCaCrl: readCrl(rootCaCrl.body, "rootCaCrl").der,
      pckCrl: readCrl(pckCrl.body, "pckCrl").der,
      tcbInfoIssuerChain: requireChain(tcbInfo),
      tcbInfo: tcb.body,
      tcbInfoSignature: new Uint8Array(Buffer.from(tcb.signature, "hex")),
      qeIdentityIssuerChain: requireChain(qeIdentity),
      qeIdentity: qe.body,
      qeIdentitySignature: new Uint8Array(Buffer.from(qe.signature, "hex")),
    };
    const artifacts = [pckCrl, rootCaCrl, tcbInfo, qeIdentity];
    const validUntil = new Date(Math.min(...artifacts.map((a) => a.nextUpdate)));
    return { collateral, platform: { tee, fmspc: fmspc.toUpperCase(), caType }, artifacts, validUntil };
  }
}

function requireChain(a: Artifact): string {
  if (a.issuerChain === null)
    throw new TdxError("COLLATERAL_FORMAT", `${a.key} has no issuer chain`, {
      field: a.key,
      hint: "the cached entry is damaged; delete it from the cache directory",
    });
  return a.issuerChain;
}

export interface FetchCollateralOptions extends CollateralRequestOptions {
  urls: string[];
  /** Roots to trust instead of Intel's SGX Root CA (see CollateralServiceOptions.trustAnchors). */
  trustAnchors?: CollateralTrustAnchor[];
  cacheDir?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
  onProgress?: (line: string) => void;
}

const services = new Map<string, CollateralService>();

/**
 * The collateral for a quote from PCS/PCCS. Services (and their in-memory caches) are shared per
 * (urls, cacheDir), so repeated calls reuse what was fetched.
 */
export async function fetchCollateralForQuote(
  quote: Quote | Uint8Array,
  options: FetchCollateralOptions,
): Promise<Collateral> {
  const anchors = options.trustAnchors?.map((a) =>
    typeof a === "string" ? a : Buffer.from(a).toString("base64"),
  );
  const id = JSON.stringify([
    options.urls,
    options.cacheDir ?? null,
    options.timeoutMs ?? null,
    anchors ?? null,
  ]);
  let service =
    options.fetch === undefined && options.onProgress === undefined ? services.get(id) : undefined;
  if (service === undefined) {
    service = new CollateralService(options);
    if (options.fetch === undefined && options.onProgress === undefined) {
      // Bounded: callers cycling through many URL lists must not grow this forever.
      if (services.size >= 16) services.clear();
      services.set(id, service);
    }
  }
  return service.forQuote(quote, options);
}
