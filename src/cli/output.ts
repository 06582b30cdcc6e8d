import { isTdxError } from "../errors.js";

/** Print an error for a human (code, offset, hint) or as JSON on stdout when --json was given. */
export function printError(e: unknown, json: boolean): void {
  if (isTdxError(e)) {
    if (json) {
      process.stdout.write(`${JSON.stringify({ ok: false, error: e.toJSON() }, null, 2)}\n`);
      return;
    }
    const where = [e.field ? `field ${e.field}` : "", e.offset !== undefined ? `offset ${e.offset}` : ""]
      .filter(Boolean)
      .join(", ");
    process.stderr.write(`error ${e.code}: ${e.message}${where ? ` (${where})` : ""}\n`);
    if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    return;
  }
  const message = e instanceof Error ? e.message : String(e);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ok: false, error: { code: "INTERNAL", message, hint: "this is a bug in tdx-attest; please report it" } }, null, 2)}\n`,
    );
    return;
  }
  process.stderr.write(`error INTERNAL: ${message}\nhint: this is a bug in tdx-attest; please report it\n`);
}

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
