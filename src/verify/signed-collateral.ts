import { type QeIdentity, readSignedQeIdentity } from "../collateral/qe-identity.js";
import { readSignedTcbInfo, type SignedJson, type TcbInfo } from "../collateral/tcb-info.js";
import type { Collateral } from "../collateral/types.js";
import { commonName } from "../crypto/x509.js";
import { isTdxError } from "../errors.js";
import { describeAnchors, describeRoot, untrustedRootMessage } from "./anchors.js";
import { bytesEqual, copy, newId, utf8 } from "./bytes.js";
import type { CollateralMemo, Memo } from "./caches.js";
import type { StepContext } from "./context.js";
import { notRevoked } from "./crls.js";
import {
  type CertEntry,
  type CrlEntry,
  crlIssuedBy,
  describeUnverified,
  rootOf,
  subjectOf,
} from "./entries.js";
import { anchorFor, requiredExtensions, signedBy } from "./pck-chain.js";
import { HINT_FETCH, type Run } from "./run.js";

/**
 * Step 4, the signed collateral (QVL `QuoteVerification.cpp` sgxAttestationVerifyTCBInfo /
 * sgxAttestationVerifyEnclaveIdentity, `Verifiers/TCBInfoVerifier.cpp`, `EnclaveIdentityVerifier.cpp`,
 * `TCBSigningChain.cpp`): each of TCB Info and QE Identity is parsed (QVL's parser rules), its signing
 * chain verified, and its signature checked over QVL's compact re-serialisation of what was parsed. Both
 * are checked with the TCB Info issuer chain; `qe_identity_issuer_chain` and `pck_crl_issuer_chain`, which
 * Intel does not read, are only compared with the chains Intel uses.
 */

export interface SignedCollateral {
  tcbInfo: TcbInfo;
  qeIdentity: QeIdentity;
}

/** Step 4 for one collateral object (memo: what was parsed of it), given the verified Root CA CRL. */
export function verifySignedCollateral(
  ctx: StepContext,
  collateral: Collateral,
  memo: CollateralMemo,
  rootCrl: CrlEntry,
  /** The trust anchor the PCK chain ended in: the one trusted root of this verification. */
  pckRoot: CertEntry,
): SignedCollateral {
  const run: Run = ctx.run;
  let signer: CertEntry | undefined;
  const tcbInfo = signedText(ctx, "tcbInfo", collateral.tcbInfo, collateral.tcbInfoSignature, memo, () => {
    memo.tcbChain ??= collateralChain(ctx, "tcbInfo.issuerChain", collateral.tcbInfoIssuerChain);
    signer = tcbSigningChain(ctx, "tcbInfo.issuerChain", memo.tcbChain, rootCrl, pckRoot);
    return signer;
  }).value;
  run.expires("tcbInfo.nextUpdate", tcbInfo.nextUpdate);
  const qe = collateral.qeIdentity;
  const qeIdentity = signedText(ctx, "qeIdentity", qe, collateral.qeIdentitySignature, memo, () => {
    // EnclaveIdentityVerifier repeats TCBSigningChain::verify over the same chain: the same checks.
    if (collateral.qeIdentityIssuerChain !== undefined) {
      sameCertificates(
        ctx,
        "qeIdentity.issuerChain.matchesTcbChain",
        collateral.qeIdentityIssuerChain,
        memo.tcbChain!,
      );
    }
    return signer!;
  }).value;
  run.expires("qeIdentity.nextUpdate", qeIdentity.nextUpdate);
  return { tcbInfo, qeIdentity };
}

function collateralChain(ctx: StepContext, name: string, pem: string): CertEntry[] {
  try {
    return ctx.caches.chain(pem, `collateral.${name}`);
  } catch (e) {
    ctx.run.failWith(name, e);
  }
}

/**
 * An issuer chain Intel does not use (pck_crl_issuer_chain, qe_identity_issuer_chain), compared with the
 * certificates Intel uses instead: a non-fatal check that says whether they are the same certificates.
 */
export function sameCertificates(ctx: StepContext, name: string, pem: string, used: CertEntry[]): void {
  const run: Run = ctx.run;
  let given: CertEntry[];
  try {
    given = ctx.caches.chain(pem, name);
  } catch (e) {
    run.note(name, {
      detail: `unusable (${isTdxError(e) ? e.message : String(e)}); Intel does not read it, so it is not used`,
    });
    return;
  }
  const same =
    given.length === used.length &&
    used.every((u) => given.some((g) => bytesEqual(g.cert.der, u.cert.der))) &&
    given.every((g) => used.some((u) => bytesEqual(g.cert.der, u.cert.der)));
  if (same) {
    run.pass(name, { actual: given.map(subjectOf), detail: "the same certificates as the chain Intel uses" });
  } else {
    run.note(name, {
      expected: used.map(subjectOf),
      actual: given.map(describeUnverified),
      detail: "differs from the chain Intel uses for this step; Intel does not read it, so it is not used",
    });
  }
}

