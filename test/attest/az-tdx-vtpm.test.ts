import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type AzTdxVtpmEvidence, parseAzTdxVtpmEvidence } from "../../src/abi/index.js";
import type { Quote } from "../../src/abi/types.js";
import {
  type AttestedAzTdxVtpmEvidence,
  appraiseEvidence,
  type CollateralProvider,
  TdxEvidenceVerifier,
  verifyTeeEvidence,
} from "../../src/attest/index.js";
import { readCollateral } from "../../src/collateral/json.js";
import type { Collateral } from "../../src/collateral/types.js";
import {
  addAzTdxVtpmClaims,
  buildTokenClaims,
  checkAzTdxVtpmOutcome,
  claimValue,
  evaluateResourcePolicy,
  generateTeeKeyPair,
  parseResourcePolicy,
} from "../../src/kbs/index.js";
import { readPolicy } from "../../src/policy/index.js";
import { createSimAzureParavisor, SimCollateralProvider } from "../../src/sim/index.js";
import { AZ_SKIP_REASON, azVectors } from "../helpers/az-vectors.js";
import { rejectionOf, tdxErrorOf } from "../helpers/errors.js";
import { vectorsDir } from "../helpers/vectors.js";
import { FakeVerifier } from "../server/fake-evidence.js";

const az = azVectors();
const CHALLENGE = new TextEncoder().encode("challenge");

/** A collateral provider that answers with one fixed collateral set (the vector case's), counting calls. */
class FixedCollateral implements CollateralProvider {
  readonly description = "the vector case's collateral";
  calls = 0;
  constructor(readonly collateral: Collateral | Error) {}
  async forQuote(_quote: Quote, _now: Date): Promise<Collateral> {
    this.calls++;
    if (this.collateral instanceof Error) throw this.collateral;
    return this.collateral;
  }
}

