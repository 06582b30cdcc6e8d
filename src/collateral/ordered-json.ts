import { type ErrorCode, TdxError } from "../errors.js";

/**
 * A JSON reader that keeps what Intel's parser keeps: every member of an object, in order, duplicates
 * included, with the number literals as written. Intel's Quote Verification Library reads the signed TCB
 * Info and QE Identity with rapidjson (QVL `AttestationParsers/src/Json/JsonParser.cpp`,
 * `AttestationLibrary/src/Utils/JsonParser.cpp`: `Document::Parse` with the default flags), looks members up
 * with `HasMember`/`operator[]` (the first member of that name wins), and checks the signature over its own
 * compact re-serialisation of the parsed object (`rapidjson::Writer`, QVL `Json/TcbInfo.cpp` end of the
 * constructor and `Verifiers/EnclaveIdentityV2.cpp`). `JSON.parse` cannot do either: it keeps the last of
 * duplicate members and loses the literals. So this module parses with rapidjson's grammar, `memberOf`
 * returns the first occurrence, and `compactJson` writes what rapidjson's Writer writes.
 */

export type JsonValue = JsonObject | JsonArray | JsonString | JsonNumber | JsonLiteral;

export interface JsonObject {
  kind: "object";
  /** Every member's name in document order; a name may occur more than once. */
  keys: string[];
  /** The members' values, in the same order. */
  values: JsonValue[];
}
export interface JsonArray {
  kind: "array";
  items: JsonValue[];
}
export interface JsonString {
  kind: "string";
  /** The decoded string (escapes resolved); it may contain U+0000. */
  value: string;
}
export interface JsonNumber {
  kind: "number";
  /** The literal as written. */
  text: string;
  /** rapidjson `IsUint()`: an integer literal (no fraction, no exponent) in 0..2^32-1. */
  isUint: boolean;
  /** rapidjson `IsInt()`: an integer literal in -2^31..2^31-1. */
  isInt: boolean;
  /** The value (exact for the integers above). */
  value: number;
  /** rapidjson stores integer literals up to 64 bits as integers and everything else as a double. */
  isDouble: boolean;
}
export interface JsonLiteral {
  kind: "true" | "false" | "null";
}

export interface ParsedJson {
  root: JsonValue;
  /**
   * True when `compactJson(root)` is the input text itself (no whitespace between tokens, no escape the
   * writer would write differently, numbers as the writer writes them). Intel's own responses are.
   */
  canonical: boolean;
}

const MAX_DEPTH = 256;

function syntaxError(code: ErrorCode, what: string, offset: number, message: string): TdxError {
  return new TdxError(code, `${what} is not valid JSON: ${message} at offset ${offset}`, {
    field: what,
    offset,
    hint: `the ${what} text is corrupt; fetch it again from Intel PCS or your PCCS`,
  });
}

/**
 * Parse JSON text as rapidjson's default parser does (RFC 8259 grammar; no comments, no trailing commas,
 * no NaN; duplicate members kept in order). `code` and `what` name the error raised for bad text.
 */
export function parseOrderedJson(text: string, code: ErrorCode, what: string): ParsedJson {
  const p = new Parser(text, code, what);
  p.ws();
  const root = p.value(0);
  p.ws();
  if (p.i !== text.length) throw p.fail("unexpected text after the value");
  return { root, canonical: p.canonical };
}

class Parser {
  i = 0;
  canonical = true;
  constructor(
    readonly s: string,
    readonly code: ErrorCode,
    readonly what: string,
  ) {}

  fail(message: string, at = this.i): TdxError {
    return syntaxError(this.code, this.what, at, message);
  }

