import type { CryptoBackend, P256Key } from "../crypto/backend.js";
import { bytesEqual, copy } from "./bytes.js";
import type { CertEntry } from "./entries.js";

/**
 * The crypto of one run. The algorithm is written once and asks its backend. The sync backend verifies with
 * the crypto backend (src/crypto/backend.ts: node:crypto, or plain JavaScript where there is only WebCrypto)
 * on the spot. The async path runs the algorithm once with a deferring backend: each signature check starts
 * asynchronously (libuv's thread pool, or WebCrypto) when the algorithm meets it and is assumed valid meanwhile; what the
 * run would cache as verified waits (`Run.commit`) until every check has come back valid. If one did not
 * (or the caller changed the input meanwhile), a second run answers from the outcomes and falls back to
 * the synchronous check for anything not met, so the result is always that of the sync path.
 */

/** Where a signature's public key comes from: a certificate's SPKI point or the quote's attestation key. */
export type KeySource = { entry: CertEntry; raw?: undefined } | { entry?: undefined; raw: Uint8Array };

/** One ECDSA P-256 / SHA-256 signature check the algorithm needs. */
export interface SignatureJob {
  src: KeySource;
  message: Uint8Array;
  signature: Uint8Array;
  /** DER ECDSA-Sig-Value (certificates, CRLs) or raw r||s (quote, QE report, TCB Info, QE Identity). */
  der: boolean;
}

export interface SignatureBackend {
  /** Present while outcomes are not known yet: cache fills wait here until they are confirmed. */
  readonly commits?: (() => void)[];
  /** False for a bad signature; throws INVALID_PUBLIC_KEY (as `p256PublicKey` does) for a bad key. */
  verify(job: SignatureJob): boolean;
}

/** Imports the key of a source; `commits`: a deferring run's, for what it would cache. */
export type KeyImport = (src: KeySource, commits?: (() => void)[]) => P256Key;

/** The crypto backend's synchronous check, on the spot (node:crypto, or plain JavaScript elsewhere). */
export function syncBackend(keyFor: KeyImport, crypto: CryptoBackend): SignatureBackend {
  return {
    verify: (job) => crypto.verifyP256(keyFor(job.src), job.message, job.signature, job.der),
  };
}

/**
 * Starts every check with the backend's asynchronous call (libuv's thread pool, or WebCrypto) and takes it
 * as valid until the outcomes are known.
 */
export class DeferredBackend implements SignatureBackend {
  readonly jobs: SignatureJob[] = [];
  readonly outcomes: Promise<boolean>[] = [];
  readonly commits: (() => void)[] = [];
  /**
   * `keyFor` imports synchronously, so a bad key fails the run at the same check as the sync path; what it
   * would cache goes into `commits`.
   */
  constructor(
    private readonly keyFor: KeyImport,
    private readonly crypto: CryptoBackend,
  ) {}
  verify(job: SignatureJob): boolean {
    // A signature met twice (the TCB Signing certificate under the root for TCB Info and QE Identity) is
    // verified once.
    if (indexOfJob(this.jobs, job) < 0) {
      const key = this.keyFor(job.src, this.commits);
      // Private copies: the caller's buffers may change while the job runs; a replay compares against these.
      const own: SignatureJob = {
        src: job.src.entry ? job.src : { raw: copy(job.src.raw) },
        message: copy(job.message),
        signature: copy(job.signature),
        der: job.der,
      };
      this.jobs.push(own);
      this.outcomes.push(this.crypto.verifyP256Async(key, own.message, own.signature, own.der));
    }
    return true;
  }
}

/** Answers each check from a deferred run's outcomes; a check it did not meet goes to `fallback`. */
export class ReplayBackend implements SignatureBackend {
  constructor(
    private readonly jobs: SignatureJob[],
    private readonly outcomes: boolean[],
    private readonly fallback: SignatureBackend,
    /** The sync path's key import (and its caching), done as the sync path would do it. */
    private readonly keyFor: KeyImport,
  ) {}
  verify(job: SignatureJob): boolean {
    const i = indexOfJob(this.jobs, job);
    if (i >= 0) {
      this.keyFor(job.src);
      return this.outcomes[i]!;
    }
    // Not met by the first run: the caller changed the input meanwhile.
    return this.fallback.verify(job);
  }
}

function indexOfJob(jobs: SignatureJob[], job: SignatureJob): number {
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i]!;
    if (
      j.der === job.der &&
      sameSource(j.src, job.src) &&
      bytesEqual(j.signature, job.signature) &&
      (j.message === job.message || bytesEqual(j.message, job.message))
    ) {
      return i;
    }
  }
  return -1;
}

function sameSource(a: KeySource, b: KeySource): boolean {
  if (a.entry && b.entry)
    return a.entry === b.entry || bytesEqual(a.entry.cert.publicKey, b.entry.cert.publicKey);
  return a.raw !== undefined && b.raw !== undefined && bytesEqual(a.raw, b.raw);
}
