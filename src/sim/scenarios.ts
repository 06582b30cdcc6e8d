import { TdxError } from "../errors.js";

/**
 * The simulated platform's TCB and the TCB Info / QE Identity that Intel would publish for it, per
 * scenario. The shape follows Intel's published data for FMSPC 90C06F000000 (5th-gen Xeon, TCB
 * evaluation data number 18): the same components, categories, dates and advisory IDs; each scenario
 * changes only what makes Intel's Quote Verification Library reach its intended status.
 */

export const SCENARIOS = [
  "up-to-date",
  "sw-hardening-needed",
  "configuration-needed",
  "configuration-and-sw-hardening-needed",
  "out-of-date",
  "qe-out-of-date",
  "tdx-module-out-of-date",
  "revoked-tcb",
  "revoked-pck",
  "expired-collateral",
  "td-relaunch-advised",
  "td-relaunch-advised-configuration-needed",
] as const;

export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenarioName(s: string): s is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(s);
}

export function checkScenarioName(s: string): ScenarioName {
  if (!isScenarioName(s)) {
    throw new TdxError("SIM_UNKNOWN_SCENARIO", `unknown simulation scenario "${s}"`, {
      field: "scenario",
      hint: `use one of: ${SCENARIOS.join(", ")}`,
      data: { scenario: s },
    });
  }
  return s;
}

/** What Intel's QVL decides for each scenario's quote (QVL status merge rules, quote-verify.md §2.6). */
export interface ScenarioExpectation {
  /** Final TCB status, or null when verification fails. */
  tcbStatus: string | null;
  /** Why it fails, in Intel's words, when it does. */
  error: string | null;
  collateralExpired: boolean;
  /** Status of the matched TCB Info level (the platform part of the verdict). */
  platformTcbStatus: string;
  qeIdentityStatus: string;
  /** TDX module identity status (TDX 1.5 modules; TDX 1.0 modules are not checked: "UpToDate"). */
  tdxModuleStatus: string;
  /** Advisory IDs of the matched TCB Info level (what Intel's QvE reports). */
  advisoryIDs: string[];
  summary: string;
}

export const FMSPC = "90C06F000000";
export const PCE_ID = "0000";
export const TCB_EVALUATION_DATA_NUMBER = 18;