describe.skipIf(!az)(`the broker's evidence verifier on the real Azure capture (${AZ_SKIP_REASON})`, () => {
  const at = () => new Date(az!.at * 1000);
  const verifierWith = (c: Collateral | Error) => {
    const provider = new FixedCollateral(c);
    // Intel's SGX Root CA only: the capture's TD quote chains to it.
    return { provider, verifier: new TdxEvidenceVerifier(provider) };
  };

  it.each(["evidenceV0", "evidenceV1"] as const)(
    "%s is accepted at the collateral's time with nonce `challenge`: Intel's verdict, Trustee's claims",
    async (which) => {
      const { provider, verifier } = verifierWith(readCollateral(az!.collateralText));
      const evidence = parseAzTdxVtpmEvidence(az![which]);
      const attested = (await verifyTeeEvidence(
        verifier,
        { tee: "az-tdx-vtpm", evidence, reportData: CHALLENGE },
        at(),
      )) as AttestedAzTdxVtpmEvidence;
      expect(provider.calls).toBe(1);
      expect(attested.result.error).toBeNull();
      expect(attested.result.ok).toBe(true);
      expect(attested.tee).toBe("az-tdx-vtpm");
      expect(attested.evidenceVersion).toBe(which === "evidenceV0" ? 0 : 1);
      expect(attested.result.tcbStatus).toBe(az!.expected.expect.tcbStatus);
      expect(attested.result.checks.every((c) => c.passed || c.nonFatal)).toBe(true);
      expect(attested.nonce).toBe(Buffer.from("challenge").toString("hex"));
      expect(attested.pcrs).toHaveLength(24);
      expect(() => checkAzTdxVtpmOutcome(attested, { algorithm: "sha384" })).not.toThrow();

      // The token claims, as Trustee's ignored upstream test expects them for this capture
      // (deps/verifier/src/az_tdx_vtpm/mod.rs test_evaluate: report_data and tpm.pcr00).
      const claims = buildTokenClaims({
        attested,
        teePubkey: generateTeeKeyPair().publicJwk,
        nonce: "challenge",
        policyId: "default",
        additionalEvidence: "",
        hashAlgorithm: "sha384",
      });
      addAzTdxVtpmClaims(claims, attested);
      expect(claimValue(claims, "report_data")).toBe("6368616c6c656e6765");
      expect(claimValue(claims, "pcrs/pcr00")).toBe(
        "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273",
      );
      expect(claimValue(claims, "init_data")).toBe("00".repeat(32));
      expect(claimValue(claims, "tcb_status")).toBe("OutOfDate");
      expect(claimValue(claims, "mr_td")).toBe(Buffer.from(attested.report.mrTd).toString("hex"));
      // The TD quote's own REPORTDATA (SHA-256 of the HCL var data) stays where a bare TD's is.
      expect(
        claimValue(claims, "/submods/cpu0/ear.veraison.annotated-evidence/tdx/quote/body/report_data"),
      ).toBe(Buffer.from(attested.report.reportData).toString("hex"));

      // Appraisal: the default policy accepts UpToDate only; one that accepts OutOfDate lets it through.
      expect(appraiseEvidence(attested, readPolicy(JSON.stringify({})), at()).allowed).toBe(false);
      const lenient = readPolicy(JSON.stringify({ acceptedTcbStatuses: ["OutOfDate"] }));
      expect(appraiseEvidence(attested, lenient, at()).allowed).toBe(true);

      // A resource policy on a PCR sees the capture's values.
      const rule = (equals: string) =>
        parseResourcePolicy(JSON.stringify({ rules: [{ claim: "pcrs/pcr00", equals }] }));
      expect(evaluateResourcePolicy(rule(claimValue(claims, "pcrs/pcr00") as string), claims).allowed).toBe(
        true,
      );
      expect(evaluateResourcePolicy(rule("00".repeat(32)), claims).allowed).toBe(false);
    },
  );

  it("another nonce is the binding failure the broker reports as KBS_REPORTDATA_MISMATCH", async () => {
    const { verifier } = verifierWith(readCollateral(az!.collateralText));
    const attested = (await verifyTeeEvidence(
      verifier,
      {
        tee: "az-tdx-vtpm",
        evidence: parseAzTdxVtpmEvidence(az!.evidenceV1),
        reportData: CHALLENGE.slice(1),
      },
      at(),
    )) as AttestedAzTdxVtpmEvidence;
    expect(attested.result.error?.code).toBe("AZ_NONCE_MISMATCH");
    const e = tdxErrorOf(() => checkAzTdxVtpmOutcome(attested, { algorithm: "sha384" }));
    expect(e.code).toBe("KBS_REPORTDATA_MISMATCH");
    expect(e.data).toMatchObject({
      expected: Buffer.from("hallenge").toString("hex"),
      actual: Buffer.from("challenge").toString("hex"),
    });
  });

  it("a tampered PCR is KBS_EVIDENCE_REJECTED with the verifier's AZ_PCR_DIGEST_MISMATCH", async () => {
    const { verifier } = verifierWith(readCollateral(az!.collateralText));
    const evidence: AzTdxVtpmEvidence = parseAzTdxVtpmEvidence(az!.evidenceV1);
    evidence.tpmQuote.pcrs[7]![0]! ^= 1;
    const attested = (await verifyTeeEvidence(
      verifier,
      { tee: "az-tdx-vtpm", evidence, reportData: CHALLENGE },
      at(),
    )) as AttestedAzTdxVtpmEvidence;
    const e = tdxErrorOf(() => checkAzTdxVtpmOutcome(attested, { algorithm: "sha384" }));
    expect(e.code).toBe("KBS_EVIDENCE_REJECTED");
    expect(e.data?.problems).toMatchObject([{ code: "AZ_PCR_DIGEST_MISMATCH" }]);
  });

  it("init-data the capture did not bind (its PCR 8 is zero) is KBS_INIT_DATA_MISMATCH", async () => {
    const { verifier } = verifierWith(readCollateral(az!.collateralText));
    const attested = (await verifyTeeEvidence(
      verifier,
      {
        tee: "az-tdx-vtpm",
        evidence: parseAzTdxVtpmEvidence(az!.evidenceV1),
        reportData: CHALLENGE,
        initDataHash: new Uint8Array(32).fill(1),
      },
      at(),
    )) as AttestedAzTdxVtpmEvidence;
    expect(tdxErrorOf(() => checkAzTdxVtpmOutcome(attested, { algorithm: "sha384" })).code).toBe(
      "KBS_INIT_DATA_MISMATCH",
    );
  });

  it("collateral the broker cannot get is ATTEST_COLLATERAL_UNAVAILABLE (the relying party's problem)", async () => {
    const { verifier } = verifierWith(new Error("PCCS down"));
    const e = await rejectionOf(
      verifyTeeEvidence(
        verifier,
        { tee: "az-tdx-vtpm", evidence: parseAzTdxVtpmEvidence(az!.evidenceV1), reportData: CHALLENGE },
        at(),
      ),
    );
    expect(e.code).toBe("ATTEST_COLLATERAL_UNAVAILABLE");
    expect(e.message).toMatch(/PCCS down/);
  });

  it("an SGX enclave quote in td_quote is ATTEST_NOT_TD_QUOTE, before any collateral is asked", async () => {
    const root = vectorsDir()!;
    const sgx = new Uint8Array(
      readFileSync(join(root, "cases", "dcapqvl_sgx_v3_00a06711_2025-06", "quote.bin")),
    );
    const { provider, verifier } = verifierWith(readCollateral(az!.collateralText));
    const evidence = { ...parseAzTdxVtpmEvidence(az!.evidenceV1), tdQuote: sgx };
    const e = await rejectionOf(
      verifyTeeEvidence(verifier, { tee: "az-tdx-vtpm", evidence, reportData: CHALLENGE }, at()),
    );
    expect(e.code).toBe("ATTEST_NOT_TD_QUOTE");
    expect(provider.calls).toBe(0);
  });
});

