/** What runs inside a TD: TDREPORTs, quotes, RTMR extend and reads, behind one provider interface. */
export {
  type ConfigfsQuoteOptions,
  configfsGetQuote,
  configfsProviderOf,
  TSM_PROVIDER_TDX,
} from "./configfs.js";
export { checkReportData, checkRtmrArgs, type GuestOp, guestSyscallError } from "./errors.js";
export { type GuestFile, type GuestFs, nodeGuestFs, readWhole, writeOnceAndClose } from "./fs.js";
export {
  deviceGetTdReport,
  LEGACY_QUOTE_BUFFER_SIZE,
  LEGACY_TDX_CMD_GET_QUOTE,
  LEGACY_TDX_CMD_GET_REPORT,
  legacyGetQuote,
  legacyGetTdReport,
  TDX_CMD_GET_REPORT0,
} from "./ioctl.js";
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
  type GuestProvider,
  type GuestProviderOptions,
  guestQgsAddress,
  LegacyProvider,
  PROVIDER_NAMES,
  type ProviderDescription,
  type ProviderName,
  parseTdxAttestConf,
  QgsProvider,
  SimProvider,
} from "./providers.js";
