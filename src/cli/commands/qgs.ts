import { join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { toHex } from "../../abi/index.js";
import { writeCollateral } from "../../collateral/index.js";
import { TdxError } from "../../errors.js";
import {
  formatQgsAddress,
  openSimQuotingBackend,
  type PckCaName,
  parseFmspc,
  type QgsServerEvent,
  qgsGetCollateral,
  qgsGetPlatformInfo,
  qgsGetQuote,
  qgsGetQuoteBare,
  startQgsServer,
} from "../../qgs/index.js";
import { Verifier } from "../../verify/index.js";
import { readInputFile, writeFileAtomic } from "../io.js";
import { writeJson } from "../output.js";
import { untilSignal, writeStartupLine } from "../servers.js";
import { quoteVersionArg } from "./guest.js";

function timeoutArg(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms <= 0)
    throw new TdxError("QGS_BAD_TIMEOUT", `--timeout-ms ${text} is not a positive integer`, {
      field: "timeout-ms",
      hint: "Intel's QGS, QEMU and the kernel use 30000",
    });
  return ms;
}

/** `--qgs`, or `--connect` (the older spelling of `qgs quote`). */
function addressArg(o: { qgs?: string; connect?: string }): string {
  const address = o.qgs ?? o.connect;
  if (address === undefined)
    throw new TdxError("QGS_NO_ADDRESS", "no QGS address given", {
      field: "qgs",
      hint: "pass --qgs unix:PATH, tcp:HOST:PORT or vsock:[CID:]PORT (Intel's QGS: vsock:2:4050 from a TD)",
    });
  return address;
}

const QGS_ADDRESS_HELP = "QGS address: unix:PATH, tcp:HOST:PORT or vsock:[CID:]PORT";

function serveLogLine(e: QgsServerEvent): string {
  switch (e.type) {
    case "quote":
      return `quote ${e.form} ${e.bytes} bytes in ${e.ms} ms`;
    case "collateral":
      return `collateral FMSPC ${e.fmspc} (${e.pckCa} CA) ${e.bytes} bytes in ${e.ms} ms`;
    case "platform-info":
      return `platform info in ${e.ms} ms`;
    case "refused":
      return `refused ${e.form}: ${e.code}: ${e.message}`;
    case "timeout":
      return "connection timed out";
    case "disconnect":
      return `peer disconnected after ${e.received} bytes`;
  }
}

