/** Display records for the events of any supported log (for `eventlog show` and other viewers). */
import { hex } from "./bytes.js";
import { type DigestBinding, describeTcgEvent, digestBinding, printableText } from "./details.js";
import { formatOf, type ParsedEventLog } from "./replay.js";
import { runtimeEntryData } from "./runtime.js";
import { EV_NO_ACTION } from "./tcg.js";
import { type EventLogFormat, RTMR_NAMES } from "./types.js";

export interface EventRecord {
  index: number;
  offset?: number;
  /** "RTMR0".."RTMR3", or null when the event is not extended. */
  register: string | null;
  mrIndex?: number;
  type: number | null;
  typeName: string;
  name?: string;
  /** Digest per algorithm, hex. */
  digests: Record<string, string>;
  /** Decoded event data (byte fields as hex). */
  details: Record<string, unknown>;
  /** What the SHA-384 digest is the hash of, as far as the log shows (TCG; see digestBinding). */
  digestBinding?: DigestBinding | null;
  skipped?: string;
  time?: string;
}

export interface EventLogView {
  format: EventLogFormat;
  header?: Record<string, unknown>;
  events: EventRecord[];
}

function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return hex(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/** Readable records of every event (never throws on logs the parser accepted). */
export function viewEventLog(log: ParsedEventLog): EventLogView {
  if (log.format === "tcg") {
    return {
      format: "tcg",
      header: log.specId
        ? {
            algorithms: log.specId.algorithms.map((a) => `${a.algorithm}:${a.digestSize}`),
            specVersion: `${log.specId.specVersionMajor}.${log.specId.specVersionMinor}`,
            errata: log.specId.specErrata,
            vendorInfo: printableText(log.specId.vendorInfo) ?? hex(log.specId.vendorInfo),
            end: log.end,
            endOffset: log.endOffset,
          }
        : { specId: null, end: log.end, endOffset: log.endOffset },
      events: log.events.map((e) => {
        const rec: EventRecord = {
          index: e.index,
          offset: e.offset,
          register:
            e.type !== EV_NO_ACTION && e.mrIndex >= 1 && e.mrIndex <= 4 ? RTMR_NAMES[e.mrIndex - 1]! : null,
          mrIndex: e.mrIndex,
          type: e.type,
          typeName: e.typeName,
          digests: Object.fromEntries(e.digests.map((d) => [d.algorithm, hex(d.digest)])),
          details: plain(describeTcgEvent(e)) as Record<string, unknown>,
          digestBinding: e.specId ? null : digestBinding(e),
        };
        if (e.type === EV_NO_ACTION) rec.skipped = "EV_NO_ACTION is never extended";
        else if (rec.register === null) rec.skipped = `MR index ${e.mrIndex} is not 1..4 (RTMR0..3)`;
        return rec;
      }),
    };
  }
  if (log.format === "dstack") {
    return {
      format: "dstack",
      events: log.events.map((e) => {
        const details: Record<string, unknown> = {};
        const text = printableText(e.payload);
        if (e.payload.length > 0) details.payload = text ?? hex(e.payload);
        details.digestSource = e.digestSource;
        if (e.digestRule) details.digestRule = e.digestRule;
        const rec: EventRecord = {
          index: e.index,
          register: e.eventType === EV_NO_ACTION ? null : RTMR_NAMES[e.imr]!,
          type: e.eventType,
          typeName: e.typeName,
          digests: { sha384: hex(e.digest) },
          details,
        };
        if (e.event) rec.name = e.event;
        if (e.eventType === EV_NO_ACTION) rec.skipped = "EV_NO_ACTION is never extended";
        return rec;
      }),
    };
  }
  return {
    format: formatOf(log),
    header: { format: log.format, version: log.version },
    events: log.events.map((e) => {
      const details: Record<string, unknown> = {};
      if (e.data !== undefined) {
        const bytes = runtimeEntryData(e)!;
        details.data = e.encoding === "utf8" ? e.data : (printableText(bytes) ?? e.data);
        details.encoding = e.encoding;
      } else details.data = null;
      if (e.description !== undefined) details.description = e.description;
      return {
        index: e.seq,
        register: RTMR_NAMES[e.rtmr]!,
        type: null,
        typeName: "RUNTIME_EVENT",
        name: e.event,
        digests: { sha384: e.digest },
        details,
        time: e.time,
      };
    }),
  };
}
