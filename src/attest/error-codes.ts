import type { ErrorTable } from "../errors.js";

/** Error codes of attest/ (docs/errors.md is generated from these tables). */
export const ATTEST_ERRORS = {
  ATTEST_COLLATERAL_UNAVAILABLE: { doc: "TODO" },
  ATTEST_INIT_DATA_MISMATCH: { doc: "TODO" },
  ATTEST_NOT_TD_QUOTE: { doc: "TODO" },
  ATTEST_TEE_UNSUPPORTED: { doc: "TODO" },
  INIT_DATA_INVALID: { doc: "TODO" },
  INIT_DATA_TOML_INVALID: { doc: "TODO" },
} as const satisfies ErrorTable;
