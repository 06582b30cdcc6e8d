import { describe, expect, it } from "vitest";
import {
  compactJson,
  type JsonObject,
  memberOf,
  parseOrderedJson,
  writeDouble,
} from "../../src/collateral/ordered-json.js";

/** rapidjson's reader and Writer, as Intel's QVL uses them for the signed TCB Info / QE Identity. */

const parse = (t: string) => parseOrderedJson(t, "TCB_INFO_MALFORMED", "doc");

describe("ordered JSON reader (rapidjson semantics)", () => {
  it("keeps duplicate members in order and finds the first (rapidjson FindMember), unlike JSON.parse", () => {
    const text = '{"tcbStatus":"Revoked","tcbStatus":"UpToDate"}';
    const { root } = parse(text);
    const o = root as JsonObject;
    expect(o.keys).toEqual(["tcbStatus", "tcbStatus"]);
    expect(memberOf(o, "tcbStatus")).toEqual({ kind: "string", value: "Revoked" });
    expect(JSON.parse(text).tcbStatus).toBe("UpToDate"); // what the old reader took
    // The writer keeps both: the signature of a text with duplicates covers both.
    expect(compactJson(root)).toBe(text);
  });

  it("marks Intel's compact texts canonical and anything re-formatted not", () => {
    expect(parse('{"a":[1,{"b":"c"}],"d":-5}').canonical).toBe(true);
    expect(parse('{"a": 1}').canonical).toBe(false);
    expect(parse('{"a":"\\u0041"}').canonical).toBe(false);
    expect(parse('{"a":2.5}').canonical).toBe(false);
  });

  it("writes the compact form rapidjson's Writer writes", () => {
    const cases: [string, string][] = [
      ['{ "a" : 1 ,\n "b":[ 1, 2 ] }', '{"a":1,"b":[1,2]}'],
      ['{"s":"\\/\\u0041\\u00e9\\u001f\\u0008"}', '{"s":"/Aé\\u001F\\b"}'],
      ['{"n":-0}', '{"n":0}'],
      ['{"n":3.0}', '{"n":3.0}'],
      ['{"n":1e2}', '{"n":100.0}'],
      ['{"n":1.50}', '{"n":1.5}'],
      ['{"n":0.0001}', '{"n":0.0001}'],
      ['{"n":1e-7}', '{"n":1e-7}'],
      ['{"n":1.5e300}', '{"n":1.5e300}'],
      ['{"n":18446744073709551615}', '{"n":18446744073709551615}'],
      ['{"n":18446744073709551616}', '{"n":18446744073709552000.0}'],
      ['{"e":"\\ud83d\\ude00"}', '{"e":"😀"}'],
      ["[true,false,null]", "[true,false,null]"],
    ];
    for (const [input, want] of cases) {
      const p = parse(input);
      expect(compactJson(p.root), input).toBe(want);
      // `canonical` is a safe shortcut: when set, the text is its own compact form.
      if (p.canonical) expect(want, input).toBe(input);
    }
  });

  it("truncates decimals like rapidjson's Prettify with maxDecimalPlaces", () => {
    expect(writeDouble(1.2345, 2)).toBe("1.23");
    expect(writeDouble(1.102, 2)).toBe("1.1");
    expect(writeDouble(0.123, 2)).toBe("0.12");
    expect(writeDouble(0.102, 2)).toBe("0.1");
    expect(writeDouble(1e-30, 25)).toBe("0.0");
    expect(writeDouble(-0, 324)).toBe("-0.0");
    expect(writeDouble(1e21, 324)).toBe("1e21");
    expect(writeDouble(123456789012345680000, 324)).toBe("123456789012345680000.0");
  });

  it("classifies numbers as rapidjson does (IsUint / IsInt)", () => {
    const num = (t: string) =>
      memberOf(parse(`{"v":${t}}`).root as JsonObject, "v") as { isUint: boolean; isInt: boolean };
    expect(num("4294967295")).toMatchObject({ isUint: true, isInt: false });
    expect(num("4294967296")).toMatchObject({ isUint: false, isInt: false });
    expect(num("-1")).toMatchObject({ isUint: false, isInt: true });
    expect(num("-0")).toMatchObject({ isUint: true, isInt: true });
    expect(num("3.0")).toMatchObject({ isUint: false, isInt: false });
    expect(num("1e0")).toMatchObject({ isUint: false, isInt: false });
    expect(num("2147483648")).toMatchObject({ isUint: true, isInt: false });
  });

  it("refuses what rapidjson's default parser refuses", () => {
    for (const bad of [
      "{",
      '{"a":1,}',
      "[1,]",
      '{"a":01}',
      '{"a":.5}',
      '{"a":1.}',
      '{"a":1e}',
      '{"a":+1}',
      '{"a":NaN}',
      '{"a":1e400}',
      '{"a":"x\ny"}',
      '{"a":"\\ud800"}',
      '{"a":"\\udc00"}',
      '{"a":"\\x41"}',
      "{} {}",
      '{"a":1}\u0000',
      "// c\n{}",
      '{"a":tru}',
    ]) {
      expect(() => parse(bad), JSON.stringify(bad)).toThrowError(
        expect.objectContaining({ code: "TCB_INFO_MALFORMED" }),
      );
    }
  });
});
