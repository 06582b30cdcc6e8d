import type { Quote } from "../abi/types.js";
import { CollateralService } from "./service.js";
import type { Collateral } from "./types.js";

/**
 * Where an evidence verifier gets collateral for a quote: a PCCS/PCS through the cache, the simulated
 * platform, or anything else with this shape (the seam a verifier is handed; see src/attest).
 */
export interface CollateralProvider {
  forQuote(quote: Quote, now: Date): Promise<Collateral>;
  /** Cache counters for /metrics, when the provider caches. */
  stats?(): { hits: number; misses: number };
  /** Where the collateral comes from, for messages ("https://pccs:8081/...", "the simulated platform"). */
  readonly description: string;
}

/** Production: collateral from PCCS/PCS URLs (tried in order) through the expiry-driven cache. */
export class PcsCollateralProvider implements CollateralProvider {
  readonly service: CollateralService;
  readonly description: string;

  constructor(opts: { urls: string[]; cacheDir?: string; timeoutMs?: number }) {
    this.service = new CollateralService({
      urls: opts.urls,
      ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
    this.description = opts.urls.join(", ");
  }

  async forQuote(quote: Quote, now: Date): Promise<Collateral> {
    return (await this.service.fetchForQuote(quote, { now })).collateral;
  }

  stats() {
    const s = this.service.stats();
    return { hits: s.hits, misses: s.misses + s.refreshes };
  }
}
