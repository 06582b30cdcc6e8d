import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type AzTdxVtpmEvidence,
  parseAzTdxVtpmEvidence,
  parseHclReport,
  parseHclVarData,
  parseTpmsAttest,
  pcrSelection,
  TPM_ALG,
  toHex,
} from "../../src/abi/index.js";
import type { Collateral } from "../../src/collateral/types.js";
import { createSimAzureParavisor, type SimAzureParavisor } from "../../src/sim/index.js";
import { type AzTdxVtpmResult, verifyAzTdxVtpm, verifyAzTdxVtpmAsync } from "../../src/verify/index.js";

function failed(r: AzTdxVtpmResult): [string | undefined, string | undefined] {
  expect(r.checks.slice(0, -1).every((c) => c.passed || c.nonFatal)).toBe(true);
  return [r.error?.code, r.checks.at(-1)?.name];
}

describe("simulated Azure paravisor", () => {
  let pv: SimAzureParavisor;
  let collateral: Collateral;
  const now = () => Math.floor(Date.now() / 1000);
  const anchors = () => ({ trustAnchors: [pv.rootCaPem] });

  beforeAll(async () => {
    pv = await createSimAzureParavisor();
    collateral = await pv.collateral();
  });

  it.each([0, 1, 2] as const)(
    "v%i evidence verifies with the simulated root as trust anchor",
    async (version) => {
      const nonce = `nonce for v${version}`;
      const json = pv.evidenceJson({ nonce, version });
      const at = now(); // one time for both paths: the collateral check shows it
      const r = verifyAzTdxVtpm(json, collateral, { now: at, nonce, ...anchors() });
      expect(r.error).toBeNull();
      expect(r.ok).toBe(true);
      expect(r.tcbStatus).toBe("UpToDate");
      expect(r.evidenceVersion).toBe(version);
      expect(r.checks.every((c) => c.passed || c.nonFatal)).toBe(true);
      const names = r.checks.map((c) => c.name);
      expect(names.includes("hcl.userData")).toBe(version === 2);
      expect(names).toContain("tdQuote.quote.signature");
      const async = await verifyAzTdxVtpmAsync(json, collateral, { now: at, nonce, ...anchors() });
      expect(JSON.stringify(async.checks)).toBe(JSON.stringify(r.checks));
    },
  );

  it("looks like Azure's: HCL envelope, TDX report type, AK in the var data, 24 SHA-256 PCRs", () => {
    const e = pv.evidence({ nonce: "x", version: 2 });
    const hcl = parseHclReport(e.hclReport);
    expect(hcl.bytes.length).toBe(2600);
    expect(hcl.header).toMatchObject({ version: 2, requestType: 2 });
    expect(hcl.requestData).toMatchObject({ version: 1, reportType: 4, reportDataHashType: 1 });
    const v = parseHclVarData(hcl.variableData);
    expect(Object.keys(v.json)).toEqual(["keys", "vm-configuration", "user-data"]);
    expect(v.akPub).toMatchObject({ kid: "HCLAkPub", kty: "RSA", e: "AQAB", key_ops: ["sign"] });
    expect(Buffer.from(v.akPub!.n!, "base64url").length).toBe(256);
    expect(v.userData!.subarray(0, 1)).toEqual(Uint8Array.of(0x78));
    expect(v.userData!.length).toBe(64);
    // REPORTDATA = SHA-256(var data) || 32 zero bytes, in the HCL TD report and in the quote.
    const rd = hcl.tdReport!.reportMacStruct.reportData;
    expect(toHex(rd)).toBe(toHex(createHash("sha256").update(hcl.variableData).digest()) + "00".repeat(32));
    const a = parseTpmsAttest(e.tpmQuote.message);
    expect(toHex(a.qualifiedSigner)).toBe(toHex(pv.vtpm.akName));
    expect(a.quote!.pcrSelect).toEqual([
      { hash: TPM_ALG.SHA256, sizeofSelect: 3, select: Uint8Array.of(255, 255, 255) },
    ]);
    expect(e.tpmQuote.pcrs).toHaveLength(24);
    expect(e.tpmQuote.pcrs[17]).toEqual(new Uint8Array(32).fill(0xff));
    expect(e.tpmQuote.pcrs[0]).not.toEqual(new Uint8Array(32));
    expect(rtmrsZero(hcl.tdReport!.tdInfo.rtmr)).toBe(true);
  });

  it("is trusted only with its own root: Intel's default anchor refuses it", () => {
    const r = verifyAzTdxVtpm(pv.evidenceJson({ nonce: "n" }), collateral, { now: now(), nonce: "n" });
    expect([r.ok, r.error?.code, r.checks.at(-1)?.name]).toEqual([
      false,
      "UNTRUSTED_ROOT",
      "tdQuote.pckChain.root",
    ]);
  });

  it("v2: the nonce must be in the HCL user-data (written to NV 0x01400002 before the report is read)", () => {
    const e = pv.evidence({ nonce: "the nonce", version: 2, userData: new TextEncoder().encode("another") });
    const r = verifyAzTdxVtpm(e, collateral, { now: now(), nonce: "the nonce", ...anchors() });
    expect(failed(r)).toEqual(["AZ_USER_DATA_MISMATCH", "hcl.userData"]);
    // The same evidence as v1 passes: v1 does not bind the user-data.
    expect(
      verifyAzTdxVtpm({ ...e, version: 1 }, collateral, { now: now(), nonce: "the nonce", ...anchors() }).ok,
    ).toBe(true);
  });

  it("a PCR extended between TPM2_Quote and TPM2_PCR_Read breaks the digest (the read is not atomic)", () => {
    const e = pv.evidence({ nonce: "race", version: 1 });
    pv.vtpm.extendPcr(23, createHash("sha256").update("late event").digest());
    const raced: AzTdxVtpmEvidence = {
      ...e,
      tpmQuote: { ...e.tpmQuote, pcrs: e.tpmQuote.pcrs.map((_, i) => pv.vtpm.pcr(i)) },
    };
    const r = verifyAzTdxVtpm(raced, collateral, { now: now(), nonce: "race", ...anchors() });
    expect(failed(r)).toEqual(["AZ_PCR_DIGEST_MISMATCH", "tpm.pcrDigest"]);
  });

  it("init data: one extend of the digest into PCR 8 passes Trustee's init-data check", async () => {
    const own = await createSimAzureParavisor({ platform: pv.platform });
    const digest = createHash("sha256").update("init-data toml").digest();
    own.vtpm.extendPcr(8, digest);
    const e = own.evidence({ nonce: "init" });
    const ok = verifyAzTdxVtpm(e, collateral, {
      now: now(),
      nonce: "init",
      initDataHash: digest,
      ...anchors(),
    });
    expect(ok.ok).toBe(true);
    expect(ok.checks.at(-1)?.name).toBe("tpm.initData");
    const other = createHash("sha256").update("other").digest();
    const bad = verifyAzTdxVtpm(e, collateral, {
      now: now(),
      nonce: "init",
      initDataHash: other,
      ...anchors(),
    });
    expect(failed(bad)).toEqual(["AZ_INIT_DATA_MISMATCH", "tpm.initData"]);
  });

  it("IMDS: the TD quote for a TDREPORT, in its JSON shape", () => {
    const td = pv.hclReport().subarray(0x20, 0x420);
    const body = JSON.parse(
      pv.imdsTdQuote(JSON.stringify({ report: Buffer.from(td).toString("base64url") })),
    );
    const quote = Buffer.from(body.quote, "base64url");
    expect(quote.readUInt16LE(0)).toBe(4);
    expect(() => pv.imdsTdQuote("{")).toThrow(expect.objectContaining({ code: "SIM_IMDS_BAD_REQUEST" }));
    expect(() => pv.imdsTdQuote('{"report":"AAAA"}')).toThrow(
      expect.objectContaining({ code: "SIM_IMDS_BAD_REQUEST" }),
    );
  });

  // A misbehaving paravisor: the var data is bound by the TD quote as usual, so only the AK checks can object.
  const badVarData: [string, (doc: Record<string, unknown>) => unknown, string, string][] = [
    ["no AK", (d) => ({ ...d, keys: (d.keys as unknown[]).slice(1) }), "AZ_AK_MISSING", "hcl.akPub"],
    [
      "an EC AK",
      (d) => ({ ...d, keys: [{ kid: "HCLAkPub", kty: "EC", crv: "P-256", x: "AA", y: "AA" }] }),
      "AZ_AK_INVALID",
      "hcl.akPub",
    ],
    [
      "an RSA-1024 AK",
      (d) => ({
        ...d,
        keys: [{ kid: "HCLAkPub", kty: "RSA", e: "AQAB", n: Buffer.alloc(128, 0xc1).toString("base64url") }],
      }),
      "AZ_AK_INVALID",
      "hcl.akPub",
    ],
    [
      "an AK for encryption",
      (d) => ({ ...d, keys: [{ ...(d.keys as Record<string, unknown>[])[0], key_ops: ["encrypt"] }] }),
      "AZ_AK_INVALID",
      "hcl.akPub",
    ],
    [
      // Trustee reads the keys with the jsonwebkey crate, whose RSA exponent is AQAB only.
      "an AK with public exponent 3",
      (d) => ({ ...d, keys: [{ ...(d.keys as Record<string, unknown>[])[0], e: "Aw" }] }),
      "AZ_AK_INVALID",
      "hcl.akPub",
    ],
    ["var data that is not JSON", () => "{not json", "HCL_VAR_DATA_NOT_JSON", "hcl.varData.parse"],
    [
      "another key as HCLAkPub",
      (d) => ({
        ...d,
        keys: [{ ...(d.keys as Record<string, unknown>[])[1], kid: "HCLAkPub", key_ops: ["sign"] }],
      }),
      "AZ_TPM_SIGNATURE_INVALID",
      "tpm.signature",
    ],
  ];
  it.each(badVarData)("refuses %s", async (_what, edit, code, check) => {
    const odd = await createSimAzureParavisor({
      platform: pv.platform,
      editVarData: edit,
      measureBoot: false,
    });
    const r = verifyAzTdxVtpm(odd.evidenceJson({ nonce: "n", version: 1 }), collateral, {
      now: now(),
      nonce: "n",
      ...anchors(),
    });
    expect(failed(r)).toEqual([code, check]);
  });

  // Trustee's az_tdx_vtpm get_pcrs reads every PCR value as 32 bytes: another bank is refused.
  it("refuses a TPM quote of the SHA-1 bank (Azure's evidence is SHA-256 PCRs)", () => {
    const e = pv.evidence({ nonce: "bank", version: 1 });
    const all = [...Array(24).keys()];
    const q = pv.vtpm.quote(new TextEncoder().encode("bank"), [pcrSelection(TPM_ALG.SHA1, all)]);
    if (!("signature" in q.signature)) throw new Error("the AK signs with RSASSA");
    const sha1: AzTdxVtpmEvidence = {
      ...e,
      tpmQuote: {
        signature: q.signature.signature,
        message: q.attest,
        pcrs: all.map((i) => pv.vtpm.pcr(i, TPM_ALG.SHA1)),
      },
    };
    const r = verifyAzTdxVtpm(sha1, collateral, { now: now(), nonce: "bank", ...anchors() });
    expect(failed(r)).toEqual(["AZ_PCR_SELECTION_MISMATCH", "tpm.pcrSelection"]);
  });

  it("round-trips through Trustee's JSON in every version", () => {
    for (const version of [0, 1, 2] as const) {
      const e = pv.evidence({ nonce: "rt", version });
      const back = parseAzTdxVtpmEvidence(pv.evidenceJson({ nonce: "rt", version }));
      expect(back.version).toBe(version);
      expect(back.tdQuote.length).toBe(e.tdQuote.length);
    }
  });
});

function rtmrsZero(rtmr: Uint8Array[]): boolean {
  return rtmr.every((r) => r.every((b) => b === 0));
}
