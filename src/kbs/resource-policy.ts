import { TdxError } from "../errors.js";
import { CLAIM_NAMES, claimPointer, claimValue } from "./claims.js";
import type { PolicyDenial } from "./evidence.js";

/**
 * Resource policy: which verified token may receive a resource. A JSON document of rules over the
 * token's claims (stable names from CLAIM_NAMES or JSON pointers); every rule must hold. Each failing
 * rule becomes a denial naming the rule, the expected and the actual value.
 *
 *   {"rules": [{"claim": "debug", "equals": false},
 *              {"claim": "tcb_status", "in": ["UpToDate"]},
 *              {"claim": "mr_td", "in": ["<hex>"]},
 *              {"claim": "advisory_ids", "excludes": ["INTEL-SA-00837"]}]}
 *
 * {"allow": "all"} and {"allow": "none"} are the trivial policies.
 */
export interface ResourcePolicy {
  allow?: "all" | "none";
  rules?: ResourceRule[];
}

export interface ResourceRule {
  /** Name shown in denials; defaults to "<claim> <operator>". */
  name?: string;
  claim: string;
  equals?: unknown;
  in?: unknown[];
  notIn?: unknown[];
  /** Regular expression the (string) claim must match in full. */
  matches?: string;
  /** The claim (an array) must contain none of these. */
  excludes?: unknown[];
  /** The claim (a number, or an ISO date string) must be >= this. */
  atLeast?: number | string;
}

const OPERATORS = ["equals", "in", "notIn", "matches", "excludes", "atLeast"] as const;

export function parseResourcePolicy(text: string): ResourcePolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`resource policy is not JSON: ${(e as Error).message}`, "policy");
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw bad("resource policy must be a JSON object", "policy");
  const p = doc as Record<string, unknown>;
  for (const k of Object.keys(p))
    if (k !== "allow" && k !== "rules" && k !== "description") throw bad(`unknown field ${k}`, k);
  if (p.allow !== undefined) {
    if (p.allow !== "all" && p.allow !== "none") throw bad('allow must be "all" or "none"', "allow");
    if (p.rules !== undefined) throw bad("a policy has either allow or rules, not both", "rules");
    return { allow: p.allow };
  }
  if (!Array.isArray(p.rules) || p.rules.length === 0)
    throw bad("resource policy needs a non-empty rules array (or allow)", "rules");
  const rules = p.rules.map((r, i) => checkRule(r, i));
  return { rules };
}

function checkRule(r: unknown, i: number): ResourceRule {
  const field = `rules[${i}]`;
  if (r === null || typeof r !== "object" || Array.isArray(r)) throw bad(`${field} must be an object`, field);
  const rule = r as Record<string, unknown>;
  for (const k of Object.keys(rule))
    if (k !== "name" && k !== "claim" && !(OPERATORS as readonly string[]).includes(k))
      throw bad(`${field} has unknown field ${k}`, `${field}.${k}`);
  if (typeof rule.claim !== "string") throw bad(`${field}.claim must be a string`, `${field}.claim`);
  if (!rule.claim.startsWith("/") && claimPointer(rule.claim) === undefined)
    throw bad(`${field}.claim ${rule.claim} is not a known claim name`, `${field}.claim`, knownClaimNames());
  const ops = OPERATORS.filter((o) => o in rule);
  if (ops.length !== 1) throw bad(`${field} needs exactly one of ${OPERATORS.join(", ")}`, field);
  for (const o of ["in", "notIn", "excludes"] as const)
    if (o in rule && !Array.isArray(rule[o])) throw bad(`${field}.${o} must be an array`, `${field}.${o}`);
  if ("matches" in rule) {
    if (typeof rule.matches !== "string") throw bad(`${field}.matches must be a string`, `${field}.matches`);
    try {
      new RegExp(rule.matches);
    } catch {
      throw bad(`${field}.matches is not a valid regular expression`, `${field}.matches`);
    }
  }
  if ("atLeast" in rule && typeof rule.atLeast !== "number" && typeof rule.atLeast !== "string")
    throw bad(`${field}.atLeast must be a number or an ISO date`, `${field}.atLeast`);
  return rule as unknown as ResourceRule;
}

