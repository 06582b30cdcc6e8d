import type { ErrorTable } from "../errors.js";

/** Error codes of policy/ (docs/errors.md is generated from these tables). */
export const POLICY_ERRORS = {
  POLICY_DENIED: { doc: "TODO" },
  POLICY_INVALID: { doc: "TODO" },
  POLICY_UNKNOWN_FIELD: { doc: "TODO" },
} as const satisfies ErrorTable;