/** TCB levels' SGX components (index 6 is the configuration-dependent component in Intel's data). */
const SGX_LATEST = [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
const SGX_LATEST_CONFIGURED = [3, 3, 2, 2, 4, 1, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0];
const SGX_PREVIOUS = [2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];

const ADV_2024_11 = [
  "INTEL-SA-01036",
  "INTEL-SA-01079",
  "INTEL-SA-01099",
  "INTEL-SA-01103",
  "INTEL-SA-01111",
];
const ADV_PCE_5 = [
  "INTEL-SA-00106",
  "INTEL-SA-00115",
  "INTEL-SA-00135",
  "INTEL-SA-00203",
  "INTEL-SA-00220",
  "INTEL-SA-00233",
  "INTEL-SA-00270",
  "INTEL-SA-00293",
  "INTEL-SA-00320",
  "INTEL-SA-00329",
  "INTEL-SA-00381",
  "INTEL-SA-00389",
  "INTEL-SA-00477",
  "INTEL-SA-00837",
  ...ADV_2024_11,
];
const ADV_SW_HARDENING = ["INTEL-SA-00615"];
const ADV_CONFIGURATION = ["INTEL-SA-00657", "INTEL-SA-00767"];
const ADV_TDX_MODULE = ["INTEL-SA-01036", "INTEL-SA-01099"];
const ADV_TD_QE = ["INTEL-SA-00837"];

/** The platform's TCB as the PCK certificate, the CPU, the TDX module and the QE report it. */
export interface PlatformTcb {
  sgxTcbComponents: number[];
  pceSvn: number;
  /** Late microcode SVN: TEE_TCB_SVN[2]. */
  tdxMicrocodeSvn: number;
  /** SVN of the TDX 1.5 module running now: TEE_TCB_SVN2[0] (and TEE_TCB_SVN[0] without a TD-preserving update). */
  tdxModuleSvn: number;
  /**
   * SVN of the module the TD was launched on, when the module was since updated in place (TD-preserving
   * update): TEE_TCB_SVN[0] keeps it while TEE_TCB_SVN2[0] carries `tdxModuleSvn`. Absent: no such update.
   */
  tdLaunchModuleSvn?: number;
  qeIsvSvn: number;
}

export function platformTcbFor(s: ScenarioName): PlatformTcb {
  const latest: PlatformTcb = {
    sgxTcbComponents: [...SGX_LATEST],
    pceSvn: 13,
    tdxMicrocodeSvn: 3,
    tdxModuleSvn: 6,
    qeIsvSvn: 7,
  };
  switch (s) {
    case "out-of-date":
      return { ...latest, sgxTcbComponents: [...SGX_PREVIOUS], tdxMicrocodeSvn: 2 };
    case "revoked-tcb":
      return { ...latest, sgxTcbComponents: [...SGX_PREVIOUS], pceSvn: 5, tdxMicrocodeSvn: 2 };
    case "qe-out-of-date":
      return { ...latest, qeIsvSvn: 3 };
    case "tdx-module-out-of-date":
      return { ...latest, tdxModuleSvn: 4 };
    // The module went from SVN 4 (OutOfDate in TDX_01) to 6 (UpToDate) under the running TD.
    case "td-relaunch-advised":
    case "td-relaunch-advised-configuration-needed":
      return { ...latest, tdLaunchModuleSvn: 4 };
    default:
      return latest;
  }
}

export interface TcbLevelSpec {
  sgx: number[];
  pceSvn: number;
  tdx: number[];
  tcbDate: string;
  tcbStatus: string;
  advisoryIDs?: string[];
}

export interface ModuleLevelSpec {
  isvsvn: number;
  tcbDate: string;
  tcbStatus: string;
  advisoryIDs?: string[];
}

export interface CollateralSpec {
  tcbLevels: TcbLevelSpec[];
  tdxModuleLevels: { TDX_03: ModuleLevelSpec[]; TDX_01: ModuleLevelSpec[] };
  qeLevels: ModuleLevelSpec[];
  /** Revoke the PCK certificate in the PCK CRL. */
  revokePck: boolean;
  /** Issue the TCB Info, QE Identity and CRLs so that they expired this long before `now` (ms). */
  expiredBy: number;
}

function tdxComponents(microcode: number): number[] {
  return [5, 0, microcode, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
}

const D_2024_11 = "2024-11-13T00:00:00Z";
const D_2024_03 = "2024-03-13T00:00:00Z";
const D_2023_08 = "2023-08-09T00:00:00Z";
const D_2018_01 = "2018-01-04T00:00:00Z";

export function collateralSpecFor(s: ScenarioName): CollateralSpec {
  const top: TcbLevelSpec = {
    sgx: SGX_LATEST,
    pceSvn: 13,
    tdx: tdxComponents(3),
    tcbDate: D_2024_11,
    tcbStatus: "UpToDate",
  };
  const previous: TcbLevelSpec = {
    sgx: SGX_PREVIOUS,
    pceSvn: 13,
    tdx: tdxComponents(2),
    tcbDate: D_2024_03,
    tcbStatus: "OutOfDate",
    advisoryIDs: ADV_2024_11,
  };
  const oldPce: TcbLevelSpec = {
    sgx: SGX_PREVIOUS,
    pceSvn: 5,
    tdx: tdxComponents(2),
    tcbDate: D_2018_01,
    tcbStatus: "OutOfDate",
    advisoryIDs: ADV_PCE_5,
  };
  let tcbLevels: TcbLevelSpec[] = [top, previous, oldPce];
  switch (s) {
    case "sw-hardening-needed":
      tcbLevels = [
        { ...top, tcbStatus: "SWHardeningNeeded", advisoryIDs: ADV_SW_HARDENING },
        previous,
        oldPce,
      ];
      break;
    case "configuration-needed":
    case "td-relaunch-advised-configuration-needed":
      tcbLevels = [
        { ...top, sgx: SGX_LATEST_CONFIGURED },
        { ...top, tcbStatus: "ConfigurationNeeded", advisoryIDs: ADV_CONFIGURATION },
        previous,
        oldPce,
      ];
      break;
    case "configuration-and-sw-hardening-needed":
      tcbLevels = [
        { ...top, sgx: SGX_LATEST_CONFIGURED, tcbStatus: "SWHardeningNeeded", advisoryIDs: ADV_SW_HARDENING },
        {
          ...top,
          tcbStatus: "ConfigurationAndSWHardeningNeeded",
          advisoryIDs: [...ADV_CONFIGURATION, ...ADV_SW_HARDENING],
        },
        previous,
        oldPce,
      ];
      break;
    case "revoked-tcb":
      tcbLevels = [top, previous, { ...oldPce, tcbStatus: "Revoked" }];
      break;
    default:
      break;
  }
  const qeLevels: ModuleLevelSpec[] = [{ isvsvn: 4, tcbDate: D_2024_11, tcbStatus: "UpToDate" }];
  if (s === "qe-out-of-date") {
    qeLevels.push({ isvsvn: 2, tcbDate: D_2023_08, tcbStatus: "OutOfDate", advisoryIDs: ADV_TD_QE });
  }
  return {
    tcbLevels,
    tdxModuleLevels: {
      TDX_03: [{ isvsvn: 3, tcbDate: D_2024_11, tcbStatus: "UpToDate" }],
      TDX_01: [
        { isvsvn: 6, tcbDate: D_2024_11, tcbStatus: "UpToDate" },
        { isvsvn: 4, tcbDate: D_2024_03, tcbStatus: "OutOfDate", advisoryIDs: ADV_TDX_MODULE },
        { isvsvn: 2, tcbDate: D_2023_08, tcbStatus: "OutOfDate", advisoryIDs: ADV_TDX_MODULE },
      ],
    },
    qeLevels,
    revokePck: s === "revoked-pck",
    expiredBy: s === "expired-collateral" ? 10 * 24 * 3600 * 1000 : 0,
  };
}

/** The verdict Intel's QVL reaches for each scenario (TDX 1.5 module; see docs/sim.md). */
export function expectationFor(s: ScenarioName): ScenarioExpectation {
  const ok = (
    tcbStatus: string,
    platformTcbStatus: string,
    advisoryIDs: string[],
    summary: string,
    extra: Partial<ScenarioExpectation> = {},
  ): ScenarioExpectation => ({
    tcbStatus,
    error: null,
    collateralExpired: false,
    platformTcbStatus,
    qeIdentityStatus: "UpToDate",
    tdxModuleStatus: "UpToDate",
    advisoryIDs,
    summary,
    ...extra,
  });
  switch (s) {
    case "up-to-date":
      return ok("UpToDate", "UpToDate", [], "everything current");
    case "sw-hardening-needed":
      return ok(
        "SWHardeningNeeded",
        "SWHardeningNeeded",
        ADV_SW_HARDENING,
        "TCB current, software mitigations needed",
      );
    case "configuration-needed":
      return ok(
        "ConfigurationNeeded",
        "ConfigurationNeeded",
        ADV_CONFIGURATION,
        "TCB current, platform configuration needed",
      );
    case "configuration-and-sw-hardening-needed":
      return ok(
        "ConfigurationAndSWHardeningNeeded",
        "ConfigurationAndSWHardeningNeeded",
        [...ADV_CONFIGURATION, ...ADV_SW_HARDENING],
        "configuration and software mitigations needed",
      );
    case "out-of-date":
      return ok("OutOfDate", "OutOfDate", ADV_2024_11, "microcode/SGX TCB one TCB recovery behind");
    case "qe-out-of-date":
      return ok("OutOfDate", "UpToDate", [], "platform current, Quoting Enclave ISVSVN out of date", {
        qeIdentityStatus: "OutOfDate",
      });
    case "tdx-module-out-of-date":
      return ok("OutOfDate", "UpToDate", [], "platform current, TDX module SVN out of date", {
        tdxModuleStatus: "OutOfDate",
      });
    case "revoked-tcb":
      return ok("Revoked", "Revoked", ADV_PCE_5, "the platform's TCB level is revoked");
    case "revoked-pck":
      return {
        tcbStatus: null,
        error: "PCK_REVOKED",
        collateralExpired: false,
        platformTcbStatus: "UpToDate",
        qeIdentityStatus: "UpToDate",
        tdxModuleStatus: "UpToDate",
        advisoryIDs: [],
        summary: "the PCK certificate is on the PCK CRL",
      };
    case "expired-collateral":
      return ok("UpToDate", "UpToDate", [], "everything current, but the collateral expired 10 days ago", {
        collateralExpired: true,
      });
    // checkForRelaunch: QE UpToDate, SGX status UpToDate/SWHardening/Configuration*, TDX status (level merged
    // with the module) OutOfDate*, module OutOfDate, and TEE_TCB_SVN2 reaches the latest TDX_01 level (6)
    // and the latest level's microcode component (3).
    case "td-relaunch-advised":
      return ok(
        "TDRelaunchAdvised",
        "UpToDate",
        [],
        "TDX module updated in place (SVN 4 -> 6): the TD still reports SVN 4; relaunching it makes it current",
        { tdxModuleStatus: "OutOfDate" },
      );
    case "td-relaunch-advised-configuration-needed":
      return ok(
        "TDRelaunchAdvisedConfigurationNeeded",
        "ConfigurationNeeded",
        ADV_CONFIGURATION,
        "as td-relaunch-advised, on a platform whose TCB level needs configuration",
        { tdxModuleStatus: "OutOfDate" },
      );
  }
}
