import type { CryptoBackend } from "../crypto/backend.js";
import { sha256Sync } from "../crypto/sha2.js";
import {
  type Certificate,
  formatName,
  OID_ECDSA_SHA256,
  parseCertificate,
  pemToDers,
  QVL_REQUIRED_CERT_EXTENSIONS,
} from "../crypto/x509.js";
import { TdxError } from "../errors.js";
import { bytesEqual, hex, latin1, newId } from "./bytes.js";
import { type CertEntry, isP256, keyOf } from "./entries.js";
import { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256 } from "./intel-root.js";

/**
 * Trust anchors: the roots a chain must end in, byte for byte. Intel's SGX Root CA unless the caller passes
 * others; each must be a self-signed ECDSA P-256 root with the extensions QVL requires of any certificate.
 */

/** A trust anchor: PEM text (one or more certificates) or DER bytes of a self-signed root. */
export type TrustAnchorInput = string | Uint8Array;

/** Trust anchors and their DER (latin1) index: a pure function of the anchors, shared by verifiers. */
export interface AnchorSet {
  list: CertEntry[];
  byDer: Map<string, CertEntry>;
}

/** The Intel root, parsed and self-signature-checked once per process (it is a constant of the library). */
let intelAnchors: AnchorSet | undefined;

/** The anchors for `inputs` (Intel's root when undefined); TRUST_ANCHOR_INVALID for a bad one. */
export function trustAnchorsFor(inputs: TrustAnchorInput[] | undefined, crypto: CryptoBackend): AnchorSet {
  if (inputs === undefined) {
    intelAnchors ??= anchorSet(prepareAnchors([INTEL_SGX_ROOT_CA_PEM], crypto));
    return intelAnchors;
  }
  return anchorSet(prepareAnchors(inputs, crypto));
}

/**
 * A root as a user can read it: whose it is and the SHA-256 of its DER. Intel's SGX Root CA is named as
 * Intel's; any other root says it is not Intel's, even when it carries Intel's subject name (the simulated
 * platform's root does), because only the fingerprint tells them apart.
 */
export function describeRoot(cert: Certificate): string {
  const r = trustRootOf(cert);
  return r.intel
    ? `${r.name} (sha256 ${r.sha256})`
    : `${r.name} (sha256 ${r.sha256}; not Intel's SGX Root CA)`;
}

/** A trusted root for machines (a server's start-up line, --json): what describeRoot says, in fields. */
export interface TrustRoot {
  /** "Intel's SGX Root CA" for Intel's, else the certificate's subject. */
  name: string;
  /** SHA-256 of the certificate's DER, lowercase hex: the only thing that tells two roots apart. */
  sha256: string;
  /** Whether it is Intel's SGX Root CA (by fingerprint, never by name). */
  intel: boolean;
}

export function trustRootOf(cert: Certificate): TrustRoot {
  const sha256 = hex(sha256Sync(cert.der));
  if (sha256 === INTEL_SGX_ROOT_CA_SHA256) return { name: "Intel's SGX Root CA", sha256, intel: true };
  return { name: formatName(cert.subject), sha256, intel: false };
}

/** Each anchor as trustRootOf gives it. */
export function trustRootsOf(anchors: AnchorSet): TrustRoot[] {
  return anchors.list.map((a) => trustRootOf(a.cert));
}

/** Each anchor as describeRoot shows it. */
export function describeAnchors(anchors: AnchorSet): string[] {
  return anchors.list.map((a) => describeRoot(a.cert));
}

/** The message and hint of UNTRUSTED_ROOT for a chain (`what`) ending in `root`. */
export function untrustedRootMessage(what: string, root: Certificate, anchors: AnchorSet): [string, string] {
  const trusted = describeAnchors(anchors).join("; ");
  return [
    `${what} ends in ${describeRoot(root)}, which is not a trusted root (trusted: ${trusted})`,
    "to trust this root, pass its certificate: `--trust-root FILE` on the command line, `trustAnchors` in the " +
      "library, `trustAnchors` in the broker's config (only Intel's SGX Root CA is trusted by default; a simulated " +
      "platform's root is its state's root-ca.pem)",
  ];
}

function anchorSet(list: CertEntry[]): AnchorSet {
  const byDer = new Map<string, CertEntry>();
  for (const a of list) byDer.set(latin1(a.cert.der), a);
  return { list, byDer };
}

const HINT = "pass each trust anchor as PEM text or DER bytes of a self-signed root CA certificate";

function prepareAnchors(inputs: TrustAnchorInput[], crypto: CryptoBackend): CertEntry[] {
  if (!Array.isArray(inputs))
    throw new TdxError("TRUST_ANCHOR_INVALID", `trustAnchors is ${typeof inputs}, not an array`, {
      field: "trustAnchors",
      hint: "pass trustAnchors as an array: [pemText] or [derBytes]",
    });
  const out: CertEntry[] = [];
  inputs.forEach((input: unknown, i) => {
    const field = `trustAnchors[${i}]`;
    let ders: Uint8Array[];
    try {
      if (typeof input !== "string" && !(input instanceof Uint8Array))
        throw new TypeError(`${input === null ? "null" : typeof input} is neither PEM text nor DER bytes`);
      ders = typeof input === "string" ? pemToDers(input, field) : [input];
    } catch (e) {
      throw new TdxError("TRUST_ANCHOR_INVALID", `${field} is not a PEM or DER certificate`, {
        field,
        hint: HINT,
        cause: e,
      });
    }
    for (const der of ders) out.push(anchorOf(der, field, crypto));
  });
  if (out.length === 0) {
    throw new TdxError("TRUST_ANCHOR_INVALID", "no trust anchor given", {
      field: "trustAnchors",
      hint: "omit trustAnchors to trust Intel's SGX Root CA, or pass at least one root certificate",
    });
  }
  return out;
}

function anchorOf(der: Uint8Array, field: string, crypto: CryptoBackend): CertEntry {
  let cert: Certificate;
  try {
    cert = parseCertificate(new Uint8Array(der));
  } catch (e) {
    throw new TdxError("TRUST_ANCHOR_INVALID", `${field} is not a valid X.509 certificate`, {
      field,
      hint: HINT,
      cause: e,
    });
  }
  const entry: CertEntry = { id: newId(), cert };
  const selfSigned =
    bytesEqual(cert.issuerRaw, cert.subjectRaw) &&
    isP256(cert) &&
    cert.signatureAlgorithm === OID_ECDSA_SHA256 &&
    crypto.verifyP256(keyOf(entry, crypto), cert.tbs, cert.signature, true);
  if (!selfSigned) {
    throw new TdxError("TRUST_ANCHOR_INVALID", `${field} is not a self-signed ECDSA P-256 root certificate`, {
      field,
      hint: "a trust anchor must be a root CA certificate that signs itself (e.g. Intel's SGX Root CA)",
      data: { subject: formatName(cert.subject) },
    });
  }
  // QVL parses the trusted root as any certificate (X509/Certificate.cpp): the standard extensions must be there.
  const missing = QVL_REQUIRED_CERT_EXTENSIONS.filter((oid) => !cert.extensions.has(oid));
  if (missing.length > 0) {
    throw new TdxError("TRUST_ANCHOR_INVALID", `${field} lacks the extensions ${missing.join(", ")}`, {
      field,
      hint: "a trust anchor must carry the extensions of Intel's SGX Root CA (authority and subject key ids, CRL distribution points, key usage, basic constraints), as Intel's QVL requires",
      data: { subject: formatName(cert.subject) },
    });
  }
  return entry;
}
