import { TdxError } from "../errors.js";
import { type AttestedAzTdxVtpmEvidence, AZ_TDX_VTPM_TEE, type AzTdxVtpmEvidenceIn } from "./az-tdx-vtpm.js";
import type { TdxEvidence } from "./evidence.js";
import type { AttestedTdxEvidence, EvidenceVerifier } from "./verifier.js";

/** The TEEs the pipeline verifies, by their KBS protocol names (kbs-types `Tee`). */
export const SUPPORTED_TEES = ["tdx", AZ_TDX_VTPM_TEE] as const;
export type SupportedTee = (typeof SUPPORTED_TEES)[number];

/** Evidence of any TEE the pipeline verifies, tagged by `tee`. */
export type TeeEvidence = TdxEvidence | AzTdxVtpmEvidenceIn;
/** Verified evidence of any TEE, tagged by `tee`: the TD's quote, report and verification result in both. */
export type AttestedTeeEvidence = AttestedTdxEvidence | AttestedAzTdxVtpmEvidence;

/** What each TEE is, for messages. */
export const TEE_DESCRIPTIONS: Record<SupportedTee, string> = {
  tdx: "Intel TDX guests",
  [AZ_TDX_VTPM_TEE]: "Azure TDX confidential VMs",
};

export function isSupportedTee(tee: unknown): tee is SupportedTee {
  return (SUPPORTED_TEES as readonly unknown[]).includes(tee);
}

/** Whether `verifier` can verify evidence of `tee` (a stand-in verifier may know TDX only). */
export function verifierSupports(verifier: EvidenceVerifier, tee: SupportedTee): boolean {
  return tee === "tdx" || typeof verifier.verifyAzTdxVtpm === "function";
}

/** The one place evidence goes to its TEE's verifier. */
export function verifyTeeEvidence(
  verifier: EvidenceVerifier,
  evidence: TeeEvidence,
  now: Date,
): Promise<AttestedTeeEvidence> {
  if (evidence.tee === AZ_TDX_VTPM_TEE) {
    if (!verifier.verifyAzTdxVtpm)
      return Promise.reject(
        new TdxError(
          "ATTEST_TEE_UNSUPPORTED",
          "this evidence verifier does not verify az-tdx-vtpm evidence",
          {
            field: "tee",
            hint: "use TdxEvidenceVerifier, which verifies tdx and az-tdx-vtpm evidence",
          },
        ),
      );
    return verifier.verifyAzTdxVtpm(evidence, now);
  }
  return verifier.verify(evidence, now);
}
