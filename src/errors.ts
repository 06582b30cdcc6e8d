/**
 * The one error type of tdx-attest. Every bad input surfaces as a TdxError with a stable `code`
 * (never renamed once released), the offending field or byte offset where there is one, and a hint
 * that tells the user what to do next.
 *
 * The codes are declared per folder, each in one table (`src/<folder>/error-codes.ts`: the code, its
 * HTTP status where a server answers with it, one line saying what it means); `ErrorCode` is their
 * union, so a code no table declares does not compile. The imports below are types only: this module
 * loads nothing at run time, and a page that verifies quotes does not carry the tables. The tables'
 * values are joined in `src/error-registry.ts` (HTTP statuses for the servers, docs/errors.md).
 */
import type { ABI_ERRORS } from "./abi/error-codes.js";
import type { ATTEST_ERRORS } from "./attest/error-codes.js";
import type { CLI_ERRORS } from "./cli/error-codes.js";
import type { COLLATERAL_ERRORS } from "./collateral/error-codes.js";
import type { CRYPTO_ERRORS } from "./crypto/error-codes.js";
import type { PACKAGE_ERRORS } from "./error-codes.js";
import type { EVENTLOG_ERRORS } from "./eventlog/error-codes.js";
import type { GUEST_ERRORS } from "./guest/error-codes.js";
import type { KBS_ERRORS } from "./kbs/error-codes.js";
import type { POLICY_ERRORS } from "./policy/error-codes.js";
import type { QGS_ERRORS } from "./qgs/error-codes.js";
import type { SERVER_ERRORS } from "./server/error-codes.js";
import type { SIM_ERRORS } from "./sim/error-codes.js";
import type { VERIFY_ERRORS } from "./verify/error-codes.js";

/** One row of a folder's error table. */
export interface ErrorCodeEntry {
  /** The HTTP status a server of this package answers with, where one does. */
  readonly http?: number;
  /** One line: what the code means, when it is raised. */
  readonly doc: string;
  /** The docs page that says more (a path under docs/, e.g. "kbs.md"). */
  readonly page?: string;
}

/** A folder's error table: code -> entry. Declared `as const satisfies ErrorTable`. */
export type ErrorTable = Readonly<Record<string, ErrorCodeEntry>>;

/** Every error code of tdx-attest: the union of the folders' tables. */
export type ErrorCode =
  | keyof typeof ABI_ERRORS
  | keyof typeof ATTEST_ERRORS
  | keyof typeof CLI_ERRORS
  | keyof typeof COLLATERAL_ERRORS
  | keyof typeof CRYPTO_ERRORS
  | keyof typeof EVENTLOG_ERRORS
  | keyof typeof GUEST_ERRORS
  | keyof typeof KBS_ERRORS
  | keyof typeof POLICY_ERRORS
  | keyof typeof QGS_ERRORS
  | keyof typeof SERVER_ERRORS
  | keyof typeof SIM_ERRORS
  | keyof typeof VERIFY_ERRORS
  | keyof typeof PACKAGE_ERRORS;

export interface TdxErrorDetails {
  /** Name of the offending field, e.g. "header.version" or "tcbInfo.fmspc". */
  field?: string;
  /** Byte offset into the input where the problem was found. */
  offset?: number;
  /** What to do about it. */
  hint?: string;
  /** The underlying error, when one was caught and translated. */
  cause?: unknown;
  /** Extra machine-readable values (expected/actual etc.). */
  data?: Record<string, unknown>;
}

export class TdxError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly offset: number | undefined;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details: TdxErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "TdxError";
    this.code = code;
    this.field = details.field;
    this.offset = details.offset;
    this.hint = details.hint;
    this.data = details.data;
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.field !== undefined) out.field = this.field;
    if (this.offset !== undefined) out.offset = this.offset;
    if (this.hint !== undefined) out.hint = this.hint;
    if (this.data !== undefined) out.data = this.data;
    return out;
  }
}

export function isTdxError(e: unknown): e is TdxError {
  return e instanceof TdxError;
}

/** Wrap anything thrown by a library into a TdxError with the given code and hint. */
export function asTdxError(
  e: unknown,
  code: ErrorCode,
  message: string,
  details: TdxErrorDetails = {},
): TdxError {
  if (e instanceof TdxError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return new TdxError(code, `${message}: ${reason}`, { ...details, cause: e });
}
