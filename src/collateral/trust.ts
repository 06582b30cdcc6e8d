/**
 * What the collateral fetcher checks before it keeps anything: every fetched (or cached) artifact must be
 * signed by a chain that ends in a trusted root, and a quote's PCK chain must lead to a trusted root before
 * anything is fetched for it. This is not the verification of a quote (src/verify does that, with every
 * rule of Intel's algorithm): it is the gate that keeps a broken or hostile PCS/PCCS from replacing good
 * collateral with bad (a cache entry that would make every later verification fail), and an outsider from
 * choosing what the fetcher asks the PCS for (the FMSPC of a certificate nobody signed).
 *
 * Checked per artifact, each on its own (no order between them):
 * - TCB Info / QE Identity: the issuer chain is two certificates, one of them byte-identical to a trust
 *   anchor, the other issued and signed by it; the signature (ECDSA P-256, raw r||s) over the exact signed
 *   text verifies with the signer's key; for TCB Info the FMSPC and TEE of the cache key match the body;
 * - PCK CRL: issued and signed by the first certificate of its issuer chain, which a trust anchor signed;
 * - Root CA CRL: issued and signed by a trust anchor.
 * Times (nextUpdate, certificate validity) are judged by the cache (an expired answer never replaces a
 * valid entry) and by the verifier; revocation of the TCB signer by the Root CA CRL by the verifier.
 */
import type { KeyObject } from "node:crypto";
import { p256PublicKey, verifyDerEcdsa, verifyRawP256 } from "../crypto/ecdsa.js";
import { INTEL_SGX_ROOT_CA_PEM } from "../crypto/intel-root.js";
import {
  type Certificate,
  commonName,
  formatName,
  OID_ECDSA_SHA256,
  parseCertificate,
  parseCrl,
  pemToDers,
} from "../crypto/x509.js";
import { TdxError } from "../errors.js";
import type { Artifact } from "./cache.js";
import { readCrl, readQeIdentityResponse, readTcbInfoResponse } from "./pcs.js";

export { INTEL_SGX_ROOT_CA_PEM };

/** A trust anchor: PEM text (one or more certificates) or the DER of one. */
export type CollateralTrustAnchor = string | Uint8Array;

interface Anchor {
  cert: Certificate;
  key: KeyObject;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function rejected(message: string, field: string, data: Record<string, unknown> = {}): TdxError {
  return new TdxError("COLLATERAL_REJECTED", message, {
    field,
    hint: "the PCS/PCCS answered with collateral that does not verify (broken signature, another root, another platform); the last good entry stays in use. Check the service and its upstream",
    data,
  });
}

function keyOf(cert: Certificate): KeyObject {
  return p256PublicKey(cert.publicKey, "certificate.publicKey");
}

/** Whether `subject` names `issuer` as its issuer and carries a valid ECDSA-SHA256 signature by its key. */
function signedBy(subject: Certificate, issuer: Certificate, issuerKey: KeyObject): boolean {
  return (
    bytesEqual(subject.issuerRaw, issuer.subjectRaw) &&
    subject.signatureAlgorithm === OID_ECDSA_SHA256 &&
    verifyDerEcdsa(issuerKey, subject.tbs, subject.signature)
  );
}

/**
 * The trust gate of the collateral fetcher. Anchors default to Intel's SGX Root CA; a simulated platform's
 * root must be passed explicitly (as to the verifier).
 */
export class CollateralTrust {
  readonly #anchors = new Map<string, Anchor>();
  /** PCK chains already found to lead to a trusted root (their DERs), bounded. */
  readonly #goodChains = new Set<string>();

