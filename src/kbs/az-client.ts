import { AZ_TDX_VTPM_TEE } from "../attest/index.js";

/**
 * Something that makes az-tdx-vtpm evidence over report data (an Azure TDX confidential VM's guest provider, or the
 * simulated one): what `KbsClient.getResource` uses instead of a quote source on Azure, where the paravisor owns
 * REPORTDATA and the report data travels in the vTPM quote.
 */
export interface AzTdxVtpmEvidenceSource {
  tee: typeof AZ_TDX_VTPM_TEE;
  /** Trustee's evidence JSON text over `reportData` (used as is: the raw runtime-data digest, 32 to 64 bytes). */
  getAzTdxVtpmEvidence(reportData: Uint8Array): Promise<string>;
}

export function isAzTdxVtpmSource(source: unknown): source is AzTdxVtpmEvidenceSource {
  return (
    typeof source === "object" &&
    source !== null &&
    (source as { tee?: unknown }).tee === AZ_TDX_VTPM_TEE &&
    typeof (source as { getAzTdxVtpmEvidence?: unknown }).getAzTdxVtpmEvidence === "function"
  );
}

/**
 * The RCAR 0.4.0 Attestation message for az-tdx-vtpm evidence: `primary_evidence` is the evidence JSON object as
 * the attester wrote it (guest-components sends the attester's JSON as the primary evidence value), with
 * `init-data` when the TD was launched with one.
 */
export function azAttestationMessage(
  nonce: string,
  teePubkey: unknown,
  evidenceJson: string,
  initData?: string,
) {
  return {
    ...(initData !== undefined ? { "init-data": { format: "toml", body: initData } } : {}),
    "runtime-data": { nonce, "tee-pubkey": teePubkey },
    "tee-evidence": { primary_evidence: JSON.parse(evidenceJson) as unknown, additional_evidence: "" },
  };
}
