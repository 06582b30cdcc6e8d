/** Byte-exact Intel SGX/TDX attestation structures: parse (zero-copy) and serialize. Pure: no I/O, no crypto. */
export * from "./attributes.js";
export { bytesEqual, concatBytes, fromHex, isAllZero, toHex } from "./bytes.js";
export * from "./input.js";
export * from "./json.js";
export * from "./quote.js";
export * from "./reports.js";
export * from "./tdreport.js";
export * from "./types.js";