  constructor(anchors: CollateralTrustAnchor[] = [INTEL_SGX_ROOT_CA_PEM]) {
    for (const a of anchors) {
      const ders = typeof a === "string" ? pemToDers(a, "trustAnchors") : [a];
      for (const der of ders) {
        const cert = parseCertificate(new Uint8Array(der));
        this.#anchors.set(latin1(cert.der), { cert, key: keyOf(cert) });
      }
    }
    if (this.#anchors.size === 0)
      throw new TdxError("COLLATERAL_TRUST_ANCHOR_MISSING", "no trust anchor was given", {
        field: "trustAnchors",
        hint: "leave trustAnchors out to trust Intel's SGX Root CA, or pass the PEM of the root to trust",
      });
  }

  /** Subjects of the anchors, for messages. */
  get subjects(): string[] {
    return [...this.#anchors.values()].map((a) => formatName(a.cert.subject));
  }

  /** Throws COLLATERAL_REJECTED unless `a` is signed by a chain that ends in a trust anchor. */
  checkArtifact(a: Artifact): void {
    switch (a.kind) {
      case "tcbInfo": {
        const item = readTcbInfoResponse(a.body);
        // Key: <tee>/tcb/<FMSPC>/<update>.
        const [tee, , fmspc] = a.key.split("/");
        if (fmspc !== undefined && item.fmspc !== fmspc.toUpperCase())
          throw rejected(`the TCB Info is for FMSPC ${item.fmspc}, not ${fmspc}`, "tcbInfo.fmspc", {
            expected: fmspc,
            actual: item.fmspc,
          });
        const wantId = tee === "tdx" ? "TDX" : "SGX";
        if (item.id !== null && item.id !== wantId)
          throw rejected(`the TCB Info is ${item.id}'s, not ${wantId}'s`, "tcbInfo.id", {
            expected: wantId,
            actual: item.id,
          });
        this.#checkSignedJson(a, "tcbInfo", item.body, item.signature);
        return;
      }
      case "qeIdentity": {
        const item = readQeIdentityResponse(a.body);
        const tee = a.key.split("/")[0];
        const wantId = tee === "tdx" ? "TD_QE" : "QE";
        if (item.id !== null && item.id !== wantId)
          throw rejected(`the QE identity is ${item.id}'s, not ${wantId}'s`, "enclaveIdentity.id", {
            expected: wantId,
            actual: item.id,
          });
        this.#checkSignedJson(a, "qeIdentity", item.body, item.signature);
        return;
      }
      case "pckCrl": {
        const chain = this.#issuerChain(a, "pckCrl.issuerChain");
        this.#checkCrl(a.body, "pckCrl", chain.signer, chain.signerKey);
        return;
      }
      case "rootCaCrl": {
        const der = readCrl(a.body, "rootCaCrl").der;
        const crl = parseCrl(der);
        const anchor = [...this.#anchors.values()].find((x) => bytesEqual(x.cert.subjectRaw, crl.issuerRaw));
        if (!anchor)
          throw rejected(
            `the Root CA CRL is issued by "${formatName(crl.issuer)}", not by a trusted root`,
            "rootCaCrl.issuer",
            { expected: this.subjects, actual: formatName(crl.issuer) },
          );
        this.#checkCrl(a.body, "rootCaCrl", anchor.cert, anchor.key);
        return;
      }
    }
  }

  /**
   * Throws QUOTE_PCK_CHAIN_UNTRUSTED unless `chain` (PEM certificates: PCK, its CA, the root) leads to a
   * trust anchor: the root byte-identical to one, the CA signed by it, the PCK certificate by the CA. Run
   * before anything is fetched for the chain's FMSPC, so outsiders cannot choose what is fetched.
   */
  checkPckChain(chain: string[]): void {
    const ders = chain.flatMap((pem) => pemToDers(pem, "pckCertChain"));
    const chainKey = ders.map(latin1).join("|");
    if (this.#goodChains.has(chainKey)) return;
    const fail = (why: string) =>
      new TdxError("QUOTE_PCK_CHAIN_UNTRUSTED", `the quote's PCK certificate chain ${why}`, {
        field: "signatureData.certificationData",
        hint: "only quotes whose PCK chain leads to a trusted root (Intel's SGX Root CA unless configured otherwise) get collateral fetched; nothing was fetched",
      });
    if (ders.length !== 3) throw fail(`has ${ders.length} certificates, not 3 (PCK, CA, root)`);
    const [leaf, ca, root] = ders.map((d) => parseCertificate(d)) as [Certificate, Certificate, Certificate];
    const anchor = this.#anchors.get(latin1(root.der));
    if (!anchor) {
      const namesake = [...this.#anchors.values()].some((x) =>
        bytesEqual(x.cert.subjectRaw, root.subjectRaw),
      );
      throw fail(
        `ends in "${formatName(root.subject)}", which is not a trusted root${namesake ? " (it has a trusted root's name but not its key: another PKI, e.g. a simulator's)" : ""}`,
      );
    }
    if (!signedBy(ca, anchor.cert, anchor.key))
      throw fail(`has a CA certificate "${commonName(ca.subject)}" the root did not sign`);
    if (!signedBy(leaf, ca, keyOf(ca)))
      throw fail(`has a PCK certificate its CA "${commonName(ca.subject)}" did not sign`);
    if (this.#goodChains.size >= 4096) this.#goodChains.clear();
    this.#goodChains.add(chainKey);
  }

  /** The issuer chain of an artifact: exactly a signer and a trust anchor that signed it. */
  #issuerChain(a: Artifact, field: string): { signer: Certificate; signerKey: KeyObject } {
    if (a.issuerChain === null) throw rejected(`${a.key} has no issuer chain`, field);
    let certs: Certificate[];
    try {
      certs = pemToDers(a.issuerChain, field).map((d) => parseCertificate(d));
    } catch (e) {
      throw rejected(`the issuer chain of ${a.key} is not two certificates: ${(e as Error).message}`, field);
    }
    if (certs.length !== 2)
      throw rejected(`the issuer chain of ${a.key} holds ${certs.length} certificates, not 2`, field);
    const rootIndex = certs.findIndex((c) => this.#anchors.has(latin1(c.der)));
    if (rootIndex < 0)
      throw rejected(
        `the issuer chain of ${a.key} does not contain a trusted root (it has "${certs.map((c) => formatName(c.subject)).join('", "')}")`,
        field,
        { expected: this.subjects },
      );
    const anchor = this.#anchors.get(latin1(certs[rootIndex]!.der))!;
    const signer = certs[1 - rootIndex]!;
    if (!signedBy(signer, anchor.cert, anchor.key))
      throw rejected(
        `the signer of ${a.key}, "${commonName(signer.subject)}", is not signed by the root`,
        field,
      );
    return { signer, signerKey: keyOf(signer) };
  }

  #checkSignedJson(a: Artifact, what: "tcbInfo" | "qeIdentity", body: string, signatureHex: string): void {
    const { signer, signerKey } = this.#issuerChain(a, `${what}.issuerChain`);
    const signature = new Uint8Array(Buffer.from(signatureHex, "hex"));
    // Over the exact signed text; the verifier also accepts the compact form of it, and so does this.
    const ok =
      verifyRawP256(signerKey, Buffer.from(body, "utf8"), signature) ||
      verifyRawP256(signerKey, Buffer.from(JSON.stringify(JSON.parse(body)), "utf8"), signature);
    if (!ok)
      throw rejected(
        `the ${what} signature does not verify with the key of "${commonName(signer.subject)}"`,
        `${what}.signature`,
      );
  }

  #checkCrl(body: string, field: string, issuer: Certificate, issuerKey: KeyObject): void {
    const crl = parseCrl(readCrl(body, field).der);
    if (!bytesEqual(crl.issuerRaw, issuer.subjectRaw))
      throw rejected(
        `the ${field} is issued by "${formatName(crl.issuer)}", not by "${formatName(issuer.subject)}"`,
        `${field}.issuer`,
      );
    if (crl.signatureAlgorithm !== OID_ECDSA_SHA256 || !verifyDerEcdsa(issuerKey, crl.tbs, crl.signature))
      throw rejected(`the ${field} signature does not verify with its issuer's key`, `${field}.signature`);
  }
}
