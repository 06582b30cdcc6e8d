/**
 * dstack (Phala) JSON event logs: an array of
 *   { imr (0-based RTMR), event_type, digest (hex SHA-384, may be ""), event (name), event_payload (hex) }
 * given bare, or inside an object as `event_log` (a JSON string or an array) next to `quote`.
 * dstack runtime events (type 0x08000001) are bound by their digest:
 *   V1: SHA-384( u32le(0x08000001) || ":" || name || ":" || payload )
 *   V2: SHA-384( JCS({"event": name, "event_type": 134217729, "payload": hex(payload), "version": 2}) )
 *   V2 (other form, "v2-name-type"): SHA-384( JCS({"name": name, "payload": hex(payload), "type": 134217729}) )
 * dstack's sources carry both V2 forms at different commits (cc-eventlog runtime_events.rs / tdx.rs), so a
 * given digest may satisfy any of the three; a stripped V2 digest is recomputed from `hash_input` (the
 * preimage, hex) when present and equal to one of the V2 texts, else with the current form.
 * Stripped logs omit runtime digests (recomputed here) and boot payloads (the boot digest is replayed).
 */
import { asTdxError, TdxError } from "../errors.js";
import { hex, sha384, unhex, utf8 } from "./bytes.js";
import { EV_NO_ACTION, eventTypeName } from "./tcg.js";

export const DSTACK_RUNTIME_EVENT_TYPE = 0x08000001;

export interface DstackEvent {
  index: number;
  imr: number;
  eventType: number;
  typeName: string;
  /** The SHA-384 replayed (given, or recomputed for a runtime event whose digest was stripped). */
  digest: Uint8Array;
  /** "given" as logged, "recomputed" for stripped runtime digests. */
  digestSource: "given" | "recomputed";
  /** For runtime events: which dstack digest rule the digest satisfies. */
  digestRule?: "v1" | "v2" | "v2-name-type";
  event: string;
  payload: Uint8Array;
}

export interface DstackLog {
  format: "dstack";
  events: DstackEvent[];
  /** The quote shipped next to the log (hex decoded), when the document has one. */
  quote?: Uint8Array;
}

export function dstackRuntimeDigestV1(name: string, payload: Uint8Array): Uint8Array {
  const type = new Uint8Array(4);
  new DataView(type.buffer).setUint32(0, DSTACK_RUNTIME_EVENT_TYPE, true);
  return sha384(type, utf8(":"), utf8(name), utf8(":"), payload);
}

/** The RFC 8785 (JCS) text hashed by dstack's V2 rule. */
export function dstackRuntimeDigestInputV2(name: string, payload: Uint8Array): string {
  // Keys in code-unit order, no whitespace; JSON.stringify escapes strings exactly as JCS requires.
  return `{"event":${JSON.stringify(name)},"event_type":${DSTACK_RUNTIME_EVENT_TYPE},"payload":"${hex(payload)}","version":2}`;
}

export function dstackRuntimeDigestV2(name: string, payload: Uint8Array): Uint8Array {
  return sha384(utf8(dstackRuntimeDigestInputV2(name, payload)));
}

/** The JCS text of dstack's other V2 form (`{"name","payload","type"}`, no version key). */
export function dstackRuntimeDigestInputV2NameType(name: string, payload: Uint8Array): string {
  return `{"name":${JSON.stringify(name)},"payload":"${hex(payload)}","type":${DSTACK_RUNTIME_EVENT_TYPE}}`;
}

function isVersion2(v: unknown): boolean {
  return v === 2 || v === "2" || v === "v2" || v === "V2";
}

function bad(i: number, field: string, message: string, hint?: string): TdxError {
  return new TdxError("DSTACK_LOG_BAD_EVENT", `dstack event ${i}: ${message}`, {
    field: `event_log[${i}].${field}`,
    hint:
      hint ??
      'each event needs imr 0..3, event_type (u32), digest (96 hex or ""), event, event_payload (hex)',
  });
}

function eventsFromDocument(doc: unknown): { list: unknown[]; quote?: Uint8Array } {
  if (Array.isArray(doc)) return { list: doc };
  if (typeof doc === "object" && doc !== null && "event_log" in doc) {
    const d = doc as Record<string, unknown>;
    let list: unknown = d.event_log;
    if (typeof list === "string") {
      try {
        list = JSON.parse(list);
      } catch (e) {
        throw asTdxError(e, "DSTACK_LOG_BAD_JSON", "event_log is a string but not JSON", {
          field: "event_log",
        });
      }
    }
    if (!Array.isArray(list)) {
      throw new TdxError("DSTACK_LOG_BAD_FORMAT", "event_log is not an array", {
        field: "event_log",
        hint: "dstack's event_log is an array of events (or a JSON string holding one)",
      });
    }
    const out: { list: unknown[]; quote?: Uint8Array } = { list };
    if (typeof d.quote === "string" && d.quote.length > 0) out.quote = unhex(d.quote, "quote");
    return out;
  }
  throw new TdxError("DSTACK_LOG_BAD_FORMAT", "not a dstack event log (no event array, no event_log field)", {
    hint: "give the dstack event log array, or the GetQuote/verifier JSON holding event_log",
  });
}

