import type { Quote } from "../abi/types.js";
import type { CollateralProvider } from "../collateral/provider.js";
import type { Collateral } from "../collateral/types.js";
import type { SimPlatform } from "./platform.js";

/**
 * Development: the simulated platform issues the collateral for its own quotes. Issued once and
 * reused until it is due (like a cache), so an attestation costs what it would against a PCCS.
 */
export class SimCollateralProvider implements CollateralProvider {
  readonly description: string;
  #cached: { collateral: Collateral; issueDate: number; nextUpdate: number } | undefined;
  #pending: Promise<Collateral> | undefined;
  #hits = 0;
  #misses = 0;

  constructor(readonly platform: SimPlatform) {
    this.description = `the simulated platform${platform.stateDir ? ` in ${platform.stateDir}` : ""}`;
  }

  async forQuote(_quote: Quote, now: Date): Promise<Collateral> {
    const t = now.getTime();
    const c = this.#cached;
    // Reissue a day before it is due, and whenever `now` lies before the issue time (a test clock).
    if (c && t >= c.issueDate && t < c.nextUpdate - 24 * 3600 * 1000) {
      this.#hits++;
      return c.collateral;
    }
    if (this.#pending) {
      this.#hits++;
      return this.#pending;
    }
    this.#misses++;
    this.#pending = this.platform
      .collateralBundle({ now })
      .then((b) => {
        this.#cached = {
          collateral: b.collateral,
          issueDate: b.issueDate.getTime(),
          nextUpdate: b.nextUpdate.getTime(),
        };
        return b.collateral;
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  stats() {
    return { hits: this.#hits, misses: this.#misses };
  }
}
