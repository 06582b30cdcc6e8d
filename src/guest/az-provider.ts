/**
 * The guest provider of an Azure TDX confidential VM (`az-tdx-vtpm`). Such a TD has no /dev/tdx_guest and no
 * configfs-tsm report: Microsoft's paravisor keeps the TDREPORT inside an HCL report in the vTPM (NV 0x01400001),
 * with REPORTDATA = SHA-256 of its var data (which carries the vTPM attestation key), and Azure's IMDS turns that
 * TDREPORT into a TD quote. The guest proves freshness with a TPM2_Quote over its PCRs, signed by the AK, with the
 * relying party's report data as qualifying data (and, evidence v2, the report data written into the HCL report's
 * `user-data` first). What Trustee's attester does (confidential-containers/guest-components
 * `attestation-agent/attester/src/az_tdx_vtpm/mod.rs`), with raw TPM 2.0 commands (tpm2-commands.ts) over the
 * device (tpm2-device.ts), or over the simulated paravisor's vTPM for a `sim init --platform azure` state.
 *
 * The paravisor, not the guest, chooses REPORTDATA: a TDREPORT or TD quote over REPORTDATA of the caller's choosing
 * cannot be made here (GUEST_REPORTDATA_OWNED_BY_PARAVISOR), and the RTMRs are the paravisor's
 * (GUEST_EXTEND_UNSUPPORTED); the guest's own measurements go to the vTPM PCRs.
 */
import type { AzTdxVtpmEvidence, AzTdxVtpmEvidenceVersion } from "../abi/az-evidence.js";
import { serializeAzTdxVtpmEvidence } from "../abi/az-evidence.js";
import {
  AZ_VTPM_AK_HANDLE,
  AZ_VTPM_HCL_REPORT_NV_INDEX,
  AZ_VTPM_REPORT_DATA_NV_INDEX,
  HCL_HW_REPORT_OFFSET,
  HCL_REPORT_TYPE_TDX,
  type HclReport,
  hclReportTypeName,
  parseHclReport,
} from "../abi/hcl.js";
import { pcrSelection, TPM_ALG } from "../abi/tpm2.js";
import { TDREPORT_SIZE } from "../abi/types.js";
import { TdxError } from "../errors.js";
import { openSimAzureParavisor } from "../qgs/index.js";
import {
  AZURE_IMDS_TD_QUOTE_URL,
  collectAzTdxVtpmEvidence,
  imdsTdQuote,
  type TdQuoteSource,
} from "./az-tdx-vtpm.js";
import { type Measurements, measurementsFromTdReport } from "./measurements.js";
import type { GuestProvider, ProviderDescription, ResolvedContext } from "./providers.js";
import type { QuoteResult } from "./result.js";
import { readHclReport, Tpm2Client, type Tpm2Transport } from "./tpm2-commands.js";
import { Tpm2DeviceTransport } from "./tpm2-device.js";

const hex32 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
/** SHA-256 PCRs 0..23, what Trustee's attester quotes. */
const AZ_PCR_SELECTION = [pcrSelection(TPM_ALG.SHA256, [...Array(24).keys()])];

/** Where an Azure provider's vTPM and TD quotes come from: the VM's device and IMDS, or the simulated paravisor. */
export interface AzVtpmBackend {
  /** A transport to the vTPM for one operation (closed after it). */
  openTpm(): Tpm2Transport;
  /** The TD quote for the TDREPORT cut from the HCL report (Azure: IMDS). */
  tdQuote: TdQuoteSource;
  /** Where the vTPM is, for messages ("/dev/tpmrm0"). */
  tpmLabel: string;
  /** Where TD quotes come from, for messages. */
  quoteLabel: string;
  /** Wait after writing report data before reading the HCL report (Azure regenerates it within ~3 s). */
  reportWaitMs: number;
  simulated: boolean;
  summary: string;
}

/** az-tdx-vtpm evidence as the provider collected it, with what it binds and where each part came from. */
export interface AzTdxVtpmEvidenceResult {
  tee: "az-tdx-vtpm";
  evidence: AzTdxVtpmEvidence;
  /** Trustee's JSON text for `tee-evidence` / `verify --tee az-tdx-vtpm` (v0: byte arrays; v1/v2: hex, base64url). */
  json: string;
  /**
   * The report data bound, byte for byte: the TPM quote's qualifying data (extraData), and for v2 the beginning of
   * the HCL var data's `user-data`. Never padded (Trustee compares exactly).
   */
  reportData: Uint8Array;
  /** How each part was obtained. */
  via: { hclReport: string; tdQuote: string; tpmQuote: string };
}

