import type { TcbInfo, TdxModuleIdentity, TdxModuleTcbLevel } from "../collateral/tcb-info.js";
import { bytesEqual, hex, moduleIdName } from "./bytes.js";
import type { TdxModuleIdentityUsed, TdxModuleStatus } from "./result.js";
import { HINT_FETCH, type Run } from "./run.js";
import { isTdxModuleStatus } from "./status.js";

/**
 * The TDX module: its identity in the TCB Info (QVL `Verifiers/QuoteVerifier.cpp` 4.1.2.4.11) and its TCB
 * level (`Verifiers/Checks/TdxModuleCheck.cpp` checkTdxModuleTcbStatus).
 */

/** The quote fields the TDX module steps read. */
export interface TdxModuleQuote {
  quoteVersion: number;
  /** TEE_TCB_SVN: [0] module SVN, [1] module major version. */
  teeTcbSvn: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
}

/**
 * The identity the quote is judged by: `tdxModuleIdentities["TDX_%02X" of TEE_TCB_SVN[1]]` (ids compared in
 * upper case) for a v4+ quote with TEE_TCB_SVN[1] > 0, else the top-level `tdxModule`. `missing` names the
 * identity the TCB Info should list (Intel: STATUS_TDX_MODULE_MISMATCH).
 */
export function tdxModuleIdentityFor(
  tcbInfo: TcbInfo,
  q: Pick<TdxModuleQuote, "quoteVersion" | "teeTcbSvn">,
): { name: string; identity: TdxModuleIdentity } | { missing: string } {
  const major = q.teeTcbSvn[1]!;
  if (!(q.quoteVersion > 3 && major > 0)) return { name: "tdxModule", identity: tcbInfo.tdxModule! };
  const name = moduleIdName(major);
  const identity = findModuleIdentity(tcbInfo, major);
  return identity ? { name, identity } : { missing: name };
}

/** QVL findTdxModuleIdentity: the first identity whose id, upper-cased, is "TDX_%02X". */
export function findModuleIdentity(tcbInfo: TcbInfo, major: number): TdxModuleIdentity | undefined {
  const name = moduleIdName(major);
  return tcbInfo.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === name);
}

/** 4.1.2.4.11.2: every SEAMATTRIBUTES byte is 0 and equal to the expected attributes; no mask applied. */
export function seamAttributesMatch(seamAttributes: Uint8Array, expected: Uint8Array): boolean {
  if (seamAttributes.length !== expected.length) return false;
  for (let i = 0; i < seamAttributes.length; i++) {
    if (seamAttributes[i] !== 0 || seamAttributes[i] !== expected[i]) return false;
  }
  return true;
}

/** 4.1.2.4.11: the module identity, MRSIGNERSEAM and SEAMATTRIBUTES; returns the identity used. */
export function checkTdxModuleIdentity(run: Run, tcbInfo: TcbInfo, q: TdxModuleQuote): TdxModuleIdentity {
  const found = tdxModuleIdentityFor(tcbInfo, q);
  if ("missing" in found) {
    run.fail(
      "tdxModule.identity",
      "TDX_MODULE_MISMATCH",
      `the TCB Info has no TDX module identity ${found.missing} (TEE_TCB_SVN[1] = ${q.teeTcbSvn[1]})`,
      "fetch current TDX TCB Info (with tdxModuleIdentities) for this platform",
      { expected: found.missing, actual: tcbInfo.tdxModuleIdentities?.map((m) => m.id) ?? [] },
    );
  }
  const { name, identity } = found;
  run.pass("tdxModule.identity", { actual: name });
  if (!bytesEqual(q.mrSignerSeam, identity.mrSigner)) {
    run.fail(
      "tdxModule.mrSigner",
      "TDX_MODULE_MISMATCH",
      "MRSIGNERSEAM does not match the TDX module identity",
      "the TD runs on a TDX module Intel did not sign",
      { expected: hex(identity.mrSigner), actual: hex(q.mrSignerSeam), field: "body.mrSignerSeam" },
    );
  }
  run.pass("tdxModule.mrSigner", { expected: hex(identity.mrSigner), actual: hex(q.mrSignerSeam) });
  if (!seamAttributesMatch(q.seamAttributes, identity.attributes)) {
    run.fail(
      "tdxModule.attributes",
      "TDX_MODULE_MISMATCH",
      "SEAMATTRIBUTES do not match the TDX module identity (must be zero)",
      "the TDX module runs with unexpected attributes",
      { expected: hex(identity.attributes), actual: hex(q.seamAttributes), field: "body.seamAttributes" },
    );
  }
  run.pass("tdxModule.attributes", { expected: hex(identity.attributes), actual: hex(q.seamAttributes) });
  return identity;
}

