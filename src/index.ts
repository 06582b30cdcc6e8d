/**
 * tdx-attest: Intel TDX remote attestation end to end.
 * The package root re-exports the public API of every part; subpaths (tdx-attest/abi, ...) expose each part alone.
 */
export * from "./abi/index.js";
export * from "./errors.js";
