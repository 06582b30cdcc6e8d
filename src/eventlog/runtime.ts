/**
 * tdx-attest's own runtime event log: a versioned JSON document recording every RTMR extend made from
 * user space (normally RTMR3) with what was measured and why, so a relying party can replay it.
 *
 * Digest rule (what is extended into the register, 48 bytes):
 *   SHA-384( "tdx-attest.runtime-event.v1" || 0x00 || u32le(len(name)) || name || u32le(len(data)) || data )
 * where name is the event name in UTF-8 and data the measured bytes (UTF-8 when given as text).
 * Length prefixes make the encoding unambiguous (no name/data split can collide), and the domain string
 * keeps these digests apart from any other use of SHA-384 over the same bytes.
 *
 * This file is the format only (pure: no files, no clock unless given); reading, locking and appending the
 * log file is the guest's edge, src/guest/runtime-log-file.ts.
 */
import { asTdxError, TdxError } from "../errors.js";
import { hex, sha384, unhex, utf8 } from "./bytes.js";

export const RUNTIME_LOG_FORMAT = "tdx-attest.runtime-log";
export const RUNTIME_LOG_VERSION = 1;
export const RUNTIME_EVENT_DOMAIN = "tdx-attest.runtime-event.v1";
/** Largest data recorded inline; bigger things should be hashed first and the hash measured. */
export const RUNTIME_EVENT_MAX_DATA = 1024 * 1024;
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const EVENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$/;

export interface RuntimeEventInput {
  /** RTMR index 0..3 (3 is the register left to user space; 0..2 hold firmware/boot measurements). */
  rtmr: number;
  /** Event name: 1..128 of A-Z a-z 0-9 . _ : @ / + - (starting with a letter or digit). */
  event: string;
  /** The measured bytes; text is measured as its UTF-8 encoding. */
  data: Uint8Array | string;
  /** Free text saying what the data is (kept next to the entry, not measured). */
  description?: string;
  /** Keep the data in the log (default true). False records only the digest and the description. */
  recordData?: boolean;
}

export interface RuntimeLogEntry {
  /** Position in the log, from 0. */
  seq: number;
  rtmr: number;
  event: string;
  /** Hex SHA-384 extended into the register (see runtimeEventDigest). */
  digest: string;
  /** The measured data: text when `encoding` is "utf8", hex when "hex". Absent when not recorded. */
  data?: string;
  encoding?: "utf8" | "hex";
  description?: string;
  /** ISO-8601 time of the append (informational: not measured). */
  time: string;
}

export interface RuntimeLog {
  format: typeof RUNTIME_LOG_FORMAT;
  version: typeof RUNTIME_LOG_VERSION;
  events: RuntimeLogEntry[];
}

function checkRtmr(rtmr: unknown, field: string): number {
  if (typeof rtmr !== "number" || !Number.isInteger(rtmr) || rtmr < 0 || rtmr > 3) {
    throw new TdxError("RUNTIME_EVENT_BAD_RTMR", `${field} must be an RTMR index 0..3, got ${String(rtmr)}`, {
      field,
      hint: "runtime events normally go to RTMR 3; RTMR 0-2 hold firmware and boot measurements",
    });
  }
  return rtmr;
}

function checkEventName(event: unknown, field: string): string {
  if (typeof event !== "string" || !EVENT_NAME_RE.test(event)) {
    throw new TdxError(
      "RUNTIME_EVENT_BAD_NAME",
      `${field} is not a valid event name: ${JSON.stringify(event)}`,
      {
        field,
        hint: "use 1-128 characters from A-Z a-z 0-9 . _ : @ / + -, starting with a letter or digit",
      },
    );
  }
  return event;
}

