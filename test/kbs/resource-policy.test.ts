import { describe, expect, it } from "vitest";
import { isTdxError } from "../../src/errors.js";
import { evaluateResourcePolicy, parseResourcePolicy } from "../../src/kbs/resource-policy.js";

const tdx = {
  quote: { body: { mr_td: "AB".repeat(48), rtmr_1: "00".repeat(48), mr_config_id: "00".repeat(48) } },
  td_attributes: { debug: false },
  tcb_status: "SWHardeningNeeded",
  advisory_ids: ["INTEL-SA-00615", "INTEL-SA-00837"],
  tcb_date: "2024-03-13T00:00:00Z",
  collateral_expiration_status: "0",
};
const claims = {
  submods: { cpu0: { "ear.status": "warning", "ear.veraison.annotated-evidence": { tdx } } },
  custom: { level: 3 },
};

const run = (rules: unknown[]) =>
  evaluateResourcePolicy(parseResourcePolicy(JSON.stringify({ rules })), claims);

describe("resource policies", () => {
  it("evaluates every operator and compares hex case-insensitively", () => {
    expect(
      run([
        { claim: "mr_td", in: ["ab".repeat(48)] },
        { claim: "debug", equals: false },
        { claim: "collateral_expired", equals: false },
        { claim: "tcb_status", notIn: ["OutOfDate"] },
        { claim: "mr_config_id", matches: "0+" },
        { claim: "advisory_ids", excludes: ["INTEL-SA-00999"] },
        { claim: "tcb_date", atLeast: "2024-01-01T00:00:00Z" },
        { claim: "/custom/level", atLeast: 3 },
      ]).allowed,
    ).toBe(true);
  });

  it("reports each failed rule with expected and actual", () => {
    const out = run([
      { name: "up-to-date", claim: "tcb_status", in: ["UpToDate"] },
      { claim: "advisory_ids", excludes: ["INTEL-SA-00837"] },
      { claim: "tcb_date", atLeast: "2025-01-01T00:00:00Z" },
      { claim: "/custom/missing", equals: 1 },
      { claim: "ear_status", equals: "affirming" },
    ]);
    expect(out.allowed).toBe(false);
    expect(out.denials.map((d) => [d.rule, d.expected, d.actual])).toEqual([
      ["up-to-date", ["UpToDate"], "SWHardeningNeeded"],
      ["advisory_ids excludes", { none_of: ["INTEL-SA-00837"] }, ["INTEL-SA-00615", "INTEL-SA-00837"]],
      ["tcb_date atLeast", "2025-01-01T00:00:00Z", "2024-03-13T00:00:00Z"],
      ["/custom/missing equals", 1, null],
      ["ear_status equals", "affirming", "warning"],
    ]);
    expect(out.denials[3]!.message).toMatch(/no claim/);
  });

  it("has trivial allow-all and deny-all policies", () => {
    expect(evaluateResourcePolicy(parseResourcePolicy('{"allow":"all"}'), {}).allowed).toBe(true);
    const none = evaluateResourcePolicy(parseResourcePolicy('{"allow":"none"}'), claims);
    expect(none.allowed).toBe(false);
    expect(none.denials[0]!.rule).toBe("allow");
  });

  it("refuses policies it cannot read, naming the field", () => {
    const bad: [string, string][] = [
      ["not json", "policy"],
      ["[]", "policy"],
      ['{"rules": []}', "rules"],
      ['{"rules": [{"claim": "mr_td"}]}', "rules[0]"],
      ['{"rules": [{"claim": "mr_td", "in": "ab"}]}', "rules[0].in"],
      ['{"rules": [{"claim": "mrtd", "equals": 1}]}', "rules[0].claim"],
      ['{"rules": [{"claim": "mr_td", "equals": 1, "in": [1]}]}', "rules[0]"],
      ['{"rules": [{"claim": "mr_td", "matches": "("}]}', "rules[0].matches"],
      ['{"rules": [{"claim": "mr_td", "equals": 1, "extra": 1}]}', "rules[0].extra"],
      ['{"allow": "some"}', "allow"],
      ['{"allow": "all", "rules": [{"claim": "debug", "equals": false}]}', "rules"],
      ['{"rule": []}', "rule"],
    ];
    for (const [text, field] of bad) {
      try {
        parseResourcePolicy(text);
        expect.unreachable(text);
      } catch (e) {
        expect(isTdxError(e) && e.code).toBe("KBS_RESOURCE_POLICY_INVALID");
        expect(isTdxError(e) && e.field).toBe(field);
      }
    }
  });
});
