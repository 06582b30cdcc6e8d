/**
 * Replay of measurement event logs into RTMR0..3 and comparison with a quote's (or TDREPORT's) registers.
 * RTMR_i starts at 48 zero bytes and each event for it does RTMR_i := SHA-384(RTMR_i || digest), in log order;
 * several logs (firmware CCEL, then runtime logs) may feed the same registers and are replayed in the order given.
 * MRTD is not replayable: the TDX module measures the initial TD memory at build time, and no event log records it.
 */
import { decodeInputBytes } from "../abi/input.js";
import type { Quote, TdReport } from "../abi/types.js";
import { TdxError } from "../errors.js";
import { bytesEqual, extendRegister, hex, MR_SIZE, sha384, unhex, utf8 } from "./bytes.js";
import { type CcelTable, type CcelTableJson, ccelTableToJson, parseCcelTable } from "./ccel.js";
import { type DstackLog, dstackEventExtends, parseDstackLog } from "./dstack.js";
import { parseRuntimeLog, RUNTIME_LOG_FORMAT, type RuntimeLog } from "./runtime.js";
import { EV_NO_ACTION, parseTcgLog, sha384DigestOf, type TcgLog, TPM_ALG_SHA384 } from "./tcg.js";
import {
  type EventLogFormat,
  type EventLogQuirk,
  type MeasuredEvent,
  type QuirkUse,
  RTMR_NAMES,
  type RtmrName,
} from "./types.js";

export type ParsedEventLog = TcgLog | DstackLog | RuntimeLog;

export interface ParseEventLogOptions {
  /** Default "auto": JSON with the tdx-attest format marker = runtime, other JSON = dstack, binary = TCG. */
  format?: "auto" | EventLogFormat;
  quirks?: readonly EventLogQuirk[];
}

function isJsonText(bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0xef || b === 0xbb || b === 0xbf)
      continue;
    return b === 0x7b || b === 0x5b;
  }
  return false;
}

function formatOfJson(text: string): EventLogFormat {
  try {
    const doc = JSON.parse(text) as unknown;
    if (
      typeof doc === "object" &&
      doc !== null &&
      (doc as Record<string, unknown>).format === RUNTIME_LOG_FORMAT
    ) {
      return "runtime";
    }
  } catch {
    // Let the format's own parser report the JSON error with its hint.
  }
  return "dstack";
}

