import { commonName, formatName, QVL_REQUIRED_CERT_EXTENSIONS } from "../crypto/x509.js";
import type { ErrorCode } from "../errors.js";
import { describeAnchors, describeRoot, untrustedRootMessage } from "./anchors.js";
import { latin1 } from "./bytes.js";
import type { StepContext } from "./context.js";
import { type CertEntry, issuedBy, rootOf, selfIssued, subjectOf } from "./entries.js";
import { HINT_FETCH, type Run } from "./run.js";

/**
 * Step 2, the PCK certificate chain (QVL `Verifiers/PckCertVerifier.cpp`,
 * `CertVerification/CertificateChain.cpp`): its three roles, the standard extensions, a trusted root, each
 * certificate issued and signed by the next. Also the building blocks the signing chains reuse.
 */

export interface PckChainRoles {
  pck: CertEntry;
  intermediate: CertEntry;
  root: CertEntry;
}

/**
 * The PCK chain's roles as QVL's CertificateChain finds them: the root is the last self-issued certificate
 * (its CN must contain "SGX Root CA"), the PCK certificate the last whose CN contains "SGX PCK Certificate",
 * the intermediate the first other, not self-issued, whose CN contains "CA"; exactly 3 certificates
 * (QuoteVerification.cpp EXPECTED_CERTIFICATE_COUNT_IN_PCK_CHAIN), in any order. Null when they are not all
 * there.
 */
export function pckChainRoles(chain: CertEntry[]): PckChainRoles | null {
  if (chain.length !== 3) return null;
  const cns = chain.map((c) => commonName(c.cert.subject));
  const root = rootOf(chain);
  let pck: CertEntry | undefined;
  for (let i = 0; i < chain.length; i++) if (cns[i]!.includes("SGX PCK Certificate")) pck = chain[i];
  const intermediate = chain.find((c, i) => !selfIssued(c) && c !== pck && cns[i]!.includes("CA"));
  if (!root || !commonName(root.cert.subject).includes("SGX Root CA") || !intermediate || !pck) return null;
  return { pck, intermediate, root };
}

/** Step 2: roles, extensions, trusted root, signatures; the chain's notAfter dates feed the expiry flag. */
export function verifyPckChain(ctx: StepContext, chain: CertEntry[]): PckChainRoles {
  const run: Run = ctx.run;
  const roles = pckChainRoles(chain);
  if (!roles) {
    const cns = chain.map((c) => commonName(c.cert.subject));
    run.fail(
      "pckChain.parse",
      "PCK_CHAIN_INCOMPLETE",
      `the PCK certificate chain must be PCK certificate, PCK CA and SGX Root CA; found: ${cns.join(" | ")}`,
      "the quote's certification data must carry the full chain (type 5: PCK || Platform/Processor CA || Root CA)",
      { expected: ["SGX PCK Certificate", "SGX PCK Platform/Processor CA", "SGX Root CA"], actual: cns },
    );
  }
  requiredExtensions(run, "pckChain.parse", chain);
  run.pass("pckChain.parse", { actual: chain.map((c) => commonName(c.cert.subject)) });
  const trusted = trustedRoot(ctx, "pckChain.root", roles.root);
  signedBy(ctx, "pckChain.intermediate", roles.intermediate, trusted, "PCK_CHAIN_INVALID_SIGNATURE");
  signedBy(ctx, "pckChain.pck", roles.pck, roles.intermediate, "PCK_CHAIN_INVALID_SIGNATURE");
  // Only notAfter counts (PckCertVerifier: `expirationDate > getNotAfterTime()`); notBefore is not checked.
  run.expires("pckChain.pck.notAfter", roles.pck.cert.notAfter);
  run.expires("pckChain.intermediate.notAfter", roles.intermediate.cert.notAfter);
  run.expires("pckChain.root.notAfter", trusted.cert.notAfter);
  return { ...roles, root: trusted };
}

/** QVL's x509::Certificate refuses a certificate without the standard extensions Intel's PKI carries. */
export function requiredExtensions(run: Run, name: string, chain: CertEntry[]): void {
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

/**
 * The anchor identical to `root`, byte for byte: the root inside the quote or collateral is never trusted
 * itself. (QVL compares the root's signature bytes with the trusted root's: for a root that verifies its
 * own signature this is the same test, and comparing the whole certificate leaves no doubt.)
 */
export function anchorFor(ctx: StepContext, root: CertEntry): CertEntry | undefined {
  return ctx.anchors.byDer.get(latin1(root.cert.der));
}

export function trustedRoot(ctx: StepContext, name: string, root: CertEntry): CertEntry {
  const anchor = anchorFor(ctx, root);
  if (!anchor) {
    const [message, hint] = untrustedRootMessage("the PCK chain", root.cert, ctx.anchors);
    ctx.run.fail(name, "UNTRUSTED_ROOT", message, hint, {
      expected: describeAnchors(ctx.anchors),
      actual: describeRoot(root.cert),
    });
  }
  ctx.run.pass(name, { actual: subjectOf(anchor), detail: "identical to a trust anchor" });
  return anchor;
}

/** `subject` names `issuer` as its issuer (QVL's name equality) and carries its signature. */
export function signedBy(
  ctx: StepContext,
  name: string,
  subject: CertEntry,
  issuer: CertEntry,
  code: ErrorCode,
): void {
  const run: Run = ctx.run;
  if (!issuedBy(subject, issuer)) {
    run.fail(name, code, `"${subjectOf(subject)}" is not issued by "${subjectOf(issuer)}"`, HINT_FETCH, {
      expected: subjectOf(issuer),
      actual: formatName(subject.cert.issuer),
    });
  }
  if (!ctx.caches.certSignedBy(run, subject, issuer)) {
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
