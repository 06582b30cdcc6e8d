import type { Command } from "commander";

/** Registers the kbs commands on the tdx-attest program. */
export function registerKbsCommands(_program: Command): void {}
