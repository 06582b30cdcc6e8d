import type { AzTdxVtpmEvidence } from "../abi/az-evidence.js";
import { bytesEqual, isAllZero, toHex } from "../abi/bytes.js";
import {
  HCL_HASH_TYPE_SHA256,
  HCL_HW_REPORT_OFFSET,
  HCL_REPORT_TYPE_TDX,
  type HclJwk,
  type HclReport,
  type HclVarData,
  hclHashTypeName,
  hclReportTypeName,
  parseHclReport,
  parseHclVarData,
} from "../abi/hcl.js";
import type { TdReportBody } from "../abi/types.js";
import { TEE_TYPE_TDX } from "../abi/types.js";
import { rsaJwkParts } from "../crypto/rsa-jwk.js";
import {
  AZ_MIN_AK_BITS,
  type AzTdxVtpmEvidenceInput,
  type AzTdxVtpmOptions,
  type AzTdxVtpmResult,
  type Backend,
  HINT_HCL_TAMPERED,
  quoteField,
  type Run,
  Stop,
  tdReportAsBody,
  toEvidence,
} from "./az-tdx-vtpm-run.js";

/** What the evidence checks established, for the TPM checks. */
export interface EvidenceFacts {
  ev: AzTdxVtpmEvidence;
  varData: HclVarData;
  ak: HclJwk;
  akBits: number;
}

/**
 * Steps 1-6 of az-tdx-vtpm: the evidence JSON, the HCL report, the TD quote (Intel's DCAP verification), the
 * HCL report's TDREPORT against the quote, the var data bound by REPORTDATA, and the attestation key in it.
 */
