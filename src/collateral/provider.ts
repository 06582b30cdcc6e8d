import type { Quote } from "../abi/types.js";
import { CollateralService, type CollateralServiceOptions } from "./service.js";
import type { Collateral } from "./types.js";

/** Collateral cache counters for /metrics (the optional ones when the provider has them). */
export interface CollateralProviderStats {
  /** Served without a fetch. */
  hits: number;
  /** Fetches made (no entry, or a due one). */
  misses: number;
  /** Valid entries served while their refresh failed, backed off or was slow. */
  staleServed?: number;
  /** Fetches that failed (every endpoint down, or the answer refused). */
  refreshFailures?: number;
  /** Answers refused because they did not verify (signature, issuer chain, platform). */
  rejected?: number;
  /** Calls answered from a remembered failure (backoff, a remembered 404) without a request. */
  backoffRefused?: number;
}

/**
 * Where an evidence verifier gets collateral for a quote: a PCCS/PCS through the cache, the simulated
 * platform, or anything else with this shape (the seam a verifier is handed; see src/attest).
 */
export interface CollateralProvider {
  forQuote(quote: Quote, now: Date): Promise<Collateral>;
  /** Cache counters for /metrics, when the provider caches. */
  stats?(): CollateralProviderStats;
  /** Where the collateral comes from, for messages ("https://pccs:8081/...", "the simulated platform"). */
  readonly description: string;
}

export type PcsCollateralProviderOptions = Pick<
  CollateralServiceOptions,
  | "urls"
  | "cacheDir"
  | "timeoutMs"
  | "trustAnchors"
  | "redirects"
  | "maxRequestsPerMinute"
  | "backoffSeconds"
  | "maxBackoffSeconds"
  | "notFoundSeconds"
  | "refreshWaitMs"
  | "refreshAheadSeconds"
  | "maxAgeSeconds"
  | "onWarning"
  | "fetch"
>;

/** Production: collateral from PCCS/PCS URLs (tried in order) through the expiry-driven cache. */
export class PcsCollateralProvider implements CollateralProvider {
  readonly service: CollateralService;
  readonly description: string;

  constructor(opts: PcsCollateralProviderOptions) {
    // Options left undefined are left out (exactOptionalPropertyTypes): the service's defaults apply.
    const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.service = new CollateralService({ ...defined, urls: opts.urls } as CollateralServiceOptions);
    this.description = opts.urls.join(", ");
  }

  async forQuote(quote: Quote, now: Date): Promise<Collateral> {
    return (await this.service.fetchForQuote(quote, { now })).collateral;
  }

  stats(): CollateralProviderStats {
    const s = this.service.stats();
    return {
      hits: s.hits,
      misses: s.misses + s.refreshes,
      staleServed: s.staleServed,
      refreshFailures: s.fetchErrors,
      rejected: s.rejected,
      backoffRefused: s.backoffRefused,
    };
  }
}