describe("dispatch by tee", () => {
  it("a verifier that knows only TDX refuses az-tdx-vtpm evidence with ATTEST_TEE_UNSUPPORTED", async () => {
    const pv = await createSimAzureParavisor();
    const e = await rejectionOf(
      verifyTeeEvidence(
        new FakeVerifier(),
        { tee: "az-tdx-vtpm", evidence: pv.evidence({ nonce: CHALLENGE }), reportData: CHALLENGE },
        new Date(),
      ),
    );
    expect(e.code).toBe("ATTEST_TEE_UNSUPPORTED");
  });

  it("TdxEvidenceVerifier verifies both tees with one collateral provider and one set of anchors", async () => {
    const pv = await createSimAzureParavisor();
    const verifier = new TdxEvidenceVerifier(new SimCollateralProvider(pv.platform), {
      trustAnchors: [pv.rootCaPem],
    });
    const now = new Date();
    const azr = await verifyTeeEvidence(
      verifier,
      { tee: "az-tdx-vtpm", evidence: pv.evidence({ nonce: CHALLENGE }), reportData: CHALLENGE },
      now,
    );
    expect([azr.tee, azr.result.ok]).toEqual(["az-tdx-vtpm", true]);
    const tdx = await verifyTeeEvidence(
      verifier,
      { tee: "tdx", quote: pv.platform.quote(new Uint8Array(64)) },
      now,
    );
    expect([tdx.tee, tdx.result.ok]).toEqual(["tdx", true]);
    // Intel's root only: the simulated Azure TD's quote is refused.
    const intelOnly = new TdxEvidenceVerifier(new SimCollateralProvider(pv.platform));
    const refused = await verifyTeeEvidence(
      intelOnly,
      { tee: "az-tdx-vtpm", evidence: pv.evidence({ nonce: CHALLENGE }), reportData: CHALLENGE },
      now,
    );
    expect(refused.result.ok).toBe(false);
    expect(refused.result.error?.data?.check).toMatch(/^tdQuote\./);
  });
});
