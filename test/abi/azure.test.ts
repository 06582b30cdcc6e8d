import { describe, expect, it } from "vitest";
import {
  azTdxVtpmEvidenceToJson,
  decodeAzureInput,
  encodeNvPublic,
  encodeTpmsAttest,
  encodeTpmtPublic,
  encodeTpmtSignature,
  HCL_VAR_DATA_OFFSET,
  hclReportToJson,
  parseAzTdxVtpmEvidence,
  parseHclReport,
  parseHclVarData,
  parseTpmsAttest,
  parseTpmtSignature,
  pcrSelection,
  readNvPublic,
  readTpmtPublic,
  selectedPcrs,
  serializeAzTdxVtpmEvidence,
  serializeHclReport,
  TPM_ALG,
  TPM_ST,
  TPMA_NV,
  TpmReader,
  type TpmtSignature,
  toHex,
} from "../../src/abi/index.js";
import { isTdxError } from "../../src/errors.js";
import { AZ_SKIP_REASON, azVectors } from "../helpers/az-vectors.js";
import { tdxErrorOf } from "../helpers/errors.js";

const az = azVectors();

/** A minimal TDX HCL report with the given var data (TDREPORT of zeros but its type byte). */
function syntheticHcl(varData: string, extra: Partial<Parameters<typeof serializeHclReport>[0]> = {}) {
  const td = new Uint8Array(1024);
  td[0] = 0x81;
  return serializeHclReport({ hwReport: td, variableData: new TextEncoder().encode(varData), ...extra });
}

describe.skipIf(!az)(`HCL report of the real Azure capture (${AZ_SKIP_REASON})`, () => {
  it("decodes the fields the manifest lists", () => {
    const r = parseHclReport(az!.hclReport);
    expect(r.header).toMatchObject({
      signature: 0x414c4348,
      version: 2,
      reportSize: 2437,
      requestType: 2,
      status: 0,
    });
    expect(r.requestData).toMatchObject({
      dataSize: 1221,
      version: 1,
      reportType: 4,
      reportDataHashType: 1,
      variableDataSize: 1201,
    });
    expect(r.variableData.length).toBe(1201);
    expect(r.padding.length).toBe(163);
    expect(r.tdReport!.reportMacStruct.reportType.type).toBe(0x81);
    expect(toHex(r.tdReport!.tdInfo.mrTd)).toBe(
      "024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b",
    );
    expect(toHex(r.tdReport!.reportMacStruct.reportData.subarray(0, 32))).toBe(
      "9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839",
    );
    // Zero-copy: the var data is a view into the input.
    expect(r.variableData.buffer).toBe(az!.hclReport.buffer);
    const layout = Object.fromEntries(r.layout.map((f) => [f.path, f]));
    expect(layout["tdReport.tdInfo.mrTd"]).toEqual({ path: "tdReport.tdInfo.mrTd", offset: 0x230, size: 48 });
    expect(layout["tdReport.reportMacStruct.reportData"]!.offset).toBe(0xa0);
    expect(layout["requestData.reportType"]!.offset).toBe(0x4c8);
    expect(layout.variableData).toEqual({ path: "variableData", offset: 0x4d4, size: 1201 });
  });

  it("decodes the var data JSON: the AK, the EK, user-data", () => {
    const v = parseHclVarData(parseHclReport(az!.hclReport).variableData);
    expect(v.keys.map((k) => k.kid)).toEqual(["HCLAkPub", "HCLEkPub"]);
    expect(v.akPub).toMatchObject({ kty: "RSA", e: "AQAB", key_ops: ["sign"] });
    expect(toHex(Buffer.from(v.akPub!.n!, "base64url"))).toMatch(/^c89b17820000a5e9b78e702a425be680/);
    expect(v.ekPub!.key_ops).toEqual(["encrypt"]);
    expect(v.userData).toEqual(new Uint8Array(64));
    expect(v.vmConfiguration).toMatchObject({ "secure-boot": true, "tpm-enabled": true });
  });

  it("serializes back to the same bytes", () => {
    const r = parseHclReport(az!.hclReport);
    const again = serializeHclReport({
      version: r.header.version,
      requestType: r.header.requestType,
      status: r.header.status,
      hwReport: r.hwReport,
      reportType: r.requestData.reportType,
      reportDataHashType: r.requestData.reportDataHashType,
      requestDataVersion: r.requestData.version,
      variableData: r.variableData,
      totalSize: r.bytes.length,
    });
    expect(toHex(again)).toBe(toHex(az!.hclReport));
  });

  it("every prefix of the report is refused with a TdxError, never a crash", () => {
    for (let n = 0; n < az!.hclReport.length; n += 7) {
      const cut = az!.hclReport.subarray(0, n);
      const end = HCL_VAR_DATA_OFFSET + 1201;
      if (n >= end) {
        expect(parseHclReport(cut).variableData.length).toBe(1201);
        continue;
      }
      const e = tdxErrorOf(() => parseHclReport(cut));
      expect(["HCL_TRUNCATED", "HCL_VAR_DATA_TRUNCATED", "HCL_SIGNATURE_INVALID"]).toContain(e.code);
      expect(e.offset).toBeTypeOf("number");
      expect(e.hint).toBeTruthy();
    }
  });

  it("the JSON view names the parts", () => {
    const j = hclReportToJson(parseHclReport(az!.hclReport));
    expect(j.header).toMatchObject({ signature: "HCLA", version: 2 });
    expect(j.request_data).toMatchObject({ report_type_name: "TDX", report_data_hash_type_name: "SHA-256" });
    expect((j.td_report as Record<string, Record<string, unknown>>).td_info!.mr_td).toMatch(/^024a32b0/);
    expect((j.var_data as Record<string, unknown>)["user-data"]).toBe("0".repeat(128));
  });
});