export interface AzEvidenceOptions {
  /** Evidence version (default 2: the report data is also written into the HCL report, as Trustee's attester). */
  version?: AzTdxVtpmEvidenceVersion;
}

function reportDataOwned(what: string): TdxError {
  return new TdxError(
    "GUEST_REPORTDATA_OWNED_BY_PARAVISOR",
    `an Azure TDX confidential VM cannot make ${what} over REPORTDATA of its choosing: the paravisor sets REPORTDATA to SHA-256 of its HCL var data`,
    {
      field: "reportData",
      hint: "attest with az-tdx-vtpm evidence, which binds your data through the vTPM quote: `tdx-attest evidence --tee az-tdx-vtpm --nonce ...`, or `tdx-attest get-resource`, which sends it to the key broker",
    },
  );
}

/** An Azure TDX confidential VM's vTPM and IMDS as a guest provider (see the file comment). */
export class AzTdxVtpmProvider implements GuestProvider {
  constructor(
    readonly name: "az-tdx-vtpm" | "sim",
    private readonly ctx: ResolvedContext,
    readonly backend: AzVtpmBackend,
  ) {}

  async #withTpm<T>(fn: (tpm: Tpm2Client) => Promise<T>): Promise<T> {
    const tpm = new Tpm2Client(this.backend.openTpm());
    try {
      return await fn(tpm);
    } finally {
      await tpm.close().catch(() => {});
    }
  }

  /** The HCL report as NV 0x01400001 holds it now, parsed; refused unless it is a TDX one. */
  async hclReport(): Promise<HclReport> {
    return requireTdx(parseHclReport(await this.#withTpm(readHclReport)));
  }

  /** The SHA-256 PCRs 0..23 of the vTPM. */
  async readPcrs(): Promise<Uint8Array[]> {
    const r = await this.#withTpm((tpm) => tpm.pcrRead(AZ_PCR_SELECTION));
    return r.values.map((v) => v.value);
  }

  /**
   * az-tdx-vtpm evidence for `reportData` (1..64 bytes, used as is: Trustee's KBS passes the raw runtime-data
   * digest, 48 bytes for SHA-384): for v2 write it to NV 0x01400002 and wait for the paravisor's new HCL report,
   * read the HCL report, get the TD quote for its TDREPORT, TPM2_Quote the SHA-256 PCRs 0..23 with the AK and the
   * report data, read the PCRs.
   */
  async getAzTdxVtpmEvidence(
    reportData: Uint8Array,
    opts: AzEvidenceOptions = {},
  ): Promise<AzTdxVtpmEvidenceResult> {
    if (!(reportData instanceof Uint8Array) || reportData.length === 0 || reportData.length > 64) {
      throw new TdxError(
        "GUEST_REPORT_DATA_SIZE",
        `az-tdx-vtpm report data must be 1 to 64 bytes, got ${reportData instanceof Uint8Array ? reportData.length : typeof reportData}`,
        {
          field: "reportData",
          hint: "pass the relying party's nonce or runtime-data digest (at most 64 bytes: TPM2_Quote's qualifying data)",
        },
      );
    }
    const version = opts.version ?? 2;
    const evidence = await this.#withTpm((tpm) =>
      collectAzTdxVtpmEvidence(tpm, reportData, {
        version,
        tdQuote: this.backend.tdQuote,
        settleMs: this.backend.reportWaitMs,
        sleep: (ms) => this.ctx.clock.sleep(ms),
      }),
    );
    const t = this.backend.tpmLabel;
    return {
      tee: "az-tdx-vtpm",
      evidence,
      json: serializeAzTdxVtpmEvidence(evidence),
      reportData: reportData.slice(),
      via: {
        hclReport:
          version >= 2
            ? `${t} NV ${hex32(AZ_VTPM_HCL_REPORT_NV_INDEX)}, after writing the report data to NV ${hex32(AZ_VTPM_REPORT_DATA_NV_INDEX)}`
            : `${t} NV ${hex32(AZ_VTPM_HCL_REPORT_NV_INDEX)} as it was (v${version}: no report data written)`,
        tdQuote: this.backend.quoteLabel,
        tpmQuote: `${t} TPM2_Quote with the AK ${hex32(AZ_VTPM_AK_HANDLE)} over SHA-256 PCRs 0..23, then TPM2_PCR_Read`,
      },
    };
  }

  getTdReport(_reportData: Uint8Array): Promise<Uint8Array> {
    return Promise.reject(reportDataOwned("a TDREPORT"));
  }
  getQuote(_reportData: Uint8Array): Promise<Uint8Array> {
    return Promise.reject(reportDataOwned("a TD quote"));
  }
  getQuoteResult(_reportData: Uint8Array): Promise<QuoteResult> {
    return Promise.reject(reportDataOwned("a TD quote"));
  }
  extendRtmr(_index: number, _digest: Uint8Array): Promise<void> {
    return Promise.reject(
      new TdxError(
        "GUEST_EXTEND_UNSUPPORTED",
        "on an Azure TDX confidential VM the RTMRs belong to the paravisor",
        {
          field: "rtmr",
          hint: "measure into a vTPM PCR instead (Trustee's Azure attester extends PCR i with a SHA-256 digest); the az-tdx-vtpm evidence carries PCRs 0..23",
        },
      ),
    );
  }
  /** MRTD, MRCONFIGID, ... and the RTMRs of the TDREPORT in the HCL report (the paravisor's; RTMRs zero on Azure). */
  async readMeasurements(): Promise<Measurements> {
    const hcl = await this.hclReport();
    return measurementsFromTdReport(
      hcl.bytes.slice(HCL_HW_REPORT_OFFSET, HCL_HW_REPORT_OFFSET + TDREPORT_SIZE),
    );
  }
  describe(): ProviderDescription {
    const t = this.backend.tpmLabel;
    return {
      name: this.name,
      tee: "az-tdx-vtpm",
      simulated: this.backend.simulated,
      summary: this.backend.summary,
      report: `the paravisor's HCL report in ${t} NV ${hex32(AZ_VTPM_HCL_REPORT_NV_INDEX)} (REPORTDATA = SHA-256 of its var data)`,
      quote: `${this.backend.quoteLabel}; freshness from TPM2_Quote with the AK ${hex32(AZ_VTPM_AK_HANDLE)}`,
      measurements: `the TDREPORT in the HCL report; PCRs 0..23 from ${t}`,
      extend: "none: the RTMRs belong to the paravisor (the guest measures into vTPM PCRs)",
    };
  }
}

