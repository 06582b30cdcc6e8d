/**
 * tdx-attest: Intel TDX remote attestation end to end.
 * The package root re-exports the public API of every part; subpaths (tdx-attest/abi, tdx-attest/verify, ...)
 * expose each part alone.
 */
export * from "./abi/index.js";
// Names exported by two parts: the package root takes these; the other stays available on its subpath.
export { bytesEqual } from "./abi/index.js";
export * from "./attest/index.js";
export * from "./collateral/index.js";
export {
  ERROR_CODES,
  type ErrorFolder,
  errorEntry,
  httpStatusOf,
  isErrorCode,
  type RegisteredError,
  registeredErrors,
} from "./error-registry.js";
export * from "./errors.js";
export * from "./eventlog/index.js";
export * from "./guest/index.js";
export * from "./kbs/index.js";
export * from "./policy/index.js";
export * from "./qgs/index.js";
export * from "./server/explorer/index.js";
export * from "./sim/index.js";
export type { TdxModuleIdentity } from "./verify/index.js";
export * from "./verify/index.js";