describe("HCL report errors", () => {
  it("refuses a wrong signature, an unknown report type and var data past the end, with offsets", () => {
    const good = syntheticHcl('{"keys":[]}');
    expect(parseHclReport(good).tdReport).not.toBeNull();
    const sig = good.slice();
    sig[0] = 0x58;
    expect(tdxErrorOf(() => parseHclReport(sig))).toMatchObject({ code: "HCL_SIGNATURE_INVALID", offset: 0 });
    const type = good.slice();
    type[0x4c8] = 3;
    expect(tdxErrorOf(() => parseHclReport(type))).toMatchObject({
      code: "HCL_REPORT_TYPE_UNKNOWN",
      offset: 0x4c8,
    });
    const size = good.slice();
    size[0x4d0] = 0xff;
    expect(tdxErrorOf(() => parseHclReport(size))).toMatchObject({
      code: "HCL_VAR_DATA_TRUNCATED",
      offset: 0x4d0,
    });
    expect(tdxErrorOf(() => parseHclReport(good.subarray(0, 0x100)))).toMatchObject({
      code: "HCL_TRUNCATED",
      field: "hwReport",
    });
    expect(tdxErrorOf(() => parseHclReport("x" as unknown as Uint8Array)).code).toBe("HCL_NOT_BYTES");
  });

  it("an SNP report parses without a TD report", () => {
    const snp = serializeHclReport({
      hwReport: new Uint8Array(1184),
      reportType: 2,
      variableData: new Uint8Array(2),
    });
    const r = parseHclReport(snp);
    expect(r.tdReport).toBeNull();
    expect(r.hwReport.length).toBe(1184);
    expect(hclReportToJson(r).hw_report).toBe("00".repeat(1184));
  });

  it("refuses var data that is not JSON, keys that are not keys, two AKs, user-data that is not hex", () => {
    const cases: [string, string][] = [
      ["{", "HCL_VAR_DATA_NOT_JSON"],
      ["[1]", "HCL_VAR_DATA_NOT_JSON"],
      ['{"keys":{}}', "HCL_VAR_DATA_KEYS_INVALID"],
      ['{"keys":[1]}', "HCL_VAR_DATA_KEYS_INVALID"],
      ['{"keys":[{"kid":"HCLAkPub"},{"kid":"HCLAkPub"}]}', "HCL_VAR_DATA_KEYS_INVALID"],
      ['{"user-data":"0g"}', "HCL_USER_DATA_INVALID"],
      ['{"user-data":"000"}', "HCL_USER_DATA_INVALID"],
      ['{"user-data":7}', "HCL_USER_DATA_INVALID"],
    ];
    for (const [text, code] of cases) {
      const e = tdxErrorOf(() => parseHclVarData(new TextEncoder().encode(text)));
      expect([text, e.code, e.offset]).toEqual([text, code, HCL_VAR_DATA_OFFSET]);
    }
    expect(tdxErrorOf(() => parseHclVarData(Uint8Array.of(0x7b, 0xff, 0x7d))).code).toBe(
      "HCL_VAR_DATA_NOT_JSON",
    );
    const ok = parseHclVarData(new TextEncoder().encode('{"user-data":"0aFF"}'));
    expect(ok).toMatchObject({
      keys: [],
      akPub: null,
      userDataHex: "0aFF",
      userData: Uint8Array.of(10, 255),
    });
  });
});