/**
 * QVL TCBSigningChain::verify over a TCB Info issuer chain: exactly 2 certificates (QuoteVerification.cpp
 * EXPECTED_CERTIFICATE_COUNT_IN_TCB_CHAIN) in any order; the root (last self-issued) names "SGX Root CA"
 * and is the verification's trusted root, the other one ("topmost") names "SGX TCB Signing", is signed by
 * the root and not on the Root CA CRL. Returns the TCB Signing certificate.
 *
 * Intel verifies with ONE trusted root: the QvE hands the PCK chain's root to the TCB Info and QE Identity
 * checks, and TCBSigningChain::verify requires the chain's root to be that root (else
 * STATUS_SGX_TCB_SIGNING_CERT_CHAIN_UNTRUSTED) and checks the Root CA CRL against it. With several trust
 * anchors configured, the TCB Signing chain must therefore end in the anchor the PCK chain ended in.
 */
export function tcbSigningChain(
  ctx: StepContext,
  name: string,
  chain: CertEntry[],
  rootCrl: CrlEntry,
  pckRoot: CertEntry,
): CertEntry {
  const run: Run = ctx.run;
  const root = rootOf(chain);
  const leaf = chain.find((e) => e !== root);
  if (chain.length !== 2 || !root || !leaf) {
    run.fail(
      name,
      "ISSUER_CHAIN_INVALID",
      `the ${name} must hold 2 certificates (TCB Signing, root), got ${chain.length}`,
      HINT_FETCH,
      {
        expected: 2,
        actual: chain.length,
      },
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
  requiredExtensions(run, name, chain);
  const anchor = anchorFor(ctx, root);
  if (!anchor) {
    const [message, hint] = untrustedRootMessage(`the ${name}`, root.cert, ctx.anchors);
    run.fail(name, "UNTRUSTED_ROOT", message, hint, {
      expected: describeAnchors(ctx.anchors),
      actual: describeRoot(root.cert),
    });
  }
  if (!bytesEqual(anchor.cert.der, pckRoot.cert.der)) {
    run.fail(
      name,
      "UNTRUSTED_ROOT",
      `the ${name} ends in ${describeRoot(anchor.cert)}, the PCK chain in ${describeRoot(pckRoot.cert)}: Intel verifies with one trusted root`,
      "take the TCB Info and QE Identity from the same PKI as the quote's PCK chain (the same collateral service)",
      { expected: describeRoot(pckRoot.cert), actual: describeRoot(anchor.cert) },
    );
  }
  if (!crlIssuedBy(rootCrl.crl, anchor)) {
    run.fail(name, "CRL_UNKNOWN_ISSUER", `the Root CA CRL is not issued by the ${name} root`, HINT_FETCH);
  }
  signedBy(ctx, `${name}.signer`, leaf, anchor, "ISSUER_CHAIN_INVALID_SIGNATURE");
  notRevoked(run, `revocation.${name}`, leaf, rootCrl, "TCB_SIGNING_CERT_REVOKED");
  run.expires(`${name}.signer.notAfter`, leaf.cert.notAfter);
  run.expires(`${name}.root.notAfter`, anchor.cert.notAfter);
  return leaf;
}

type ModelOf<K> = K extends "tcbInfo" ? TcbInfo : QeIdentity;

/**
 * A signed JSON text (TCB Info / QE Identity) as QVL handles it: parse (first of duplicate members,
 * QVL's field rules), then the signing chain (`signer`), then the ECDSA signature over QVL's compact
 * re-serialisation of what was parsed. The parse is kept in the verifier's cache and in the collateral's
 * memo once the run is confirmed (see `Run.commit`); the values are used only once the signature holds.
 */
export function signedText<K extends "tcbInfo" | "qeIdentity">(
  ctx: StepContext,
  name: K,
  text: string,
  signature: Uint8Array,
  memo: CollateralMemo,
  signer: () => CertEntry,
): Memo<ModelOf<K>> {
  const run: Run = ctx.run;
  const caches = ctx.caches;
  let m = memo[name] as Memo<ModelOf<K>> | undefined;
  if (!m) {
    const cache = (name === "tcbInfo" ? caches.tcbInfos : caches.qeIdentities) as Map<
      string,
      Memo<ModelOf<K>>
    >;
    const known = cache.get(text);
    if (known) m = known;
    else {
      try {
        const read = (
          name === "tcbInfo" ? readSignedTcbInfo(text) : readSignedQeIdentity(text)
        ) as SignedJson<ModelOf<K>>;
        m = { id: newId(), value: read.value, message: utf8(read.signedMessage) };
      } catch (e) {
        run.failWith(`${name}.parse`, e);
      }
    }
    const parsed = m;
    run.commit(() => {
      if (!known) caches.bounded(cache).set(text, parsed);
      (memo as unknown as Record<K, Memo<ModelOf<K>>>)[name] = parsed;
    });
  }
  run.pass(`${name}.parse`);
  const key = signer();
  const known = caches.signedTexts.get(text);
  let ok = known?.some((k) => k.signerId === key.id && bytesEqual(k.signature, signature)) ?? false;
  if (!ok && run.crypto.verify({ src: { entry: key }, message: m.message, signature, der: false })) {
    ok = true;
    const own = { signature: copy(signature), signerId: key.id };
    run.commit(() => {
      let list = caches.signedTexts.get(text);
      if (!list) {
        list = [];
        caches.bounded(caches.signedTexts).set(text, list);
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
