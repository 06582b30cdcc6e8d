import { CERT_TYPE_PCK_CERT_CHAIN, type Quote, TEE_TYPE_TDX } from "../abi/types.js";
import type { TdxModuleIdentity } from "../collateral/tcb-info.js";
import type { Collateral } from "../collateral/types.js";
import { type PckExtensions, pckCaType, pckExtensionsOf } from "../crypto/pck.js";
import { TdxError } from "../errors.js";
import { deepFreeze, hex, latin1, newId } from "./bytes.js";
import type { CollateralMemo, Prefix, Tail } from "./caches.js";
import type { StepContext } from "./context.js";
import { checkCrl, notRevoked } from "./crls.js";
import type { CertEntry } from "./entries.js";
import { verifyPckChain } from "./pck-chain.js";
import { checkQeIdentity } from "./qe-identity-check.js";
import {
  checkCollateralShape,
  checkQeReport,
  checkQuoteFormat,
  checkQuoteSignature,
  checkTcbInfoFor,
} from "./quote-checks.js";
import type { CollateralInfo, PlatformInfo, QeIdentityStatus, VerificationResult } from "./result.js";
import type { Run } from "./run.js";
import { sameCertificates, verifySignedCollateral } from "./signed-collateral.js";
import { checkTcbStatus } from "./tcb-level.js";
import { checkTdxModuleIdentity } from "./tdx-module.js";

/**
 * Intel's algorithm, step by step, in QVL's order (QVL `QuoteVerification.cpp`: PCK certificate chain,
 * TCB Info, QE Identity, then `Verifiers/QuoteVerifier.cpp` verify). Steps 2-4 depend only on (PCK chain,
 * collateral) and step 5 up to the quote signature only on (that, the quote's TCB fields, its QE part):
 * both are replayed from the verifier's caches, so a known platform costs the quote signature alone.
 */
