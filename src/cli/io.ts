import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TdxError } from "../errors.js";

/** Read a file, or stdin for "-" or no path. File errors become TdxErrors with a hint. */
export function readInputFile(path: string | undefined): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path === undefined || path === "-" ? 0 : path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TdxError("INPUT_UNREADABLE", `cannot read ${path ?? "stdin"}: ${code ?? String(e)}`, {
      field: "input",
      hint: code === "ENOENT" ? "check the path" : "check that the file exists and is readable",
      cause: e,
    });
  }
}

/** Write a file atomically (temp file in the same directory, then rename): never a half-written file. */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new TdxError(
      "OUTPUT_UNWRITABLE",
      `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      {
        field: "output",
        hint: "check that the directory exists and is writable",
        cause: e,
      },
    );
  }
}