export function evidenceChecks(
  run: Run,
  result: AzTdxVtpmResult,
  input: AzTdxVtpmEvidenceInput,
  options: AzTdxVtpmOptions,
  backend: Backend,
): EvidenceFacts {
  // 1. The evidence JSON (Trustee compat.rs shapes v0, v1, v2).
  let ev: AzTdxVtpmEvidence;
  try {
    ev = toEvidence(input);
  } catch (e) {
    run.failWith("evidence.parse", e);
  }
  result.evidenceVersion = ev.version;
  run.pass("evidence.parse", {
    actual: {
      version: ev.version,
      hclReport: ev.hclReport.length,
      tdQuote: ev.tdQuote.length,
      tpmMessage: ev.tpmQuote.message.length,
      tpmSignature: ev.tpmQuote.signature.length,
      pcrs: ev.tpmQuote.pcrs.length,
    },
  });
  if (options.minVersion !== undefined) {
    if (ev.version < options.minVersion) {
      run.fail(
        "evidence.version",
        "AZ_EVIDENCE_VERSION_TOO_OLD",
        `evidence version ${ev.version} is older than the required ${options.minVersion}`,
        "v0/v1 evidence binds the nonce only through the TPM quote; have the guest send v2 (report data in the HCL user-data)",
        { expected: `>= ${options.minVersion}`, actual: ev.version },
      );
    }
    run.pass("evidence.version", { expected: `>= ${options.minVersion}`, actual: ev.version });
  }

  // 2. The HCL report (kinvolk hcl/mod.rs).
  let hcl: HclReport;
  try {
    hcl = parseHclReport(ev.hclReport);
  } catch (e) {
    run.failWith("hcl.parse", e);
  }
  result.hclReport = hcl;
  const rd = hcl.requestData;
  run.pass("hcl.parse", {
    actual: {
      version: hcl.header.version,
      reportType: rd.reportType,
      hashType: rd.reportDataHashType,
      variableDataSize: rd.variableDataSize,
    },
  });
  // Stricter than Trustee, whose parser also takes SNP (2) reports on the TDX path.
  if (rd.reportType !== HCL_REPORT_TYPE_TDX || hcl.tdReport === null) {
    run.fail(
      "hcl.reportType",
      "AZ_HCL_NOT_TDX",
      `the HCL report holds a ${hclReportTypeName(rd.reportType)} report, not a TDX one`,
      "this evidence is from an SEV-SNP confidential VM (az-snp-vtpm) or corrupt; az-tdx-vtpm needs a TDX HCL report",
      { expected: HCL_REPORT_TYPE_TDX, actual: rd.reportType, data: { offset: 0x4c8 } },
    );
  }
  const tdReport = hcl.tdReport;
  run.pass("hcl.reportType", { expected: HCL_REPORT_TYPE_TDX, actual: rd.reportType });
  // Trustee's helper aborts (unimplemented!) on other hash types; refuse them cleanly.
  if (rd.reportDataHashType !== HCL_HASH_TYPE_SHA256) {
    run.fail(
      "hcl.hashType",
      "AZ_HCL_HASH_TYPE_UNSUPPORTED",
      `the HCL report binds its var data with ${hclHashTypeName(rd.reportDataHashType)}, not SHA-256`,
      "Azure's paravisor uses SHA-256 (hash type 1); this report is corrupt or from an unknown paravisor",
      { expected: HCL_HASH_TYPE_SHA256, actual: rd.reportDataHashType, data: { offset: 0x4cc } },
    );
  }
  run.pass("hcl.hashType", { expected: "SHA-256", actual: hclHashTypeName(rd.reportDataHashType) });

  // 3. The TD quote: Intel's DCAP verification, its checks under `tdQuote.`.
  const dcap = backend.dcap(ev.tdQuote);
  result.tdQuoteResult = dcap;
  for (const c of dcap.checks) run.checks.push({ ...c, name: `tdQuote.${c.name}` });
  for (const k of [
    "tcbStatus",
    "advisoryIds",
    "collateralExpired",
    "earliestExpiry",
    "expiredItems",
    "matchedTcbLevel",
    "qeIdentityStatus",
    "qeIdentityLevel",
    "tdxModuleStatus",
    "tdxModuleIdentity",
    "platform",
    "collateral",
    "quote",
  ] as const) {
    (result as unknown as Record<string, unknown>)[k] = dcap[k];
  }
  if (!dcap.ok) {
    const err = dcap.error ?? { code: "VERIFY_INTERNAL", message: "the TD quote did not verify" };
    throw new Stop({ ...err, data: { ...err.data, check: `tdQuote.${err.data?.check ?? "verify"}` } });
  }
  const quote = dcap.quote!;
  if (quote.header.teeType !== TEE_TYPE_TDX || quote.body.type === 1) {
    run.fail(
      "tdQuote.teeType",
      "AZ_TD_QUOTE_NOT_TDX",
      "the evidence's td_quote is an SGX quote, not a TDX one",
      "az-tdx-vtpm evidence carries the TD quote of the HCL report's TDREPORT (quote v4/v5, TEE type 0x81)",
      { expected: "TDX", actual: "SGX" },
    );
  }
  run.pass("tdQuote.teeType", { expected: "TDX", actual: "TDX" });
  const body = quote.body.report as TdReportBody;

  // 4. The HCL report's TDREPORT is the one quoted (stricter: Trustee compares only the var-data hash).
  const differs: string[] = [];
  let firstOffset: number | undefined;
  if (tdReport.reportMacStruct.reportType.type !== 0x81) {
    differs.push("reportType");
    firstOffset = HCL_HW_REPORT_OFFSET;
  }
  const fields = tdReportAsBody(tdReport);
  if (quote.body.type === 3) {
    fields.push(
      { name: "teeTcbSvn2", value: tdReport.teeTcbInfo.teeTcbSvn2, offset: HCL_HW_REPORT_OFFSET + 384 },
      { name: "mrServiceTd", value: tdReport.tdInfo.servTdHash, offset: HCL_HW_REPORT_OFFSET + 912 },
    );
  }
  for (const f of fields) {
    const q = quoteField(body, f.name);
    if (!q || !bytesEqual(q, f.value)) {
      differs.push(f.name);
      firstOffset ??= f.offset;
    }
  }
  if (differs.length > 0) {
    run.fail(
      "hcl.tdReport",
      "AZ_HCL_TD_REPORT_MISMATCH",
      `the HCL report's TDREPORT differs from the TD quote's body in ${differs.join(", ")}`,
      HINT_HCL_TAMPERED,
      {
        expected: "equal to the TD quote body",
        actual: differs,
        field: `hclReport.tdReport.${differs[0]}`,
        data: { offset: firstOffset },
      },
    );
  }
  run.pass("hcl.tdReport", { actual: `${fields.length} fields equal to the TD quote body` });
  // TEE_TCB_INFO_HASH and TEE_INFO_HASH cover what the quote body leaves out (TDINFO's SERVTD_HASH, reserved).
  const tcbInfoHash = backend.crypto.sha384(tdReport.bytes.subarray(256, 256 + 239));
  const tdInfoHash = backend.crypto.sha384(tdReport.bytes.subarray(512, 1024));
  const badHashes: string[] = [];
  if (!bytesEqual(tcbInfoHash, tdReport.reportMacStruct.teeTcbInfoHash)) badHashes.push("teeTcbInfoHash");
  if (!bytesEqual(tdInfoHash, tdReport.reportMacStruct.teeInfoHash)) badHashes.push("teeInfoHash");
  if (badHashes.length > 0) {
    run.fail(
      "hcl.tdReport.hashes",
      "AZ_HCL_TD_REPORT_HASH_MISMATCH",
      `the HCL report's TDREPORT ${badHashes.join(" and ")} ${badHashes.length > 1 ? "do" : "does"} not match the structure hashed`,
      HINT_HCL_TAMPERED,
      {
        expected: { teeTcbInfoHash: toHex(tcbInfoHash), teeInfoHash: toHex(tdInfoHash) },
        actual: {
          teeTcbInfoHash: toHex(tdReport.reportMacStruct.teeTcbInfoHash),
          teeInfoHash: toHex(tdReport.reportMacStruct.teeInfoHash),
        },
        field: `hclReport.tdReport.reportMacStruct.${badHashes[0]}`,
        data: { offset: HCL_HW_REPORT_OFFSET + (badHashes[0] === "teeTcbInfoHash" ? 32 : 80) },
      },
    );
  }
  run.pass("hcl.tdReport.hashes", { actual: "TEE_TCB_INFO_HASH and TEE_INFO_HASH hold (SHA-384)" });

  // 5. SHA-256(var data) = REPORTDATA[0..32] of the TD quote (Trustee `verify_hcl_var_data`).
  const varHash = backend.crypto.sha256(hcl.variableData);
  const reportData = body.reportData;
  if (!bytesEqual(varHash, reportData.subarray(0, 32))) {
    run.fail(
      "hcl.varData.hash",
      "AZ_VAR_DATA_HASH_MISMATCH",
      "SHA-256 of the HCL var data is not the TD quote's REPORTDATA[0..32]",
      "the var data (and so the attestation key in it) is not the one the TD quote binds; the HCL report was altered",
      {
        expected: toHex(reportData.subarray(0, 32)),
        actual: toHex(varHash),
        field: "hclReport.variableData",
        data: { offset: 0x4d4 },
      },
    );
  }
  run.pass("hcl.varData.hash", {
    expected: toHex(reportData.subarray(0, 32)),
    actual: toHex(varHash),
    detail: isAllZero(reportData.subarray(32))
      ? "REPORTDATA[32..64] is zero"
      : `REPORTDATA[32..64] is ${toHex(reportData.subarray(32))} (not bound to anything here)`,
  });

  // 6. The var data JSON and the AK in it (kinvolk `HclReport::ak_pub`).
  let varData: HclVarData;
  try {
    varData = parseHclVarData(hcl.variableData);
  } catch (e) {
    run.failWith("hcl.varData.parse", e);
  }
  result.varData = varData;
  run.pass("hcl.varData.parse", {
    actual: {
      keys: varData.keys.map((k) => k.kid ?? null),
      userDataBytes: varData.userData?.length ?? null,
    },
  });
  const ak = varData.akPub;
  if (!ak) {
    run.fail(
      "hcl.akPub",
      "AZ_AK_MISSING",
      'the HCL var data holds no key with kid "HCLAkPub"',
      "the paravisor always publishes the vTPM attestation key; this var data is not from an Azure paravisor",
      { expected: "HCLAkPub", actual: varData.keys.map((k) => k.kid ?? null) },
    );
  }
  result.akPub = ak;
  let akBits: number;
  let akExponent: bigint;
  try {
    ({ bits: akBits, exponent: akExponent } = rsaJwkParts(ak, "HCLAkPub"));
  } catch (e) {
    run.fail(
      "hcl.akPub",
      "AZ_AK_INVALID",
      `the attestation key is unusable: ${e instanceof Error ? e.message : String(e)}`,
      "the vTPM attestation key must be an RSA JWK (kty RSA, n, e)",
      { actual: { kty: ak.kty ?? null } },
    );
  }
  if (akBits < AZ_MIN_AK_BITS) {
    run.fail(
      "hcl.akPub",
      "AZ_AK_INVALID",
      `the attestation key is RSA-${akBits}, shorter than ${AZ_MIN_AK_BITS} bits`,
      "Azure's vTPM AK is RSA-2048; a shorter key is refused",
      { expected: `>= ${AZ_MIN_AK_BITS} bits`, actual: akBits },
    );
  }
  // Trustee reads the var data's keys with the jsonwebkey crate, whose RSA public exponent is AQAB only.
  if (akExponent !== 65537n) {
    run.fail(
      "hcl.akPub",
      "AZ_AK_INVALID",
      `the attestation key's public exponent is ${akExponent}, not 65537`,
      "Azure's vTPM AK uses e = 65537 (AQAB); Trustee's verifier refuses any other",
      { expected: "AQAB", actual: ak.e },
    );
  }
  if (Array.isArray(ak.key_ops) && !ak.key_ops.includes("sign")) {
    run.fail(
      "hcl.akPub",
      "AZ_AK_INVALID",
      `the attestation key's key_ops (${ak.key_ops.join(", ")}) do not allow signing`,
      "the HCLAkPub key must be a signing key",
      { expected: "sign", actual: ak.key_ops },
    );
  }
  run.pass("hcl.akPub", { actual: { kty: "RSA", bits: akBits, e: ak.e } });

  return { ev, varData, ak, akBits };
}
