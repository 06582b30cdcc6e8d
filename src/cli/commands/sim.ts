import type { Command } from "commander";

/** Registers the sim commands on the tdx-attest program. */
export function registerSimCommands(_program: Command): void {}
