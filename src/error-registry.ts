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
import { PACKAGE_ERRORS } from "./error-codes.js";
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
  // src/error-codes.ts: the root modules (src/optional.ts).
  package: PACKAGE_ERRORS,
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
  ...PACKAGE_ERRORS,
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

const FOLDER_TITLES: Readonly<Record<ErrorFolder, string>> = {
  cli: "the `tdx-attest` command",
  server: "the HTTP servers (key broker API, explorer, PCS)",
  kbs: "the key broker and its client",
  attest: "the evidence pipeline and init-data",
  qgs: "the Quote Generation Service",
  guest: "inside a TD",
  verify: "DCAP verification and az-tdx-vtpm evidence",
  collateral: "collateral, PCS/PCCS client and cache",
  policy: "policies",
  eventlog: "event logs",
  sim: "the simulated platform",
  abi: "byte layouts",
  crypto: "certificates, keys, DER",
  package: "the package itself: optional peer packages (src/optional.ts)",
};

const cell = (s: string) => s.replace(/\|/g, "\\|");

/**
 * docs/errors.md: every code of every table, by folder. Written by `node scripts/errors-doc.mjs` (after
 * `npm run build`); test/errors.test.ts renders it again and fails when the file differs.
 */
export function errorsMarkdown(): string {
  const out: string[] = [
    "# Error codes",
    "",
    "<!-- Generated from src/*/error-codes.ts: do not edit. Regenerate: npm run build && node scripts/errors-doc.mjs -->",
    "",
    "Every failure of tdx-attest is a `TdxError` (`src/errors.ts`) with a stable `code` (never renamed), a",
    "`message`, the offending `field` and byte `offset` where there is one, a `hint` saying what to do, and",
    "`data` with machine-readable details. The key broker answers it as `application/problem+json` (`code`,",
    "`detail` = the message, `field`, `offset`, `hint`, the `data` entries), the explorer as `{ok: false, error}`,",
    "the CLI prints it (`--json`: as JSON) and exits non-zero.",
    "",
    "**HTTP** is the status a server answers the code with. A code without one is not answered directly: the key",
    "broker answers it 500 `KBS_INTERNAL` (its own codes wrap the others, e.g. a quote that does not parse is 401",
    "`KBS_EVIDENCE_REJECTED` with the parser's `field` and `offset`), the explorer 400 (its input is the caller's).",
    "",
    "Each folder declares its codes in one table, `src/<folder>/error-codes.ts` (the root modules in `src/error-codes.ts`); `ErrorCode` (src/errors.ts) is",
    "their union, so a code no table declares does not compile. A new code is one row in the table of the folder",
    "that throws it (`http` where a server answers with it), then `npm run build && node scripts/errors-doc.mjs`.",
    "Codes are never renamed. At run time `isErrorCode`, `errorEntry` and `httpStatusOf` (package root) read the",
    "tables.",
    "",
  ];
  for (const [folder, table] of Object.entries(ERROR_TABLES) as [ErrorFolder, ErrorTable][]) {
    const codes = Object.keys(table).sort();
    const where = folder === "package" ? "src/error-codes.ts" : `${folder}/`;
    out.push(`## ${where}: ${FOLDER_TITLES[folder]} (${codes.length})`, "");
    out.push("| code | HTTP | meaning | more |", "|---|---|---|---|");
    for (const code of codes) {
      const e = table[code]!;
      const page = e.page ? `[${e.page}](${e.page})` : "";
      out.push(`| \`${code}\` | ${e.http ?? ""} | ${cell(e.doc)} | ${page} |`);
    }
    out.push("");
  }
  return out.join("\n");
}
