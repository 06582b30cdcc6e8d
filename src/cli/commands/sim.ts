import { createHash } from "node:crypto";
import type { Command } from "commander";
import { parseQuote, toHex } from "../../abi/index.js";
import { initDataMrConfigId, readInitData } from "../../attest/index.js";
import { TdxError } from "../../errors.js";
import { buildPcsServer, parseListen } from "../../server/pcs.js";
import {
  createSimPlatform,
  defaultTdDescription,
  expectationFor,
  initSimPlatform,
  loadSimPlatform,
  SCENARIOS,
  type SimPlatform,
} from "../../sim/index.js";
import { verifyQuote } from "../../verify/index.js";
import { hexOption, readInputFile, writeFileAtomic } from "../io.js";
import { writeJson } from "../output.js";

/** --report-data: up to 64 bytes of hex, zero-padded to 64. */
function reportDataArg(hex: string): Uint8Array {
  const out = new Uint8Array(64);
  out.set(hexOption(hex, "report-data", 64, "SIM_REPORT_DATA_INVALID"));
  return out;
}

function versionArg(v: string): 4 | 5 {
  if (v === "4") return 4;
  if (v === "5") return 5;
  throw new TdxError("SIM_QUOTE_VERSION", `--version ${v} is not supported`, {
    field: "version",
    hint: "use --version 4 or --version 5",
  });
}

/** MRCONFIGID (hex) for an init-data document: its digest with the declared algorithm, padded to 48 bytes. */
function initDataMrConfigIdHex(file: string): string {
  const body = Buffer.from(readInputFile(file)).toString("utf8");
  return toHex(initDataMrConfigId(readInitData({ format: "toml", body }).digest));
}

function requireState(dir: string | undefined): string {
  if (!dir) {
    throw new TdxError("SIM_STATE_REQUIRED", "--state DIR is required", {
      field: "state",
      hint: "create a platform with `tdx-attest sim init --state DIR` and pass the same --state to every sim command",
    });
  }
  return dir;
}

function describe(p: SimPlatform): Record<string, unknown> {
  return {
    scenario: p.scenario,
    tdxModule: p.tdxModuleVersion,
    pckCa: p.pckCa,
    fmspc: "90C06F000000",
    teeTcbSvn: toHex(p.module.teeTcbSvn),
    teeTcbSvn2: toHex(p.module.teeTcbSvn2),
    mrSeam: toHex(p.module.mrSeam),
    mrTd: toHex(p.tdState.mrTd),
    qeIsvSvn: p.tcb.qeIsvSvn,
    expected: p.expectation,
  };
}