/** Registers `qgs serve`, `qgs quote`, `qgs collateral` and `qgs platform-info`. */
export function registerQgsCommands(program: Command): void {
  const qgs = program
    .command("qgs")
    .description("Quote Generation Service (Intel's QGS message protocol 1.1): serve it, or ask one");
  qgs
    .command("serve")
    .description(
      "serve quotes, collateral and platform info of the simulated platform over a unix socket, TCP or vsock",
    )
    .requiredOption(
      "--sim-state <dir>",
      "simulated platform state directory (tdx-attest sim init --sim-state DIR)",
    )
    .option("--listen <address>", "unix:PATH, tcp:HOST:PORT or vsock:PORT (default unix:STATE/qgs.socket)")
    .option("--quote-version <n>", "quote version: 4 (default) or 5")
    .option("--timeout-ms <ms>", "per-connection deadline", "30000")
    .option("--quiet", "do not log each request on stderr")
    .option(
      "--json",
      "print the start-up as one JSON object on stdout (address, backend, state, scenario, the simulated root and its SHA-256) instead of the banner; the request log on stderr and the closing counts become JSON lines",
    )
    .addHelpText(
      "after",
      "\nAnswers GET_QUOTE_REQ (and the bare 1024-byte TDREPORT), GET_COLLATERAL_REQ (the platform's FMSPC, either\n" +
        "PCK CA) and GET_PLATFORM_INFO_REQ; closes the connection on any other message type, as Intel's QGS does.\n" +
        "\nExamples:\n  tdx-attest qgs serve --sim-state ./data/sim\n  tdx-attest qgs serve --sim-state ./data/sim --listen vsock:4050\n" +
        "  tdx-attest qgs serve --sim-state ./data/sim --listen tcp:127.0.0.1:4050\n",
    )
    .action(
      async (o: {
        simState: string;
        listen?: string;
        quoteVersion?: string;
        timeoutMs: string;
        quiet?: boolean;
        json?: boolean;
      }) => {
        const qv = quoteVersionArg(o.quoteVersion);
        const timeoutMs = timeoutArg(o.timeoutMs);
        const { platform, backend } = await openSimQuotingBackend(o.simState, qv ? { quoteVersion: qv } : {});
        const listen = o.listen ?? `unix:${join(o.simState, "qgs.socket")}`;
        const log = (e: QgsServerEvent) => {
          if (o.quiet) return;
          const at = new Date().toISOString();
          process.stderr.write(
            o.json ? `${JSON.stringify({ time: at, ...e })}\n` : `${at} ${serveLogLine(e)}\n`,
          );
        };
        const server = await startQgsServer({ backend, listen, timeoutMs, onEvent: log });
        const stopped = untilSignal(() => server.close());
        if (o.json) {
          const [root] = new Verifier({ trustAnchors: [platform.rootCaPem] }).trustRoots;
          const stateDir = resolve(o.simState);
          writeStartupLine({
            server: "qgs",
            address: formatQgsAddress(server.address),
            ...server.address,
            backend: backend.describe(),
            simState: stateDir,
            scenario: platform.scenario,
            ...(qv ? { quoteVersion: qv } : {}),
            trustRoots: [{ ...root, simulated: true, file: join(stateDir, "root-ca.pem") }],
          });
        } else
          process.stdout.write(
            `qgs listening on ${formatQgsAddress(server.address)} (${backend.describe()})\n`,
          );
        await stopped;
        const st = server.stats;
        if (o.json) process.stderr.write(`${JSON.stringify({ stopped: true, ...st })}\n`);
        else
          process.stderr.write(
            `qgs stopped: ${st.connections} connections, ${st.quotes} quotes, ${st.collaterals} collateral, ` +
              `${st.platformInfos} platform info, ${st.refused} refused\n`,
          );
      },
    );

  qgs
    .command("quote")
    .description("send a TDREPORT file to a QGS and write the quote it returns")
    .option("--qgs <address>", QGS_ADDRESS_HELP)
    .addOption(new Option("--connect <address>", "same as --qgs").hideHelp())
    .requiredOption("--report <file>", "the 1024-byte TDREPORT (from `tdx-attest report --out`)")
    .option("--out <file>", "write the raw quote here (atomically) instead of hex on stdout")
    .option("--bare", "use the bare form (raw TDREPORT in, raw quote out) instead of GET_QUOTE_REQ")
    .option("--timeout-ms <ms>", "timeout", "30000")
    .addHelpText(
      "after",
      "\nExamples:\n  tdx-attest qgs quote --qgs unix:./data/sim/qgs.socket --report td.report --out quote.bin\n" +
        "  tdx-attest qgs quote --qgs vsock:2:4050 --report td.report --bare --out quote.bin\n",
    )
    .action(
      async (o: {
        qgs?: string;
        connect?: string;
        report: string;
        out?: string;
        bare?: boolean;
        timeoutMs: string;
      }) => {
        const report = readInputFile(o.report);
        const opts = { address: addressArg(o), timeoutMs: timeoutArg(o.timeoutMs) };
        const quote = o.bare ? await qgsGetQuoteBare(report, opts) : (await qgsGetQuote(report, opts)).quote;
        if (o.out) {
          writeFileAtomic(o.out, quote);
          process.stderr.write(`wrote ${quote.length}-byte quote to ${o.out}\n`);
        } else process.stdout.write(`${toHex(quote)}\n`);
      },
    );

  qgs
    .command("collateral")
    .description(
      "ask a QGS for the collateral of an FMSPC and PCK CA (GET_COLLATERAL_REQ) and write it as collateral JSON",
    )
    .requiredOption("--qgs <address>", QGS_ADDRESS_HELP)
    .requiredOption("--fmspc <hex>", "FMSPC of the platform (12 hex digits, from its PCK certificate)")
    .addOption(
      new Option("--ca <name>", "the CA that issued the platform's PCK certificate")
        .choices(["platform", "processor"])
        .makeOptionMandatory(),
    )
    .option("--out <file>", "write the collateral JSON here (atomically) instead of on stdout")
    .option("--timeout-ms <ms>", "timeout", "30000")
    .addHelpText(
      "after",
      "\nThe file has the format of `collateral fetch` (dcap-qvl's QuoteCollateralV3), so `verify --collateral`\n" +
        "reads it. The QGS answers from its quote provider library (PCCS); with no collateral for the FMSPC and CA\n" +
        "it answers QGS_UNEXPECTED.\n" +
        "\nExamples:\n" +
        "  tdx-attest qgs collateral --qgs unix:./data/sim/qgs.socket --fmspc 90C06F000000 --ca platform --out c.json\n" +
        "  tdx-attest verify quote.bin --collateral c.json --trust-root ./data/sim/root-ca.pem\n" +
        "  tdx-attest qgs collateral --qgs vsock:2:4050 --fmspc 90C06F000000 --ca platform --out c.json\n",
    )
    .action(async (o: { qgs: string; fmspc: string; ca: PckCaName; out?: string; timeoutMs: string }) => {
      const fmspc = parseFmspc(o.fmspc);
      const { collateral, parts } = await qgsGetCollateral(fmspc, o.ca, {
        address: o.qgs,
        timeoutMs: timeoutArg(o.timeoutMs),
      });
      const json = writeCollateral(collateral);
      if (o.out) {
        writeFileAtomic(o.out, json);
        process.stderr.write(
          `wrote ${o.out}: collateral of FMSPC ${toHex(fmspc).toUpperCase()} (${o.ca} CA), ` +
            `version ${parts.majorVersion}.${parts.minorVersion}, from ${o.qgs}\n`,
        );
      } else process.stdout.write(json);
    });

  qgs
    .command("platform-info")
    .description("ask a QGS for its platform's TDQE/PCE ISVSVNs, QE ID and CPUSVN (GET_PLATFORM_INFO_REQ)")
    .requiredOption("--qgs <address>", QGS_ADDRESS_HELP)
    .option("--timeout-ms <ms>", "timeout", "30000")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  tdx-attest qgs platform-info --qgs unix:./data/sim/qgs.socket\n" +
        "  tdx-attest qgs platform-info --qgs vsock:2:4050 --json\n",
    )
    .action(async (o: { qgs: string; timeoutMs: string; json?: boolean }) => {
      const info = await qgsGetPlatformInfo({ address: o.qgs, timeoutMs: timeoutArg(o.timeoutMs) });
      const view = {
        tdqeIsvSvn: info.tdqeIsvSvn,
        pceIsvSvn: info.pceIsvSvn,
        platformId: toHex(info.platformId),
        cpuSvn: toHex(info.cpuSvn),
      };
      if (o.json) {
        writeJson({ ok: true, qgs: o.qgs, ...view });
        return;
      }
      process.stdout.write(
        `TDQE ISVSVN  ${view.tdqeIsvSvn}\nPCE ISVSVN   ${view.pceIsvSvn}\n` +
          `platform id  ${view.platformId} (QE ID)\nCPUSVN       ${view.cpuSvn}\n`,
      );
    });
}
