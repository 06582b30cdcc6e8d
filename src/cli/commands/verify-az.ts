import { parseAzTdxVtpmEvidence } from "../../abi/index.js";
import { type Collateral, fetchCollateralForQuote, readCollateral } from "../../collateral/index.js";
import { TdxError } from "../../errors.js";
import { appraise, DEFAULT_POLICY, type Policy, readPolicy } from "../../policy/index.js";
import { type AzTdxVtpmResult, Verifier, verifyAzTdxVtpm } from "../../verify/index.js";
import { readInputFile } from "../io.js";
import { writeJson } from "../output.js";
import {
  exitCodeOf,
  fetchOrExplain,
  parseTime,
  printHuman,
  readText,
  readTrustRoot,
  verifyJson,
} from "./verify.js";

export interface AzVerifyFlags {
  collateral?: string;
  pccs?: string[];
  at?: string;
  trustRoot?: string[];
  policy?: string;
  json?: boolean;
  nonce?: string;
  nonceHex?: string;
}

function usage(message: string, hint: string, field?: string): TdxError {
  return new TdxError("USAGE", message, field === undefined ? { hint } : { hint, field });
}

/** PCR values keyed as Trustee's claims are (`pcr00`..`pcr23`), other banks than SHA-256 prefixed. */
function pcrsJson(r: AzTdxVtpmResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of r.pcrs) {
    const key = `pcr${String(p.index).padStart(2, "0")}`;
    out[p.bank === "sha256" ? key : `${p.bank}:${key}`] = p.value;
  }
  return out;
}

/** `tdx-attest verify EVIDENCE --tee az-tdx-vtpm`: verify, appraise the TD quote, print, set the exit code. */
export async function verifyAzTdxVtpmCommand(evidencePath: string, flags: AzVerifyFlags): Promise<void> {
  if (flags.nonce !== undefined && flags.nonceHex !== undefined) {
    throw usage(
      "give either --nonce or --nonce-hex, not both",
      "--nonce takes text (UTF-8), --nonce-hex bytes",
    );
  }
  let nonce: Uint8Array | undefined;
  if (flags.nonce !== undefined) nonce = new TextEncoder().encode(flags.nonce);
  if (flags.nonceHex !== undefined) {
    const h = flags.nonceHex.replace(/^0x/i, "");
    if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) {
      throw usage(
        `--nonce-hex ${flags.nonceHex} is not hex`,
        "give an even number of hex digits",
        "--nonce-hex",
      );
    }
    nonce = Uint8Array.from(Buffer.from(h, "hex"));
  }
  const now = flags.at !== undefined ? parseTime(flags.at) : Math.floor(Date.now() / 1000);
  const text = new TextDecoder().decode(readInputFile(evidencePath));
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
    let tdQuote: Uint8Array | null = null;
    try {
      tdQuote = parseAzTdxVtpmEvidence(text).tdQuote;
    } catch {
      // Verification below reports the evidence error in its checks.
    }
    collateral = tdQuote
      ? await fetchOrExplain(() =>
          fetchCollateralForQuote(tdQuote, {
            urls: flags.pccs ?? [],
            now,
            ...(anchors ? { trustAnchors: anchors } : {}),
          }),
        )
      : ({} as Collateral);
  }
  const result = verifyAzTdxVtpm(text, collateral, { now, verifier, ...(nonce ? { nonce } : {}) });
  const appraisal = result.ok ? appraise(result, policy, { now }) : null;
  if (flags.json) {
    writeJson({
      ...verifyJson(result, appraisal, appraisal ? policySource : null),
      tee: result.tee,
      evidenceVersion: result.evidenceVersion,
      nonce: result.nonce,
      pcrs: pcrsJson(result),
    });
  } else {
    printHuman(result, appraisal, policySource);
    if (result.evidenceVersion !== null) {
      const lines = [`az-tdx-vtpm evidence v${result.evidenceVersion}, TPM nonce ${result.nonce ?? "-"}`];
      if (result.pcrs.length > 0) {
        lines.push(
          result.ok ? "PCRs (covered by the verified TPM quote):" : "PCRs (as supplied; not verified):",
        );
        for (const [k, v] of Object.entries(pcrsJson(result))) lines.push(`  ${k} ${v}`);
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    }
  }
  process.exitCode = exitCodeOf(result, appraisal);
}