describe.skipIf(!az)(`TPMS_ATTEST of the real Azure capture (${AZ_SKIP_REASON})`, () => {
  const message = () => parseAzTdxVtpmEvidence(az!.evidenceV1).tpmQuote.message;

  it("decodes every field", () => {
    const m = message();
    const a = parseTpmsAttest(m);
    expect(a.magic).toBe(0xff544347);
    expect(a.type).toBe(TPM_ST.ATTEST_QUOTE);
    expect(toHex(a.qualifiedSigner)).toBe(
      "000b2ef8bd6d58c345a1f5876d083b5bbfee148e307d770ee96bf226ee9e57292952",
    );
    expect(new TextDecoder().decode(a.extraData)).toBe("challenge");
    expect(a.clockInfo).toEqual({ clock: 354772869n, resetCount: 1, restartCount: 0, safe: 1 });
    expect(a.firmwareVersion).toBe(0x2020031200120003n);
    expect(a.quote!.pcrSelect).toHaveLength(1);
    expect(a.quote!.pcrSelect[0]!.hash).toBe(TPM_ALG.SHA256);
    expect(selectedPcrs(a.quote!.pcrSelect[0]!)).toEqual([...Array(24).keys()]);
    expect(toHex(a.quote!.pcrDigest)).toBe(
      "6c0e21d918212d57872a752bcf358355d508d1d5b8cb632259b898b15f9f658d",
    );
    // Zero-copy: byte fields are views into the input.
    expect(a.extraData.buffer).toBe(m.buffer);
    expect(a.quote!.pcrDigest.buffer).toBe(m.buffer);
    expect(a.layout.map((f) => f.path)).toEqual([
      "magic",
      "type",
      "qualifiedSigner",
      "extraData",
      "clockInfo",
      "firmwareVersion",
      "quote.pcrSelect",
      "quote.pcrDigest",
    ]);
    expect(a.layout.at(-1)).toEqual({ path: "quote.pcrDigest", offset: 88, size: 34 });
  });

  it("encodes back to the same bytes", () => {
    const m = message();
    const a = parseTpmsAttest(m);
    expect(toHex(encodeTpmsAttest({ ...a, quote: a.quote! }))).toBe(toHex(m));
  });

  it("every prefix is refused as truncated, a trailing byte as trailing", () => {
    const m = message();
    for (let n = 0; n < m.length; n++) {
      const e = tdxErrorOf(() => parseTpmsAttest(m.subarray(0, n)));
      expect(e.code).toBe("TPM2_TRUNCATED");
      expect(e.offset).toBeLessThanOrEqual(n);
    }
    const longer = new Uint8Array(m.length + 1);
    longer.set(m);
    expect(tdxErrorOf(() => parseTpmsAttest(longer))).toMatchObject({
      code: "TPM2_TRAILING_BYTES",
      offset: m.length,
    });
  });
});

