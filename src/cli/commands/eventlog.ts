import { basename } from "node:path";
import type { Command } from "commander";
import { decodeAttestationInput } from "../../abi/index.js";
import { TdxError } from "../../errors.js";
import {
  EVENT_LOG_QUIRK_NAMES,
  EVENT_LOG_QUIRKS,
  type EventLogQuirk,
  type EventLogView,
  type ExpectedRegisters,
  type ParsedEventLog,
  parseEventLog,
  type ReplayReport,
  registersOf,
  replayEventLogs,
  viewEventLog,
} from "../../eventlog/index.js";
import { readInputFile } from "../io.js";
import { writeJson } from "../output.js";

type Format = "auto" | "tcg" | "dstack" | "runtime";
const FORMATS: Format[] = ["auto", "tcg", "dstack", "runtime"];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function checkFormat(format: string): Format {
  if (!FORMATS.includes(format as Format)) {
    throw new TdxError("EVENTLOG_BAD_FORMAT_OPTION", `unknown log format ${JSON.stringify(format)}`, {
      field: "--format",
      hint: `use one of ${FORMATS.join(", ")}`,
    });
  }
  return format as Format;
}

function checkQuirks(names: string[]): EventLogQuirk[] {
  for (const n of names) {
    if (!(EVENT_LOG_QUIRK_NAMES as string[]).includes(n)) {
      throw new TdxError("EVENTLOG_UNKNOWN_QUIRK", `unknown quirk ${JSON.stringify(n)}`, {
        field: "--quirk",
        hint: `known quirks: ${EVENT_LOG_QUIRK_NAMES.join(", ")}`,
      });
    }
  }
  return names as EventLogQuirk[];
}

const QUIRK_HELP = Object.entries(EVENT_LOG_QUIRKS)
  .map(([name, text]) => `  ${name}\n      ${text}`)
  .join("\n");

interface ReplayOpts {
  ccel?: string;
  quote?: string;
  format: string;
  quirk: string[];
  reference: string[];
  json?: boolean;
}

