import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonNestingDepth } from "../../src/server/json-depth.js";

/** The character-by-character scan the skipping one replaced: the reference. */
function reference(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

describe("JSON nesting depth", () => {
  it("skips strings, escaped quotes and backslashes included", () => {
    expect(jsonNestingDepth('{"a":[{"b":"[[[\\"]]]{{"}]}')).toBe(3);
    expect(jsonNestingDepth('{"a\\\\":[1]}')).toBe(2);
    expect(jsonNestingDepth('["\\\\\\"[[[", [[]]]')).toBe(3);
    expect(jsonNestingDepth('["unterminated [[[')).toBe(1);
  });

  it("agrees with a character-by-character scan on any JSON and on arbitrary text", () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 8 }), (text) => {
        expect(jsonNestingDepth(text)).toBe(reference(text));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("[", "]", "{", "}", '"', "\\", "a", ",") }), (text) => {
        expect(jsonNestingDepth(text)).toBe(reference(text));
      }),
      { numRuns: 2000 },
    );
  });
});
