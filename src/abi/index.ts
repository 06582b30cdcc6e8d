/**
 * Byte-exact Intel SGX/TDX attestation structures: parse (zero-copy) and serialize. Pure: no I/O, no crypto.
 *
 * Parsed structures are views: each field is read from the caller's buffer when accessed (a subarray for
 * byte fields), so parsing costs almost nothing. Fields live on the prototype, so object spread does not
 * copy them: use plainTdReportBody / plainSgxReportBody for a spreadable copy. Assigning a field works.
 */
export * from "./attributes.js";
export * from "./az-evidence.js";
export * from "./azure-json.js";
export { bytesEqual, concatBytes, fromHex, isAllZero, toHex } from "./bytes.js";
export * from "./hcl.js";
export * from "./input.js";
export * from "./json.js";
export * from "./quote.js";
export * from "./reports.js";
export * from "./tdreport.js";
export * from "./tpm2.js";
export * from "./types.js";
