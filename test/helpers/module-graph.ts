import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * The static import graph of a built ES module (dist/…/*.js): every file it reaches through relative
 * `import`/`export … from`, and the bare specifiers (`node:fs`, packages) each file names. Dynamic
 * `import()` calls are listed apart: they load only when called.
 */
export function moduleGraph(entry: string): { files: string[]; imports: Map<string, string[]> } {
  const imports = new Map<string, string[]>();
  const todo = [resolve(entry)];
  const seen = new Set<string>();
  const STATIC =
    /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|(?:^|[;\s])import\s*["']([^"']+)["']/g;
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    const bare: string[] = [];
    for (const m of text.matchAll(STATIC)) {
      const spec = (m[1] ?? m[2]) as string;
      if (spec.startsWith(".")) {
        const target = resolve(dirname(file), spec);
        if (existsSync(target)) todo.push(target);
        else throw new Error(`${file} imports ${spec}, which does not exist`);
      } else bare.push(spec);
    }
    imports.set(file, bare);
  }
  return { files: [...seen], imports };
}

/** The files of the graph that import one of `specifiers` (exact, or a prefix ending in "/" or ":"). */
export function importersOf(entry: string, specifiers: string[]): string[] {
  const { imports } = moduleGraph(entry);
  const hits: string[] = [];
  for (const [file, bare] of imports)
    for (const b of bare)
      if (specifiers.some((s) => b === s || ((s.endsWith("/") || s.endsWith(":")) && b.startsWith(s))))
        hits.push(`${file} → ${b}`);
  return hits;
}

/** The file a package subpath resolves to under `conditions` (package.json `exports`, first match wins). */
export function resolveExport(packageJson: string, subpath: string, conditions: string[]): string {
  const pkg = JSON.parse(readFileSync(packageJson, "utf8")) as { exports: Record<string, unknown> };
  let target: unknown = pkg.exports[subpath];
  while (target && typeof target === "object") {
    const entries = Object.entries(target as Record<string, unknown>);
    const hit = entries.find(([k]) => conditions.includes(k) || k === "default");
    if (!hit) throw new Error(`${subpath}: no export for conditions ${conditions.join(", ")}`);
    target = hit[1];
  }
  if (typeof target !== "string") throw new Error(`${subpath}: not exported`);
  return resolve(dirname(packageJson), target);
}

/**
 * Uses of Node's globals `Buffer` and `process` in the graph's files (bare identifiers, not properties such
 * as `globalThis.process` or `x.Buffer`, nor words in comments or strings of the form "Buffer)").
 * A cheap textual check: comments are stripped first.
 */
export function nodeGlobalsIn(files: string[]): string[] {
  const hits: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/(^|[^:])\/\/.*$/gm, "$1");
    for (const m of text.matchAll(/(?<![.\w$"'`])(Buffer|process)\s*[.([]/g)) hits.push(`${file}: ${m[0]}`);
  }
  return hits;
}
