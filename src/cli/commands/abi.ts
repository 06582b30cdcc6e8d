import type { Command } from "commander";
import {
  azTdxVtpmEvidenceToJson,
  decodeAttestationInput,
  decodeAzureInput,
  hclReportToJson,
  quoteToJson,
  tdReportToJson,
  tpmsAttestToJson,
} from "../../abi/index.js";
import { readInputFile } from "../io.js";
import { writeJson } from "../output.js";
import { renderTree } from "../tree.js";

/** Registers `decode`. */
export function registerAbiCommands(program: Command): void {
  program
    .command("decode")
    .description(
      "decode a quote (v3/v4/v5), a TDREPORT, an Azure HCL report or TPMS_ATTEST (binary, hex or base64), or az-tdx-vtpm evidence JSON, and print its fields",
    )
    .argument("[file]", "input file, or - for stdin", "-")
    .option(
      "--json",
      "print JSON (byte fields as lowercase hex, integers as numbers, attribute bits by name)",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  tdx-attest decode quote.bin\n  tdx-attest decode --json quote.hex | jq .body.mr_td\n" +
        "  base64 -w0 quote.bin | tdx-attest decode -\n  tdx-attest decode az-evidence.json   # az-tdx-vtpm: HCL report, TD quote, TPM quote\n\nExit codes: 0 decoded, 2 malformed input (error code, offset and hint printed).",
    )
    .action((file: string, opts: { json?: boolean }) => {
      const input = readInputFile(file);
      const az = decodeAzureInput(input);
      if (az) {
        const json =
          az.kind === "az-tdx-vtpm"
            ? azTdxVtpmEvidenceToJson(az.evidence)
            : az.kind === "hcl_report"
              ? hclReportToJson(az.hclReport)
              : tpmsAttestToJson(az.attest);
        if (opts.json) {
          writeJson({ encoding: az.encoding, ...json });
          return;
        }
        const title =
          az.kind === "az-tdx-vtpm"
            ? `az-tdx-vtpm evidence v${az.evidence.version} (HCL report ${az.evidence.hclReport.length} bytes, TD quote ${az.evidence.tdQuote.length} bytes, TPM quote over ${az.evidence.tpmQuote.pcrs.length} PCRs)`
            : az.kind === "hcl_report"
              ? `Azure HCL report, ${az.bytes.length} bytes, ${az.encoding} input`
              : `TPMS_ATTEST, ${az.bytes.length} bytes, ${az.encoding} input`;
        const { kind: _k, size: _s, ...rest } = json;
        process.stdout.write(`${title}\n${renderTree(rest, "  ")}\n`);
        return;
      }
      const decoded = decodeAttestationInput(input);
      const json = decoded.kind === "quote" ? quoteToJson(decoded.quote) : tdReportToJson(decoded.tdReport);
      if (opts.json) {
        writeJson({ encoding: decoded.encoding, ...json });
        return;
      }
      const title =
        decoded.kind === "quote"
          ? `Quote v${decoded.quote.header.version} (${decoded.quote.header.teeType === 0x81 ? "TDX" : "SGX"}), ${decoded.bytes.length} bytes, ${decoded.encoding} input` +
            (decoded.quote.trailing.length ? `, ${decoded.quote.trailing.length} trailing bytes kept` : "")
          : `TDREPORT, ${decoded.bytes.length} bytes, ${decoded.encoding} input`;
      const { kind: _k, size: _s, ...rest } = json;
      process.stdout.write(`${title}\n${renderTree(rest, "  ")}\n`);
    });
}
