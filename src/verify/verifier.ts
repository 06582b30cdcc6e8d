import type { KeyObject } from "node:crypto";
import { createHash } from "node:crypto";
import { parseQuote } from "../abi/quote.js";
import {
  CERT_TYPE_PCK_CERT_CHAIN,
  CERT_TYPE_QE_REPORT_CERTIFICATION_DATA,
  type CertificationData,
  INTEL_QE_VENDOR_ID,
  type Quote,
  TEE_TYPE_TDX,
} from "../abi/types.js";
import type { Collateral } from "../collateral/types.js";
import {
  p256PublicKey,
  sha256,
  verifyDerEcdsa,
  verifyP256OnThreadPool,
  verifyRawP256,
} from "../crypto/ecdsa.js";
import { type PckCaType, type PckExtensions, pckCaType, pckExtensionsOf } from "../crypto/pck.js";
import { qvlPemCertificates } from "../crypto/pem.js";
import {
  type Certificate,
  type Crl,
  commonName,
  formatName,
  type NameAttribute,
  OID_AUTHORITY_KEY_ID,
  OID_CRL_NUMBER,
  OID_EC_PUBLIC_KEY,
  OID_ECDSA_SHA256,
  OID_P256,
  parseCertificate,
  parseCrl,
  pemToDers,
  QVL_REQUIRED_CERT_EXTENSIONS,
  qvlNamesEqual,
} from "../crypto/x509.js";
import { isTdxError, TdxError } from "../errors.js";
import {
  type QeIdentity,
  readSignedQeIdentity,
  readSignedTcbInfo,
  type SignedJson,
  type TcbInfo,
  type TcbLevel,
  type TcbLevelStatus,
  type TdxModuleIdentity,
} from "./collateral-json.js";
import { INTEL_SGX_ROOT_CA_PEM } from "./intel-root.js";
import type {
  CollateralExpiry,
  CollateralInfo,
  QeIdentityLevel,
  QeIdentityStatus,
  TcbStatus,
  TdxModuleIdentityUsed,
  TdxModuleStatus,
  VerificationCheck,
  VerificationResult,
} from "./result.js";
import {
  convergeWithModule,
  convergeWithQe,
  isTcbLevelStatus,
  isTdxModuleStatus,
  qeStatusOf,
  relaunchAdvice,
} from "./status.js";

/** A trust anchor: PEM text (one or more certificates) or DER bytes of a self-signed root. */
export type TrustAnchorInput = string | Uint8Array;

export interface VerifierOptions {
  /** Roots to trust instead of Intel's SGX Root CA. */
  trustAnchors?: TrustAnchorInput[];
  /** Upper bound of entries per internal cache (default 4096); a full cache is emptied, never grown. */
  maxCacheEntries?: number;
}

export interface VerifyOptions {
  /** Verification time: unix seconds or a Date. Required: verification never reads the clock. */
  now: number | Date;
}

interface CertEntry {
  id: number;
  cert: Certificate;
  key?: KeyObject;
  pck?: PckExtensions;
  /** formatName(subject), computed once. */
  subjectText?: string;
}

interface CrlEntry {
  id: number;
  crl: Crl;
  thisUpdateIso: string;
  nextUpdateIso: string;
}

function subjectOf(e: CertEntry): string {
  e.subjectText ??= formatName(e.cert.subject);
  return e.subjectText;
}

interface Memo<T> {
  id: number;
  value: T;
  /** The bytes Intel's signature covers: QVL's compact re-serialisation of the parsed text (UTF-8). */
  message: Uint8Array;
}

/** Per-collateral-object memo of the parsed pieces (validated against a snapshot on every use). */
interface CollateralMemo {
  snapshot: Collateral;
  rootCrl?: CrlEntry;
  pckCrl?: CrlEntry;
  tcbChain?: CertEntry[];
  tcbInfo?: Memo<TcbInfo>;
  qeIdentity?: Memo<QeIdentity>;
  /** Verified steps 2-4 per PCK chain (the cached chain array is the key). */
  prefixes?: Map<CertEntry[], Prefix>;
}

/** The outcome of steps 2-4 for one (PCK chain, collateral), replayed on later verifications. */
interface Prefix {
  id: number;
  pck: CertEntry;
  tcbInfo: TcbInfo;
  qeIdentity: QeIdentity;
  collateralInfo: CollateralInfo;
  checks: VerificationCheck[];
  expiries: ValidityBound[];
}

/**
 * One end of a collateral item's validity window. `until`: the item is expired after `at` (certificate
 * notAfter, CRL nextUpdate, TCB Info / QE Identity nextUpdate). `from`: the item is not valid before `at`
 * (CRL thisUpdate, which Intel's `CrlStore::expired` checks too: `Validity::isValid`).
 */
interface ValidityBound {
  item: string;
  at: number;
  kind: "until" | "from";
}

/** The outcome of step 5 around the quote signature for one (prefix, quote TCB fields, QE part). */
interface Tail {
  before: VerificationCheck[];
  after: VerificationCheck[];
  fieldsBefore: Pick<VerificationResult, "platform" | "qeIdentityStatus" | "qeIdentityLevel">;
  fieldsAfter: Pick<
    VerificationResult,
    "tcbStatus" | "advisoryIds" | "matchedTcbLevel" | "tdxModuleStatus" | "tdxModuleIdentity"
  >;
}

/** Cached check records are shared between results: freeze them so no caller can alter another's. */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    // Indexes for arrays, for-in for the plain objects of results (no key arrays allocated).
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) deepFreeze(v[i]);
    else for (const k in v) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** Thrown inside a run to stop at the first failed check; converted into `result.error`. */
