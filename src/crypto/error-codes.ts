import type { ErrorTable } from "../errors.js";

/** Error codes of crypto/ (docs/errors.md is generated from these tables). */
export const CRYPTO_ERRORS = {
  CRYPTO_UNAVAILABLE: { doc: "TODO" },
  DER_MALFORMED: { doc: "TODO" },
  INVALID_PUBLIC_KEY: { doc: "TODO" },
  PCK_CA_UNKNOWN: { doc: "TODO" },
  PCK_EXTENSION_MALFORMED: { doc: "TODO" },
  PEM_MALFORMED: { doc: "TODO" },
} as const satisfies ErrorTable;
