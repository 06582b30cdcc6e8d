/**
 * Appraisal of a verified quote against a policy. Pure: the result and the policy (and `now`, for the
 * collateral age rule) in, a decision out. Every rule that applies is evaluated and reported, so a denial
 * names the rule, what it expected and what it found, and the caller sees all reasons at once.
 */
import { tdAttributeNames, toHex } from "../abi/index.js";
import type { QuoteBody } from "../abi/types.js";
import { TdxError } from "../errors.js";
import type { TcbStatus } from "../verify/result.js";
import { ALLOW_LIST_RULES, type AllowListRule, DEFAULT_POLICY, type Policy } from "./schema.js";

/** A value shown in a rule outcome (JSON-friendly). */
export type RuleValue = string | number | boolean | null | string[];

export interface RuleOutcome {
  /** The policy key (or "verified"/"collateralExpired"/"debug") this outcome is about. */
  rule: string;
  passed: boolean;
  expected: RuleValue;
  actual: RuleValue;
  message: string;
}

export type Denial = Omit<RuleOutcome, "passed">;

export interface Appraisal {
  allowed: boolean;
  denials: Denial[];
  /** Every rule evaluated, in order, passed or not. */
  evaluated: RuleOutcome[];
}

/**
 * What appraisal reads from a verification result. The verifier's `VerificationResult` satisfies it
 * structurally; tests and other callers may build one by hand.
 */
export interface AppraisalInput {
  /** The quote verified (signatures, chain, CRLs, collateral signatures). */
  ok: boolean;
  /** Verify's `TcbStatus` (a string here, so that hand-built inputs need no cast). */
  tcbStatus: TcbStatus | (string & {}) | null;
  advisoryIds: readonly string[];
  collateralExpired: boolean;
  /** The matched TCB level (its tcbDate is what minTcbDate compares). */
  matchedTcbLevel?: { tcbDate: string } | null;
  /** The collateral's own dates (the verifier's `collateral` summary); read by maxCollateralAgeSeconds. */
  collateral?: { tcbInfo: { issueDate: string }; qeIdentity: { issueDate: string } } | null;
  /**
   * When the oldest collateral item was issued (a Date, ISO text or unix seconds); overrides the date
   * derived from `collateral` (the earlier of the TCB Info and QE Identity issue dates).
   */
  collateralIssuedAt?: Date | string | number | null;
  /** The verification time (unix seconds): the default `now` of the collateral age rule. */
  at?: number;
  /** The parsed quote (only its body is read). */
  quote: { body: QuoteBody } | null;
}

export interface AppraiseOptions {
  /** The time the collateral age is measured at: a Date or unix seconds. Default: the result's `at`. */
  now?: Date | number;
}

function toSeconds(v: Date | string | number): number {
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (typeof v === "number") return v;
  return Math.floor(Date.parse(v) / 1000);
}

function collateralIssuedAt(result: AppraisalInput): number | null {
  if (result.collateralIssuedAt !== undefined && result.collateralIssuedAt !== null)
    return toSeconds(result.collateralIssuedAt);
  const c = result.collateral;
  if (c === undefined || c === null) return null;
  return Math.min(toSeconds(c.tcbInfo.issueDate), toSeconds(c.qeIdentity.issueDate));
}

function list(values: readonly string[]): string {
  return values.length === 0 ? "none" : values.join(", ");
}

/** SGX enclave ATTRIBUTES.FLAGS bit 1 is DEBUG. */
function sgxDebug(attributes: Uint8Array): boolean {
  return ((attributes[0] ?? 0) & 0x02) !== 0;
}

function tdField(body: QuoteBody, rule: AllowListRule): Uint8Array | null {
  if (body.kind === "sgx") return null;
  const r = body.report;
  switch (rule) {
    case "mrTd":
      return r.mrTd;
    case "rtmr0":
      return r.rtmr[0];
    case "rtmr1":
      return r.rtmr[1];
    case "rtmr2":
      return r.rtmr[2];
    case "rtmr3":
      return r.rtmr[3];
    case "mrConfigId":
      return r.mrConfigId;
    case "mrOwner":
      return r.mrOwner;
    case "mrOwnerConfig":
      return r.mrOwnerConfig;
    case "reportData":
      return r.reportData;
    case "xfam":
      return r.xfam;
  }
}

