/**
 * The evidence pipeline: TDX evidence in (a quote with its event log), parsed once, verified with the
 * DCAP verifier against collateral from a provider it is handed, the event log replayed, init-data
 * bound to MRCONFIGID, appraised with src/policy; typed results out for the claims. Azure TDX
 * confidential VMs' az-tdx-vtpm evidence goes the same way (az-tdx-vtpm.ts), dispatched by tee (tee.ts).
 */

export type { CollateralProvider } from "../collateral/provider.js";
export type { VerificationResult } from "../verify/index.js";
export {
  appraisalPolicyCache,
  appraiseEvidence,
  DEFAULT_ATTESTATION_POLICY_TEXT,
  PolicyCache,
} from "./appraise.js";
export {
  type AttestedAzTdxVtpmEvidence,
  AZ_TDX_VTPM_TEE,
  type AzTdxVtpmEvidenceIn,
  azTdxVtpmEvidenceSha256,
  verifyAzTdxVtpmEvidence,
} from "./az-tdx-vtpm.js";
export { type EventLogOutcome, replayEvidenceLog } from "./eventlog.js";
export { type ParsedTdxEvidence, parseTdxEvidence, type TdxEvidence } from "./evidence.js";
export {
  checkInitDataBinding,
  INIT_DATA_ALGORITHMS,
  type InitData,
  type InitDataAlgorithm,
  initDataMrConfigId,
  readInitData,
} from "./init-data.js";
export {
  type AttestedTeeEvidence,
  isSupportedTee,
  SUPPORTED_TEES,
  type SupportedTee,
  TEE_DESCRIPTIONS,
  type TeeEvidence,
  verifierSupports,
  verifyTeeEvidence,
} from "./tee.js";
export { parseInitDataToml, type TomlTable } from "./toml.js";
export { type AttestedTdxEvidence, type EvidenceVerifier, TdxEvidenceVerifier } from "./verifier.js";
