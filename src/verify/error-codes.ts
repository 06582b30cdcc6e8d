import type { ErrorTable } from "../errors.js";

/**
 * Error codes of verify/: each step of Intel's DCAP verification, and the az-tdx-vtpm evidence checks. A failed
 * step is `result.error.code` (verify() does not throw for a quote that fails; verifyOrThrow does).
 */
export const VERIFY_ERRORS = {
  AZ_AK_INVALID: {
    doc: "the HCL var data's attestation key is not a usable RSA signing key (at least 2048 bits, exponent 65537)",
    page: "verify.md",
  },
  AZ_AK_MISSING: { doc: 'the HCL var data holds no key with kid "HCLAkPub"', page: "verify.md" },
  AZ_EVIDENCE_VERSION_TOO_OLD: {
    doc: "az-tdx-vtpm evidence older than the minVersion asked (v2 binds the nonce in the HCL report)",
    page: "verify.md",
  },
  AZ_HCL_HASH_TYPE_UNSUPPORTED: {
    doc: "the HCL report binds its var data with a hash other than SHA-256",
    page: "verify.md",
  },
  AZ_HCL_NOT_TDX: {
    doc: "the HCL report holds an SEV-SNP (or unknown) report, not a TDX one",
    page: "verify.md",
  },
  AZ_HCL_TD_REPORT_HASH_MISMATCH: {
    doc: "the HCL report's TDREPORT hashes do not match the structures they hash",
    page: "verify.md",
  },
  AZ_HCL_TD_REPORT_MISMATCH: {
    doc: "the HCL report's TDREPORT is not the one the TD quote quotes (the fields are named)",
    page: "verify.md",
  },
  AZ_INIT_DATA_MISMATCH: {
    doc: "PCR 8 is not one extend of the expected init-data digest",
    page: "verify.md",
  },
  AZ_NONCE_MISMATCH: { doc: "the TPM quote's nonce is not the expected one", page: "verify.md" },
  AZ_NONCE_MISSING: {
    doc: "no expected nonce was given, so freshness cannot be checked (CLI: --nonce or --nonce-hex)",
    page: "verify.md",
  },
  AZ_PCR_DIGEST_MISMATCH: {
    doc: "the PCR values supplied do not hash to the TPM quote's pcrDigest",
    page: "verify.md",
  },
  AZ_PCR_SELECTION_MISMATCH: {
    doc: "the PCR values supplied are not the ones the TPM quote selects, or not of the SHA-256 bank",
    page: "verify.md",
  },
  AZ_TD_QUOTE_NOT_TDX: { doc: "az-tdx-vtpm evidence whose td_quote is an SGX quote", page: "verify.md" },
  AZ_TPM_MESSAGE_ALTERED: {
    doc: "the attestation key signed a TPM quote, but not this message: altered after signing",
    page: "verify.md",
  },
  AZ_TPM_NOT_A_QUOTE: { doc: "the TPMS_ATTEST is not an ATTEST_QUOTE", page: "verify.md" },
  AZ_TPM_NOT_GENERATED: {
    doc: "the TPMS_ATTEST magic is not TPM_GENERATED_VALUE: not made by a TPM",
    page: "verify.md",
  },
  AZ_TPM_SIGNATURE_INVALID: {
    doc: "the TPM quote is not signed by the HCL attestation key (RSASSA/SHA-256)",
    page: "verify.md",
  },
  AZ_USER_DATA_MISMATCH: {
    doc: "v2 evidence: the HCL user-data does not begin with the expected nonce",
    page: "verify.md",
  },
  AZ_USER_DATA_MISSING: { doc: "v2 evidence without user-data in the HCL var data", page: "verify.md" },
  AZ_VAR_DATA_HASH_MISMATCH: {
    doc: "the HCL var data is not the one the TD quote's REPORTDATA binds",
    page: "verify.md",
  },
  CERT_EXTENSION_MISSING: {
    doc: "a chain certificate lacks an extension Intel's QVL requires (AKI, CRL distribution points, SKI, key usage, basic constraints)",
    page: "verify.md",
  },
  CRL_MALFORMED: {
    doc: "a CRL without CRL Number, Authority Key Identifier or nextUpdate",
    page: "verify.md",
  },
  CRL_SIGNATURE_INVALID: {
    doc: "a CRL's signature does not verify with its issuer's key",
    page: "verify.md",
  },
  CRL_UNKNOWN_ISSUER: {
    doc: "a CRL not issued by the certificate's issuer (Intel: SGX_CRL_UNKNOWN_ISSUER)",
    page: "verify.md",
  },
  INTERMEDIATE_CA_REVOKED: {
    doc: "the PCK Platform/Processor CA is revoked by the Root CA CRL",
    page: "verify.md",
  },
  ISSUER_CHAIN_INVALID: {
    doc: "a TCB Info / QE Identity issuer chain that is not TCB Signing certificate and SGX Root CA",
    page: "verify.md",
  },
  ISSUER_CHAIN_INVALID_SIGNATURE: {
    doc: "the TCB Signing certificate is not signed by the root",
    page: "verify.md",
  },
  PCK_CHAIN_INCOMPLETE: {
    doc: "the PCK chain is not PCK certificate, PCK CA and SGX Root CA",
    page: "verify.md",
  },
  PCK_CHAIN_INVALID_SIGNATURE: {
    doc: "a PCK chain certificate not issued or signed by its issuer",
    page: "verify.md",
  },
  PCK_CHAIN_MISSING: {
    doc: "the quote carries no PCK certificate chain (another certification data type) and the collateral none",
    page: "verify.md",
  },
  PCK_REVOKED: { doc: "the PCK certificate is revoked by the PCK CRL", page: "verify.md" },
  QE_IDENTITY_MISMATCH: {
    doc: "the QE identity is for the other TEE, or MISCSELECT/ATTRIBUTES/MRSIGNER/ISVPRODID differ",
    page: "verify.md",
  },
  QE_IDENTITY_SIGNATURE_INVALID: {
    doc: "the QE Identity is not signed by the TCB Signing key",
    page: "verify.md",
  },
  QE_REPORT_DATA_MISMATCH: {
    doc: "the QE report data is not SHA-256(attestation key || QE auth data): the key is not bound",
    page: "verify.md",
  },
  QE_REPORT_SIGNATURE_INVALID: {
    doc: "the QE report's signature does not verify with the PCK certificate's key",
    page: "verify.md",
  },
  QE_TCB_LEVEL_NOT_FOUND: {
    doc: "no QE identity TCB level covers the QE's ISVSVN (Intel: TCB_NOT_SUPPORTED)",
    page: "verify.md",
  },
  QUOTE_QE_VENDOR_UNKNOWN: {
    doc: "the quote was not produced by Intel's QE (QE vendor id)",
    page: "verify.md",
  },
  QUOTE_SIGNATURE_INVALID: {
    doc: "the quote's signature does not verify with its attestation key",
    page: "verify.md",
  },
  QUOTE_UNSUPPORTED_FORMAT: {
    doc: "a quote without QE report certification data, or with an inner certification data type outside 1..5",
    page: "verify.md",
  },
  TCB_INFO_MISMATCH: {
    doc: "TCB Info for another TEE, FMSPC or PCE-ID than the quote's (Intel: STATUS_TCB_INFO_MISMATCH)",
    page: "verify.md",
  },
  TCB_INFO_SIGNATURE_INVALID: { doc: "the TCB Info is not signed by the TCB Signing key", page: "verify.md" },
  TCB_LEVEL_NOT_FOUND: {
    doc: "no TCB Info level matches the platform's TCB (Intel: TCB_NOT_SUPPORTED)",
    page: "verify.md",
  },
  TCB_REVOKED: {
    doc: "Intel's terminal result REVOKED: the platform's TCB, QE or TDX module is revoked",
    page: "verify.md",
  },
  TCB_SIGNING_CERT_REVOKED: {
    doc: "the TCB Signing certificate is revoked by the Root CA CRL",
    page: "verify.md",
  },
  TCB_STATUS_UNRECOGNIZED: {
    doc: "a TCB status Intel does not define, in a level that is used",
    page: "verify.md",
  },
  TDX_MODULE_MISMATCH: {
    doc: "no TDX module identity for TEE_TCB_SVN[1], or MRSIGNERSEAM / SEAMATTRIBUTES differ",
    page: "verify.md",
  },
  TDX_MODULE_TCB_LEVEL_NOT_FOUND: {
    doc: "no TDX module identity level covers the module's SVN (Intel: TCB_NOT_SUPPORTED)",
    page: "verify.md",
  },
  TRUST_ANCHOR_INVALID: {
    doc: "a trust anchor that is not a self-signed ECDSA P-256 root certificate with the extensions Intel requires, or none",
    page: "verify.md",
  },
  UNTRUSTED_ROOT: {
    doc: "a chain ends in a root that is no trust anchor (Intel: SGX_PCK_CERT_CHAIN_UNTRUSTED); the roots are named with their SHA-256",
    page: "verify.md",
  },
  VERIFY_INTERNAL: {
    doc: "a bug: a verification step failed with an untyped error (please report it with the input)",
    page: "verify.md",
  },
  VERIFY_TIME_INVALID: {
    doc: "the verification time (`now`) is not unix seconds or a valid Date",
    page: "verify.md",
  },
} as const satisfies ErrorTable;
