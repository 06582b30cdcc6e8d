import type { QeIdentity } from "../collateral/qe-identity.js";
import type { TcbInfo } from "../collateral/tcb-info.js";
import type { Collateral } from "../collateral/types.js";
import type { CryptoBackend, P256Key } from "../crypto/backend.js";
import { qvlPemCertificates } from "../crypto/pem.js";
import { OID_ECDSA_SHA256, parseCertificate, parseCrl } from "../crypto/x509.js";
import { bytesEqual, copy, latin1, newId, tailKey } from "./bytes.js";
import { type CertEntry, type CrlEntry, isP256, keyOf } from "./entries.js";
import type { CollateralInfo, VerificationCheck, VerificationResult } from "./result.js";
import type { Run, ValidityBound } from "./run.js";
import type { KeySource } from "./signatures.js";

/**
 * What a `Verifier` remembers, keyed by content: parsed certificates, chains and CRLs; verified signatures
 * and signed texts; parsed TCB Info / QE Identity; the outcome of steps 2-4 per (PCK chain, collateral) and
 * of step 5 around the quote signature per platform; attestation keys. Only verified facts are remembered,
 * and a deferring run remembers them only once its signatures came back valid (`Run.commit`). Every map is
 * bounded: a full one is emptied, never grown.
 */

/** A parsed signed text: its values and the bytes Intel's signature covers. */
export interface Memo<T> {
  id: number;
  value: T;
  /** QVL's compact re-serialisation of the parsed text, UTF-8. */
  message: Uint8Array;
}

/** Per-collateral-object memo of the parsed pieces (validated against a snapshot on every use). */
export interface CollateralMemo {
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
export interface Prefix {
  id: number;
  pck: CertEntry;
  tcbInfo: TcbInfo;
  qeIdentity: QeIdentity;
  collateralInfo: CollateralInfo;
  checks: VerificationCheck[];
  expiries: ValidityBound[];
}

/** The outcome of step 5 around the quote signature for one (prefix, quote TCB fields, QE part). */
export interface Tail {
  before: VerificationCheck[];
  after: VerificationCheck[];
  fieldsBefore: Pick<VerificationResult, "platform" | "qeIdentityStatus" | "qeIdentityLevel">;
  fieldsAfter: Pick<
    VerificationResult,
    "tcbStatus" | "advisoryIds" | "matchedTcbLevel" | "tdxModuleStatus" | "tdxModuleIdentity"
  >;
}

/** Entries of a cache that keeps a list per (short) key. */
function entriesIn(map: Map<string, unknown[]>): number {
  let n = 0;
  for (const list of map.values()) n += list.length;
  return n;
}

export type CacheSizes = Record<
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
>;

export class VerifierCaches {
  /** Keyed by length and the last 64 bytes (the signature), confirmed by comparing the whole DER. */
  readonly #certs = new Map<string, CertEntry[]>();
  readonly #quoteChains = new Map<string, { bytes: Uint8Array; chain: CertEntry[] }[]>();
  readonly #chains = new Map<string, CertEntry[]>();
  readonly #crls = new Map<string, CrlEntry[]>();
  /** Signed JSON text -> signatures (and signer ids) already verified over it. */
  readonly signedTexts = new Map<string, { signature: Uint8Array; signerId: number }[]>();
  readonly tcbInfos = new Map<string, Memo<TcbInfo>>();
  readonly qeIdentities = new Map<string, Memo<QeIdentity>>();
  readonly tails = new Map<string, Tail>();
  readonly #verified = new Set<string>();
  readonly #attestationKeys = new Map<string, P256Key>();
  #collateralMemos = new WeakMap<Collateral, CollateralMemo>();

  constructor(
    readonly max: number,
    readonly crypto: CryptoBackend,
  ) {}

