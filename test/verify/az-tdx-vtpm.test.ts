import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type AzTdxVtpmEvidence,
  parseAzTdxVtpmEvidence,
  serializeAzTdxVtpmEvidence,
} from "../../src/abi/index.js";
import { readCollateral } from "../../src/collateral/json.js";
import { diagnoseRsaPkcs1Sha256 } from "../../src/crypto/rsa.js";
import {
  type AzTdxVtpmOptions,
  type AzTdxVtpmResult,
  verifyAzTdxVtpm,
  verifyAzTdxVtpmAsync,
} from "../../src/verify/index.js";
import { AZ_SKIP_REASON, azVectors } from "../helpers/az-vectors.js";

const az = azVectors();

/** The checks of the Azure steps (the TD quote's own DCAP checks are under tdQuote.). */
const AZURE_CHECKS = [
  "evidence.parse",
  "hcl.parse",
  "hcl.reportType",
  "hcl.hashType",
  "tdQuote.teeType",
  "hcl.tdReport",
  "hcl.tdReport.hashes",
  "hcl.varData.hash",
  "hcl.varData.parse",
  "hcl.akPub",
  "tpm.signature",
  "tpm.attest.parse",
  "tpm.attest.magic",
  "tpm.attest.type",
  "tpm.nonce",
  "tpm.pcrSelection",
  "tpm.pcrDigest",
];

function failedLast(r: AzTdxVtpmResult): string {
  const last = r.checks.at(-1)!;
  expect(last.passed).toBe(false);
  // Every check before the failing one passed (or is a non-fatal finding).
  expect(r.checks.slice(0, -1).every((c) => c.passed || c.nonFatal)).toBe(true);
  return last.name;
}

