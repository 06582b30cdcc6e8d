import { describe, expect, it } from "vitest";
import { readTeeEvidence } from "../../src/kbs/evidence.js";

const quote = Buffer.from("a quote").toString("base64");

describe("readTeeEvidence: the composite tee-evidence of KBS protocol 0.4.0", () => {
  it("keeps the additional_evidence text as sent (it takes part in the REPORTDATA binding)", () => {
    const extra = '{"nvgpu": {"evidence": "..."}}';
    const r = readTeeEvidence({ primary_evidence: { quote }, additional_evidence: extra });
    expect(r.additionalEvidence).toBe(extra);
    expect(readTeeEvidence({ primary_evidence: { quote }, additional_evidence: "" }).additionalEvidence).toBe(
      "",
    );
  });

  // Trustee parses non-empty device evidence as a {tee: evidence} map and refuses the attestation otherwise
  // (kbs/src/attestation/mod.rs __attest).
  it.each([
    ["text that is not JSON", "this is not JSON"],
    ["a JSON array", "[1, 2]"],
    ["a JSON string", '"gpu"'],
    ["JSON null", "null"],
  ])("refuses additional_evidence that is %s", (_what, extra) => {
    expect(() => readTeeEvidence({ primary_evidence: { quote }, additional_evidence: extra })).toThrowError(
      expect.objectContaining({ code: "KBS_EVIDENCE_INVALID", field: "tee-evidence.additional_evidence" }),
    );
  });
});
