/** Names shared by the event-log parsers, replay and the CLI. */

export const RTMR_NAMES = ["RTMR0", "RTMR1", "RTMR2", "RTMR3"] as const;
export type RtmrName = (typeof RTMR_NAMES)[number];

export type EventLogFormat = "tcg" | "dstack" | "runtime";

/**
 * Named, opt-in workarounds for known firmware and tooling defects. None is on by default: each one
 * makes the parser accept something the specification forbids, so a verifier should enable only what
 * its platforms need, and every use is reported in the result (`quirksApplied`).
 */
export const EVENT_LOG_QUIRKS = {
  "missing-spec-id":
    "the log starts directly with TCG_PCR_EVENT2 records (no TCG_PCClientPCREvent Spec ID header, as some " +
    "exporters strip it): assume the TDX algorithm table, SHA-384 (0x000C) with 48-byte digests",
  "invalid-mr-index":
    "events whose CC MR index is not 1..4 (0xFFFFFFFF seen on GCE C3, or extend-type events at MR 0 = MRTD, " +
    "which firmware cannot extend) are shown but not replayed, instead of failing",
  "trailing-garbage":
    "bytes after the end-of-log marker that are neither 0xFF nor 0x00 padding (stale memory in the log area) " +
    "are ignored instead of failing",
  "event-size-overrun":
    "the last event's EventSize runs past the end of the log buffer (firmware wrote a wrong size, or the log " +
    "was cut): its digests are complete so it is replayed, and its event data is kept truncated",
  "missing-exit-boot-services":
    "a log captured before ExitBootServices (by a UEFI application) lacks the EV_EFI_ACTION events " +
    '"Exit Boot Services Invocation" / "... Returned with Success|Failure" that firmware extends into RTMR1 ' +
    "afterwards: when RTMR1 does not match, try the log with them appended",
} as const;
export type EventLogQuirk = keyof typeof EVENT_LOG_QUIRKS;
export const EVENT_LOG_QUIRK_NAMES = Object.keys(EVENT_LOG_QUIRKS) as EventLogQuirk[];

export interface QuirkUse {
  quirk: EventLogQuirk;
  /** Byte offset in a binary log where it applied, when there is one. */
  offset?: number;
  detail: string;
}

/**
 * One event as replay sees it, whatever log format it came from.
 * `rtmr` is the register the event extends (0..3), or null when it is not extended (with `skipped` saying why).
 */
export interface MeasuredEvent {
  format: EventLogFormat;
  /** Position of the event in its log (TCG: 0 is the Spec ID header). */
  index: number;
  /** Byte offset of the record in a binary log. */
  offset?: number;
  /** CC measurement-register index as logged (TCG only; 1..4 = RTMR0..3). */
  mrIndex?: number;
  rtmr: number | null;
  /** Event type number (TCG/dstack), null for tdx-attest runtime events. */
  type: number | null;
  typeName: string;
  /** Runtime/dstack event name. */
  name?: string;
  /** SHA-384 digest extended, null when the event carries none. */
  digest: Uint8Array | null;
  skipped?: string;
}