export function isAzTdxVtpmProvider(p: GuestProvider): p is AzTdxVtpmProvider {
  return p instanceof AzTdxVtpmProvider;
}

function requireTdx(hcl: HclReport): HclReport {
  if (hcl.requestData.reportType !== HCL_REPORT_TYPE_TDX) {
    throw new TdxError(
      "GUEST_NOT_AZURE_TDX",
      `the vTPM's HCL report is of type ${hclReportTypeName(hcl.requestData.reportType)}, not TDX`,
      {
        field: "requestData.reportType",
        offset: 0x4c8,
        hint: "az-tdx-vtpm evidence needs an Azure TDX confidential VM (an SEV-SNP VM's evidence is az-snp-vtpm)",
      },
    );
  }
  return hcl;
}

/** The TPM device to use: the option, else /dev/tpmrm0, else /dev/tpm0 (under the context's root); null if none. */
export async function azureTpmDevice(ctx: ResolvedContext): Promise<string | null> {
  if (ctx.opts.tpmDevice !== undefined) return ctx.opts.tpmDevice;
  if (await ctx.fs.exists(ctx.paths.tpmrm)) return ctx.paths.tpmrm;
  if (await ctx.fs.exists(ctx.paths.tpm)) return ctx.paths.tpm;
  return null;
}

/** The VM's own vTPM device and Azure's IMDS. */
export function azureDeviceBackend(ctx: ResolvedContext, device: string): AzVtpmBackend {
  const url = ctx.opts.imdsUrl ?? AZURE_IMDS_TD_QUOTE_URL;
  return {
    openTpm: () => new Tpm2DeviceTransport(device, ctx.fs),
    tdQuote: (r) =>
      imdsTdQuote(r, {
        url,
        ...(ctx.opts.imdsTimeoutMs !== undefined ? { timeoutMs: ctx.opts.imdsTimeoutMs } : {}),
        ...(ctx.opts.fetch ? { fetch: ctx.opts.fetch } : {}),
      }),
    tpmLabel: device,
    quoteLabel: `Azure IMDS ${url}`,
    reportWaitMs: ctx.opts.azureReportWaitMs ?? 3000,
    simulated: false,
    summary: `Azure TDX confidential VM: vTPM ${device} (HCL report, AK quote) and TD quotes from IMDS; az-tdx-vtpm evidence`,
  };
}