export type ModuleTcbLevel =
  | { kind: "notChecked" }
  | { kind: "missing"; name: string }
  | { kind: "noLevel"; name: string }
  | { kind: "level"; name: string; level: TdxModuleTcbLevel };

/**
 * checkTdxModuleTcbStatus's level: none for a v4+ quote with TEE_TCB_SVN[1] = 0 (the TDX TCB level covers
 * the module); otherwise the first level (set order: isvsvn descending) of `TDX_%02X` whose isvsvn
 * TEE_TCB_SVN[0] reaches.
 */
export function moduleTcbLevel(
  tcbInfo: TcbInfo,
  q: Pick<TdxModuleQuote, "quoteVersion" | "teeTcbSvn">,
): ModuleTcbLevel {
  const svn = q.teeTcbSvn;
  if (q.quoteVersion > 3 && svn[1] === 0) return { kind: "notChecked" };
  const name = moduleIdName(svn[1]!);
  const mi = findModuleIdentity(tcbInfo, svn[1]!);
  if (!mi) return { kind: "missing", name };
  const level = mi.tcbLevels.find((l) => svn[0]! >= l.isvSvn);
  return level ? { kind: "level", name, level } : { kind: "noLevel", name };
}

/** The module's TCB status (UpToDate, OutOfDate or Revoked) and the identity reported in the result. */
export function checkModuleTcbLevel(
  run: Run,
  tcbInfo: TcbInfo,
  q: Pick<TdxModuleQuote, "quoteVersion" | "teeTcbSvn">,
  identity: TdxModuleIdentity | null,
): { status: TdxModuleStatus; used: TdxModuleIdentityUsed | null } {
  const used: TdxModuleIdentityUsed | null = identity
    ? {
        id: identity.id || "tdxModule",
        mrSigner: hex(identity.mrSigner),
        attributes: hex(identity.attributes),
        attributesMask: hex(identity.attributesMask),
        tcbLevel: null,
      }
    : null;
  const m = moduleTcbLevel(tcbInfo, q);
  const svn0 = q.teeTcbSvn[0];
  switch (m.kind) {
    case "notChecked":
      run.pass("tdxModule.tcbLevel", {
        detail: "TEE_TCB_SVN[1] = 0: the module is covered by the TDX TCB level",
      });
      return { status: "UpToDate", used };
    case "missing":
      return run.fail(
        "tdxModule.tcbLevel",
        "TDX_MODULE_MISMATCH",
        `the TCB Info has no TDX module identity ${m.name}`,
        "fetch current TDX TCB Info for this platform",
        { expected: m.name },
      );
    case "noLevel":
      return run.fail(
        "tdxModule.tcbLevel",
        "TDX_MODULE_TCB_LEVEL_NOT_FOUND",
        `no ${m.name} TCB level covers TDX module SVN ${svn0}`,
        "the TDX module is older than any level Intel lists (Intel: TCB_NOT_SUPPORTED); update the TDX module",
        { actual: svn0, data: { intelStatus: "STATUS_TCB_NOT_SUPPORTED" } },
      );
  }
  const ml = m.level;
  // TcbStatus.h VALID_MODULE_TCB_STATUSES: anything else is TCB_UNRECOGNIZED_STATUS.
  if (!isTdxModuleStatus(ml.tcbStatus)) {
    run.fail(
      "tdxModule.tcbLevel",
      "TCB_STATUS_UNRECOGNIZED",
      `unknown TDX module TCB status "${ml.tcbStatus}"`,
      HINT_FETCH,
      {
        actual: ml.tcbStatus,
      },
    );
  }
  if (used) {
    used.tcbLevel = {
      isvSvn: ml.isvSvn,
      tcbDate: ml.tcbDate,
      tcbStatus: ml.tcbStatus,
      advisoryIds: ml.advisoryIds,
    };
  }
  run.pass("tdxModule.tcbLevel", {
    actual: { id: m.name, svn: svn0, level: ml.isvSvn, status: ml.tcbStatus },
  });
  return { status: ml.tcbStatus, used };
}
