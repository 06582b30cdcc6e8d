import { TdxError } from "../errors.js";
import { DEFAULT_RESOURCE_POLICY, type ResourcePolicy } from "./resource-policy.js";

/**
 * Trustee's canned resource policies (kbs/sample_policies, what `kbs-client config set-resource-policy
 * --allow-all | --deny-all | --affirming | --default` sends), read as this broker's JSON rules. Rego in
 * general is not evaluated here; these four are recognised by their rules, comments and layout aside.
 */
export function resourcePolicyFromRego(text: string): { name: string; policy: ResourcePolicy } | null {
  const norm = text
    .split("\n")
    .map((l) => l.replace(/#.*$/, ""))
    .join(" ")
    .replace(/\s+/g, " ")
    .trim();
  const body = norm.replace(/^package policy /, "").replace(/^import rego\.v1 /, "");
  if (!norm.startsWith("package policy")) return null;
  if (/^default allow :?= true$/.test(body)) return { name: "allow_all", policy: { allow: "all" } };
  if (/^default allow :?= false$/.test(body)) return { name: "deny_all", policy: { allow: "none" } };
  if (body.includes('submod["ear.status"] != "affirming"') && body.includes("count(input.submods) > 0"))
    return {
      name: "affirming",
      policy: { rules: [{ name: "affirming", claim: "ear_status", in: ["affirming"] }] },
    };
  if (/default allow :?= false/.test(body) && body.includes('plugin == "resource"'))
    return { name: "default", policy: DEFAULT_RESOURCE_POLICY };
  return null;
}

/** Decode a policy sent base64-encoded (Trustee sends URL-safe without padding; any variant is read). */
export function decodePolicyField(v: unknown, field: string): string {
  if (typeof v !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v))
    throw new TdxError("KBS_REQUEST_INVALID", `${field} must be the policy text in base64url`, {
      field,
      hint: 'send {"policy": "<base64url of the policy file>"} as kbs-client does',
    });
  return Buffer.from(v.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
}

export function regoUnsupported(what: string, hint: string): TdxError {
  return new TdxError("KBS_REGO_UNSUPPORTED", `${what}: this broker does not evaluate Rego`, {
    field: "policy",
    hint,
  });
}
