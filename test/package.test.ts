import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "./helpers/vectors.js";

const pkg = JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
  files: string[];
  bin: Record<string, string>;
};

describe("the packed package", () => {
  it("builds when packed, so `npm pack` in a fresh clone ships dist/", () => {
    expect(pkg.scripts.prepack).toMatch(/\bnpm run build\b/);
    expect(pkg.scripts.build).toMatch(/\btsc -p tsconfig\.build\.json\b/);
    expect(pkg.files).toContain("dist");
    expect(Object.values(pkg.bin).every((b) => b.startsWith("dist/"))).toBe(true);
  });
});
