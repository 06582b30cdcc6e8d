import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Command } from "commander";
import { parseTdReport, toHex } from "../../abi/index.js";
import { TdxError } from "../../errors.js";
import { appendRuntimeEvent, DEFAULT_RUNTIME_LOG_PATH } from "../../eventlog/index.js";
import {
  type GuestProvider,
  type GuestProviderOptions,
  type Measurements,
  openProvider,
  PROVIDER_NAMES,
  type ProviderName,
  probeGuest,
  type QuoteResult,
} from "../../guest/index.js";
import { simStateDir } from "../../qgs/index.js";
import { hexOption, readInputFile, writeFileAtomic } from "../io.js";
import { writeJson } from "../output.js";

interface ProviderFlags {
  provider?: string;
  qgs?: string;
  simState?: string;
  quoteVersion?: string;
  json?: boolean;
}

function providerName(v: string | undefined): ProviderName | "auto" {
  const name = v ?? "auto";
  if (name === "auto" || (PROVIDER_NAMES as readonly string[]).includes(name))
    return name as ProviderName | "auto";
  throw new TdxError("GUEST_UNKNOWN_PROVIDER", `unknown provider "${name}"`, {
    field: "provider",
    hint: `use auto, ${PROVIDER_NAMES.join(", ")}`,
  });
}

export function quoteVersionArg(v: string | undefined): 4 | 5 | undefined {
  if (v === undefined) return undefined;
  if (v === "4" || v === "5") return Number(v) as 4 | 5;
  throw new TdxError("GUEST_QUOTE_VERSION", `--quote-version ${v} is not supported`, {
    field: "quote-version",
    hint: "use 4 or 5 (only the simulated QE lets you choose; a real QGS decides itself)",
  });
}

function providerOptions(o: ProviderFlags): GuestProviderOptions {
  const qv = quoteVersionArg(o.quoteVersion);
  return {
    ...(o.qgs !== undefined ? { qgs: o.qgs } : {}),
    ...(o.simState !== undefined ? { simState: o.simState } : {}),
    ...(qv !== undefined ? { quoteVersion: qv } : {}),
  };
}

/** Open the provider and say which one answers (stderr, so stdout stays machine-readable). */
async function open(o: ProviderFlags): Promise<GuestProvider> {
  const name = providerName(o.provider);
  const p = await openProvider(name, providerOptions(o));
  if (!o.json) {
    const d = p.describe();
    process.stderr.write(`provider: ${d.name}${name === "auto" ? " (auto)" : ""}: ${d.summary}\n`);
  }
  return p;
}

function withProviderOptions(cmd: Command): Command {
  return cmd
    .option("--provider <name>", `auto, ${PROVIDER_NAMES.join(", ")}`, "auto")
    .option(
      "--qgs <address>",
      "QGS for the device/qgs/sim providers: unix:PATH, tcp:HOST:PORT, vsock:[CID:]PORT",
    )
    .option("--sim-state <dir>", "simulated platform state (default $TDX_SIM_STATE, else ./data/sim)");
}

function hexArg(text: string, field: string, max: number): Uint8Array {
  return hexOption(text, field, max, "GUEST_BAD_HEX");
}

/** REPORTDATA from --report-data (hex, zero-padded to 64) or --nonce (base64; REPORTDATA = SHA-512(nonce)). */
export function reportDataFromFlags(o: { reportData?: string; nonce?: string }): Uint8Array {
  if (o.reportData !== undefined && o.nonce !== undefined)
    throw new TdxError("GUEST_REPORT_DATA_CONFLICT", "give either --report-data or --nonce, not both", {
      field: "report-data",
      hint: "--nonce B64 sets REPORTDATA to SHA-512 of the decoded nonce; --report-data HEX sets it directly",
    });
  const out = new Uint8Array(64);
  if (o.reportData !== undefined) out.set(hexArg(o.reportData, "report-data", 64));
  if (o.nonce !== undefined) {
    const text = o.nonce.trim();
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || text.length === 0)
      throw new TdxError("GUEST_BAD_NONCE", "--nonce must be base64 (standard or URL-safe)", {
        field: "nonce",
        hint: "pass the verifier's nonce exactly as it was handed out",
      });
    const nonce = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    out.set(createHash("sha512").update(nonce).digest());
  }
  return out;
}

function measurementsJson(m: Measurements): Record<string, unknown> {
  return {
    mrTd: toHex(m.mrTd),
    mrConfigId: toHex(m.mrConfigId),
    mrOwner: toHex(m.mrOwner),
    mrOwnerConfig: toHex(m.mrOwnerConfig),
    rtmr: m.rtmr.map((r) => toHex(r)),
  };
}

/** How the quote was obtained, for stderr: the path, retries, a fallback taken, warnings. */
export function quoteResultLines(r: QuoteResult): string[] {
  const out = [`quote from: ${r.path} (${r.via})`];
  if (r.fallback)
    out.push(`fallback: ${r.fallback.from} failed with ${r.fallback.code}: ${r.fallback.message}`);
  for (const x of r.retries)
    out.push(
      `retried: attempt ${x.attempt} failed with ${x.code}${x.errno ? ` (${x.errno})` : ""}, waited ${x.waitedMs} ms`,
    );
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return out;
}

