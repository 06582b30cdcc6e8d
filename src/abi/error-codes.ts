import type { ErrorTable } from "../errors.js";

/** Error codes of abi/: the byte layouts (quotes, TDREPORT, HCL report, TPM structures, evidence JSON). */
export const ABI_ERRORS = {
  ABI_FIELD_MISSING: {
    doc: "serialize was given a quote or TPM structure without a part it needs (e.g. a v4 quote without certification data)",
    page: "abi.md",
  },
  ABI_FIELD_SIZE: {
    doc: "serialize was given a field of the wrong size (the field and the size it needs are named)",
    page: "abi.md",
  },
  ABI_TRUNCATED: { doc: "an SGX report body or TD report ends before its fixed size", page: "abi.md" },
  AZ_EVIDENCE_MALFORMED: {
    doc: "az-tdx-vtpm evidence is not JSON in Trustee's shapes (a field missing, of the wrong type, or not base64/hex)",
    page: "abi.md",
  },
  AZ_EVIDENCE_UNKNOWN_FIELD: {
    doc: "az-tdx-vtpm evidence carries fields Trustee's shapes do not define (e.g. a TDX quote object sent as Azure evidence)",
    page: "abi.md",
  },
  AZ_EVIDENCE_VERSION_UNSUPPORTED: {
    doc: "az-tdx-vtpm evidence `version` is not 1 or 2 (or absent, v0)",
    page: "abi.md",
  },
  HCL_NOT_BYTES: { doc: "an HCL report was given as something other than bytes", page: "abi.md" },
  HCL_REPORT_TYPE_UNKNOWN: { doc: "the HCL report's type is neither TDX (4) nor SNP (2)", page: "abi.md" },
  HCL_SIGNATURE_INVALID: { doc: 'the HCL report does not start with "HCLA"', page: "abi.md" },
  HCL_TRUNCATED: { doc: "the HCL report ends before its var data starts", page: "abi.md" },
  HCL_USER_DATA_INVALID: { doc: "the HCL var data's `user-data` is not a hex string", page: "abi.md" },
  HCL_VAR_DATA_KEYS_INVALID: {
    doc: "the HCL var data's `keys` is not an array of JSON Web Keys, or holds two keys with the same kid",
    page: "abi.md",
  },
  HCL_VAR_DATA_NOT_JSON: { doc: "the HCL var data is not UTF-8 JSON object text", page: "abi.md" },
  HCL_VAR_DATA_TRUNCATED: {
    doc: "the HCL report's variable_data_size runs past the end of the report",
    page: "abi.md",
  },
  INPUT_BASE64_LENGTH: {
    doc: "the input is base64 of impossible length (4n+1 characters): cut short or with a stray character",
    page: "abi.md",
  },
  INPUT_EMPTY: { doc: "the input is empty (0 bytes, or only white space)", page: "abi.md" },
  INPUT_ENCODING: {
    doc: "the input is text but neither hex nor base64 (a PEM or JSON file); the offset of the first foreign character",
    page: "abi.md",
  },
  INPUT_HEX_ODD_LENGTH: {
    doc: "the input is hex with an odd number of digits (it is not re-read as base64)",
    page: "abi.md",
  },
  INVALID_HEX: { doc: "a field that must be hex is not (an odd number of digits, or a non-hex character)" },
  QUOTE_BODY_SIZE_MISMATCH: { doc: "a v5 quote's body size does not match its body type", page: "abi.md" },
  QUOTE_BODY_TYPE_INVALID: {
    doc: "a v5 quote's body type is not 1 (SGX), 2 (TD 1.0) or 3 (TD 1.5)",
    page: "abi.md",
  },
  QUOTE_CERT_DATA_INCONSISTENT: {
    doc: "type-6 certification data whose parts end before its declared size",
    page: "abi.md",
  },
  QUOTE_CERT_DATA_SIZE: {
    doc: "a certification data size runs past its enclosing structure",
    page: "abi.md",
  },
  QUOTE_CERT_DATA_TYPE_UNKNOWN: { doc: "a certification data type outside 1-7", page: "abi.md" },
  QUOTE_NOT_BYTES: {
    doc: "a quote was given as something other than bytes (or, to the verifier, a parsed Quote)",
    page: "abi.md",
  },
  QUOTE_PCK_CHAIN_MALFORMED: {
    doc: "type-5 certification data holds no PEM certificate (raised when the chain is read)",
    page: "abi.md",
  },
  QUOTE_QE_AUTH_DATA_SIZE: { doc: "the QE auth data size runs past the certification data", page: "abi.md" },
  QUOTE_SIGNATURE_DATA_TRUNCATED: {
    doc: "the quote's signature_data_len runs past the end of the input",
    page: "abi.md",
  },
  QUOTE_TEE_BODY_MISMATCH: { doc: "a v5 quote's TEE type does not match its body type", page: "abi.md" },
  QUOTE_TEE_VERSION_MISMATCH: { doc: "a v3 quote (SGX only) whose TEE type says TDX", page: "abi.md" },
  QUOTE_TRUNCATED: {
    doc: "the input ends inside a fixed-size part of the quote (header, body descriptor, body, signature data)",
    page: "abi.md",
  },
  QUOTE_UNSUPPORTED_KEY_TYPE: { doc: "the attestation key type is not 2 (ECDSA P-256)", page: "abi.md" },
  QUOTE_UNSUPPORTED_TEE_TYPE: { doc: "the TEE type is not SGX (0) or TDX (0x81)", page: "abi.md" },
  QUOTE_UNSUPPORTED_VERSION: {
    doc: "the quote version is not 3, 4 or 5 (the hint says when the input looks like a TDREPORT)",
    page: "abi.md",
  },
  TDREPORT_SIZE: { doc: "a TDREPORT that is not exactly 1024 bytes", page: "abi.md" },
  TD_ATTRIBUTE_UNKNOWN: { doc: "a TD attribute name that TDX does not define (the hint lists them)" },
  TPM2_ALG_UNSUPPORTED: {
    doc: "a TPM signature or public area of an algorithm the parser does not know",
    page: "abi.md",
  },
  TPM2_NOT_BYTES: { doc: "a TPM structure was given as something other than bytes", page: "abi.md" },
  TPM2_SIZE_INVALID: {
    doc: "a TPM structure declares a size or count larger than its buffer allows",
    page: "abi.md",
  },
  TPM2_TRAILING_BYTES: { doc: "bytes follow a complete TPM structure", page: "abi.md" },
  TPM2_TRUNCATED: { doc: "a TPM structure is cut short (the field and offset are named)", page: "abi.md" },
} as const satisfies ErrorTable;
