import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { type ErrorCode, TdxError } from "../errors.js";

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

/**
 * Bytes from a hex option (`--report-data`, `--data-hex`, ...), an optional 0x prefix. Each way it can be
 * wrong gets its own code and names the option: a character that is no hex digit (with its offset), an odd
 * number of digits, or more than `maxBytes` (`tooLongCode`: the option's code from before this split).
 */
export function hexOption(text: string, field: string, maxBytes: number, tooLongCode: ErrorCode): Uint8Array {
  let h = text.trim();
  const prefix = h.startsWith("0x") || h.startsWith("0X") ? 2 : 0;
  h = h.slice(prefix);
  const bad = h.search(/[^0-9a-fA-F]/);
  if (bad >= 0)
    throw new TdxError(
      "HEX_OPTION_NOT_HEX",
      `--${field}: ${JSON.stringify(h[bad])} at character ${bad + prefix} is not a hex digit`,
      {
        field,
        offset: bad + prefix,
        hint: `give --${field} as hex digits 0-9 and a-f (e.g. ${"00".repeat(Math.min(maxBytes, 4))}), up to ${maxBytes * 2} of them`,
      },
    );
  if (h.length % 2 !== 0)
    throw new TdxError("HEX_OPTION_ODD_LENGTH", `--${field} has an odd number of hex digits (${h.length})`, {
      field,
      hint: "each byte is two hex digits: add the missing leading 0",
    });
  if (h.length > maxBytes * 2)
    throw new TdxError(
      tooLongCode,
      `--${field} must be at most ${maxBytes} bytes of hex (got ${h.length / 2})`,
      {
        field,
        hint: `give up to ${maxBytes * 2} hex digits`,
      },
    );
  return new Uint8Array(Buffer.from(h, "hex"));
}
