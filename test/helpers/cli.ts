import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
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
