import {
  commonName,
  formatName,
  OID_AUTHORITY_KEY_ID,
  OID_CRL_NUMBER,
  OID_ECDSA_SHA256,
} from "../crypto/x509.js";
import type { ErrorCode } from "../errors.js";
import { iso } from "./bytes.js";
import type { CollateralMemo } from "./caches.js";
import type { StepContext } from "./context.js";
import { type CertEntry, type CrlEntry, crlIssuedBy, subjectOf } from "./entries.js";
import { HINT_FETCH, type Run } from "./run.js";

/**
 * Step 3, the CRLs and revocation (QVL `Verifiers/PckCrlVerifier.cpp`, `PckCertVerifier.cpp`,
 * `PckParser/CrlStore.cpp`): each CRL issued by the certificate that should issue it, with CRL Number and
 * AKI, signed by it, with a nextUpdate; its window feeds the expiry flag (outside it the CRL is expired
 * collateral, SGX_CRL_EXPIRED, never a failure); the certificates it covers are not on it.
 */

/** The Root CA CRL (`slot` "rootCrl", issued by the root) or the PCK CRL ("pckCrl", by the PCK's CA). */
export function checkCrl(
  ctx: StepContext,
  name: "rootCaCrl" | "pckCrl",
  memo: CollateralMemo,
  slot: "rootCrl" | "pckCrl",
  der: Uint8Array,
  issuer: CertEntry,
): CrlEntry {
  const run: Run = ctx.run;
  let entry = memo[slot];
  if (!entry) {
    try {
      entry = ctx.caches.crl(der);
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
  const sigOk = ctx.caches.verifiedBy(
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

/** The certificate is not on the CRL (Intel: SGX_INTERMEDIATE_CA_REVOKED, SGX_PCK_REVOKED, ...). */
export function notRevoked(run: Run, name: string, cert: CertEntry, crl: CrlEntry, code: ErrorCode): void {
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
