/**
 * An Azure-like paravisor for the simulated TDX platform: what Microsoft's HCL does beside a TDX confidential VM
 * (Microsoft, "Guest attestation for confidential VMs" design page; kinvolk/azure-cvm-tooling; the Azure
 * capture in ../shared/vectors/az-tdx-vtpm). It owns a vTPM (`SimVtpm`), publishes the vTPM attestation key in
 * the HCL var data, binds SHA-256(var data) into the TD's REPORTDATA through TDG.MR.REPORT, keeps the HCL report
 * in NV index 0x01400001 and regenerates it when the guest writes report data to NV index 0x01400002, and hands
 * out TD quotes from the simulated Quoting Enclave as Azure's IMDS `/acc/tdquote` does. Evidence it makes
 * verifies with `verifyAzTdxVtpm` when the simulated root CA is the trust anchor, and only then.
 */
import { createHash, randomUUID } from "node:crypto";
import type { AzTdxVtpmEvidence, AzTdxVtpmEvidenceVersion } from "../abi/az-evidence.js";
import { serializeAzTdxVtpmEvidence } from "../abi/az-evidence.js";
import { toHex } from "../abi/bytes.js";
import {
  AZ_VTPM_HCL_REPORT_NV_INDEX,
  AZ_VTPM_REPORT_DATA_NV_INDEX,
  HCL_AK_KID,
  HCL_EK_KID,
  HCL_HW_REPORT_OFFSET,
  serializeHclReport,
} from "../abi/hcl.js";
import { pcrSelection, TPM_ALG, TPMA_NV } from "../abi/tpm2.js";
import { TDREPORT_SIZE } from "../abi/types.js";
import type { Collateral } from "../collateral/types.js";
import { newKeyPair } from "../crypto/keygen.js";
import { TdxError } from "../errors.js";
import { createSimPlatform, type SimPlatform, type SimPlatformOptions } from "./platform.js";
import { SIM_VTPM_PCR_COUNT, SimVtpm, type SimVtpmOptions } from "./vtpm.js";

export {
  type NvWriteListener,
  SIM_VTPM_PCR_COUNT,
  SimVtpm,
  type SimVtpmOptions,
  tpmName,
} from "./vtpm.js";

/** The size of the HCL report NV index on Azure (the capture's blob is 2600 bytes, zero padded). */
export const SIM_HCL_NV_SIZE = 2600;

export interface SimAzureParavisorOptions extends SimPlatformOptions {
  /** The TDX platform under the paravisor; default: a new in-memory one from the other options. */
  platform?: SimPlatform;
  vtpm?: SimVtpmOptions;
  /** vm-configuration.vmUniqueId (default a random UUID, upper case as Azure shows it). */
  vmUniqueId?: string;
  /** The endorsement key's public JWK for the var data (default: a new RSA-2048 key's). */
  ek?: { kty: "RSA"; n: string; e: string };
  /** Measure a simulated boot into PCRs 0..7, 9..14 at start (default true). */
  measureBoot?: boolean;
  /**
   * Rewrite the var data document before it is hashed and bound (a misbehaving or unknown paravisor, for tests):
   * whatever it returns is serialised as the var data, and the TD quote binds it as usual.
   */
  editVarData?: (doc: Record<string, unknown>) => unknown;
}

/** The events of the simulated boot, by PCR (content only matters through its hash). */
const BOOT_EVENTS: [number, string][] = [
  [0, "sim UEFI firmware (Hyper-V UEFI)"],
  [1, "sim UEFI configuration"],
  [2, "sim option ROMs"],
  [3, "sim option ROM configuration"],
  [4, "sim boot loader (shim, grub)"],
  [5, "sim GPT and boot variables"],
  [6, "sim platform events"],
  [7, "sim Secure Boot policy (PK, KEK, db, dbx)"],
  [9, "sim kernel and initrd"],
  [10, "sim IMA boot aggregate"],
  [12, "sim kernel command line"],
  [14, "sim MokList"],
];

export interface SimEvidenceOptions {
  /** The relying party's nonce (the report data): TPM2_Quote's qualifying data, at most 64 bytes. */
  nonce: Uint8Array | string;
  /** Evidence version (default 2, as Trustee's current attester). v2 writes the nonce to NV 0x01400002 first. */
  version?: AzTdxVtpmEvidenceVersion;
  /** For tests: write these bytes as report data instead of the nonce (v2 only). */
  userData?: Uint8Array;
}

/** A simulated Azure paravisor: vTPM, HCL report, IMDS TD quotes, over a simulated TDX platform. */
export class SimAzureParavisor {
  readonly platform: SimPlatform;
  readonly vtpm: SimVtpm;
  readonly vmUniqueId: string;
  readonly #ek: { kty: "RSA"; n: string; e: string };
  readonly #edit: ((doc: Record<string, unknown>) => unknown) | undefined;

