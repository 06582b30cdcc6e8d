/** DCAP quote verification with Intel QVL's verdicts, explained step by step. */

export {
  AZ_INIT_DATA_PCR,
  AZ_MIN_AK_BITS,
  AZ_TDX_VTPM_TEE,
  type AzPcr,
  type AzTdxVtpmEvidenceInput,
  type AzTdxVtpmOptions,
  type AzTdxVtpmResult,
  verifyAzTdxVtpm,
  verifyAzTdxVtpmAsync,
} from "./az-tdx-vtpm.js";
export type {
  QeIdentity,
  QeTcbLevel,
  TcbInfo,
  TcbLevel,
  TcbLevelStatus,
  TdxModuleIdentity,
  TdxModuleTcbLevel,
} from "./collateral-json.js";
export { parseQeIdentity, parseTcbInfo, TCB_STATUSES } from "./collateral-json.js";
export { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256 } from "./intel-root.js";
export type * from "./result.js";
export { convergeWithModule, convergeWithQe, relaunchAdvice } from "./status.js";
export type { TrustAnchorInput, VerifierOptions, VerifyOptions } from "./verifier.js";
export { Verifier, verifyQuote, verifyQuoteAsync } from "./verifier.js";
