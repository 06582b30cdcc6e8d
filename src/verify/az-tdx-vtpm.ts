/**
 * Verification of Azure TDX confidential VM evidence (`az-tdx-vtpm`, as Trustee names it): the chain
 * Intel root -> TD quote -> SHA-256(HCL var data) in REPORTDATA -> vTPM attestation key (AK) in the var data ->
 * TPM2_Quote signed by the AK -> nonce and PCRs. Every step is a named check in the result, with the TD quote's
 * own DCAP checks under `tdQuote.`; each failure has its own error code.
 *
 * Trustee's steps (confidential-containers/trustee `deps/verifier/src/az_tdx_vtpm/mod.rs` `evaluate`, helpers
 * in `az_snp_vtpm/mod.rs`; the TPM checks in kinvolk/azure-cvm-tooling `az-cvm-vtpm/src/vtpm/verify.rs`), plus
 * stricter checks where Trustee is lax (see docs/verify.md "az-tdx-vtpm evidence"): the HCL report type must be
 * TDX and its hash type SHA-256, the HCL report's TD report must equal the quote's body and its two SHA-384
 * hashes must hold, the AK must be RSA of at least 2048 bits, the TPMS_ATTEST must carry TPM_GENERATED_VALUE and
 * be a quote, the PCR selection must match the PCRs supplied, v2 evidence must carry `user-data`, and
 * `minVersion` can refuse v0/v1 evidence (the nonce is then bound through the TD quote too).
 *
 * Pure like the quote verifier: (evidence, collateral, trust anchors, now, nonce) in, a result out. It calls only
 * the public `verify` / `verifyAsync` of a `Verifier` (or `verifyQuote` / `verifyQuoteAsync`).
 */
import { createHash } from "node:crypto";
import { type AzTdxVtpmEvidence, parseAzTdxVtpmEvidence } from "../abi/az-evidence.js";
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
import {
  parseTpmsAttest,
  selectedPcrs,
  TPM_GENERATED_VALUE,
  TPM_ST,
  type TpmsAttest,
  tpmAlgName,
  tpmAttestTypeName,
  tpmDigestSize,
} from "../abi/tpm2.js";
import type { TdReport, TdReportBody } from "../abi/types.js";
import { TEE_TYPE_TDX } from "../abi/types.js";
import type { Collateral } from "../collateral/types.js";
import {
  diagnoseRsaPkcs1Sha256,
  type RsaJwk,
  rsaJwkParts,
  rsaPublicKeyFromJwk,
  verifyRsaPkcs1Sha256,
  verifyRsaPkcs1Sha256Async,
} from "../crypto/rsa.js";
import { isTdxError, TdxError } from "../errors.js";
import {
  type TrustAnchorInput,
  type VerificationCheck,
  type VerificationError,
  type VerificationResult,
  type Verifier,
  verifyQuote,
  verifyQuoteAsync,
} from "./index.js";

export const AZ_TDX_VTPM_TEE = "az-tdx-vtpm";
/** The smallest AK modulus accepted (Azure's AK is RSA-2048). */
export const AZ_MIN_AK_BITS = 2048;
/** Trustee's init-data PCR (guest-components `az_snp_vtpm` `INIT_DATA_PCR`). */
export const AZ_INIT_DATA_PCR = 8;

export interface AzTdxVtpmOptions {
  /** Verification time: unix seconds or a Date. Required: verification never reads the clock. */
  now: number | Date;
  /**
   * The expected nonce: what the TPM quote's extraData must equal exactly (and what v2 `user-data` must begin
   * with). Text is taken as its UTF-8 bytes (Trustee's sample uses "challenge"). Without it the evidence is
   * refused at `tpm.nonce` (AZ_NONCE_MISSING): a TPM quote without an expected nonce proves no freshness.
   */
  nonce?: Uint8Array | string;
  /** Roots to trust for the TD quote instead of Intel's SGX Root CA (ignored when `verifier` is given). */
  trustAnchors?: TrustAnchorInput[];
  /** The quote verifier to use (its anchors and caches); default: the shared one for `trustAnchors`. */
  verifier?: Verifier;
  /** Expected init-data digest (32 bytes): PCR 8 must be SHA-256(32 zero bytes || it), as Trustee checks. */
  initDataHash?: Uint8Array;
  /** Refuse evidence older than this version (2: the nonce must also be in the HCL `user-data`). */
  minVersion?: 0 | 1 | 2;
}

