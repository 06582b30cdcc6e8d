import { TCB_STATUSES, type TcbLevelStatus } from "../collateral/tcb-info.js";
import type { QeIdentityStatus, TcbStatus, TdxModuleStatus } from "./result.js";

/**
 * Intel's status merge rules (QVL Checks/TcbLevelCheck.cpp, TdxModuleCheck.cpp, TDRelaunchCheck.cpp).
 * These are tables, not a severity maximum: e.g. a ConfigurationNeeded platform with an out-of-date QE
 * becomes OutOfDateConfigurationNeeded, which a "worst of" merge would call OutOfDate.
 */

const LEVEL_STATUSES = new Set<string>(TCB_STATUSES);

export function isTcbLevelStatus(s: string): s is TcbLevelStatus {
  return LEVEL_STATUSES.has(s);
}

export function isTdxModuleStatus(s: string): s is TdxModuleStatus {
  return s === "UpToDate" || s === "OutOfDate" || s === "Revoked";
}

function isConfigurationStatus(s: string): boolean {
  return s === "ConfigurationNeeded" || s === "ConfigurationAndSWHardeningNeeded";
}

/** convergeTcbStatusWithTdxModuleStatus. */
export function convergeWithModule(tcb: TcbLevelStatus, module: TdxModuleStatus): TcbLevelStatus {
  if (module === "OutOfDate") {
    if (tcb === "UpToDate" || tcb === "SWHardeningNeeded") return "OutOfDate";
    if (isConfigurationStatus(tcb)) return "OutOfDateConfigurationNeeded";
    return tcb;
  }
  if (module === "Revoked") return "Revoked";
  return tcb;
}

/** convergeTcbStatusWithQeTcbStatus; "NotSupported" never reaches here (it fails verification first). */
export function convergeWithQe(tcb: TcbStatus, qe: Exclude<QeIdentityStatus, "NotSupported">): TcbStatus {
  if (qe === "Revoked") return "Revoked";
  if (qe === "OutOfDate") {
    if (tcb === "UpToDate" || tcb === "SWHardeningNeeded") return "OutOfDate";
    if (isConfigurationStatus(tcb)) return "OutOfDateConfigurationNeeded";
  }
  return tcb;
}

/** The QE identity level status as Intel's EnclaveReportVerifier maps it. */
export function qeStatusOf(levelStatus: string): Exclude<QeIdentityStatus, "NotSupported"> {
  if (levelStatus === "UpToDate") return "UpToDate";
  if (levelStatus === "Revoked") return "Revoked";
  return "OutOfDate";
}

export interface RelaunchInput {
  qeStatus: QeIdentityStatus;
  sgxStatus: TcbLevelStatus;
  tdxStatus: TcbLevelStatus;
  moduleStatus: TdxModuleStatus;
  teeTcbSvn2: Uint8Array;
  /** TDX components of the highest TCB level (tcbLevels[0] after QVL's ordering). */
  latestTdxComponents: number[];
  /** Highest isvsvn of the module identity named by TEE_TCB_SVN2[1] (undefined if there is none). */
  latestModuleIsvSvn: (majorVersion: number) => number | undefined;
}

/**
 * checkForRelaunch (TD 1.5 quotes): would relaunching the TD on the already-updated module fix the TCB?
 * Null when not; "ModuleMismatch" when TEE_TCB_SVN2 names a module the TCB Info does not list (Intel then
 * fails with STATUS_TDX_MODULE_MISMATCH).
 */
export function relaunchAdvice(x: RelaunchInput): TcbStatus | "ModuleMismatch" | null {
  if (x.qeStatus !== "UpToDate") return null;
  const sgxOk =
    x.sgxStatus === "UpToDate" || x.sgxStatus === "SWHardeningNeeded" || isConfigurationStatus(x.sgxStatus);
  const tdxOld = x.tdxStatus === "OutOfDate" || x.tdxStatus === "OutOfDateConfigurationNeeded";
  if (!sgxOk || !tdxOld || x.moduleStatus !== "OutOfDate") return null;
  const svn2 = x.teeTcbSvn2;
  const latest = x.latestTdxComponents;
  let upToDate: boolean;
  if (svn2[1] === 0) {
    upToDate = (svn2[0] ?? 0) >= (latest[0] ?? 0) && (svn2[2] ?? 0) >= (latest[2] ?? 0);
  } else {
    const moduleSvn = x.latestModuleIsvSvn(svn2[1] ?? 0);
    if (moduleSvn === undefined) return "ModuleMismatch";
    upToDate = (svn2[0] ?? 0) >= moduleSvn && (svn2[2] ?? 0) >= (latest[2] ?? 0);
  }
  if (!upToDate) return null;
  const config =
    isConfigurationStatus(x.sgxStatus) ||
    x.tdxStatus === "OutOfDateConfigurationNeeded" ||
    isConfigurationStatus(x.tdxStatus);
  return config ? "TDRelaunchAdvisedConfigurationNeeded" : "TDRelaunchAdvised";
}
