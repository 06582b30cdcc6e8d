import type { Quote } from "../abi/types.js";
import type { Collateral } from "../collateral/types.js";
import { type CryptoBackend, cryptoBackend } from "../crypto/backend.js";
import { isTdxError, TdxError } from "../errors.js";
import { runAlgorithm } from "./algorithm.js";
import {
  type AnchorSet,
  describeAnchors,
  type TrustAnchorInput,
  type TrustRoot,
  trustAnchorsFor,
  trustRootsOf,
} from "./anchors.js";
import { bytesEqual, copy, latin1, toSeconds } from "./bytes.js";
import { type CacheSizes, sameCollateral, snapshotOf, VerifierCaches } from "./caches.js";
import { quoteBytesOf } from "./quote-checks.js";
import type { VerificationResult } from "./result.js";
import { failedResult, runToResult } from "./run.js";
import { DeferredBackend, ReplayBackend, type SignatureBackend, syncBackend } from "./signatures.js";

export type { TrustAnchorInput, TrustRoot } from "./anchors.js";

export interface VerifierOptions {
  /** Roots to trust instead of Intel's SGX Root CA. */
  trustAnchors?: TrustAnchorInput[];
  /** Upper bound of entries per internal cache (default 4096); a full cache is emptied, never grown. */
  maxCacheEntries?: number;
  /**
   * Signatures and hashes: node:crypto where the runtime has it, else WebCrypto (`verifyAsync`) and plain
   * JavaScript (`verify`). Default: `cryptoBackend()` when the verifier is made.
   */
  crypto?: CryptoBackend;
}

export interface VerifyOptions {
  /** Verification time: unix seconds or a Date. Required: verification never reads the clock. */
  now: number | Date;
}

/**
 * DCAP quote verifier that follows Intel's Quote Verification Library step by step and explains itself
 * (the steps: `algorithm.ts`). An instance caches what it has verified (certificate chains, CRLs, TCB
 * Info, QE Identity, QE reports, attestation keys; `caches.ts`), keyed by content, so verifying another
 * quote of a known platform costs about one ECDSA verification. A new instance has nothing cached.
 */
export class Verifier {
  readonly #anchors: AnchorSet;
  readonly #caches: VerifierCaches;
  readonly #syncCrypto: SignatureBackend;

  readonly #crypto: CryptoBackend;

  constructor(options: VerifierOptions = {}) {
    this.#crypto = options.crypto ?? cryptoBackend();
    this.#anchors = trustAnchorsFor(options.trustAnchors, this.#crypto);
    this.#caches = new VerifierCaches(options.maxCacheEntries ?? 4096, this.#crypto);
    // On the spot: keys imported once per certificate / attestation key.
    this.#syncCrypto = syncBackend((src, commits) => this.#caches.keyFor(src, commits), this.#crypto);
  }

  /** The crypto backend's name: "node:crypto" or "webcrypto". */
  get cryptoBackend(): CryptoBackend["name"] {
    return this.#crypto.name;
  }

  /** The backend itself (for callers that verify other signatures the same way, such as az-tdx-vtpm). */
  get crypto(): CryptoBackend {
    return this.#crypto;
  }

