import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import {
  type AzTdxVtpmEvidence,
  type AzTdxVtpmEvidenceVersion,
  HCL_HW_REPORT_OFFSET,
  hclHashTypeName,
  hclReportTypeName,
  parseHclReport,
  parseHclVarData,
  parseQuote,
  parseTdReport,
  parseTpmsAttest,
  serializeAzTdxVtpmEvidence,
  toHex,
} from "../../abi/index.js";
import { initDataMrConfigId, readInitData } from "../../attest/index.js";
import { TdxError } from "../../errors.js";
import { azureTpmQuote, hclReportWithReportData, readHclReport, Tpm2Client } from "../../guest/index.js";
import {
  createSimAzureParavisor,
  createSimPlatform,
  defaultTdDescription,
  expectationFor,
  initSimAzureParavisor,
  initSimPlatform,
  loadSimPlatform,
  newSimAttestationKey,
  SCENARIOS,
  type SimPlatform,
} from "../../sim/index.js";
import { Verifier, verifyAzTdxVtpm, verifyQuote } from "../../verify/index.js";
import { hexOption, readInputFile, writeFileAtomic } from "../io.js";
import { writeJson } from "../output.js";
import {
  HeldUntilStarted,
  HTTP_SERVER_PACKAGES,
  loadServer,
  untilSignal,
  writeStartupLine,
} from "../servers.js";

/** --report-data: up to 64 bytes of hex, zero-padded to 64. */
function reportDataArg(hex: string): Uint8Array {
  const out = new Uint8Array(64);
  out.set(hexOption(hex, "report-data", 64, "SIM_REPORT_DATA_INVALID"));
  return out;
}

function versionArg(v: string): 4 | 5 {
  if (v === "4") return 4;
  if (v === "5") return 5;
  throw new TdxError("SIM_QUOTE_VERSION", `--quote-version ${v} is not supported`, {
    field: "version",
    hint: "use --quote-version 4 or --quote-version 5",
  });
}

type PlatformKind = "tdx" | "azure";

function platformArg(v: string | undefined): PlatformKind {
  if (v === undefined || v === "tdx") return "tdx";
  if (v === "azure") return "azure";
  throw new TdxError("SIM_PLATFORM", `--platform ${v} is not tdx or azure`, {
    field: "platform",
    hint: "tdx: a TD with the TDX guest interfaces; azure: an Azure TDX confidential VM (paravisor with vTPM, az-tdx-vtpm evidence)",
  });
}

function evidenceVersionArg(v: string): AzTdxVtpmEvidenceVersion {
  if (v === "0" || v === "1" || v === "2") return Number(v) as AzTdxVtpmEvidenceVersion;
  throw new TdxError("SIM_EVIDENCE_VERSION", `--evidence-version ${v} is not 0, 1 or 2`, {
    field: "evidence-version",
    hint: "az-tdx-vtpm evidence versions are 0, 1 and 2 (Trustee's current attester: 2)",
  });
}

/** MRCONFIGID (hex) for an init-data document: its digest with the declared algorithm, padded to 48 bytes. */
function initDataMrConfigIdHex(file: string): string {
  const body = Buffer.from(readInputFile(file)).toString("utf8");
  return toHex(initDataMrConfigId(readInitData({ format: "toml", body }).digest));
}

