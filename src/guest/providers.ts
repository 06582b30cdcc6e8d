/**
 * The guest providers: one interface over configfs-tsm, /dev/tdx_guest, the seed's /dev/tdx-attest, a QGS
 * reached directly, and the simulated platform.
 */
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { TdxError } from "../errors.js";
import {
  formatQgsAddress,
  type Libc,
  loadLibc,
  openSimQuotingBackend,
  parseQgsAddress,
  QGS_DEFAULT_VSOCK_PORT,
  type QgsAddress,
  qgsGetQuote,
  type SimPlatform,
  VMADDR_CID_HOST,
} from "../qgs/index.js";
import { configfsGetQuote } from "./configfs.js";
import { checkReportData, checkRtmrArgs } from "./errors.js";
import { type GuestFs, nodeGuestFs } from "./fs.js";
import { deviceGetTdReport, legacyGetQuote, legacyGetTdReport } from "./ioctl.js";
import { type KernelVersion, readKernelVersion } from "./kernel.js";
import {
  extendRtmrSysfs,
  type Measurements,
  measurementsFromTdReport,
  readMeasurementsSysfs,
} from "./measurements.js";
import { type GuestPaths, guestPaths } from "./paths.js";
import type { QuoteChildHost } from "./quote-child.js";
import { trimQuote } from "./quote-length.js";
import { DEFAULT_RETRY, type GuestClock, type QuoteResult, type RetryPolicy, realClock } from "./result.js";

export type ProviderName = "configfs" | "device" | "legacy" | "az-tdx-vtpm" | "qgs" | "sim";
export const PROVIDER_NAMES: readonly ProviderName[] = [
  "configfs",
  "device",
  "legacy",
  "az-tdx-vtpm",
  "qgs",
  "sim",
];

/**
 * The evidence a provider produces, in Trustee's tee names: `tdx` (a TD quote over the caller's REPORTDATA) or
 * `az-tdx-vtpm` (an Azure TDX confidential VM: HCL report, TD quote and vTPM quote; see az-provider.ts).
 */
export type GuestTee = "tdx" | "az-tdx-vtpm";

export interface ProviderDescription {
  name: ProviderName;
  /** What evidence it produces: TD quotes over the caller's REPORTDATA, or Azure's az-tdx-vtpm evidence. */
  tee: GuestTee;
  /** True for the simulated platform: its quotes chain to the simulated root CA, never to Intel's. */
  simulated: boolean;
  /** One line for humans. */
  summary: string;
  /** How each operation is carried out on this machine. */
  report: string;
  quote: string;
  measurements: string;
  extend: string;
}

export interface GuestProvider {
  readonly name: ProviderName;
  /** TDG.MR.REPORT for exactly 64 bytes of REPORTDATA: the 1024-byte TDREPORT. */
  getTdReport(reportData: Uint8Array): Promise<Uint8Array>;
  /** A signed TD quote whose REPORTDATA is `reportData` (64 bytes). */
  getQuote(reportData: Uint8Array): Promise<Uint8Array>;
  /** The quote with how it was obtained: the interface, attempts and retries, warnings, a fallback taken. */
  getQuoteResult(reportData: Uint8Array): Promise<QuoteResult>;
  /** RTMR[index] = SHA384(RTMR[index] || digest), digest 48 bytes. */
  extendRtmr(index: number, digest: Uint8Array): Promise<void>;
  readMeasurements(): Promise<Measurements>;
  describe(): ProviderDescription;
}