describe("TPM2 structures", () => {
  it("refuses impossible sizes with offsets", () => {
    const attest = encodeTpmsAttest({
      qualifiedSigner: new Uint8Array(34),
      extraData: new Uint8Array(4),
      clockInfo: { clock: 1n, resetCount: 0, restartCount: 0, safe: 1 },
      firmwareVersion: 0n,
      quote: { pcrSelect: [pcrSelection(TPM_ALG.SHA256, [0, 1])], pcrDigest: new Uint8Array(32) },
    });
    const bigName = attest.slice();
    bigName[6] = 0xff; // qualifiedSigner.size high byte
    expect(tdxErrorOf(() => parseTpmsAttest(bigName))).toMatchObject({
      code: "TPM2_SIZE_INVALID",
      offset: 6,
    });
    const banks = attest.slice();
    const countAt = 6 + 2 + 34 + 2 + 4 + 17 + 8;
    banks[countAt] = 1;
    expect(tdxErrorOf(() => parseTpmsAttest(banks))).toMatchObject({
      code: "TPM2_SIZE_INVALID",
      offset: countAt,
    });
    const other = encodeTpmsAttest({
      type: TPM_ST.ATTEST_CERTIFY,
      qualifiedSigner: new Uint8Array(0),
      extraData: new Uint8Array(0),
      clockInfo: { clock: 0n, resetCount: 0, restartCount: 0, safe: 0 },
      firmwareVersion: 0n,
      attested: Uint8Array.of(1, 2, 3),
    });
    const o = parseTpmsAttest(other);
    expect([o.quote, toHex(o.attested)]).toEqual([null, "010203"]);
  });

  it("PCR selections: bitmaps both ways", () => {
    const s = pcrSelection(TPM_ALG.SHA256, [0, 7, 8, 23]);
    expect(toHex(s.select)).toBe("810180");
    expect(selectedPcrs(s)).toEqual([0, 7, 8, 23]);
    expect(pcrSelection(TPM_ALG.SHA1, [30]).sizeofSelect).toBe(4);
    expect(tdxErrorOf(() => pcrSelection(TPM_ALG.SHA1, [-1])).code).toBe("ABI_FIELD_SIZE");
  });

  it("TPMT_SIGNATURE round trips for every scheme, refuses unknown ones", () => {
    const sigs: TpmtSignature[] = [
      { sigAlg: TPM_ALG.RSASSA, hash: TPM_ALG.SHA256, signature: new Uint8Array(256).fill(7) },
      { sigAlg: TPM_ALG.RSAPSS, hash: TPM_ALG.SHA384, signature: Uint8Array.of(1) },
      {
        sigAlg: TPM_ALG.ECDSA,
        hash: TPM_ALG.SHA256,
        r: new Uint8Array(32).fill(1),
        s: new Uint8Array(32).fill(2),
      },
      { sigAlg: TPM_ALG.HMAC, hash: TPM_ALG.SHA256, digest: new Uint8Array(32).fill(3) },
      { sigAlg: TPM_ALG.NULL },
    ];
    for (const s of sigs) {
      const bytes = encodeTpmtSignature(s);
      expect(parseTpmtSignature(bytes)).toEqual(s);
      for (let n = 0; n < bytes.length; n++) {
        expect(tdxErrorOf(() => parseTpmtSignature(bytes.subarray(0, n))).code).toBe("TPM2_TRUNCATED");
      }
    }
    expect(tdxErrorOf(() => parseTpmtSignature(Uint8Array.of(0, 0x99)))).toMatchObject({
      code: "TPM2_ALG_UNSUPPORTED",
      offset: 0,
    });
    expect(tdxErrorOf(() => parseTpmtSignature(Uint8Array.of(0, 5, 0, 0x99))).code).toBe(
      "TPM2_ALG_UNSUPPORTED",
    );
  });

  it("TPMS_NV_PUBLIC and TPMT_PUBLIC (RSA, ECC) round trip", () => {
    const nv = {
      nvIndex: 0x01400002,
      nameAlg: TPM_ALG.SHA256,
      attributes: TPMA_NV.OWNERWRITE | TPMA_NV.OWNERREAD | TPMA_NV.WRITTEN,
      authPolicy: new Uint8Array(0),
      dataSize: 64,
    };
    const nvBytes = encodeNvPublic(nv);
    expect(toHex(nvBytes)).toBe("01400002000b2002000200000040");
    const r = new TpmReader(nvBytes);
    expect(readNvPublic(r)).toEqual(nv);
    r.done();
    const rsa = {
      type: TPM_ALG.RSA,
      nameAlg: TPM_ALG.SHA256,
      objectAttributes: 0x00050072,
      authPolicy: new Uint8Array(0),
      symmetric: { algorithm: TPM_ALG.NULL },
      scheme: { scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 },
      keyBits: 2048,
      exponent: 0,
      modulus: new Uint8Array(256).fill(0xab),
    } as const;
    const ecc = {
      type: TPM_ALG.ECC,
      nameAlg: TPM_ALG.SHA256,
      objectAttributes: 0x00050072,
      authPolicy: new Uint8Array(32),
      symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB },
      scheme: { scheme: TPM_ALG.ECDAA, hashAlg: TPM_ALG.SHA256, count: 1 },
      curveId: 3,
      kdf: { scheme: TPM_ALG.KDF1_SP800_56A, hashAlg: TPM_ALG.SHA256 },
      x: new Uint8Array(32).fill(1),
      y: new Uint8Array(32).fill(2),
    } as const;
    for (const p of [rsa, ecc]) {
      const bytes = encodeTpmtPublic(p);
      const rd = new TpmReader(bytes);
      expect(readTpmtPublic(rd)).toEqual(p);
      rd.done();
    }
    expect(tdxErrorOf(() => readTpmtPublic(new TpmReader(Uint8Array.of(0, 8, 0, 11)))).code).toBe(
      "TPM2_ALG_UNSUPPORTED",
    );
  });
});

