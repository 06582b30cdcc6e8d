/** Appraisal policy: read a JSON policy (schema-checked), appraise a verification result against it. */
export {
  type Appraisal,
  type AppraisalInput,
  type AppraiseOptions,
  appraise,
  assertAllowed,
  type Denial,
  type RuleOutcome,
  type RuleValue,
} from "./appraise.js";
export {
  ACCEPTABLE_TCB_STATUSES,
  type AcceptableTcbStatus,
  ALLOW_LIST_RULES,
  type AllowListRule,
  DEFAULT_POLICY,
  POLICY_JSON_SCHEMA,
  type Policy,
  policyFromJson,
  readPolicy,
  TD_ATTRIBUTE_NAMES,
} from "./schema.js";