class Stop extends Error {
  constructor(readonly error: TdxError) {
    super(error.message);
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

/** A private copy (from Node's buffer pool for small inputs: cheaper than a fresh ArrayBuffer). */
function copy(b: Uint8Array): Uint8Array {
  return Buffer.from(b);
}

/** A short cache key for signed DER: its length and last 64 bytes (inside the signature). */
function tailKey(der: Uint8Array): string {
  return `${der.length}:${latin1(der.subarray(Math.max(0, der.length - 64)))}`;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

const isoCache = new Map<number, string>();

function iso(seconds: number): string {
  let s = isoCache.get(seconds);
  if (s === undefined) {
    const d = new Date(seconds * 1000);
    s = Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString().replace(".000Z", "Z");
    if (isoCache.size >= 4096) isoCache.clear();
    isoCache.set(seconds, s);
  }
  return s;
}

function toSeconds(now: number | Date): number {
  const s = now instanceof Date ? now.getTime() / 1000 : now;
  if (typeof s !== "number" || !Number.isFinite(s)) {
    throw new TdxError("VERIFY_TIME_INVALID", "the verification time is not a valid time", {
      field: "now",
      hint: "pass now as unix seconds or a Date (verification never reads the clock itself)",
    });
  }
  return Math.floor(s);
}

let nextId = 1;

/** Where a signature's public key comes from: a certificate's SPKI point or the quote's attestation key. */
type KeySource = { entry: CertEntry; raw?: undefined } | { entry?: undefined; raw: Uint8Array };

/** One ECDSA P-256 / SHA-256 signature check the algorithm needs. */
interface SignatureJob {
  src: KeySource;
  message: Uint8Array;
  signature: Uint8Array;
  /** DER ECDSA-Sig-Value (certificates, CRLs) or raw r||s (quote, QE report, TCB Info, QE Identity). */
  der: boolean;
}

/**
 * The crypto of one run. The algorithm is written once and asks its backend. The sync backend verifies with
 * node:crypto on the spot. The async path runs the algorithm once with a deferring backend: each signature
 * check starts on libuv's thread pool when the algorithm meets it and is assumed valid meanwhile; what the
 * run would cache as verified waits (`Run.commit`) until every check has come back valid. If one did not
 * (or the caller changed the input meanwhile), a second run answers from the outcomes and falls back to
 * node:crypto for anything not met, so the result is always that of the sync path.
 */
interface SignatureBackend {
  /** Present while outcomes are not known yet: cache fills wait here until they are confirmed. */
  readonly commits?: (() => void)[];
  /** False for a bad signature; throws INVALID_PUBLIC_KEY (as `p256PublicKey` does) for a bad key. */
  verify(job: SignatureJob): boolean;
}

class DeferredBackend implements SignatureBackend {
  readonly jobs: SignatureJob[] = [];
  readonly outcomes: Promise<boolean>[] = [];
  readonly commits: (() => void)[] = [];
  /**
   * `keyFor` imports synchronously, so a bad key fails the run at the same check as the sync path; what it
   * would cache goes into `commits`.
   */
  constructor(private readonly keyFor: (src: KeySource, commits: (() => void)[]) => KeyObject) {}
  verify(job: SignatureJob): boolean {
    // A signature met twice (the PCK CA in the PCK chain and the PCK CRL issuer chain, the TCB Signing
    // certificate in both collateral chains) is verified once.
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
      this.outcomes.push(verifyP256OnThreadPool(key, own.message, own.signature, own.der));
    }
    return true;
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

class ReplayBackend implements SignatureBackend {
  constructor(
    private readonly jobs: SignatureJob[],
    private readonly outcomes: boolean[],
    private readonly fallback: SignatureBackend,
    /** The sync path's key import (and its caching), done as the sync path would do it. */
    private readonly keyFor: (src: KeySource) => KeyObject,
  ) {}
  verify(job: SignatureJob): boolean {
    const i = indexOfJob(this.jobs, job);
    if (i >= 0) {
      this.keyFor(job.src);
      return this.outcomes[i]!;
    }
    // Not met by the first run (the re-serialised JSON tried after a failed signature, input changed meanwhile).
    return this.fallback.verify(job);
  }
}

/** Entries of a cache that keeps a list per (short) key. */
function entriesIn(map: Map<string, unknown[]>): number {
  let n = 0;
  for (const list of map.values()) n += list.length;
  return n;
}

/** The bytes of a quote given as bytes or as a parsed Quote; undefined for anything else. */
function quoteBytesOf(input: unknown): Uint8Array | undefined {
  const bytes = input instanceof Uint8Array ? input : (input as Partial<Quote> | null)?.bytes;
  return bytes instanceof Uint8Array ? bytes : undefined;
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

/** Verification time state of one run: the checks, the expiry candidates, the findings. */
class Run {
  readonly checks: VerificationCheck[] = [];
  readonly expiries: ValidityBound[] = [];
  constructor(
    readonly now: number,
    readonly crypto: SignatureBackend,
  ) {}

  /** Remember a verified fact in a cache: now, or once a deferring backend's checks all came back valid. */
  commit(fill: () => void): void {
    if (this.crypto.commits) this.crypto.commits.push(fill);
    else fill();
  }

  pass(name: string, extra?: Omit<VerificationCheck, "name" | "passed">): void {
    this.checks.push(extra ? { name, passed: true, ...extra } : { name, passed: true });
  }

  fail(
    name: string,
    code: string,
    message: string,
    hint: string,
    extra: { expected?: unknown; actual?: unknown; field?: string; data?: Record<string, unknown> } = {},
  ): never {
    const check: VerificationCheck = { name, passed: false, detail: message };
    if (extra.expected !== undefined) check.expected = extra.expected;
    if (extra.actual !== undefined) check.actual = extra.actual;
    this.checks.push(check);
    const data: Record<string, unknown> = { ...extra.data, check: name };
    if (extra.expected !== undefined) data.expected = extra.expected;
    if (extra.actual !== undefined) data.actual = extra.actual;
    throw new Stop(new TdxError(code, message, { hint, field: extra.field ?? name, data }));
  }

  /** Turn a TdxError raised by a parser into a failed check. */
  failWith(name: string, e: unknown): never {
    const err = isTdxError(e)
      ? e
      : new TdxError("VERIFY_INTERNAL", `${name}: ${e instanceof Error ? e.message : String(e)}`, {
          hint: "this is a bug in tdx-attest; please report it with the quote and collateral",
          cause: e,
        });
    this.checks.push({ name, passed: false, detail: err.message });
    throw new Stop(err);
  }

  /** The item is expired after `at` (Intel: `now > notAfter` / `now > nextUpdate`). */
  expires(item: string, at: number): void {
    this.expiries.push({ item, at, kind: "until" });
  }

  /** The item is not valid before `at` (a CRL's thisUpdate; Intel reports it as expired, SGX_CRL_EXPIRED). */
  validFrom(item: string, at: number): void {
    this.expiries.push({ item, at, kind: "from" });
  }
}

function defaultAnchorInputs(): TrustAnchorInput[] {
  return [INTEL_SGX_ROOT_CA_PEM];
}

/** The Intel root, parsed and self-signature-checked once per process (it is a constant of the library). */
let intelAnchorsCache: AnchorSet | undefined;

/** Trust anchors and their DER (latin1) index: a pure function of the anchors, shared by every Verifier using them. */
interface AnchorSet {
  list: CertEntry[];
  byDer: Map<string, CertEntry>;
}

function anchorSet(list: CertEntry[]): AnchorSet {
  const byDer = new Map<string, CertEntry>();
  for (const a of list) byDer.set(latin1(a.cert.der), a);
  return { list, byDer };
}

function prepareAnchors(inputs: TrustAnchorInput[]): CertEntry[] {
  const out: CertEntry[] = [];
  inputs.forEach((input, i) => {
    const field = `trustAnchors[${i}]`;
    let ders: Uint8Array[];
    try {
      ders = typeof input === "string" ? pemToDers(input, field) : [input];
    } catch (e) {
      throw new TdxError("TRUST_ANCHOR_INVALID", `${field} is not a PEM or DER certificate`, {
        field,
        hint: "pass each trust anchor as PEM text or DER bytes of a self-signed root CA certificate",
        cause: e,
      });
    }
    for (const der of ders) {
      let cert: Certificate;
      try {
        cert = parseCertificate(new Uint8Array(der));
      } catch (e) {
        throw new TdxError("TRUST_ANCHOR_INVALID", `${field} is not a valid X.509 certificate`, {
          field,
          hint: "pass each trust anchor as PEM text or DER bytes of a self-signed root CA certificate",
          cause: e,
        });
      }
      const entry: CertEntry = { id: nextId++, cert };
      const selfSigned =
        bytesEqual(cert.issuerRaw, cert.subjectRaw) &&
        isP256(cert) &&
        cert.signatureAlgorithm === OID_ECDSA_SHA256 &&
        verifyDerEcdsa(keyOf(entry), cert.tbs, cert.signature);
      if (!selfSigned) {
        throw new TdxError(
          "TRUST_ANCHOR_INVALID",
          `${field} is not a self-signed ECDSA P-256 root certificate`,
          {
            field,
            hint: "a trust anchor must be a root CA certificate that signs itself (e.g. Intel's SGX Root CA)",
            data: { subject: formatName(cert.subject) },
          },
        );
      }
      // QVL parses the trusted root as any certificate: the standard extensions must be there.
      const missing = QVL_REQUIRED_CERT_EXTENSIONS.filter((oid) => !cert.extensions.has(oid));
      if (missing.length > 0) {
        throw new TdxError("TRUST_ANCHOR_INVALID", `${field} lacks the extensions ${missing.join(", ")}`, {
          field,
          hint: "a trust anchor must carry the extensions of Intel's SGX Root CA (authority and subject key ids, CRL distribution points, key usage, basic constraints), as Intel's QVL requires",
          data: { subject: formatName(cert.subject) },
        });
      }
      out.push(entry);
    }
  });
  if (out.length === 0) {
    throw new TdxError("TRUST_ANCHOR_INVALID", "no trust anchor given", {
      field: "trustAnchors",
      hint: "omit trustAnchors to trust Intel's SGX Root CA, or pass at least one root certificate",
    });
  }
  return out;
}

function isP256(cert: Certificate): boolean {
  return (
    cert.publicKeyAlgorithm === OID_EC_PUBLIC_KEY && cert.curve === OID_P256 && cert.publicKey.length === 65
  );
}

function keyOf(entry: CertEntry): KeyObject {
  entry.key ??= p256PublicKey(entry.cert.publicKey, "subjectPublicKeyInfo");
  return entry.key;
}

const HINT_FETCH = "fetch fresh collateral for this quote from Intel PCS or your PCCS";
const HINT_TAMPERED = "the quote was altered after it was produced or is corrupt; obtain a fresh quote";

/**
 * DCAP quote verifier that follows Intel's Quote Verification Library step by step and explains itself.
 * An instance caches what it has verified (certificate chains, CRLs, TCB Info, QE Identity, QE reports,
 * attestation keys), keyed by content, so verifying another quote of a known platform costs about one
 * ECDSA verification. A new instance has nothing cached.
 */
export class Verifier {
  readonly #anchors: CertEntry[];
  readonly #anchorsByDer: Map<string, CertEntry>;
  readonly #max: number;
  /** Keyed by length and the last 64 bytes (the signature), confirmed by comparing the whole DER. */
  readonly #certs = new Map<string, CertEntry[]>();
  readonly #tails = new Map<string, Tail>();
  readonly #quoteChains = new Map<string, { bytes: Uint8Array; chain: CertEntry[] }[]>();
  readonly #chains = new Map<string, CertEntry[]>();
  /** Signed JSON text -> signatures (and signer ids) already verified over it. */
  readonly #signedTexts = new Map<string, { signature: Uint8Array; signerId: number }[]>();
  readonly #crls = new Map<string, CrlEntry[]>();
  readonly #tcbInfos = new Map<string, Memo<TcbInfo>>();
  readonly #qeIdentities = new Map<string, Memo<QeIdentity>>();
  readonly #verified = new Set<string>();
  readonly #attestationKeys = new Map<string, KeyObject>();
  #collateralMemos = new WeakMap<Collateral, CollateralMemo>();

  constructor(options: VerifierOptions = {}) {
    let anchors: AnchorSet;
    if (options.trustAnchors === undefined) {
      intelAnchorsCache ??= anchorSet(prepareAnchors(defaultAnchorInputs()));
      anchors = intelAnchorsCache;
    } else {
      anchors = anchorSet(prepareAnchors(options.trustAnchors));
    }
    this.#anchors = anchors.list;
    this.#anchorsByDer = anchors.byDer;
    this.#max = options.maxCacheEntries ?? 4096;
  }

  /** Subjects of the trusted roots. */
  /** Each anchor as "subject (SHA-256 of the DER)": the fingerprint tells apart roots with equal names. */
  get trustAnchors(): string[] {
    return this.#anchors.map(
      (a) =>
        `${formatName(a.cert.subject)} (sha256 ${createHash("sha256").update(a.cert.der).digest("hex")})`,
    );
  }

  /**
   * How many entries each cache holds (for monitoring, and to see that an instance is warm). The prefix
   * caches hang off collateral objects (weakly held) and are not counted.
   */
  cacheSizes(): Record<
    | "certificates"
    | "chains"
    | "crls"
    | "verifiedSignatures"
    | "signedTexts"
    | "tcbInfos"
    | "qeIdentities"
    | "quoteTails"
    | "attestationKeys",
    number
  > {
    return {
      certificates: entriesIn(this.#certs),
      chains: this.#chains.size + entriesIn(this.#quoteChains),
      crls: entriesIn(this.#crls),
      verifiedSignatures: this.#verified.size,
      signedTexts: entriesIn(this.#signedTexts),
      tcbInfos: this.#tcbInfos.size,
      qeIdentities: this.#qeIdentities.size,
      quoteTails: this.#tails.size,
      attestationKeys: this.#attestationKeys.size,
    };
  }

  /** Forget everything verified so far. */
  clearCaches(): void {
    this.#certs.clear();
    this.#chains.clear();
    this.#quoteChains.clear();
    this.#tails.clear();
    this.#signedTexts.clear();
    this.#crls.clear();
    this.#tcbInfos.clear();
    this.#qeIdentities.clear();
    this.#verified.clear();
    this.#attestationKeys.clear();
    this.#collateralMemos = new WeakMap();
  }

  /** Verify a quote (bytes or parsed) against collateral at time `now`. Never throws for bad input. */
  verify(quote: Uint8Array | Quote, collateral: Collateral, options: VerifyOptions): VerificationResult {
    return this.#evaluate(quote, collateral, options, this.#syncCrypto);
  }

  /**
   * `verify`, with the signatures checked on libuv's thread pool while the algorithm goes on: the same
   * result, checks and caching as `verify`; never rejects for bad input.
   */
  async verifyAsync(
    quote: Uint8Array | Quote,
    collateral: Collateral,
    options: VerifyOptions,
  ): Promise<VerificationResult> {
    const unchanged = inputState(quote, collateral, options);
    const deferred = new DeferredBackend((src, commits) => this.#keyFor(src, commits));
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
      new ReplayBackend(deferred.jobs, outcomes, this.#syncCrypto, (src) => this.#keyFor(src)),
    );
  }

  /** `commits`: a deferring run's, so a new attestation key is remembered only once the run is confirmed. */
  #keyFor(src: KeySource, commits?: (() => void)[]): KeyObject {
    return src.entry ? keyOf(src.entry) : this.#attestationKey(src.raw, commits);
  }

  /** node:crypto, on the spot: keys imported once per certificate / attestation key. */
  readonly #syncCrypto: SignatureBackend = {
    verify: (job) => {
      const key = this.#keyFor(job.src);
      return job.der
        ? verifyDerEcdsa(key, job.message, job.signature)
        : verifyRawP256(key, job.message, job.signature);
    },
  };

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
      return failedResult(e as TdxError, Number.NaN, "now");
    }
    const run = new Run(now, crypto);
    const result = emptyResult(now, run.checks);
    try {
      this.#run(run, quote, collateral, result);
      result.ok = true;
    } catch (e) {
      const err = e instanceof Stop ? e.error : isTdxError(e) ? e : null;
      if (!err) {
        result.error = {
          code: "VERIFY_INTERNAL",
          message: e instanceof Error ? e.message : String(e),
          hint: "this is a bug in tdx-attest; please report it with the quote and collateral",
        };
      } else {
        result.error = errorOf(err);
      }
      // A parser error raised outside a named step still ends the list with a failed check.
      if (!(e instanceof Stop))
        run.checks.push({ name: "input", passed: false, detail: result.error?.message ?? "" });
    }
    // Expiry is reported beside the verdict (Intel's collateral_expiration_status), never instead of it.
    // Intel's windows (QVL PckCertVerifier, TCBInfoVerifier, EnclaveIdentityVerifier): expired when
    // now > notAfter / nextUpdate, and for CRLs also when now < thisUpdate (CrlStore::expired).
    let earliest: CollateralExpiry | null = null;
    for (const e of run.expiries) {
      if (e.kind === "from") {
        if (now < e.at) result.expiredItems.push(e.item);
        continue;
      }
      if (earliest === null || e.at < earliest.at) earliest = { at: e.at, iso: "", item: e.item };
      if (now > e.at) result.expiredItems.push(e.item);
    }
    if (earliest) earliest.iso = iso(earliest.at);
    result.earliestExpiry = earliest;
    result.collateralExpired = result.expiredItems.length > 0;
    if (result.ok && run.expiries.length > 0) {
      run.checks.push({
        name: "collateral.validity",
        passed: !result.collateralExpired,
        nonFatal: true,
        expected: earliest ? `now <= ${earliest.iso} (${earliest.item})` : undefined,
        actual: iso(now),
        detail: result.collateralExpired
          ? `outside its validity: ${result.expiredItems.join(", ")} (reported as collateralExpired, not a failure)`
          : "every certificate, CRL, TCB Info and QE Identity is within its validity",
      });
    }
    return result;
  }

  // ---------------------------------------------------------------- caches

  #bounded<K, V>(map: Map<K, V>): Map<K, V> {
    if (map.size >= this.#max) map.clear();
    return map;
  }

  /** `owned`: the bytes are already a private copy (decoded from PEM), so they need not be copied again. */
  #certEntry(der: Uint8Array, owned = false): CertEntry {
    const k = tailKey(der);
    const list = this.#certs.get(k);
    if (list) for (const e of list) if (bytesEqual(e.cert.der, der)) return e;
    const e: CertEntry = { id: nextId++, cert: parseCertificate(owned ? der : copy(der)) };
    if (list) list.push(e);
    else this.#bounded(this.#certs).set(k, [e]);
    return e;
  }

  /**
   * The quote's PCK chain (type-5 certification data). Looked up by a short probe of the bytes and confirmed
   * by comparing all of them, so a known chain costs a memcmp instead of decoding and hashing 4 KB of text.
   */
  #quoteChain(data: Uint8Array): CertEntry[] {
    const probe = `${data.length}:${latin1(data.subarray(data.length >>> 2, (data.length >>> 2) + 48))}`;
    const known = this.#quoteChains.get(probe);
    if (known) for (const k of known) if (bytesEqual(k.bytes, data)) return k.chain;
    // Past 8 chains per probe, fall back to the text-keyed map; below, a miss here is a miss there too, so
    // the 4 KB text is not hashed for nothing.
    if (known && known.length >= 8) return this.#chain(latin1(data), "pckCertChain");
    const chain = qvlPemCertificates(latin1(data), "pckCertChain").map((d) => this.#certEntry(d, true));
    const list = known ?? [];
    if (!known) this.#bounded(this.#quoteChains).set(probe, list);
    list.push({ bytes: copy(data), chain });
    return chain;
  }

  /** A PEM chain, split and read as Intel's QVL does (crypto/pem.ts). */
  #chain(pem: string, field: string): CertEntry[] {
    let c = this.#chains.get(pem);
    if (!c) {
      c = qvlPemCertificates(pem, field).map((d) => this.#certEntry(d, true));
      this.#bounded(this.#chains).set(pem, c);
    }
    return c;
  }

  #crl(der: Uint8Array): CrlEntry {
    const k = tailKey(der);
    const list = this.#crls.get(k);
    if (list) for (const e of list) if (bytesEqual(e.crl.der, der)) return e;
    const crl = parseCrl(copy(der));
    const e: CrlEntry = {
      id: nextId++,
      crl,
      thisUpdateIso: iso(crl.thisUpdate),
      nextUpdateIso: iso(crl.nextUpdate ?? 0),
    };
    if (list) list.push(e);
    else this.#bounded(this.#crls).set(k, [e]);
    return e;
  }

  #memo(c: Collateral): CollateralMemo {
    const m = this.#collateralMemos.get(c);
    if (m && sameCollateral(m.snapshot, c)) return m;
    const fresh: CollateralMemo = { snapshot: snapshotOf(c) };
    this.#collateralMemos.set(c, fresh);
    return fresh;
  }

  /** Verify `message`/`signature` by the issuer's key once; remember success under `key`. */
  #verifiedBy(run: Run, issuer: CertEntry, what: string, check: () => boolean): boolean {
    const k = `${issuer.id}>${what}`;
    if (this.#verified.has(k)) return true;
    if (!check()) return false;
    run.commit(() => {
      if (this.#verified.size >= this.#max) this.#verified.clear();
      this.#verified.add(k);
    });
    return true;
  }

  #certSignedBy(run: Run, subject: CertEntry, issuer: CertEntry): boolean {
    return this.#verifiedBy(run, issuer, `c${subject.id}`, () => {
      const c = subject.cert;
      return (
        c.signatureAlgorithm === OID_ECDSA_SHA256 &&
        isP256(issuer.cert) &&
        run.crypto.verify({ src: { entry: issuer }, message: c.tbs, signature: c.signature, der: true })
      );
    });
  }

  #attestationKey(raw: Uint8Array, commits?: (() => void)[]): KeyObject {
    const k = latin1(raw);
    const known = this.#attestationKeys.get(k);
    if (known) return known;
    const key = p256PublicKey(raw, "attestationKey");
    const remember = () => this.#bounded(this.#attestationKeys).set(k, key);
    if (commits) commits.push(remember);
    else remember();
    return key;
  }

  // ---------------------------------------------------------------- the algorithm

  #run(run: Run, input: Uint8Array | Quote, collateral: Collateral, result: VerificationResult): void {
    // 1. Parse and validate the quote (QVL Quote::parse / Quote::validate).
    let quote: Quote;
    try {
      // A parsed Quote is re-parsed from its bytes: only what the signature covers may reach the result.
      const bytes = quoteBytesOf(input);
      if (!bytes) {
        throw new TdxError("QUOTE_NOT_BYTES", "the quote must be bytes or a Quote from parseQuote", {
          hint: "pass the quote bytes (binary) or the result of parseQuote",
        });
      }
      quote = parseQuote(bytes);
    } catch (e) {
      run.failWith("quote.parse", e);
    }
    result.quote = quote;
    const isTdx = quote.header.teeType === TEE_TYPE_TDX;
    run.pass("quote.parse", {
      actual: { version: quote.header.version, teeType: isTdx ? "TDX" : "SGX", bodyType: quote.body.type },
    });
    if (!bytesEqual(quote.header.qeVendorId, INTEL_QE_VENDOR_ID)) {
      run.fail(
        "quote.qeVendorId",
        "QUOTE_QE_VENDOR_UNKNOWN",
        "the quote was not produced by Intel's QE",
        HINT_TAMPERED,
        {
          expected: hex(INTEL_QE_VENDOR_ID),
          actual: hex(quote.header.qeVendorId),
          field: "header.qeVendorId",
        },
      );
    }
    const sd = quote.signatureData;
    if (quote.header.version !== 3 && sd.certificationData?.type !== CERT_TYPE_QE_REPORT_CERTIFICATION_DATA) {
      run.fail(
        "quote.certificationData",
        "QUOTE_UNSUPPORTED_FORMAT",
        `v${quote.header.version} quotes must carry certification data type 6 (QE report), got ${sd.certificationData?.type}`,
        HINT_TAMPERED,
        {
          expected: 6,
          actual: sd.certificationData?.type ?? null,
          field: "signatureData.certificationData.type",
        },
      );
    }
    const qe = sd.qeReportCertificationData;
    if (!qe) {
      run.fail(
        "quote.certificationData",
        "QUOTE_UNSUPPORTED_FORMAT",
        "the quote has no QE report",
        HINT_TAMPERED,
      );
    }
    const inner: CertificationData = qe.certificationData;
    if (inner.type < 1 || inner.type > 5) {
      run.fail(
        "quote.certificationData",
        "QUOTE_UNSUPPORTED_FORMAT",
        `QE certification data type ${inner.type} is not 1..5`,
        HINT_TAMPERED,
        { expected: "1..5", actual: inner.type, field: "qeReportCertificationData.certificationData.type" },
      );
    }
    run.pass("quote.format", { actual: { qeVendorId: "Intel", certificationDataType: inner.type } });

    checkCollateralShape(run, collateral);
    const memo = this.#memo(collateral);

    // 2. PCK certificate chain to a trusted root (QVL PckCertVerifier, 4.1.2.4.x).
    let chain: CertEntry[];
    try {
      if (inner.type === CERT_TYPE_PCK_CERT_CHAIN) {
        chain = this.#quoteChain(inner.data);
      } else if (collateral.pckCertificateChain) {
        chain = this.#chain(collateral.pckCertificateChain, "collateral.pckCertificateChain");
      } else {
        throw new TdxError(
          "PCK_CHAIN_MISSING",
          `the quote carries certification data type ${inner.type}, not a PCK certificate chain`,
          { hint: "supply the PCK certificate chain in the collateral (pck_certificate_chain)" },
        );
      }
    } catch (e) {
      run.failWith("pckChain.parse", e);
    }
    // Steps 2-4 depend only on (PCK chain, collateral): replay them from the cache when only the time changed.
    let prefix = memo.prefixes?.get(chain);
    if (prefix) {
      for (const c of prefix.checks) run.checks.push(c);
      for (const e of prefix.expiries) run.expiries.push(e);
    } else {
      const firstCheck = run.checks.length;
      const firstExpiry = run.expiries.length;
      prefix = this.#chainAndCollateral(run, chain, collateral, memo);
      prefix.checks = run.checks.slice(firstCheck).map(deepFreeze);
      prefix.expiries = run.expiries.slice(firstExpiry);
      const verified = prefix;
      run.commit(() => {
        memo.prefixes ??= new Map();
        if (memo.prefixes.size >= 64) memo.prefixes.clear();
        memo.prefixes.set(chain, verified);
      });
    }
    result.collateral = prefix.collateralInfo;

    // Step 5 minus the quote signature depends only on (chain + collateral, the quote's TCB fields, its QE
    // part): a known platform replays those checks and pays for the quote signature alone.
    const report = quote.body.kind === "sgx" ? null : quote.body.report;
    const tailKey =
      `${prefix.id}|${quote.header.version}|${quote.header.teeType}|${quote.body.type}|` +
      (report
        ? latin1(report.teeTcbSvn) +
          latin1(report.mrSignerSeam) +
          latin1(report.seamAttributes) +
          (report.teeTcbSvn2 ? latin1(report.teeTcbSvn2) : "")
        : "") +
      `|${latin1(qe.qeReportBytes)}${latin1(qe.qeReportSignature)}${latin1(sd.attestationKey)}${latin1(qe.qeAuthData)}`;
    const tail = this.#tails.get(tailKey);
    if (tail) {
      for (const c of tail.before) run.checks.push(c);
      Object.assign(result, tail.fieldsBefore);
      this.#quoteSignature(run, quote);
      for (const c of tail.after) run.checks.push(c);
      Object.assign(result, tail.fieldsAfter);
      return;
    }
    const firstBefore = run.checks.length;
    const { ext, moduleIdentity, qeStatus } = this.#quoteChecks(run, quote, prefix, result);
    const before = run.checks.slice(firstBefore);
    this.#quoteSignature(run, quote);
    const firstAfter = run.checks.length;
    // 4.1.2.4.17: TCB level and status.
    this.#tcbStatus(run, quote, ext, prefix.tcbInfo, moduleIdentity, qeStatus, result);
    const verifiedTail: Tail = {
      before: before.map(deepFreeze),
      after: run.checks.slice(firstAfter).map(deepFreeze),
      fieldsBefore: deepFreeze({
        platform: result.platform,
        qeIdentityStatus: result.qeIdentityStatus,
        qeIdentityLevel: result.qeIdentityLevel,
      }),
      fieldsAfter: deepFreeze({
        tcbStatus: result.tcbStatus,
        advisoryIds: result.advisoryIds,
        matchedTcbLevel: result.matchedTcbLevel,
        tdxModuleStatus: result.tdxModuleStatus,
        tdxModuleIdentity: result.tdxModuleIdentity,
      }),
    };
    run.commit(() => this.#bounded(this.#tails).set(tailKey, verifiedTail));
  }

  /** Step 5 up to the quote signature (QVL QuoteVerifier::verify 4.1.2.4.9-15). */
  #quoteChecks(
    run: Run,
    quote: Quote,
    prefix: Prefix,
    result: VerificationResult,
  ): { ext: PckExtensions; moduleIdentity: TdxModuleIdentity | null; qeStatus: QeIdentityStatus } {
    const { pck, tcbInfo, qeIdentity } = prefix;
    const isTdx = quote.header.teeType === TEE_TYPE_TDX;
    const sd = quote.signatureData;
    const qe = sd.qeReportCertificationData!;
    let ext: PckExtensions;
    let caType: PckCaType;
    try {
      pck.pck ??= pckExtensionsOf(pck.cert);
      ext = pck.pck;
      caType = pckCaType(pck.cert);
    } catch (e) {
      run.failWith("pck.extensions", e);
    }
    const teeTcbSvn = quote.body.kind === "sgx" ? null : quote.body.report.teeTcbSvn;
    result.platform = {
      teeType: isTdx ? "TDX" : "SGX",
      quoteVersion: quote.header.version,
      fmspc: ext.fmspc,
      pceId: ext.pceId,
      caType,
      sgxTcbComponents: ext.tcb.sgxTcbComponents,
      pceSvn: ext.tcb.pceSvn,
      cpuSvn: ext.tcb.cpuSvn,
      teeTcbSvn: teeTcbSvn ? hex(teeTcbSvn) : null,
    };
    run.pass("pck.extensions", {
      actual: { fmspc: ext.fmspc, pceId: ext.pceId, pceSvn: ext.tcb.pceSvn, caType, sgxType: ext.sgxType },
    });

    // 4.1.2.4.9: TCB Info for the right TEE.
    const tcbForTdx = tcbInfo.version >= 3 && tcbInfo.id === "TDX";
    if (isTdx !== tcbForTdx) {
      run.fail(
        "tcbInfo.teeType",
        "TCB_INFO_MISMATCH",
        `the TCB Info is for ${tcbForTdx ? "TDX" : "SGX"} but the quote is ${isTdx ? "TDX" : "SGX"}`,
        `fetch the ${isTdx ? "TDX" : "SGX"} TCB Info for FMSPC ${ext.fmspc}`,
        { expected: isTdx ? "TDX (version 3)" : "SGX", actual: `${tcbInfo.id} (version ${tcbInfo.version})` },
      );
    }
    run.pass("tcbInfo.teeType", { expected: isTdx ? "TDX" : "SGX", actual: tcbInfo.id });
    // 4.1.2.4.10: FMSPC and PCE-ID.
    if (tcbInfo.fmspc !== ext.fmspc) {
      run.fail(
        "tcbInfo.fmspc",
        "TCB_INFO_MISMATCH",
        `the TCB Info is for FMSPC ${tcbInfo.fmspc} but the PCK certificate says ${ext.fmspc}`,
        `fetch the TCB Info for FMSPC ${ext.fmspc}`,
        { expected: ext.fmspc, actual: tcbInfo.fmspc },
      );
    }
    run.pass("tcbInfo.fmspc", { expected: ext.fmspc, actual: tcbInfo.fmspc });
    if (tcbInfo.pceId !== ext.pceId) {
      run.fail(
        "tcbInfo.pceId",
        "TCB_INFO_MISMATCH",
        `the TCB Info is for PCE-ID ${tcbInfo.pceId} but the PCK certificate says ${ext.pceId}`,
        "fetch the TCB Info that matches this platform",
        { expected: ext.pceId, actual: tcbInfo.pceId },
      );
    }
    run.pass("tcbInfo.pceId", { expected: ext.pceId, actual: tcbInfo.pceId });

    // 4.1.2.4.11: TDX module identity (MRSIGNERSEAM, SEAMATTRIBUTES).
    let moduleIdentity: TdxModuleIdentity | null = null;
    if (isTdx && tcbForTdx && quote.body.kind !== "sgx") {
      moduleIdentity = this.#tdxModuleIdentity(run, quote, tcbInfo);
    }

    // 4.1.2.4.12: QE report signed by the PCK key.
    const qeKey = `q${latin1(qe.qeReportBytes)}${latin1(qe.qeReportSignature)}`;
    const qeSigOk = this.#verifiedBy(run, pck, qeKey, () =>
      run.crypto.verify({
        src: { entry: pck },
        message: qe.qeReportBytes,
        signature: qe.qeReportSignature,
        der: false,
      }),
    );
    if (!qeSigOk) {
      run.fail(
        "qeReport.signature",
        "QE_REPORT_SIGNATURE_INVALID",
        "the QE report signature does not verify with the PCK certificate's key",
        HINT_TAMPERED,
        { field: "signatureData.qeReportSignature" },
      );
    }
    run.pass("qeReport.signature", { detail: "ECDSA P-256 by the PCK key over the 384-byte QE report" });

    // 4.1.2.4.13: QE report data binds the attestation key and QE auth data. QVL compares the 32 bytes of
    // the hash with REPORTDATA[0..32) (QuoteVerifier.cpp std::equal over the digest); bytes 32..64 are not
    // read (Intel's QE writes zeros there, and the QE identity check already pins Intel's QE).
    // Remembered per (PCK, QE report, attestation key, auth data): the same binding needs no second hash.
    const bindingKey = `${qeKey}${latin1(sd.attestationKey)}${latin1(qe.qeAuthData)}`;
    let expectedHash: Uint8Array | undefined;
    const bound = this.#verifiedBy(run, pck, bindingKey, () => {
      expectedHash = sha256(sd.attestationKey, qe.qeAuthData);
      return bytesEqual(expectedHash, qe.qeReport.reportData.subarray(0, 32));
    });
    if (!bound) {
      run.fail(
        "qeReport.reportData",
        "QE_REPORT_DATA_MISMATCH",
        "the QE report data does not start with SHA-256(attestation key || QE auth data)",
        HINT_TAMPERED,
        {
          expected: expectedHash ? hex(expectedHash) : undefined,
          actual: hex(qe.qeReport.reportData.subarray(0, 32)),
          field: "qeReport.reportData",
        },
      );
    }
    run.pass("qeReport.reportData", { expected: "SHA-256(attestationKey || qeAuthData) in bytes 0..32" });

    // 4.1.2.4.14-15: QE identity.
    const { qeStatus, qeLevel } = this.#qeIdentityCheck(
      run,
      quote,
      qe.qeReportBytes,
      qe.qeReport.isvSvn,
      qeIdentity,
    );
    result.qeIdentityStatus = qeStatus;
    result.qeIdentityLevel = qeLevel;
    return { ext, moduleIdentity, qeStatus };
  }

  /** 4.1.2.4.16: the quote signature by the attestation key, over header || body. */
  #quoteSignature(run: Run, quote: Quote): void {
    const sd = quote.signatureData;
    let ok: boolean;
    try {
      ok = run.crypto.verify({
        src: { raw: sd.attestationKey },
        message: quote.signedBytes,
        signature: sd.signature,
        der: false,
      });
    } catch (e) {
      run.failWith("quote.signature", e);
    }
    if (!ok) {
      run.fail(
        "quote.signature",
        "QUOTE_SIGNATURE_INVALID",
        "the quote signature does not verify with the attestation key",
        HINT_TAMPERED,
        { field: "signatureData.signature" },
      );
    }
    run.pass("quote.signature", { detail: `ECDSA P-256 over bytes [0, ${quote.signedLength})` });
  }

  /** Steps 2-4: PCK chain, CRLs and revocation, TCB Info and QE Identity (signing chain, format, signatures). */
  #chainAndCollateral(run: Run, chain: CertEntry[], collateral: Collateral, memo: CollateralMemo): Prefix {
    // 2. QVL PckCertVerifier::verify: roles, the chain's signatures, the trusted root.
    const { leaf: pck, intermediate, root } = this.#pckChainRoles(run, chain);
    const trusted = this.#trustedRoot(run, "pckChain.root", root);
    this.#signed(run, "pckChain.intermediate", intermediate, trusted, "PCK_CHAIN_INVALID_SIGNATURE");
    this.#signed(run, "pckChain.pck", pck, intermediate, "PCK_CHAIN_INVALID_SIGNATURE");
    // Only notAfter counts (PckCertVerifier: `expirationDate > getNotAfterTime()`); notBefore is not checked.
    for (const [name, e] of [
      ["pck", pck],
      ["intermediate", intermediate],
      ["root", trusted],
    ] as const) {
      run.expires(`pckChain.${name}.notAfter`, e.cert.notAfter);
    }

    // 3. CRLs: root CA CRL (by the root) and PCK CRL (by the PCK's issuer), then revocation.
    const rootCrl = this.#checkedCrl(run, "rootCaCrl", memo, "rootCrl", collateral.rootCaCrl, trusted);
    const pckCrl = this.#checkedCrl(run, "pckCrl", memo, "pckCrl", collateral.pckCrl, intermediate);
    this.#notRevoked(run, "revocation.intermediate", intermediate, rootCrl, "INTERMEDIATE_CA_REVOKED");
    this.#notRevoked(run, "revocation.pck", pck, pckCrl, "PCK_REVOKED");
    // Intel checks the PCK CRL against the quote's PCK chain and never reads pck_crl_issuer_chain (QVL
    // QuoteVerification.cpp passes the PCK chain and the CRLs only); when it is given, say whether it agrees.
    if (collateral.pckCrlIssuerChain !== undefined) {
      this.#sameCertificates(run, "pckCrlIssuerChain.matchesPckChain", collateral.pckCrlIssuerChain, [
        intermediate,
        root,
      ]);
    }

    // 4. TCB Info and QE Identity (QVL sgxAttestationVerifyTCBInfo / ...EnclaveIdentity, each: parse, then
    // TCBSigningChain::verify, then the signature). Both are checked with the TCB Info issuer chain.
    const tcbInfo = this.#signedJson(
      run,
      "tcbInfo",
      collateral.tcbInfo,
      collateral.tcbInfoSignature,
      memo,
      () => {
        memo.tcbChain ??= this.#collateralChain(run, "tcbInfo.issuerChain", collateral.tcbInfoIssuerChain);
        return this.#tcbSigningChain(run, "tcbInfo.issuerChain", memo.tcbChain, rootCrl);
      },
    ).value;
    run.expires("tcbInfo.nextUpdate", tcbInfo.nextUpdate);
    const tcbSigner = this.#tcbSigner(memo);
    const qe = collateral.qeIdentity;
    const qeIdentity = this.#signedJson(run, "qeIdentity", qe, collateral.qeIdentitySignature, memo, () => {
      // EnclaveIdentityVerifier repeats TCBSigningChain::verify over the same chain: the same checks.
      if (collateral.qeIdentityIssuerChain !== undefined) {
        this.#sameCertificates(
          run,
          "qeIdentity.issuerChain.matchesTcbChain",
          collateral.qeIdentityIssuerChain,
          memo.tcbChain!,
        );
      }
      return tcbSigner;
    }).value;
    run.expires("qeIdentity.nextUpdate", qeIdentity.nextUpdate);
    const collateralInfo: CollateralInfo = deepFreeze({
      tcbInfo: {
        id: tcbInfo.id,
        version: tcbInfo.version,
        fmspc: tcbInfo.fmspc,
        issueDate: tcbInfo.issueDateText,
        nextUpdate: tcbInfo.nextUpdateText,
        tcbEvaluationDataNumber: tcbInfo.tcbEvaluationDataNumber,
      },
      qeIdentity: {
        id: qeIdentity.id,
        version: qeIdentity.version,
        issueDate: qeIdentity.issueDateText,
        nextUpdate: qeIdentity.nextUpdateText,
        tcbEvaluationDataNumber: qeIdentity.tcbEvaluationDataNumber,
      },
    });
    return {
      id: nextId++,
      pck,
      tcbInfo,
      qeIdentity,
      collateralInfo,
      checks: [],
      expiries: [],
    };
  }

  /** The TCB Signing certificate of the verified TCB Info issuer chain (set by #tcbSigningChain). */
  #tcbSigner(memo: CollateralMemo): CertEntry {
    const chain = memo.tcbChain!;
    const root = rootOf(chain);
    return chain.find((e) => e !== root)!;
  }

  /**
   * The PCK chain's roles as QVL's CertificateChain finds them (CertVerification/CertificateChain.cpp): the
   * root is the last self-issued certificate, the PCK certificate the last whose CN contains "SGX PCK
   * Certificate", the intermediate the first other certificate whose CN contains "CA"; exactly 3
   * certificates (QuoteVerification.cpp EXPECTED_CERTIFICATE_COUNT_IN_PCK_CHAIN), in any order.
   */
  #pckChainRoles(
    run: Run,
    chain: CertEntry[],
  ): { leaf: CertEntry; intermediate: CertEntry; root: CertEntry } {
    const cns = chain.map((c) => commonName(c.cert.subject));
    const root = rootOf(chain);
    let leaf: CertEntry | undefined;
    for (let i = 0; i < chain.length; i++) if (cns[i]!.includes("SGX PCK Certificate")) leaf = chain[i];
    const intermediate = chain.find((c, i) => !selfIssued(c) && c !== leaf && cns[i]!.includes("CA"));
    if (
      chain.length !== 3 ||
      !root ||
      !commonName(root.cert.subject).includes("SGX Root CA") ||
      !intermediate ||
      !leaf
    ) {
      run.fail(
        "pckChain.parse",
        "PCK_CHAIN_INCOMPLETE",
        `the PCK certificate chain must be PCK certificate, PCK CA and SGX Root CA; found: ${cns.join(" | ")}`,
        "the quote's certification data must carry the full chain (type 5: PCK || Platform/Processor CA || Root CA)",
        { expected: ["SGX PCK Certificate", "SGX PCK Platform/Processor CA", "SGX Root CA"], actual: cns },
      );
    }
    this.#requiredExtensions(run, "pckChain.parse", chain);
    run.pass("pckChain.parse", { actual: cns });
    return { leaf, intermediate, root };
  }

  /** QVL's x509::Certificate refuses a certificate without the standard extensions Intel's PKI carries. */
  #requiredExtensions(run: Run, name: string, chain: CertEntry[]): void {
    for (const e of chain) {
      const missing = QVL_REQUIRED_CERT_EXTENSIONS.filter((oid) => !e.cert.extensions.has(oid));
      if (missing.length > 0) {
        run.fail(
          name,
          "CERT_EXTENSION_MISSING",
          `"${subjectOf(e)}" lacks the certificate extensions ${missing.join(", ")} that Intel's QVL requires`,
          "the certificate is not an Intel SGX PKI certificate; obtain the chain again",
          { expected: [...QVL_REQUIRED_CERT_EXTENSIONS], actual: [...e.cert.extensions.keys()] },
        );
      }
    }
  }

  #trustedRoot(run: Run, name: string, root: CertEntry): CertEntry {
    // Compare with the anchors byte for byte: the root inside the quote or collateral is never trusted itself.
    // (QVL compares the root's signature bytes with the trusted root's: for a root that verifies its own
    // signature this is the same test, and comparing the whole certificate leaves no doubt.)
    const anchor = this.#anchorsByDer.get(latin1(root.cert.der));
    if (!anchor) {
      run.fail(
        name,
        "UNTRUSTED_ROOT",
        `the chain ends in "${subjectOf(root)}", which is not a trusted root`,
        "only Intel's SGX Root CA is trusted by default; pass trustAnchors to trust another root (e.g. a simulator's)",
        { expected: this.trustAnchors, actual: subjectOf(root) },
      );
    }
    run.pass(name, { actual: subjectOf(anchor), detail: "identical to a trust anchor" });
    return anchor;
  }

  #signed(run: Run, name: string, subject: CertEntry, issuer: CertEntry, code: string): void {
    // QVL compares names with DistinguishedName::operator== (CN, C, O, L, ST).
    if (!namesEqual(subject.cert.issuerRaw, () => subject.cert.issuer, issuer)) {
      run.fail(name, code, `"${subjectOf(subject)}" is not issued by "${subjectOf(issuer)}"`, HINT_FETCH, {
        expected: subjectOf(issuer),
        actual: formatName(subject.cert.issuer),
      });
    }
    if (!this.#certSignedBy(run, subject, issuer)) {
      run.fail(
        name,
        code,
        `the signature of "${subjectOf(subject)}" does not verify with its issuer's key`,
        "the certificate was altered or is not issued by this CA; obtain the chain again",
        { actual: subjectOf(subject) },
      );
    }
    run.pass(name, {
      actual: subjectOf(subject),
      expected: `signed by ${commonName(issuer.cert.subject)}`,
    });
  }

  #checkedCrl(
    run: Run,
    name: string,
    memo: CollateralMemo,
    slot: "rootCrl" | "pckCrl",
    der: Uint8Array,
    issuer: CertEntry,
  ): CrlEntry {
    let entry = memo[slot];
    if (!entry) {
      try {
        entry = this.#crl(der);
      } catch (e) {
        run.failWith(name, e);
      }
      memo[slot] = entry;
    }
    const crl = entry.crl;
    // PckCrlVerifier: the issuer's name as printed and its CN, C, O, L, ST must be the certificate's
    // subject's (Intel's SGX_CRL_UNKNOWN_ISSUER); QuoteVerifier compares the PCK CRL's with the PCK's issuer.
    if (!crlIssuedBy(crl, issuer)) {
      run.fail(
        name,
        "CRL_UNKNOWN_ISSUER",
        `the ${name} is issued by "${formatName(crl.issuer)}" but must be issued by "${subjectOf(issuer)}"`,
        slot === "pckCrl"
          ? `fetch the PCK CRL for ca=${/platform/i.test(commonName(issuer.cert.subject)) ? "platform" : "processor"} (the CA that issued this PCK certificate)`
          : "fetch the Root CA CRL issued by the trusted root",
        { expected: subjectOf(issuer), actual: formatName(crl.issuer) },
      );
    }
    if (!crl.extensions.has(OID_CRL_NUMBER) || !crl.extensions.has(OID_AUTHORITY_KEY_ID)) {
      run.fail(
        name,
        "CRL_MALFORMED",
        `the ${name} lacks the CRL Number or Authority Key Identifier extension`,
        HINT_FETCH,
        {
          expected: ["cRLNumber", "authorityKeyIdentifier"],
          actual: [...crl.extensions.keys()],
        },
      );
    }
    const sigOk = this.#verifiedBy(
      run,
      issuer,
      `r${entry.id}`,
      () =>
        crl.signatureAlgorithm === OID_ECDSA_SHA256 &&
        run.crypto.verify({ src: { entry: issuer }, message: crl.tbs, signature: crl.signature, der: true }),
    );
    if (!sigOk) {
      run.fail(
        name,
        "CRL_SIGNATURE_INVALID",
        `the ${name} signature does not verify with its issuer's key`,
        HINT_FETCH,
      );
    }
    // QVL's CRL parser needs nextUpdate (PckParser.cpp getValidity: no nextUpdate is a format error).
    if (crl.nextUpdate === null) {
      run.fail(name, "CRL_MALFORMED", `the ${name} has no nextUpdate`, HINT_FETCH);
    }
    // Outside [thisUpdate, nextUpdate] the CRL is expired for Intel (CrlStore::expired, SGX_CRL_EXPIRED):
    // a collateral-time finding, verification goes on.
    run.validFrom(`${name}.thisUpdate`, crl.thisUpdate);
    run.expires(`${name}.nextUpdate`, crl.nextUpdate);
    run.pass(name, {
      actual: {
        issuer: commonName(crl.issuer),
        thisUpdate: iso(crl.thisUpdate),
        nextUpdate: iso(crl.nextUpdate),
      },
      detail: `signed by ${commonName(issuer.cert.subject)}, ${crl.revokedCount} revoked`,
    });
    return entry;
  }

  #notRevoked(run: Run, name: string, cert: CertEntry, crl: CrlEntry, code: string): void {
    const hit = crl.crl.findRevoked(cert.cert.serial);
    if (hit) {
      run.fail(
        name,
        code,
        `"${subjectOf(cert)}" (serial ${cert.cert.serialHex}) was revoked on ${iso(hit.revocationDate)}`,
        "the certificate is revoked by Intel; the platform must not be trusted",
        { actual: cert.cert.serialHex, data: { revocationDate: iso(hit.revocationDate) } },
      );
    }
    run.pass(name, {
      actual: cert.cert.serialHex,
      detail: `not in the CRL of ${commonName(crl.crl.issuer)}`,
    });
  }

  #collateralChain(run: Run, name: string, pem: string): CertEntry[] {
    try {
      return this.#chain(pem, `collateral.${name}`);
    } catch (e) {
      run.failWith(name, e);
    }
  }

  /**
   * An issuer chain Intel does not use (pck_crl_issuer_chain, qe_identity_issuer_chain), compared with the
   * certificates Intel uses instead: a non-fatal check that says whether they are the same certificates.
   */
  #sameCertificates(run: Run, name: string, pem: string, used: CertEntry[]): void {
    let given: CertEntry[];
    try {
      given = this.#chain(pem, name);
    } catch (e) {
      run.checks.push({
        name,
        passed: false,
        nonFatal: true,
        detail: `unusable (${isTdxError(e) ? e.message : String(e)}); Intel does not read it, so it is not used`,
      });
      return;
    }
    const same =
      given.length === used.length &&
      used.every((u) => given.some((g) => bytesEqual(g.cert.der, u.cert.der))) &&
      given.every((g) => used.some((u) => bytesEqual(g.cert.der, u.cert.der)));
    if (same) {
      run.pass(name, {
        actual: given.map(subjectOf),
        detail: "the same certificates as the chain Intel uses",
      });
    } else {
      run.checks.push({
        name,
        passed: false,
        nonFatal: true,
        expected: used.map(subjectOf),
        actual: given.map(describeUnverified),
        detail: "differs from the chain Intel uses for this step; Intel does not read it, so it is not used",
      });
    }
  }

  /**
   * QVL TCBSigningChain::verify over a TCB Info issuer chain: exactly 2 certificates (QuoteVerification.cpp
   * EXPECTED_CERTIFICATE_COUNT_IN_TCB_CHAIN) in any order; the root (last self-issued) names "SGX Root CA"
   * and is a trust anchor, the other one ("topmost") names "SGX TCB Signing", is signed by the root and not
   * on the Root CA CRL.
   */
  #tcbSigningChain(run: Run, name: string, chain: CertEntry[], rootCrl: CrlEntry): CertEntry {
    const root = rootOf(chain);
    const leaf = chain.find((e) => e !== root);
    if (chain.length !== 2 || !root || !leaf) {
      run.fail(
        name,
        "ISSUER_CHAIN_INVALID",
        `the ${name} must hold 2 certificates (TCB Signing, root), got ${chain.length}`,
        HINT_FETCH,
        { expected: 2, actual: chain.length },
      );
    }
    if (!commonName(root.cert.subject).includes("SGX Root CA")) {
      run.fail(name, "ISSUER_CHAIN_INVALID", `the ${name} has no SGX Root CA`, HINT_FETCH, {
        expected: "SGX Root CA",
        actual: subjectOf(root),
      });
    }
    if (!commonName(leaf.cert.subject).includes("SGX TCB Signing")) {
      run.fail(
        name,
        "ISSUER_CHAIN_INVALID",
        `the ${name} signer is "${commonName(leaf.cert.subject)}", not SGX TCB Signing`,
        HINT_FETCH,
        { expected: "SGX TCB Signing", actual: commonName(leaf.cert.subject) },
      );
    }
    this.#requiredExtensions(run, name, chain);
    const anchor = this.#anchorsByDer.get(latin1(root.cert.der));
    if (!anchor) {
      run.fail(
        name,
        "UNTRUSTED_ROOT",
        `the ${name} ends in "${subjectOf(root)}", which is not a trusted root`,
        "only Intel's SGX Root CA is trusted by default; pass trustAnchors to trust another root",
        {
          expected: this.trustAnchors,
          actual: subjectOf(root),
        },
      );
    }
    if (!crlIssuedBy(rootCrl.crl, anchor)) {
      run.fail(name, "CRL_UNKNOWN_ISSUER", `the Root CA CRL is not issued by the ${name} root`, HINT_FETCH);
    }
    this.#signed(run, `${name}.signer`, leaf, anchor, "ISSUER_CHAIN_INVALID_SIGNATURE");
    this.#notRevoked(run, `revocation.${name}`, leaf, rootCrl, "TCB_SIGNING_CERT_REVOKED");
    run.expires(`${name}.signer.notAfter`, leaf.cert.notAfter);
    run.expires(`${name}.root.notAfter`, anchor.cert.notAfter);
    return leaf;
  }

  /**
   * A signed JSON text (TCB Info / QE Identity) as QVL handles it: parse (first of duplicate members,
   * QVL's field rules), then the signing chain (`signer`), then the ECDSA signature over QVL's compact
   * re-serialisation of what was parsed. The parse is kept in the verifier's cache and in the collateral's
   * memo once the run is confirmed (see `Run.commit`); the values are used only once the signature holds.
   */
  #signedJson<K extends "tcbInfo" | "qeIdentity">(
    run: Run,
    name: K,
    text: string,
    signature: Uint8Array,
    memo: CollateralMemo,
    signer: () => CertEntry,
  ): Memo<K extends "tcbInfo" ? TcbInfo : QeIdentity> {
    type T = K extends "tcbInfo" ? TcbInfo : QeIdentity;
    let m = memo[name] as Memo<T> | undefined;
    if (!m) {
      const cache = (name === "tcbInfo" ? this.#tcbInfos : this.#qeIdentities) as Map<string, Memo<T>>;
      const known = cache.get(text);
      if (known) m = known;
      else {
        try {
          const read = (
            name === "tcbInfo" ? readSignedTcbInfo(text) : readSignedQeIdentity(text)
          ) as SignedJson<T>;
          m = { id: nextId++, value: read.value, message: utf8(read.signedMessage) };
        } catch (e) {
          run.failWith(`${name}.parse`, e);
        }
      }
      const parsed = m;
      run.commit(() => {
        if (!known) this.#bounded(cache).set(text, parsed);
        (memo as unknown as Record<K, Memo<T>>)[name] = parsed;
      });
    }
    run.pass(`${name}.parse`);
    const key = signer();
    const known = this.#signedTexts.get(text);
    let ok = known?.some((k) => k.signerId === key.id && bytesEqual(k.signature, signature)) ?? false;
    if (!ok && run.crypto.verify({ src: { entry: key }, message: m.message, signature, der: false })) {
      ok = true;
      const own = { signature: copy(signature), signerId: key.id };
      run.commit(() => {
        let list = this.#signedTexts.get(text);
        if (!list) {
          list = [];
          this.#bounded(this.#signedTexts).set(text, list);
        }
        list.push(own);
      });
    }
    if (!ok) {
      const code = name === "tcbInfo" ? "TCB_INFO_SIGNATURE_INVALID" : "QE_IDENTITY_SIGNATURE_INVALID";
      run.fail(
        `${name}.signature`,
        code,
        `the ${name} signature does not verify with the TCB Signing key`,
        HINT_FETCH,
        {
          field: `${name}Signature`,
        },
      );
    }
    run.pass(`${name}.signature`, {
      detail: `ECDSA P-256 by ${commonName(key.cert.subject)} over QVL's compact form of the signed text`,
    });
    return m;
  }

  #tdxModuleIdentity(run: Run, quote: Quote, tcbInfo: TcbInfo): TdxModuleIdentity {
    const report = quote.body.kind === "sgx" ? null : quote.body.report;
    if (!report) throw new Error("unreachable: TDX module check on an SGX quote");
    const major = report.teeTcbSvn[1]!;
    let identity = tcbInfo.tdxModule!;
    let idName = "tdxModule";
    if (quote.header.version > 3 && major > 0) {
      idName = `TDX_${HEX[major]!.toUpperCase()}`;
      const found = tcbInfo.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === idName);
      if (!found) {
        run.fail(
          "tdxModule.identity",
          "TDX_MODULE_MISMATCH",
          `the TCB Info has no TDX module identity ${idName} (TEE_TCB_SVN[1] = ${major})`,
          "fetch current TDX TCB Info (with tdxModuleIdentities) for this platform",
          { expected: idName, actual: tcbInfo.tdxModuleIdentities?.map((m) => m.id) ?? [] },
        );
      }
      identity = found;
    }
    run.pass("tdxModule.identity", { actual: idName });
    if (!bytesEqual(report.mrSignerSeam, identity.mrSigner)) {
      run.fail(
        "tdxModule.mrSigner",
        "TDX_MODULE_MISMATCH",
        "MRSIGNERSEAM does not match the TDX module identity",
        "the TD runs on a TDX module Intel did not sign",
        {
          expected: hex(identity.mrSigner),
          actual: hex(report.mrSignerSeam),
          field: "body.mrSignerSeam",
        },
      );
    }
    run.pass("tdxModule.mrSigner", { expected: hex(identity.mrSigner), actual: hex(report.mrSignerSeam) });
    // QVL: every SEAMATTRIBUTES byte must be 0 and equal the expected attributes (no mask applied).
    for (let i = 0; i < 8; i++) {
      const b = report.seamAttributes[i]!;
      if (b !== 0 || b !== identity.attributes[i]) {
        run.fail(
          "tdxModule.attributes",
          "TDX_MODULE_MISMATCH",
          "SEAMATTRIBUTES do not match the TDX module identity (must be zero)",
          "the TDX module runs with unexpected attributes",
          {
            expected: hex(identity.attributes),
            actual: hex(report.seamAttributes),
            field: "body.seamAttributes",
          },
        );
      }
    }
    run.pass("tdxModule.attributes", {
      expected: hex(identity.attributes),
      actual: hex(report.seamAttributes),
    });
    return identity;
  }

  #qeIdentityCheck(
    run: Run,
    quote: Quote,
    qeReport: Uint8Array,
    isvSvn: number,
    id: QeIdentity,
  ): { qeStatus: QeIdentityStatus; qeLevel: QeIdentityLevel | null } {
    const isTdx = quote.header.teeType === TEE_TYPE_TDX;
    const wantId = isTdx ? "TD_QE" : "QE";
    if (id.id !== wantId) {
      run.fail(
        "qeIdentity.teeType",
        "QE_IDENTITY_MISMATCH",
        `the QE identity is "${id.id}" but a ${isTdx ? "TDX" : "SGX"} quote needs "${wantId}"`,
        `fetch the ${isTdx ? "TDX" : "SGX"} QE identity`,
        {
          expected: wantId,
          actual: id.id,
        },
      );
    }
    run.pass("qeIdentity.teeType", { expected: wantId, actual: id.id });
    const masked = (off: number, mask: Uint8Array): Uint8Array => {
      const out = new Uint8Array(mask.length);
      for (let i = 0; i < mask.length; i++) out[i] = qeReport[off + i]! & mask[i]!;
      return out;
    };
    const misc = masked(16, id.miscselectMask);
    if (!bytesEqual(misc, id.miscselect)) {
      run.fail(
        "qeIdentity.miscselect",
        "QE_IDENTITY_MISMATCH",
        "the QE's MISCSELECT (masked) does not match the QE identity",
        "the quote was not produced by Intel's genuine QE",
        {
          expected: hex(id.miscselect),
          actual: hex(misc),
        },
      );
    }
    run.pass("qeIdentity.miscselect", { expected: hex(id.miscselect), actual: hex(misc) });
    const attrs = masked(48, id.attributesMask);
    if (!bytesEqual(attrs, id.attributes)) {
      run.fail(
        "qeIdentity.attributes",
        "QE_IDENTITY_MISMATCH",
        "the QE's ATTRIBUTES (masked) do not match the QE identity",
        "the quote was not produced by Intel's genuine QE (or by a debug QE)",
        {
          expected: hex(id.attributes),
          actual: hex(attrs),
        },
      );
    }
    run.pass("qeIdentity.attributes", { expected: hex(id.attributes), actual: hex(attrs) });
    const mrSigner = qeReport.subarray(128, 160);
    if (!bytesEqual(mrSigner, id.mrSigner)) {
      run.fail(
        "qeIdentity.mrSigner",
        "QE_IDENTITY_MISMATCH",
        "the QE's MRSIGNER does not match the QE identity",
        "the quote was not produced by Intel's QE",
        {
          expected: hex(id.mrSigner),
          actual: hex(mrSigner),
        },
      );
    }
    run.pass("qeIdentity.mrSigner", {
      expected: hex(id.mrSigner),
      actual: hex(mrSigner),
    });
    const prodId = qeReport[256]! | (qeReport[257]! << 8);
    if (prodId !== id.isvProdId) {
      run.fail(
        "qeIdentity.isvProdId",
        "QE_IDENTITY_MISMATCH",
        "the QE's ISVPRODID does not match the QE identity",
        "the quote was not produced by the expected Intel QE",
        {
          expected: id.isvProdId,
          actual: prodId,
        },
      );
    }
    run.pass("qeIdentity.isvProdId", { expected: id.isvProdId, actual: prodId });
    // First level (JSON order) whose isvsvn <= the QE's ISVSVN.
    const level = id.tcbLevels.find((l) => l.isvSvn <= isvSvn);
    if (!level) {
      // Intel does not stop here: the quote signature and the TCB level come first, then TCB_NOT_SUPPORTED.
      run.checks.push({
        name: "qeIdentity.tcbLevel",
        passed: false,
        nonFatal: true,
        expected: `isvsvn >= ${Math.min(...id.tcbLevels.map((l) => l.isvSvn))}`,
        actual: isvSvn,
        detail: `no QE identity TCB level covers the QE's ISVSVN ${isvSvn} (fails after the quote signature, as Intel's QVL does)`,
      });
      return { qeStatus: "NotSupported", qeLevel: null };
    }
    const qeLevel: QeIdentityLevel = {
      isvSvn: level.isvSvn,
      tcbDate: level.tcbDate,
      tcbStatus: level.tcbStatus,
      advisoryIds: level.advisoryIds,
    };
    const qeStatus = qeStatusOf(level.tcbStatus);
    run.pass("qeIdentity.tcbLevel", { actual: { isvSvn, level: level.isvSvn, status: level.tcbStatus } });
    return { qeStatus, qeLevel };
  }

  #tcbStatus(
    run: Run,
    quote: Quote,
    ext: PckExtensions,
    tcbInfo: TcbInfo,
    moduleIdentity: TdxModuleIdentity | null,
    qeStatus: QeIdentityStatus,
    result: VerificationResult,
  ): void {
    const isTdx = tcbInfo.version >= 3 && tcbInfo.id === "TDX" && quote.header.teeType === TEE_TYPE_TDX;
    const report = quote.body.kind === "sgx" ? null : quote.body.report;
    const svn = report?.teeTcbSvn ?? new Uint8Array(16);
    const pckComps = ext.tcb.sgxTcbComponents;
    let sgxLevel: TcbLevel | null = null;
    let tdxLevel: TcbLevel | null = null;
    const start = svn[1]! > 0 ? 2 : 0;
    for (const level of tcbInfo.tcbLevels) {
      let sgxOk = ext.tcb.pceSvn >= level.pceSvn;
      for (let i = 0; sgxOk && i < 16; i++) if (pckComps[i]! < level.sgxComponents[i]!) sgxOk = false;
      if (!sgxOk) continue;
      if (!isTdx) {
        sgxLevel = level;
        break;
      }
      sgxLevel ??= level;
      const tdx = level.tdxComponents!;
      let tdxOk = true;
      for (let i = start; tdxOk && i < 16; i++) if (svn[i]! < tdx[i]!) tdxOk = false;
      if (tdxOk) {
        tdxLevel = level;
        break;
      }
    }
    const platformDesc = isTdx
      ? { sgxComponents: pckComps, pceSvn: ext.tcb.pceSvn, teeTcbSvn: hex(svn), comparedFrom: start }
      : { sgxComponents: pckComps, pceSvn: ext.tcb.pceSvn };
    const matched = isTdx ? tdxLevel : sgxLevel;
    if (!sgxLevel || !matched) {
      run.fail(
        "tcb.level",
        "TCB_LEVEL_NOT_FOUND",
        `no TCB level of the TCB Info matches the platform's ${!sgxLevel ? "SGX components and PCESVN" : "TDX components (TEE_TCB_SVN)"}`,
        "the platform's TCB is below every level Intel lists (Intel: TCB_NOT_SUPPORTED); update the platform or the TCB Info",
        { actual: platformDesc, field: "tcbInfo.tcbLevels" },
      );
    }
    result.matchedTcbLevel = {
      tcbDate: matched.tcbDate,
      tcbStatus: matched.tcbStatus,
      advisoryIds: matched.advisoryIds,
      sgxComponents: matched.sgxComponents,
      pceSvn: matched.pceSvn,
      tdxComponents: matched.tdxComponents,
    };
    result.advisoryIds = matched.advisoryIds;
    run.pass("tcb.level", {
      actual: platformDesc,
      expected: {
        tcbDate: matched.tcbDate,
        sgxComponents: matched.sgxComponents,
        pceSvn: matched.pceSvn,
        tdxComponents: matched.tdxComponents,
      },
      detail: `matched level ${matched.tcbDate} (${matched.tcbStatus})`,
    });
    const sgxStatus = this.#levelStatus(run, sgxLevel.tcbStatus);
    let status: TcbStatus;
    if (!isTdx) {
      status = sgxStatus;
    } else {
      const tdxStatus0 = this.#levelStatus(run, matched.tcbStatus);
      // checkTdxModuleTcbStatus
      let moduleStatus: TdxModuleStatus = "UpToDate";
      let used: TdxModuleIdentityUsed | null = null;
      if (moduleIdentity) {
        used = {
          id: moduleIdentity.id || "tdxModule",
          mrSigner: hex(moduleIdentity.mrSigner),
          attributes: hex(moduleIdentity.attributes),
          attributesMask: hex(moduleIdentity.attributesMask),
          tcbLevel: null,
        };
      }
      if (!(quote.header.version > 3 && svn[1] === 0)) {
        const idName = `TDX_${HEX[svn[1]!]!.toUpperCase()}`;
        const mi = tcbInfo.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === idName);
        if (!mi) {
          run.fail(
            "tdxModule.tcbLevel",
            "TDX_MODULE_MISMATCH",
            `the TCB Info has no TDX module identity ${idName}`,
            "fetch current TDX TCB Info for this platform",
            {
              expected: idName,
            },
          );
        }
        const ml = mi.tcbLevels.find((l) => svn[0]! >= l.isvSvn);
        if (!ml) {
          run.fail(
            "tdxModule.tcbLevel",
            "TDX_MODULE_TCB_LEVEL_NOT_FOUND",
            `no ${idName} TCB level covers TDX module SVN ${svn[0]}`,
            "the TDX module is older than any level Intel lists (Intel: TCB_NOT_SUPPORTED); update the TDX module",
            {
              actual: svn[0],
            },
          );
        }
        if (!isTdxModuleStatus(ml.tcbStatus)) {
          run.fail(
            "tdxModule.tcbLevel",
            "TCB_STATUS_UNRECOGNIZED",
            `unknown TDX module TCB status "${ml.tcbStatus}"`,
            HINT_FETCH,
            {
              actual: ml.tcbStatus,
            },
          );
        }
        moduleStatus = ml.tcbStatus;
        if (used)
          used.tcbLevel = {
            isvSvn: ml.isvSvn,
            tcbDate: ml.tcbDate,
            tcbStatus: ml.tcbStatus,
            advisoryIds: ml.advisoryIds,
          };
        run.pass("tdxModule.tcbLevel", {
          actual: { id: idName, svn: svn[0], level: ml.isvSvn, status: ml.tcbStatus },
        });
      } else {
        run.pass("tdxModule.tcbLevel", {
          detail: "TEE_TCB_SVN[1] = 0: the module is covered by the TDX TCB level",
        });
      }
      result.tdxModuleStatus = moduleStatus;
      result.tdxModuleIdentity = used;
      let tdxStatus: TcbStatus = convergeWithModule(tdxStatus0, moduleStatus);
      if (tdxStatus !== "Revoked" && quote.body.type === 3 && report?.teeTcbSvn2) {
        const advice = relaunchAdvice({
          qeStatus,
          sgxStatus,
          tdxStatus: tdxStatus as TcbLevelStatus,
          moduleStatus,
          teeTcbSvn2: report.teeTcbSvn2,
          latestTdxComponents: tcbInfo.tcbLevels[0]!.tdxComponents!,
          latestModuleIsvSvn: (major) =>
            tcbInfo.tdxModuleIdentities?.find(
              (m) => m.id.toUpperCase() === `TDX_${HEX[major]!.toUpperCase()}`,
            )?.tcbLevels[0]?.isvSvn,
        });
        if (advice === "ModuleMismatch") {
          run.fail(
            "tdxModule.relaunch",
            "TDX_MODULE_MISMATCH",
            `the TCB Info has no TDX module identity for TEE_TCB_SVN2[1] = ${report.teeTcbSvn2[1]}`,
            "fetch current TDX TCB Info (with tdxModuleIdentities) for this platform",
            { actual: hex(report.teeTcbSvn2) },
          );
        }
        if (advice) tdxStatus = advice;
      }
      status = tdxStatus;
    }
    // TDX: a Revoked TDX status is returned before the QE status is merged (QVL checkTcbLevel).
    if (qeStatus === "NotSupported" && !(isTdx && status === "Revoked")) {
      run.fail(
        "tcb.status",
        "QE_TCB_LEVEL_NOT_FOUND",
        "no QE identity TCB level covers the QE's ISVSVN (Intel: TCB_NOT_SUPPORTED)",
        "the Quoting Enclave is older than any level Intel still lists; update the platform's DCAP software",
        { actual: { platform: status, qeIdentity: qeStatus } },
      );
    }
    const final =
      qeStatus === "NotSupported" || (isTdx && status === "Revoked")
        ? "Revoked"
        : convergeWithQe(status, qeStatus);
    result.tcbStatus = final;
    run.pass("tcb.status", {
      actual: final,
      detail: isTdx
        ? `TDX level ${matched.tcbStatus}, module ${result.tdxModuleStatus}, QE ${qeStatus} => ${final}`
        : `SGX level ${matched.tcbStatus}, QE ${qeStatus} => ${final}`,
    });
    if (final === "Revoked") {
      // Intel's terminal result REVOKED: the verdict is kept in tcbStatus, but verification does not pass.
      run.fail(
        "tcb.notRevoked",
        "TCB_REVOKED",
        "the platform's TCB level, QE or TDX module is revoked by Intel",
        "never accept this platform until its TCB is recovered (Intel: SGX_QL_QV_RESULT_REVOKED)",
        { actual: { platform: status, qeIdentity: qeStatus } },
      );
    }
  }

  #levelStatus(run: Run, s: string): TcbLevelStatus {
    if (!isTcbLevelStatus(s)) {
      run.fail("tcb.status", "TCB_STATUS_UNRECOGNIZED", `unknown TCB status "${s}"`, HINT_FETCH, {
        actual: s,
      });
    }
    return s;
  }
}

