import type { ErrorTable } from "../errors.js";

/** Error codes of eventlog/: CCEL, TCG crypto-agile, dstack and runtime event logs, RTMR replay. */
export const EVENTLOG_ERRORS = {
  BAD_HEX: { doc: "an event log hex field is not hex", page: "eventlog.md" },
  BAD_HEX_LENGTH: { doc: "an event log hex field has the wrong number of bytes", page: "eventlog.md" },
  CCEL_BAD_CHECKSUM: { doc: "the ACPI CCEL table's bytes do not sum to 0 mod 256", page: "eventlog.md" },
  CCEL_BAD_LENGTH: {
    doc: "the ACPI CCEL table's declared length is under 56 or not its size",
    page: "eventlog.md",
  },
  CCEL_BAD_SIGNATURE: { doc: 'the ACPI table\'s signature is not "CCEL"', page: "eventlog.md" },
  CCEL_NOT_TDX: {
    doc: "the CCEL table is for another confidential-computing type than Intel TDX (2)",
    page: "eventlog.md",
  },
  CCEL_TRUNCATED: { doc: "the CCEL table is shorter than 56 bytes", page: "eventlog.md" },
  DSTACK_LOG_BAD_EVENT: {
    doc: "a dstack event lacks a field or has one of the wrong type (its index is named)",
    page: "eventlog.md",
  },
  DSTACK_LOG_BAD_FORMAT: {
    doc: "not a dstack event log (no event array, no event_log field)",
    page: "eventlog.md",
  },
  DSTACK_LOG_BAD_JSON: {
    doc: "the dstack event log (or its event_log string) is not JSON",
    page: "eventlog.md",
  },
  DSTACK_LOG_DIGEST_MISMATCH: {
    doc: "a dstack runtime event's digest matches no dstack rule for its name and payload",
    page: "eventlog.md",
  },
  EVENTLOG_BAD_DIGEST_COUNT: {
    doc: "an event declares no digests, or more than the Spec ID has algorithms",
    page: "eventlog.md",
  },
  EVENTLOG_BAD_EXPECTED: { doc: "the expected registers are not four 48-byte values", page: "eventlog.md" },
  EVENTLOG_BAD_MR_INDEX: {
    doc: "an extended event at MR index 0 or above 4 (quirk invalid-mr-index)",
    page: "eventlog.md",
  },
  EVENTLOG_BAD_SPEC_ID: {
    doc: "a malformed Spec ID event (algorithm count, digest sizes, vendor info)",
    page: "eventlog.md",
  },
  EVENTLOG_DUPLICATE_DIGEST: { doc: "an event carries two digests of one algorithm", page: "eventlog.md" },
  EVENTLOG_EMPTY: {
    doc: "the event log is empty or all padding (often: the 56-byte CCEL table given instead of the log data)",
    page: "eventlog.md",
  },
  EVENTLOG_EXCEEDS_LAML: {
    doc: "the events run past the CCEL table's Log Area Minimum Length",
    page: "eventlog.md",
  },
  EVENTLOG_IS_CCEL_TABLE: { doc: "the ACPI CCEL table was given as the event log", page: "eventlog.md" },
  EVENTLOG_NONE: { doc: "no event log (or no reference log) was given", page: "eventlog.md" },
  EVENTLOG_NO_SHA384: {
    doc: "an event has no SHA-384 digest, so it cannot extend an RTMR",
    page: "eventlog.md",
  },
  EVENTLOG_NO_SHA384_BANK: { doc: "the log's Spec ID declares no SHA-384 bank", page: "eventlog.md" },
  EVENTLOG_NO_SPEC_ID: {
    doc: "the log does not start with a Spec ID Event03 header (quirk missing-spec-id)",
    page: "eventlog.md",
  },
  EVENTLOG_QUOTE_NOT_TDX: {
    doc: "the log was replayed against an SGX quote, which has no RTMRs",
    page: "eventlog.md",
  },
  EVENTLOG_TRAILING_DATA: {
    doc: "non-padding bytes follow the end of the log (quirk trailing-garbage)",
    page: "eventlog.md",
  },
  EVENTLOG_TRUNCATED: {
    doc: "the log ends inside a record (offset and field named; quirk event-size-overrun for the last event's data)",
    page: "eventlog.md",
  },
  EVENTLOG_UNKNOWN_ALGORITHM: {
    doc: "an event has a digest of an algorithm its Spec ID does not declare",
    page: "eventlog.md",
  },
  RUNTIME_EVENT_BAD_DATA: {
    doc: "a runtime event's data is not text or bytes, has unpaired surrogates, or is too large",
    page: "eventlog.md",
  },
  RUNTIME_EVENT_BAD_NAME: {
    doc: "a runtime event's name is not 1-128 characters of A-Z a-z 0-9 . _ : @ / + - starting with a letter or digit",
    page: "eventlog.md",
  },
  RUNTIME_EVENT_BAD_RTMR: { doc: "a runtime event's RTMR index is not 0..3", page: "eventlog.md" },
  RUNTIME_EVENT_BAD_TIME: { doc: "a runtime event's time is not a valid date", page: "eventlog.md" },
  RUNTIME_LOG_BAD_ENTRY: {
    doc: "a runtime log entry lacks a field or has one of the wrong type",
    page: "eventlog.md",
  },
  RUNTIME_LOG_BAD_FORMAT: {
    doc: "not a tdx-attest runtime log (not an object, another format, no events)",
    page: "eventlog.md",
  },
  RUNTIME_LOG_BAD_JSON: { doc: "the runtime log is not JSON", page: "eventlog.md" },
  RUNTIME_LOG_DIGEST_MISMATCH: {
    doc: "a runtime log entry's digest does not match its data: the log was edited",
    page: "eventlog.md",
  },
  RUNTIME_LOG_UNSUPPORTED_VERSION: {
    doc: "the runtime log's version is not one this version reads",
    page: "eventlog.md",
  },
} as const satisfies ErrorTable;
