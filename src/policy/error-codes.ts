import type { ErrorTable } from "../errors.js";

/** Error codes of policy/: reading a policy and asserting its verdict. */
export const POLICY_ERRORS = {
  POLICY_DENIED: {
    doc: "thrown by assertAllowed: the policy refused the quote; data.denials holds every denial",
    page: "policy.md",
  },
  POLICY_INVALID: {
    http: 400,
    doc: "a policy that is not JSON, not an object, has a wrong type or value (field: its JSON path) or contradictory rules",
    page: "policy.md",
  },
  POLICY_UNKNOWN_FIELD: {
    http: 400,
    doc: "a policy key the format does not define (field names it); nothing unknown is silently ignored",
    page: "policy.md",
  },
} as const satisfies ErrorTable;
