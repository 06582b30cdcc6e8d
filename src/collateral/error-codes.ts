import type { ErrorTable } from "../errors.js";

/** Error codes of collateral/ (docs/errors.md is generated from these tables). */
export const COLLATERAL_ERRORS = {
  COLLATERAL_FORMAT: { doc: "TODO" },
  COLLATERAL_MALFORMED: { doc: "TODO" },
  COLLATERAL_REJECTED: { doc: "TODO" },
  COLLATERAL_TRUST_ANCHOR_MISSING: { doc: "TODO" },
  COLLATERAL_UNKNOWN_FIELD: { doc: "TODO" },
  PCS_BAD_REQUEST: { doc: "TODO" },
  PCS_FETCH_LIMITED: { doc: "TODO" },
  PCS_NOT_FOUND: { doc: "TODO" },
  PCS_UNREACHABLE: { doc: "TODO" },
  PCS_URL_INVALID: { doc: "TODO" },
  PCS_URL_MISSING: { doc: "TODO" },
  QE_IDENTITY_MALFORMED: { doc: "TODO" },
  QE_IDENTITY_UNSUPPORTED_VERSION: { doc: "TODO" },
  QUOTE_NO_PCK_CHAIN: { doc: "TODO" },
  QUOTE_PCK_CHAIN_UNTRUSTED: { doc: "TODO" },
  TCB_INFO_MALFORMED: { doc: "TODO" },
  TCB_INFO_UNSUPPORTED_VERSION: { doc: "TODO" },
  TIME_INVALID: { doc: "TODO" },
} as const satisfies ErrorTable;
