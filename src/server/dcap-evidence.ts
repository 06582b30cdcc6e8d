import { parseQuote } from "../abi/index.js";
import type { Quote } from "../abi/types.js";
import type { Collateral } from "../collateral/types.js";
import { TdxError } from "../errors.js";
import { replayEventLog } from "../eventlog/index.js";
import type { EvidenceVerdict, EvidenceVerifier } from "../kbs/evidence.js";
import { type TrustAnchorInput, Verifier } from "../verify/index.js";

/** Where the broker gets collateral for a quote: a PCCS/PCS through the cache, or the simulated platform. */
export interface CollateralProvider {
  forQuote(quote: Quote, now: Date): Promise<Collateral>;
  stats?(): { hits: number; misses: number };
  readonly description: string;
}

/**
 * The broker's evidence verifier: the project's DCAP verifier (Intel's root unless other anchors are
 * given) with collateral from a provider, plus event-log replay against the quote's RTMRs.
 */
export class DcapEvidenceVerifier implements EvidenceVerifier {
  readonly #verifier: Verifier;

  constructor(
    readonly collateral: CollateralProvider,
    opts: { trustAnchors?: TrustAnchorInput[] } = {},
  ) {
    this.#verifier = new Verifier(opts.trustAnchors ? { trustAnchors: opts.trustAnchors } : {});
  }

  /** The DCAP verifier itself, to share its caches (the explorer's /api/verify uses it). */
  get dcapVerifier(): Verifier {
    return this.#verifier;
  }

  get trustAnchors(): string[] {
    return this.#verifier.trustAnchors;
  }

  cacheStats() {
    return this.collateral.stats?.() ?? { hits: 0, misses: 0 };
  }

  async verify(input: { quote: Uint8Array; ccEventlog?: Uint8Array; now: Date }): Promise<EvidenceVerdict> {
    const quote = parseQuote(input.quote);
    if (quote.body.kind === "sgx")
      throw new TdxError("KBS_EVIDENCE_NOT_TDX", "the quote is an SGX enclave quote, not a TD quote", {
        hint: "send the TD quote (version 4 or 5, TEE type 0x81)",
      });
    let collateral: Collateral;
    try {
      collateral = await this.collateral.forQuote(quote, input.now);
    } catch (e) {
      throw new TdxError(
        "KBS_COLLATERAL_UNAVAILABLE",
        `no collateral for this platform from ${this.collateral.description}: ${(e as Error).message}`,
        {
          cause: e,
          hint: "check the broker's PCCS/PCS configuration and connectivity; the TD may retry later",
          data: isTdxErr(e) ? { cause: e.toJSON() } : {},
        },
      );
    }
    const result = this.#verifier.verify(quote, collateral, { now: input.now });
    const verdict: EvidenceVerdict = {
      ok: result.ok,
      problems: result.ok
        ? []
        : [
            result.error
              ? {
                  code: result.error.code,
                  message: result.error.message,
                  ...(result.error.hint ? { hint: result.error.hint } : {}),
                }
              : { code: "QUOTE_NOT_VERIFIED", message: "verification failed" },
          ],
      quote,
      advisoryIds: result.advisoryIds,
      collateralExpired: result.collateralExpired,
      result,
    };
    if (result.tcbStatus) verdict.tcbStatus = result.tcbStatus;
    if (result.matchedTcbLevel) verdict.tcbDate = result.matchedTcbLevel.tcbDate;
    if (result.earliestExpiry) verdict.collateralExpiresAt = result.earliestExpiry.iso;
    if (input.ccEventlog) verdict.eventLog = replay(input.ccEventlog, quote);
    return verdict;
  }
}

function replay(log: Uint8Array, quote: Quote): NonNullable<EvidenceVerdict["eventLog"]> {
  try {
    const report = replayEventLog(log, { expected: quote });
    const events = report.logs.reduce((n, l) => n + l.events, 0);
    return {
      replayed: true,
      matches: report.ok === true,
      events,
      ...(report.firstDivergence ? { detail: report.firstDivergence.message } : {}),
    };
  } catch (e) {
    return {
      replayed: false,
      matches: false,
      events: 0,
      detail: isTdxErr(e) ? `${e.code}: ${e.message}` : String(e),
    };
  }
}

function isTdxErr(e: unknown): e is TdxError {
  return e instanceof TdxError;
}
