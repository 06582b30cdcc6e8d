import type { Command } from "commander";

/** Registers the explorer commands on the tdx-attest program. */
export function registerExplorerCommands(_program: Command): void {}