describe.skipIf(!az)(`az-tdx-vtpm evidence JSON (${AZ_SKIP_REASON})`, () => {
  it("v0 and v1 carry the same capture, as the manifest says", () => {
    const v0 = parseAzTdxVtpmEvidence(az!.evidenceV0);
    const v1 = parseAzTdxVtpmEvidence(new TextEncoder().encode(az!.evidenceV1));
    expect([v0.version, v1.version]).toEqual([0, 1]);
    expect(toHex(v0.hclReport)).toBe(toHex(az!.hclReport));
    expect(toHex(v1.hclReport)).toBe(toHex(az!.hclReport));
    expect(toHex(v1.tdQuote)).toBe(toHex(az!.tdQuote));
    expect(v0.tpmQuote).toEqual(v1.tpmQuote);
    expect(v1.tpmQuote.signature.length).toBe(256);
    expect(v1.tpmQuote.message.length).toBe(122);
    expect(v1.tpmQuote.pcrs).toHaveLength(24);
  });

  it("serializes in Trustee's shapes: v0 byte for byte, v1 with padded base64url and lowercase hex", () => {
    const v0 = parseAzTdxVtpmEvidence(az!.evidenceV0);
    expect(serializeAzTdxVtpmEvidence(v0)).toBe(az!.evidenceV0.trim());
    const v1json = JSON.parse(az!.evidenceV1);
    const again = JSON.parse(serializeAzTdxVtpmEvidence(v0, 1));
    expect(again).toEqual(v1json);
    expect(again.hcl_report.endsWith("=")).toBe(true);
    const v2 = parseAzTdxVtpmEvidence(serializeAzTdxVtpmEvidence(v0, 2));
    expect(v2.version).toBe(2);
    expect(v2.tpmQuote).toEqual(v0.tpmQuote);
    // Unpadded base64url and upper-case hex are accepted too.
    v1json.hcl_report = v1json.hcl_report.replace(/=+$/, "");
    v1json.tpm_quote.message = v1json.tpm_quote.message.toUpperCase();
    expect(parseAzTdxVtpmEvidence(v1json).tpmQuote.message).toEqual(v0.tpmQuote.message);
  });

  it("refuses what Trustee's shapes do not allow", () => {
    const v1 = () => JSON.parse(az!.evidenceV1);
    const v0 = () => JSON.parse(az!.evidenceV0);
    const bad: [unknown, string, string][] = [
      ["{", "AZ_EVIDENCE_MALFORMED", "evidence"],
      [[], "AZ_EVIDENCE_MALFORMED", "evidence"],
      [{ ...v1(), version: 3 }, "AZ_EVIDENCE_VERSION_UNSUPPORTED", "version"],
      [{ ...v1(), version: "1" }, "AZ_EVIDENCE_VERSION_UNSUPPORTED", "version"],
      [{ ...v1(), extra: 1 }, "AZ_EVIDENCE_UNKNOWN_FIELD", "extra"],
      [
        { ...v1(), tpm_quote: { ...v1().tpm_quote, nonce: "" } },
        "AZ_EVIDENCE_UNKNOWN_FIELD",
        "tpm_quote.nonce",
      ],
      [{ ...v1(), td_quote: undefined }, "AZ_EVIDENCE_MALFORMED", "td_quote"],
      [{ ...v1(), td_quote: "a+b/" }, "AZ_EVIDENCE_MALFORMED", "td_quote"],
      [{ ...v1(), td_quote: "abcde" }, "AZ_EVIDENCE_MALFORMED", "td_quote"],
      [
        { ...v1(), tpm_quote: { ...v1().tpm_quote, message: "abc" } },
        "AZ_EVIDENCE_MALFORMED",
        "tpm_quote.message",
      ],
      [{ ...v1(), tpm_quote: { ...v1().tpm_quote, pcrs: "00" } }, "AZ_EVIDENCE_MALFORMED", "tpm_quote.pcrs"],
      [{ ...v0(), hcl_report: [1, 256] }, "AZ_EVIDENCE_MALFORMED", "hcl_report[1]"],
      [{ ...v0(), hcl_report: "AAAA" }, "AZ_EVIDENCE_MALFORMED", "hcl_report"],
      [{ ...v0(), tpm_quote: null }, "AZ_EVIDENCE_MALFORMED", "tpm_quote"],
    ];
    for (const [value, code, field] of bad) {
      const input = typeof value === "string" ? value : JSON.parse(JSON.stringify(value));
      const e = tdxErrorOf(() => parseAzTdxVtpmEvidence(input));
      expect([code, field]).toEqual([e.code, e.field]);
      expect(e.hint).toBeTruthy();
    }
  });

  it("decode recognises evidence, HCL reports and TPMS_ATTEST in any encoding", () => {
    const ev = decodeAzureInput(new TextEncoder().encode(`\n ${az!.evidenceV1}`));
    expect(ev?.kind).toBe("az-tdx-vtpm");
    const j = azTdxVtpmEvidenceToJson(
      (ev as { evidence: Parameters<typeof azTdxVtpmEvidenceToJson>[0] }).evidence,
    );
    expect(j).toMatchObject({ kind: "az-tdx-vtpm", version: 1, td_quote: { header: { version: 4 } } });
    const tq = j.tpm_quote as Record<string, Record<string, unknown>>;
    expect(tq.pcrs!.pcr00).toBe("782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273");
    expect(tq.message!.extra_data_text).toBe("challenge");
    expect(decodeAzureInput(az!.hclReport)?.kind).toBe("hcl_report");
    const hex = new TextEncoder().encode(toHex(az!.hclReport));
    expect(decodeAzureInput(hex)).toMatchObject({ kind: "hcl_report", encoding: "hex" });
    const msg = parseAzTdxVtpmEvidence(az!.evidenceV1).tpmQuote.message;
    expect(decodeAzureInput(new TextEncoder().encode(Buffer.from(msg).toString("base64")))).toMatchObject({
      kind: "tpms_attest",
      encoding: "base64",
    });
    expect(decodeAzureInput(az!.tdQuote)).toBeNull();
    try {
      decodeAzureInput(new TextEncoder().encode("{}"));
      expect.unreachable();
    } catch (e) {
      expect(isTdxError(e) && e.code).toBe("AZ_EVIDENCE_MALFORMED");
    }
  });
});
