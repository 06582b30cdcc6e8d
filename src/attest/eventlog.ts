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
}

/** Replay a CCEL/AAEL/runtime log against the quote's RTMRs; a log that does not parse is a mismatch. */
export function replayEvidenceLog(log: Uint8Array, quote: Quote): EventLogOutcome {
  try {
    const report = replayEventLog(log, { expected: quote });
    const events = report.logs.reduce((n, l) => n + l.extended, 0);
    const out: EventLogOutcome = { replayed: true, matches: report.ok === true, events };
    if (report.firstDivergence) out.detail = report.firstDivergence.message;
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