export interface AzPcr {
  /** "sha256", ... */
  bank: string;
  index: number;
  /** Lowercase hex. */
  value: string;
}

/**
 * The result: the quote verification result's fields (TD quote verdict, collateral, the parsed TD quote for
 * policy appraisal) with `ok`, `checks` and `error` covering the whole evidence, plus what the evidence proves.
 */
export interface AzTdxVtpmResult extends VerificationResult {
  tee: typeof AZ_TDX_VTPM_TEE;
  /** 0, 1 or 2 once the evidence JSON parsed. */
  evidenceVersion: 0 | 1 | 2 | null;
  /** The TD quote's own verification result. */
  tdQuoteResult: VerificationResult | null;
  hclReport: HclReport | null;
  varData: HclVarData | null;
  /** The attestation key from the var data (kid HCLAkPub). */
  akPub: HclJwk | null;
  tpmAttest: TpmsAttest | null;
  /** The TPM quote's nonce (extraData), lowercase hex. */
  nonce: string | null;
  /** The PCR values in the quote's selection order. Proven only when `ok` (the PCR digest check passed). */
  pcrs: AzPcr[];
}

/** Thrown inside a run at the first failed check; turned into `result.error`. */
class Stop extends Error {
  constructor(readonly error: VerificationError) {
    super(error.message);
  }
}

class Run {
  readonly checks: VerificationCheck[] = [];
  pass(name: string, extra?: Omit<VerificationCheck, "name" | "passed">): void {
    this.checks.push(extra ? { name, passed: true, ...extra } : { name, passed: true });
  }
  fail(
    name: string,
    code: string,
    message: string,
    hint: string,
    extra: { expected?: unknown; actual?: unknown; field?: string; data?: Record<string, unknown> } = {},
  ): never {
    const check: VerificationCheck = { name, passed: false, detail: message };
    if (extra.expected !== undefined) check.expected = extra.expected;
    if (extra.actual !== undefined) check.actual = extra.actual;
    this.checks.push(check);
    const data: Record<string, unknown> = { ...extra.data, check: name };
    if (extra.expected !== undefined) data.expected = extra.expected;
    if (extra.actual !== undefined) data.actual = extra.actual;
    throw new Stop({ code, message, hint, field: extra.field ?? name, data });
  }
  /** A parser's TdxError as a failed check (its code, field, offset and hint kept). */
  failWith(name: string, e: unknown): never {
    const err = isTdxError(e)
      ? e
      : new TdxError("VERIFY_INTERNAL", `${name}: ${e instanceof Error ? e.message : String(e)}`, {
          hint: "this is a bug in tdx-attest; please report it with the evidence",
          cause: e,
        });
    this.checks.push({ name, passed: false, detail: err.message });
    const out: VerificationError = { code: err.code, message: err.message };
    if (err.hint !== undefined) out.hint = err.hint;
    if (err.field !== undefined) out.field = err.field;
    const data: Record<string, unknown> = { ...err.data, check: name };
    if (err.offset !== undefined) data.offset = err.offset;
    out.data = data;
    throw new Stop(out);
  }
}

