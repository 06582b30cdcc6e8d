import type { CollateralProvider, CollateralProviderStats } from "../collateral/provider.js";
import { isQuoteFault } from "../collateral/service.js";
import type { Collateral } from "../collateral/types.js";
import { TdxError } from "../errors.js";
import { type TrustAnchorInput, type VerificationResult, Verifier } from "../verify/index.js";
import {
  type AttestedAzTdxVtpmEvidence,
  type AzTdxVtpmEvidenceIn,
  verifyAzTdxVtpmEvidence,
} from "./az-tdx-vtpm.js";
import { type EventLogOutcome, replayEvidenceLog } from "./eventlog.js";
import { type ParsedTdxEvidence, parseTdxEvidence, type TdxEvidence } from "./evidence.js";

/** Parsed, DCAP-verified evidence with its event-log replay: what appraisal and the claims read. */
export interface AttestedTdxEvidence extends ParsedTdxEvidence {
  /** The verifier's typed result (chain, CRLs, TCB status, collateral dates), never re-guessed. */
  result: VerificationResult;
  /** Null when no event log came with the evidence. */
  eventLog: EventLogOutcome | null;
  /** Where the collateral came from. */
  collateralSource: string;
}

/** Verifies TDX evidence at a time `now`. The broker is handed one; tests may hand it a stand-in. */
export interface EvidenceVerifier {
  verify(evidence: TdxEvidence, now: Date): Promise<AttestedTdxEvidence>;
  /** Azure TDX confidential VM evidence (az-tdx-vtpm), when the verifier knows it; see src/attest/tee.ts. */
  verifyAzTdxVtpm?(evidence: AzTdxVtpmEvidenceIn, now: Date): Promise<AttestedAzTdxVtpmEvidence>;
  /** Collateral cache counters for /metrics, when there is a cache. */
  cacheStats?(): CollateralProviderStats;
}

/**
 * The evidence pipeline for Intel TDX: parse the quote once, get collateral from the provider it is
 * handed, verify with the project's DCAP verifier (Intel's root unless other anchors are given) and
 * replay the event log against the quote's RTMRs. Failures of the platform's collateral source are
 * ATTEST_COLLATERAL_UNAVAILABLE (the relying party's problem, not the TD's); everything about the
 * evidence itself is in `result` and `eventLog`, for the caller to judge.
 */
export class TdxEvidenceVerifier implements EvidenceVerifier {
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

  cacheStats(): CollateralProviderStats {
    return this.collateral.stats?.() ?? { hits: 0, misses: 0 };
  }

  async verify(evidence: TdxEvidence, now: Date): Promise<AttestedTdxEvidence> {
    const parsed = parseTdxEvidence(evidence);
    let collateral: Collateral;
    try {
      collateral = await this.collateral.forQuote(parsed.quote, now);
    } catch (e) {
      // The quote's own fault (a PCK chain no trusted root vouches for): refused as evidence, not a 503.
      if (isQuoteFault(e)) throw e;
      throw new TdxError(
        "ATTEST_COLLATERAL_UNAVAILABLE",
        `no collateral for this platform from ${this.collateral.description}: ${(e as Error).message}`,
        {
          cause: e,
          hint: "check the PCCS/PCS configuration and connectivity; the TD may retry later",
          data: e instanceof TdxError ? { cause: e.toJSON() } : {},
        },
      );
    }
    // The parsed quote goes in: verification does not parse it again. The synchronous path: on a known
    // platform verification is about one ECDSA check, and node's synchronous call costs less than handing
    // it to the thread pool and back (the result is the same: test/verify checks both paths).
    const result = this.#verifier.verify(parsed.quote, collateral, { now });
    return {
      ...parsed,
      result,
      eventLog: parsed.ccEventlog ? replayEvidenceLog(parsed.ccEventlog, parsed.quote) : null,
      collateralSource: this.collateral.description,
    };
  }

  /** az-tdx-vtpm evidence with the same collateral provider and DCAP verifier (src/attest/az-tdx-vtpm.ts). */
  verifyAzTdxVtpm(evidence: AzTdxVtpmEvidenceIn, now: Date): Promise<AttestedAzTdxVtpmEvidence> {
    return verifyAzTdxVtpmEvidence(evidence, now, { collateral: this.collateral, verifier: this.#verifier });
  }
}
