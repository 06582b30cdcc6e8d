import type { TcbInfo, TcbLevel, TcbLevelStatus, TdxModuleIdentity } from "../collateral/tcb-info.js";
import type { PckTcb } from "../crypto/pck.js";
import { hex } from "./bytes.js";
import type { QeIdentityStatus, TcbStatus, VerificationResult } from "./result.js";
import { HINT_FETCH, type Run } from "./run.js";
import { convergeWithModule, convergeWithQe, isTcbLevelStatus, relaunchAdvice } from "./status.js";
import { checkModuleTcbLevel, findModuleIdentity, type TdxModuleQuote } from "./tdx-module.js";

/**
 * Step 11, the TCB level and the final status (QVL `Verifiers/Checks/TcbLevelCheck.cpp` matchTcbLevels,
 * checkTcbLevel; `TdxModuleCheck.cpp`; `TDRelaunchCheck.cpp`; the merge tables in `status.ts`).
 */

/**
 * matchTcbLevels over the levels in QVL's set order: the SGX level is the first whose SGX component SVNs
 * and PCESVN the PCK reaches; for TDX (`teeTcbSvn` given) the TDX level is the first of those whose TDX
 * component SVNs TEE_TCB_SVN reaches, bytes 0 and 1 skipped when TEE_TCB_SVN[1] > 0 (isTdxTcbHigherOrEqual).
 */
export function matchTcbLevels(
  levels: TcbLevel[],
  pck: Pick<PckTcb, "sgxTcbComponents" | "pceSvn">,
  teeTcbSvn: Uint8Array | null,
): { sgxLevel: TcbLevel | null; tdxLevel: TcbLevel | null } {
  let sgxLevel: TcbLevel | null = null;
  const comps = pck.sgxTcbComponents;
  const start = teeTcbSvn && teeTcbSvn[1]! > 0 ? 2 : 0;
  for (const level of levels) {
    let sgxOk = pck.pceSvn >= level.pceSvn;
    for (let i = 0; sgxOk && i < 16; i++) if (comps[i]! < level.sgxComponents[i]!) sgxOk = false;
    if (!sgxOk) continue;
    if (!teeTcbSvn) return { sgxLevel: level, tdxLevel: null };
    sgxLevel ??= level;
    const tdx = level.tdxComponents!;
    let tdxOk = true;
    for (let i = start; tdxOk && i < 16; i++) if (teeTcbSvn[i]! < tdx[i]!) tdxOk = false;
    if (tdxOk) return { sgxLevel, tdxLevel: level };
  }
  return { sgxLevel, tdxLevel: null };
}

/** The quote fields step 11 reads (TDX ones null for SGX). */
export interface TcbQuote {
  teeType: "SGX" | "TDX";
  quoteVersion: number;
  bodyType: number;
  teeTcbSvn: Uint8Array | null;
  teeTcbSvn2: Uint8Array | null;
}

/** checkTcbLevel: the level, the module status, the merges; fills the verdict fields of `result`. */
export function checkTcbStatus(
  run: Run,
  q: TcbQuote,
  pck: PckTcb,
  tcbInfo: TcbInfo,
  moduleIdentity: TdxModuleIdentity | null,
  qeStatus: QeIdentityStatus,
  result: VerificationResult,
): void {
  const isTdx = tcbInfo.version >= 3 && tcbInfo.id === "TDX" && q.teeType === "TDX";
  const svn = q.teeTcbSvn ?? new Uint8Array(16);
  const { sgxLevel, tdxLevel } = matchTcbLevels(tcbInfo.tcbLevels, pck, isTdx ? svn : null);
  const platformDesc = isTdx
    ? {
        sgxComponents: pck.sgxTcbComponents,
        pceSvn: pck.pceSvn,
        teeTcbSvn: hex(svn),
        comparedFrom: svn[1]! > 0 ? 2 : 0,
      }
    : { sgxComponents: pck.sgxTcbComponents, pceSvn: pck.pceSvn };
  const matched = isTdx ? tdxLevel : sgxLevel;
  if (!sgxLevel || !matched) {
    run.fail(
      "tcb.level",
      "TCB_LEVEL_NOT_FOUND",
      `no TCB level of the TCB Info matches the platform's ${!sgxLevel ? "SGX components and PCESVN" : "TDX components (TEE_TCB_SVN)"}`,
      "the platform's TCB is below every level Intel lists (Intel: TCB_NOT_SUPPORTED); update the platform or the TCB Info",
      { actual: platformDesc, field: "tcbInfo.tcbLevels", data: { intelStatus: "STATUS_TCB_NOT_SUPPORTED" } },
    );
  }
  result.matchedTcbLevel = {
    tcbDate: matched.tcbDate,
    tcbStatus: matched.tcbStatus,
    advisoryIds: matched.advisoryIds,
    sgxComponents: matched.sgxComponents,
    pceSvn: matched.pceSvn,
    tdxComponents: matched.tdxComponents,
  };
  result.advisoryIds = matched.advisoryIds;
  run.pass("tcb.level", {
    actual: platformDesc,
    expected: {
      tcbDate: matched.tcbDate,
      sgxComponents: matched.sgxComponents,
      pceSvn: matched.pceSvn,
      tdxComponents: matched.tdxComponents,
    },
    detail: `matched level ${matched.tcbDate} (${matched.tcbStatus})`,
  });
  const sgxStatus = levelStatus(run, sgxLevel.tcbStatus);
  const status = isTdx
    ? tdxStatus(run, q, svn, tcbInfo, matched, moduleIdentity, sgxStatus, qeStatus, result)
    : sgxStatus;
  // TDX: a Revoked TDX status is returned before the QE status is merged (QVL checkTcbLevel).
  if (qeStatus === "NotSupported" && !(isTdx && status === "Revoked")) {
    run.fail(
      "tcb.status",
      "QE_TCB_LEVEL_NOT_FOUND",
      "no QE identity TCB level covers the QE's ISVSVN (Intel: TCB_NOT_SUPPORTED)",
      "the Quoting Enclave is older than any level Intel still lists; update the platform's DCAP software",
      {
        actual: { platform: status, qeIdentity: qeStatus },
        data: { intelStatus: "STATUS_TCB_NOT_SUPPORTED" },
      },
    );
  }
  const final =
    qeStatus === "NotSupported" || (isTdx && status === "Revoked")
      ? "Revoked"
      : convergeWithQe(status, qeStatus);
  result.tcbStatus = final;
  run.pass("tcb.status", {
    actual: final,
    detail: isTdx
      ? `TDX level ${matched.tcbStatus}, module ${result.tdxModuleStatus}, QE ${qeStatus} => ${final}`
      : `SGX level ${matched.tcbStatus}, QE ${qeStatus} => ${final}`,
  });
  if (final === "Revoked") {
    // Intel's terminal result REVOKED: the verdict is kept in tcbStatus, but verification does not pass.
    run.fail(
      "tcb.notRevoked",
      "TCB_REVOKED",
      "the platform's TCB level, QE or TDX module is revoked by Intel",
      "never accept this platform until its TCB is recovered (Intel: SGX_QL_QV_RESULT_REVOKED)",
      { actual: { platform: status, qeIdentity: qeStatus } },
    );
  }
}

