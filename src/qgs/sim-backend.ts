/**
 * The simulated platform as a QGS backend (its Quoting Enclave, its collateral as a PCS would serve it, its
 * platform info), and where the simulated platform's state lives. The QGS may import the simulator
 * (ARCHITECTURE: qgs → sim); the guest's "sim" provider reaches it through here.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  FMSPC,
  loadSimAzureParavisor,
  loadSimPlatform,
  type SimAzureParavisor,
  type SimCollateralBundle,
  type SimPlatform,
  simAzureStateExists,
} from "../sim/index.js";
import type { PckCaName, QgsCollateralParts } from "./collateral-message.js";
import { nulTerminated } from "./collateral-parts.js";
import type { QuotingBackend } from "./server.js";

export type { SimAzureParavisor, SimPlatform };
export { simAzureStateExists };

/** Default state directory of the simulated platform (where the key broker's `npm start` puts it). */
export const DEFAULT_SIM_STATE_DIR = "./data/sim";

/** The sim state directory: the explicit option, else $TDX_SIM_STATE, else ./data/sim. */
export function simStateDir(explicit?: string): string {
  const dir = explicit ?? process.env.TDX_SIM_STATE ?? DEFAULT_SIM_STATE_DIR;
  return resolve(dir);
}

/** True when `dir` holds a complete simulated platform (platform.json is written last). */
export function simStateExists(dir: string): boolean {
  return existsSync(join(dir, "platform.json"));
}

export interface SimQuotingOptions {
  /**
   * Quote version the simulated TDQE produces. Default: chosen as Intel's TDQE does (v4, or v5 with a TD 1.5
   * body when TEE_TCB_SVN2 differs from TEE_TCB_SVN after a TD-preserving module update).
   */
  quoteVersion?: 4 | 5;
  /** When collateral is issued (default: the time of each request). */
  clock?: () => Date;
}

/**
 * The parts Intel's QPL would hand its QGS for this bundle from PCS v4 (`sgx_qcnl_get_api_version`: 4.0):
 * the PCK CRL of `pckCa` in DER, the root CA CRL in DER, the TCB Info and QE Identity response bodies, the
 * PEM issuer chains, each ending in one NUL (sgx_default_quote_provider.cpp, qcnl QvCollateralProvider).
 */
export function qgsCollateralPartsOf(bundle: SimCollateralBundle, pckCa: PckCaName): QgsCollateralParts {
  return {
    majorVersion: 4,
    minorVersion: 0,
    pckCrlIssuerChain: nulTerminated(bundle.pckCrlIssuerChain[pckCa]),
    rootCaCrl: nulTerminated(bundle.rootCaCrl),
    pckCrl: nulTerminated(bundle.pckCrl[pckCa]),
    tcbInfoIssuerChain: nulTerminated(bundle.tcbInfoIssuerChain),
    tcbInfo: nulTerminated(bundle.tcbInfoResponse),
    qeIdentityIssuerChain: nulTerminated(bundle.qeIdentityIssuerChain),
    qeIdentity: nulTerminated(bundle.qeIdentityResponse),
  };
}

/**
 * A backend serving a loaded simulated platform: quotes from its QE, collateral for its FMSPC (either PCK CA,
 * issued at the time of the request, as a PCS would serve it then) and its platform info.
 */
export function simQuotingBackend(platform: SimPlatform, opts: SimQuotingOptions = {}): QuotingBackend {
  return {
    quote: async (tdReport) =>
      platform.quoteFromTdReport(tdReport, opts.quoteVersion ? { version: opts.quoteVersion } : {}),
    collateral: async (fmspc, pckCa) => {
      // Every simulated platform has the one FMSPC; any other is unknown, as to a PCS.
      if (Buffer.from(fmspc).toString("hex").toUpperCase() !== FMSPC) return null;
      const bundle = await platform.collateralBundle({ now: opts.clock?.() ?? new Date() });
      return qgsCollateralPartsOf(bundle, pckCa);
    },
    platformInfo: async () => ({
      tdqeIsvSvn: platform.tcb.qeIsvSvn,
      pceIsvSvn: platform.tcb.pceSvn,
      platformId: platform.qeId,
      cpuSvn: platform.cpuSvn,
    }),
    describe: () =>
      `simulated TDQE (${platform.stateDir ? `state ${platform.stateDir}` : "in memory"}, scenario ${platform.scenario}, ${opts.quoteVersion ? `quote v${opts.quoteVersion}` : "quote version chosen as Intel's TDQE does"})`,
  };
}

/** Load the simulated platform from a state directory and wrap it as a backend. */
export async function openSimQuotingBackend(
  stateDir?: string,
  opts: SimQuotingOptions = {},
): Promise<{ platform: SimPlatform; backend: QuotingBackend }> {
  const platform = await loadSimPlatform(simStateDir(stateDir));
  return { platform, backend: simQuotingBackend(platform, opts) };
}

/**
 * The simulated Azure paravisor of a state directory made with `sim init --platform azure`: its vTPM (the guest's
 * TPM device) and its IMDS TD quotes (Azure's host-side quoting path), for the guest's `sim` provider.
 */
export function openSimAzureParavisor(stateDir?: string): Promise<SimAzureParavisor> {
  return loadSimAzureParavisor(simStateDir(stateDir));
}