/** The subject of a certificate nobody verified (its names may not even decode). */
function describeUnverified(e: CertEntry): string {
  try {
    return subjectOf(e);
  } catch {
    return "(a certificate whose subject does not decode)";
  }
}

/** QVL's root of a chain: the last self-issued certificate (CertificateChain::parse). */
function rootOf(chain: CertEntry[]): CertEntry | undefined {
  let root: CertEntry | undefined;
  for (const e of chain) if (selfIssued(e)) root = e;
  return root;
}

function selfIssued(e: CertEntry): boolean {
  return qvlNamesEqual(
    e.cert.issuerRaw,
    () => e.cert.issuer,
    e.cert.subjectRaw,
    () => e.cert.subject,
  );
}

/** QVL's issuer == subject test (DistinguishedName::operator==: CN, C, O, L, ST). */
function namesEqual(raw: Uint8Array, name: () => NameAttribute[], subjectOfIssuer: CertEntry): boolean {
  return qvlNamesEqual(raw, name, subjectOfIssuer.cert.subjectRaw, () => subjectOfIssuer.cert.subject);
}

/**
 * QVL PckCrlVerifier::verify's issuer test: the CRL issuer's printed name (X509_NAME_print_ex, RFC 2253)
 * and its CN, C, O, L, ST equal the certificate subject's. Equal printed names have equal attributes.
 */
