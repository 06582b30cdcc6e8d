import type { TdxEvidence } from "../attest/index.js";
import { TdxError } from "../errors.js";

export type { EvidenceVerifier, TdxEvidence } from "../attest/index.js";

/** One reason a rule refused: what rule, what it wanted, what it saw, in words. */
export interface PolicyDenial {
  rule: string;
  expected: unknown;
  actual: unknown;
  message: string;
}

/**
 * Unwrap `tee-evidence`: the 0.3+/0.4 composite form {primary_evidence, additional_evidence} or the bare
 * primary evidence (either may come as JSON text). Returns the primary evidence and the
 * additional-evidence string that takes part in the runtime-data binding.
 */
export function readCompositeEvidence(teeEvidence: unknown): {
  primary: unknown;
  additionalEvidence: string;
} {
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
    // Trustee parses non-empty device evidence as a {tee: evidence} map and refuses the attestation when it
    // is not one (kbs/src/attestation/mod.rs __attest); what it holds is not appraised here (the token says
    // additional_evidence_verified: false), but text that is no such map is refused as Trustee refuses it.
    if (additionalEvidence !== "") {
      const map = parseJsonField(additionalEvidence, "tee-evidence.additional_evidence");
      if (!isObject(map))
        throw invalid(
          "tee-evidence.additional_evidence",
          "additional_evidence is not a JSON object of device evidence by TEE name",
          'send "" when there is no device evidence, else {"<tee>": <evidence>, ...} as JSON text',
        );
    }
    primary = primary.primary_evidence;
    if (typeof primary === "string") primary = parseJsonField(primary, "tee-evidence.primary_evidence");
  }
  return { primary, additionalEvidence };
}

/**
 * Read `tee-evidence` for tee `tdx` (composite or the bare TDX evidence object {quote, cc_eventlog}).
 * Returns the TDX evidence and the additional-evidence string.
 */
export function readTeeEvidence(teeEvidence: unknown): { evidence: TdxEvidence; additionalEvidence: string } {
  const { primary, additionalEvidence } = readCompositeEvidence(teeEvidence);
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
  const evidence: TdxEvidence = { tee: "tdx", quote };
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
