import type { Command } from "commander";

/** Registers the collateral commands on the tdx-attest program. */
export function registerCollateralCommands(_program: Command): void {}