function crlIssuedBy(crl: Crl, issuer: CertEntry): boolean {
  return (
    bytesEqual(crl.issuerRaw, issuer.cert.subjectRaw) ||
    formatName(crl.issuer) === formatName(issuer.cert.subject)
  );
}

const textEncoder = new TextEncoder();
function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

function errorOf(e: TdxError): VerificationResult["error"] {
  const out: NonNullable<VerificationResult["error"]> = { code: e.code, message: e.message };
  if (e.hint !== undefined) out.hint = e.hint;
  if (e.field !== undefined) out.field = e.field;
  if (e.data !== undefined) out.data = e.data;
  return out;
}

function snapshotOf(c: Collateral): Collateral {
  const s: Collateral = {
    pckCrlIssuerChain: c.pckCrlIssuerChain,
    rootCaCrl: copy(c.rootCaCrl),
    pckCrl: copy(c.pckCrl),
    tcbInfoIssuerChain: c.tcbInfoIssuerChain,
    tcbInfo: c.tcbInfo,
    tcbInfoSignature: copy(c.tcbInfoSignature),
    qeIdentityIssuerChain: c.qeIdentityIssuerChain,
    qeIdentity: c.qeIdentity,
    qeIdentitySignature: copy(c.qeIdentitySignature),
  };
  if (c.pckCertificateChain !== undefined) s.pckCertificateChain = c.pckCertificateChain;
  return s;
}

