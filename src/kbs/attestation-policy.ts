import { type AppraisalInput, appraise, DEFAULT_POLICY, readPolicy } from "../policy/index.js";
import type { AttestationPolicyEngine, EvidenceVerdict, PolicyDenial } from "./evidence.js";

/**
 * The attestation policy engine: the project's appraisal policy (src/policy) applied to the
 * verifier's result. Policies are stored as their JSON text.
 */
export const appraisalPolicyEngine: AttestationPolicyEngine = {
  // Empty lists are left out: the policy reader wants every list it is given to be non-empty.
  defaultPolicyText: `${JSON.stringify(
    Object.fromEntries(
      Object.entries(DEFAULT_POLICY).filter(([, v]) => !(Array.isArray(v) && v.length === 0)),
    ),
    null,
    2,
  )}\n`,
  check(text: string): void {
    readPolicy(text);
  },
  appraise(verdict: EvidenceVerdict, text: string, now: Date): { allowed: boolean; denials: PolicyDenial[] } {
    const input: AppraisalInput = isAppraisalInput(verdict.result)
      ? verdict.result
      : {
          ok: verdict.ok,
          tcbStatus: verdict.tcbStatus ?? null,
          advisoryIds: verdict.advisoryIds,
          collateralExpired: verdict.collateralExpired,
          matchedTcbLevel: verdict.tcbDate ? { tcbDate: verdict.tcbDate } : null,
          quote: verdict.quote ? { body: verdict.quote.body } : null,
        };
    const out = appraise(input, readPolicy(text), { now });
    return { allowed: out.allowed, denials: out.denials };
  },
};

function isAppraisalInput(v: unknown): v is AppraisalInput {
  return (
    v !== null &&
    typeof v === "object" &&
    typeof (v as AppraisalInput).ok === "boolean" &&
    Array.isArray((v as AppraisalInput).advisoryIds) &&
    "quote" in v
  );
}
