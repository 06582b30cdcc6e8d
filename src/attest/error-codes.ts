import type { ErrorTable } from "../errors.js";

/** Error codes of attest/: the evidence pipeline (evidence in, claims out) and init-data. */
export const ATTEST_ERRORS = {
  ATTEST_COLLATERAL_UNAVAILABLE: {
    doc: "no collateral for the quote's platform from the configured source (PCCS/PCS); the key broker answers KBS_COLLATERAL_UNAVAILABLE",
    page: "kbs.md",
  },
  ATTEST_INIT_DATA_MISMATCH: {
    doc: "the init-data digest (padded to 48 bytes) is not the TD's MRCONFIGID; the key broker answers KBS_INIT_DATA_MISMATCH",
    page: "kbs.md",
  },
  ATTEST_NOT_TD_QUOTE: {
    doc: "the evidence holds an SGX enclave quote, not a TD quote (also in az-tdx-vtpm's td_quote)",
    page: "kbs.md",
  },
  ATTEST_TEE_UNSUPPORTED: {
    doc: "az-tdx-vtpm evidence was handed to an evidence verifier that cannot verify it",
    page: "kbs.md",
  },
  INIT_DATA_INVALID: {
    http: 400,
    doc: 'init-data is not {format: "toml", body} with a version, a known algorithm and string entries',
    page: "kbs.md",
  },
  INIT_DATA_TOML_INVALID: {
    http: 400,
    doc: "the init-data TOML cannot be read (the line is named)",
    page: "kbs.md",
  },
} as const satisfies ErrorTable;