/** The caller may have changed the object since it was memoised: compare every field (strings by value). */
function sameCollateral(a: Collateral, b: Collateral): boolean {
  return (
    a.tcbInfo === b.tcbInfo &&
    a.qeIdentity === b.qeIdentity &&
    a.pckCrlIssuerChain === b.pckCrlIssuerChain &&
    a.tcbInfoIssuerChain === b.tcbInfoIssuerChain &&
    a.qeIdentityIssuerChain === b.qeIdentityIssuerChain &&
    a.pckCertificateChain === b.pckCertificateChain &&
    bytesEqual(a.rootCaCrl, b.rootCaCrl) &&
    bytesEqual(a.pckCrl, b.pckCrl) &&
    bytesEqual(a.tcbInfoSignature, b.tcbInfoSignature) &&
    bytesEqual(a.qeIdentitySignature, b.qeIdentitySignature)
  );
}

let sharedVerifier: Verifier | undefined;

/** The shared `Verifier` for these options, or the failed result of bad trust anchors. */
function sharedVerifierFor(
  options: VerifyOptions & { trustAnchors?: TrustAnchorInput[] },
): Verifier | VerificationResult {
  if (options?.trustAnchors !== undefined) {
    try {
      return verifierFor(options.trustAnchors);
    } catch (e) {
      if (isTdxError(e))
        return failedResult(
          e,
          Number(options.now instanceof Date ? options.now.getTime() / 1000 : options.now),
          "trustAnchors",
        );
      throw e;
    }
  }
  sharedVerifier ??= new Verifier();
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

const anchorVerifiers = new Map<string, Verifier>();

function verifierFor(anchors: TrustAnchorInput[]): Verifier {
  const key = anchors.map((a) => (typeof a === "string" ? `p${a}` : `d${latin1(a)}`)).join("\u0000");
  let v = anchorVerifiers.get(key);
  if (!v) {
    if (anchorVerifiers.size >= 16) anchorVerifiers.clear();
    v = new Verifier({ trustAnchors: anchors });
    anchorVerifiers.set(key, v);
  }
  return v;
}

/** A result with nothing established yet: the start of every verification. */
function emptyResult(at: number, checks: VerificationResult["checks"]): VerificationResult {
  return {
    ok: false,
    tcbStatus: null,
    advisoryIds: [],
    collateralExpired: false,
    earliestExpiry: null,
    expiredItems: [],
    matchedTcbLevel: null,
    qeIdentityStatus: null,
    qeIdentityLevel: null,
    tdxModuleStatus: null,
    tdxModuleIdentity: null,
    checks,
    error: null,
    at,
    platform: null,
    collateral: null,
    quote: null,
  };
}

function failedResult(err: TdxError, at: number, check: string): VerificationResult {
  const result = emptyResult(Math.floor(at), [{ name: check, passed: false, detail: err.message }]);
  result.error = errorOf(err);
  return result;
}

/** TypeScript callers can still pass anything at run time: refuse a collateral object of the wrong shape. */
function checkCollateralShape(run: Run, c: Collateral): void {
  const strings = ["tcbInfoIssuerChain", "tcbInfo", "qeIdentity"] as const;
  // Intel needs neither issuer chain (see #sameCertificates); when present they must be text.
  const optionalStrings = ["pckCrlIssuerChain", "qeIdentityIssuerChain", "pckCertificateChain"] as const;
  const bytes = ["rootCaCrl", "pckCrl", "tcbInfoSignature", "qeIdentitySignature"] as const;
  const bad =
    c === null || typeof c !== "object"
      ? ["(collateral)"]
      : [
          ...strings.filter((k) => typeof c[k] !== "string"),
          ...bytes.filter((k) => !(c[k] instanceof Uint8Array)),
          ...optionalStrings.filter((k) => c[k] !== undefined && typeof c[k] !== "string"),
        ];
  if (bad.length > 0) {
    run.fail(
      "collateral.format",
      "COLLATERAL_MALFORMED",
      `the collateral is missing or has wrong types for: ${bad.join(", ")}`,
      "build the collateral with readCollateral(jsonText) or fetch it with the collateral client",
      { actual: bad },
    );
  }
}