function requireState(dir: string | undefined): string {
  if (!dir) {
    throw new TdxError("SIM_STATE_REQUIRED", "--sim-state DIR is required", {
      field: "sim-state",
      hint: "create a platform with `tdx-attest sim init --sim-state DIR` and pass the same --sim-state to every sim command",
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
  // `sim quote --quote-version 5` and `demo --version 5` name the quote version: program options (the
  // program's own --version) are then only recognised before the subcommand.
  program.enablePositionalOptions();
  const sim = program
    .command("sim")
    .description("simulated TDX platform: TDX module, Quoting Enclave, Intel-like PKI and collateral");

  sim
    .command("init")
    .description("create a simulated platform (keys, certificates, a TD) in a state directory")
    .requiredOption("--sim-state <dir>", "state directory to create")
    .option("--scenario <name>", `TCB scenario: ${SCENARIOS.join(", ")}`, "up-to-date")
    .option("--tdx-module <version>", "TDX module generation: 1.5 or 1.0", "1.5")
    .option("--pck-ca <ca>", "PCK certificate issuer: platform or processor", "platform")
    .option(
      "--init-data <file>",
      "init-data document (TOML): the TD's MRCONFIGID is its digest, as a host sets it",
    )
    .option(
      "--platform <kind>",
      "tdx (default), or azure: an Azure TDX confidential VM (paravisor with vTPM; the guest's sim provider then makes az-tdx-vtpm evidence)",
      "tdx",
    )
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  tdx-attest sim init --sim-state ./sim\n  tdx-attest sim init --sim-state ./sim-ood --scenario out-of-date\n" +
        "  tdx-attest sim init --sim-state ./az --platform azure\n" +
        "\nThe root CA to trust is written to DIR/root-ca.pem. With --platform azure the vTPM's attestation key is\n" +
        "DIR/azure-ak.key and the VM's identity DIR/azure.json; `tdx-attest evidence --provider sim --sim-state DIR`\n" +
        "then collects az-tdx-vtpm evidence as on an Azure TDX VM.",
    )
    .action(
      async (o: {
        simState: string;
        scenario: string;
        tdxModule: string;
        pckCa: string;
        initData?: string;
        platform: string;
        json?: boolean;
      }) => {
        const kind = platformArg(o.platform);
        if (kind === "azure" && o.initData !== undefined)
          throw new TdxError("SIM_PLATFORM", "--init-data does not apply to --platform azure", {
            field: "init-data",
            hint: "on Azure the paravisor owns MRCONFIGID; Trustee binds init-data there through vTPM PCR 8, which the simulated Azure TD does not persist",
          });
        // The AK is made before anything is written, so that a failure leaves no half-made Azure state.
        const ak = kind === "azure" ? newSimAttestationKey() : null;
        const p = await initSimPlatform(o.simState, {
          scenario: o.scenario,
          tdxModule: o.tdxModule as "1.0" | "1.5",
          pckCa: o.pckCa as "platform" | "processor",
          ...(o.initData
            ? { td: { ...defaultTdDescription(), mrConfigId: initDataMrConfigIdHex(o.initData) } }
            : {}),
        });
        const pv = ak ? await initSimAzureParavisor(o.simState, { platform: p, attestationKey: ak }) : null;
        const azure = pv ? { akName: toHex(pv.vtpm.akName), vmUniqueId: pv.vmUniqueId } : null;
        if (o.json)
          return writeJson({
            state: o.simState,
            platform: kind,
            ...describe(p),
            ...(azure ? { azure } : {}),
          });
        process.stdout.write(
          `created simulated platform in ${o.simState} (scenario ${p.scenario}, TDX module ${p.tdxModuleVersion})\n` +
            `  trust anchor: ${o.simState}/root-ca.pem\n  MRTD: ${toHex(p.tdState.mrTd)}\n` +
            `  expected verdict: ${p.expectation.tcbStatus ?? `failure (${p.expectation.error})`}\n` +
            (azure
              ? `  Azure TDX confidential VM: paravisor with vTPM, AK 0x81000003 (TPM name ${azure.akName}), vmUniqueId ${azure.vmUniqueId}\n` +
                `  evidence: tdx-attest evidence --provider sim --sim-state ${o.simState} --nonce TEXT --out evidence.json\n`
              : ""),
        );
      },
    );

  sim
    .command("report")
    .description("TDG.MR.REPORT: a 1024-byte TDREPORT for REPORTDATA")
    .requiredOption("--sim-state <dir>", "state directory from `sim init`")
    .requiredOption("--report-data <hex>", "up to 64 bytes of hex (zero-padded)")
    .option("--out <file>", "write the binary TDREPORT here (default: hex on stdout)")
    .option("--json", "print {tdReport (hex), size, reportData, out} as JSON")
    .action(async (o: { simState: string; reportData: string; out?: string; json?: boolean }) => {
      const p = await loadSimPlatform(requireState(o.simState));
      const reportData = reportDataArg(o.reportData);
      const r = p.report(reportData);
      if (o.out) writeFileAtomic(o.out, r);
      if (o.json)
        return writeJson({
          tdReport: toHex(r),
          size: r.length,
          reportData: toHex(reportData),
          out: o.out ?? null,
        });
      if (!o.out) process.stdout.write(`${toHex(r)}\n`);
    });

  sim
    .command("quote")
    .description("take a TDREPORT and have the Quoting Enclave sign a quote")
    .requiredOption("--sim-state <dir>", "state directory from `sim init`")
    .requiredOption("--report-data <hex>", "up to 64 bytes of hex (zero-padded)")
    .option(
      "--quote-version <n>",
      "quote version 4 or 5 (default: the TD QE's choice: 4, or 5 after a TD-preserving module update)",
    )
    .option("--out <file>", "write the binary quote here (default: hex on stdout)")
    .option("--json", "print {quote (hex), size, version, reportData, out} as JSON")
    .action(
      async (o: {
        simState: string;
        reportData: string;
        quoteVersion?: string;
        out?: string;
        json?: boolean;
      }) => {
        const p = await loadSimPlatform(requireState(o.simState));
        const reportData = reportDataArg(o.reportData);
        const q = p.quote(
          reportData,
          o.quoteVersion === undefined ? {} : { version: versionArg(o.quoteVersion) },
        );
        if (o.out) writeFileAtomic(o.out, q);
        if (o.json)
          return writeJson({
            quote: toHex(q),
            size: q.length,
            version: q[0]! | (q[1]! << 8),
            reportData: toHex(reportData),
            out: o.out ?? null,
          });
        if (!o.out) process.stdout.write(`${toHex(q)}\n`);
      },
    );

  sim
    .command("collateral")
    .description("issue the collateral for the platform's quotes (JSON format of the shared vectors)")
    .requiredOption("--sim-state <dir>", "state directory from `sim init`")
    .option("--out <file>", "output file (default: stdout)")
    .action(async (o: { simState: string; out?: string }) => {
      const p = await loadSimPlatform(requireState(o.simState));
      const json = await p.collateralJson();
      if (o.out) writeFileAtomic(o.out, json);
      else process.stdout.write(json);
    });

  sim
    .command("extend")
    .description("TDG.MR.RTMR.EXTEND: extend an RTMR with a 48-byte digest (persisted in the state)")
    .requiredOption("--sim-state <dir>", "state directory from `sim init`")
    .requiredOption("--rtmr <index>", "RTMR index 0..3")
    .option("--digest <hex>", "48-byte digest in hex")
    .option("--data <text>", "or: text whose SHA-384 is extended")
    .action(async (o: { simState: string; rtmr: string; digest?: string; data?: string }) => {
      const p = await loadSimPlatform(requireState(o.simState));
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
    .requiredOption("--sim-state <dir>", "state directory from `sim init`")
    .option("--listen <host:port>", "address to listen on", "127.0.0.1:8081")
    .addHelpText(
      "after",
      "\nPaths: /sgx/certification/v4/pckcrl?ca=platform|processor[&encoding=der], /tdx/certification/v4/tcb?fmspc=90C06F000000,\n" +
        "       /tdx/certification/v4/qe/identity, /sgx/certification/v4/rootcacrl, /IntelSGXRootCA.der",
    )
    .option(
      "--json",
      "print the start-up as one JSON object on stdout (url, port, state, scenario, the simulated root and its SHA-256) instead of the banner; the request log follows as JSON lines",
    )
    .action(async (o: { simState: string; listen: string; json?: boolean }) => {
      const { buildPcsServer, parseListen } = await loadServer(
        "pcs serve",
        HTTP_SERVER_PACKAGES,
        () => import("../../server/pcs.js"),
      );
      const p = await loadSimPlatform(requireState(o.simState));
      const { host, port } = parseListen(o.listen);
      const requestLog = o.json ? new HeldUntilStarted() : undefined;
      const app = buildPcsServer({ platform: p, logger: requestLog ? { stream: requestLog } : true });
      const address = await app.listen({ host, port });
      const stopped = untilSignal(() => app.close());
      if (requestLog) {
        const bound = app.server.address();
        // Named as the verifier names it (the simulated root carries Intel's subject; its SHA-256 tells it apart).
        const [root] = new Verifier({ trustAnchors: [p.rootCaPem] }).trustRoots;
        writeStartupLine({
          server: "pcs",
          url: address,
          host,
          port: bound && typeof bound === "object" ? bound.port : port,
          simState: resolve(o.simState),
          scenario: p.scenario,
          trustRoots: [{ ...root, simulated: true, file: join(resolve(o.simState), "root-ca.pem") }],
        });
        requestLog.release();
      } else process.stderr.write(`simulated PCS for ${o.simState} (scenario ${p.scenario}) on ${address}\n`);
      await stopped;
      process.exit(0);
    });

  program
    .command("demo")
    .description("create a simulated TD, take a report, make a quote and its collateral, and verify it")
    .option("--scenario <name>", `TCB scenario: ${SCENARIOS.join(", ")}`, "up-to-date")
    .option("--quote-version <n>", "quote version 4 or 5 (default 5; tdx only)")
    .option(
      "--platform <kind>",
      "tdx (default), or azure: the az-tdx-vtpm flow of an Azure TDX confidential VM on a simulated paravisor",
      "tdx",
    )
    .option("--evidence-version <n>", "azure: az-tdx-vtpm evidence version 0, 1 or 2", "2")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  tdx-attest demo\n  tdx-attest demo --scenario revoked-pck --quote-version 4\n" +
        "  tdx-attest demo --platform azure        # HCL report, AK binding, TD quote, TPM quote, PCRs, verdict\n",
    )
    .action(
      async (o: {
        scenario: string;
        quoteVersion?: string;
        platform: string;
        evidenceVersion: string;
        json?: boolean;
      }) => {
        if (platformArg(o.platform) === "azure") {
          if (o.quoteVersion !== undefined)
            throw new TdxError("SIM_QUOTE_VERSION", "--quote-version does not apply to --platform azure", {
              field: "quote-version",
              hint: "on Azure the TD quote comes from IMDS, whose Quoting Enclave picks its version; leave --quote-version out",
            });
          await runAzureDemo(o.scenario, evidenceVersionArg(o.evidenceVersion), o.json === true);
          return;
        }
        await runDemo(o.scenario, versionArg(o.quoteVersion ?? "5"), o.json === true);
      },
    );
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

/** `demo --platform azure`: the az-tdx-vtpm flow on a simulated Azure paravisor, step by step, in this process. */
async function runAzureDemo(
  scenario: string,
  version: AzTdxVtpmEvidenceVersion,
  json: boolean,
): Promise<void> {
  const out: Record<string, unknown> = { platform: "azure", evidenceVersion: version };
  const say = (s: string) => {
    if (!json) process.stdout.write(`${s}\n`);
  };
  const short = (b: Uint8Array, n = 16) => `${toHex(b).slice(0, n * 2)}${b.length > n ? "..." : ""}`;
  say(
    `1. Creating a simulated TDX platform (scenario ${scenario}) and an Azure-like paravisor with a vTPM ...`,
  );
  const pv = await createSimAzureParavisor({ scenario });
  const p = pv.platform;
  say(`   TDX module ${p.tdxModuleVersion}, TEE_TCB_SVN ${toHex(p.module.teeTcbSvn)}, FMSPC 90C06F000000`);
  say(`   the paravisor's TD: MRTD ${toHex(p.tdState.mrTd)} (RTMRs zero, as on Azure)`);
  say(`   vTPM: RSA-2048 attestation key at 0x81000003, TPM name ${toHex(pv.vtpm.akName)}`);
  say("   simulated measured boot extended PCRs 0-7, 9, 10, 12 and 14 (SHA-1 and SHA-256 banks)");
  out.scenario = p.scenario;
  out.mrTd = toHex(p.tdState.mrTd);
  out.akName = toHex(pv.vtpm.akName);

  // The guest's side runs the project's raw TPM 2.0 client over the vTPM's command interface, as over /dev/tpmrm0.
  const tpm = new Tpm2Client({ transmit: async (cmd) => pv.vtpm.execute(cmd) });
  const nonce = new Uint8Array(createHash("sha384").update(`demo challenge ${Date.now()}`).digest());
  say(
    `2. The relying party's nonce: SHA-384 of a challenge (48 bytes, like a KBS runtime-data digest): ${short(nonce)}`,
  );
  let hclBytes: Uint8Array;
  if (version >= 2) {
    say(
      "   guest: TPM2_NV_DefineSpace + TPM2_NV_Write of the nonce to NV 0x01400002 (owner auth, raw TPM 2.0 commands)",
    );
    hclBytes = await hclReportWithReportData(tpm, nonce, { settleMs: 0 });
    say(
      "   paravisor: regenerates the HCL report with the nonce in its var data's user-data (Azure takes ~3 s)",
    );
  } else {
    say(
      `   evidence v${version}: the HCL report is read as it is (no report data written; the nonce is bound only by the TPM quote)`,
    );
    hclBytes = await readHclReport(tpm);
  }
  const hcl = parseHclReport(hclBytes);
  const varData = parseHclVarData(hcl.variableData);
  say(`   guest: TPM2_NV_Read of NV 0x01400001 in chunks: the HCL report, ${hclBytes.length} bytes`);
  say(
    `   HCL report: signature HCLA, version ${hcl.header.version}, report type ${hclReportTypeName(hcl.requestData.reportType)}, ` +
      `hash ${hclHashTypeName(hcl.requestData.reportDataHashType)}, var data ${hcl.variableData.length} bytes of JSON`,
  );
  say(`   var data user-data: ${varData.userDataHex ? `${varData.userDataHex.slice(0, 32)}...` : "(none)"}`);
  out.hclReport = {
    size: hclBytes.length,
    reportType: hclReportTypeName(hcl.requestData.reportType),
    variableDataSize: hcl.variableData.length,
    userData: varData.userDataHex,
  };

  say("3. AK binding: the var data carries the vTPM's attestation key, and the TD report binds the var data");
  const ak = varData.akPub;
  say(
    `   var data key "HCLAkPub": ${ak?.kty} ${ak?.n ? Buffer.from(ak.n, "base64url").length * 8 : "?"} bits, n = ${ak?.n?.slice(0, 24)}...`,
  );
  const varHash = new Uint8Array(createHash("sha256").update(hcl.variableData).digest());
  const tdReportBytes = hclBytes.slice(HCL_HW_REPORT_OFFSET, HCL_HW_REPORT_OFFSET + 1024);
  const reportData = parseTdReport(tdReportBytes).reportMacStruct.reportData;
  const bound = toHex(varHash) === toHex(reportData.subarray(0, 32));
  say(`   SHA-256(var data)           = ${toHex(varHash)}`);
  say(
    `   TDREPORT REPORTDATA[0..32]  = ${toHex(reportData.subarray(0, 32))} ${bound ? "(equal)" : "(DIFFERENT)"}`,
  );
  out.akBinding = { varDataSha256: toHex(varHash), reportData: toHex(reportData), equal: bound };

  say(
    '4. IMDS: POST {"report": base64url(TDREPORT)} to /acc/tdquote -> the TD quote from the Quoting Enclave',
  );
  const imdsAnswer = JSON.parse(
    pv.imdsTdQuote(JSON.stringify({ report: Buffer.from(tdReportBytes).toString("base64url") })),
  ) as { quote: string };
  const tdQuote = new Uint8Array(Buffer.from(imdsAnswer.quote, "base64url"));
  const q = parseQuote(tdQuote);
  say(
    `   TD quote v${q.header.version}, ${tdQuote.length} bytes; its REPORTDATA is the paravisor's (not the nonce)`,
  );
  out.tdQuote = { version: q.header.version, size: tdQuote.length };

  say("5. TPM2_Quote with the AK over SHA-256 PCRs 0..23, qualifying data = the nonce; then TPM2_PCR_Read");
  const tq = await azureTpmQuote(tpm, nonce);
  const attest = parseTpmsAttest(tq.message);
  say(
    `   TPMS_ATTEST: ${tq.message.length} bytes, type QUOTE, extraData ${short(attest.extraData)}, ` +
      `pcrDigest ${short(attest.quote!.pcrDigest)}`,
  );
  say(`   signature: RSASSA-PKCS1-v1_5 / SHA-256, ${tq.signature.length} bytes`);
  const pcrs = Object.fromEntries(tq.pcrs.map((v, i) => [`pcr${String(i).padStart(2, "0")}`, toHex(v)]));
  say("   PCRs (SHA-256):");
  for (const [k, v] of Object.entries(pcrs)) say(`     ${k.toUpperCase()} ${v}`);
  out.nonce = toHex(nonce);
  out.pcrs = pcrs;

  const evidence: AzTdxVtpmEvidence = { version, hclReport: hclBytes, tdQuote, tpmQuote: tq };
  const evidenceJson = serializeAzTdxVtpmEvidence(evidence);
  say(`   az-tdx-vtpm evidence v${version} (Trustee's JSON): ${evidenceJson.length} characters`);

  say(
    "6. Verifying: the TD quote by Intel's DCAP rules with the simulated root CA as the only trust anchor,",
  );
  say("   then the HCL report, the AK, the TPM quote signature, the nonce and the PCR digest");
  const now = new Date();
  const collateral = await pv.collateral({ now });
  const exp = p.expectation;
  const result = verifyAzTdxVtpm(evidenceJson, collateral, { now, nonce, trustAnchors: [pv.rootCaPem] });
  const mark = (c: { passed: boolean; nonFatal?: boolean }) =>
    c.passed ? "ok  " : c.nonFatal ? "note" : "FAIL";
  // The TD quote's DCAP checks in one line when they all passed (`verify --tee az-tdx-vtpm` lists each).
  const dcap = result.checks.filter((c) => c.name.startsWith("tdQuote."));
  if (dcap.length > 0 && dcap.every((c) => c.passed))
    say(
      `   ok   tdQuote: ${dcap.length} DCAP checks (PCK chain and CRLs, TCB Info, QE Identity, QE report, quote signature, TCB level)`,
    );
  else for (const c of dcap) say(`   ${mark(c)} ${c.name}${c.detail ? `: ${c.detail}` : ""}`);
  for (const c of result.checks.filter((x) => !x.name.startsWith("tdQuote.")))
    say(`   ${mark(c)} ${c.name}${c.detail ? `: ${c.detail}` : ""}`);
  out.checks = result.checks.map((c) => ({
    name: c.name,
    passed: c.passed,
    ...(c.nonFatal ? { nonFatal: true } : {}),
  }));
  out.expected = exp;
  out.verdict = {
    ok: result.ok,
    tcbStatus: result.tcbStatus,
    advisoryIds: result.advisoryIds,
    collateralExpired: result.collateralExpired,
    error: result.error ?? null,
  };
  if (result.ok) {
    const adv = result.advisoryIds?.length ? `, advisories ${result.advisoryIds.join(" ")}` : "";
    say(
      `   verified: TCB status ${result.tcbStatus}${adv}${result.collateralExpired ? " (collateral EXPIRED)" : ""}; the PCRs above are proven for this nonce`,
    );
  } else {
    say(`   REJECTED: ${result.error?.code ?? "unknown"}: ${result.error?.message ?? ""}`);
  }
  // The scenario's verdict is about the TD quote; every Azure check must pass whatever it is.
  const azureFailed = result.checks.some((c) => !c.passed && !c.nonFatal && !c.name.startsWith("tdQuote."));
  const matches =
    !azureFailed &&
    (exp.tcbStatus === null
      ? result.ok === false
      : result.tcbStatus === exp.tcbStatus && result.collateralExpired === exp.collateralExpired);
  out.matchesExpected = matches;
  say(
    `   ${matches ? "matches" : "DOES NOT match"} the verdict Intel's rules give for this scenario (${exp.tcbStatus ?? `failure (${exp.error})`})${azureFailed ? ", and an Azure check failed" : ""}`,
  );
  if (!matches) process.exitCode = 1;
  if (json) writeJson(out);
}
