// Printed by `npm run build`: the browser artifact of the verifier is dist/ itself, ES modules with
// relative imports only (no bundler needed): a page imports dist/verify/index.js (or the package's
// `browser` condition) and loads exactly the files below. Sizes as served, and gzip-compressed.
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const IMPORT =
  /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|(?:^|[;\s])import\s*["']([^"']+)["']/g;

function graph(entry) {
  const seen = new Set();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop();
    if (seen.has(f)) continue;
    seen.add(f);
    for (const m of readFileSync(f, "utf8").matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith("."))
        throw new Error(`${relative(root, f)} imports ${spec}: not loadable in a page`);
      todo.push(resolve(dirname(f), spec));
    }
  }
  return [...seen];
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
for (const entry of ["verify/index.js", "abi/index.js", "policy/index.js", "collateral/readers.js"]) {
  const files = graph(join(dist, entry));
  // Source-map comments are stripped from the count: a page does not load the maps unless asked.
  const text = files
    .map((f) => readFileSync(f, "utf8").replace(/\/\/# sourceMappingURL=.*$/m, ""))
    .join("\n");
  const bytes = Buffer.byteLength(text);
  process.stdout.write(
    `browser ESM dist/${entry}: ${files.length} files, ${kib(bytes)} (${kib(gzipSync(text).length)} gzip), no node: or package import\n`,
  );
}