/** How the two signature steps are done: synchronously, or from outcomes computed beforehand. */
interface Backend {
  dcap(quote: Uint8Array): VerificationResult;
  rsa(jwk: RsaJwk, message: Uint8Array, signature: Uint8Array): boolean;
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function sha384(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha384").update(b).digest());
}

function seconds(now: number | Date): number {
  return now instanceof Date ? Math.floor(now.getTime() / 1000) : Math.floor(now);
}

function nonceBytes(n: Uint8Array | string | undefined): Uint8Array | null {
  if (n === undefined) return null;
  return typeof n === "string" ? new TextEncoder().encode(n) : n;
}

function printable(b: Uint8Array): string | undefined {
  if (b.length === 0) return undefined;
  for (const c of b) if (c < 0x20 || c > 0x7e) return undefined;
  return new TextDecoder().decode(b);
}

function isParsedEvidence(v: unknown): v is AzTdxVtpmEvidence {
  return (
    typeof v === "object" &&
    v !== null &&
    [0, 1, 2].includes((v as AzTdxVtpmEvidence).version) &&
    (v as AzTdxVtpmEvidence).hclReport instanceof Uint8Array &&
    (v as AzTdxVtpmEvidence).tdQuote instanceof Uint8Array &&
    (v as AzTdxVtpmEvidence).tpmQuote?.message instanceof Uint8Array &&
    (v as AzTdxVtpmEvidence).tpmQuote.signature instanceof Uint8Array &&
    Array.isArray((v as AzTdxVtpmEvidence).tpmQuote.pcrs) &&
    (v as AzTdxVtpmEvidence).tpmQuote.pcrs.every((p) => p instanceof Uint8Array)
  );
}

/** Evidence as JSON text, its bytes, the parsed JSON value, or already parsed. */
export type AzTdxVtpmEvidenceInput = string | Uint8Array | AzTdxVtpmEvidence | Record<string, unknown>;

function toEvidence(input: AzTdxVtpmEvidenceInput): AzTdxVtpmEvidence {
  return isParsedEvidence(input) ? input : parseAzTdxVtpmEvidence(input);
}

function emptyResult(at: number): AzTdxVtpmResult {
  return {
    ok: false,
    tcbStatus: null,
    advisoryIds: [],
    collateralExpired: false,
    earliestExpiry: null,
    expiredItems: [],
    matchedTcbLevel: null,
    qeIdentityStatus: null,
    qeIdentityLevel: null,
    tdxModuleStatus: null,
    tdxModuleIdentity: null,
    checks: [],
    error: null,
    at,
    platform: null,
    collateral: null,
    quote: null,
    tee: AZ_TDX_VTPM_TEE,
    evidenceVersion: null,
    tdQuoteResult: null,
    hclReport: null,
    varData: null,
    akPub: null,
    tpmAttest: null,
    nonce: null,
    pcrs: [],
  };
}

/** The TD quote body fields an HCL TDREPORT carries, with their offsets in the HCL report. */
function tdReportAsBody(
  r: TdReport,
): { name: keyof TdReportBody | `rtmr${number}`; value: Uint8Array; offset: number }[] {
  const o = HCL_HW_REPORT_OFFSET;
  return [
    { name: "teeTcbSvn", value: r.teeTcbInfo.teeTcbSvn, offset: o + 264 },
    { name: "mrSeam", value: r.teeTcbInfo.mrSeam, offset: o + 280 },
    { name: "mrSignerSeam", value: r.teeTcbInfo.mrSignerSeam, offset: o + 328 },
    { name: "seamAttributes", value: r.teeTcbInfo.attributes, offset: o + 376 },
    { name: "tdAttributes", value: r.tdInfo.attributes, offset: o + 512 },
    { name: "xfam", value: r.tdInfo.xfam, offset: o + 520 },
    { name: "mrTd", value: r.tdInfo.mrTd, offset: o + 528 },
    { name: "mrConfigId", value: r.tdInfo.mrConfigId, offset: o + 576 },
    { name: "mrOwner", value: r.tdInfo.mrOwner, offset: o + 624 },
    { name: "mrOwnerConfig", value: r.tdInfo.mrOwnerConfig, offset: o + 672 },
    { name: "rtmr0", value: r.tdInfo.rtmr[0], offset: o + 720 },
    { name: "rtmr1", value: r.tdInfo.rtmr[1], offset: o + 768 },
    { name: "rtmr2", value: r.tdInfo.rtmr[2], offset: o + 816 },
    { name: "rtmr3", value: r.tdInfo.rtmr[3], offset: o + 864 },
    { name: "reportData", value: r.reportMacStruct.reportData, offset: o + 128 },
  ];
}

function quoteField(body: TdReportBody, name: string): Uint8Array | undefined {
  const m = /^rtmr([0-3])$/.exec(name);
  if (m) return body.rtmr[Number(m[1])];
  return (body as unknown as Record<string, Uint8Array | undefined>)[name];
}

const HINT_HCL_TAMPERED =
  "the HCL report was altered or does not belong to this TD quote; collect the evidence again (HCL report and TD quote from the same request)";

function evaluate(
  input: AzTdxVtpmEvidenceInput,
  options: AzTdxVtpmOptions,
  backend: Backend,
): AzTdxVtpmResult {
  const at = options?.now === undefined ? Number.NaN : seconds(options.now);
  const result = emptyResult(Number.isFinite(at) ? at : 0);
  const run = new Run();
  try {
    if (!Number.isFinite(at)) {
      run.fail(
        "options.now",
        "VERIFY_TIME_INVALID",
        "no valid verification time (`now`) was given",
        "pass now as unix seconds or a Date: verification never reads the clock",
      );
    }
    steps(run, result, input, options, backend);
    result.ok = true;
  } catch (e) {
    result.ok = false;
    if (e instanceof Stop) result.error = e.error;
    else {
      // Never a crash for bad input: anything unforeseen becomes a failed check (VERIFY_INTERNAL unless typed).
      try {
        run.failWith("internal", e);
      } catch (stop) {
        result.error = (stop as Stop).error;
      }
    }
  }
  result.checks = run.checks;
  return result;
}

function steps(
  run: Run,
  result: AzTdxVtpmResult,
  input: AzTdxVtpmEvidenceInput,
  options: AzTdxVtpmOptions,
  backend: Backend,
): void {
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
  const tcbInfoHash = sha384(tdReport.bytes.subarray(256, 256 + 239));
  const tdInfoHash = sha384(tdReport.bytes.subarray(512, 1024));
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
  const varHash = sha256(hcl.variableData);
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
  try {
    akBits = rsaJwkParts(ak, "HCLAkPub").bits;
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

  // 7. The TPM quote is signed by the AK (RSASSA-PKCS1-v1_5, SHA-256; kinvolk `verify_signature`).
  const { message, signature } = ev.tpmQuote;
  if (!backend.rsa(ak as RsaJwk, message, signature)) {
    const why = diagnoseRsaPkcs1Sha256(ak as RsaJwk, sha256(message), signature);
    if (why === "digest-mismatch") {
      run.fail(
        "tpm.signature",
        "AZ_TPM_MESSAGE_ALTERED",
        "the attestation key signed the TPM quote, but not this message: the TPMS_ATTEST was altered after signing",
        "collect the evidence again; the TPM quote message must be passed exactly as the TPM produced it",
        { field: "tpm_quote.message" },
      );
    }
    run.fail(
      "tpm.signature",
      "AZ_TPM_SIGNATURE_INVALID",
      "the TPM quote signature is not an RSASSA-PKCS1-v1_5/SHA-256 signature by the HCL attestation key",
      "the signature was altered, or another key made it (a TPM quote from another VM, or a forged one)",
      {
        field: "tpm_quote.signature",
        expected: `${Math.ceil(akBits / 8)} bytes`,
        actual: `${signature.length} bytes`,
      },
    );
  }
  run.pass("tpm.signature", { actual: "RSASSA-PKCS1-v1_5 SHA-256 by HCLAkPub" });

  // 8. The TPMS_ATTEST: a TPM-generated quote.
  let attest: TpmsAttest;
  try {
    attest = parseTpmsAttest(message);
  } catch (e) {
    run.failWith("tpm.attest.parse", e);
  }
  result.tpmAttest = attest;
  result.nonce = toHex(attest.extraData);
  run.pass("tpm.attest.parse", { actual: { size: message.length, type: tpmAttestTypeName(attest.type) } });
  if (attest.magic !== TPM_GENERATED_VALUE) {
    run.fail(
      "tpm.attest.magic",
      "AZ_TPM_NOT_GENERATED",
      `the TPMS_ATTEST magic is 0x${attest.magic.toString(16)}, not TPM_GENERATED_VALUE (0xff544347)`,
      "a TPM signs only structures it generated; this message is not a TPM quote",
      { expected: "ff544347", actual: attest.magic.toString(16).padStart(8, "0"), data: { offset: 0 } },
    );
  }
  run.pass("tpm.attest.magic", { actual: "ff544347" });
  if (attest.type !== TPM_ST.ATTEST_QUOTE || attest.quote === null) {
    run.fail(
      "tpm.attest.type",
      "AZ_TPM_NOT_A_QUOTE",
      `the TPMS_ATTEST is ${tpmAttestTypeName(attest.type)}, not ATTEST_QUOTE`,
      "the evidence must carry a TPM2_Quote over the PCRs",
      { expected: "ATTEST_QUOTE", actual: tpmAttestTypeName(attest.type), data: { offset: 4 } },
    );
  }
  const quoteInfo = attest.quote;
  run.pass("tpm.attest.type", { actual: "ATTEST_QUOTE" });

  // 9. Freshness: extraData is the expected nonce, exactly (Trustee `verify_tpm_nonce`).
  const nonce = nonceBytes(options.nonce);
  const actualNonce = { hex: toHex(attest.extraData), text: printable(attest.extraData) };
  if (nonce === null) {
    run.fail(
      "tpm.nonce",
      "AZ_NONCE_MISSING",
      "no expected nonce was given, so the evidence's freshness cannot be checked",
      "pass the nonce the relying party handed to the guest (CLI: --nonce TEXT or --nonce-hex HEX)",
      { actual: actualNonce },
    );
  }
  if (!bytesEqual(attest.extraData, nonce)) {
    run.fail(
      "tpm.nonce",
      "AZ_NONCE_MISMATCH",
      "the TPM quote's nonce (extraData) is not the expected one",
      "the evidence was made for another challenge (replayed or stale); ask the guest for fresh evidence",
      { expected: { hex: toHex(nonce), text: printable(nonce) }, actual: actualNonce, data: { offset: 0 } },
    );
  }
  run.pass("tpm.nonce", { expected: { hex: toHex(nonce), text: printable(nonce) }, actual: actualNonce });

  // 10. v2: the HCL user-data begins with the nonce (Trustee compares this prefix only).
  if (ev.version >= 2) {
    if (varData.userData === null) {
      run.fail(
        "hcl.userData",
        "AZ_USER_DATA_MISSING",
        "v2 evidence without `user-data` in the HCL var data",
        "a v2 attester writes the report data to NV index 0x01400002 before reading the HCL report",
      );
    }
    if (!bytesEqual(varData.userData.subarray(0, nonce.length), nonce)) {
      run.fail(
        "hcl.userData",
        "AZ_USER_DATA_MISMATCH",
        "the HCL var data's user-data does not begin with the expected nonce",
        "the HCL report was taken for another request; collect the evidence again (write the nonce, then read the report)",
        { expected: toHex(nonce), actual: varData.userDataHex, field: "hclReport.variableData.user-data" },
      );
    }
    run.pass("hcl.userData", { expected: `begins with ${toHex(nonce)}`, actual: varData.userDataHex });
  }

  // 11. The PCR values supplied are the ones selected (stricter: Trustee hashes whatever list it gets).
  const pcrs = ev.tpmQuote.pcrs;
  const slots: { bank: number; index: number }[] = [];
  for (const sel of quoteInfo.pcrSelect)
    for (const index of selectedPcrs(sel)) slots.push({ bank: sel.hash, index });
  const selText = quoteInfo.pcrSelect
    .map((s) => `${tpmAlgName(s.hash)}:${selectedPcrs(s).join(",")}`)
    .join(" ");
  const badSize = slots.findIndex(
    (s, i) => pcrs[i] !== undefined && pcrs[i]!.length !== tpmDigestSize(s.bank),
  );
  if (slots.length === 0 || slots.length !== pcrs.length || badSize >= 0) {
    run.fail(
      "tpm.pcrSelection",
      "AZ_PCR_SELECTION_MISMATCH",
      slots.length === 0
        ? "the TPM quote selects no PCR"
        : badSize >= 0
          ? `PCR value ${badSize} has ${pcrs[badSize]!.length} bytes; its bank ${tpmAlgName(slots[badSize]!.bank)} has ${tpmDigestSize(slots[badSize]!.bank) ?? "unknown-size"} digests`
          : `the TPM quote selects ${slots.length} PCRs (${selText}) but the evidence supplies ${pcrs.length} values`,
      "supply exactly the PCR values the quote selects, in its order (Azure: SHA-256 bank, PCRs 0..23)",
      { expected: selText, actual: `${pcrs.length} values`, field: "tpm_quote.pcrs" },
    );
  }
  result.pcrs = slots.map((s, i) => ({ bank: tpmAlgName(s.bank), index: s.index, value: toHex(pcrs[i]!) }));
  run.pass("tpm.pcrSelection", { expected: selText, actual: `${pcrs.length} values` });

  // 12. The PCR values hash to the quote's pcrDigest (SHA-256, the AK's scheme hash; kinvolk `verify_pcrs`).
  const digest = sha256(...pcrs);
  if (!bytesEqual(digest, quoteInfo.pcrDigest)) {
    run.fail(
      "tpm.pcrDigest",
      "AZ_PCR_DIGEST_MISMATCH",
      "SHA-256 of the supplied PCR values is not the TPM quote's pcrDigest",
      "a PCR value was altered, or a PCR was extended between TPM2_Quote and TPM2_PCR_Read; collect the evidence again",
      { expected: toHex(quoteInfo.pcrDigest), actual: toHex(digest), field: "tpm_quote.pcrs" },
    );
  }
  run.pass("tpm.pcrDigest", { expected: toHex(quoteInfo.pcrDigest), actual: toHex(digest) });

  // 13. Init data: one extend of the expected digest into a zero PCR 8 (Trustee `verify_init_data`).
  if (options.initDataHash !== undefined) {
    const want = sha256(new Uint8Array(32), options.initDataHash);
    const i = slots.findIndex((s) => s.index === AZ_INIT_DATA_PCR && tpmDigestSize(s.bank) === 32);
    const have = i >= 0 ? pcrs[i]! : null;
    if (options.initDataHash.length !== 32 || have === null || !bytesEqual(have, want)) {
      run.fail(
        "tpm.initData",
        "AZ_INIT_DATA_MISMATCH",
        options.initDataHash.length !== 32
          ? `the expected init-data digest is ${options.initDataHash.length} bytes, not 32`
          : have === null
            ? "the TPM quote does not cover PCR 8 of a SHA-256 bank"
            : "PCR 8 is not SHA-256(32 zero bytes || the expected init-data digest)",
        "the TD was started with other init data (or none); check the init data the guest measured",
        { expected: toHex(want), actual: have ? toHex(have) : null, field: "tpm_quote.pcrs[8]" },
      );
    }
    run.pass("tpm.initData", { expected: toHex(want), actual: toHex(have) });
  }
}

function syncBackend(collateral: Collateral, options: AzTdxVtpmOptions): Backend {
  return {
    dcap: (quote) => {
      const opts = { now: options.now };
      if (options.verifier) return options.verifier.verify(quote, collateral, opts);
      return verifyQuote(
        quote,
        collateral,
        options.trustAnchors ? { ...opts, trustAnchors: options.trustAnchors } : opts,
      );
    },
    rsa: (jwk, message, signature) => {
      try {
        return verifyRsaPkcs1Sha256(rsaPublicKeyFromJwk(jwk, "HCLAkPub"), message, signature);
      } catch {
        return false;
      }
    },
  };
}

/**
 * Verify az-tdx-vtpm evidence (Trustee's JSON v0/v1/v2, or parsed) against the TD quote's collateral at `now`,
 * with the expected `nonce`. Never throws for bad input: the result says what failed (`error`, the last check).
 */
export function verifyAzTdxVtpm(
  evidence: AzTdxVtpmEvidenceInput,
  collateral: Collateral,
  options: AzTdxVtpmOptions,
): AzTdxVtpmResult {
  return evaluate(evidence, options, syncBackend(collateral, options ?? ({} as AzTdxVtpmOptions)));
}

/**
 * `verifyAzTdxVtpm` with the TD quote verified by `verifyAsync` (signatures on the thread pool) and the TPM quote
 * signature by WebCrypto, both started before the checks run. The same checks, codes and result.
 */
export async function verifyAzTdxVtpmAsync(
  evidence: AzTdxVtpmEvidenceInput,
  collateral: Collateral,
  options: AzTdxVtpmOptions,
): Promise<AzTdxVtpmResult> {
  const o = options ?? ({} as AzTdxVtpmOptions);
  const sync = syncBackend(collateral, o);
  let ev: AzTdxVtpmEvidence;
  try {
    ev = toEvidence(evidence);
  } catch {
    return evaluate(evidence, options, sync); // fails at evidence.parse
  }
  const now = { now: o.now };
  const dcapP = o.verifier
    ? o.verifier.verifyAsync(ev.tdQuote, collateral, now)
    : verifyQuoteAsync(
        ev.tdQuote,
        collateral,
        o.trustAnchors ? { ...now, trustAnchors: o.trustAnchors } : now,
      );
  // Private copies: the outcome must be about the bytes the checks see at the end, whatever the caller does.
  const message = ev.tpmQuote.message.slice();
  const signature = ev.tpmQuote.signature.slice();
  let rsaP: Promise<boolean> | null = null;
  let akSeen: HclJwk | null = null;
  try {
    const ak = parseHclVarData(parseHclReport(ev.hclReport).variableData).akPub;
    if (ak) {
      rsaJwkParts(ak);
      akSeen = { n: ak.n, e: ak.e };
      rsaP = verifyRsaPkcs1Sha256Async(ak as RsaJwk, message, signature);
    }
  } catch {
    // The checks report it, in their order.
  }
  const [dcap, rsa] = await Promise.all([dcapP, rsaP]);
  return evaluate(ev, options, {
    dcap: () => dcap,
    // The outcome computed beforehand answers only for the key and bytes it was computed on.
    rsa: (jwk, m, sig) =>
      rsa !== null &&
      akSeen !== null &&
      jwk.n === akSeen.n &&
      jwk.e === akSeen.e &&
      bytesEqual(m, message) &&
      bytesEqual(sig, signature)
        ? rsa
        : sync.rsa(jwk, m, sig),
  });
}