/** Parses a dstack JSON event log (pure). */
export function parseDstackLog(text: string): DstackLog {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw asTdxError(e, "DSTACK_LOG_BAD_JSON", "dstack event log is not valid JSON", {
      hint: "give the JSON text of the event log",
    });
  }
  const { list, quote } = eventsFromDocument(doc);
  const events = list.map((raw, i): DstackEvent => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad(i, "", "not an object");
    const r = raw as Record<string, unknown>;
    const imr = r.imr;
    if (typeof imr !== "number" || !Number.isInteger(imr) || imr < 0 || imr > 3) {
      throw bad(i, "imr", `imr must be 0..3, got ${JSON.stringify(imr)}`);
    }
    const type = r.event_type;
    if (typeof type !== "number" || !Number.isInteger(type) || type < 0 || type > 0xffffffff) {
      throw bad(i, "event_type", `event_type must be a u32, got ${JSON.stringify(type)}`);
    }
    const name = r.event ?? "";
    if (typeof name !== "string") throw bad(i, "event", "event must be a string");
    const payloadHex = r.event_payload ?? "";
    if (typeof payloadHex !== "string") throw bad(i, "event_payload", "event_payload must be a hex string");
    let payload: Uint8Array;
    try {
      payload = unhex(payloadHex, `event_log[${i}].event_payload`);
    } catch {
      throw bad(i, "event_payload", "event_payload is not hex");
    }
    const digestHex = r.digest ?? "";
    if (typeof digestHex !== "string" || (digestHex !== "" && !/^[0-9a-fA-F]{96}$/.test(digestHex))) {
      throw bad(i, "digest", "digest must be 96 hex digits (SHA-384) or empty");
    }
    const base = { index: i, imr, eventType: type, typeName: eventTypeName(type), event: name, payload };
    if (type === DSTACK_RUNTIME_EVENT_TYPE) {
      const v1 = dstackRuntimeDigestV1(name, payload);
      const v2Text = dstackRuntimeDigestInputV2(name, payload);
      const nameTypeText = dstackRuntimeDigestInputV2NameType(name, payload);
      const v2 = sha384(utf8(v2Text));
      const nameType = sha384(utf8(nameTypeText));
      if (digestHex === "") {
        if (!isVersion2(r.version))
          return { ...base, digest: v1, digestSource: "recomputed", digestRule: "v1" };
        const preimage = typeof r.hash_input === "string" ? r.hash_input.toLowerCase() : null;
        const useNameType = preimage !== null && preimage === hex(utf8(nameTypeText));
        return {
          ...base,
          digest: useNameType ? nameType : v2,
          digestSource: "recomputed",
          digestRule: useNameType ? "v2-name-type" : "v2",
        };
      }
      const given = digestHex.toLowerCase();
      if (given === hex(v1)) return { ...base, digest: v1, digestSource: "given", digestRule: "v1" };
      if (given === hex(v2)) return { ...base, digest: v2, digestSource: "given", digestRule: "v2" };
      if (given === hex(nameType))
        return { ...base, digest: nameType, digestSource: "given", digestRule: "v2-name-type" };
      throw new TdxError(
        "DSTACK_LOG_DIGEST_MISMATCH",
        `dstack runtime event ${i} (${name}): digest matches no dstack rule for its name and payload`,
        {
          field: `event_log[${i}].digest`,
          hint: "the event's name, payload or digest was altered; do not trust this log",
          data: { given, v1: hex(v1), v2: hex(v2), v2NameType: hex(nameType) },
        },
      );
    }
    if (digestHex === "") {
      throw bad(
        i,
        "digest",
        "boot event has no digest",
        "boot events can only be replayed from their logged digest",
      );
    }
    return { ...base, digest: unhex(digestHex, "digest"), digestSource: "given" };
  });
  const out: DstackLog = { format: "dstack", events };
  if (quote) out.quote = quote;
  return out;
}

/** Whether a dstack event is extended (EV_NO_ACTION never is). */
export function dstackEventExtends(e: DstackEvent): boolean {
  return e.eventType !== EV_NO_ACTION;
}
