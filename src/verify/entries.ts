import type { CryptoBackend, P256Key } from "../crypto/backend.js";
import type { PckExtensions } from "../crypto/pck.js";
import {
  type Certificate,
  type Crl,
  formatName,
  type NameAttribute,
  OID_EC_PUBLIC_KEY,
  OID_P256,
  qvlNamesEqual,
} from "../crypto/x509.js";
import { bytesEqual } from "./bytes.js";

/** Parsed certificates and CRLs as the verifier keeps them (with what it learned about them). */

export interface CertEntry {
  id: number;
  cert: Certificate;
  /** The imported public key, once a signature needed it. */
  key?: P256Key;
  /** The SGX extension, once parsed (PCK certificates). */
  pck?: PckExtensions;
  /** formatName(subject), computed once. */
  subjectText?: string;
}

export interface CrlEntry {
  id: number;
  crl: Crl;
}

/** The certificate's subject as text ("CN=..., O=..."). */
export function subjectOf(e: CertEntry): string {
  e.subjectText ??= formatName(e.cert.subject);
  return e.subjectText;
}

/** The subject of a certificate nobody verified (its names may not even decode). */
export function describeUnverified(e: CertEntry): string {
  try {
    return subjectOf(e);
  } catch {
    return "(a certificate whose subject does not decode)";
  }
}

export function isP256(cert: Certificate): boolean {
  return (
    cert.publicKeyAlgorithm === OID_EC_PUBLIC_KEY && cert.curve === OID_P256 && cert.publicKey.length === 65
  );
}

/** The certificate's public key, imported once. */
export function keyOf(entry: CertEntry, crypto: CryptoBackend): P256Key {
  entry.key ??= crypto.p256Key(entry.cert.publicKey, "subjectPublicKeyInfo");
  return entry.key;
}

/** QVL's self-issued test (DistinguishedName::operator== of issuer and subject). */
export function selfIssued(e: CertEntry): boolean {
  return qvlNamesEqual(
    e.cert.issuerRaw,
    () => e.cert.issuer,
    e.cert.subjectRaw,
    () => e.cert.subject,
  );
}

/** QVL's root of a chain: the last self-issued certificate (CertVerification/CertificateChain.cpp parse). */
export function rootOf(chain: CertEntry[]): CertEntry | undefined {
  let root: CertEntry | undefined;
  for (const e of chain) if (selfIssued(e)) root = e;
  return root;
}

/** QVL's issuer == subject test (X509/DistinguishedName.cpp operator==: CN, C, O, L, ST). */
export function issuedBy(subject: CertEntry, issuer: CertEntry): boolean {
  return qvlNamesEqual(
    subject.cert.issuerRaw,
    (): NameAttribute[] => subject.cert.issuer,
    issuer.cert.subjectRaw,
    () => issuer.cert.subject,
  );
}

/**
 * QVL PckCrlVerifier::verify's issuer test: the CRL issuer's printed name (X509_NAME_print_ex, RFC 2253)
 * and its CN, C, O, L, ST equal the certificate subject's. Equal printed names have equal attributes.
 */
export function crlIssuedBy(crl: Crl, issuer: CertEntry): boolean {
  return (
    bytesEqual(crl.issuerRaw, issuer.cert.subjectRaw) ||
    formatName(crl.issuer) === formatName(issuer.cert.subject)
  );
}
