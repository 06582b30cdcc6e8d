import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { decodeInputBytes } from "../../abi/index.js";
import { type Collateral, fetchCollateralForQuote, readCollateral } from "../../collateral/index.js";
import { isTdxError, TdxError } from "../../errors.js";
import { type Appraisal, appraise, DEFAULT_POLICY, type Policy, readPolicy } from "../../policy/index.js";
import { type VerificationResult, Verifier } from "../../verify/index.js";
import { readInputFile } from "../io.js";
import { writeJson } from "../output.js";
import { verifyAzTdxVtpmCommand } from "./verify-az.js";

interface VerifyFlags {
  collateral?: string;
  pccs?: string[];
  at?: string;
  trustRoot?: string[];
  policy?: string;
  json?: boolean;
  tee?: string;
  nonce?: string;
  nonceHex?: string;
}

function usage(message: string, hint: string, field?: string): TdxError {
  return new TdxError("USAGE", message, field === undefined ? { hint } : { hint, field });
}

/** TIME as unix seconds ("1752919234") or ISO 8601 ("2025-07-19T10:00:34Z"). */
export function parseTime(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.floor(Number(t));
  const ms = Date.parse(t);
  if (!/^\d{4}-\d{2}-\d{2}/.test(t) || Number.isNaN(ms)) {
    throw usage(
      `--at ${text} is not a time`,
      "give unix seconds (1752919234) or ISO 8601 (2025-07-19T10:00:34Z)",
      "--at",
    );
  }
  return Math.floor(ms / 1000);
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new TdxError(
      "INPUT_UNREADABLE",
      `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      {
        field: what,
        hint: "check the path",
        cause: e,
      },
    );
  }
}

export function readTrustRoot(path: string): string | Uint8Array {
  const bytes = readInputFile(path);
  const text = Buffer.from(bytes).toString("latin1");
  return text.includes("-----BEGIN CERTIFICATE-----") ? text : bytes;
}

function check(mark: boolean, nonFatal: boolean | undefined): string {
  if (mark) return "ok  ";
  return nonFatal ? "warn" : "FAIL";
}

function short(v: unknown): string {
  if (v === undefined) return "";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** The decision: 0 verified and accepted, 1 verified but refused, 2 invalid. */
export function exitCodeOf(result: VerificationResult, appraisal: Appraisal | null): 0 | 1 | 2 {
  if (!result.ok) return 2;
  return appraisal?.allowed ? 0 : 1;
}

/** The --json document. */
export function verifyJson(
  result: VerificationResult,
  appraisal: Appraisal | null,
  policySource: string | null,
): Record<string, unknown> {
  const code = exitCodeOf(result, appraisal);
  return {
    ok: code === 0,
    verified: result.ok,
    tcbStatus: result.tcbStatus,
    advisoryIds: result.advisoryIds,
    collateralExpired: result.collateralExpired,
    earliestExpiry: result.earliestExpiry,
    at: result.at,
    matchedTcbLevel: result.matchedTcbLevel,
    qeIdentityStatus: result.qeIdentityStatus,
    tdxModuleStatus: result.tdxModuleStatus,
    tdxModuleIdentity: result.tdxModuleIdentity,
    platform: result.platform,
    checks: result.checks,
    policy: appraisal ? { source: policySource, ...appraisal } : null,
    error: result.error
      ? {
          code: result.error.code,
          message: result.error.message,
          hint: result.error.hint ?? null,
          ...(result.error.field !== undefined ? { field: result.error.field } : {}),
          ...(result.error.offset !== undefined ? { offset: result.error.offset } : {}),
        }
      : null,
  };
}

export function printHuman(
  result: VerificationResult,
  appraisal: Appraisal | null,
  policySource: string | null,
): void {
  const out: string[] = [];
  const code = exitCodeOf(result, appraisal);
  if (code === 2) {
    // Where, as decode prints it: the field and the byte offset when the error has them.
    const e = result.error;
    const where = [e?.field ? `field ${e.field}` : "", e?.offset !== undefined ? `offset ${e.offset}` : ""]
      .filter(Boolean)
      .join(", ");
    out.push(`INVALID: ${e?.code}: ${e?.message}${where ? ` (${where})` : ""}`);
    if (result.error?.hint) out.push(`  hint: ${result.error.hint}`);
  } else {
    const why =
      code === 0
        ? `accepted by ${policySource} policy`
        : `refused by ${policySource} policy: ${appraisal?.denials.map((d) => d.message).join("; ")}`;
    out.push(`${code === 0 ? "ACCEPTED" : "REFUSED"}: TCB ${result.tcbStatus}; ${why}`);
    if (result.advisoryIds.length) out.push(`  advisories: ${result.advisoryIds.join(", ")}`);
  }
  if (result.collateralExpired) {
    out.push(`  collateral expired: ${result.expiredItems.join(", ")}`);
  } else if (result.earliestExpiry) {
    out.push(`  collateral valid until ${result.earliestExpiry.iso} (${result.earliestExpiry.item})`);
  }
  out.push("checks:");
  for (const c of result.checks) {
    const cmp =
      (c.expected !== undefined ? ` expected=${short(c.expected)}` : "") +
      (c.actual !== undefined ? ` actual=${short(c.actual)}` : "");
    out.push(
      `  ${check(c.passed, c.nonFatal)} ${c.name}${cmp}${c.detail && !c.passed ? ` (${c.detail})` : ""}`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

/** Registers `verify`. */
export function registerVerifyCommands(program: Command): void {
  program
    .command("verify")
    .description(
      "verify a DCAP quote (SGX v3, TDX v4/v5) the way Intel's QVL does, or Azure TDX vTPM evidence (--tee az-tdx-vtpm), then appraise it against a policy",
    )
    .argument(
      "<quote>",
      "quote file (binary, hex or base64), or - for stdin; with --tee az-tdx-vtpm: evidence JSON",
    )
    .option(
      "--collateral <file>",
      "collateral JSON (dcap-qvl QuoteCollateralV3 format, e.g. from `collateral fetch`)",
    )
    .option(
      "--pccs <url>",
      "PCS/PCCS base URL to fetch collateral from (repeat to try several in order)",
      collect,
    )
    .option("--at <time>", "verification time: unix seconds or ISO 8601 (default: now)")
    .option("--trust-root <pem>", "trust this root CA instead of Intel's SGX Root CA (repeatable)", collect)
    .option(
      "--policy <file>",
      "appraisal policy JSON (default: UpToDate only, no DEBUG TD, unexpired collateral)",
    )
    .option("--json", "print the result as JSON")
    .option(
      "--tee <tee>",
      "evidence type: tdx (a DCAP quote, default) or az-tdx-vtpm (Azure TDX vTPM evidence JSON)",
    )
    .option("--nonce <text>", "az-tdx-vtpm: the expected nonce as text (UTF-8), e.g. the challenge")
    .option(
      "--nonce-hex <hex>",
      "az-tdx-vtpm: the expected nonce as hex bytes (e.g. a SHA-384 runtime-data digest)",
    )
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  tdx-attest verify quote.bin --collateral collateral.json --at 2025-07-19T10:00:34Z\n" +
        "  tdx-attest verify quote.hex --pccs https://pccs.example:8081 --policy policy.json --json\n" +
        "  tdx-attest verify sim-quote.bin --collateral sim-collateral.json --trust-root sim-root.pem\n" +
        "  tdx-attest verify evidence.json --tee az-tdx-vtpm --collateral coll.json --nonce challenge --json\n\n" +
        "Exit codes: 0 verified and accepted; 1 verified but refused (TCB status or policy);\n" +
        "2 invalid (signature, chain, revocation, malformed input) or usage error.",
    )
    .action(async (quotePath: string, flags: VerifyFlags) => {
      const tee = flags.tee ?? "tdx";
      if (tee !== "tdx" && tee !== "az-tdx-vtpm") {
        throw usage(
          `--tee ${tee} is not known`,
          "use --tee tdx (a quote) or --tee az-tdx-vtpm (Azure evidence)",
          "--tee",
        );
      }
      if (tee === "tdx" && (flags.nonce !== undefined || flags.nonceHex !== undefined)) {
        throw usage(
          "--nonce and --nonce-hex apply to --tee az-tdx-vtpm",
          "drop them, or add --tee az-tdx-vtpm",
        );
      }
      if (flags.collateral && flags.pccs?.length) {
        throw usage(
          "give either --collateral or --pccs, not both",
          "use --collateral FILE for offline verification",
        );
      }
      if (!flags.collateral && !flags.pccs?.length) {
        throw usage(
          "no collateral: give --collateral FILE or --pccs URL",
          "fetch an offline bundle with `tdx-attest collateral fetch QUOTE --pccs URL --out FILE`",
        );
      }
      if (tee === "az-tdx-vtpm") return verifyAzTdxVtpmCommand(quotePath, flags);
      const now = flags.at !== undefined ? parseTime(flags.at) : Math.floor(Date.now() / 1000);
      const { bytes } = decodeInputBytes(readInputFile(quotePath));
      let policy: Policy = DEFAULT_POLICY as Policy;
      let policySource = "default";
      if (flags.policy) {
        policy = readPolicy(readText(flags.policy, "--policy"));
        policySource = flags.policy;
      }
      const anchors = flags.trustRoot?.map(readTrustRoot);
      const verifier = new Verifier(anchors ? { trustAnchors: anchors } : {});
      let collateral: Collateral;
      if (flags.collateral) {
        collateral = readCollateral(readText(flags.collateral, "--collateral"));
      } else {
        collateral = await fetchOrExplain(() =>
          fetchCollateralForQuote(bytes, {
            urls: flags.pccs ?? [],
            now,
            ...(anchors ? { trustAnchors: anchors } : {}),
          }),
        );
      }
      const result = verifier.verify(bytes, collateral, { now });
      const appraisal = result.ok ? appraise(result, policy, { now }) : null;
      if (flags.json) writeJson(verifyJson(result, appraisal, appraisal ? policySource : null));
      else printHuman(result, appraisal, policySource);
      process.exitCode = exitCodeOf(result, appraisal);
    });
}

/**
 * Collateral from the PCCS; for a quote whose PCK chain no trusted root vouches for nothing is fetched,
 * and the verifier, given no collateral, explains the chain (UNTRUSTED_ROOT, ...) as it always did.
 */
export async function fetchOrExplain(fetchIt: () => Promise<Collateral>): Promise<Collateral> {
  try {
    return await fetchIt();
  } catch (e) {
    if (isTdxError(e) && e.code === "QUOTE_PCK_CHAIN_UNTRUSTED") return {} as Collateral;
    throw e;
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
