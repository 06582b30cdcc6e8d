/** The loader hook of ./record-packages.mjs: appends each resolved module's URL to $RECORD_PACKAGES_OUT. */
import { appendFileSync } from "node:fs";

const out = process.env.RECORD_PACKAGES_OUT;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (out) appendFileSync(out, `${resolved.url}\n`);
  return resolved;
}
