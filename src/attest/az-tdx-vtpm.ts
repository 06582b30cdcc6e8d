/**
 * The evidence pipeline for Azure TDX confidential VMs (`az-tdx-vtpm`, Trustee's name): Trustee's evidence JSON
 * (v0, v1 or v2, parsed once by src/abi), the TD quote's collateral from the provider the pipeline is handed, and
 * the whole chain verified by `verifyAzTdxVtpmAsync` (src/verify): Intel root -> TD quote -> SHA-256(HCL var data)
 * in REPORTDATA -> the vTPM attestation key -> TPM2_Quote -> nonce and PCRs.
 *
 * Unlike a bare TD quote, the binding cannot be checked after verification: the relying party's report data is
 * the TPM quote's nonce (and, v2, the beginning of the HCL `user-data`), which the verifier checks among its own
 * steps (confidential-containers/trustee `deps/verifier/src/az_tdx_vtpm/mod.rs` `evaluate`, `verify_tpm_nonce`).
 * So the expected report data goes in with the evidence, unpadded: Trustee's KBS hands the verifier the raw
 * runtime-data digest (`kbs/src/attestation/coco/builtin.rs`; padding to 64 bytes is the TDX verifier's own step),
 * and guest-components' attester uses that digest as TPM2_Quote's qualifying data as it is
 * (`attestation-agent/attester/src/az_tdx_vtpm/mod.rs` `get_evidence`).
 */
import { createHash } from "node:crypto";
import { type AzTdxVtpmEvidence, serializeAzTdxVtpmEvidence } from "../abi/az-evidence.js";
import { HCL_VAR_DATA_OFFSET, parseHclReport } from "../abi/hcl.js";
import { parseQuote } from "../abi/quote.js";
import type { Quote, TdReportBody } from "../abi/types.js";
import type { CollateralProvider } from "../collateral/provider.js";
import type { Collateral } from "../collateral/types.js";
import { TdxError } from "../errors.js";
import {
  AZ_TDX_VTPM_TEE,
  type AzPcr,
  type AzTdxVtpmResult,
  type Verifier,
  verifyAzTdxVtpmAsync,
} from "../verify/index.js";

export { AZ_TDX_VTPM_TEE };

/** az-tdx-vtpm evidence as a TD sends it, with what it must bind. */
export interface AzTdxVtpmEvidenceIn {
  tee: typeof AZ_TDX_VTPM_TEE;
  /** The evidence, parsed from Trustee's JSON (src/abi `parseAzTdxVtpmEvidence`). */
  evidence: AzTdxVtpmEvidence;
  /**
   * The relying party's report data: the TPM quote's nonce must equal it exactly, and v2 `user-data` must begin
   * with it. Never padded (the KBS passes the raw runtime-data digest, 48 bytes for SHA-384).
   */
  reportData: Uint8Array;
  /** Expected init-data digest (32 bytes, SHA-256): PCR 8 must be one extend of it into a zero PCR. */
  initDataHash?: Uint8Array;
  /** Refuse evidence older than this version (v2 binds the report data through the TD quote too). */
  minVersion?: 0 | 1 | 2;
}

/** Verified az-tdx-vtpm evidence: what appraisal and the token claims read (the TD's fields as for a bare TD). */
export interface AttestedAzTdxVtpmEvidence {
  tee: typeof AZ_TDX_VTPM_TEE;
  evidenceVersion: 0 | 1 | 2;
  /** The TD quote, parsed. */
  quote: Quote;
  /** Its TD report body: the paravisor's TD (MRTD, RTMRs, ...); REPORTDATA is SHA-256 of the HCL var data. */
  report: TdReportBody;
  /** Bytes of the TD quote structure (what DCAP verification covers); trailing bytes are not verified. */
  verifiedLength: number;
  trailingBytes: number;
  /**
   * SHA-256 of the evidence as verified, hex: Trustee's v1/v2 JSON (v0: byte arrays) of the TPM quote, the HCL
   * report up to the end of its var data and the TD quote up to the end of its signature data, so padding can
   * neither change the evidence's name nor hide in it.
   */
  evidenceSha256: string;
  /** The whole verification: the TD quote's DCAP verdict and every Azure check (`ok`, `checks`, `error`). */
  result: AzTdxVtpmResult;
  /** No event log travels with az-tdx-vtpm evidence: the guest's measurements are the PCRs. */
  eventLog: null;
  collateralSource: string;
  /** The TPM quote's nonce (extraData), hex; null when verification stopped before reading it. */
  nonce: string | null;
  /** The report data the nonce was checked against (the input's `reportData`). */
  expectedReportData: Uint8Array;
  /** The PCRs the TPM quote covers (proven only when `result.ok`). */
  pcrs: AzPcr[];
}