  /** Whitespace between tokens: space, tab, LF, CR (rapidjson SkipWhitespace). */
  ws(): void {
    const s = this.s;
    let i = this.i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
    if (i !== this.i) this.canonical = false;
    this.i = i;
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) throw this.fail("nested too deeply");
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b:
        return this.object(depth);
      case 0x5b:
        return this.array(depth);
      case 0x22:
        return { kind: "string", value: this.string() };
      case 0x74:
        return this.literal("true");
      case 0x66:
        return this.literal("false");
      case 0x6e:
        return this.literal("null");
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        throw this.fail(Number.isNaN(c) ? "unexpected end of text" : "unexpected character");
    }
  }

  literal(word: "true" | "false" | "null"): JsonLiteral {
    if (!this.s.startsWith(word, this.i)) throw this.fail("invalid literal");
    this.i += word.length;
    return { kind: word };
  }

  object(depth: number): JsonObject {
    this.i++; // {
    const keys: string[] = [];
    const values: JsonValue[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return { kind: "object", keys, values };
    }
    for (;;) {
      if (this.s.charCodeAt(this.i) !== 0x22) throw this.fail("expected a member name");
      const key = this.string();
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) throw this.fail("expected ':'");
      this.i++;
      this.ws();
      keys.push(key);
      values.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.i);
      this.i++;
      if (c === 0x7d) return { kind: "object", keys, values };
      if (c !== 0x2c) throw this.fail("expected ',' or '}'", this.i - 1);
      this.ws();
    }
  }

  array(depth: number): JsonArray {
    this.i++; // [
    const items: JsonValue[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return { kind: "array", items };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.i);
      this.i++;
      if (c === 0x5d) return { kind: "array", items };
      if (c !== 0x2c) throw this.fail("expected ',' or ']'", this.i - 1);
      this.ws();
    }
  }

  /** A string token; `this.i` is at the opening quote. */
  string(): string {
    const s = this.s;
    const start = ++this.i;
    let i = start;
    // Fast path: no escape, no control character, no surrogate.
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return s.slice(start, i);
      }
      if (c === 0x5c || c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) break;
    }
    let out = s.slice(start, i);
    for (;;) {
      if (i >= s.length) throw this.fail("unterminated string", start - 1);
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return out;
      }
      if (c < 0x20) throw this.fail("control character in a string", i);
      if (c >= 0xd800 && c <= 0xdfff) {
        // A text decoded from UTF-8 holds surrogates only in pairs; a lone one is not a character.
        const next = s.charCodeAt(i + 1);
        if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) throw this.fail("lone surrogate", i);
        out += s.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (c !== 0x5c) {
        out += s[i];
        i++;
        continue;
      }
      const e = s.charCodeAt(i + 1);
      let decoded: string;
      let length = 2;
      switch (e) {
        case 0x22:
          decoded = '"';
          break;
        case 0x5c:
          decoded = "\\";
          break;
        case 0x2f:
          decoded = "/";
          this.canonical = false; // the writer does not escape '/'
          break;
        case 0x62:
          decoded = "\b";
          break;
        case 0x66:
          decoded = "\f";
          break;
        case 0x6e:
          decoded = "\n";
          break;
        case 0x72:
          decoded = "\r";
          break;
        case 0x74:
          decoded = "\t";
          break;
        case 0x75: {
          const u = this.hex4(i + 2);
          length = 6;
          if (u >= 0xd800 && u <= 0xdbff) {
            // rapidjson: a high surrogate must be followed by \u and a low surrogate.
            if (s.charCodeAt(i + 6) !== 0x5c || s.charCodeAt(i + 7) !== 0x75) {
              throw this.fail("invalid surrogate pair", i);
            }
            const low = this.hex4(i + 8);
            if (low < 0xdc00 || low > 0xdfff) throw this.fail("invalid surrogate pair", i);
            decoded = String.fromCharCode(u, low);
            length = 12;
            this.canonical = false;
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            throw this.fail("invalid surrogate pair", i);
          } else {
            decoded = String.fromCharCode(u);
            // The writer writes \uXXXX (upper-case hex) only for control characters without a short form.
            if (s.slice(i, i + 6) !== escapeChar(u)) this.canonical = false;
          }
          break;
        }
        default:
          throw this.fail("invalid escape", i);
      }
      out += decoded;
      i += length;
    }
  }

  hex4(at: number): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.s.charCodeAt(at + k);
      const d =
        c >= 0x30 && c <= 0x39
          ? c - 0x30
          : c >= 0x41 && c <= 0x46
            ? c - 0x37
            : c >= 0x61 && c <= 0x66
              ? c - 0x57
              : -1;
      if (d < 0) throw this.fail("invalid \\u escape", at);
      v = v * 16 + d;
    }
    return v;
  }

  number(): JsonNumber {
    const s = this.s;
    const start = this.i;
    let i = start;
    const minus = s.charCodeAt(i) === 0x2d;
    if (minus) i++;
    const intStart = i;
    const c0 = s.charCodeAt(i);
    if (c0 === 0x30) i++;
    else if (c0 >= 0x31 && c0 <= 0x39) i = digitsEnd(s, i);
    else throw this.fail("invalid number", i);
    const intEnd = i;
    let isDouble = false;
    if (s.charCodeAt(i) === 0x2e) {
      i++;
      const f = i;
      i = digitsEnd(s, i);
      if (i === f) throw this.fail("invalid number: no digit after '.'", i);
      isDouble = true;
    }
    const ce = s.charCodeAt(i);
    if (ce === 0x65 || ce === 0x45) {
      i++;
      const cs = s.charCodeAt(i);
      if (cs === 0x2b || cs === 0x2d) i++;
      const e = i;
      i = digitsEnd(s, i);
      if (i === e) throw this.fail("invalid number: no digit in the exponent", i);
      isDouble = true;
    }
    this.i = i;
    const text = s.slice(start, i);
    const nDigits = intEnd - intStart;
    if (!isDouble && nDigits <= 9) {
      // The usual case (SVNs, versions): a small integer, exact without Number().
      let v = 0;
      for (let k = intStart; k < intEnd; k++) v = v * 10 + (s.charCodeAt(k) - 0x30);
      if (minus && v === 0) this.canonical = false;
      if (!minus && v < SMALL_INTS.length) return SMALL_INTS[v]!;
      const value = minus ? -v : v;
      return { kind: "number", text, isUint: !minus || v === 0, isInt: true, value, isDouble: false };
    }
    const digits = s.slice(intStart, intEnd);
    // Integer literals up to 64 bits stay integers in rapidjson; beyond, it switches to a double.
    if (!isDouble && digits.length > 19) {
      const limit = minus ? "9223372036854775808" : "18446744073709551615";
      if (digits.length > 20 || (digits.length === 20 && (minus || digits > limit))) isDouble = true;
    } else if (!isDouble && digits.length === 19 && minus && digits > "9223372036854775808") {
      isDouble = true;
    }
    const value = Number(text);
    if (!Number.isFinite(value)) throw this.fail("number out of range", start);
    let isUint = false;
    let isInt = false;
    if (!isDouble) {
      // "-0" is rapidjson's Int(0): also a Uint.
      isUint = (value === 0 || !minus) && value <= 0xffffffff;
      isInt = value >= -0x80000000 && value <= 0x7fffffff;
    }
    const num: JsonNumber = { kind: "number", text, isUint, isInt, value, isDouble };
    if (isDouble || (minus && value === 0)) this.canonical = false;
    return num;
  }
}