  private constructor(platform: SimPlatform, opts: SimAzureParavisorOptions) {
    this.platform = platform;
    this.vtpm = new SimVtpm(opts.vtpm);
    this.vmUniqueId = opts.vmUniqueId ?? randomUUID().toUpperCase();
    // The endorsement key only appears in the var data here (Trustee does not use it).
    this.#ek = opts.ek ?? newRsaPublicJwk();
    this.#edit = opts.editVarData;
    if (opts.measureBoot !== false) {
      for (const [pcr, event] of BOOT_EVENTS) this.vtpm.measure(pcr, new TextEncoder().encode(event));
    }
    this.vtpm.onNvWrite((index) => {
      if (index === AZ_VTPM_REPORT_DATA_NV_INDEX) this.refreshReport();
    });
    this.refreshReport();
  }

  /** A paravisor over `opts.platform`, or over a new in-memory simulated platform. */
  static async create(opts: SimAzureParavisorOptions = {}): Promise<SimAzureParavisor> {
    const platform = opts.platform ?? (await createSimPlatform(opts));
    return new SimAzureParavisor(platform, opts);
  }

  /** The endorsement key's public JWK (HCLEkPub in the var data). */
  get ekJwk(): { kty: "RSA"; n: string; e: string } {
    return { ...this.#ek };
  }

  /** PEM of the simulated root CA: the TD quote's trust anchor. */
  get rootCaPem(): string {
    return this.platform.rootCaPem;
  }

  /** The collateral for the TD quotes (the simulated platform's). */
  collateral(opts: { now?: Date } = {}): Promise<Collateral> {
    return this.platform.collateral(opts);
  }

  /** The report data the guest last wrote to NV 0x01400002, zero padded to 64 bytes (64 zero bytes if none). */
  #userData(): Uint8Array {
    const nv = this.vtpm.nvIndex(AZ_VTPM_REPORT_DATA_NV_INDEX);
    const out = new Uint8Array(Math.max(64, nv?.data.length ?? 0));
    if (nv && nv.pub.attributes & TPMA_NV.WRITTEN) out.set(nv.data);
    return out;
  }

