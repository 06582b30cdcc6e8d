import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { projectRoot } from "./vectors.js";

export const cliPath = join(projectRoot, "dist", "cli", "main.js");

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI (npm test builds before running the tests). */
export function runCli(
  args: string[],
  input?: string | Uint8Array,
  env: Record<string, string> = {},
): CliResult {
  if (!existsSync(cliPath))
    throw new Error(`${cliPath} is missing: run "npm run build" first (npm test does)`);
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    input,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Run the CLI in this process (no build needed): capture what it writes, and reset process.exitCode so
 * one run's exit code never leaks into the next.
 */
export async function runCliInProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const o = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const e = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  try {
    return { code: await main(["node", "tdx-attest", ...args]), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}