function eventDataArg(o: { data?: string; dataHex?: string; dataFile?: string }): Uint8Array | string {
  const given = [o.data, o.dataHex, o.dataFile].filter((x) => x !== undefined).length;
  if (given !== 1)
    throw new TdxError(
      "GUEST_EVENT_DATA",
      "give exactly one of --data TEXT, --data-hex HEX, --data-file FILE",
      {
        field: "data",
        hint: "the data is what gets measured: its SHA-384 (with the event name, see docs/eventlog.md) is extended",
      },
    );
  if (o.data !== undefined) return o.data;
  if (o.dataHex !== undefined) return hexArg(o.dataHex, "data-hex", 1 << 20);
  return readInputFile(o.dataFile);
}

/** Registers `report`, `quote`, `extend` and `status` (the `qgs` commands are in qgs.ts). */
export function registerGuestCommands(program: Command): void {
  withProviderOptions(
    program
      .command("report")
      .description("get a TDREPORT (1024 bytes, MAC bound to this platform) for 64 bytes of REPORTDATA")
      .option("--report-data <hex>", "REPORTDATA as hex, up to 64 bytes, zero-padded", "")
      .option("--out <file>", "write the raw TDREPORT here (atomically) instead of hex on stdout")
      .option("--json", "print a JSON summary"),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  sudo tdx-attest report --report-data 00ff --out td.report\n  tdx-attest report --provider sim --json\n",
    )
    .action(async (o: ProviderFlags & { reportData: string; out?: string }) => {
      const reportData = reportDataFromFlags({ reportData: o.reportData });
      const p = await open(o);
      const report = await p.getTdReport(reportData);
      if (o.out) writeFileAtomic(o.out, report);
      if (o.json) {
        const r = parseTdReport(report);
        writeJson({
          ok: true,
          provider: p.describe(),
          reportData: toHex(reportData),
          ...(o.out ? { out: o.out } : { tdReport: toHex(report) }),
          mrTd: toHex(r.tdInfo.mrTd),
          rtmr: r.tdInfo.rtmr.map((x) => toHex(x)),
        });
      } else if (o.out) process.stderr.write(`wrote ${report.length}-byte TDREPORT to ${o.out}\n`);
      else process.stdout.write(`${toHex(report)}\n`);
    });

  withProviderOptions(
    program
      .command("quote")
      .description("get a signed TD quote whose REPORTDATA is --report-data, or SHA-512 of --nonce")
      .option("--report-data <hex>", "REPORTDATA as hex, up to 64 bytes, zero-padded")
      .option("--nonce <base64>", "a verifier's nonce; REPORTDATA = SHA-512(decoded nonce)")
      .option("--out <file>", "write the raw quote here (atomically) instead of hex on stdout")
      .option("--quote-version <n>", "quote version from the simulated QE: 4 or 5")
      .option("--json", "print a JSON summary"),
  )
    .addHelpText(
      "after",
      "\nREPORTDATA with --nonce is SHA-512 of the base64-decoded nonce (64 bytes, fills REPORTDATA exactly).\n" +
        '\nExamples:\n  sudo tdx-attest quote --nonce "$NONCE" --out quote.bin\n' +
        "  tdx-attest quote --provider sim --report-data 01 --out quote.bin\n" +
        "  tdx-attest quote --provider qgs --qgs vsock:2:4050 --out quote.bin\n" +
        "\nstderr names the path that produced the quote (with auto, configfs-tsm falls back to /dev/tdx_guest +\n" +
        "the QGS over vsock when the host's side of configfs-tsm fails), retries of transient host answers, and\n" +
        "bytes dropped after the quote's own end.\n",
    )
    .action(async (o: ProviderFlags & { reportData?: string; nonce?: string; out?: string }) => {
      const reportData = reportDataFromFlags(o);
      const p = await open(o);
      const result = await p.getQuoteResult(reportData);
      const { quote } = result;
      if (o.out) writeFileAtomic(o.out, quote);
      if (o.json)
        writeJson({
          ok: true,
          provider: p.describe(),
          path: result.path,
          via: result.via,
          attempts: result.attempts,
          retries: result.retries,
          warnings: result.warnings,
          ...(result.fallback ? { fallback: result.fallback } : {}),
          reportData: toHex(reportData),
          size: quote.length,
          ...(o.out ? { out: o.out } : { quote: toHex(quote) }),
        });
      else {
        process.stderr.write(`${quoteResultLines(result).join("\n")}\n`);
        if (o.out) process.stderr.write(`wrote ${quote.length}-byte quote to ${o.out}\n`);
        else process.stdout.write(`${toHex(quote)}\n`);
      }
    });

  withProviderOptions(
    program
      .command("extend")
      .description("extend an RTMR with a named event and record it in the runtime event log")
      .requiredOption("--rtmr <n>", "RTMR index (normally 3)")
      .requiredOption("--event <name>", "event name, e.g. app.config")
      .option("--data <text>", "the measured data as UTF-8 text")
      .option("--data-hex <hex>", "the measured data as hex")
      .option("--data-file <file>", "the measured data from a file")
      .option("--description <text>", "why this was measured (kept in the log, not measured)")
      .option("--no-record-data", "keep only the digest in the log, not the data")
      .option(
        "--log <path>",
        `runtime event log (default ${DEFAULT_RUNTIME_LOG_PATH}; for --provider sim: SIM_STATE/runtime-log.json)`,
      )
      .option("--json", "print the log entry as JSON"),
  )
    .addHelpText(
      "after",
      '\nExamples:\n  sudo tdx-attest extend --rtmr 3 --event app.image --data-file /app.img --description "application image"\n' +
        "  tdx-attest extend --provider sim --rtmr 3 --event app.config --data 'mode=prod'\n",
    )
    .action(
      async (
        o: ProviderFlags & {
          rtmr: string;
          event: string;
          data?: string;
          dataHex?: string;
          dataFile?: string;
          description?: string;
          recordData: boolean;
          log?: string;
        },
      ) => {
        if (!/^\d$/.test(o.rtmr))
          throw new TdxError("GUEST_RTMR_INDEX", `--rtmr ${o.rtmr} is not an RTMR index`, {
            field: "rtmr",
            hint: "RTMRs are numbered 0..3; user space normally extends RTMR 3",
          });
        const data = eventDataArg(o);
        const p = await open(o);
        const logPath =
          o.log ??
          (p.name === "sim" ? join(simStateDir(o.simState), "runtime-log.json") : DEFAULT_RUNTIME_LOG_PATH);
        const entry = await appendRuntimeEvent(
          logPath,
          {
            rtmr: Number(o.rtmr),
            event: o.event,
            data,
            ...(o.description !== undefined ? { description: o.description } : {}),
            recordData: o.recordData,
          },
          { extend: (rtmr, digest) => p.extendRtmr(rtmr, digest) },
        );
        const after = await p.readMeasurements();
        if (o.json)
          writeJson({
            ok: true,
            provider: p.describe().name,
            log: logPath,
            entry,
            rtmr: toHex(after.rtmr[entry.rtmr]!),
          });
        else
          process.stdout.write(
            `extended RTMR${entry.rtmr} with ${entry.digest} (event ${o.event}, seq ${entry.seq})\n` +
              `RTMR${entry.rtmr} = ${toHex(after.rtmr[entry.rtmr]!)}\nlogged in ${logPath}\n`,
          );
      },
    );

  program
    .command("status")
    .description(
      "what this machine offers for attestation, which provider auto picks, and why the others are unavailable",
    )
    .option("--qgs <address>", "QGS address to report (and probe with --probe-qgs)")
    .option("--sim-state <dir>", "simulated platform state (default $TDX_SIM_STATE, else ./data/sim)")
    .option("--probe-qgs", "try to connect to the QGS")
    .option("--json", "print JSON")
    .action(async (o: { qgs?: string; simState?: string; probeQgs?: boolean; json?: boolean }) => {
      const s = await probeGuest({
        ...(o.qgs !== undefined ? { qgs: o.qgs } : {}),
        ...(o.simState !== undefined ? { simState: o.simState } : {}),
        probeQgs: o.probeQgs === true,
      });
      let measurements: Record<string, unknown> | null = null;
      if (s.auto.chosen !== null) {
        try {
          measurements = measurementsJson(await (await openProvider(s.auto.chosen, o)).readMeasurements());
        } catch (e) {
          measurements = { error: e instanceof TdxError ? e.toJSON() : String(e) };
        }
      }
      if (o.json) {
        writeJson({ ok: true, ...s, measurements });
        return;
      }
      const out: string[] = [];
      out.push(
        s.tdEvidence.length > 0
          ? `this machine is a TD: ${s.tdEvidence.join(", ")}`
          : "this machine does not look like a TD",
      );
      if (s.kernel) out.push(`kernel: Linux ${s.kernel}`);
      if (s.configfsInstances.length > 0)
        out.push(
          `configfs-tsm report instances present: ${s.configfsInstances.join(", ")} (while any remains, tdx_guest cannot re-register after an unload)`,
        );
      for (const p of s.providers) out.push(`  ${p.available ? "+" : "-"} ${p.name.padEnd(8)} ${p.reason}`);
      out.push(s.auto.chosen ? `auto: ${s.auto.chosen} (${s.auto.reason})` : `auto: none (${s.auto.reason})`);
      if (measurements && !("error" in measurements)) {
        out.push(`MRTD   ${measurements.mrTd}`);
        (measurements.rtmr as string[]).forEach((r, i) => {
          out.push(`RTMR${i}  ${r}`);
        });
      }
      process.stdout.write(`${out.join("\n")}\n`);
    });
}