  sizes(): CacheSizes {
    return {
      certificates: entriesIn(this.#certs),
      chains: this.#chains.size + entriesIn(this.#quoteChains),
      crls: entriesIn(this.#crls),
      verifiedSignatures: this.#verified.size,
      signedTexts: entriesIn(this.signedTexts),
      tcbInfos: this.tcbInfos.size,
      qeIdentities: this.qeIdentities.size,
      quoteTails: this.tails.size,
      attestationKeys: this.#attestationKeys.size,
    };
  }

  clear(): void {
    this.#certs.clear();
    this.#chains.clear();
    this.#quoteChains.clear();
    this.tails.clear();
    this.signedTexts.clear();
    this.#crls.clear();
    this.tcbInfos.clear();
    this.qeIdentities.clear();
    this.#verified.clear();
    this.#attestationKeys.clear();
    this.#collateralMemos = new WeakMap();
  }

  /** `map`, emptied first when full. */
  bounded<K, V>(map: Map<K, V>): Map<K, V> {
    if (map.size >= this.max) map.clear();
    return map;
  }

  /** `owned`: the bytes are already a private copy (decoded from PEM), so they need not be copied again. */
  certEntry(der: Uint8Array, owned = false): CertEntry {
    const k = tailKey(der);
    const list = this.#certs.get(k);
    if (list) for (const e of list) if (bytesEqual(e.cert.der, der)) return e;
    const e: CertEntry = { id: newId(), cert: parseCertificate(owned ? der : copy(der)) };
    if (list) list.push(e);
    else this.bounded(this.#certs).set(k, [e]);
    return e;
  }

  /**
   * The quote's PCK chain (type-5 certification data). Looked up by a short probe of the bytes and confirmed
   * by comparing all of them, so a known chain costs a memcmp instead of decoding and hashing 4 KB of text.
   */
  quoteChain(data: Uint8Array): CertEntry[] {
    const probe = `${data.length}:${latin1(data.subarray(data.length >>> 2, (data.length >>> 2) + 48))}`;
    const known = this.#quoteChains.get(probe);
    if (known) for (const k of known) if (bytesEqual(k.bytes, data)) return k.chain;
    // Past 8 chains per probe, fall back to the text-keyed map; below, a miss here is a miss there too, so
    // the 4 KB text is not hashed for nothing.
    if (known && known.length >= 8) return this.chain(latin1(data), "pckCertChain");
    const chain = qvlPemCertificates(latin1(data), "pckCertChain").map((d) => this.certEntry(d, true));
    const list = known ?? [];
    if (!known) this.bounded(this.#quoteChains).set(probe, list);
    list.push({ bytes: copy(data), chain });
    return chain;
  }

  /** A PEM chain, split and read as Intel's QVL does (crypto/pem.ts). */
  chain(pem: string, field: string): CertEntry[] {
    let c = this.#chains.get(pem);
    if (!c) {
      c = qvlPemCertificates(pem, field).map((d) => this.certEntry(d, true));
      this.bounded(this.#chains).set(pem, c);
    }
    return c;
  }

  crl(der: Uint8Array): CrlEntry {
    const k = tailKey(der);
    const list = this.#crls.get(k);
    if (list) for (const e of list) if (bytesEqual(e.crl.der, der)) return e;
    const e: CrlEntry = { id: newId(), crl: parseCrl(copy(der)) };
    if (list) list.push(e);
    else this.bounded(this.#crls).set(k, [e]);
    return e;
  }

  /** The memo of a collateral object, fresh when the caller changed the object since. */
  memo(c: Collateral): CollateralMemo {
    const m = this.#collateralMemos.get(c);
    if (m && sameCollateral(m.snapshot, c)) return m;
    const fresh: CollateralMemo = { snapshot: snapshotOf(c) };
    this.#collateralMemos.set(c, fresh);
    return fresh;
  }

  /** Verify something by the issuer's key once; remember success under (issuer, `what`). */
  verifiedBy(run: Run, issuer: CertEntry, what: string, check: () => boolean): boolean {
    const k = `${issuer.id}>${what}`;
    if (this.#verified.has(k)) return true;
    if (!check()) return false;
    run.commit(() => {
      if (this.#verified.size >= this.max) this.#verified.clear();
      this.#verified.add(k);
    });
    return true;
  }

  /** The certificate's signature by the issuer's key (ECDSA P-256 / SHA-256), verified once. */
  certSignedBy(run: Run, subject: CertEntry, issuer: CertEntry): boolean {
    return this.verifiedBy(run, issuer, `c${subject.id}`, () => {
      const c = subject.cert;
      return (
        c.signatureAlgorithm === OID_ECDSA_SHA256 &&
        isP256(issuer.cert) &&
        run.crypto.verify({ src: { entry: issuer }, message: c.tbs, signature: c.signature, der: true })
      );
    });
  }

  /** `commits`: a deferring run's, so a new attestation key is remembered only once the run is confirmed. */
  keyFor(src: KeySource, commits?: (() => void)[]): P256Key {
    return src.entry ? keyOf(src.entry, this.crypto) : this.#attestationKey(src.raw, commits);
  }

  #attestationKey(raw: Uint8Array, commits?: (() => void)[]): P256Key {
    const k = latin1(raw);
    const known = this.#attestationKeys.get(k);
    if (known) return known;
    const key = this.crypto.p256Key(raw, "attestationKey");
    const remember = () => this.bounded(this.#attestationKeys).set(k, key);
    if (commits) commits.push(remember);
    else remember();
    return key;
  }
}

export function snapshotOf(c: Collateral): Collateral {
  const s: Collateral = {
    rootCaCrl: copy(c.rootCaCrl),
    pckCrl: copy(c.pckCrl),
    tcbInfoIssuerChain: c.tcbInfoIssuerChain,
    tcbInfo: c.tcbInfo,
    tcbInfoSignature: copy(c.tcbInfoSignature),
    qeIdentity: c.qeIdentity,
    qeIdentitySignature: copy(c.qeIdentitySignature),
  };
  if (c.pckCrlIssuerChain !== undefined) s.pckCrlIssuerChain = c.pckCrlIssuerChain;
  if (c.qeIdentityIssuerChain !== undefined) s.qeIdentityIssuerChain = c.qeIdentityIssuerChain;
  if (c.pckCertificateChain !== undefined) s.pckCertificateChain = c.pckCertificateChain;
  return s;
}

/** The caller may have changed the object since it was memoised: compare every field (strings by value). */
export function sameCollateral(a: Collateral, b: Collateral): boolean {
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
