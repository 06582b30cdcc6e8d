/**
 * What runs inside a TD: TDREPORTs, quotes, RTMR extend and reads, behind one provider interface; on an Azure TDX
 * confidential VM, az-tdx-vtpm evidence from the vTPM and IMDS.
 */
export {
  type AzEvidenceOptions,
  type AzTdxVtpmEvidenceResult,
  AzTdxVtpmProvider,
  type AzVtpmBackend,
  azureTpmDevice,
  isAzTdxVtpmProvider,
  probeAzureVtpm,
} from "./az-provider.js";
export {
  AZURE_IMDS_TD_QUOTE_URL,
  type CollectAzTdxVtpmOptions,
  collectAzTdxVtpmEvidence,
  imdsTdQuote,
  type TdQuoteSource,
} from "./az-tdx-vtpm.js";
export {
  type ConfigfsQuote,
  type ConfigfsQuoteOptions,
  configfsGetQuote,
  configfsProviderOf,
  instanceDirName,
  KERNEL_QUOTE_WAIT_MS,
  listInstances,
  removeDeadInstances,
  TSM_PROVIDER_TDX,
} from "./configfs.js";
export { checkReportData, checkRtmrArgs, type GuestOp, guestSyscallError } from "./errors.js";
export { type GuestFile, type GuestFs, nodeGuestFs, readWhole, writeOnceAndClose } from "./fs.js";
export {
  deviceGetTdReport,
  LEGACY_QUOTE_BUFFER_SIZE,
  LEGACY_QUOTE_TIMEOUT_MS,
  LEGACY_TDX_CMD_GET_QUOTE,
  LEGACY_TDX_CMD_GET_REPORT,
  type LegacyQuote,
  type LegacyQuoteOptions,
  legacyGetQuote,
  legacyGetTdReport,
  TDX_ATTEST_2021_GEN_QUOTE,
  TDX_ATTEST_2021_GET_QUOTE_SIZE,
  TDX_ATTEST_2021_GET_TDREPORT,
  TDX_CMD_GET_REPORT0,
} from "./ioctl.js";
export {
  describeKernel,
  hasOutLenFix,
  hasQuoteStatusCheck,
  type KernelVersion,
  outblobMax,
  parseKernelRelease,
  quoteBufferSize,
  readKernelVersion,
} from "./kernel.js";
export {
  extendRtmrSysfs,
  type Measurements,
  MR_FILES,
  measurementsFromTdReport,
  readMeasurementsSysfs,
  rtmrFile,
} from "./measurements.js";
export { type GuestPaths, guestPaths } from "./paths.js";
export {
  type GuestStatus,
  openProvider,
  type ProbeOptions,
  type ProviderStatus,
  probeGuest,
} from "./probe.js";
export {
  ConfigfsProvider,
  DeviceProvider,
  FallbackQuoteProvider,
  type GuestProvider,
  type GuestProviderOptions,
  type GuestTee,
  guestQgsAddress,
  LegacyProvider,
  PROVIDER_NAMES,
  type ProviderDescription,
  type ProviderName,
  parseTdxAttestConf,
  QgsProvider,
  SimProvider,
} from "./providers.js";
export {
  type QuoteChildCall,
  type QuoteChildHost,
  type QuoteChildResult,
  runQuoteIoctlInChild,
} from "./quote-child.js";
export { declaredQuoteLength, trimQuote } from "./quote-length.js";
export {
  DEFAULT_RETRY,
  type GuestClock,
  type QuoteFallback,
  type QuoteResult,
  type QuoteRetry,
  type RetryPolicy,
  realClock,
} from "./result.js";
export {
  type AppendRuntimeEventOptions,
  appendRuntimeEvent,
  DEFAULT_RUNTIME_LOG_PATH,
  readRuntimeLog,
} from "./runtime-log-file.js";
export {
  type AzureTpmQuote,
  type AzureVtpmOptions,
  azureTpmQuote,
  hclReportWithReportData,
  marshalCommand,
  type NvPublicInfo,
  type PcrReadResult,
  type ReadPublicResult,
  readHclReport,
  Tpm2Client,
  type Tpm2ClientOptions,
  type Tpm2Response,
  type Tpm2Transport,
  type TpmQuoteResult,
  unmarshalResponse,
} from "./tpm2-commands.js";
export {
  TPM_DEVICE,
  TPM_RESOURCE_MANAGER_DEVICE,
  Tpm2DeviceTransport,
  tpmDeviceError,
} from "./tpm2-device.js";
