/**
 * `node --import ./record-packages.mjs script.mjs`: records every package the process loads, into the file named
 * by $RECORD_PACKAGES_OUT (one path or URL a line): what ES modules resolve (a loader hook) and, at exit, what
 * CommonJS loaded (require's cache, which the hook does not see: createRequire, a CJS package's own requires).
 * Read it with loadedPackages() of ./loaded-packages.ts. Plain JavaScript: it also runs in a temporary project.
 */
import { appendFileSync } from "node:fs";
import { createRequire, register } from "node:module";

const out = process.env.RECORD_PACKAGES_OUT;
if (out) {
  register("./record-packages-hooks.mjs", import.meta.url);
  const cache = createRequire(import.meta.url).cache;
  process.on("exit", () => appendFileSync(out, `${Object.keys(cache).join("\n")}\n`));
}