const sha256Hex = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

/** SHA-256 of the evidence's verified bytes (see `AttestedAzTdxVtpmEvidence.evidenceSha256`). */
export function azTdxVtpmEvidenceSha256(evidence: AzTdxVtpmEvidence, tdQuoteLength: number): string {
  let hcl = evidence.hclReport;
  try {
    const parsed = parseHclReport(hcl);
    hcl = hcl.subarray(0, HCL_VAR_DATA_OFFSET + parsed.requestData.variableDataSize);
  } catch {
    // Unparsable: named by all its bytes (verification refuses it anyway).
  }
  return sha256Hex(
    serializeAzTdxVtpmEvidence({
      ...evidence,
      hclReport: hcl,
      tdQuote: evidence.tdQuote.subarray(0, tdQuoteLength),
    }),
  );
}

/**
 * Verify az-tdx-vtpm evidence at `now`: the TD quote is parsed (an SGX quote is ATTEST_NOT_TD_QUOTE; bytes that are
 * no quote keep the parser's QUOTE_* code), its collateral comes from `deps.collateral` (a failure is
 * ATTEST_COLLATERAL_UNAVAILABLE, the relying party's problem), then every step is checked with the DCAP verifier
 * `deps.verifier` (its trust anchors and caches). What the evidence proves or fails is in `result`.
 */
export async function verifyAzTdxVtpmEvidence(
  input: AzTdxVtpmEvidenceIn,
  now: Date,
  deps: { collateral: CollateralProvider; verifier: Verifier },
): Promise<AttestedAzTdxVtpmEvidence> {
  const ev = input.evidence;
  const quote = parseQuote(ev.tdQuote);
  if (quote.body.kind === "sgx")
    throw new TdxError(
      "ATTEST_NOT_TD_QUOTE",
      "the evidence's td_quote is an SGX enclave quote, not a TD quote",
      {
        field: "td_quote",
        hint: "az-tdx-vtpm evidence carries the TD quote Azure's IMDS made for the HCL report's TDREPORT",
      },
    );
  let collateral: Collateral;
  try {
    collateral = await deps.collateral.forQuote(quote, now);
  } catch (e) {
    // As for a bare TD quote (src/attest/verifier.ts): the platform's collateral source failed, not the TD.
    throw new TdxError(
      "ATTEST_COLLATERAL_UNAVAILABLE",
      `no collateral for this platform from ${deps.collateral.description}: ${(e as Error).message}`,
      {
        cause: e,
        hint: "check the PCCS/PCS configuration and connectivity; the TD may retry later",
        data: e instanceof TdxError ? { cause: e.toJSON() } : {},
      },
    );
  }
  const result = await verifyAzTdxVtpmAsync(ev, collateral, {
    now,
    nonce: input.reportData,
    verifier: deps.verifier,
    ...(input.initDataHash ? { initDataHash: input.initDataHash } : {}),
    ...(input.minVersion !== undefined ? { minVersion: input.minVersion } : {}),
  });
  const verifiedLength = quote.signatureDataOffset + quote.signatureDataLength;
  return {
    tee: AZ_TDX_VTPM_TEE,
    evidenceVersion: ev.version,
    quote,
    report: quote.body.report,
    verifiedLength,
    trailingBytes: quote.trailing.length,
    evidenceSha256: azTdxVtpmEvidenceSha256(ev, verifiedLength),
    result,
    eventLog: null,
    collateralSource: deps.collateral.description,
    nonce: result.nonce,
    expectedReportData: input.reportData,
    pcrs: result.pcrs,
  };
}
