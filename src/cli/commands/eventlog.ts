import type { Command } from "commander";

/** Registers the eventlog commands on the tdx-attest program. */
export function registerEventlogCommands(_program: Command): void {}
