import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Command } from "commander";
import {
  type AzTdxVtpmEvidenceVersion,
  parseHclReport,
  parseQuote,
  parseTdReport,
  parseTpmsAttest,
  toHex,
} from "../../abi/index.js";
import { TdxError } from "../../errors.js";
import {
  type AzTdxVtpmProvider,
  appendRuntimeEvent,
  DEFAULT_RUNTIME_LOG_PATH,
  type GuestProvider,
  type GuestProviderOptions,
  isAzTdxVtpmProvider,
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
  tpmDevice?: string;
  imds?: string;
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
    ...(o.tpmDevice !== undefined ? { tpmDevice: o.tpmDevice } : {}),
    ...(o.imds !== undefined ? { imdsUrl: o.imds } : {}),
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

function withAzureOptions(cmd: Command): Command {
  return cmd
    .option("--tpm-device <path>", "az-tdx-vtpm: the TPM device (default /dev/tpmrm0, else /dev/tpm0)")
    .option(
      "--imds <url>",
      "az-tdx-vtpm: the IMDS TD quote endpoint (default http://169.254.169.254/acc/tdquote)",
    );
}

function withProviderOptions(cmd: Command): Command {
  return withAzureOptions(
    cmd
      .option(
        "--provider <name>",
        `auto, ${PROVIDER_NAMES.join(", ")} (az-tdx-vtpm: an Azure TDX confidential VM's vTPM)`,
        "auto",
      )
      .option(
        "--qgs <address>",
        "QGS for the device/qgs/sim providers: unix:PATH, tcp:HOST:PORT, vsock:[CID:]PORT",
      )
      .option("--sim-state <dir>", "simulated platform state (default $TDX_SIM_STATE, else ./data/sim)"),
  );
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

/** PCR values keyed as Trustee's claims and `verify --tee az-tdx-vtpm` key them (`pcr00`..`pcr23`). */
function pcrsJson(pcrs: Uint8Array[]): Record<string, string> {
  return Object.fromEntries(pcrs.map((v, i) => [`pcr${String(i).padStart(2, "0")}`, toHex(v)]));
}

/** az-tdx-vtpm report data from --nonce TEXT (its UTF-8 bytes) or --nonce-hex HEX, as `verify --tee az-tdx-vtpm`. */
export function azNonceFromFlags(o: { nonce?: string; nonceHex?: string }): Uint8Array {
  if (o.nonce !== undefined && o.nonceHex !== undefined)
    throw new TdxError("GUEST_REPORT_DATA_CONFLICT", "give either --nonce or --nonce-hex, not both", {
      field: "nonce",
      hint: "--nonce takes text (its UTF-8 bytes are the nonce), --nonce-hex bytes",
    });
  if (o.nonceHex !== undefined) return hexArg(o.nonceHex, "nonce-hex", 64);
  if (o.nonce !== undefined) return new TextEncoder().encode(o.nonce);
  throw new TdxError("GUEST_BAD_NONCE", "az-tdx-vtpm evidence needs the relying party's nonce", {
    field: "nonce",
    hint: "give --nonce TEXT or --nonce-hex HEX (1 to 64 bytes): the TPM quote's qualifying data",
  });
}

function evidenceVersionArg(v: string | undefined): AzTdxVtpmEvidenceVersion | undefined {
  if (v === undefined) return undefined;
  if (v === "0" || v === "1" || v === "2") return Number(v) as AzTdxVtpmEvidenceVersion;
  throw new TdxError("GUEST_EVIDENCE_VERSION", `--evidence-version ${v} is not 0, 1 or 2`, {
    field: "evidence-version",
    hint: "2 (default, Trustee's current attester: the nonce also goes into the HCL report), or 1 / 0 for older verifiers",
  });
}

/** The provider as an az-tdx-vtpm one, or a coded refusal that says what this provider does instead. */
function azureProvider(p: GuestProvider, tee: string): AzTdxVtpmProvider {
  if (tee !== "az-tdx-vtpm")
    throw new TdxError("GUEST_UNKNOWN_TEE", `--tee ${tee}: evidence supports az-tdx-vtpm`, {
      field: "tee",
      hint: "TDX quotes (tee tdx) come from `tdx-attest quote`",
    });
  if (!isAzTdxVtpmProvider(p))
    throw new TdxError(
      "GUEST_EVIDENCE_UNSUPPORTED",
      `provider ${p.name} makes TD quotes (tee tdx), not az-tdx-vtpm evidence`,
      {
        field: "provider",
        hint: "use `tdx-attest quote` on this TD; az-tdx-vtpm evidence comes from an Azure TDX confidential VM (--provider az-tdx-vtpm) or a simulated one (`sim init --platform azure`, --provider sim)",
      },
    );
  return p;
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
        // Refused before the runtime log is touched: on Azure the paravisor owns the RTMRs.
        if (isAzTdxVtpmProvider(p)) await p.extendRtmr(Number(o.rtmr), new Uint8Array(48));
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

  withAzureOptions(
    program
      .command("status")
      .description(
        "what this machine offers for attestation, which provider auto picks, and why the others are unavailable",
      )
      .option("--qgs <address>", "QGS address to report (and probe with --probe-qgs)")
      .option("--sim-state <dir>", "simulated platform state (default $TDX_SIM_STATE, else ./data/sim)")
      .option("--probe-qgs", "try to connect to the QGS")
      .option("--json", "print JSON"),
  )
    .addHelpText(
      "after",
      "\nOn an Azure TDX confidential VM (no /dev/tdx_guest, no configfs-tsm report) the az-tdx-vtpm provider is\n" +
        "found when /dev/tpmrm0 (or /dev/tpm0) holds a TDX HCL report at NV 0x01400001; status then also prints the\n" +
        "vTPM's SHA-256 PCRs. IMDS is not contacted.\n",
    )
    .action(async (o: ProviderFlags & { probeQgs?: boolean }) => {
      const opts = providerOptions(o);
      const s = await probeGuest({ ...opts, probeQgs: o.probeQgs === true });
      let measurements: Record<string, unknown> | null = null;
      let pcrs: Record<string, string> | null = null;
      if (s.auto.chosen !== null) {
        try {
          const p = await openProvider(s.auto.chosen, opts);
          measurements = measurementsJson(await p.readMeasurements());
          if (isAzTdxVtpmProvider(p)) pcrs = pcrsJson(await p.readPcrs());
        } catch (e) {
          measurements = { error: e instanceof TdxError ? e.toJSON() : String(e) };
        }
      }
      if (o.json) {
        writeJson({ ok: true, ...s, measurements, ...(pcrs ? { pcrs } : {}) });
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
      for (const p of s.providers) out.push(`  ${p.available ? "+" : "-"} ${p.name.padEnd(11)} ${p.reason}`);
      out.push(s.auto.chosen ? `auto: ${s.auto.chosen} (${s.auto.reason})` : `auto: none (${s.auto.reason})`);
      if (measurements && !("error" in measurements)) {
        out.push(`MRTD   ${measurements.mrTd}`);
        (measurements.rtmr as string[]).forEach((r, i) => {
          out.push(`RTMR${i}  ${r}`);
        });
      } else if (measurements) {
        const err = measurements.error as { code?: string; message?: string } | string;
        out.push(`measurements: ${typeof err === "string" ? err : `${err.code}: ${err.message}`}`);
      }
      if (pcrs) {
        out.push("vTPM PCRs (SHA-256):");
        for (const [k, v] of Object.entries(pcrs)) out.push(`  ${k.toUpperCase()}  ${v}`);
      }
      process.stdout.write(`${out.join("\n")}\n`);
    });

  withProviderOptions(
    program
      .command("evidence")
      .description(
        "az-tdx-vtpm evidence of an Azure TDX confidential VM (HCL report, TD quote, vTPM quote over the nonce) as Trustee's JSON",
      )
      .option(
        "--tee <name>",
        "evidence type: az-tdx-vtpm (TDX quotes come from `tdx-attest quote`)",
        "az-tdx-vtpm",
      )
      .option(
        "--nonce <text>",
        "the relying party's nonce as text: its UTF-8 bytes (1 to 64) are the report data",
      )
      .option(
        "--nonce-hex <hex>",
        "or the report data as hex (1 to 64 bytes), e.g. a KBS runtime-data digest",
      )
      .option(
        "--evidence-version <n>",
        "0, 1 or 2 (default 2: the nonce also goes into the HCL report's user-data)",
      )
      .option("--out <file>", "write the evidence JSON here (atomically) instead of stdout")
      .option("--json", "print a JSON summary (with the evidence inline when there is no --out)"),
  )
    .addHelpText(
      "after",
      "\nOn an Azure TDX VM the paravisor, not the guest, chooses the TD's REPORTDATA (SHA-256 of its HCL var data,\n" +
        "which carries the vTPM attestation key), so `quote --nonce` cannot work there. This command does what\n" +
        "Trustee's az-tdx-vtpm attester does, with raw TPM 2.0 commands on /dev/tpmrm0 (root or the tss group):\n" +
        "  v2: write the nonce to NV 0x01400002 and wait 3 s for the paravisor's new HCL report,\n" +
        "  read the HCL report (NV 0x01400001), POST its TDREPORT to IMDS /acc/tdquote for the TD quote,\n" +
        "  TPM2_Quote the SHA-256 PCRs 0..23 with the AK 0x81000003 and the nonce, read the PCRs.\n" +
        "The nonce is used as is (not hashed, not padded): pass the same --nonce to `verify --tee az-tdx-vtpm`.\n" +
        '\nExamples:\n  sudo tdx-attest evidence --nonce "$NONCE" --out evidence.json\n' +
        "  tdx-attest sim init --sim-state ./az --platform azure\n" +
        "  tdx-attest evidence --provider sim --sim-state ./az --nonce challenge --out evidence.json\n" +
        "  tdx-attest sim collateral --sim-state ./az --out coll.json\n" +
        "  tdx-attest verify evidence.json --tee az-tdx-vtpm --collateral coll.json --trust-root ./az/root-ca.pem --nonce challenge\n",
    )
    .action(
      async (
        o: ProviderFlags & {
          tee: string;
          nonce?: string;
          nonceHex?: string;
          evidenceVersion?: string;
          out?: string;
        },
      ) => {
        const nonce = azNonceFromFlags(o);
        const version = evidenceVersionArg(o.evidenceVersion);
        const p = azureProvider(await open(o), o.tee);
        const r = await p.getAzTdxVtpmEvidence(nonce, version !== undefined ? { version } : {});
        if (o.out) writeFileAtomic(o.out, `${r.json}\n`);
        const hcl = parseHclReport(r.evidence.hclReport);
        const tdQuote = parseQuote(r.evidence.tdQuote);
        const attest = parseTpmsAttest(r.evidence.tpmQuote.message);
        if (o.json) {
          writeJson({
            ok: true,
            provider: p.describe(),
            tee: r.tee,
            evidenceVersion: r.evidence.version,
            reportData: toHex(r.reportData),
            via: r.via,
            hclReport: { size: hcl.bytes.length, variableDataSize: hcl.variableData.length },
            tdQuote: { version: tdQuote.header.version, size: r.evidence.tdQuote.length },
            tpmQuote: {
              extraData: toHex(attest.extraData),
              pcrDigest: toHex(attest.quote?.pcrDigest ?? new Uint8Array(0)),
            },
            pcrs: pcrsJson(r.evidence.tpmQuote.pcrs),
            ...(o.out ? { out: o.out } : { evidence: JSON.parse(r.json) }),
          });
          return;
        }
        process.stderr.write(
          [
            `HCL report: ${hcl.bytes.length} bytes from ${r.via.hclReport}`,
            `TD quote: v${tdQuote.header.version}, ${r.evidence.tdQuote.length} bytes from ${r.via.tdQuote}`,
            `TPM quote: nonce ${toHex(attest.extraData)} over ${r.evidence.tpmQuote.pcrs.length} PCRs, ${r.via.tpmQuote}`,
            o.out
              ? `wrote az-tdx-vtpm evidence v${r.evidence.version} to ${o.out}`
              : `az-tdx-vtpm evidence v${r.evidence.version} on stdout`,
          ].join("\n") + "\n",
        );
        if (!o.out) process.stdout.write(`${r.json}\n`);
      },
    );
}