  /** The var data JSON (compact, key order as Azure's): the AK, the EK, the VM configuration, user-data. */
  varData(): Uint8Array {
    const doc: Record<string, unknown> = {
      keys: [
        { kid: HCL_AK_KID, key_ops: ["sign"], ...this.vtpm.akJwk },
        { kid: HCL_EK_KID, key_ops: ["encrypt"], ...this.#ek },
      ],
      "vm-configuration": {
        "console-enabled": false,
        "root-cert-thumbprint": Buffer.from(createHash("sha256").update(this.rootCaPem).digest()).toString(
          "base64url",
        ),
        "secure-boot": true,
        "tpm-enabled": true,
        "tpm-persisted": true,
        vmUniqueId: this.vmUniqueId,
      },
      "user-data": toHex(this.#userData()).toUpperCase(),
    };
    const edited = this.#edit ? this.#edit(doc) : doc;
    return new TextEncoder().encode(typeof edited === "string" ? edited : JSON.stringify(edited));
  }

  /**
   * Regenerate the HCL report: var data, REPORTDATA = SHA-256(var data) || 32 zero bytes, TDG.MR.REPORT, the
   * envelope, into NV 0x01400001 (Azure does this at boot and after the guest writes report data).
   */
  refreshReport(): Uint8Array {
    const variableData = this.varData();
    const reportData = new Uint8Array(64);
    reportData.set(createHash("sha256").update(variableData).digest());
    const tdReport = this.platform.report(reportData);
    const needed = 0x4d4 + variableData.length;
    const hcl = serializeHclReport({
      hwReport: tdReport,
      variableData,
      totalSize: Math.max(SIM_HCL_NV_SIZE, needed),
    });
    this.vtpm.defineNvIndex(
      {
        nvIndex: AZ_VTPM_HCL_REPORT_NV_INDEX,
        nameAlg: TPM_ALG.SHA256,
        attributes:
          TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.PPREAD | TPMA_NV.PLATFORMCREATE | TPMA_NV.NO_DA,
        authPolicy: new Uint8Array(0),
        dataSize: hcl.length,
      },
      hcl,
    );
    return hcl;
  }

  /** The HCL report as NV 0x01400001 holds it now. */
  hclReport(): Uint8Array {
    return this.vtpm.nvIndex(AZ_VTPM_HCL_REPORT_NV_INDEX)!.data;
  }

  /** IMDS `POST /acc/tdquote`: the TD quote for a TDREPORT taken on this platform. */
  tdQuote(tdReport: Uint8Array): Uint8Array {
    if (tdReport.length !== TDREPORT_SIZE) {
      throw new TdxError("SIM_IMDS_BAD_REQUEST", `a TDREPORT is 1024 bytes, got ${tdReport.length}`, {
        field: "report",
        hint: "send the TDREPORT cut from the HCL report (bytes 0x20..0x420)",
      });
    }
    return this.platform.quoteFromTdReport(tdReport);
  }

  /** The IMDS exchange as JSON text: `{"report": base64url(TDREPORT)}` in, `{"quote": base64url(quote)}` out. */
  imdsTdQuote(requestBody: string): string {
    let report: unknown;
    try {
      report = (JSON.parse(requestBody) as { report?: unknown }).report;
    } catch (e) {
      throw new TdxError("SIM_IMDS_BAD_REQUEST", "the request body is not JSON", {
        field: "body",
        hint: 'send {"report": "<base64url TDREPORT>"}',
        cause: e,
      });
    }
    if (typeof report !== "string" || !/^[A-Za-z0-9_-]*={0,2}$/.test(report)) {
      throw new TdxError("SIM_IMDS_BAD_REQUEST", "report is not base64url text", {
        field: "report",
        hint: 'send {"report": "<base64url TDREPORT>"}',
      });
    }
    const quote = this.tdQuote(Uint8Array.from(Buffer.from(report, "base64url")));
    return JSON.stringify({ quote: Buffer.from(quote).toString("base64url") });
  }

  /**
   * The attester's flow (guest-components `az_tdx_vtpm` `get_evidence`), in process: for v2 write the report data
   * to NV 0x01400002 (the paravisor regenerates the report), read the HCL report, get the TD quote for its
   * TDREPORT, TPM2_Quote the SHA-256 PCRs 0..23 with the nonce, read the PCRs.
   */
  evidence(opts: SimEvidenceOptions): AzTdxVtpmEvidence {
    const nonce = typeof opts.nonce === "string" ? new TextEncoder().encode(opts.nonce) : opts.nonce;
    const version = opts.version ?? 2;
    if (version >= 2) this.writeReportData(opts.userData ?? nonce);
    const hclReport = this.hclReport();
    const tdQuote = this.tdQuote(
      hclReport.subarray(HCL_HW_REPORT_OFFSET, HCL_HW_REPORT_OFFSET + TDREPORT_SIZE),
    );
    const all = [...Array(SIM_VTPM_PCR_COUNT).keys()];
    const q = this.vtpm.quote(nonce, [pcrSelection(TPM_ALG.SHA256, all)]);
    if (!("signature" in q.signature)) throw new Error("unreachable: the AK signs with RSASSA");
    return {
      version,
      hclReport,
      tdQuote,
      tpmQuote: {
        signature: q.signature.signature,
        message: q.attest,
        pcrs: all.map((i) => this.vtpm.pcr(i, TPM_ALG.SHA256)),
      },
    };
  }

  /** `evidence` as Trustee's JSON text. */
  evidenceJson(opts: SimEvidenceOptions): string {
    return serializeAzTdxVtpmEvidence(this.evidence(opts));
  }

  /** What a guest's NV_Write of report data does (define the index at that size if needed). */
  writeReportData(data: Uint8Array): void {
    const nv = this.vtpm.nvIndex(AZ_VTPM_REPORT_DATA_NV_INDEX);
    if (!nv || nv.pub.dataSize !== data.length) {
      this.vtpm.defineNvIndex({
        nvIndex: AZ_VTPM_REPORT_DATA_NV_INDEX,
        nameAlg: TPM_ALG.SHA256,
        attributes: TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE,
        authPolicy: new Uint8Array(0),
        dataSize: data.length,
      });
    }
    this.vtpm.defineNvIndex(this.vtpm.nvIndex(AZ_VTPM_REPORT_DATA_NV_INDEX)!.pub, data);
    this.refreshReport();
  }
}

/** The public JWK of a new RSA-2048 key (the simulated EK). */
export function newRsaPublicJwk(): { kty: "RSA"; n: string; e: string } {
  const jwk = newKeyPair({ type: "rsa", modulusLength: 2048 }).publicKey.export({
    format: "jwk",
  });
  return { kty: "RSA", n: jwk.n!, e: jwk.e! };
}

/** A simulated Azure TDX confidential VM: platform, paravisor and vTPM in memory. */
export function createSimAzureParavisor(opts: SimAzureParavisorOptions = {}): Promise<SimAzureParavisor> {
  return SimAzureParavisor.create(opts);
}
