import type { Command } from "commander";

/** Registers the guest commands on the tdx-attest program. */
export function registerGuestCommands(_program: Command): void {}