export interface GuestProviderOptions {
  /** Filesystem root under which /dev, /sys, /etc are looked up (tests). Default "/". */
  root?: string;
  /** File operations (tests inject a configfs/sysfs fake). */
  fs?: GuestFs;
  /** The libc layer for ioctl and vsock (tests inject a fake kernel). Default: koffi, loaded lazily. */
  libc?: Libc;
  /** QGS address for the device and qgs providers (unix:PATH, tcp:HOST:PORT, vsock:[CID:]PORT). */
  qgs?: string | QgsAddress;
  qgsTimeoutMs?: number;
  /** Simulated platform state directory (default $TDX_SIM_STATE, else ./data/sim). */
  simState?: string;
  /** Quote version the simulated QE produces (default 4). */
  quoteVersion?: 4 | 5;
  /** Payload convention for the legacy GetQuote ioctl (default "qgs": framed QGS message, as libtdx_attest). */
  legacyQuotePayload?: "qgs" | "raw";
  /** Deadline for the seed driver's GET_QUOTE ioctl, which has none of its own (default 30 s). */
  quoteTimeoutMs?: number;
  /** Retries of transient quote failures (default 3 attempts, 1 s then 2 s apart). */
  retry?: Partial<RetryPolicy>;
  /**
   * `auto` only: when a configfs-tsm quote fails on the host side (no quote-generation-socket, a host that does
   * not answer, a stuck kernel buffer), get the quote from /dev/tdx_guest + the QGS over vsock instead
   * (default true, when /dev/tdx_guest is usable).
   */
  fallback?: boolean;
  /** Tests: a virtual clock (the kernel's 30-second waits cost nothing). */
  clock?: GuestClock;
  /** Tests: the ioctl layer of the GET_QUOTE child process (a fake VMM). */
  quoteHost?: QuoteChildHost;
  /** az-tdx-vtpm: the TPM device (default /dev/tpmrm0, else /dev/tpm0, under `root`). */
  tpmDevice?: string;
  /** az-tdx-vtpm: Azure's IMDS TD quote endpoint (default http://169.254.169.254/acc/tdquote). */
  imdsUrl?: string;
  /** az-tdx-vtpm: how long to wait for IMDS (default 30 s). */
  imdsTimeoutMs?: number;
  /** az-tdx-vtpm: wait after writing report data before reading the HCL report (default 3000 ms, as kinvolk). */
  azureReportWaitMs?: number;
  /** Tests: the HTTP client for IMDS (a fake Azure host). */
  fetch?: typeof fetch;
}

export interface ResolvedContext {
  paths: GuestPaths;
  fs: GuestFs;
  libc: () => Promise<Libc>;
  /** The running kernel (read once), for what its errnos mean. */
  kernel: () => Promise<KernelVersion | null>;
  clock: GuestClock;
  retry: RetryPolicy;
  opts: GuestProviderOptions;
}

export function resolveContext(opts: GuestProviderOptions = {}): ResolvedContext {
  const paths = guestPaths(opts.root ?? "/");
  const fs = opts.fs ?? nodeGuestFs;
  let kernel: Promise<KernelVersion | null> | undefined;
  return {
    paths,
    fs,
    libc: () => (opts.libc ? Promise.resolve(opts.libc) : loadLibc()),
    kernel: () => {
      kernel ??= readKernelVersion(fs, paths.osrelease);
      return kernel;
    },
    clock: opts.clock ?? realClock,
    retry: { ...DEFAULT_RETRY, ...(opts.retry ?? {}) },
    opts,
  };
}

/**
 * libtdx_attest's /etc/tdx-attest.conf: a `port = N` line selects the vsock port (comments with #). As its
 * get_vsock_port, the first such line decides: port 0 or one past UINT_MAX means no vsock port (null).
 */
export function parseTdxAttestConf(text: string): number | null {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#") || line.length === 0) continue;
    const m = /^port\s*=\s*(\d{1,10})$/.exec(line);
    if (m) {
      const n = Number(m[1]);
      return n > 0 && n <= 0xffffffff ? n : null;
    }
  }
  return null;
}

/** The QGS a guest dials: the option, else /etc/tdx-attest.conf's port on CID 2, else vsock 2:4050. */
export async function guestQgsAddress(
  ctx: ResolvedContext,
): Promise<{ address: QgsAddress; source: string }> {
  if (ctx.opts.qgs !== undefined)
    return {
      address: typeof ctx.opts.qgs === "string" ? parseQgsAddress(ctx.opts.qgs) : ctx.opts.qgs,
      source: "option",
    };
  try {
    const port = parseTdxAttestConf(await readFile(ctx.paths.attestConf, "utf8"));
    if (port !== null)
      return { address: { kind: "vsock", cid: VMADDR_CID_HOST, port }, source: ctx.paths.attestConf };
  } catch {
    // no configuration file: Intel's default port
  }
  return {
    address: { kind: "vsock", cid: VMADDR_CID_HOST, port: QGS_DEFAULT_VSOCK_PORT },
    source: "default",
  };
}

