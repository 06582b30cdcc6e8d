/**
 * Verification of Azure TDX confidential VM evidence (`az-tdx-vtpm`, as Trustee names it): the chain
 * Intel root -> TD quote -> SHA-256(HCL var data) in REPORTDATA -> vTPM attestation key (AK) in the var data ->
 * TPM2_Quote signed by the AK -> nonce and PCRs. Every step is a named check in the result, with the TD quote's
 * own DCAP checks under `tdQuote.`; each failure has its own error code.
 *
 * Trustee's steps (confidential-containers/trustee `deps/verifier/src/az_tdx_vtpm/mod.rs` `evaluate`, helpers
 * in `az_snp_vtpm/mod.rs`; the TPM checks in kinvolk/azure-cvm-tooling `az-cvm-vtpm/src/vtpm/verify.rs`), plus
 * stricter checks where Trustee is lax (see docs/verify.md "az-tdx-vtpm evidence"): the HCL report type must be
 * TDX and its hash type SHA-256, the HCL report's TD report must equal the quote's body and its two SHA-384
 * hashes must hold, the AK must be RSA of at least 2048 bits, the TPMS_ATTEST must carry TPM_GENERATED_VALUE and
 * be a quote, the PCR selection must match the PCRs supplied, v2 evidence must carry `user-data`, and
 * `minVersion` can refuse v0/v1 evidence (the nonce is then bound through the TD quote too).
 *
 * Pure like the quote verifier: (evidence, collateral, trust anchors, now, nonce) in, a result out. It calls only
 * the public `verify` / `verifyAsync` of a `Verifier` (or `verifyQuote` / `verifyQuoteAsync`). Hashes and the RSA
 * check go through the verifier's crypto backend (src/crypto/backend.ts), so it runs on any runtime.
 *
 * Files: this one (entry points), az-tdx-vtpm-run.ts (options, result, run), az-tdx-vtpm-evidence.ts (steps
 * 1-6: evidence, HCL report, TD quote, var data, AK), az-tdx-vtpm-tpm.ts (steps 7-13: the TPM quote).
 */
import type { AzTdxVtpmEvidence } from "../abi/az-evidence.js";
import { bytesEqual } from "../abi/bytes.js";
import { type HclJwk, parseHclReport, parseHclVarData } from "../abi/hcl.js";
import type { Collateral } from "../collateral/types.js";
import { cryptoBackend } from "../crypto/backend.js";
import { type RsaJwk, rsaJwkParts } from "../crypto/rsa-jwk.js";
import { evidenceChecks } from "./az-tdx-vtpm-evidence.js";
import {
  type AzTdxVtpmEvidenceInput,
  type AzTdxVtpmOptions,
  type AzTdxVtpmResult,
  type Backend,
  emptyResult,
  Run,
  Stop,
  seconds,
  toEvidence,
} from "./az-tdx-vtpm-run.js";
import { tpmChecks } from "./az-tdx-vtpm-tpm.js";
import { verifyQuote, verifyQuoteAsync } from "./verifier.js";

export {
  AZ_INIT_DATA_PCR,
  AZ_MIN_AK_BITS,
  AZ_TDX_VTPM_TEE,
  type AzPcr,
  type AzTdxVtpmEvidenceInput,
  type AzTdxVtpmOptions,
  type AzTdxVtpmResult,
} from "./az-tdx-vtpm-run.js";

function evaluate(
  input: AzTdxVtpmEvidenceInput,
  options: AzTdxVtpmOptions,
  backend: Backend,
): AzTdxVtpmResult {
  const at = options?.now === undefined ? Number.NaN : seconds(options.now);
  const result = emptyResult(Number.isFinite(at) ? at : 0);
  const run = new Run();
  try {
    if (!Number.isFinite(at)) {
      run.fail(
        "options.now",
        "VERIFY_TIME_INVALID",
        "no valid verification time (`now`) was given",
        "pass now as unix seconds or a Date: verification never reads the clock",
      );
    }
    tpmChecks(run, result, options, backend, evidenceChecks(run, result, input, options, backend));
    result.ok = true;
  } catch (e) {
    result.ok = false;
    if (e instanceof Stop) result.error = e.error;
    else {
      // Never a crash for bad input: anything unforeseen becomes a failed check (VERIFY_INTERNAL unless typed).
      try {
        run.failWith("internal", e);
      } catch (stop) {
        result.error = (stop as Stop).error;
      }
    }
  }
  result.checks = run.checks;
  return result;
}

