import type { Quote } from "../abi/types.js";
import { TdxError } from "../errors.js";

/** One reason a rule refused: what rule, what it wanted, what it saw, in words. */
export interface PolicyDenial {
  rule: string;
  expected: unknown;
  actual: unknown;
  message: string;
}

/** What the evidence verifier established about a quote (before any policy). */
export interface EvidenceVerdict {
  /** The quote is genuine: signatures, certificate chain to a trusted root, QE identity, TCB matched. */
  ok: boolean;
  /** Why it is not, as stable codes with readable messages (empty when ok). */
  problems: { code: string; message: string; hint?: string }[];
  /** The parsed quote (present whenever it parsed, even when not ok). */
  quote?: Quote;
  tcbStatus?: string;
  advisoryIds: string[];
  tcbDate?: string;
  collateralExpired: boolean;
  /** Earliest nextUpdate/expiry among the collateral used (ISO 8601). */
  collateralExpiresAt?: string;
  /** Event-log replay, when an event log came with the evidence. */
  eventLog?: { replayed: boolean; matches: boolean; events: number; detail?: string };
  /** The verifier's own result object, handed to the attestation policy engine unchanged. */
  result?: unknown;
}

/** Verifies a quote (and its event log) at a given time. Pure in (quote, eventlog, now, configuration). */
export interface EvidenceVerifier {
  verify(input: { quote: Uint8Array; ccEventlog?: Uint8Array; now: Date }): Promise<EvidenceVerdict>;
  /** Collateral cache counters for /metrics, when the verifier has a cache. */
  cacheStats?(): { hits: number; misses: number };
}

/** Appraises a verdict against an attestation policy (text stored in the policies table). */
export interface AttestationPolicyEngine {
  /** Parse and validate policy text; throws TdxError when it is not a policy. */
  check(text: string): void;
  appraise(verdict: EvidenceVerdict, text: string, now: Date): { allowed: boolean; denials: PolicyDenial[] };
  /** The default policy's text (seeded as policy id "default"). */
  readonly defaultPolicyText: string;
}

/** TDX evidence as attestation-agent sends it: base64 quote and optional base64 CCEL(+AAEL) log. */
export interface TdxEvidence {
  quote: Uint8Array;
  ccEventlog?: Uint8Array;
}

/**
 * Read `tee-evidence`: the 0.3+/0.4 composite form {primary_evidence, additional_evidence} or the bare
 * TDX evidence object {quote, cc_eventlog}. Returns the TDX evidence and the additional-evidence
 * string that takes part in the REPORTDATA binding.
 */
export function readTeeEvidence(teeEvidence: unknown): { evidence: TdxEvidence; additionalEvidence: string } {
  let primary: unknown = teeEvidence;
  let additionalEvidence = "";
  if (typeof primary === "string") primary = parseJsonField(primary, "tee-evidence");
  if (isObject(primary) && "primary_evidence" in primary) {
    const extra = primary.additional_evidence;
    if (extra !== undefined && typeof extra !== "string")
      throw invalid(
        "tee-evidence.additional_evidence",
        "additional_evidence must be a JSON string",
        'send "" when there is no device evidence',
      );
    additionalEvidence = extra ?? "";
    primary = primary.primary_evidence;
    if (typeof primary === "string") primary = parseJsonField(primary, "tee-evidence.primary_evidence");
  }
  if (!isObject(primary))
    throw invalid(
      "tee-evidence",
      "tee-evidence holds no TDX evidence object",
      'send {"primary_evidence": {"quote": "<base64>"}, "additional_evidence": ""}',
    );
  const quote = decodeB64Field(primary.quote, "tee-evidence.primary_evidence.quote");
  if (quote.length === 0)
    throw invalid(
      "tee-evidence.primary_evidence.quote",
      "the quote is empty",
      "the guest got an empty outblob from configfs-tsm; retry the quote",
    );
  const log = primary.cc_eventlog;
  const evidence: TdxEvidence = { quote };
  if (log !== undefined && log !== null && log !== "")
    evidence.ccEventlog = decodeB64Field(log, "tee-evidence.primary_evidence.cc_eventlog");
  return { evidence, additionalEvidence };
}

function decodeB64Field(v: unknown, field: string): Uint8Array {
  if (typeof v !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v))
    throw invalid(field, `${field} is not base64`, "encode the bytes as standard base64");
  return new Uint8Array(Buffer.from(v.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
}

function parseJsonField(s: string, field: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    throw invalid(field, `${field} is a string that is not JSON`, "send the evidence as a JSON object");
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function invalid(field: string, message: string, hint: string): TdxError {
  return new TdxError("KBS_EVIDENCE_INVALID", message, { field, hint });
}