/** Shared (frozen) nodes of the small non-negative integers: TCB levels are made of them. */
const SMALL_INTS: readonly JsonNumber[] = Array.from({ length: 1024 }, (_, v) =>
  Object.freeze({ kind: "number", text: String(v), isUint: true, isInt: true, value: v, isDouble: false }),
);

/** The index after the run of ASCII digits starting at `i`. */
function digitsEnd(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    i++;
  }
  return i;
}

const HEX_UPPER = "0123456789ABCDEF";

/** How rapidjson's Writer escapes one UTF-16 unit of a string (null: written as is). */
function escapeChar(c: number): string | null {
  if (c === 0x22) return '\\"';
  if (c === 0x5c) return "\\\\";
  if (c >= 0x20) return null;
  switch (c) {
    case 0x08:
      return "\\b";
    case 0x09:
      return "\\t";
    case 0x0a:
      return "\\n";
    case 0x0c:
      return "\\f";
    case 0x0d:
      return "\\r";
    default:
      return `\\u00${HEX_UPPER[c >> 4]}${HEX_UPPER[c & 15]}`;
  }
}

function writeString(v: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < v.length; i++) {
    const e = escapeChar(v.charCodeAt(i));
    if (e !== null) {
      out += v.slice(from, i) + e;
      from = i + 1;
    }
  }
  return `${out + v.slice(from)}"`;
}

