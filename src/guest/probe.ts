/**
 * What this machine offers: each provider's availability with the reason, the `auto` choice, and the
 * evidence that the machine is a TD (so `auto` never falls back to the simulator on a real TD).
 */
import { readFile } from "node:fs/promises";
import { TdxError } from "../errors.js";
import {
  formatQgsAddress,
  openQgsStream,
  simAzureStateExists,
  simStateDir,
  simStateExists,
} from "../qgs/index.js";
import { openAzureProvider, openSimAzureProvider, probeAzureVtpm } from "./az-provider.js";
import {
  configfsProviderOf,
  createInstance,
  listInstances,
  removeInstance,
  TSM_PROVIDER_TDX,
} from "./configfs.js";
import { describeKernel } from "./kernel.js";
import {
  ConfigfsProvider,
  DeviceProvider,
  FallbackQuoteProvider,
  type GuestProvider,
  type GuestProviderOptions,
  type GuestTee,
  guestQgsAddress,
  LegacyProvider,
  type ProviderName,
  QgsProvider,
  type ResolvedContext,
  resolveContext,
  SimProvider,
} from "./providers.js";

export interface ProviderStatus {
  name: ProviderName;
  /** The evidence it produces: TD quotes (`tdx`) or Azure's `az-tdx-vtpm` (a simulated state may be either). */
  tee: GuestTee;
  available: boolean;
  /** Why it is (un)available, in one sentence. */
  reason: string;
}

export interface GuestStatus {
  /** Signs that this machine is a TD (device nodes, sysfs, configfs provider, CPU flag). */
  tdEvidence: string[];
  providers: ProviderStatus[];
  /** What `auto` picks, or null with the reason; `fallback` when configfs quotes fall back to device + QGS. */
  auto: { chosen: ProviderName | null; reason: string; fallback?: ProviderName };
  simState: string;
  /** The running kernel's release, or null when it cannot be read. */
  kernel: string | null;
  /** configfs-tsm report instances present before our probe (leftovers block tdx_guest re-registration). */
  configfsInstances: string[];
}

export interface ProbeOptions extends GuestProviderOptions {
  /** Also try to connect to the QGS (status only; costs up to `qgsProbeTimeoutMs`). */
  probeQgs?: boolean;
  qgsProbeTimeoutMs?: number;
}

async function configfsStatus(ctx: ResolvedContext): Promise<ProviderStatus> {
  const root = ctx.paths.configfsReport;
  if (!(await ctx.fs.exists(root)))
    return {
      name: "configfs",
      tee: "tdx",
      available: false,
      reason: `${root} does not exist (needs Linux 6.7+ in a TD, configfs mounted; ${describeKernel(await ctx.kernel())})`,
    };
  let dir: string;
  try {
    dir = await createInstance(ctx.fs, root);
  } catch (e) {
    if (!(e instanceof TdxError))
      return { name: "configfs", tee: "tdx", available: false, reason: String(e) };
    const hint = e.code === "GUEST_NO_TSM_PROVIDER" && e.hint ? ` (${e.hint})` : "";
    return { name: "configfs", tee: "tdx", available: false, reason: `${e.message}${hint}` };
  }
  let status: ProviderStatus;
  try {
    const provider = await configfsProviderOf(ctx.fs, dir);
    status =
      provider === TSM_PROVIDER_TDX
        ? {
            name: "configfs",
            tee: "tdx",
            available: true,
            reason: `${root} with provider ${TSM_PROVIDER_TDX}`,
          }
        : {
            name: "configfs",
            tee: "tdx",
            available: false,
            reason: `configfs-tsm provider is "${provider}", not ${TSM_PROVIDER_TDX}`,
          };
  } catch (e) {
    status = {
      name: "configfs",
      tee: "tdx",
      available: false,
      reason: e instanceof TdxError ? e.message : String(e),
    };
  }
  const left = await removeInstance(ctx.fs, dir);
  if (left) status.reason += `; ${left}`;
  return status;
}

async function ffiProblem(ctx: ResolvedContext): Promise<string | null> {
  try {
    await ctx.libc();
    return null;
  } catch (e) {
    return e instanceof TdxError ? `${e.message} (${e.hint ?? ""})` : String(e);
  }
}

