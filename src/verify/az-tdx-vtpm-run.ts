/**
 * az-tdx-vtpm verification (az-tdx-vtpm.ts): its options, result, the run that records checks, and small
 * helpers shared by the evidence checks (az-tdx-vtpm-evidence.ts) and the TPM checks (az-tdx-vtpm-tpm.ts).
 */
import { type AzTdxVtpmEvidence, parseAzTdxVtpmEvidence } from "../abi/az-evidence.js";
import { HCL_HW_REPORT_OFFSET, type HclJwk, type HclReport, type HclVarData } from "../abi/hcl.js";
import type { TpmsAttest } from "../abi/tpm2.js";
import type { TdReport, TdReportBody } from "../abi/types.js";
import type { CryptoBackend } from "../crypto/backend.js";
import type { RsaJwk } from "../crypto/rsa-jwk.js";
import { type ErrorCode, isTdxError, TdxError } from "../errors.js";
import type { TrustAnchorInput } from "./anchors.js";
import type { VerificationCheck, VerificationError, VerificationResult } from "./result.js";
import type { Verifier } from "./verifier.js";

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
export class Stop extends Error {
  constructor(readonly error: VerificationError) {
    super(error.message);
  }
}

export class Run {
  readonly checks: VerificationCheck[] = [];
  pass(name: string, extra?: Omit<VerificationCheck, "name" | "passed">): void {
    this.checks.push(extra ? { name, passed: true, ...extra } : { name, passed: true });
  }
  fail(
    name: string,
    code: ErrorCode,
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
    if (err.offset !== undefined) out.offset = err.offset;
    const data: Record<string, unknown> = { ...err.data, check: name };
    if (err.offset !== undefined) data.offset = err.offset;
    out.data = data;
    throw new Stop(out);
  }
}

/** How the two signature steps are done: synchronously, or from outcomes computed beforehand. */
export interface Backend {
  dcap(quote: Uint8Array): VerificationResult;
  rsa(jwk: RsaJwk, message: Uint8Array, signature: Uint8Array): boolean;
  /** Hashes (and the RSA check's backend): the verifier's. */
  crypto: CryptoBackend;
}

export function seconds(now: number | Date): number {
  return now instanceof Date ? Math.floor(now.getTime() / 1000) : Math.floor(now);
}

export function nonceBytes(n: Uint8Array | string | undefined): Uint8Array | null {
  if (n === undefined) return null;
  return typeof n === "string" ? new TextEncoder().encode(n) : n;
}

export function printable(b: Uint8Array): string | undefined {
  if (b.length === 0) return undefined;
  for (const c of b) if (c < 0x20 || c > 0x7e) return undefined;
  return new TextDecoder().decode(b);
}

export function isParsedEvidence(v: unknown): v is AzTdxVtpmEvidence {
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

export function toEvidence(input: AzTdxVtpmEvidenceInput): AzTdxVtpmEvidence {
  return isParsedEvidence(input) ? input : parseAzTdxVtpmEvidence(input);
}

export function emptyResult(at: number): AzTdxVtpmResult {
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
export function tdReportAsBody(
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

export function quoteField(body: TdReportBody, name: string): Uint8Array | undefined {
  const m = /^rtmr([0-3])$/.exec(name);
  if (m) return body.rtmr[Number(m[1])];
  return (body as unknown as Record<string, Uint8Array | undefined>)[name];
}

export const HINT_HCL_TAMPERED =
  "the HCL report was altered or does not belong to this TD quote; collect the evidence again (HCL report and TD quote from the same request)";
