import type { Quote } from "../abi/types.js";
import { TdxError } from "../errors.js";
import { replayEventLog } from "../eventlog/index.js";

/** What replaying the event log that came with the evidence showed (recorded in the token as tdx.event_log). */
export interface EventLogOutcome {
  /** The log parsed and was replayed. */
  replayed: boolean;
  /** Every RTMR replays to the quote's value. */
  matches: boolean;
  /** Events extended into RTMRs. */
  events: number;
  /** Why not, when it does not match or could not be read. */
  detail?: string;
  /** What the replay let through that a strict reading refuses (see EVIDENCE_LOG_QUIRKS); absent when nothing. */
  quirksApplied?: { quirk: string; detail: string }[];
}

/**
 * What the evidence pipeline reads as the references read it: Trustee (deps/eventlog replay of MR 1..4 only;
 * parsing stops at the 8-byte 0xFF/0x00 stop flag), go-eventlog (replays only RTMR0..3; stops at MR index
 * 0xFFFFFFFF) and dstack (skips MR 0) all accept an event at MR 0 or above 4 and stale bytes after the end of
 * the log, and replay the rest. Each use is reported in the outcome (`quirksApplied`), never silent.
 */
export const EVIDENCE_LOG_QUIRKS = ["invalid-mr-index", "trailing-garbage"] as const;

/** Replay a CCEL/AAEL/runtime log against the quote's RTMRs; a log that does not parse is a mismatch. */
export function replayEvidenceLog(log: Uint8Array, quote: Quote): EventLogOutcome {
  try {
    const report = replayEventLog(log, { expected: quote, quirks: [...EVIDENCE_LOG_QUIRKS] });
    const events = report.logs.reduce((n, l) => n + l.extended, 0);
    const out: EventLogOutcome = { replayed: true, matches: report.ok === true, events };
    if (report.firstDivergence) out.detail = report.firstDivergence.message;
    if (report.quirksApplied.length > 0)
      out.quirksApplied = report.quirksApplied.map((q) => ({ quirk: q.quirk, detail: q.detail }));
    return out;
  } catch (e) {
    return {
      replayed: false,
      matches: false,
      events: 0,
      detail: e instanceof TdxError ? `${e.code}: ${e.message}` : String(e),
    };
  }
}