describe.skipIf(!az)(`az-tdx-vtpm evidence from a real Azure TDX VM (${AZ_SKIP_REASON})`, () => {
  const collateral = () => readCollateral(az!.collateralText);
  const opts = (extra: Partial<AzTdxVtpmOptions> = {}): AzTdxVtpmOptions => ({
    now: az!.at,
    nonce: "challenge",
    ...extra,
  });
  const evidence = (): AzTdxVtpmEvidence => parseAzTdxVtpmEvidence(az!.evidenceV1);
  /** The evidence with `edit` applied to private copies of its bytes. */
  const tampered = (edit: (e: AzTdxVtpmEvidence) => void): AzTdxVtpmEvidence => {
    const e = evidence();
    const copy: AzTdxVtpmEvidence = {
      version: e.version,
      hclReport: e.hclReport.slice(),
      tdQuote: e.tdQuote.slice(),
      tpmQuote: {
        signature: e.tpmQuote.signature.slice(),
        message: e.tpmQuote.message.slice(),
        pcrs: e.tpmQuote.pcrs.map((p) => p.slice()),
      },
    };
    edit(copy);
    return copy;
  };

  it.each(["evidenceV0", "evidenceV1"] as const)(
    "%s verifies at the collateral's time: Intel's verdict, every Azure check",
    (which) => {
      const r = verifyAzTdxVtpm(az![which], collateral(), opts());
      expect(r.error).toBeNull();
      expect(r.ok).toBe(true);
      const e = az!.expected.expect;
      expect({ tcb: r.tcbStatus, qe: r.qeIdentityStatus, module: r.tdxModuleStatus }).toEqual({
        tcb: e.tcbStatus,
        qe: e.qeIdentityStatus,
        module: "OutOfDate",
      });
      expect(r.tcbStatus).toBe("OutOfDate");
      expect(r.collateralExpired).toBe(false);
      expect(r.evidenceVersion).toBe(which === "evidenceV0" ? 0 : 1);
      expect(
        r.checks
          .filter((c) => !c.name.startsWith("tdQuote.") || c.name === "tdQuote.teeType")
          .map((c) => c.name),
      ).toEqual(AZURE_CHECKS);
      expect(r.checks.every((c) => c.passed || c.nonFatal)).toBe(true);
      // The TD quote's DCAP checks are there, as its own result has them.
      expect(r.tdQuoteResult!.checks.map((c) => `tdQuote.${c.name}`)).toEqual(
        r.checks
          .filter((c) => c.name.startsWith("tdQuote.") && c.name !== "tdQuote.teeType")
          .map((c) => c.name),
      );
      expect(r.nonce).toBe("6368616c6c656e6765");
      expect(r.pcrs).toHaveLength(24);
      expect(r.pcrs[0]).toEqual({
        bank: "sha256",
        index: 0,
        value: "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273",
      });
      expect(r.pcrs[8]!.value).toBe("0".repeat(64));
      expect(r.akPub?.kid).toBe("HCLAkPub");
      expect(r.quote?.body.kind).toBe("td10");
    },
  );

  it("the async path gives the same result", async () => {
    for (const text of [az!.evidenceV0, az!.evidenceV1]) {
      const a = verifyAzTdxVtpm(text, collateral(), opts());
      const b = await verifyAzTdxVtpmAsync(text, collateral(), opts());
      expect(JSON.stringify(b.checks)).toBe(JSON.stringify(a.checks));
      expect([b.ok, b.tcbStatus, b.error]).toEqual([a.ok, a.tcbStatus, a.error]);
    }
  });

  // The five tampers of the issue, each refused with its own code at its own check.
  const tampers: [string, (e: AzTdxVtpmEvidence) => void, string, string][] = [
    // Trustee's own failure test adds 1 to byte 0x880 (inside the var data).
    [
      "a var data byte",
      (e) => {
        e.hclReport[0x880]! += 1;
      },
      "hcl.varData.hash",
      "AZ_VAR_DATA_HASH_MISMATCH",
    ],
    [
      "an MRTD byte of the HCL TD report",
      (e) => {
        e.hclReport[0x230]! ^= 1;
      },
      "hcl.tdReport",
      "AZ_HCL_TD_REPORT_MISMATCH",
    ],
    [
      "a TPM message byte (the clock)",
      (e) => {
        e.tpmQuote.message[60]! ^= 1;
      },
      "tpm.signature",
      "AZ_TPM_MESSAGE_ALTERED",
    ],
    [
      "a TPM signature bit",
      (e) => {
        e.tpmQuote.signature[0]! ^= 1;
      },
      "tpm.signature",
      "AZ_TPM_SIGNATURE_INVALID",
    ],
    [
      "a PCR 0 bit",
      (e) => {
        e.tpmQuote.pcrs[0]![0]! ^= 1;
      },
      "tpm.pcrDigest",
      "AZ_PCR_DIGEST_MISMATCH",
    ],
  ];
  it.each(tampers)("%s is refused with its own code", (_what, edit, check, code) => {
    for (const version of [0, 1] as const) {
      const e = tampered(edit);
      const r = verifyAzTdxVtpm(serializeAzTdxVtpmEvidence(e, version), collateral(), opts());
      expect([r.ok, r.error?.code, failedLast(r)]).toEqual([false, code, check]);
      expect(r.error?.hint).toBeTruthy();
      // The TD quote itself is still fine: its verdict stays.
      expect(r.tcbStatus).toBe("OutOfDate");
    }
  });

  it("the five tamper codes are distinct", () => {
    expect(new Set(tampers.map((t) => t[3])).size).toBe(tampers.length);
  });

  it("names the differing TD report field and its offset in the HCL report", () => {
    const r = verifyAzTdxVtpm(
      tampered((e) => {
        e.hclReport[0x230]! ^= 1;
      }),
      collateral(),
      opts(),
    );
    expect(r.error).toMatchObject({ field: "hclReport.tdReport.mrTd", data: { offset: 0x230 } });
    expect(r.checks.at(-1)!.actual).toEqual(["mrTd"]);
    const rd = verifyAzTdxVtpm(
      tampered((e) => {
        e.hclReport[0xa0 + 40]! ^= 1;
      }),
      collateral(),
      opts(),
    );
    expect(rd.error).toMatchObject({
      code: "AZ_HCL_TD_REPORT_MISMATCH",
      field: "hclReport.tdReport.reportData",
    });
  });

  it("refuses an altered TEE_INFO_HASH / TEE_TCB_INFO_HASH the quote body does not carry", () => {
    for (const [off, field] of [
      [0x20 + 80, "teeInfoHash"],
      [0x20 + 32, "teeTcbInfoHash"],
    ] as const) {
      const r = verifyAzTdxVtpm(
        tampered((e) => {
          e.hclReport[off]! ^= 1;
        }),
        collateral(),
        opts(),
      );
      expect([r.error?.code, failedLast(r), r.error?.data?.offset]).toEqual([
        "AZ_HCL_TD_REPORT_HASH_MISMATCH",
        "hcl.tdReport.hashes",
        off,
      ]);
      expect(r.error?.field).toBe(`hclReport.tdReport.reportMacStruct.${field}`);
    }
    // SERVTD_HASH is not in a TD 1.0 quote body: only TEE_INFO_HASH catches it.
    const s = verifyAzTdxVtpm(
      tampered((e) => {
        e.hclReport[0x20 + 912]! ^= 1;
      }),
      collateral(),
      opts(),
    );
    expect(s.error?.code).toBe("AZ_HCL_TD_REPORT_HASH_MISMATCH");
  });

  it("cannot see a changed TDREPORT MAC (keyed to the CPU: no remote verifier can)", () => {
    const r = verifyAzTdxVtpm(
      tampered((e) => {
        e.hclReport[0x20 + 224]! ^= 1;
      }),
      collateral(),
      opts(),
    );
    expect(r.ok).toBe(true);
  });

  it("refuses the wrong nonce, a reversed nonce and no nonce", () => {
    const wrong = verifyAzTdxVtpm(az!.evidenceV1, collateral(), opts({ nonce: "wrong" }));
    expect([wrong.error?.code, failedLast(wrong)]).toEqual(["AZ_NONCE_MISMATCH", "tpm.nonce"]);
    expect(wrong.checks.at(-1)!.actual).toEqual({ hex: "6368616c6c656e6765", text: "challenge" });
    const reversed = verifyAzTdxVtpm(
      az!.evidenceV1,
      collateral(),
      opts({ nonce: new TextEncoder().encode("challenge").reverse() }),
    );
    expect(reversed.error?.code).toBe("AZ_NONCE_MISMATCH");
    const padded = new Uint8Array(64);
    padded.set(new TextEncoder().encode("challenge"));
    expect(verifyAzTdxVtpm(az!.evidenceV1, collateral(), opts({ nonce: padded })).error?.code).toBe(
      "AZ_NONCE_MISMATCH",
    );
    const none = verifyAzTdxVtpm(az!.evidenceV1, collateral(), { now: az!.at });
    expect([none.error?.code, failedLast(none)]).toEqual(["AZ_NONCE_MISSING", "tpm.nonce"]);
  });

  it("refuses PCR values that are not the ones selected", () => {
    const short = verifyAzTdxVtpm(
      tampered((e) => void e.tpmQuote.pcrs.pop()),
      collateral(),
      opts(),
    );
    expect([short.error?.code, failedLast(short)]).toEqual(["AZ_PCR_SELECTION_MISMATCH", "tpm.pcrSelection"]);
    const size = verifyAzTdxVtpm(
      tampered((e) => {
        e.tpmQuote.pcrs[3] = e.tpmQuote.pcrs[3]!.subarray(0, 20);
      }),
      collateral(),
      opts(),
    );
    expect(size.error?.code).toBe("AZ_PCR_SELECTION_MISMATCH");
    const swapped = verifyAzTdxVtpm(
      tampered((e) => {
        [e.tpmQuote.pcrs[0], e.tpmQuote.pcrs[1]] = [e.tpmQuote.pcrs[1]!, e.tpmQuote.pcrs[0]!];
      }),
      collateral(),
      opts(),
    );
    expect(swapped.error?.code).toBe("AZ_PCR_DIGEST_MISMATCH");
  });

  it("refuses an SNP report type and another hash type (stricter than Trustee)", () => {
    const snp = verifyAzTdxVtpm(
      tampered((e) => {
        e.hclReport[0x4c8] = 2;
      }),
      collateral(),
      opts(),
    );
    expect([snp.error?.code, failedLast(snp)]).toEqual(["AZ_HCL_NOT_TDX", "hcl.reportType"]);
    const sha384 = verifyAzTdxVtpm(
      tampered((e) => {
        e.hclReport[0x4cc] = 2;
      }),
      collateral(),
      opts(),
    );
    expect([sha384.error?.code, failedLast(sha384)]).toEqual([
      "AZ_HCL_HASH_TYPE_UNSUPPORTED",
      "hcl.hashType",
    ]);
  });

  it("passes the TD quote's DCAP failure through, under tdQuote.", () => {
    const body = verifyAzTdxVtpm(
      tampered((e) => {
        e.tdQuote[48 + 136]! ^= 1;
      }),
      collateral(),
      opts(),
    );
    expect([body.error?.code, failedLast(body)]).toEqual([
      "QUOTE_SIGNATURE_INVALID",
      "tdQuote.quote.signature",
    ]);
    // A collateral failure of the TD quote (its TCB Info signature) stops there too. (Time alone no longer
    // does: a CRL before its thisUpdate is expired collateral for Intel, not a failure; docs/verify.md.)
    const c = collateral();
    c.tcbInfoSignature = Uint8Array.from(c.tcbInfoSignature, (b, i) => (i === 10 ? b ^ 1 : b));
    const forged = verifyAzTdxVtpm(az!.evidenceV1, c, opts());
    expect(forged.ok).toBe(false);
    expect(forged.checks.at(-1)!.name.startsWith("tdQuote.")).toBe(true);
  });

  it("minVersion 2 refuses v0/v1 (their nonce is bound only through the TPM quote)", () => {
    const r = verifyAzTdxVtpm(az!.evidenceV1, collateral(), opts({ minVersion: 2 }));
    expect([r.error?.code, failedLast(r)]).toEqual(["AZ_EVIDENCE_VERSION_TOO_OLD", "evidence.version"]);
    expect(verifyAzTdxVtpm(az!.evidenceV1, collateral(), opts({ minVersion: 1 })).ok).toBe(true);
  });

  it("v2 evidence must carry the nonce in the HCL user-data (the capture's is 64 zero bytes)", () => {
    const v2 = serializeAzTdxVtpmEvidence(evidence(), 2);
    const r = verifyAzTdxVtpm(v2, collateral(), opts());
    expect([r.error?.code, failedLast(r)]).toEqual(["AZ_USER_DATA_MISMATCH", "hcl.userData"]);
  });

  it("init data: PCR 8 must be one extend of the expected digest (the capture bound none)", () => {
    const digest = createHash("sha256").update("init data").digest();
    const r = verifyAzTdxVtpm(az!.evidenceV1, collateral(), opts({ initDataHash: digest }));
    expect([r.error?.code, failedLast(r)]).toEqual(["AZ_INIT_DATA_MISMATCH", "tpm.initData"]);
  });

  it("refuses malformed evidence at evidence.parse, a missing time at options.now", () => {
    const r = verifyAzTdxVtpm('{"version":7}', collateral(), opts());
    expect([r.error?.code, failedLast(r), r.evidenceVersion]).toEqual([
      "AZ_EVIDENCE_VERSION_UNSUPPORTED",
      "evidence.parse",
      null,
    ]);
    const t = verifyAzTdxVtpm(az!.evidenceV1, collateral(), { nonce: "challenge" } as AzTdxVtpmOptions);
    expect(t.error?.code).toBe("VERIFY_TIME_INVALID");
    // A parsed-looking object of the wrong shape is read as JSON and refused, never a crash.
    const odd = { version: 1, hclReport: new Uint8Array(4), tdQuote: new Uint8Array(4), tpmQuote: null };
    const o = verifyAzTdxVtpm(odd as unknown as AzTdxVtpmEvidence, collateral(), opts());
    expect([o.error?.code, failedLast(o)]).toEqual(["AZ_EVIDENCE_UNKNOWN_FIELD", "evidence.parse"]);
    const cut = verifyAzTdxVtpm(
      tampered((e) => {
        e.hclReport = e.hclReport.subarray(0, 100);
      }),
      collateral(),
      opts(),
    );
    expect([cut.error?.code, failedLast(cut), cut.error?.data?.offset]).toEqual([
      "HCL_TRUNCATED",
      "hcl.parse",
      100,
    ]);
  });

  // The AK checks need var data whose hash the TD quote binds: only the simulator can make such evidence
  // (test/sim/paravisor.test.ts). Here: the diagnosis behind the two tpm.signature codes.
  it("the signature diagnosis tells an altered message from an altered signature", () => {
    const e = evidence();
    const ak = parseAzTdxVtpmEvidence(az!.evidenceV1);
    const jwk = JSON.parse(new TextDecoder().decode(ak.hclReport.subarray(0x4d4, 0x4d4 + 1201))).keys[0];
    const digest = createHash("sha256").update(e.tpmQuote.message).digest();
    expect(diagnoseRsaPkcs1Sha256(jwk, digest, e.tpmQuote.signature)).toBe("valid");
    const other = createHash("sha256").update("other").digest();
    expect(diagnoseRsaPkcs1Sha256(jwk, other, e.tpmQuote.signature)).toBe("digest-mismatch");
    const sig = e.tpmQuote.signature.slice();
    sig[100]! ^= 1;
    expect(diagnoseRsaPkcs1Sha256(jwk, digest, sig)).toBe("not-signed-by-key");
    expect(diagnoseRsaPkcs1Sha256(jwk, digest, sig.subarray(1))).toBe("not-signed-by-key");
  });
});
