/** Simulated TDX platform: CPU + TDX module, TD Quoting Enclave, Intel-like PKI and collateral issuer. */
export {
  intelDate,
  pcsBody,
  qeIdentityText,
  TD_QE_ISVPRODID,
  TD_QE_MRSIGNER,
  tcbInfoText,
} from "./collateral.js";
export { SimCollateralProvider } from "./collateral-provider.js";
export * from "./paravisor.js";
export * from "./paravisor-state.js";
export { encodeSgxExtension, INTEL_CN, OID_SGX_EXTENSION, type PckExtensionValues } from "./pki.js";
export {
  createSimPlatform,
  defaultTdDescription,
  initSimPlatform,
  loadSimPlatform,
  type SimCollateralBundle,
  SimPlatform,
  type SimPlatformOptions,
  type TdDescription,
  tdImageOf,
} from "./platform.js";
export {
  QE_AUTH_DATA,
  type QuoteOptions,
  SIM_TD_QE_MRENCLAVE,
  SimQuotingEnclave,
} from "./quoting-enclave.js";
export {
  checkScenarioName,
  expectationFor,
  FMSPC,
  isScenarioName,
  type PlatformTcb,
  platformTcbFor,
  SCENARIOS,
  type ScenarioExpectation,
  type ScenarioName,
} from "./scenarios.js";
export { STATE_LOCK_FILE, type StateLockOptions, withStateLock } from "./state-lock.js";
export {
  measureMrTd,
  PAGE_SIZE,
  rtmrExtend,
  type TdImage,
  type TdSection,
  type TdState,
  type TdxModuleIdentity,
  tdgMrReport,
  tdxModuleIdentity,
  verifyTdReport,
} from "./tdx-module.js";