async function nodeStatus(
  ctx: ResolvedContext,
  name: "device" | "legacy",
  path: string,
): Promise<ProviderStatus> {
  if (!(await ctx.fs.exists(path)))
    return { name, tee: "tdx", available: false, reason: `${path} does not exist` };
  const ffi = await ffiProblem(ctx);
  if (ffi)
    return { name, tee: "tdx", available: false, reason: `${path} exists but ioctl is unavailable: ${ffi}` };
  return { name, tee: "tdx", available: true, reason: `${path} present` };
}

async function tdEvidence(ctx: ResolvedContext, azure: string | null): Promise<string[]> {
  const out: string[] = [];
  if (azure) out.push(azure);
  for (const p of [ctx.paths.device, ctx.paths.legacyDevice, ctx.paths.miscDevice])
    if (await ctx.fs.exists(p)) out.push(p);
  if (await ctx.fs.exists(ctx.paths.configfsReport)) {
    // Only a tdx_guest provider makes configfs-tsm evidence of a TD (SEV-SNP has it too).
    const s = await configfsStatus(ctx);
    if (s.available) out.push(`${ctx.paths.configfsReport} (provider ${TSM_PROVIDER_TDX})`);
  }
  try {
    const cpuinfo = await readFile(ctx.paths.cpuinfo, "utf8");
    if (/^flags\s*:.*\btdx_guest\b/m.test(cpuinfo)) out.push(`${ctx.paths.cpuinfo} flag tdx_guest`);
  } catch {
    // no cpuinfo (tests, non-Linux)
  }
  return out;
}

/** Probe every provider. Cheap and side-effect free apart from a configfs instance created and removed. */
export async function probeGuest(opts: ProbeOptions = {}): Promise<GuestStatus> {
  const ctx = resolveContext(opts);
  const instancesBefore = (await listInstances(ctx.fs, ctx.paths.configfsReport)).map((i) => i.name);
  const az = await probeAzureVtpm(ctx);
  const azure: ProviderStatus = {
    name: "az-tdx-vtpm",
    tee: "az-tdx-vtpm",
    available: az.available,
    reason: az.reason,
  };
  const evidence = await tdEvidence(ctx, az.tdEvidence);
  const configfs = await configfsStatus(ctx);
  const device = await nodeStatus(ctx, "device", ctx.paths.device);
  const legacy = await nodeStatus(ctx, "legacy", ctx.paths.legacyDevice);
  const { address, source } = await guestQgsAddress(ctx);
  const where = `${formatQgsAddress(address)}${source === "option" ? "" : ` (${source})`}`;
  let qgs: ProviderStatus;
  if (!device.available && !legacy.available)
    qgs = {
      name: "qgs",
      tee: "tdx",
      available: false,
      reason: `no TDREPORT source (/dev/tdx_guest or /dev/tdx-attest) to send to the QGS at ${where}`,
    };
  else if (opts.probeQgs) {
    try {
      const s = await openQgsStream(address, opts.qgsProbeTimeoutMs ?? 2000);
      s.destroy();
      qgs = { name: "qgs", tee: "tdx", available: true, reason: `QGS answers at ${where}` };
    } catch (e) {
      qgs = {
        name: "qgs",
        tee: "tdx",
        available: false,
        reason: e instanceof TdxError ? e.message : String(e),
      };
    }
  } else
    qgs = {
      name: "qgs",
      tee: "tdx",
      available: true,
      reason: `TDREPORTs from the driver, QGS at ${where} (not contacted)`,
    };
  const simDir = simStateDir(opts.simState);
  const simAzure = simStateExists(simDir) && simAzureStateExists(simDir);
  const sim: ProviderStatus = simStateExists(simDir)
    ? {
        name: "sim",
        tee: simAzure ? "az-tdx-vtpm" : "tdx",
        available: true,
        reason: simAzure
          ? `simulated Azure TDX confidential VM (paravisor with vTPM) at ${simDir}`
          : `simulated platform at ${simDir}`,
      }
    : {
        name: "sim",
        tee: "tdx",
        available: false,
        reason: `no simulated platform at ${simDir} (the development broker's is DATA/sim where \`tdx-attest serve\` runs; pass --sim-state)`,
      };
  const providers = [configfs, device, legacy, azure, qgs, sim];
  const auto = chooseAuto(providers, evidence, opts, simDir);
  if (auto.chosen === "configfs" && device.available && opts.fallback !== false) {
    auto.fallback = "device";
    auto.reason += `; quotes fall back to ${ctx.paths.device} + QGS at ${where} when the host's side of configfs-tsm fails`;
  }
  const kernel = await ctx.kernel();
  return {
    tdEvidence: evidence,
    providers,
    auto,
    simState: simDir,
    kernel: kernel ? kernel.release : null,
    configfsInstances: instancesBefore,
  };
}

