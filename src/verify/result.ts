import type { Quote } from "../abi/types.js";
import type { TcbLevelStatus } from "../collateral/tcb-info.js";
import type { PckCaType } from "../crypto/pck.js";
import type { ErrorCode } from "../errors.js";

/** Intel's final TCB statuses (TCB Info level statuses plus the TD relaunch advice of TDX 1.5). */
export type TcbStatus = TcbLevelStatus | "TDRelaunchAdvised" | "TDRelaunchAdvisedConfigurationNeeded";

/** Where the QE's ISVSVN stands in the QE identity: Intel's ISVSVN_OUT_OF_DATE / _REVOKED / _NOT_SUPPORTED. */
export type QeIdentityStatus = "UpToDate" | "OutOfDate" | "Revoked" | "NotSupported";

/** TDX module TCB status (module identity levels only know these three). */
export type TdxModuleStatus = "UpToDate" | "OutOfDate" | "Revoked";

/** One step of the verification, in the order Intel's QVL performs it. */
export interface VerificationCheck {
  name: string;
  passed: boolean;
  /** What the step compared (expected vs actual) or looked at. */
  expected?: unknown;
  actual?: unknown;
  detail?: string;
  /** True for findings that are reported but do not fail verification (collateral expiry). */
  nonFatal?: boolean;
}

export interface VerificationError {
  code: ErrorCode;
  message: string;
  hint?: string;
  field?: string;
  /** Byte offset into the quote (or collateral item) where the problem was found, when there is one. */
  offset?: number;
  data?: Record<string, unknown>;
}

export interface MatchedTcbLevel {
  tcbDate: string;
  tcbStatus: string;
  advisoryIds: string[];
  sgxComponents: number[];
  pceSvn: number;
  tdxComponents: number[] | null;
}

export interface QeIdentityLevel {
  isvSvn: number;
  tcbDate: string;
  tcbStatus: string;
  advisoryIds: string[];
}

export interface TdxModuleIdentityUsed {
  /** "tdxModule" (TEE_TCB_SVN[1] == 0) or the tdxModuleIdentities id, e.g. "TDX_01". */
  id: string;
  mrSigner: string;
  attributes: string;
  attributesMask: string;
  /** The module identity TCB level matched by TEE_TCB_SVN[0] (null when the top-level tdxModule was used). */
  tcbLevel: QeIdentityLevel | null;
}

export interface CollateralExpiry {
  /** Unix seconds. */
  at: number;
  iso: string;
  /** Which item expires first, e.g. "pckCrl.nextUpdate" or "tcbInfo.nextUpdate". */
  item: string;
}

export interface PlatformInfo {
  teeType: "SGX" | "TDX";
  quoteVersion: number;
  fmspc: string;
  pceId: string;
  /** Which CA issued the PCK certificate (by its issuer CN); "unknown" for a CA named otherwise (not an error). */
  caType: PckCaType | "unknown";
  sgxTcbComponents: number[];
  pceSvn: number;
  cpuSvn: string;
  /** TDX only, lowercase hex. */
  teeTcbSvn: string | null;
}

export interface CollateralInfo {
  tcbInfo: {
    id: string;
    version: number;
    fmspc: string;
    issueDate: string;
    nextUpdate: string;
    tcbEvaluationDataNumber: number;
  };
  qeIdentity: {
    id: string;
    version: number;
    issueDate: string;
    nextUpdate: string;
    tcbEvaluationDataNumber: number;
  };
}

export interface VerificationResult {
  /**
   * True when the quote verified: signatures, chain, certificate revocation, collateral, a matching TCB level
   * that is not Revoked (a Revoked verdict sets `tcbStatus: "Revoked"` with error TCB_REVOKED, Intel's terminal
   * result). It says nothing about acceptance: `tcbStatus` may still be OutOfDate etc.; decide with a policy
   * (`appraise`, default: UpToDate only, unexpired collateral).
   */
  ok: boolean;
  /** Intel's verdict, or null when verification failed before a TCB status existed. */
  tcbStatus: TcbStatus | null;
  /** Advisory IDs of the matched TCB Info level (what Intel's QvE reports). */
  advisoryIds: string[];
  /** Some collateral item (certificate, CRL, TCB Info, QE Identity) is past its validity at `at`. */
  collateralExpired: boolean;
  earliestExpiry: CollateralExpiry | null;
  /** The items past their validity at `at`. */
  expiredItems: string[];
  matchedTcbLevel: MatchedTcbLevel | null;
  qeIdentityStatus: QeIdentityStatus | null;
  qeIdentityLevel: QeIdentityLevel | null;
  tdxModuleStatus: TdxModuleStatus | null;
  tdxModuleIdentity: TdxModuleIdentityUsed | null;
  /** Every check performed, in order; the last one failed when `ok` is false. */
  checks: VerificationCheck[];
  error: VerificationError | null;
  /** The verification time (unix seconds). */
  at: number;
  platform: PlatformInfo | null;
  collateral: CollateralInfo | null;
  /** The parsed quote (for appraisal against reference values), or null when it could not be parsed. */
  quote: Quote | null;
}