async function measurementsVia(ctx: ResolvedContext, report: (rd: Uint8Array) => Promise<Uint8Array>) {
  if (await ctx.fs.exists(ctx.paths.measurements))
    return readMeasurementsSysfs(ctx.fs, ctx.paths.measurements);
  return measurementsFromTdReport(await report(new Uint8Array(64)));
}

async function extendVia(ctx: ResolvedContext, index: number, digest: Uint8Array): Promise<void> {
  checkRtmrArgs(index, digest);
  if (!(await ctx.fs.exists(ctx.paths.measurements)))
    throw new TdxError("GUEST_EXTEND_UNSUPPORTED", `${ctx.paths.measurements} does not exist`, {
      hint: "RTMR extend from user space needs Linux 6.16+ (tsm-mr measurements); older mainline kernels have no interface for it",
    });
  await extendRtmrSysfs(ctx.fs, ctx.paths.measurements, index, digest);
}

function mrDescription(ctx: ResolvedContext): { measurements: string; extend: string } {
  return {
    measurements: `${ctx.paths.measurements} (or a TDREPORT where that is absent)`,
    extend: `${ctx.paths.measurements}/rtmrN:sha384 (Linux 6.16+)`,
  };
}

/** configfs-tsm for quotes; /dev/tdx_guest for bare TDREPORTs; tsm-mr sysfs for registers. */
export class ConfigfsProvider implements GuestProvider {
  readonly name = "configfs" as const;
  constructor(private readonly ctx: ResolvedContext) {}

  async getTdReport(reportData: Uint8Array): Promise<Uint8Array> {
    checkReportData(reportData);
    if (!(await this.ctx.fs.exists(this.ctx.paths.device)))
      throw new TdxError(
        "GUEST_REPORT_UNAVAILABLE",
        "configfs-tsm hands out quotes only, and /dev/tdx_guest is absent",
        {
          hint: "use `tdx-attest quote` (the quote carries the report body), or load the tdx_guest driver for bare TDREPORTs",
        },
      );
    return deviceGetTdReport(await this.ctx.libc(), this.ctx.paths.device, reportData);
  }
  async getQuote(reportData: Uint8Array): Promise<Uint8Array> {
    return (await this.getQuoteResult(reportData)).quote;
  }
  async getQuoteResult(reportData: Uint8Array): Promise<QuoteResult> {
    const r = await configfsGetQuote(reportData, {
      fs: this.ctx.fs,
      root: this.ctx.paths.configfsReport,
      kernel: await this.ctx.kernel(),
      retry: this.ctx.retry,
      clock: this.ctx.clock,
    });
    return { ...r, path: this.name, via: `configfs-tsm ${this.ctx.paths.configfsReport}` };
  }
  extendRtmr(index: number, digest: Uint8Array): Promise<void> {
    return extendVia(this.ctx, index, digest);
  }
  readMeasurements(): Promise<Measurements> {
    return measurementsVia(this.ctx, (rd) => this.getTdReport(rd));
  }
  describe(): ProviderDescription {
    return {
      name: this.name,
      tee: "tdx",
      simulated: false,
      summary: "Linux configfs-tsm (kernel 6.7+): the kernel asks the host for the quote",
      report: `${this.ctx.paths.device} ioctl TDX_CMD_GET_REPORT0`,
      quote: `${this.ctx.paths.configfsReport}/<instance>/{inblob,outblob}`,
      ...mrDescription(this.ctx),
    };
  }
}

/** /dev/tdx_guest TDREPORTs; quotes by sending the TDREPORT to the host's QGS (libtdx_attest's vsock path). */
export class DeviceProvider implements GuestProvider {
  readonly name: ProviderName = "device";
  constructor(protected readonly ctx: ResolvedContext) {}