  /** Each anchor as "subject (sha256 of the DER)": the fingerprint tells apart roots with equal names. */
  get trustAnchors(): string[] {
    return describeAnchors(this.#anchors);
  }

  /** The same anchors in fields: name, SHA-256 of the DER, whether it is Intel's root. */
  get trustRoots(): TrustRoot[] {
    return trustRootsOf(this.#anchors);
  }

  /**
   * How many entries each cache holds (for monitoring, and to see that an instance is warm). The prefix
   * caches hang off collateral objects (weakly held) and are not counted.
   */
  cacheSizes(): CacheSizes {
    return this.#caches.sizes();
  }

  /** Forget everything verified so far. */
  clearCaches(): void {
    this.#caches.clear();
  }

  /** Verify a quote (bytes or parsed) against collateral at time `now`. Never throws for bad input. */
  verify(quote: Uint8Array | Quote, collateral: Collateral, options: VerifyOptions): VerificationResult {
    return this.#evaluate(quote, collateral, options, this.#syncCrypto);
  }

  /**
   * `verify`, with the signatures checked asynchronously (libuv's thread pool on Node, WebCrypto elsewhere)
   * while the algorithm goes on: the same result, checks and caching as `verify`; never rejects for bad
   * input.
   */
  async verifyAsync(
    quote: Uint8Array | Quote,
    collateral: Collateral,
    options: VerifyOptions,
  ): Promise<VerificationResult> {
    const unchanged = inputState(quote, collateral, options);
    const keyFor = (src: Parameters<VerifierCaches["keyFor"]>[0], commits?: (() => void)[]) =>
      this.#caches.keyFor(src, commits);
    const deferred = new DeferredBackend(keyFor, this.#crypto);
    const first = this.#evaluate(quote, collateral, options, deferred);
    const outcomes = await Promise.all(deferred.outcomes);
    if (outcomes.every(Boolean) && (deferred.jobs.length === 0 || unchanged?.())) {
      for (const fill of deferred.commits) fill();
      return first;
    }
    return this.#evaluate(
      quote,
      collateral,
      options,
      new ReplayBackend(deferred.jobs, outcomes, this.#syncCrypto, keyFor),
    );
  }

  #evaluate(
    quote: Uint8Array | Quote,
    collateral: Collateral,
    options: VerifyOptions,
    crypto: SignatureBackend,
  ): VerificationResult {
    let now: number;
    try {
      now = toSeconds(options?.now as number | Date);
    } catch (e) {
      const err = isTdxError(e)
        ? e
        : new TdxError("VERIFY_TIME_INVALID", "the verification time (now) could not be read", {
            field: "now",
            cause: e,
            hint: "pass now as unix seconds or a Date",
          });
      return failedResult(err, Number.NaN, "now");
    }
    return runToResult(now, crypto, (run, result) =>
      runAlgorithm({ run, caches: this.#caches, anchors: this.#anchors }, quote, collateral, result),
    );
  }
}

/**
 * What `verifyAsync` was given, to tell at the end whether the caller changed it meanwhile (then the result
 * must be that of the bytes as they are at the end). Null when the input is not something to snapshot.
 */
function inputState(quote: unknown, collateral: unknown, options: unknown): (() => boolean) | null {
  try {
    const bytes = quoteBytesOf(quote);
    if (!bytes) return null;
    const quoteCopy = copy(bytes);
    const c = collateral as Collateral;
    const snapshot = snapshotOf(c);
    const now = (options as VerifyOptions).now;
    return () => {
      try {
        const b = quoteBytesOf(quote);
        return (
          b !== undefined &&
          bytesEqual(b, quoteCopy) &&
          sameCollateral(snapshot, c) &&
          (options as VerifyOptions).now === now
        );
      } catch {
        return false;
      }
    };
  } catch {
    return null;
  }
}

let sharedVerifier: Verifier | undefined;
const anchorVerifiers = new Map<string, Verifier>();

/** The shared `Verifier` for these options (one per distinct anchor set), or the failed result of bad anchors. */
function sharedVerifierFor(
  options: VerifyOptions & { trustAnchors?: TrustAnchorInput[] },
): Verifier | VerificationResult {
  if (options?.trustAnchors !== undefined) {
    const anchors = options.trustAnchors;
    // Anchors that are not a list of PEM text and DER bytes get no cache key: the Verifier refuses them.
    const key =
      Array.isArray(anchors) && anchors.every((a) => typeof a === "string" || a instanceof Uint8Array)
        ? anchors.map((a) => (typeof a === "string" ? `p${a}` : `d${latin1(a)}`)).join("\u0000")
        : undefined;
    let v = key === undefined ? undefined : anchorVerifiers.get(key);
    if (v && v.crypto !== cryptoBackend()) v = undefined;
    if (!v) {
      try {
        v = new Verifier({ trustAnchors: anchors });
        if (anchorVerifiers.size >= 16) anchorVerifiers.clear();
        if (key !== undefined) anchorVerifiers.set(key, v);
      } catch (e) {
        if (isTdxError(e)) {
          return failedResult(
            e,
            Number(options.now instanceof Date ? options.now.getTime() / 1000 : options.now),
            "trustAnchors",
          );
        }
        throw e;
      }
    }
    return v;
  }
  if (sharedVerifier === undefined || sharedVerifier.crypto !== cryptoBackend())
    sharedVerifier = new Verifier();
  return sharedVerifier;
}

/** Verify with one shared default `Verifier` (Intel's root; caches shared by every call). */
export function verifyQuote(
  quote: Uint8Array | Quote,
  collateral: Collateral,
  options: VerifyOptions & { trustAnchors?: TrustAnchorInput[] },
): VerificationResult {
  const v = sharedVerifierFor(options);
  return v instanceof Verifier ? v.verify(quote, collateral, options) : v;
}

/** `verifyQuote` through `Verifier.verifyAsync` (same shared verifiers, same results). */
export async function verifyQuoteAsync(
  quote: Uint8Array | Quote,
  collateral: Collateral,
  options: VerifyOptions & { trustAnchors?: TrustAnchorInput[] },
): Promise<VerificationResult> {
  const v = sharedVerifierFor(options);
  return v instanceof Verifier ? v.verifyAsync(quote, collateral, options) : v;
}
