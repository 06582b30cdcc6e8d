#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { registerAbiCommands } from "./commands/abi.js";
import { registerCollateralCommands } from "./commands/collateral.js";
import { registerEventlogCommands } from "./commands/eventlog.js";
import { registerExplorerCommands } from "./commands/explorer.js";
import { registerGuestCommands } from "./commands/guest.js";
import { registerKbsCommands } from "./commands/kbs.js";
import { registerQgsCommands } from "./commands/qgs.js";
import { registerSimCommands } from "./commands/sim.js";
import { registerVerifyCommands } from "./commands/verify.js";
import { withCurrentOptionNames } from "./legacy-options.js";
import { printError } from "./output.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("tdx-attest")
    .description(
      "Intel TDX remote attestation end to end: decode and verify quotes, run a simulated TDX platform, " +
        "talk to the guest driver and the Quote Generation Service, and release secrets to verified TDs.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    // Before registering: subcommands inherit it, so --help and usage errors never call process.exit.
    .exitOverride();
  registerAbiCommands(program);
  registerSimCommands(program);
  registerVerifyCommands(program);
  registerCollateralCommands(program);
  registerEventlogCommands(program);
  registerExplorerCommands(program);
  registerGuestCommands(program);
  registerQgsCommands(program);
  registerKbsCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(withCurrentOptionNames(argv));
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version output are not errors.
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      )
        return 0;
      return 2;
    }
    printError(e, argv.includes("--json"));
    return 2;
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"));
if (invokedDirectly || process.argv[1]?.endsWith("tdx-attest")) {
  // The reader of our output went away (`tdx-attest ... | head`): stop quietly, as a SIGPIPE would.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    process.exit(process.exitCode === undefined ? 0 : Number(process.exitCode));
  });
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = 2;
    },
  );
}