  async getTdReport(reportData: Uint8Array): Promise<Uint8Array> {
    return deviceGetTdReport(await this.ctx.libc(), this.ctx.paths.device, reportData);
  }
  async getQuote(reportData: Uint8Array): Promise<Uint8Array> {
    return (await this.getQuoteResult(reportData)).quote;
  }
  async getQuoteResult(reportData: Uint8Array): Promise<QuoteResult> {
    const report = await this.getTdReport(reportData);
    const { address, source } = await guestQgsAddress(this.ctx);
    const where = `QGS at ${formatQgsAddress(address)}${source === "option" ? "" : ` (${source})`}`;
    const r = await qgsGetQuote(report, {
      address,
      ...(this.ctx.opts.qgsTimeoutMs ? { timeoutMs: this.ctx.opts.qgsTimeoutMs } : {}),
    });
    const trimmed = trimQuote(r.quote, where, false);
    return {
      quote: trimmed.quote,
      path: this.name,
      via: `${this.reportSource()} TDREPORT + ${where}`,
      attempts: 1,
      retries: [],
      warnings: trimmed.warnings,
    };
  }
  protected reportSource(): string {
    return this.ctx.paths.device;
  }
  extendRtmr(index: number, digest: Uint8Array): Promise<void> {
    return extendVia(this.ctx, index, digest);
  }
  readMeasurements(): Promise<Measurements> {
    return measurementsVia(this.ctx, (rd) => this.getTdReport(rd));
  }
  describe(): ProviderDescription {
    const qgs = this.ctx.opts.qgs;
    return {
      name: this.name,
      tee: "tdx",
      simulated: false,
      summary: "Linux tdx_guest driver ioctl for TDREPORTs, quotes from the host's QGS",
      report: `${this.ctx.paths.device} ioctl TDX_CMD_GET_REPORT0 (0xC4405401)`,
      quote: `QGS at ${qgs ? (typeof qgs === "string" ? qgs : formatQgsAddress(qgs)) : `vsock:2:${QGS_DEFAULT_VSOCK_PORT} (or ${this.ctx.paths.attestConf} port)`}`,
      ...mrDescription(this.ctx),
    };
  }
}

/** A QGS reached directly (unix/TCP/vsock) with TDREPORTs from /dev/tdx_guest (or the seed node). */
export class QgsProvider extends DeviceProvider {
  override readonly name: ProviderName = "qgs";
  override async getTdReport(reportData: Uint8Array): Promise<Uint8Array> {
    const libc = await this.ctx.libc();
    if (
      !(await this.ctx.fs.exists(this.ctx.paths.device)) &&
      (await this.ctx.fs.exists(this.ctx.paths.legacyDevice))
    )
      return legacyGetTdReport(libc, this.ctx.paths.legacyDevice, reportData);
    return deviceGetTdReport(libc, this.ctx.paths.device, reportData);
  }
  protected override reportSource(): string {
    return `${this.ctx.paths.device} (or ${this.ctx.paths.legacyDevice})`;
  }
  override describe(): ProviderDescription {
    return {
      ...super.describe(),
      summary: "TDREPORTs from the guest driver, quotes from a QGS over its message protocol",
    };
  }
}

/**
 * Failures of a configfs-tsm quote that happen between the kernel and the host's quote service. A direct
 * connection to the QGS (what libtdx_attest does with a vsock port) does not go through the kernel's GetQuote
 * buffer or the VMM's quote-generation-socket, so it can still work.
 */
const HOST_SIDE_FAILURES = new Set([
  "GUEST_QUOTE_EMPTY",
  "GUEST_QUOTE_FAILED",
  "GUEST_QUOTE_HOST_TIMEOUT",
  "GUEST_QUOTE_BUFFER_IN_FLIGHT",
  "GUEST_QUOTE_TIMEOUT",
  "GUEST_QUOTE_LENGTH_REFUSED",
  "GUEST_QUOTE_TOO_LARGE",
  "GUEST_QUOTE_TRUNCATED",
  "GUEST_NO_TSM_PROVIDER",
]);

/**
 * What `auto` returns on a TD with configfs-tsm and a usable /dev/tdx_guest: quotes from configfs-tsm, and when
 * the host side of that fails, from /dev/tdx_guest TDREPORTs sent to the QGS over vsock (CID 2, port 4050 or
 * /etc/tdx-attest.conf's port, as Intel's libtdx_attest). The result says which path produced the quote.
 */
