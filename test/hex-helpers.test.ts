import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fromHex, toHex } from "../src/abi/bytes.js";
import { hexBytes, hexOf } from "../src/encoding.js";
import { hex } from "../src/verify/bytes.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Files whose hex helper another change owns (issue 18 §7); remove an entry when its file is cleaned. */
const PENDING = new Set<string>([]);

/** The shared encoders: src/encoding.ts (any runtime) and the names src/abi/bytes.ts exports over them. */
const SHARED = new Set(["src/encoding.ts", "src/abi/bytes.ts"]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

describe("one hex encoder (issue 18 §7)", () => {
  it("no private hex encode/decode helper stands beside src/encoding.ts", () => {
    // A function or arrow named *hex* whose body turns bytes into hex or back: through Buffer, or byte by
    // byte (toString(16).padStart(2, ...) / parseInt(..., 16)). Formatting a number (0x%08x) is not one.
    const conversion = String.raw`(?:Buffer\.from\([^;]*\)\.toString\("hex"\)|Buffer\.from\([^;]*"hex"\)|toString\(16\)\.padStart\(2|parseInt\([^;]*,\s*16\))`;
    const helper = new RegExp(
      String.raw`(?:function\s+\w*hex\w*\s*\([^)]*\)[^{]*\{[^}]*${conversion}|const\s+\w*hex\w*\s*=\s*\([^)]*\)\s*=>[^;\n]*${conversion})`,
      "i",
    );
    const found: string[] = [];
    for (const file of sources(join(root, "src"))) {
      const rel = relative(root, file);
      if (SHARED.has(rel) || PENDING.has(rel)) continue;
      if (helper.test(readFileSync(file, "utf8"))) found.push(rel);
    }
    expect(found).toEqual([]);
  });

  it("the shared names agree", () => {
    const bytes = Uint8Array.from([0, 1, 0x7f, 0x80, 0xab, 0xff]);
    expect(hexOf(bytes)).toBe("00017f80abff");
    expect(toHex(bytes)).toBe(hexOf(bytes));
    expect(hex(bytes)).toBe(hexOf(bytes));
    expect(hexBytes("00017F80abff")).toEqual(bytes);
    expect(fromHex("0x00017f80ABFF")).toEqual(bytes);
    expect(hexBytes("0g")).toBeNull();
  });
});
