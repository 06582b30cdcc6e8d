/**
 * Every folder's error table joined at run time: what the servers answer for a code (its HTTP status) and
 * what docs/errors.md is generated from. The type of the codes lives in errors.ts (type imports only, so a
 * page that verifies quotes loads none of these tables); this module is for the Node side: the key broker's
 * and the explorer's HTTP answers, the key broker client reading a broker's answer, the doc generator.
 */
import { ABI_ERRORS } from "./abi/error-codes.js";
import { ATTEST_ERRORS } from "./attest/error-codes.js";
import { CLI_ERRORS } from "./cli/error-codes.js";
import { COLLATERAL_ERRORS } from "./collateral/error-codes.js";
import { CRYPTO_ERRORS } from "./crypto/error-codes.js";
import type { ErrorCode, ErrorCodeEntry, ErrorTable } from "./errors.js";
import { EVENTLOG_ERRORS } from "./eventlog/error-codes.js";
import { GUEST_ERRORS } from "./guest/error-codes.js";
import { KBS_ERRORS } from "./kbs/error-codes.js";
import { POLICY_ERRORS } from "./policy/error-codes.js";
import { QGS_ERRORS } from "./qgs/error-codes.js";
import { SERVER_ERRORS } from "./server/error-codes.js";
import { SIM_ERRORS } from "./sim/error-codes.js";
import { VERIFY_ERRORS } from "./verify/error-codes.js";

/** The tables by folder, in the order of ARCHITECTURE.md's table (the order of docs/errors.md). */
export const ERROR_TABLES = {
  cli: CLI_ERRORS,
  server: SERVER_ERRORS,
  kbs: KBS_ERRORS,
  attest: ATTEST_ERRORS,
  qgs: QGS_ERRORS,
  guest: GUEST_ERRORS,
  verify: VERIFY_ERRORS,
  collateral: COLLATERAL_ERRORS,
  policy: POLICY_ERRORS,
  eventlog: EVENTLOG_ERRORS,
  sim: SIM_ERRORS,
  abi: ABI_ERRORS,
  crypto: CRYPTO_ERRORS,
} as const satisfies Record<string, ErrorTable>;

export type ErrorFolder = keyof typeof ERROR_TABLES;

/** One registered code: its table's entry and the folder that declares it. */
export interface RegisteredError extends ErrorCodeEntry {
  readonly code: ErrorCode;
  readonly folder: ErrorFolder;
}

function join(): ReadonlyMap<string, RegisteredError> {
  const all = new Map<string, RegisteredError>();
  for (const [folder, table] of Object.entries(ERROR_TABLES) as [ErrorFolder, ErrorTable][]) {
    for (const [code, entry] of Object.entries(table)) {
      // Each code has one owner; a second declaration is a bug in the tables (test/errors.test.ts).
      if (all.has(code))
        throw new Error(`error code ${code} is declared by ${all.get(code)!.folder} and ${folder}`);
      all.set(code, { ...entry, code: code as ErrorCode, folder });
    }
  }
  return all;
}

const REGISTRY = join();

/**
 * Every code with its entry. Typed by `ErrorCode`: a table left out of ERROR_TABLES (but in errors.ts's
 * union) does not compile.
 */
export const ERROR_CODES: Readonly<Record<ErrorCode, ErrorCodeEntry>> = {
  ...CLI_ERRORS,
  ...SERVER_ERRORS,
  ...KBS_ERRORS,
  ...ATTEST_ERRORS,
  ...QGS_ERRORS,
  ...GUEST_ERRORS,
  ...VERIFY_ERRORS,
  ...COLLATERAL_ERRORS,
  ...POLICY_ERRORS,
  ...EVENTLOG_ERRORS,
  ...SIM_ERRORS,
  ...ABI_ERRORS,
  ...CRYPTO_ERRORS,
};

/** Every registered code, in the order of docs/errors.md. */
export function registeredErrors(): RegisteredError[] {
  return [...REGISTRY.values()];
}

/** True for a code some table declares (e.g. a code read from another process's answer). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && REGISTRY.has(code);
}

/** The entry of a code, or undefined for a string no table declares. */
export function errorEntry(code: string): RegisteredError | undefined {
  return REGISTRY.get(code);
}

/** The HTTP status a server answers a code with, where its table gives one. */
export function httpStatusOf(code: string): number | undefined {
  return REGISTRY.get(code)?.http;
}
