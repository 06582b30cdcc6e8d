/**
 * az-tdx-vtpm evidence from inside an Azure TDX confidential VM, as Trustee's attester collects it
 * (confidential-containers/guest-components `attestation-agent/attester/src/az_tdx_vtpm/mod.rs`): the HCL report
 * (with the report data written first for v2), the TD quote for its TDREPORT from Azure's IMDS, the TPM quote over
 * the SHA-256 PCRs 0..23 with the report data as nonce. Raw TPM 2.0 commands through tpm2-commands.ts.
 *
 * Error codes: GUEST_IMDS_UNREACHABLE, GUEST_IMDS_ERROR (the IMDS endpoint failed or answered garbage), plus those
 * of tpm2-commands.ts / tpm2-device.ts.
 */
import type { AzTdxVtpmEvidence, AzTdxVtpmEvidenceVersion } from "../abi/az-evidence.js";
import { HCL_HW_REPORT_OFFSET, HCL_REPORT_TYPE_TDX, parseHclReport } from "../abi/hcl.js";
import { TDREPORT_SIZE } from "../abi/types.js";
import { TdxError } from "../errors.js";
import {
  type AzureVtpmOptions,
  azureTpmQuote,
  hclReportWithReportData,
  readHclReport,
  type Tpm2Client,
} from "./tpm2-commands.js";

/** Azure's instance metadata service endpoint for TD quotes (kinvolk `az-tdx-vtpm/src/imds.rs`). */
export const AZURE_IMDS_TD_QUOTE_URL = "http://169.254.169.254/acc/tdquote";

/** Turns a TDREPORT into a TD quote (Azure: IMDS; tests: the simulated paravisor). */
export type TdQuoteSource = (tdReport: Uint8Array) => Promise<Uint8Array>;

/**
 * The TD quote for a TDREPORT from Azure's IMDS: `POST {"report": base64url}` with `Metadata: true`, answer
 * `{"quote": base64url}`.
 */
export async function imdsTdQuote(
  tdReport: Uint8Array,
  opts: { url?: string; timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<Uint8Array> {
  const url = opts.url ?? AZURE_IMDS_TD_QUOTE_URL;
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, {
      method: "POST",
      headers: { Metadata: "true", "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ report: Buffer.from(tdReport).toString("base64url") }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch (e) {
    throw new TdxError(
      "GUEST_IMDS_UNREACHABLE",
      `cannot reach ${url}: ${e instanceof Error ? e.message : e}`,
      {
        field: "imds",
        hint: "the Azure instance metadata service answers only inside an Azure VM (link-local 169.254.169.254)",
        cause: e,
      },
    );
  }
  const text = await res.text().catch(() => "");
  if (!res.ok) {
    throw new TdxError("GUEST_IMDS_ERROR", `${url} answered HTTP ${res.status}: ${text.slice(0, 200)}`, {
      field: "imds",
      hint: "the TDREPORT must come from this VM's HCL report; retry, the service may be busy",
      data: { status: res.status },
    });
  }
  let quote: unknown;
  try {
    quote = (JSON.parse(text) as { quote?: unknown }).quote;
  } catch {
    quote = undefined;
  }
  if (typeof quote !== "string" || !/^[A-Za-z0-9_-]+={0,2}$/.test(quote)) {
    throw new TdxError("GUEST_IMDS_ERROR", `${url} did not answer {"quote": base64url}`, {
      field: "imds",
      hint: "an unexpected IMDS version; check the endpoint",
    });
  }
  return Uint8Array.from(Buffer.from(quote, "base64url"));
}

export interface CollectAzTdxVtpmOptions extends AzureVtpmOptions {
  /** Evidence version: 2 (default, Trustee's current attester) writes the report data into the HCL report. */
  version?: AzTdxVtpmEvidenceVersion;
  /** Where TD quotes come from (default: Azure's IMDS). */
  tdQuote?: TdQuoteSource;
}

/** Collect az-tdx-vtpm evidence for `reportData` (the relying party's nonce, at most 64 bytes). */
export async function collectAzTdxVtpmEvidence(
  tpm: Tpm2Client,
  reportData: Uint8Array,
  opts: CollectAzTdxVtpmOptions = {},
): Promise<AzTdxVtpmEvidence> {
  const version = opts.version ?? 2;
  const hclReport =
    version >= 2 ? await hclReportWithReportData(tpm, reportData, opts) : await readHclReport(tpm);
  const hcl = parseHclReport(hclReport);
  if (hcl.requestData.reportType !== HCL_REPORT_TYPE_TDX) {
    throw new TdxError("GUEST_NOT_AZURE_TDX", "the vTPM's HCL report is not a TDX report (an SEV-SNP VM?)", {
      field: "requestData.reportType",
      offset: 0x4c8,
      hint: "az-tdx-vtpm evidence needs an Azure TDX confidential VM",
    });
  }
  const tdReport = hclReport.slice(HCL_HW_REPORT_OFFSET, HCL_HW_REPORT_OFFSET + TDREPORT_SIZE);
  const tdQuote = await (opts.tdQuote ?? ((r) => imdsTdQuote(r)))(tdReport);
  const tpmQuote = await azureTpmQuote(tpm, reportData);
  return { version, hclReport, tdQuote, tpmQuote };
}
