/** DCAP quote verification with Intel QVL's verdicts, explained step by step. */

export {
  parseQeIdentity,
  QE_TCB_STATUSES,
  type QeIdentity,
  type QeTcbLevel,
  type QeTcbStatus,
  readSignedQeIdentity,
} from "../collateral/qe-identity.js";
export {
  parseTcbInfo,
  readSignedTcbInfo,
  type SignedJson,
  TCB_STATUSES,
  type TcbInfo,
  type TcbLevel,
  type TcbLevelStatus,
  TDX_MODULE_STATUSES,
  type TdxModuleIdentity,
  type TdxModuleTcbLevel,
} from "../collateral/tcb-info.js";
export {
  type CryptoBackend,
  cryptoBackend,
  nodeCryptoBackend,
  type P256Key,
  setCryptoBackend,
  webCryptoBackend,
} from "../crypto/backend.js";
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
export { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256 } from "./intel-root.js";
export { type PckChainRoles, pckChainRoles } from "./pck-chain.js";
export { compareQeReport, type QeIdentityComparison, qeTcbLevel } from "./qe-identity-check.js";
export type * from "./result.js";
export { convergeWithModule, convergeWithQe, relaunchAdvice } from "./status.js";
export { matchTcbLevels } from "./tcb-level.js";
export {
  findModuleIdentity,
  type ModuleTcbLevel,
  moduleTcbLevel,
  seamAttributesMatch,
  tdxModuleIdentityFor,
} from "./tdx-module.js";
export type { TrustAnchorInput, TrustRoot, VerifierOptions, VerifyOptions } from "./verifier.js";
export { Verifier, verifyQuote, verifyQuoteAsync } from "./verifier.js";