/** Appraises a verification result against a policy (default: DEFAULT_POLICY). */
export function appraise(
  result: AppraisalInput,
  policy: Policy = DEFAULT_POLICY as Policy,
  options: AppraiseOptions = {},
): Appraisal {
  const evaluated: RuleOutcome[] = [];
  const add = (rule: string, passed: boolean, expected: RuleValue, actual: RuleValue, message: string) =>
    evaluated.push({ rule, passed, expected, actual, message });

  add(
    "verified",
    result.ok,
    true,
    result.ok,
    result.ok ? "the quote verified" : "the quote did not verify: no policy can accept it",
  );

  const status = result.tcbStatus;
  const statusOk = status !== null && policy.acceptedTcbStatuses.includes(status);
  add(
    "acceptedTcbStatuses",
    statusOk,
    [...policy.acceptedTcbStatuses],
    status,
    statusOk
      ? `TCB status ${status} is accepted`
      : `TCB status ${status ?? "(none)"} is not one of ${list(policy.acceptedTcbStatuses)}`,
  );

  if (policy.allowedAdvisoryIds !== undefined) {
    const allowed = policy.allowedAdvisoryIds;
    const actual = [...result.advisoryIds];
    const extra = actual.filter((id) => !allowed.includes(id.toUpperCase()));
    add(
      "allowedAdvisoryIds",
      extra.length === 0,
      [...allowed],
      actual,
      extra.length === 0
        ? `advisories ${list(actual)} are all allowed`
        : `advisories not allowed: ${extra.join(", ")}`,
    );
  }

  if (policy.minTcbDate !== undefined) {
    const tcbDate = result.matchedTcbLevel?.tcbDate ?? null;
    const t = tcbDate === null ? Number.NaN : Date.parse(tcbDate);
    const passed = !Number.isNaN(t) && t >= Date.parse(policy.minTcbDate);
    add(
      "minTcbDate",
      passed,
      policy.minTcbDate,
      tcbDate,
      tcbDate === null
        ? "no matched TCB level, so no tcbDate to compare"
        : passed
          ? `tcbDate ${tcbDate} is on or after ${policy.minTcbDate}`
          : `tcbDate ${tcbDate} is before ${policy.minTcbDate}`,
    );
  }

  if (!policy.allowExpiredCollateral) {
    add(
      "collateralExpired",
      !result.collateralExpired,
      false,
      result.collateralExpired,
      result.collateralExpired
        ? "some collateral is outside its validity window; fetch fresh collateral"
        : "all collateral is within its validity window",
    );
  }

  if (policy.maxCollateralAgeSeconds !== undefined) {
    const max = policy.maxCollateralAgeSeconds;
    const issued = collateralIssuedAt(result);
    const now = options.now !== undefined ? toSeconds(options.now) : (result.at ?? null);
    if (issued === null || Number.isNaN(issued) || now === null) {
      add(
        "maxCollateralAgeSeconds",
        false,
        max,
        null,
        now === null
          ? "cannot measure the collateral age: appraise was given no time (now)"
          : "cannot measure the collateral age: the result carries no collateral issue date",
      );
    } else {
      const age = now - issued;
      add(
        "maxCollateralAgeSeconds",
        age <= max,
        max,
        age,
        age <= max
          ? `the oldest collateral item is ${age} s old (at most ${max} s)`
          : `the oldest collateral item is ${age} s old, more than ${max} s`,
      );
    }
  }

  const body = result.quote?.body ?? null;
  for (const [rule] of ALLOW_LIST_RULES) {
    const allowed = policy[rule];
    if (allowed === undefined) continue;
    const value = body === null ? null : tdField(body, rule);
    const actual = value === null ? null : toHex(value);
    const passed = actual !== null && allowed.includes(actual);
    add(
      rule,
      passed,
      [...allowed],
      actual,
      actual === null
        ? `${rule} is required but the quote is not a TD quote`
        : passed
          ? `${rule} is in the allow-list`
          : `${rule} ${actual} is not in the allow-list`,
    );
  }

  if (body !== null && body.kind !== "sgx") {
    const names = tdAttributeNames(body.report.tdAttributes);
    if (policy.requiredTdAttributes.length > 0) {
      const missing = policy.requiredTdAttributes.filter((n) => !names.includes(n));
      add(
        "requiredTdAttributes",
        missing.length === 0,
        [...policy.requiredTdAttributes],
        names,
        missing.length === 0
          ? "every required TD attribute is set"
          : `TD attributes not set: ${missing.join(", ")}`,
      );
    }
    // DEBUG is forbidden unless the policy says allowDebug: true, however the policy object was built
    // (policyFromJson adds it; a hand-built Policy may not have).
    const forbidden =
      policy.allowDebug === true || policy.forbiddenTdAttributes.includes("DEBUG")
        ? [...policy.forbiddenTdAttributes]
        : ["DEBUG", ...policy.forbiddenTdAttributes];
    if (forbidden.length > 0) {
      const present = forbidden.filter((n) => names.includes(n));
      add(
        "forbiddenTdAttributes",
        present.length === 0,
        [...forbidden],
        names,
        present.length === 0
          ? "no forbidden TD attribute is set"
          : present.includes("DEBUG")
            ? `forbidden TD attributes set: ${present.join(", ")} (a debug TD's memory is readable by the host)`
            : `forbidden TD attributes set: ${present.join(", ")}`,
      );
    }
    if (policy.minTeeTcbSvn !== undefined) {
      const actual = toHex(body.report.teeTcbSvn);
      const min = policy.minTeeTcbSvn;
      const low: number[] = [];
      for (let i = 0; i < 16; i++) {
        const want = Number.parseInt(min.slice(i * 2, i * 2 + 2), 16);
        if ((body.report.teeTcbSvn[i] ?? 0) < want) low.push(i);
      }
      add(
        "minTeeTcbSvn",
        low.length === 0,
        min,
        actual,
        low.length === 0
          ? "every TEE_TCB_SVN component is at least the minimum"
          : `TEE_TCB_SVN components below the minimum: byte ${low.join(", ")}`,
      );
    }
  } else if (body !== null) {
    // SGX enclave: the TD rules have no subject, except that a debug enclave is as open as a debug TD.
    const debug = sgxDebug(body.report.attributes);
    if (policy.forbiddenTdAttributes.includes("DEBUG"))
      add(
        "forbiddenTdAttributes",
        !debug,
        ["DEBUG"],
        debug ? ["DEBUG"] : [],
        debug ? "the SGX enclave is a debug enclave" : "the SGX enclave is not a debug enclave",
      );
    if (policy.requiredTdAttributes.length > 0)
      add(
        "requiredTdAttributes",
        false,
        [...policy.requiredTdAttributes],
        null,
        "TD attributes are required but the quote is an SGX quote",
      );
    if (policy.minTeeTcbSvn !== undefined)
      add(
        "minTeeTcbSvn",
        false,
        policy.minTeeTcbSvn,
        null,
        "TEE_TCB_SVN is required but the quote is an SGX quote",
      );
  } else if (policy.forbiddenTdAttributes.length > 0 || policy.requiredTdAttributes.length > 0) {
    add(
      "forbiddenTdAttributes",
      false,
      [...policy.forbiddenTdAttributes],
      null,
      "no parsed quote to check the attributes of",
    );
  }

  const denials = evaluated
    .filter((o) => !o.passed)
    .map(({ rule, expected, actual, message }) => ({ rule, expected, actual, message }));
  return { allowed: denials.length === 0, denials, evaluated };
}

/** Throws POLICY_DENIED with every denial in `data` unless the appraisal allowed. */
export function assertAllowed(appraisal: Appraisal): void {
  if (appraisal.allowed) return;
  throw new TdxError(
    "POLICY_DENIED",
    `policy refused: ${appraisal.denials.map((d) => `${d.rule}: ${d.message}`).join("; ")}`,
    {
      hint: "see the denials for the rule, the expected and the actual value",
      data: { denials: appraisal.denials },
    },
  );
}
