/**
 * The evidence pipeline: TDX evidence in (a quote with its event log), parsed once, verified with the
 * DCAP verifier against collateral from a provider it is handed, the event log replayed, init-data
 * bound to MRCONFIGID, appraised with src/policy; typed results out for the claims.
 */

export type { CollateralProvider } from "../collateral/provider.js";
export type { VerificationResult } from "../verify/index.js";
export {
  appraisalPolicyCache,
  appraiseEvidence,
  DEFAULT_ATTESTATION_POLICY_TEXT,
  PolicyCache,
} from "./appraise.js";
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
export { parseInitDataToml, type TomlTable } from "./toml.js";
export { type AttestedTdxEvidence, type EvidenceVerifier, TdxEvidenceVerifier } from "./verifier.js";