function dataBytes(data: unknown, field: string): Uint8Array {
  let bytes: Uint8Array;
  if (typeof data === "string") {
    if (LONE_SURROGATE_RE.test(data)) {
      throw new TdxError("RUNTIME_EVENT_BAD_DATA", `${field} contains unpaired UTF-16 surrogates`, {
        field,
        hint: "pass well-formed text, or the bytes themselves",
      });
    }
    bytes = utf8(data);
  } else if (data instanceof Uint8Array) {
    bytes = data;
  } else {
    throw new TdxError("RUNTIME_EVENT_BAD_DATA", `${field} must be text or bytes`, {
      field,
      hint: "pass a string (measured as UTF-8) or a Uint8Array",
    });
  }
  if (bytes.length > RUNTIME_EVENT_MAX_DATA) {
    throw new TdxError(
      "RUNTIME_EVENT_BAD_DATA",
      `${field} is ${bytes.length} bytes (max ${RUNTIME_EVENT_MAX_DATA})`,
      {
        field,
        hint: "hash large content first (e.g. sha384 of a file) and measure the hash with a description",
      },
    );
  }
  return bytes;
}

/** The 48-byte digest extended into the RTMR for a runtime event (see the module comment for the rule). */
export function runtimeEventDigest(event: string, data: Uint8Array | string): Uint8Array {
  const name = utf8(checkEventName(event, "event"));
  const body = dataBytes(data, "data");
  const lengths = new Uint8Array(8);
  const view = new DataView(lengths.buffer);
  view.setUint32(0, name.length, true);
  view.setUint32(4, body.length, true);
  return sha384(
    utf8(RUNTIME_EVENT_DOMAIN),
    Uint8Array.of(0),
    lengths.subarray(0, 4),
    name,
    lengths.subarray(4, 8),
    body,
  );
}

/** Builds the log entry for an input (pure; `seq` and `time` supplied by the caller). */
export function makeRuntimeLogEntry(input: RuntimeEventInput, seq: number, time: Date): RuntimeLogEntry {
  const rtmr = checkRtmr(input.rtmr, "rtmr");
  const event = checkEventName(input.event, "event");
  const data = dataBytes(input.data, "data");
  if (input.description !== undefined && typeof input.description !== "string") {
    throw new TdxError("RUNTIME_EVENT_BAD_DATA", "description must be text", { field: "description" });
  }
  if (Number.isNaN(time.getTime())) {
    throw new TdxError("RUNTIME_EVENT_BAD_TIME", "time is not a valid date", { field: "time" });
  }
  const entry: RuntimeLogEntry = {
    seq,
    rtmr,
    event,
    digest: hex(runtimeEventDigest(event, data)),
    time: time.toISOString(),
  };
  if (input.recordData !== false) {
    if (typeof input.data === "string") {
      entry.data = input.data;
      entry.encoding = "utf8";
    } else {
      entry.data = hex(data);
      entry.encoding = "hex";
    }
  }
  if (input.description !== undefined) entry.description = input.description;
  return entry;
}

function entryError(i: number, field: string, message: string, hint?: string): TdxError {
  return new TdxError("RUNTIME_LOG_BAD_ENTRY", `runtime log event ${i}: ${message}`, {
    field: `events[${i}].${field}`,
    hint: hint ?? "the runtime log was edited or corrupted; restore it from the TD or recreate the TD",
  });
}

/** Decodes the recorded data of an entry (null when the entry keeps only the digest). */
export function runtimeEntryData(entry: RuntimeLogEntry): Uint8Array | null {
  if (entry.data === undefined) return null;
  return entry.encoding === "hex" ? unhex(entry.data, "data") : utf8(entry.data);
}

/**
 * Parses and checks a runtime log document (pure). Every entry with recorded data must carry the digest
 * that data produces; entries without data are accepted on their digest alone (replay still binds them).
 */
