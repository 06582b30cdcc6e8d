/**
 * The simulated Quoting Enclave as a QGS backend, and where the simulated platform's state lives. The QGS may
 * import the simulator (ARCHITECTURE: qgs → sim); the guest's "sim" provider reaches it through here.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadSimPlatform, type SimPlatform } from "../sim/index.js";
import type { QuotingBackend } from "./server.js";

export type { SimPlatform };

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
}

/** A QGS backend quoting with a loaded simulated platform's QE. */
export function simQuotingBackend(platform: SimPlatform, opts: SimQuotingOptions = {}): QuotingBackend {
  return {
    quote: async (tdReport) =>
      platform.quoteFromTdReport(tdReport, opts.quoteVersion ? { version: opts.quoteVersion } : {}),
    describe: () =>
      `simulated TDQE (${platform.stateDir ? `state ${platform.stateDir}` : "in memory"}, scenario ${platform.scenario}, ${opts.quoteVersion ? `quote v${opts.quoteVersion}` : "quote version chosen as Intel's TDQE does"})`,
  };
}

/** Load the simulated platform from a state directory and wrap its QE as a backend. */
export async function openSimQuotingBackend(
  stateDir?: string,
  opts: SimQuotingOptions = {},
): Promise<{ platform: SimPlatform; backend: QuotingBackend }> {
  const platform = await loadSimPlatform(simStateDir(stateDir));
  return { platform, backend: simQuotingBackend(platform, opts) };
}
