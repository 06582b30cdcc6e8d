import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importersOf } from "../helpers/module-graph.js";
import { projectRoot } from "../helpers/vectors.js";

describe("tdx-attest/eventlog is the formats only", () => {
  it("its built module graph reads and writes no files (the runtime log's file is src/guest/)", () => {
    const entry = join(projectRoot, "dist", "eventlog", "index.js");
    expect(importersOf(entry, ["node:fs", "node:fs/promises", "fs", "fs/promises"])).toEqual([]);
  });

  it("the guest's graph does (so the walk sees what it is looking for)", () => {
    const entry = join(projectRoot, "dist", "guest", "index.js");
    expect(importersOf(entry, ["node:fs/promises"]).some((f) => f.includes("runtime-log-file.js"))).toBe(
      true,
    );
  });
});