/** Open the provider on this VM's vTPM (GUEST_TPM_MISSING when there is no TPM device). */
export async function openAzureProvider(ctx: ResolvedContext): Promise<AzTdxVtpmProvider> {
  const device = await azureTpmDevice(ctx);
  if (device === null) {
    throw new TdxError("GUEST_TPM_MISSING", `neither ${ctx.paths.tpmrm} nor ${ctx.paths.tpm} exists`, {
      field: "tpmDevice",
      hint: "az-tdx-vtpm needs an Azure TDX confidential VM with its vTPM (a DCesv5/ECesv5 size); run `tdx-attest status`",
    });
  }
  return new AzTdxVtpmProvider("az-tdx-vtpm", ctx, azureDeviceBackend(ctx, device));
}

/**
 * The simulated Azure TD of a `sim init --platform azure` state: the paravisor's vTPM behind its raw command
 * interface (the same bytes /dev/tpmrm0 would carry) and its IMDS quotes from the simulated QE.
 */
export async function openSimAzureProvider(
  ctx: ResolvedContext,
  stateDir: string,
): Promise<AzTdxVtpmProvider> {
  const pv = await openSimAzureParavisor(stateDir);
  return new AzTdxVtpmProvider("sim", ctx, {
    openTpm: () => ({ transmit: async (command) => pv.vtpm.execute(command) }),
    tdQuote: async (tdReport) => pv.tdQuote(tdReport),
    tpmLabel: `the simulated vTPM (state ${stateDir})`,
    quoteLabel: "the simulated IMDS /acc/tdquote (simulated TD Quoting Enclave)",
    // The simulated paravisor regenerates the HCL report as soon as report data is written.
    reportWaitMs: 0,
    simulated: true,
    summary: `simulated Azure TDX confidential VM (state ${stateDir}, scenario ${pv.platform.scenario}): az-tdx-vtpm evidence; the TD quote chains to the simulated root CA, not Intel's`,
  });
}

/** What `status` says about the Azure vTPM: available with the TD evidence found, or why not. */
export async function probeAzureVtpm(
  ctx: ResolvedContext,
): Promise<{ available: boolean; reason: string; tdEvidence: string | null }> {
  const device = await azureTpmDevice(ctx);
  if (device === null)
    return {
      available: false,
      reason: `no TPM device (${ctx.paths.tpmrm}, ${ctx.paths.tpm}): not an Azure confidential VM`,
      tdEvidence: null,
    };
  const nv = `NV ${hex32(AZ_VTPM_HCL_REPORT_NV_INDEX)}`;
  let hcl: HclReport;
  const tpm = new Tpm2Client(new Tpm2DeviceTransport(device, ctx.fs));
  try {
    hcl = parseHclReport(await readHclReport(tpm));
  } catch (e) {
    if (!(e instanceof TdxError)) return { available: false, reason: String(e), tdEvidence: null };
    const why =
      e.code === "GUEST_TPM_NV_INDEX_MISSING"
        ? `${device} has no HCL report at ${nv}: a TPM, but not an Azure confidential VM's vTPM`
        : e.code.startsWith("GUEST_")
          ? `${e.message}${e.hint ? ` (${e.hint})` : ""}`
          : `${device} ${nv} does not hold an HCL report: ${e.message}`;
    return { available: false, reason: why, tdEvidence: null };
  } finally {
    await tpm.close().catch(() => {});
  }
  if (hcl.requestData.reportType !== HCL_REPORT_TYPE_TDX)
    return {
      available: false,
      reason: `${device} ${nv} holds an HCL report of type ${hclReportTypeName(hcl.requestData.reportType)}: an Azure confidential VM, but not a TDX one`,
      tdEvidence: null,
    };
  return {
    available: true,
    reason: `${device} ${nv} holds a TDX HCL report: an Azure TDX confidential VM (TD quotes from IMDS ${ctx.opts.imdsUrl ?? AZURE_IMDS_TD_QUOTE_URL}, not contacted)`,
    tdEvidence: `${device} ${nv} (Azure HCL report, type TDX)`,
  };
}
