import { type Appraisal, appraise, DEFAULT_POLICY, type Policy, readPolicy } from "../policy/index.js";
import type { AttestedTeeEvidence } from "./tee.js";

/** The default attestation policy as stored text (empty lists left out: the reader wants them non-empty). */
export const DEFAULT_ATTESTATION_POLICY_TEXT = `${JSON.stringify(
  Object.fromEntries(Object.entries(DEFAULT_POLICY).filter(([, v]) => !(Array.isArray(v) && v.length === 0))),
  null,
  2,
)}\n`;

/** Appraise verified evidence: the verifier's typed result goes to src/policy as it is. */
export function appraiseEvidence(attested: AttestedTeeEvidence, policy: Policy, now: Date): Appraisal {
  return appraise(attested.result, policy, { now });
}

/**
 * Parsed policies, kept per (name, version): a policy is read once per change, not once per request.
 * The text is compared on every hit, so a reused version number can never serve a stale parse.
 */
export class PolicyCache<T> {
  readonly #entries = new Map<string, { version: string; text: string; value: T }>();

  constructor(
    readonly parse: (text: string) => T,
    readonly max = 256,
  ) {}

  get(name: string, version: string | number, text: string): T {
    const hit = this.#entries.get(name);
    if (hit && hit.version === String(version) && hit.text === text) return hit.value;
    const value = this.parse(text);
    if (this.#entries.size >= this.max && !hit) this.#entries.clear();
    this.#entries.set(name, { version: String(version), text, value });
    return value;
  }
}

/** A cache of attestation (appraisal) policies. */
export function appraisalPolicyCache(): PolicyCache<Policy> {
  return new PolicyCache((text) => readPolicy(text));
}