/** The TDX status: the TDX level merged with the module's, then TD 1.5's relaunch advice. */
function tdxStatus(
  run: Run,
  q: TcbQuote,
  svn: Uint8Array,
  tcbInfo: TcbInfo,
  matched: TcbLevel,
  moduleIdentity: TdxModuleIdentity | null,
  sgxStatus: TcbLevelStatus,
  qeStatus: QeIdentityStatus,
  result: VerificationResult,
): TcbStatus {
  const levelStatus0 = levelStatus(run, matched.tcbStatus);
  const moduleQuote: Pick<TdxModuleQuote, "quoteVersion" | "teeTcbSvn"> = {
    quoteVersion: q.quoteVersion,
    teeTcbSvn: svn,
  };
  const module = checkModuleTcbLevel(run, tcbInfo, moduleQuote, moduleIdentity);
  result.tdxModuleStatus = module.status;
  result.tdxModuleIdentity = module.used;
  let status: TcbStatus = convergeWithModule(levelStatus0, module.status);
  if (status !== "Revoked" && q.bodyType === 3 && q.teeTcbSvn2) {
    const svn2 = q.teeTcbSvn2;
    const advice = relaunchAdvice({
      qeStatus,
      sgxStatus,
      tdxStatus: status as TcbLevelStatus,
      moduleStatus: module.status,
      teeTcbSvn2: svn2,
      latestTdxComponents: tcbInfo.tcbLevels[0]!.tdxComponents!,
      latestModuleIsvSvn: (major) => findModuleIdentity(tcbInfo, major)?.tcbLevels[0]?.isvSvn,
    });
    if (advice === "ModuleMismatch") {
      // Intel's checkForRelaunch returns STATUS_TDX_MODULE_MISMATCH here, which checkTcbLevel then hands to
      // convergeTcbStatusWithQeTcbStatus; its switch has no case for it and ends in
      // STATUS_TCB_UNRECOGNIZED_STATUS (QVL TcbLevelCheck.cpp, 4.1.2.4.17.5): that is Intel's verdict.
      run.fail(
        "tdxModule.relaunch",
        "TCB_STATUS_UNRECOGNIZED",
        `the TCB Info has no TDX module identity for TEE_TCB_SVN2[1] = ${svn2[1]} (the module the TD was launched with); Intel's QVL reports this as an unrecognized TCB status`,
        "fetch current TDX TCB Info (with tdxModuleIdentities) for this platform",
        { actual: hex(svn2), data: { intelStatus: "STATUS_TCB_UNRECOGNIZED_STATUS" } },
      );
    }
    if (advice) status = advice;
  }
  return status;
}

/** A level status as Intel's TcbStatus.h knows it (the TCB Info parser already refused any other). */
function levelStatus(run: Run, s: string): TcbLevelStatus {
  if (!isTcbLevelStatus(s)) {
    run.fail("tcb.status", "TCB_STATUS_UNRECOGNIZED", `unknown TCB status "${s}"`, HINT_FETCH, { actual: s });
  }
  return s;
}