function syncBackend(collateral: Collateral, options: AzTdxVtpmOptions): Backend {
  const crypto = options.verifier?.crypto ?? cryptoBackend();
  return {
    crypto,
    dcap: (quote) => {
      const opts = { now: options.now };
      if (options.verifier) return options.verifier.verify(quote, collateral, opts);
      return verifyQuote(
        quote,
        collateral,
        options.trustAnchors ? { ...opts, trustAnchors: options.trustAnchors } : opts,
      );
    },
    rsa: (jwk, message, signature) => crypto.verifyRsa(jwk, message, signature),
  };
}

/**
 * Verify az-tdx-vtpm evidence (Trustee's JSON v0/v1/v2, or parsed) against the TD quote's collateral at `now`,
 * with the expected `nonce`. Never throws for bad input: the result says what failed (`error`, the last check).
 */
export function verifyAzTdxVtpm(
  evidence: AzTdxVtpmEvidenceInput,
  collateral: Collateral,
  options: AzTdxVtpmOptions,
): AzTdxVtpmResult {
  return evaluate(evidence, options, syncBackend(collateral, options ?? ({} as AzTdxVtpmOptions)));
}

/**
 * `verifyAzTdxVtpm` with the TD quote verified by `verifyAsync` (signatures on the thread pool or WebCrypto) and the TPM
 * quote signature by WebCrypto, both started before the checks run. The same checks, codes and result.
 */
export async function verifyAzTdxVtpmAsync(
  evidence: AzTdxVtpmEvidenceInput,
  collateral: Collateral,
  options: AzTdxVtpmOptions,
): Promise<AzTdxVtpmResult> {
  const o = options ?? ({} as AzTdxVtpmOptions);
  const sync = syncBackend(collateral, o);
  let ev: AzTdxVtpmEvidence;
  try {
    ev = toEvidence(evidence);
  } catch {
    return evaluate(evidence, options, sync); // fails at evidence.parse
  }
  const now = { now: o.now };
  const dcapP = o.verifier
    ? o.verifier.verifyAsync(ev.tdQuote, collateral, now)
    : verifyQuoteAsync(
        ev.tdQuote,
        collateral,
        o.trustAnchors ? { ...now, trustAnchors: o.trustAnchors } : now,
      );
  // Private copies: the outcome must be about the bytes the checks see at the end, whatever the caller does.
  const message = ev.tpmQuote.message.slice();
  const signature = ev.tpmQuote.signature.slice();
  let rsaP: Promise<boolean> | null = null;
  let akSeen: HclJwk | null = null;
  try {
    const ak = parseHclVarData(parseHclReport(ev.hclReport).variableData).akPub;
    if (ak) {
      rsaJwkParts(ak);
      akSeen = { n: ak.n, e: ak.e };
      rsaP = sync.crypto.verifyRsaAsync(ak as RsaJwk, message, signature);
    }
  } catch {
    // The checks report it, in their order.
  }
  const [dcap, rsa] = await Promise.all([dcapP, rsaP]);
  return evaluate(ev, options, {
    crypto: sync.crypto,
    dcap: () => dcap,
    // The outcome computed beforehand answers only for the key and bytes it was computed on.
    rsa: (jwk, m, sig) =>
      rsa !== null &&
      akSeen !== null &&
      jwk.n === akSeen.n &&
      jwk.e === akSeen.e &&
      bytesEqual(m, message) &&
      bytesEqual(sig, signature)
        ? rsa
        : sync.rsa(jwk, m, sig),
  });
}