/** Registers `sim init|report|quote|collateral|extend|scenarios`, `pcs serve` and `demo`. */
export function registerSimCommands(program: Command): void {
  // `sim quote --version 5` and `demo --version 5` name the quote version: program options (the
  // program's own --version) are then only recognised before the subcommand.
  program.enablePositionalOptions();
  const sim = program
    .command("sim")
    .description("simulated TDX platform: TDX module, Quoting Enclave, Intel-like PKI and collateral");

  sim
    .command("init")
    .description("create a simulated platform (keys, certificates, a TD) in a state directory")
    .requiredOption("--state <dir>", "state directory to create")
    .option("--scenario <name>", `TCB scenario: ${SCENARIOS.join(", ")}`, "up-to-date")
    .option("--tdx-module <version>", "TDX module generation: 1.5 or 1.0", "1.5")
    .option("--pck-ca <ca>", "PCK certificate issuer: platform or processor", "platform")
    .option(
      "--init-data <file>",
      "init-data document (TOML): the TD's MRCONFIGID is its digest, as a host sets it",
    )
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  tdx-attest sim init --state ./sim\n  tdx-attest sim init --state ./sim-ood --scenario out-of-date\n" +
        "\nThe root CA to trust is written to DIR/root-ca.pem.",
    )
    .action(
      async (o: {
        state: string;
        scenario: string;
        tdxModule: string;
        pckCa: string;
        initData?: string;
        json?: boolean;
      }) => {
        const p = await initSimPlatform(o.state, {
          scenario: o.scenario,
          tdxModule: o.tdxModule as "1.0" | "1.5",
          pckCa: o.pckCa as "platform" | "processor",
          ...(o.initData
            ? { td: { ...defaultTdDescription(), mrConfigId: initDataMrConfigIdHex(o.initData) } }
            : {}),
        });
        if (o.json) return writeJson({ state: o.state, ...describe(p) });
        process.stdout.write(
          `created simulated platform in ${o.state} (scenario ${p.scenario}, TDX module ${p.tdxModuleVersion})\n` +
            `  trust anchor: ${o.state}/root-ca.pem\n  MRTD: ${toHex(p.tdState.mrTd)}\n` +
            `  expected verdict: ${p.expectation.tcbStatus ?? `failure (${p.expectation.error})`}\n`,
        );
      },
    );

  sim
    .command("report")
    .description("TDG.MR.REPORT: a 1024-byte TDREPORT for REPORTDATA")
    .requiredOption("--state <dir>", "state directory from `sim init`")
    .requiredOption("--report-data <hex>", "up to 64 bytes of hex (zero-padded)")
    .option("--out <file>", "write the binary TDREPORT here (default: hex on stdout)")
    .action(async (o: { state: string; reportData: string; out?: string }) => {
      const p = await loadSimPlatform(requireState(o.state));
      const r = p.report(reportDataArg(o.reportData));
      if (o.out) writeFileAtomic(o.out, r);
      else process.stdout.write(`${toHex(r)}\n`);
    });

  sim
    .command("quote")
    .description("take a TDREPORT and have the Quoting Enclave sign a quote")
    .requiredOption("--state <dir>", "state directory from `sim init`")
    .requiredOption("--report-data <hex>", "up to 64 bytes of hex (zero-padded)")
    .option(
      "--version <n>",
      "quote version 4 or 5 (default: the TD QE's choice: 4, or 5 after a TD-preserving module update)",
    )
    .option("--out <file>", "write the binary quote here (default: hex on stdout)")
    .action(async (o: { state: string; reportData: string; version?: string; out?: string }) => {
      const p = await loadSimPlatform(requireState(o.state));
      const q = p.quote(
        reportDataArg(o.reportData),
        o.version === undefined ? {} : { version: versionArg(o.version) },
      );
      if (o.out) writeFileAtomic(o.out, q);
      else process.stdout.write(`${toHex(q)}\n`);
    });

  sim
    .command("collateral")
    .description("issue the collateral for the platform's quotes (JSON format of the shared vectors)")
    .requiredOption("--state <dir>", "state directory from `sim init`")
    .option("--out <file>", "output file (default: stdout)")
    .action(async (o: { state: string; out?: string }) => {
      const p = await loadSimPlatform(requireState(o.state));
      const json = await p.collateralJson();
      if (o.out) writeFileAtomic(o.out, json);
      else process.stdout.write(json);
    });

  sim
    .command("extend")
    .description("TDG.MR.RTMR.EXTEND: extend an RTMR with a 48-byte digest (persisted in the state)")
    .requiredOption("--state <dir>", "state directory from `sim init`")
    .requiredOption("--rtmr <index>", "RTMR index 0..3")
    .option("--digest <hex>", "48-byte digest in hex")
    .option("--data <text>", "or: text whose SHA-384 is extended")
    .action(async (o: { state: string; rtmr: string; digest?: string; data?: string }) => {
      const p = await loadSimPlatform(requireState(o.state));
      let digest: Uint8Array;
      if (o.digest !== undefined) digest = Uint8Array.from(Buffer.from(o.digest.replace(/^0x/i, ""), "hex"));
      else if (o.data !== undefined) digest = new Uint8Array(createHash("sha384").update(o.data).digest());
      else {
        throw new TdxError("SIM_EXTEND_INPUT", "give --digest HEX or --data TEXT", {
          field: "digest",
          hint: "pass a 48-byte SHA-384 digest as hex, or text to hash",
        });
      }
      const v = p.extendRtmr(Number(o.rtmr), digest);
      process.stdout.write(`RTMR${o.rtmr} = ${toHex(v)}\n`);
    });

  sim
    .command("scenarios")
    .description("list the simulation scenarios and the verdict Intel's verifier reaches for each")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => {
      const rows = SCENARIOS.map((s) => ({ scenario: s, ...expectationFor(s) }));
      if (o.json) return writeJson(rows);
      for (const r of rows) {
        const verdict = r.tcbStatus ?? `failure (${r.error})`;
        process.stdout.write(
          `${r.scenario.padEnd(40)} ${verdict}${r.collateralExpired ? " + collateral expired" : ""}  ${r.summary}\n`,
        );
      }
    });

  const pcs = program.command("pcs").description("simulated Intel Provisioning Certification Service");
  pcs
    .command("serve")
    .description("serve a simulated platform's collateral on Intel PCS v4 paths")
    .requiredOption("--state <dir>", "state directory from `sim init`")
    .option("--listen <host:port>", "address to listen on", "127.0.0.1:8081")
    .addHelpText(
      "after",
      "\nPaths: /sgx/certification/v4/pckcrl?ca=platform|processor[&encoding=der], /tdx/certification/v4/tcb?fmspc=90C06F000000,\n" +
        "       /tdx/certification/v4/qe/identity, /sgx/certification/v4/rootcacrl, /IntelSGXRootCA.der",
    )
    .action(async (o: { state: string; listen: string }) => {
      const p = await loadSimPlatform(requireState(o.state));
      const { host, port } = parseListen(o.listen);
      const app = buildPcsServer({ platform: p, logger: true });
      const address = await app.listen({ host, port });
      process.stderr.write(`simulated PCS for ${o.state} (scenario ${p.scenario}) on ${address}\n`);
      const stop = () => {
        void app.close().then(() => process.exit(0));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      await new Promise<never>(() => {});
    });

  program
    .command("demo")
    .description("create a simulated TD, take a report, make a quote and its collateral, and verify it")
    .option("--scenario <name>", `TCB scenario: ${SCENARIOS.join(", ")}`, "up-to-date")
    .option("--version <n>", "quote version 4 or 5", "5")
    .option("--json", "print JSON")
    .action(async (o: { scenario: string; version: string; json?: boolean }) => {
      await runDemo(o.scenario, versionArg(o.version), o.json === true);
    });
}

