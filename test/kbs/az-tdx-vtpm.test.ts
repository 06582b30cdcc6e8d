import { describe, expect, it } from "vitest";
import { serializeAzTdxVtpmEvidence } from "../../src/abi/index.js";
import {
  azAttestationMessage,
  CLAIM_NAMES,
  claimPointer,
  expectedReportData,
  isAzTdxVtpmSource,
  parseResourcePolicy,
  readAzTdxVtpmTeeEvidence,
  readSessionEvidence,
  runtimeDataDigest,
} from "../../src/kbs/index.js";
import { createSimAzureParavisor } from "../../src/sim/index.js";
import { tdxErrorOf } from "../helpers/errors.js";

/** Trustee's published JCS vector's key (P-256 generator) and nonce (relying-party.md §1.4). */
const JWK = {
  alg: "ECDH-ES+A256KW",
  crv: "P-256",
  kty: "EC",
  x: "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
  y: "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
};
const NONCE = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString("base64");

describe("az-tdx-vtpm binding: the raw runtime-data digest", () => {
  it("is the TDX REPORTDATA without its padding (48 bytes for SHA-384, Trustee's vector)", () => {
    const d = runtimeDataDigest(NONCE, JWK, "", "sha384");
    expect(Buffer.from(d).toString("hex")).toBe(
      "9edc01b09e997f6578d6bd8f7fc2b28dfaaf4e5417793667b7ece025d50c7cf5b9b0f7d2bbbcebe25d2f53bd33807ce3",
    );
    expect(expectedReportData(NONCE, JWK, "", "sha384").subarray(0, 48)).toEqual(d);
    expect(runtimeDataDigest(NONCE, JWK, "", "sha256")).toHaveLength(32);
    expect(runtimeDataDigest(NONCE, JWK, "", "sha512")).toHaveLength(64);
  });

  it("goes into the session's evidence, with the init-data digest for PCR 8", async () => {
    const pv = await createSimAzureParavisor();
    const json = pv.evidenceJson({ nonce: "n" });
    const digest = new Uint8Array(32).fill(9);
    const { evidence, additionalEvidence, sentSha256 } = readSessionEvidence(
      { tee: "az-tdx-vtpm", nonce: NONCE, hashAlg: "sha384" },
      { primary_evidence: JSON.parse(json), additional_evidence: "" },
      JWK,
      { format: "toml", version: "0.1.0", algorithm: "sha256", digest, data: {} },
    );
    expect(additionalEvidence).toBe("");
    expect(sentSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(evidence).toMatchObject({
      tee: "az-tdx-vtpm",
      reportData: runtimeDataDigest(NONCE, JWK, "", "sha384"),
      initDataHash: digest,
    });
  });
});

describe("reading az-tdx-vtpm tee-evidence", async () => {
  const pv = await createSimAzureParavisor();
  const ev = pv.evidence({ nonce: "challenge" });
  const json = serializeAzTdxVtpmEvidence(ev);

  it.each([
    [
      "the composite form with the evidence object",
      { primary_evidence: JSON.parse(json), additional_evidence: "" },
    ],
    [
      "the composite form with the evidence as JSON text",
      { primary_evidence: json, additional_evidence: "" },
    ],
    ["the bare evidence object", JSON.parse(json)],
    ["the whole tee-evidence as JSON text", JSON.stringify({ primary_evidence: JSON.parse(json) })],
  ])("takes %s", (_what, teeEvidence) => {
    const r = readAzTdxVtpmTeeEvidence(teeEvidence);
    expect(r.evidence.version).toBe(2);
    expect(r.evidence.hclReport).toEqual(ev.hclReport);
    expect(r.evidence.tpmQuote.message).toEqual(ev.tpmQuote.message);
  });

  it("keeps additional_evidence (it takes part in the digest)", () => {
    const r = readAzTdxVtpmTeeEvidence({ primary_evidence: json, additional_evidence: '{"gpu":1}' });
    expect(r.additionalEvidence).toBe('{"gpu":1}');
  });

  it.each([
    ["a TDX quote object", { primary_evidence: { quote: "AAAA" } }, "AZ_EVIDENCE_UNKNOWN_FIELD"],
    [
      "version 3",
      { primary_evidence: { ...JSON.parse(json), version: 3 } },
      "AZ_EVIDENCE_VERSION_UNSUPPORTED",
    ],
    [
      "a PCR that is not hex",
      {
        primary_evidence: { ...JSON.parse(json), tpm_quote: { ...JSON.parse(json).tpm_quote, pcrs: ["zz"] } },
      },
      "AZ_EVIDENCE_MALFORMED",
    ],
    ["no evidence at all", { primary_evidence: null }, "AZ_EVIDENCE_MALFORMED"],
  ])("refuses %s as KBS_EVIDENCE_INVALID with the parser's code", (_what, teeEvidence, cause) => {
    const e = tdxErrorOf(() => readAzTdxVtpmTeeEvidence(teeEvidence));
    expect(e.code).toBe("KBS_EVIDENCE_INVALID");
    expect(e.data?.cause).toMatchObject({ code: cause });
    expect(e.hint).toMatch(/tee is az-tdx-vtpm/);
  });

  it("the client's Attestation message carries the evidence object and init-data", () => {
    const m = azAttestationMessage(NONCE, JWK, json, 'version = "0.1.0"');
    expect(m["tee-evidence"].primary_evidence).toEqual(JSON.parse(json));
    expect(m["init-data"]).toEqual({ format: "toml", body: 'version = "0.1.0"' });
    expect(isAzTdxVtpmSource({ tee: "az-tdx-vtpm", getAzTdxVtpmEvidence: async () => json })).toBe(true);
    expect(isAzTdxVtpmSource({ getQuote: async () => ({ quote: new Uint8Array() }) })).toBe(false);
  });
});

describe("PCR claim names in resource policies", () => {
  it("pcrs is the whole map, pcrs/pcrNN one PCR, at Trustee's place under az-tdx-vtpm.tpm", () => {
    expect(CLAIM_NAMES.pcrs).toBe("/submods/cpu0/ear.veraison.annotated-evidence/az-tdx-vtpm/tpm");
    expect(claimPointer("pcrs/pcr07")).toBe(`${CLAIM_NAMES.pcrs}/pcr07`);
    expect(claimPointer("pcrs/pcr23")).toBe(`${CLAIM_NAMES.pcrs}/pcr23`);
  });

  it.each(["pcrs/pcr7", "pcrs/7", "pcrs/PCR07", "pcrs/pcr07/x", "pcrs/"])(
    "refuses %s when the policy is set",
    (claim) => {
      const e = tdxErrorOf(() => parseResourcePolicy(JSON.stringify({ rules: [{ claim, equals: "00" }] })));
      expect(e.code).toBe("KBS_RESOURCE_POLICY_INVALID");
      expect(e.hint).toMatch(/pcrs\/pcrNN/);
    },
  );
});
