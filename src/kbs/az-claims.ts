import type { AttestedAzTdxVtpmEvidence, InitData } from "../attest/index.js";
import { AZ_INIT_DATA_PCR } from "../verify/index.js";
import { ANNOTATED_EVIDENCE, CPU_SUBMOD } from "./claims.js";

/** The key of the Azure-only claims in the annotated evidence (Trustee keys its claims by the tee name). */
export const AZ_CLAIMS_KEY = "az-tdx-vtpm";

/** Trustee's PCR claim name: `pcr` and the two-digit index (deps/verifier `extend_claim`: pcr00..pcr23). */
export function pcrClaimName(index: number): string {
  return `pcr${String(index).padStart(2, "0")}`;
}

/**
 * Add what az-tdx-vtpm evidence proves to token claims built from its TD quote (`buildTokenClaims`), in place.
 * The TD's own claims stay under `tdx` as for a bare TD (so `mr_td`, `debug`, `tcb_status`, ... mean the same on
 * Azure); the Azure ones go under `az-tdx-vtpm`:
 *
 * - `az-tdx-vtpm.tpm`: the SHA-256 PCRs the TPM quote covers, `pcr00`..`pcr23` → lowercase hex (Trustee's `tpm`
 *   claim, confidential-containers/trustee `deps/verifier/src/az_snp_vtpm/mod.rs` `extend_claim`);
 * - `az-tdx-vtpm.evidence_version`: 0, 1 or 2 (only 2 binds the report data through the TD quote too);
 * - `report_data`: the TPM quote's nonce, i.e. the raw runtime-data digest (Trustee: the top-level `report_data` of
 *   az-tdx-vtpm claims is the TPM nonce, not the TD quote's REPORTDATA, which stays in `tdx.quote.body`);
 * - `init_data`: without init-data, PCR 8 (Trustee's `init_data` for az-tdx-vtpm; MRCONFIGID belongs to the
 *   paravisor's TD here). With init-data it stays the document's digest.
 */
export function addAzTdxVtpmClaims(
  claims: Record<string, unknown>,
  attested: AttestedAzTdxVtpmEvidence,
  initData?: InitData,
): void {
  const submods = claims.submods as Record<string, Record<string, unknown>>;
  const annotated = submods[CPU_SUBMOD]![ANNOTATED_EVIDENCE] as Record<string, unknown>;
  const tpm: Record<string, string> = {};
  for (const p of attested.pcrs) if (p.bank === "sha256") tpm[pcrClaimName(p.index)] = p.value;
  annotated[AZ_CLAIMS_KEY] = { tpm, evidence_version: attested.evidenceVersion };
  if (attested.nonce !== null) annotated.report_data = attested.nonce;
  const pcr8 = tpm[pcrClaimName(AZ_INIT_DATA_PCR)];
  if (!initData && pcr8 !== undefined) annotated.init_data = pcr8;
}