async function runDemo(scenario: string, version: 4 | 5, json: boolean): Promise<void> {
  const out: Record<string, unknown> = {};
  const say = (s: string) => {
    if (!json) process.stdout.write(`${s}\n`);
  };
  say(`1. Creating a simulated TDX platform (scenario ${scenario}) ...`);
  const p = await createSimPlatform({ scenario });
  say(`   TDX module ${p.tdxModuleVersion}, TEE_TCB_SVN ${toHex(p.module.teeTcbSvn)}, FMSPC 90C06F000000`);
  if (toHex(p.module.teeTcbSvn2) !== toHex(p.module.teeTcbSvn)) {
    say(`   module updated under the running TD: TEE_TCB_SVN2 ${toHex(p.module.teeTcbSvn2)}`);
  }
  say(`   TD built: MRTD ${toHex(p.tdState.mrTd)}`);
  const measurement = new Uint8Array(createHash("sha384").update("tdx-attest demo: application v1").digest());
  p.extendRtmr(2, measurement);
  say(`   RTMR2 extended with SHA-384("tdx-attest demo: application v1") -> ${toHex(p.tdState.rtmr[2])}`);
  const nonce = new Uint8Array(createHash("sha512").update(`demo nonce ${Date.now()}`).digest());
  say(`2. TDG.MR.REPORT with REPORTDATA ${toHex(nonce).slice(0, 32)}...`);
  const report = p.report(nonce);
  say(`   TDREPORT: ${report.length} bytes, MAC bound to this platform`);
  say(`3. Quoting Enclave: verifying the report MAC and signing a v${version} quote ...`);
  const quote = p.quoteFromTdReport(report, { version });
  const parsed = parseQuote(quote);
  say(
    `   Quote v${parsed.header.version}, body type ${parsed.body.type}, ${quote.length} bytes, PCK chain of 3 certificates`,
  );
  say("4. Issuing collateral (TCB Info v3, QE Identity v2, CRLs) signed by the simulated Intel PKI ...");
  const now = new Date();
  const collateral = await p.collateral({ now });
  const tcbInfo = JSON.parse(collateral.tcbInfo) as { tcbEvaluationDataNumber: number; nextUpdate: string };
  say(
    `   TCB Info: FMSPC 90C06F000000, evaluation data number ${tcbInfo.tcbEvaluationDataNumber}, next update ${tcbInfo.nextUpdate}`,
  );
  const exp = p.expectation;
  say(
    `   expected verdict (Intel's rules): ${exp.tcbStatus ?? `failure (${exp.error})`}${exp.collateralExpired ? ", collateral expired" : ""}`,
  );
  out.scenario = p.scenario;
  out.mrTd = toHex(p.tdState.mrTd);
  out.quoteSize = quote.length;
  out.expected = exp;
  say("5. Verifying the quote with the simulated root CA as the only trust anchor ...");
  const result = verifyQuote(quote, collateral, { now, trustAnchors: [p.rootCaPem] });
  out.verdict = {
    ok: result.ok,
    tcbStatus: result.tcbStatus,
    advisoryIds: result.advisoryIds,
    collateralExpired: result.collateralExpired,
    qeIdentityStatus: result.qeIdentityStatus,
    tdxModuleStatus: result.tdxModuleStatus,
    error: result.error ?? null,
  };
  if (result.ok) {
    const adv = result.advisoryIds?.length ? `, advisories ${result.advisoryIds.join(" ")}` : "";
    say(
      `   verified: TCB status ${result.tcbStatus}${adv}${result.collateralExpired ? " (collateral EXPIRED)" : ""}`,
    );
  } else {
    say(`   REJECTED: ${result.error?.code ?? "unknown"}: ${result.error?.message ?? ""}`);
  }
  const matches =
    exp.tcbStatus === null
      ? result.ok === false
      : result.tcbStatus === exp.tcbStatus && result.collateralExpired === exp.collateralExpired;
  out.matchesExpected = matches;
  say(`   ${matches ? "matches" : "DOES NOT match"} the verdict Intel's rules give for this scenario`);
  if (!matches) process.exitCode = 1;
  if (json) writeJson(out);
}
