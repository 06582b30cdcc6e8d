import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cliPath } from "../helpers/cli.js";

export interface SpawnedBroker {
  url: string;
  proc: ChildProcess;
  stderr(): string;
  /** Send a signal and wait for the exit; resolves with the exit code (null when killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Start `tdx-attest serve` (the built CLI) on a free loopback port and wait until it listens. */
export async function spawnBroker(args: string[], env: Record<string, string> = {}): Promise<SpawnedBroker> {
  if (!existsSync(cliPath))
    throw new Error(`${cliPath} is missing: run "npm run build" first (npm test does)`);
  const proc = spawn(
    process.execPath,
    [cliPath, "serve", "--listen", "127.0.0.1:0", "--log-level", "warn", ...args],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start in 30 s:\n${err}`)), 30_000);
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/[^\s,]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening:\n${err}`));
    });
  });
  return {
    url,
    proc,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}