export function parseRuntimeLog(text: string): RuntimeLog {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw asTdxError(e, "RUNTIME_LOG_BAD_JSON", "runtime log is not valid JSON", {
      hint: "a runtime log is a JSON document written by tdx-attest extend / appendRuntimeEvent",
    });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new TdxError("RUNTIME_LOG_BAD_FORMAT", "runtime log must be a JSON object", {
      hint: `expected {"format":"${RUNTIME_LOG_FORMAT}","version":1,"events":[...]}`,
    });
  }
  const d = doc as Record<string, unknown>;
  if (d.format !== RUNTIME_LOG_FORMAT) {
    throw new TdxError(
      "RUNTIME_LOG_BAD_FORMAT",
      `not a tdx-attest runtime log (format ${JSON.stringify(d.format)})`,
      {
        field: "format",
        hint: `expected "format": "${RUNTIME_LOG_FORMAT}"; for dstack or TCG logs use --format dstack|tcg`,
      },
    );
  }
  if (d.version !== RUNTIME_LOG_VERSION) {
    throw new TdxError(
      "RUNTIME_LOG_UNSUPPORTED_VERSION",
      `runtime log version ${String(d.version)} is not supported`,
      {
        field: "version",
        hint: `this tdx-attest reads version ${RUNTIME_LOG_VERSION}; upgrade tdx-attest to read newer logs`,
      },
    );
  }
  if (!Array.isArray(d.events)) {
    throw new TdxError("RUNTIME_LOG_BAD_FORMAT", "runtime log has no events array", { field: "events" });
  }
  const events: RuntimeLogEntry[] = d.events.map((raw: unknown, i: number) => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw entryError(i, "", "not an object");
    const r = raw as Record<string, unknown>;
    if (r.seq !== i) throw entryError(i, "seq", `seq is ${String(r.seq)}, expected ${i}`);
    const rtmr = checkRtmr(r.rtmr, `events[${i}].rtmr`);
    const event = checkEventName(r.event, `events[${i}].event`);
    if (typeof r.digest !== "string" || !/^[0-9a-f]{96}$/.test(r.digest)) {
      throw entryError(i, "digest", "digest must be 96 lowercase hex digits (SHA-384)");
    }
    if (typeof r.time !== "string" || Number.isNaN(Date.parse(r.time))) {
      throw entryError(i, "time", "time must be an ISO-8601 string");
    }
    const entry: RuntimeLogEntry = { seq: i, rtmr, event, digest: r.digest, time: r.time };
    if (r.description !== undefined) {
      if (typeof r.description !== "string") throw entryError(i, "description", "description must be text");
      entry.description = r.description;
    }
    if (r.data !== undefined) {
      if (typeof r.data !== "string") throw entryError(i, "data", "data must be a string");
      if (r.encoding !== "utf8" && r.encoding !== "hex") {
        throw entryError(
          i,
          "encoding",
          `encoding must be "utf8" or "hex", got ${JSON.stringify(r.encoding)}`,
        );
      }
      entry.data = r.data;
      entry.encoding = r.encoding;
      let bytes: Uint8Array;
      try {
        bytes = runtimeEntryData(entry) as Uint8Array;
      } catch {
        throw entryError(i, "data", "data is not valid hex");
      }
      if (hex(runtimeEventDigest(event, bytes)) !== entry.digest) {
        throw new TdxError(
          "RUNTIME_LOG_DIGEST_MISMATCH",
          `runtime log event ${i} (${event}): recorded digest does not match its data`,
          {
            field: `events[${i}].digest`,
            hint: "the entry's data or digest was altered after it was measured; do not trust this log",
            data: { expected: hex(runtimeEventDigest(event, bytes)), recorded: entry.digest },
          },
        );
      }
    } else if (r.encoding !== undefined) {
      throw entryError(i, "encoding", "encoding given without data");
    }
    return entry;
  });
  return { format: RUNTIME_LOG_FORMAT, version: RUNTIME_LOG_VERSION, events };
}

export function emptyRuntimeLog(): RuntimeLog {
  return { format: RUNTIME_LOG_FORMAT, version: RUNTIME_LOG_VERSION, events: [] };
}

export function serializeRuntimeLog(log: RuntimeLog): string {
  return `${JSON.stringify(log, null, 2)}\n`;
}