/** Parses a log of any supported format from raw bytes or text (hex/base64 text of a binary log is accepted). */
export function parseEventLog(
  input: Uint8Array | string,
  options: ParseEventLogOptions = {},
): ParsedEventLog {
  const format = options.format ?? "auto";
  let bytes: Uint8Array | null = typeof input === "string" ? null : input;
  let text: string | null = typeof input === "string" ? input : null;
  const looksJson = text !== null ? /^\s*[[{]/.test(text) : isJsonText(bytes!);
  if (looksJson && text === null) text = new TextDecoder().decode(bytes!).replace(/^\uFEFF/, "");
  let chosen: EventLogFormat;
  if (format === "auto") chosen = looksJson ? formatOfJson(text!) : "tcg";
  else chosen = format;
  if (chosen === "runtime" || chosen === "dstack") {
    if (text === null) text = new TextDecoder().decode(bytes!);
    return chosen === "runtime" ? parseRuntimeLog(text) : parseDstackLog(text);
  }
  // Hex or base64 text of a binary log (a file or a JSON field) is decoded; real binary passes through.
  bytes = decodeInputBytes(bytes ?? text!).bytes;
  if (bytes.length >= 4 && bytes[0] === 0x43 && bytes[1] === 0x43 && bytes[2] === 0x45 && bytes[3] === 0x4c) {
    throw new TdxError(
      "EVENTLOG_IS_CCEL_TABLE",
      "this is the ACPI CCEL table, not the event log it points to",
      {
        offset: 0,
        hint: "give the log data (/sys/firmware/acpi/tables/data/CCEL) as LOG and the table with --ccel",
      },
    );
  }
  return parseTcgLog(bytes, { quirks: options.quirks ?? [] });
}

/** The short format name of a parsed log. */
export function formatOf(log: ParsedEventLog): EventLogFormat {
  return log.format === RUNTIME_LOG_FORMAT ? "runtime" : log.format;
}

/** The events of a parsed log as replay sees them (which register, which digest, or why not extended). */
export function measuredEvents(
  log: ParsedEventLog,
  quirks: readonly EventLogQuirk[] = [],
): {
  events: MeasuredEvent[];
  quirksApplied: QuirkUse[];
} {
  const quirksApplied: QuirkUse[] = [];
  if (log.format === RUNTIME_LOG_FORMAT) {
    return {
      events: log.events.map((e) => ({
        format: "runtime" as const,
        index: e.seq,
        rtmr: e.rtmr,
        type: null,
        typeName: "RUNTIME_EVENT",
        name: e.event,
        digest: unhex(e.digest, "digest", MR_SIZE),
      })),
      quirksApplied,
    };
  }
  if (log.format === "dstack") {
    return {
      events: log.events.map((e) => {
        const m: MeasuredEvent = {
          format: "dstack",
          index: e.index,
          rtmr: dstackEventExtends(e) ? e.imr : null,
          type: e.eventType,
          typeName: e.typeName,
          digest: e.digest,
        };
        if (e.event !== "") m.name = e.event;
        if (!dstackEventExtends(e)) m.skipped = "EV_NO_ACTION is never extended";
        return m;
      }),
      quirksApplied,
    };
  }
  if (!log.algorithms.some((a) => a.algorithmId === TPM_ALG_SHA384)) {
    throw new TdxError(
      "EVENTLOG_NO_SHA384_BANK",
      "the log's Spec ID does not declare SHA-384, so it cannot feed RTMRs",
      {
        offset: 0,
        field: "specId.algorithms",
        hint: "TDX logs carry SHA-384 digests; this log is from a TPM or another platform",
      },
    );
  }
  const allowBadMr = quirks.includes("invalid-mr-index");
  // Objects are built field by field (not spread): replay runs per request in a key broker.
  const events = log.events.map((e): MeasuredEvent => {
    const m: MeasuredEvent = {
      format: "tcg",
      index: e.index,
      offset: e.offset,
      mrIndex: e.mrIndex,
      rtmr: null,
      type: e.type,
      typeName: e.typeName,
      digest: sha384DigestOf(e),
    };
    if (e.type === EV_NO_ACTION) {
      m.skipped = "EV_NO_ACTION is never extended";
      return m;
    }
    if (e.mrIndex < 1 || e.mrIndex > 4) {
      const what =
        e.mrIndex === 0
          ? "MR index 0 is MRTD, which firmware cannot extend"
          : `MR index ${e.mrIndex} is not 1..4`;
      if (!allowBadMr) {
        throw new TdxError("EVENTLOG_BAD_MR_INDEX", `event ${e.index} (${e.typeName}): ${what}`, {
          offset: e.offset,
          field: "mrIndex",
          hint: "some platforms (GCE C3) log non-extendable events with MR index 0xFFFFFFFF; pass --quirk invalid-mr-index to skip them",
          data: { event: e.index, mrIndex: e.mrIndex },
        });
      }
      quirksApplied.push({
        quirk: "invalid-mr-index",
        offset: e.offset,
        detail: `event ${e.index} not replayed: ${what}`,
      });
      m.skipped = what;
      return m;
    }
    if (!m.digest) {
      throw new TdxError("EVENTLOG_NO_SHA384", `event ${e.index} (${e.typeName}) has no SHA-384 digest`, {
        offset: e.offset,
        field: "digests",
        hint: "TDX replays SHA-384 digests only; the log is incomplete or not from a TD",
        data: { event: e.index },
      });
    }
    m.rtmr = e.mrIndex - 1;
    return m;
  });
  return { events, quirksApplied };
}

export interface ExpectedRegisters {
  /** RTMR0..3 (48 bytes each). */
  rtmr: readonly Uint8Array[];
  mrtd?: Uint8Array;
}

/** The registers of a parsed quote or TDREPORT. */
export function registersOf(evidence: Quote | TdReport): ExpectedRegisters {
  if ("body" in evidence) {
    if (evidence.body.kind === "sgx") {
      throw new TdxError("EVENTLOG_QUOTE_NOT_TDX", "the quote is an SGX quote and has no RTMRs", {
        hint: "give a TD quote (version 4 or 5, TEE type 0x81)",
      });
    }
    return { rtmr: evidence.body.report.rtmr, mrtd: evidence.body.report.mrTd };
  }
  return { rtmr: evidence.tdInfo.rtmr, mrtd: evidence.tdInfo.mrTd };
}

export interface EventRef {
  /** Which log (position in the list given to replay). */
  log: number;
  format: EventLogFormat;
  eventIndex: number;
  eventType: string;
  eventName?: string;
  offset?: number;
}

export type DivergenceReason = "extra-events" | "no-prefix-matches" | "missing-events";

export interface Divergence {
  register: RtmrName;
  reason: DivergenceReason;
  /** The first event that does not fit the expected value (null when the log has no event for the register). */
  event: EventRef | null;
  expected: string;
  replayed: string;
  /** How many of the register's events replay to the expected value (extra-events). */
  matchedEvents?: number;
  message: string;
}

export interface RegisterComparison {
  register: RtmrName;
  replayed: string;
  expected: string | null;
  match: boolean | null;
  events: number;
  divergence?: Divergence;
}

export interface LogSummary {
  format: EventLogFormat;
  events: number;
  extended: number;
  /** For TCG logs. */
  specId?: { algorithms: string[]; vendorInfo: string } | null;
  end?: TcgLog["end"];
  endOffset?: number;
}

export interface ReplayReport {
  /** True when every RTMR matches, false when one does not, null when no registers were given. */
  ok: boolean | null;
  logs: LogSummary[];
  registers: RegisterComparison[];
  /** MRTD is reported, never replayed. */
  mrtd: { expected: string; replayed: null; note: string } | null;
  firstDivergence: Divergence | null;
  quirksApplied: QuirkUse[];
  /** Event-by-event comparison with reference logs, when given. */
  reference?: ReferenceComparison;
  /** The CCEL table, when one was given (u64 fields as 0x-hex so the report is plain JSON). */
  ccel?: CcelTableJson;
  warnings: string[];
}

export interface EventDifference {
  register: RtmrName;
  /** Position in the register's sequence of extends (0 = its first event) where the logs part. */
  position: number;
  /** The reference's event there (null: the reference has fewer events). */
  reference: EventRef | null;
  /** The replayed log's event there (null: the log has fewer events). */
  actual: EventRef | null;
  referenceDigest: string | null;
  actualDigest: string | null;
  message: string;
}

export interface ReferenceComparison {
  /** True when every register is fed the same digests in the same order as by the reference logs. */
  same: boolean;
  registers: { register: RtmrName; same: boolean; difference?: EventDifference }[];
  /** The earliest difference in the replayed logs' order. */
  firstDifference: EventDifference | null;
}

export interface ReplayOptions extends ParseEventLogOptions {
  /** The registers to compare with, or a parsed quote / TDREPORT to take them from. */
  expected?: ExpectedRegisters | Quote | TdReport;
  /** The raw ACPI CCEL table: checked, and the first TCG log checked against its Log Area Minimum Length. */
  ccelTable?: Uint8Array;
  /**
   * Logs of a known-good boot: the replayed logs are compared with them event by event, naming the exact
   * first event where each register's sequence of digests differs (a quote alone only shows that it does).
   */
  reference?: readonly (Uint8Array | string | ParsedEventLog)[];
}

const EBS_INVOCATION = "Exit Boot Services Invocation";
const EBS_SUCCESS = "Exit Boot Services Returned with Success";
const EBS_FAILURE = "Exit Boot Services Returned with Failure";

interface RegisterTrace {
  value: Uint8Array;
  /** Value after each of `events` (history[k] = after k+1 events). */
  history: Uint8Array[];
  events: MeasuredEvent[];
  /** Which log each of `events` came from. */
  logs: number[];
}

function refOf(trace: RegisterTrace, k: number): EventRef {
  const e = trace.events[k]!;
  const r: EventRef = { log: trace.logs[k]!, format: e.format, eventIndex: e.index, eventType: e.typeName };
  if (e.name !== undefined) r.eventName = e.name;
  if (e.offset !== undefined) r.offset = e.offset;
  return r;
}

function describeRef(r: EventRef): string {
  const what = r.eventName ? `${r.eventType} "${r.eventName}"` : r.eventType;
  const at = r.offset !== undefined ? ` at offset ${r.offset}` : "";
  return `log ${r.log} event ${r.eventIndex} (${what}${at})`;
}

function isRegisters(x: ReplayOptions["expected"]): x is ExpectedRegisters {
  return x !== undefined && "rtmr" in x && Array.isArray((x as ExpectedRegisters).rtmr);
}

function divergenceOf(register: RtmrName, trace: RegisterTrace, expected: Uint8Array): Divergence {
  const exp = hex(expected);
  const rep = hex(trace.value);
  if (trace.events.length === 0) {
    return {
      register,
      reason: "missing-events",
      event: null,
      expected: exp,
      replayed: rep,
      message: `${register} has no events in the log but the evidence holds a non-initial value: events are missing`,
    };
  }
  // If a prefix of the events reproduces the expected value, everything after it was never extended.
  const zero = new Uint8Array(MR_SIZE);
  let matched = bytesEqual(zero, expected) ? 0 : -1;
  for (let k = 0; matched < 0 && k < trace.history.length - 1; k++) {
    if (bytesEqual(trace.history[k]!, expected)) matched = k + 1;
  }
  if (matched >= 0) {
    const ref = refOf(trace, matched);
    return {
      register,
      reason: "extra-events",
      event: ref,
      expected: exp,
      replayed: rep,
      matchedEvents: matched,
      message: `${register}: the first ${matched} event(s) reproduce the evidence; ${describeRef(ref)} and the ${trace.events.length - matched - 1} after it were not extended into the register`,
    };
  }
  const ref = refOf(trace, 0);
  return {
    register,
    reason: "no-prefix-matches",
    event: ref,
    expected: exp,
    replayed: rep,
    message: `${register}: no prefix of its ${trace.events.length} event(s) reproduces the evidence, so the log diverges from the first one, ${describeRef(ref)} (a wrong or missing event, or a log of another boot)`,
  };
}

function ebsDigest(text: string): Uint8Array {
  return sha384(utf8(text));
}

/** Replays parsed logs in order: each register's events, the value after each, and per-log summaries. */
function traceLogs(
  parsed: readonly ParsedEventLog[],
  quirks: readonly EventLogQuirk[],
): { traces: RegisterTrace[]; logs: LogSummary[]; quirksApplied: QuirkUse[] } {
  const quirksApplied: QuirkUse[] = [];
  const traces: RegisterTrace[] = RTMR_NAMES.map(() => ({
    value: new Uint8Array(MR_SIZE),
    history: [],
    events: [],
    logs: [],
  }));
  const logs: LogSummary[] = [];
  parsed.forEach((log, li) => {
    if (log.format === "tcg") quirksApplied.push(...log.quirksApplied);
    const { events, quirksApplied: q } = measuredEvents(log, quirks);
    quirksApplied.push(...q);
    let extended = 0;
    for (const e of events) {
      if (e.rtmr === null || e.digest === null) continue;
      const t = traces[e.rtmr]!;
      t.value = extendRegister(t.value, e.digest);
      t.history.push(t.value);
      t.events.push(e);
      t.logs.push(li);
      extended++;
    }
    const summary: LogSummary = { format: formatOf(log), events: events.length, extended };
    if (log.format === "tcg") {
      summary.specId = log.specId
        ? {
            algorithms: log.specId.algorithms.map((a) => a.algorithm),
            vendorInfo: new TextDecoder().decode(log.specId.vendorInfo).replace(/\0+$/, ""),
          }
        : null;
      summary.end = log.end;
      summary.endOffset = log.endOffset;
    }
    logs.push(summary);
  });

  return { traces, logs, quirksApplied };
}

/** Replays one or more logs (in order) into RTMR0..3 and compares them with the expected registers. */
export function replayEventLogs(
  inputs: readonly (Uint8Array | string | ParsedEventLog)[],
  options: ReplayOptions = {},
): ReplayReport {
  const quirks = options.quirks ?? [];
  const quirksApplied: QuirkUse[] = [];
  const warnings: string[] = [];
  if (inputs.length === 0) {
    throw new TdxError("EVENTLOG_NONE", "no event log given", { hint: "give at least one log" });
  }
  const parsed = inputs.map((i) =>
    typeof i === "string" || i instanceof Uint8Array ? parseEventLog(i, options) : i,
  );
  let ccel: CcelTable | undefined;
  if (options.ccelTable) {
    ccel = parseCcelTable(options.ccelTable);
    const tcg = parsed.find((p): p is TcgLog => p.format === "tcg");
    if (!tcg) warnings.push("a CCEL table was given but no TCG log to check against it");
    else if (BigInt(tcg.endOffset) > ccel.logAreaMinimumLength) {
      throw new TdxError(
        "EVENTLOG_EXCEEDS_LAML",
        `the log's events end at offset ${tcg.endOffset}, past the table's log area minimum length ${ccel.logAreaMinimumLength}`,
        {
          offset: tcg.endOffset,
          hint: "the table and the log do not belong together; read both from the same boot",
        },
      );
    } else if (BigInt(tcg.endOffset + tcg.paddingLength) > ccel.logAreaMinimumLength) {
      warnings.push("the log data is longer than the table's log area minimum length (extra bytes ignored)");
    }
  }
  const { traces, logs, quirksApplied: traced } = traceLogs(parsed, quirks);
  quirksApplied.push(...traced);
  const expected =
    options.expected === undefined
      ? undefined
      : isRegisters(options.expected)
        ? options.expected
        : registersOf(options.expected);
  if (expected && expected.rtmr.length !== 4) {
    throw new TdxError("EVENTLOG_BAD_EXPECTED", `expected 4 RTMRs, got ${expected.rtmr.length}`, {
      field: "expected.rtmr",
    });
  }
  const registers: RegisterComparison[] = RTMR_NAMES.map((register, i) => {
    const trace = traces[i]!;
    const out: RegisterComparison = {
      register,
      replayed: hex(trace.value),
      expected: null,
      match: null,
      events: trace.events.length,
    };
    if (!expected) return out;
    const exp = expected.rtmr[i]!;
    if (exp.length !== MR_SIZE) {
      throw new TdxError("EVENTLOG_BAD_EXPECTED", `expected ${register} is ${exp.length} bytes, not 48`, {
        field: `expected.rtmr[${i}]`,
      });
    }
    out.expected = hex(exp);
    out.match = bytesEqual(trace.value, exp);
    if (!out.match && i === 1 && quirks.includes("missing-exit-boot-services")) {
      const variants = [
        [EBS_INVOCATION, EBS_SUCCESS],
        [EBS_INVOCATION, EBS_FAILURE],
        [EBS_INVOCATION, EBS_FAILURE, EBS_SUCCESS],
      ];
      for (const v of variants) {
        let value = trace.value;
        for (const text of v) value = extendRegister(value, ebsDigest(text));
        if (bytesEqual(value, exp)) {
          out.match = true;
          out.replayed = hex(value);
          quirksApplied.push({
            quirk: "missing-exit-boot-services",
            detail: `RTMR1 matches after appending EV_EFI_ACTION ${v.map((t) => `"${t}"`).join(", ")}`,
          });
          break;
        }
      }
    }
    if (!out.match) out.divergence = divergenceOf(register, trace, exp);
    return out;
  });

  const order = (d: Divergence) =>
    d.event ? d.event.log * 1e9 + d.event.eventIndex : Number.MAX_SAFE_INTEGER;
  const divergences = registers.flatMap((r) => (r.divergence ? [r.divergence] : []));
  divergences.sort((a, b) => order(a) - order(b));
  const report: ReplayReport = {
    ok: expected ? registers.every((r) => r.match) : null,
    logs,
    registers,
    mrtd: expected?.mrtd
      ? {
          expected: hex(expected.mrtd),
          replayed: null,
          note: "MRTD is measured by the TDX module when the TD is built and is never in an event log; compare it with a reference value computed from the firmware image",
        }
      : null,
    firstDivergence: divergences[0] ?? null,
    quirksApplied,
    warnings,
  };
  if (options.reference) {
    const ref = options.reference.map((i) =>
      typeof i === "string" || i instanceof Uint8Array ? parseEventLog(i, options) : i,
    );
    if (ref.length === 0)
      throw new TdxError("EVENTLOG_NONE", "no reference log given", { field: "reference" });
    report.reference = compareTraces(traceLogs(ref, quirks).traces, traces);
  }
  if (ccel) report.ccel = ccelTableToJson(ccel);
  return report;
}

/**
 * One log (raw CCEL log bytes, a binary TCG log, or dstack/runtime JSON text), replayed and compared:
 * the entry point for verifiers and key brokers that receive a log with evidence.
 */
export function replayEventLog(
  input: Uint8Array | string | ParsedEventLog,
  options: ReplayOptions = {},
): ReplayReport {
  return replayEventLogs([input], options);
}

function compareTraces(reference: RegisterTrace[], actual: RegisterTrace[]): ReferenceComparison {
  const registers = RTMR_NAMES.map((register, i) => {
    const ref = reference[i]!;
    const act = actual[i]!;
    const n = Math.max(ref.events.length, act.events.length);
    for (let k = 0; k < n; k++) {
      const r = ref.events[k];
      const a = act.events[k];
      if (r && a && bytesEqual(r.digest!, a.digest!)) continue;
      const refRef = r ? refOf(ref, k) : null;
      const actRef = a ? refOf(act, k) : null;
      const what = !a
        ? `the log stops after ${k} event(s) where the reference continues with ${describeRef(refRef!)}`
        : !r
          ? `the log has an extra event ${describeRef(actRef!)} after the reference's ${k}`
          : `${describeRef(actRef!)} differs from the reference's ${describeRef(refRef!)}`;
      const difference: EventDifference = {
        register,
        position: k,
        reference: refRef,
        actual: actRef,
        referenceDigest: r ? hex(r.digest!) : null,
        actualDigest: a ? hex(a.digest!) : null,
        message: `${register} event #${k}: ${what}`,
      };
      return { register, same: false, difference };
    }
    return { register, same: true };
  });
  const diffs = registers.flatMap((r) => (r.difference ? [r.difference] : []));
  // Order by where the difference shows in the log, or, where the log stopped early, in the reference.
  const at = (d: EventDifference) => {
    const e = d.actual ?? d.reference;
    return e ? e.log * 1e9 + e.eventIndex : Number.MAX_SAFE_INTEGER;
  };
  diffs.sort((a, b) => at(a) - at(b));
  return { same: diffs.length === 0, registers, firstDifference: diffs[0] ?? null };
}
