import type { Command } from "commander";

/** Registers the abi commands on the tdx-attest program. */
export function registerAbiCommands(_program: Command): void {}