export function runAlgorithm(
  ctx: StepContext,
  input: unknown,
  collateral: Collateral,
  result: VerificationResult,
): void {
  const run: Run = ctx.run;
  // 1. The quote's format.
  const { quote, qe, inner } = checkQuoteFormat(run, input);
  result.quote = quote;
  checkCollateralShape(run, collateral);
  const memo = ctx.caches.memo(collateral);

  // 2. The PCK certificate chain: in the quote (type 5) or in the collateral.
  let chain: CertEntry[];
  try {
    if (inner.type === CERT_TYPE_PCK_CERT_CHAIN) chain = ctx.caches.quoteChain(inner.data);
    else if (collateral.pckCertificateChain) {
      chain = ctx.caches.chain(collateral.pckCertificateChain, "collateral.pckCertificateChain");
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
    prefix = chainAndCollateral(ctx, chain, collateral, memo);
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

  // 5. Step 5 minus the quote signature: replayed for a known (platform TCB fields, QE part).
  const sd = quote.signatureData;
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
  const tail = ctx.caches.tails.get(tailKey);
  if (tail) {
    for (const c of tail.before) run.checks.push(c);
    Object.assign(result, tail.fieldsBefore);
    checkQuoteSignature(run, quote);
    for (const c of tail.after) run.checks.push(c);
    Object.assign(result, tail.fieldsAfter);
    return;
  }
  const firstBefore = run.checks.length;
  const { ext, moduleIdentity, qeStatus } = quoteChecks(ctx, quote, prefix, result);
  const before = run.checks.slice(firstBefore);
  checkQuoteSignature(run, quote);
  const firstAfter = run.checks.length;
  // 4.1.2.4.17: TCB level and status.
  checkTcbStatus(
    run,
    {
      teeType: quote.header.teeType === TEE_TYPE_TDX ? "TDX" : "SGX",
      quoteVersion: quote.header.version,
      bodyType: quote.body.type,
      teeTcbSvn: report?.teeTcbSvn ?? null,
      teeTcbSvn2: report?.teeTcbSvn2 ?? null,
    },
    ext.tcb,
    prefix.tcbInfo,
    moduleIdentity,
    qeStatus,
    result,
  );
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
  run.commit(() => ctx.caches.bounded(ctx.caches.tails).set(tailKey, verifiedTail));
}

/** Steps 2-4: PCK chain, CRLs and revocation, TCB Info and QE Identity (signing chain, format, signatures). */
function chainAndCollateral(
  ctx: StepContext,
  chain: CertEntry[],
  collateral: Collateral,
  memo: CollateralMemo,
): Prefix {
  const run: Run = ctx.run;
  // 2. QVL PckCertVerifier::verify.
  const { pck, intermediate, root } = verifyPckChain(ctx, chain);
  // 3. Root CA CRL (by the root) and PCK CRL (by the PCK's issuer), then revocation.
  const rootCrl = checkCrl(ctx, "rootCaCrl", memo, "rootCrl", collateral.rootCaCrl, root);
  const pckCrl = checkCrl(ctx, "pckCrl", memo, "pckCrl", collateral.pckCrl, intermediate);
  notRevoked(run, "revocation.intermediate", intermediate, rootCrl, "INTERMEDIATE_CA_REVOKED");
  notRevoked(run, "revocation.pck", pck, pckCrl, "PCK_REVOKED");
  // Intel checks the PCK CRL against the quote's PCK chain and never reads pck_crl_issuer_chain (QVL
  // QuoteVerification.cpp passes the PCK chain and the CRLs only); when it is given, say whether it agrees.
  if (collateral.pckCrlIssuerChain !== undefined) {
    sameCertificates(ctx, "pckCrlIssuerChain.matchesPckChain", collateral.pckCrlIssuerChain, [
      intermediate,
      root,
    ]);
  }
  // 4. TCB Info and QE Identity.
  const { tcbInfo, qeIdentity } = verifySignedCollateral(ctx, collateral, memo, rootCrl, root);
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
  return { id: newId(), pck, tcbInfo, qeIdentity, collateralInfo, checks: [], expiries: [] };
}

/** Step 5 up to the quote signature (QVL QuoteVerifier::verify 4.1.2.4.9-15). */
function quoteChecks(
  ctx: StepContext,
  quote: Quote,
  prefix: Prefix,
  result: VerificationResult,
): { ext: PckExtensions; moduleIdentity: TdxModuleIdentity | null; qeStatus: QeIdentityStatus } {
  const run: Run = ctx.run;
  const { pck, tcbInfo, qeIdentity } = prefix;
  const isTdx = quote.header.teeType === TEE_TYPE_TDX;
  const sd = quote.signatureData;
  const qe = sd.qeReportCertificationData!;
  let ext: PckExtensions;
  try {
    pck.pck ??= pckExtensionsOf(pck.cert);
    ext = pck.pck;
  } catch (e) {
    run.failWith("pck.extensions", e);
  }
  // Informational only: Intel's verification asks nothing of the PCK CA's name beyond what the chain
  // checks did (QVL PckCertVerifier, CertificateChain); "Platform"/"Processor" only picks a CRL to fetch.
  let caType: PlatformInfo["caType"];
  try {
    caType = pckCaType(pck.cert);
  } catch {
    caType = "unknown";
  }
  const report = quote.body.kind === "sgx" ? null : quote.body.report;
  result.platform = {
    teeType: isTdx ? "TDX" : "SGX",
    quoteVersion: quote.header.version,
    fmspc: ext.fmspc,
    pceId: ext.pceId,
    caType,
    sgxTcbComponents: ext.tcb.sgxTcbComponents,
    pceSvn: ext.tcb.pceSvn,
    cpuSvn: ext.tcb.cpuSvn,
    teeTcbSvn: report ? hex(report.teeTcbSvn) : null,
  };
  run.pass("pck.extensions", {
    actual: { fmspc: ext.fmspc, pceId: ext.pceId, pceSvn: ext.tcb.pceSvn, caType, sgxType: ext.sgxType },
  });
  // 4.1.2.4.9-10.
  checkTcbInfoFor(run, isTdx, tcbInfo, ext);
  // 4.1.2.4.11: TDX module identity (MRSIGNERSEAM, SEAMATTRIBUTES).
  let moduleIdentity: TdxModuleIdentity | null = null;
  if (isTdx && report) {
    moduleIdentity = checkTdxModuleIdentity(run, tcbInfo, {
      quoteVersion: quote.header.version,
      teeTcbSvn: report.teeTcbSvn,
      mrSignerSeam: report.mrSignerSeam,
      seamAttributes: report.seamAttributes,
    });
  }
  // 4.1.2.4.12-13: the QE report.
  checkQeReport(ctx, pck, qe, sd.attestationKey);
  // 4.1.2.4.14-15: QE identity.
  const { qeStatus, qeLevel } = checkQeIdentity(run, isTdx, qe.qeReportBytes, qe.qeReport.isvSvn, qeIdentity);
  result.qeIdentityStatus = qeStatus;
  result.qeIdentityLevel = qeLevel;
  return { ext, moduleIdentity, qeStatus };
}