function renderReplay(report: ReplayReport, files: string[], quoteSource: string | null): string {
  const lines: string[] = [];
  report.logs.forEach((l, i) => {
    const bits = [`${l.format}`, `${l.events} events`, `${l.extended} extended`];
    if (l.specId) bits.push(`banks ${l.specId.algorithms.join("+")}`);
    if (l.specId?.vendorInfo) bits.push(`vendor ${l.specId.vendorInfo}`);
    if (l.end)
      bits.push(
        l.end === "padding"
          ? `ends at offset ${l.endOffset} (padding after)`
          : `ends at offset ${l.endOffset}`,
      );
    lines.push(`log ${i}: ${files[i]} (${bits.join(", ")})`);
  });
  if (report.ccel) {
    const c = report.ccel;
    lines.push(
      `CCEL table: ${c.ccTypeName} (type ${c.ccType}.${c.ccSubtype}), OEM ${c.oemId.trim()}/${c.oemTableId.trim()}, LAML ${c.logAreaMinimumLength}, LASA ${c.logAreaStartAddress}, checksum ok`,
    );
  }
  if (quoteSource) lines.push(`evidence: ${quoteSource}`);
  for (const q of report.quirksApplied) lines.push(`quirk ${q.quirk}: ${q.detail}`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  lines.push("");
  for (const r of report.registers) {
    const status = r.match === null ? "" : r.match ? "  match" : "  MISMATCH";
    lines.push(`${r.register}  ${r.replayed}  ${String(r.events).padStart(3)} events${status}`);
    if (r.match === false) lines.push(`  evidence ${r.expected}`);
  }
  if (report.mrtd)
    lines.push(`MRTD   ${report.mrtd.expected}  (from the evidence; MRTD is not in any event log)`);
  lines.push("");
  if (report.reference) {
    const ref = report.reference;
    if (ref.same) lines.push("reference: every register is fed the same events as by the reference log(s)");
    else {
      const differing = ref.registers.filter((r) => !r.same).map((r) => r.register);
      lines.push(`reference: ${differing.join(", ")} differ from the reference log(s)`);
      for (const r of ref.registers) if (r.difference) lines.push(`  ${r.difference.message}`);
    }
  }
  if (report.ok === null) {
    if (!report.reference) lines.push("no quote given: replayed values only (pass --quote to compare)");
  } else if (report.ok) lines.push("result: every RTMR matches the evidence");
  else {
    const bad = report.registers.filter((r) => r.match === false).map((r) => r.register);
    lines.push(`result: ${bad.join(", ")} do${bad.length === 1 ? "es" : ""} not match the evidence`);
    const d = report.firstDivergence;
    if (d) {
      lines.push(`first divergence: ${d.message}`);
      if (d.event) {
        const ev = d.event;
        lines.push(
          `  register ${d.register}, log ${ev.log}, event ${ev.eventIndex}, type ${ev.eventType}${ev.eventName ? ` "${ev.eventName}"` : ""}${ev.offset !== undefined ? `, offset ${ev.offset}` : ""}`,
        );
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

function renderView(view: EventLogView, file: string): string {
  const lines: string[] = [`${file}: ${view.format} log, ${view.events.length} events`];
  if (view.header) {
    lines.push(
      `  ${Object.entries(view.header)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : String(v)}`)
        .join("  ")}`,
    );
  }
  for (const e of view.events) {
    const where = e.offset !== undefined ? ` @${e.offset}` : "";
    const reg = e.register ?? (e.mrIndex !== undefined ? `MR${e.mrIndex >>> 0}` : "-");
    const name = e.name ? ` "${e.name}"` : "";
    lines.push(
      `#${e.index}${where}  ${reg}  ${e.typeName}${name}${e.skipped ? `  (not extended: ${e.skipped})` : ""}`,
    );
    for (const [alg, d] of Object.entries(e.digests)) lines.push(`    ${alg}: ${d}`);
    for (const [k, v] of Object.entries(e.details)) {
      const text = typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? v.join(" / ") : String(v);
      lines.push(`    ${k}: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`);
    }
    if (e.digestBinding === "event-data") lines.push("    digest = SHA-384(event data)");
    else if (e.digestBinding === "command-text")
      lines.push("    digest = SHA-384(the command after the prefix)");
    else if (e.digestBinding === "variable-data") lines.push("    digest = SHA-384(variable data)");
    else if (e.digestBinding === "tagged-event-data") lines.push("    digest = SHA-384(tagged event data)");
    if (e.time) lines.push(`    time: ${e.time}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Registers `eventlog replay` and `eventlog show`. */
export function registerEventlogCommands(program: Command): void {
  const eventlog = program
    .command("eventlog")
    .description(
      "read TDX measurement event logs (CCEL/TCG, dstack JSON, tdx-attest runtime logs) and replay them",
    );

  eventlog
    .command("replay")
    .description("replay event logs into RTMR0-3 and compare them with a quote's (or TDREPORT's) registers")
    .argument(
      "<log...>",
      "event log file(s), replayed in order into the same registers (e.g. CCEL data, then a runtime log)",
    )
    .option(
      "--ccel <table>",
      "the ACPI CCEL table (/sys/firmware/acpi/tables/CCEL): checked, and the log checked against it",
    )
    .option("--quote <quote>", "quote or TDREPORT (binary, hex or base64) whose RTMRs the replay must match")
    .option("--format <format>", "log format: auto, tcg, dstack or runtime", "auto")
    .option("--quirk <name>", "enable a named firmware workaround (repeatable); see below", collect, [])
    .option(
      "--reference <log>",
      "log(s) of a known-good boot (repeatable, in order): name the exact first event where each register differs",
      collect,
      [],
    )
    .option("--json", "print the replay report as JSON")
    .addHelpText(
      "after",
      `\nQuirks (all off by default; each use is reported):\n${QUIRK_HELP}\n\nExamples:\n` +
        "  sudo tdx-attest eventlog replay /sys/firmware/acpi/tables/data/CCEL --ccel /sys/firmware/acpi/tables/CCEL --quote quote.bin\n" +
        "  tdx-attest eventlog replay ccel.bin runtime-log.json --quote quote.bin --json\n" +
        "  tdx-attest eventlog replay dstack-getquote.json        # uses the quote inside the dstack JSON\n\n" +
        "Exit codes: 0 every RTMR matches (or no quote to compare) and the logs equal the --reference logs,\n" +
        "1 an RTMR does not match or a register's events differ from the reference, 2 bad input.",
    )
    .action((logs: string[], opts: ReplayOpts) => {
      const format = checkFormat(opts.format);
      const quirks = checkQuirks(opts.quirk);
      const parsed: ParsedEventLog[] = logs.map((f) => parseEventLog(readInputFile(f), { format, quirks }));
      let expected: ExpectedRegisters | undefined;
      let quoteSource: string | null = null;
      if (opts.quote !== undefined) {
        const decoded = decodeAttestationInput(readInputFile(opts.quote));
        expected = registersOf(decoded.kind === "quote" ? decoded.quote : decoded.tdReport);
        quoteSource = `${opts.quote} (${decoded.kind === "quote" ? `quote v${decoded.quote.header.version}` : "TDREPORT"})`;
      } else {
        const i = parsed.findIndex((p) => p.format === "dstack" && p.quote !== undefined);
        const withQuote = parsed[i];
        if (withQuote?.format === "dstack" && withQuote.quote) {
          const decoded = decodeAttestationInput(withQuote.quote);
          if (decoded.kind === "quote") {
            expected = registersOf(decoded.quote);
            quoteSource = `quote embedded in ${logs[i]} (v${decoded.quote.header.version})`;
          }
        }
      }
      const options: Parameters<typeof replayEventLogs>[1] = { format, quirks };
      if (expected) options.expected = expected;
      if (opts.ccel !== undefined) options.ccelTable = readInputFile(opts.ccel);
      if (opts.reference.length > 0) options.reference = opts.reference.map((f) => readInputFile(f));
      const report = replayEventLogs(parsed, options);
      if (opts.json) writeJson({ files: logs, evidence: quoteSource, ...report });
      else
        process.stdout.write(
          renderReplay(
            report,
            logs.map((l) => basename(l)),
            quoteSource,
          ),
        );
      process.exitCode = report.ok === false || report.reference?.same === false ? 1 : 0;
    });

  eventlog
    .command("show")
    .description(
      "print the events of a log readably: types by name, digests, decoded data (UEFI variables, strings, paths)",
    )
    .argument("<log>", "event log file (CCEL data / binary TCG log, dstack JSON, or tdx-attest runtime log)")
    .option("--format <format>", "log format: auto, tcg, dstack or runtime", "auto")
    .option(
      "--quirk <name>",
      "enable a named firmware workaround (repeatable); see eventlog replay --help",
      collect,
      [],
    )
    .option("--json", "print the events as JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  sudo tdx-attest eventlog show /sys/firmware/acpi/tables/data/CCEL\n  tdx-attest eventlog show --json runtime-log.json | jq '.events[].name'\n\nExit codes: 0 shown, 2 bad input.",
    )
    .action((log: string, opts: { format: string; quirk: string[]; json?: boolean }) => {
      const format = checkFormat(opts.format);
      const quirks = checkQuirks(opts.quirk);
      const parsed = parseEventLog(readInputFile(log), { format, quirks });
      const view = viewEventLog(parsed);
      if (opts.json) {
        const out: Record<string, unknown> = { file: log, ...view };
        if (parsed.format === "tcg" && parsed.quirksApplied.length > 0)
          out.quirksApplied = parsed.quirksApplied;
        writeJson(out);
      } else {
        process.stdout.write(renderView(view, basename(log)));
        if (parsed.format === "tcg")
          for (const q of parsed.quirksApplied) process.stdout.write(`quirk ${q.quirk}: ${q.detail}\n`);
      }
      process.exitCode = 0;
    });
}