export class FallbackQuoteProvider implements GuestProvider {
  readonly name: ProviderName;
  constructor(
    readonly primary: GuestProvider,
    readonly secondary: GuestProvider,
  ) {
    this.name = primary.name;
  }
  getTdReport(reportData: Uint8Array): Promise<Uint8Array> {
    return this.primary.getTdReport(reportData);
  }
  async getQuote(reportData: Uint8Array): Promise<Uint8Array> {
    return (await this.getQuoteResult(reportData)).quote;
  }
  async getQuoteResult(reportData: Uint8Array): Promise<QuoteResult> {
    try {
      return await this.primary.getQuoteResult(reportData);
    } catch (e) {
      if (!(e instanceof TdxError) || !HOST_SIDE_FAILURES.has(e.code)) throw e;
      let r: QuoteResult;
      try {
        r = await this.secondary.getQuoteResult(reportData);
      } catch (e2) {
        const second = e2 instanceof TdxError ? e2 : null;
        throw new TdxError(
          e.code,
          `${e.message}; the fallback (${this.secondary.describe().quote}) failed too: ${second ? `${second.code}: ${second.message}` : String(e2)}`,
          {
            ...(e.hint !== undefined
              ? { hint: `${e.hint}. For the fallback: ${second?.hint ?? "see its message"}` }
              : {}),
            cause: e,
            data: {
              ...(e.data ?? {}),
              fallback: {
                path: this.secondary.name,
                code: second?.code ?? "ERROR",
                message: second?.message ?? String(e2),
              },
            },
          },
        );
      }
      const earlier = Array.isArray(e.data?.warnings) ? (e.data.warnings as string[]) : [];
      return {
        ...r,
        warnings: [...earlier, ...r.warnings],
        fallback: { from: this.primary.name, code: e.code, message: e.message },
      };
    }
  }
  extendRtmr(index: number, digest: Uint8Array): Promise<void> {
    return this.primary.extendRtmr(index, digest);
  }
  readMeasurements(): Promise<Measurements> {
    return this.primary.readMeasurements();
  }
  describe(): ProviderDescription {
    const d = this.primary.describe();
    const f = this.secondary.describe();
    return {
      ...d,
      summary: `${d.summary}; if the host's side of that fails, ${f.report} + ${f.quote}`,
      quote: `${d.quote}, else ${f.report} + ${f.quote}`,
    };
  }
}

/** The 2022 seed driver /dev/tdx-attest: GET_REPORT and GET_QUOTE ioctls. */
export class LegacyProvider implements GuestProvider {
  readonly name = "legacy" as const;
  constructor(private readonly ctx: ResolvedContext) {}

  async getTdReport(reportData: Uint8Array): Promise<Uint8Array> {
    return legacyGetTdReport(await this.ctx.libc(), this.ctx.paths.legacyDevice, reportData);
  }
  async getQuote(reportData: Uint8Array): Promise<Uint8Array> {
    return (await this.getQuoteResult(reportData)).quote;
  }
  async getQuoteResult(reportData: Uint8Array): Promise<QuoteResult> {
    const report = await this.getTdReport(reportData);
    const r = await legacyGetQuote(await this.ctx.libc(), this.ctx.paths.legacyDevice, report, {
      payload: this.ctx.opts.legacyQuotePayload ?? "qgs",
      retry: this.ctx.retry,
      clock: this.ctx.clock,
      ...(this.ctx.opts.quoteTimeoutMs !== undefined ? { timeoutMs: this.ctx.opts.quoteTimeoutMs } : {}),
      ...(this.ctx.opts.quoteHost ? { host: this.ctx.opts.quoteHost } : {}),
    });
    return { ...r, path: this.name, via: `${this.ctx.paths.legacyDevice} TDX_CMD_GET_QUOTE` };
  }
  extendRtmr(index: number, digest: Uint8Array): Promise<void> {
    return extendVia(this.ctx, index, digest);
  }
  readMeasurements(): Promise<Measurements> {
    return measurementsVia(this.ctx, (rd) => this.getTdReport(rd));
  }
  describe(): ProviderDescription {
    return {
      name: this.name,
      tee: "tdx",
      simulated: false,
      summary: "2022 seed driver /dev/tdx-attest (pre-mainline kernels)",
      report: `${this.ctx.paths.legacyDevice} ioctl TDX_CMD_GET_REPORT (0xC4005401)`,
      quote: `${this.ctx.paths.legacyDevice} ioctl TDX_CMD_GET_QUOTE (0x80105402), ${this.ctx.opts.legacyQuotePayload ?? "qgs"} payload`,
      ...mrDescription(this.ctx),
    };
  }
}

/**
 * The simulated platform's TD: TDREPORTs and RTMRs from the simulated TDX module (persisted in the state
 * directory), quotes from its QE in process, or through a QGS when `qgs` is given.
 */
