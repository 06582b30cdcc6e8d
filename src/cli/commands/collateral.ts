import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { readQuoteInput } from "../../abi/index.js";
import {
  CollateralService,
  type FetchedCollateral,
  isQuoteFault,
  type UpdateType,
  writeCollateral,
} from "../../collateral/index.js";
import { isTdxError, TdxError } from "../../errors.js";
import type { VerificationResult } from "../../verify/index.js";
import { verifyQuote } from "../../verify/index.js";
import { readInputFile, writeFileAtomic } from "../io.js";
import { writeJson } from "../output.js";

interface NetworkOptions {
  pccs?: string[];
  cacheDir?: string;
  timeout?: string;
  quiet?: boolean;
  trustRoot?: string[];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Parses --at: unix seconds or ISO 8601. */
export function parseTime(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.floor(Number(text));
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new TdxError("USAGE_TIME", `not a time: ${text}`, {
      field: "--at",
      hint: "give unix seconds (1752919234) or ISO 8601 (2025-07-19T10:00:34Z)",
    });
  return Math.floor(ms / 1000);
}

function serviceFrom(opts: NetworkOptions): CollateralService {
  const urls = opts.pccs ?? [];
  if (urls.length === 0)
    throw new TdxError("USAGE_PCCS_MISSING", "no collateral service given", {
      field: "--pccs",
      hint: "pass --pccs URL (repeatable; tried in order), e.g. --pccs https://localhost:8081 or --pccs https://api.trustedservices.intel.com",
    });
  let timeoutMs: number | undefined;
  if (opts.timeout !== undefined) {
    timeoutMs = Number(opts.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
      throw new TdxError(
        "USAGE_TIMEOUT",
        `--timeout must be a positive number of milliseconds, got ${opts.timeout}`,
        {
          field: "--timeout",
          hint: "e.g. --timeout 10000",
        },
      );
  }
  const trustAnchors = opts.trustRoot?.map(readRoot);
  return new CollateralService({
    urls,
    ...(trustAnchors === undefined ? {} : { trustAnchors }),
    ...(opts.cacheDir === undefined ? {} : { cacheDir: opts.cacheDir }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(opts.quiet ? {} : { onProgress: (line: string) => process.stderr.write(`${line}\n`) }),
    onWarning: (line: string) => process.stderr.write(`warning: ${line}\n`),
  });
}

function readRoot(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new TdxError("INPUT_UNREADABLE", `cannot read the trust root ${path}`, {
      field: "--trust-root",
      hint: "give a PEM file holding the root CA certificate",
      cause: e,
    });
  }
}

function networkOptions(cmd: Command): Command {
  return cmd
    .option("--pccs <url>", "PCCS or Intel PCS base URL (repeatable, tried in order)", collect)
    .option(
      "--trust-root <pem>",
      "trust this root CA (PEM file) instead of Intel's SGX Root CA (repeatable): fetched collateral and the quote's PCK chain must lead to it",
      collect,
    )
    .option("--cache-dir <dir>", "keep fetched collateral in this directory (reused while valid)")
    .option("--timeout <ms>", "per-request timeout in milliseconds (default 10000)")
    .option("-q, --quiet", "no progress lines on stderr");
}

function summary(f: FetchedCollateral): Record<string, unknown> {
  return {
    platform: f.platform,
    validUntil: f.validUntil.toISOString(),
    artifacts: f.artifacts.map((a) => ({
      key: a.key,
      source: a.source,
      nextUpdate: new Date(a.nextUpdate).toISOString(),
    })),
  };
}

/** Registers `collateral fetch` and `tcb-status`. */
export function registerCollateralCommands(program: Command): void {
  const collateral = program
    .command("collateral")
    .description(
      "fetch DCAP collateral (TCB Info, QE identity, CRLs, issuer chains) from Intel PCS or a PCCS",
    );

  networkOptions(
    collateral
      .command("fetch")
      .description(
        "fetch everything QUOTE needs and write an offline bundle that `verify --collateral` reads",
      )
      .argument("<quote>", "quote file (binary, hex or base64), or - for stdin"),
  )
    .requiredOption("-o, --out <file>", "where to write the collateral JSON (written atomically)")
    .addOption(
      new Option("--update <type>", "Intel TCB evaluation data set")
        .choices(["standard", "early"])
        .default("standard"),
    )
    .option("--json", "print a JSON summary on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  tdx-attest collateral fetch quote.bin --pccs https://localhost:8081 --out collateral.json\n" +
        "  tdx-attest collateral fetch quote.bin --pccs https://pccs.a:8081 --pccs https://api.trustedservices.intel.com -o c.json\n" +
        "  tdx-attest verify quote.bin --collateral collateral.json\n\n" +
        "The bundle uses the JSON format of dcap-qvl's QuoteCollateralV3 (signed TCB Info and QE identity kept byte for byte).\n" +
        "Exit codes: 0 written, 2 unreachable service, unknown platform, malformed quote or usage error.",
    )
    .action(
      async (file: string, opts: NetworkOptions & { out: string; update: UpdateType; json?: boolean }) => {
        const quote = readQuoteInput(readInputFile(file));
        const service = serviceFrom(opts);
        const fetched = await service.fetchForQuote(quote, { update: opts.update });
        writeFileAtomic(opts.out, writeCollateral(fetched.collateral));
        if (opts.json) {
          writeJson({ ok: true, out: opts.out, update: opts.update, ...summary(fetched) });
          return;
        }
        const p = fetched.platform;
        process.stdout.write(
          `wrote ${opts.out}: ${p.tee.toUpperCase()} FMSPC ${p.fmspc} (${p.caType} CA), ${opts.update} TCB data, ` +
            `valid until ${fetched.validUntil.toISOString()}\n`,
        );
      },
    );
  registerTcbStatusCommand(program);
}

interface TcbView {
  ok: boolean;
  tcbStatus: string | null;
  advisoryIds: string[];
  tcbDate: string | null;
  tcbEvaluationDataNumber: number | null;
  collateralExpired: boolean;
  error: { code: string; message: string; hint?: string } | null;
}

function viewOf(r: VerificationResult): TcbView {
  return {
    ok: r.ok,
    tcbStatus: r.tcbStatus,
    advisoryIds: r.advisoryIds,
    tcbDate: r.matchedTcbLevel?.tcbDate ?? null,
    tcbEvaluationDataNumber: r.collateral?.tcbInfo.tcbEvaluationDataNumber ?? null,
    collateralExpired: r.collateralExpired,
    error:
      r.error === null
        ? null
        : { code: r.error.code, message: r.error.message, ...(r.error.hint ? { hint: r.error.hint } : {}) },
  };
}

function errorView(e: unknown): TcbView["error"] {
  if (isTdxError(e)) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  return { code: "INTERNAL", message: e instanceof Error ? e.message : String(e) };
}

function line(label: string, v: TcbView): string {
  const evalNo = v.tcbEvaluationDataNumber === null ? "" : ` #${v.tcbEvaluationDataNumber}`;
  const head = `${label} TCB data${evalNo}:`.padEnd(24);
  if (!v.ok || v.tcbStatus === null)
    return `${head} not verified: ${v.error?.code ?? "?"} ${v.error?.message ?? ""}`.trimEnd();
  const date = v.tcbDate === null ? "" : `, TCB date ${v.tcbDate.slice(0, 10)}`;
  const adv = v.advisoryIds.length === 0 ? "none" : v.advisoryIds.join(", ");
  return `${head} ${v.tcbStatus}${date}, advisories ${adv}${v.collateralExpired ? ", collateral EXPIRED" : ""}`;
}

/** Registers `tcb-status` (top level; it lives here because it is collateral work first). */
export function registerTcbStatusCommand(program: Command): void {
  networkOptions(
    program
      .command("tcb-status")
      .description(
        "where QUOTE's platform stands now and under Intel's early TCB evaluation data, and until when its collateral is valid",
      )
      .argument("<quote>", "quote file (binary, hex or base64), or - for stdin"),
  )
    .option("--at <time>", "judge at this time: unix seconds or ISO 8601 (default: now)")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  tdx-attest tcb-status quote.bin --pccs https://localhost:8081\n" +
        "  tdx-attest tcb-status quote.bin --pccs https://api.trustedservices.intel.com --json\n\n" +
        "Exit codes: 0 UpToDate under the standard data with valid collateral; 1 verified but not UpToDate or\n" +
        "collateral expired; 2 not verified, unreachable service or usage error.",
    )
    .action(
      async (file: string, opts: NetworkOptions & { trustRoot?: string[]; at?: string; json?: boolean }) => {
        const quote = readQuoteInput(readInputFile(file));
        // The CLI is the edge: the clock is read here and passed down as an input.
        const now = opts.at === undefined ? Math.floor(Date.now() / 1000) : parseTime(opts.at);
        const trustAnchors = opts.trustRoot?.map(readRoot);
        const service = serviceFrom(opts);
        const verifyOpts = { now, ...(trustAnchors === undefined ? {} : { trustAnchors }) };
        let standard: FetchedCollateral;
        try {
          standard = await service.fetchForQuote(quote, { update: "standard", now });
        } catch (e) {
          // A quote no trusted root vouches for gets nothing fetched: say so as an unverified result.
          if (!isQuoteFault(e)) throw e;
          const view: TcbView = {
            ok: false,
            tcbStatus: null,
            advisoryIds: [],
            tcbDate: null,
            tcbEvaluationDataNumber: null,
            collateralExpired: false,
            error: errorView(e),
          };
          process.exitCode = 2;
          if (opts.json) writeJson({ at: new Date(now * 1000).toISOString(), standard: view, early: view });
          else process.stdout.write(`  ${line("standard", view)}\n`);
          if (view.error?.hint) process.stderr.write(`hint: ${view.error.hint}\n`);
          return;
        }
        const std = verifyQuote(quote, standard.collateral, verifyOpts);
        let early: TcbView;
        try {
          const fetched = await service.fetchForQuote(quote, { update: "early", now });
          early = viewOf(verifyQuote(quote, fetched.collateral, verifyOpts));
        } catch (e) {
          early = {
            ok: false,
            tcbStatus: null,
            advisoryIds: [],
            tcbDate: null,
            tcbEvaluationDataNumber: null,
            collateralExpired: false,
            error: errorView(e),
          };
        }
        const validUntil = std.earliestExpiry
          ? { at: std.earliestExpiry.iso, item: std.earliestExpiry.item }
          : { at: standard.validUntil.toISOString(), item: "collateral nextUpdate" };
        const view = viewOf(std);
        process.exitCode = !std.ok ? 2 : std.tcbStatus === "UpToDate" && !std.collateralExpired ? 0 : 1;
        if (opts.json) {
          writeJson({
            platform: standard.platform,
            at: new Date(now * 1000).toISOString(),
            standard: view,
            early,
            collateralValidUntil: validUntil,
          });
          return;
        }
        const p = standard.platform;
        process.stdout.write(
          `${p.tee.toUpperCase()} platform, FMSPC ${p.fmspc} (${p.caType} CA), at ${new Date(now * 1000).toISOString()}\n` +
            `  ${line("standard", view)}\n` +
            `  ${line("early", early)}\n` +
            `  collateral valid until ${validUntil.at} (${validUntil.item})\n`,
        );
        if (view.error?.hint) process.stderr.write(`hint: ${view.error.hint}\n`);
      },
    );
}
