import type { ErrorTable } from "../errors.js";

/** Error codes of crypto/: DER, PEM, keys, the PCK certificate's SGX extension. */
export const CRYPTO_ERRORS = {
  CRYPTO_UNAVAILABLE: {
    doc: "the runtime has no WebCrypto (crypto.subtle), e.g. a page outside a secure context",
    page: "verify.md",
  },
  DER_MALFORMED: {
    doc: "a certificate, CRL or key is not well-formed DER (the offset is named)",
    page: "verify.md",
  },
  INVALID_PUBLIC_KEY: {
    doc: "an ECDSA key is not an uncompressed P-256 point on the curve",
    page: "verify.md",
  },
  PCK_CA_UNKNOWN: {
    doc: "the PCK certificate's issuer is neither Intel's Platform nor Processor CA",
    page: "verify.md",
  },
  PCK_EXTENSION_MALFORMED: {
    doc: "the PCK certificate's SGX extension is one Intel's QVL refuses (entries missing, a TCB of other than 18 components)",
    page: "verify.md",
  },
  PEM_MALFORMED: { doc: "PEM text holds no certificate, or a block that does not decode", page: "verify.md" },
} as const satisfies ErrorTable;