export class SimProvider implements GuestProvider {
  readonly name = "sim" as const;
  private stamp: string;
  private constructor(
    private readonly ctx: ResolvedContext,
    private current: SimPlatform,
    readonly stateDir: string,
  ) {
    this.stamp = tdStamp(stateDir);
  }

  static async open(ctx: ResolvedContext, stateDir: string): Promise<SimProvider> {
    const { platform } = await openSimQuotingBackend(stateDir);
    return new SimProvider(ctx, platform, stateDir);
  }

  /**
   * The platform with the TD registers as persisted now: another process (a second CLI run, the key broker)
   * may have extended an RTMR since we loaded it, and an extend from stale registers would lose theirs.
   */
  async platform(): Promise<SimPlatform> {
    const stamp = tdStamp(this.stateDir);
    if (stamp !== this.stamp) {
      this.current = (await openSimQuotingBackend(this.stateDir)).platform;
      this.stamp = stamp;
    }
    return this.current;
  }

  async getTdReport(reportData: Uint8Array): Promise<Uint8Array> {
    checkReportData(reportData);
    return (await this.platform()).report(reportData);
  }
  async getQuote(reportData: Uint8Array): Promise<Uint8Array> {
    return (await this.getQuoteResult(reportData)).quote;
  }
  async getQuoteResult(reportData: Uint8Array): Promise<QuoteResult> {
    const report = await this.getTdReport(reportData);
    const base = { path: this.name, attempts: 1, retries: [], warnings: [] };
    const qgs = this.ctx.opts.qgs;
    if (qgs !== undefined) {
      const r = await qgsGetQuote(report, {
        address: qgs,
        ...(this.ctx.opts.qgsTimeoutMs ? { timeoutMs: this.ctx.opts.qgsTimeoutMs } : {}),
      });
      const where = `QGS at ${typeof qgs === "string" ? qgs : formatQgsAddress(qgs)}`;
      const trimmed = trimQuote(r.quote, where, false);
      return {
        ...base,
        quote: trimmed.quote,
        warnings: trimmed.warnings,
        via: `simulated TDREPORT + ${where}`,
      };
    }
    const quote = (await this.platform()).quoteFromTdReport(
      report,
      this.ctx.opts.quoteVersion ? { version: this.ctx.opts.quoteVersion } : {},
    );
    return { ...base, quote, via: "simulated TD Quoting Enclave in process" };
  }
  async extendRtmr(index: number, digest: Uint8Array): Promise<void> {
    checkRtmrArgs(index, digest);
    (await this.platform()).extendRtmr(index, digest);
    this.stamp = tdStamp(this.stateDir);
  }
  async readMeasurements(): Promise<Measurements> {
    const s = (await this.platform()).tdState;
    return {
      mrTd: s.mrTd.slice(),
      mrConfigId: s.mrConfigId.slice(),
      mrOwner: s.mrOwner.slice(),
      mrOwnerConfig: s.mrOwnerConfig.slice(),
      rtmr: [s.rtmr[0].slice(), s.rtmr[1].slice(), s.rtmr[2].slice(), s.rtmr[3].slice()],
    };
  }
  describe(): ProviderDescription {
    const qgs = this.ctx.opts.qgs;
    return {
      name: this.name,
      tee: "tdx",
      simulated: true,
      summary: `simulated TD (state ${this.stateDir}, scenario ${this.current.scenario}); quotes chain to the simulated root CA, not Intel's`,
      report: "simulated TDX module (TDG.MR.REPORT)",
      quote:
        qgs !== undefined
          ? `QGS at ${typeof qgs === "string" ? qgs : formatQgsAddress(qgs)}`
          : `simulated TD Quoting Enclave in process (quote v${this.ctx.opts.quoteVersion ?? 4})`,
      measurements: `simulated TD registers (${this.stateDir}/td.json)`,
      extend: `simulated TDG.MR.RTMR.EXTEND, persisted in ${this.stateDir}/td.json`,
    };
  }
}

/** Identity of the persisted TD registers file (written atomically by rename, so the inode changes). */
function tdStamp(stateDir: string): string {
  try {
    const st = statSync(join(stateDir, "td.json"));
    return `${st.ino}:${st.mtimeMs}:${st.size}`;
  } catch {
    return "absent";
  }
}