function chooseAuto(
  providers: ProviderStatus[],
  evidence: string[],
  opts: GuestProviderOptions,
  simDir: string,
): GuestStatus["auto"] {
  const by = (n: ProviderName) => providers.find((p) => p.name === n)!;
  // An Azure TDX VM has none of the first three (its TDREPORT is the paravisor's, in the vTPM).
  for (const n of ["configfs", "device", "legacy", "az-tdx-vtpm"] as const)
    if (by(n).available) return { chosen: n, reason: `${n}: ${by(n).reason}` };
  if (evidence.length > 0)
    return {
      chosen: null,
      reason: `this machine looks like a TD (${evidence.join(", ")}) but no guest interface is usable; refusing to fall back to the simulator`,
    };
  if (by("sim").available) {
    const explicit = opts.simState !== undefined || process.env.TDX_SIM_STATE !== undefined;
    const what = by("sim").tee === "az-tdx-vtpm" ? "Azure TDX confidential VM" : "platform";
    return {
      chosen: "sim",
      reason: `not a TD; using the simulated ${what} at ${simDir}${explicit ? "" : " (found at the default location)"}`,
    };
  }
  return {
    chosen: null,
    reason: `not inside a TD: ${by("device").reason}, and ${by("sim").reason}`,
  };
}

/** Open a provider by name, or `auto` (see {@link probeGuest} for the order). */
export async function openProvider(
  name: ProviderName | "auto" = "auto",
  opts: GuestProviderOptions = {},
): Promise<GuestProvider> {
  const ctx = resolveContext(opts);
  switch (name) {
    case "configfs":
      return new ConfigfsProvider(ctx);
    case "device":
      return new DeviceProvider(ctx);
    case "legacy":
      return new LegacyProvider(ctx);
    case "qgs":
      return new QgsProvider(ctx);
    case "az-tdx-vtpm":
      return openAzureProvider(ctx);
    case "sim": {
      const dir = simStateDir(opts.simState);
      if (!simStateExists(dir))
        throw new TdxError("GUEST_SIM_STATE_MISSING", `no simulated platform at ${dir}`, {
          hint:
            "the development broker (`npm start` / `tdx-attest serve`) keeps its simulated platform in DATA/sim " +
            "(./data/sim in the folder it was started from): pass --sim-state <that folder> or set TDX_SIM_STATE; " +
            `\`tdx-attest sim init --sim-state ${dir}\` makes a new platform instead, which that broker does not trust`,
          data: { stateDir: dir },
        });
      if (simAzureStateExists(dir)) return openSimAzureProvider(ctx, dir);
      return SimProvider.open(ctx, dir);
    }
    case "auto": {
      const status = await probeGuest(opts);
      if (status.auto.chosen === null)
        throw new TdxError(
          status.tdEvidence.length > 0 ? "GUEST_TD_UNUSABLE" : "GUEST_NOT_IN_TD",
          status.auto.reason,
          {
            hint:
              status.tdEvidence.length > 0
                ? "run `tdx-attest status` to see why each interface is unavailable (permissions, kernel version, koffi)"
                : "not inside a TD: /dev/tdx_guest missing; for development use --provider sim with --sim-state pointing at the broker's DATA/sim (add --qgs ADDR to have a QGS sign the simulated TDREPORT)",
            data: { providers: status.providers },
          },
        );
      if (status.auto.fallback === "device")
        return new FallbackQuoteProvider(new ConfigfsProvider(ctx), new DeviceProvider(ctx));
      return openProvider(status.auto.chosen, opts);
    }
    default:
      throw new TdxError("GUEST_UNKNOWN_PROVIDER", `unknown provider "${String(name)}"`, {
        field: "provider",
        hint: "use auto, configfs, device, legacy, az-tdx-vtpm, qgs or sim",
      });
  }
}
