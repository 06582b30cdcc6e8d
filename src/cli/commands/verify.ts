import type { Command } from "commander";

/** Registers the verify commands on the tdx-attest program. */
export function registerVerifyCommands(_program: Command): void {}
