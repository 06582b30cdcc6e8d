import { createHash } from "node:crypto";
import { parseQuote } from "../abi/index.js";
import type { Quote, TdReportBody } from "../abi/types.js";
import { TdxError } from "../errors.js";

/** TDX evidence as a TD sends it: the quote (configfs-tsm outblob) and, optionally, its event log. */
export interface TdxEvidence {
  tee: "tdx";
  quote: Uint8Array;
  /** CCEL (+ attestation-agent events) or a tdx-attest runtime log, as bytes. */
  ccEventlog?: Uint8Array;
}

/** The evidence parsed once: every later step (binding, verification, appraisal, claims) reads this. */
export interface ParsedTdxEvidence {
  tee: "tdx";
  quote: Quote;
  /** The TD report body (a TD quote always has one: SGX quotes are refused while parsing). */
  report: TdReportBody;
  /** Bytes of the quote structure, up to the end of its signature data: what verification covers. */
  verifiedLength: number;
  /** Bytes after the quote structure (real quotes carry padding); not verified, not hashed. */
  trailingBytes: number;
  /** SHA-256 of the verified bytes (trailing bytes excluded), hex: the evidence's name in the audit log. */
  evidenceSha256: string;
  ccEventlog?: Uint8Array;
}

/**
 * Parse a TD quote once. An SGX enclave quote is refused here, the one place that refuses it
 * (ATTEST_NOT_TD_QUOTE); bytes that do not parse keep the quote parser's code (QUOTE_*) and offset.
 */
export function parseTdxEvidence(evidence: TdxEvidence): ParsedTdxEvidence {
  const quote = parseQuote(evidence.quote);
  if (quote.body.kind === "sgx")
    throw new TdxError("ATTEST_NOT_TD_QUOTE", "the quote is an SGX enclave quote, not a TD quote", {
      field: "quote.header.teeType",
      hint: "send the TD quote (version 4 or 5, TEE type 0x81) from configfs-tsm or the QGS",
    });
  const verifiedLength = quote.signatureDataOffset + quote.signatureDataLength;
  const out: ParsedTdxEvidence = {
    tee: "tdx",
    quote,
    report: quote.body.report,
    verifiedLength,
    trailingBytes: quote.trailing.length,
    evidenceSha256: createHash("sha256").update(quote.bytes.subarray(0, verifiedLength)).digest("hex"),
  };
  if (evidence.ccEventlog) out.ccEventlog = evidence.ccEventlog;
  return out;
}
