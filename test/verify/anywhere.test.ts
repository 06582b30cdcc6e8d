import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { moduleGraph, nodeGlobalsIn, resolveExport } from "../helpers/module-graph.js";
import { projectRoot } from "../helpers/vectors.js";

/**
 * The parser, verifier, collateral readers and policy run on any runtime with WebCrypto: the module graph the
 * package's `browser` / `default` export condition resolves (dist/, built by `npm run build`) has no `node:`
 * import, no bare package import (a page loads dist/ as it is, with no bundler and no import map) and no use
 * of Node's `Buffer` / `process` globals.
 */
const PKG = join(projectRoot, "package.json");
const SUBPATHS = ["./abi", "./verify", "./collateral/readers", "./policy"];

describe("runtime-neutral module graphs", () => {
  for (const conditions of [
    ["browser", "import"],
    ["deno", "import"],
    ["worker", "import"],
  ]) {
    for (const subpath of SUBPATHS) {
      it(`tdx-attest${subpath.slice(1)} under ${conditions[0]}: no node: or package import, no Buffer/process`, () => {
        const entry = resolveExport(PKG, subpath, conditions);
        const { files, imports } = moduleGraph(entry);
        const bare = [...imports].flatMap(([f, b]) => b.map((s) => `${f.slice(projectRoot.length)} → ${s}`));
        expect(bare).toEqual([]);
        expect(nodeGlobalsIn(files).map((h) => h.slice(projectRoot.length))).toEqual([]);
      });
    }
  }

  it("the explorer's in-page API (dist/server/explorer/local.js, copied by `explorer build`) is runtime-neutral too", () => {
    const { files, imports } = moduleGraph(join(projectRoot, "dist", "server", "explorer", "local.js"));
    expect([...imports.values()].flat()).toEqual([]);
    expect(nodeGlobalsIn(files).map((h) => h.slice(projectRoot.length))).toEqual([]);
  });

  it("the check finds what it is for (a Node entry point has node: imports and Buffer uses)", () => {
    const node = resolveExport(PKG, "./verify", ["node", "import"]);
    expect(node).toMatch(/verify\/node\.js$/);
    const { imports } = moduleGraph(node);
    expect([...imports.values()].flat()).toContain("node:crypto");
    const { files } = moduleGraph(join(projectRoot, "dist", "crypto", "index.js"));
    expect(nodeGlobalsIn(files).length).toBeGreaterThan(0);
  });
});