/**
 * rapidjson `Writer::Double`: the shortest digits (Grisu2; JavaScript's shortest round-trip digits are the
 * same except in rare cases where Grisu2 gives one digit more) laid out by `internal::Prettify`: "100.0",
 * "1.5", "0.001", "1e30", "1.5e-7"; at most `maxDecimalPlaces` decimals.
 */
export function writeDouble(value: number, maxDecimalPlaces: number): string {
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const sign = value < 0 ? "-" : "";
  const [mantissa, exp] = Math.abs(value).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const length = digits.length;
  const k = Number(exp) - (length - 1); // value = digits * 10^k
  const kk = length + k; // 10^(kk-1) <= value < 10^kk
  let out: string;
  if (k >= 0 && kk <= 21) {
    out = `${digits}${"0".repeat(k)}.0`;
  } else if (kk > 0 && kk <= 21) {
    const whole = digits.slice(0, kk);
    let frac = digits.slice(kk);
    if (0 > k + maxDecimalPlaces) {
      frac = frac.slice(0, maxDecimalPlaces).replace(/0+$/, "");
      if (frac === "") frac = "0";
    }
    out = `${whole}.${frac}`;
  } else if (kk > -6 && kk <= 0) {
    let frac = "0".repeat(-kk) + digits;
    if (length - kk > maxDecimalPlaces) {
      frac = frac.slice(0, maxDecimalPlaces).replace(/0+$/, "");
      if (frac === "") frac = "0";
    }
    out = `0.${frac}`;
  } else if (kk < -maxDecimalPlaces) {
    out = "0.0";
  } else if (length === 1) {
    out = `${digits}e${kk - 1}`;
  } else {
    out = `${digits[0]}.${digits.slice(1)}e${kk - 1}`;
  }
  return sign + out;
}

/** rapidjson's default `maxDecimalPlaces` (QVL's QE Identity); QVL's TCB Info sets 25. */
export const RAPIDJSON_DEFAULT_DECIMAL_PLACES = 324;

/**
 * The compact text rapidjson's `Writer` produces for a parsed value: members and items in order
 * (duplicates too), no whitespace, strings escaped as the Writer escapes them, integers as integers and
 * doubles through `writeDouble`.
 */
export function compactJson(v: JsonValue, maxDecimalPlaces = RAPIDJSON_DEFAULT_DECIMAL_PLACES): string {
  switch (v.kind) {
    case "object": {
      let out = "{";
      for (let i = 0; i < v.keys.length; i++) {
        if (i > 0) out += ",";
        out += `${writeString(v.keys[i]!)}:${compactJson(v.values[i]!, maxDecimalPlaces)}`;
      }
      return `${out}}`;
    }
    case "array": {
      let out = "[";
      for (let i = 0; i < v.items.length; i++) {
        if (i > 0) out += ",";
        out += compactJson(v.items[i]!, maxDecimalPlaces);
      }
      return `${out}]`;
    }
    case "string":
      return writeString(v.value);
    case "number":
      if (v.isDouble) return writeDouble(v.value, maxDecimalPlaces);
      return v.text === "-0" ? "0" : v.text;
    default:
      return v.kind;
  }
}

/** The first member named `key` (rapidjson `FindMember`/`operator[]`), or undefined. */
export function memberOf(o: JsonObject, key: string): JsonValue | undefined {
  const i = o.keys.indexOf(key);
  return i < 0 ? undefined : o.values[i];
}

/** Names that occur more than once in an object. */
export function duplicateNames(o: JsonObject): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const k of o.keys) {
    if (seen.has(k)) dup.add(k);
    seen.add(k);
  }
  return [...dup];
}
