import type { ErrorTable } from "../errors.js";

/** Error codes of collateral/: collateral JSON, TCB Info and QE Identity, the PCS/PCCS client and its cache. */
export const COLLATERAL_ERRORS = {
  COLLATERAL_FETCH_FAILED: {
    doc: "a collateral fetcher given to the cache failed with an untyped error (the cause is kept)",
    page: "collateral.md",
  },
  COLLATERAL_FORMAT: {
    doc: "a PCS/PCCS answer (or cached entry) is not what PCS v4 sends: not JSON, unsigned, another FMSPC or id, no issuer chain, too large",
    page: "collateral.md",
  },
  COLLATERAL_MALFORMED: {
    doc: "collateral JSON (a bundle) of the wrong shape; the field is named",
    page: "collateral.md",
  },
  COLLATERAL_REJECTED: {
    doc: "no endpoint answered with collateral that verifies up to a trusted root (broken signature, another root, another FMSPC)",
    page: "collateral.md",
  },
  COLLATERAL_TRUST_ANCHOR_MISSING: {
    doc: "the collateral fetcher was given an empty list of trust anchors",
    page: "collateral.md",
  },
  COLLATERAL_UNKNOWN_FIELD: {
    doc: "collateral JSON has a field the format does not define",
    page: "collateral.md",
  },
  PCS_BAD_REQUEST: { doc: "the FMSPC asked for is not 12 hex digits", page: "collateral.md" },
  PCS_FETCH_LIMITED: {
    doc: "a fetch past maxRequestsPerMinute to the collateral service is refused (cached entries are still served)",
    page: "collateral.md",
  },
  PCS_NOT_FOUND: {
    doc: "every PCS/PCCS URL answered 404 (e.g. an FMSPC the service does not know)",
    page: "collateral.md",
  },
  PCS_UNREACHABLE: {
    doc: "every PCS/PCCS URL failed (down, refused, 5xx, cut off) and no valid cached entry exists",
    page: "collateral.md",
  },
  PCS_URL_INVALID: {
    doc: "a PCS/PCCS base URL that is not an http(s) URL, or a redirect mode other than none/same-origin",
    page: "collateral.md",
  },
  PCS_URL_MISSING: { doc: "no PCS/PCCS URL was given", page: "collateral.md" },
  QE_IDENTITY_MALFORMED: {
    doc: "the QE Identity JSON is not in Intel's format (rapidjson's grammar, Intel's types and dates); the field is named",
    page: "verify.md",
  },
  QE_IDENTITY_UNSUPPORTED_VERSION: { doc: "the QE Identity version is not 2", page: "verify.md" },
  QUOTE_NO_PCK_CHAIN: {
    doc: "collateral was asked for a quote that carries no PCK certificate chain (certification data type 5)",
    page: "collateral.md",
  },
  QUOTE_PCK_CHAIN_UNTRUSTED: {
    doc: "collateral is not fetched for a quote whose PCK chain leads to no trusted root (isQuoteFault: the quote's fault)",
    page: "collateral.md",
  },
  TCB_INFO_MALFORMED: {
    doc: "the TCB Info JSON is not in Intel's format (rapidjson's grammar, Intel's types and dates); the field is named",
    page: "verify.md",
  },
  TCB_INFO_UNSUPPORTED_VERSION: { doc: "the TCB Info version is not 2 or 3", page: "verify.md" },
  TIME_INVALID: { doc: "the time given to the collateral service is not a Date or unix seconds" },
} as const satisfies ErrorTable;