/** The stable claim names, and the forms that name one entry of a map claim, for hints. */
function knownClaimNames(): string[] {
  return [...Object.keys(CLAIM_NAMES), "init_data_claims/<entry>", "pcrs/pcrNN"];
}

function bad(message: string, field: string, known?: string[]): TdxError {
  return new TdxError("KBS_RESOURCE_POLICY_INVALID", message, {
    field,
    hint: known
      ? `use one of: ${known.join(", ")}, or a JSON pointer starting with /`
      : 'see docs/kbs.md "Resource policies" for the format',
  });
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const eqCI = (a: unknown, b: unknown) =>
  typeof a === "string" && typeof b === "string" ? a.toLowerCase() === b.toLowerCase() : same(a, b);

/** Evaluate a policy on token claims; allowed when no rule is denied. */
export function evaluateResourcePolicy(
  policy: ResourcePolicy,
  claims: unknown,
): { allowed: boolean; denials: PolicyDenial[] } {
  if (policy.allow === "all") return { allowed: true, denials: [] };
  if (policy.allow === "none")
    return {
      allowed: false,
      denials: [
        { rule: "allow", expected: "all", actual: "none", message: "the resource policy releases to no one" },
      ],
    };
  const denials: PolicyDenial[] = [];
  for (const rule of policy.rules ?? []) {
    const actual = claimValue(claims, rule.claim);
    const denial = checkOne(rule, actual);
    if (denial) denials.push(denial);
  }
  return { allowed: denials.length === 0, denials };
}

function checkOne(rule: ResourceRule, actual: unknown): PolicyDenial | undefined {
  const deny = (op: string, expected: unknown, message: string): PolicyDenial => ({
    rule: rule.name ?? `${rule.claim} ${op}`,
    expected,
    actual: actual === undefined ? null : actual,
    message,
  });
  if (actual === undefined) {
    const op = OPERATORS.find((o) => o in rule) ?? "equals";
    return deny(op, rule[op], `the token has no claim ${rule.claim}`);
  }
  if ("equals" in rule && !eqCI(actual, rule.equals))
    return deny(
      "equals",
      rule.equals,
      `${rule.claim} is ${JSON.stringify(actual)}, the policy requires ${JSON.stringify(rule.equals)}`,
    );
  if (rule.in && !rule.in.some((v) => eqCI(actual, v)))
    return deny("in", rule.in, `${rule.claim} ${JSON.stringify(actual)} is not one of the allowed values`);
  if (rule.notIn?.some((v) => eqCI(actual, v)))
    return deny("notIn", rule.notIn, `${rule.claim} ${JSON.stringify(actual)} is a refused value`);
  if (
    rule.matches !== undefined &&
    !(typeof actual === "string" && new RegExp(`^(?:${rule.matches})$`).test(actual))
  )
    return deny("matches", rule.matches, `${rule.claim} does not match ${rule.matches}`);
  if (rule.excludes) {
    const list = Array.isArray(actual) ? actual : [actual];
    const hit = list.filter((v) => rule.excludes!.some((x) => eqCI(v, x)));
    if (hit.length > 0)
      return deny(
        "excludes",
        { none_of: rule.excludes },
        `${rule.claim} contains refused ${JSON.stringify(hit)}`,
      );
  }
  if (rule.atLeast !== undefined) {
    const ok =
      typeof rule.atLeast === "number"
        ? typeof actual === "number" && actual >= rule.atLeast
        : typeof actual === "string" && Date.parse(actual) >= Date.parse(rule.atLeast);
    if (!ok)
      return deny(
        "atLeast",
        rule.atLeast,
        `${rule.claim} ${JSON.stringify(actual)} is below ${rule.atLeast}`,
      );
  }
  return undefined;
}

/** The policy seeded as "default": a TD that passed attestation, not debuggable, collateral current. */
export const DEFAULT_RESOURCE_POLICY: ResourcePolicy = {
  rules: [
    { name: "attested", claim: "ear_status", in: ["affirming", "warning"] },
    { name: "not-debuggable", claim: "debug", equals: false },
    { name: "collateral-current", claim: "collateral_expired", equals: false },
  ],
};
