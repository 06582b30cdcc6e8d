import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  ERROR_CODES,
  ERROR_TABLES,
  errorsMarkdown,
  httpStatusOf,
  isErrorCode,
  registeredErrors,
} from "../src/error-registry.js";
import { asTdxError, type ErrorCode, TdxError } from "../src/errors.js";
import { moduleGraph, resolveExport } from "./helpers/module-graph.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

describe("the error registry", () => {
  it("docs/errors.md is the registry rendered (regenerate: npm run build && node scripts/errors-doc.mjs)", () => {
    const onDisk = readFileSync(join(root, "docs", "errors.md"), "utf8");
    expect(
      onDisk === errorsMarkdown(),
      "docs/errors.md is stale: run `npm run build && node scripts/errors-doc.mjs` and commit the file",
    ).toBe(true);
  });

  it("every src/<folder>/error-codes.ts is joined, and each code is declared once", () => {
    const folders = readdirSync(join(root, "src"), { withFileTypes: true })
      .filter((d) => d.isDirectory() && readdirSync(join(root, "src", d.name)).includes("error-codes.ts"))
      .map((d) => d.name);
    // src/error-codes.ts is the root modules' table (src/optional.ts), joined as "package".
    if (readdirSync(join(root, "src")).includes("error-codes.ts")) folders.push("package");
    expect(Object.keys(ERROR_TABLES).sort()).toEqual(folders.sort());
    const declared = Object.values(ERROR_TABLES).reduce((n, t) => n + Object.keys(t).length, 0);
    expect(registeredErrors().length).toBe(declared);
    expect(Object.keys(ERROR_CODES).length).toBe(declared);
  });

  it("every folder that throws a TdxError has a table", () => {
    const throwing = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".ts") && /new TdxError\(|asTdxError\(/.test(readFileSync(p, "utf8")))
          throwing.add(p.slice(join(root, "src").length + 1).split("/")[0]!);
      }
    };
    walk(join(root, "src"));
    // Root files (errors.ts, lockfile.ts, encoding.ts) declare no codes of their own.
    const folders = [...throwing].filter((f) => !f.endsWith(".ts"));
    for (const f of folders) expect(Object.keys(ERROR_TABLES), `src/${f} throws TdxErrors`).toContain(f);
  });

  it("each entry has one line of meaning, a status that is an HTTP error, a page that exists", () => {
    const pages = new Set(readdirSync(join(root, "docs")));
    for (const e of registeredErrors()) {
      expect(e.code).toMatch(/^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/);
      expect(e.doc.length, e.code).toBeGreaterThan(10);
      expect(e.doc, e.code).not.toMatch(/\n|TODO/);
      if (e.http !== undefined) expect(e.http >= 400 && e.http < 600, e.code).toBe(true);
      if (e.page !== undefined) expect(pages.has(e.page), `${e.code}: docs/${e.page}`).toBe(true);
    }
  });

  it("TdxError and asTdxError take registered codes only (tsc rejects the others)", () => {
    // @ts-expect-error a code no table declares does not compile
    const unregistered = new TdxError("NOT_A_CODE", "x");
    // @ts-expect-error
    const wrapped = asTdxError(new Error("x"), "NOT_A_CODE_EITHER", "y");
    expect(isErrorCode(unregistered.code)).toBe(false);
    expect(isErrorCode(wrapped.code)).toBe(false);
    const code: ErrorCode = "QUOTE_TRUNCATED";
    expect(isErrorCode(code)).toBe(true);
    expect(isErrorCode("quote_truncated")).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
  });

  it("the statuses of the key broker's documented table are the registry's", () => {
    // docs/kbs.md "| code | status | meaning |": each row's codes answer with its status.
    const text = readFileSync(join(root, "docs", "kbs.md"), "utf8");
    const table = text.slice(text.indexOf("| code | status | meaning |"));
    const rows = table.split("\n").slice(2);
    let checked = 0;
    for (const row of rows) {
      if (!row.startsWith("|")) break;
      const [, codes, status] = row.split("|").map((c) => c.trim());
      for (const code of codes!.match(/[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+/g) ?? []) {
        expect(httpStatusOf(code), `${code} in docs/kbs.md`).toBe(Number(status));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it("every code the docs' code tables name is registered", () => {
    const unknown: string[] = [];
    for (const page of readdirSync(join(root, "docs"))) {
      if (page === "errors.md" || !page.endsWith(".md")) continue;
      let inCodeTable = false;
      for (const line of readFileSync(join(root, "docs", page), "utf8").split("\n")) {
        if (!line.startsWith("|")) {
          inCodeTable = false;
          continue;
        }
        const first = line.split("|")[1]!.trim();
        if (first === "code") inCodeTable = true;
        if (!inCodeTable || first === "code" || first.startsWith("---")) continue;
        for (const m of first.matchAll(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b(?!_?\*)/g))
          if (!isErrorCode(m[0])) unknown.push(`${page}: ${m[0]}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it("the codes the explorer page makes itself are registered", () => {
    const app = readFileSync(join(root, "src", "server", "explorer", "static", "app.js"), "utf8");
    const codes = [...app.matchAll(/code: "([A-Z][A-Z0-9_]+)"/g)].map((m) => m[1]!);
    expect(codes.length).toBeGreaterThan(2);
    for (const c of codes) expect(isErrorCode(c), c).toBe(true);
  });

  it("a page that verifies quotes does not load the tables (errors.ts joins them as types only)", () => {
    for (const entry of ["./verify", "./abi", "./policy", "./collateral/readers"]) {
      const { files } = moduleGraph(resolveExport(join(root, "package.json"), entry, ["browser"]));
      expect(
        files.filter((f) => f.endsWith("error-codes.js") || f.endsWith("error-registry.js")),
        entry,
      ).toEqual([]);
      expect(
        files.some((f) => f.endsWith(join("dist", "errors.js"))),
        entry,
      ).toBe(true);
    }
  });
});
