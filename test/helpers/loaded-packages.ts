import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const RECORD_PACKAGES = join(dirname(fileURLToPath(import.meta.url)), "record-packages.mjs");

/** The packages the server and the stores need, and the certificate builder: none may load with the library. */
export const SERVER_PACKAGES = [
  "fastify",
  "pino",
  "prom-client",
  "pg",
  "better-sqlite3",
  "koffi",
  "@peculiar/x509",
  "reflect-metadata",
];

/** Package names in a record of module paths/URLs (`.../node_modules/@scope/name/...` -> `@scope/name`). */
export function packagesIn(record: string): string[] {
  const names = new Set<string>();
  for (const line of record.split("\n")) {
    const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return [...names].sort();
}

/**
 * Run `node --import record-packages.mjs --input-type=module -e CODE` in `cwd` and return its output and the
 * packages it loaded.
 */
export function runRecordingPackages(
  code: string,
  cwd: string,
  recorder = RECORD_PACKAGES,
): { status: number; stdout: string; stderr: string; packages: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "tdx-record-"));
  const out = join(dir, "loaded.txt");
  try {
    const r = spawnSync(process.execPath, ["--import", recorder, "--input-type=module", "-e", code], {
      cwd,
      encoding: "utf8",
      env: { ...process.env, RECORD_PACKAGES_OUT: out },
      timeout: 60_000,
    });
    let record = "";
    try {
      record = readFileSync(out, "utf8");
    } catch {}
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, packages: packagesIn(record) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
