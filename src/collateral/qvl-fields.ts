import { type ErrorCode, TdxError } from "../errors.js";
import { type JsonObject, type JsonValue, memberOf } from "./ordered-json.js";

/**
 * Field readers with the semantics of Intel's QVL JSON helpers (`AttestationParsers/src/Json/JsonParser.cpp`
 * and `AttestationLibrary/src/Utils/JsonParser.cpp`, over rapidjson):
 * - a member is found with `HasMember`/`operator[]`: the first member of that name;
 * - `getUintFieldOf` needs `IsUint()` (an integer literal in 0..2^32-1: `3.0`, `1e0`, `-1` and 2^32 are not),
 *   `getIntFieldOf` needs `IsInt()` (-2^31..2^31-1);
 * - strings are copied into `std::string` from `GetString()`, a C string: the value ends at the first U+0000;
 * - hex fields need the exact length and `isxdigit` characters;
 * - dates go through `isValidTimeString` (AttestationCommons/src/Utils/TimeUtils.cpp): `std::regex_match` of
 *   `[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z` then `std::get_time("%Y-%m-%dT%H:%M:%SZ")`
 *   (month 01-12, day 01-31, hour 00-23, minute 00-59, second 00-60), then a `mktime` round trip that
 *   refuses any date it would change: 2024-02-30 and a leap second :60 are format errors (Intel's
 *   TimeUtilsUT isValidTimeStringIncorrectDate); no fraction, no offset, no other form.
 */

export interface QvlDate {
  /** The date as written. */
  text: string;
  /** Unix seconds. */
  seconds: number;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

const dateCache = new Map<string, QvlDate | null>();

/** QVL's date grammar; null when QVL's `isValidTimeString` refuses the text. */
export function qvlDate(text: string): QvlDate | null {
  // TCB levels repeat a handful of dates: remember them (the result is a pure function of the text).
  let d = dateCache.get(text);
  if (d === undefined) {
    d = parseQvlDate(text);
    if (dateCache.size >= 1024) dateCache.clear();
    dateCache.set(text, d);
  }
  return d;
}

function parseQvlDate(text: string): QvlDate | null {
  const m = DATE_RE.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  // QVL's isValidTimeString (AttestationCommons/src/Utils/TimeUtils.cpp, standard and enclave alike) runs
  // the parsed fields through mktime (timegm) and refuses the date when any field changed: a day past the
  // month's end (2017-06-31) or a leap second (:60) is a format error, not the next day or minute.
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  if (
    d.getUTCFullYear() !== year ||
    d.getUTCMonth() !== month - 1 ||
    d.getUTCDate() !== day ||
    d.getUTCHours() !== hour ||
    d.getUTCMinutes() !== minute ||
    d.getUTCSeconds() !== second
  )
    return null;
  return { text, seconds: Math.floor(d.getTime() / 1000) };
}

/** The value std::string takes from rapidjson's GetString(): up to the first U+0000. */
export function cString(s: string): string {
  const nul = s.indexOf("\u0000");
  return nul < 0 ? s : s.slice(0, nul);
}

const HEX_DIGIT = /^[0-9A-Fa-f]*$/;

/** The value of one hex digit (already validated). */
function nibble(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

/** Reads the fields of one signed JSON document, failing with its code and the field's path. */
export class QvlFields {
  constructor(
    readonly code: ErrorCode,
    readonly what: string,
  ) {}

  fail(field: string, message: string): TdxError {
    return new TdxError(this.code, `${this.what} ${field}: ${message}`, {
      field: `${this.what}.${field}`,
      hint: `the ${this.what} JSON is not in Intel's format; fetch it again from Intel PCS or your PCCS`,
    });
  }

  obj(v: JsonValue | undefined, field: string): JsonObject {
    if (v === undefined) throw this.fail(field, "is missing");
    if (v.kind !== "object") throw this.fail(field, "must be an object");
    return v;
  }

  arr(v: JsonValue | undefined, field: string): JsonValue[] {
    if (v === undefined) throw this.fail(field, "is missing");
    if (v.kind !== "array") throw this.fail(field, "must be an array");
    return v.items;
  }

  /** getStringFieldOf: the first member, a string, as a C string. */
  str(o: JsonObject, key: string, field = key): string {
    const v = memberOf(o, key);
    if (v === undefined) throw this.fail(field, "is missing");
    if (v.kind !== "string") throw this.fail(field, "must be a string");
    return cString(v.value);
  }

  /** An optional string member (absent: undefined; present: must be a string). */
  optionalStr(o: JsonObject, key: string, field = key): string | undefined {
    return memberOf(o, key) === undefined ? undefined : this.str(o, key, field);
  }

  /** getUintFieldOf: rapidjson IsUint (0..2^32-1, integer literal). */
  uint(o: JsonObject, key: string, field = key): number {
    const v = memberOf(o, key);
    if (v === undefined) throw this.fail(field, "is missing");
    if (v.kind !== "number" || !v.isUint) throw this.fail(field, "must be an integer 0..4294967295");
    return v.value;
  }

  /** getIntFieldOf: rapidjson IsInt (-2^31..2^31-1, integer literal). */
  int(o: JsonObject, key: string, field = key): number {
    const v = memberOf(o, key);
    if (v === undefined) throw this.fail(field, "is missing");
    if (v.kind !== "number" || !v.isInt) throw this.fail(field, "must be a 32-bit integer");
    return v.value;
  }

  /** getBytesFieldOf / getHexstringFieldOf: exactly `hexLength` hex digits. */
  hex(o: JsonObject, key: string, hexLength: number, field = key): Uint8Array {
    const s = this.str(o, key, field);
    if (s.length !== hexLength || !HEX_DIGIT.test(s)) {
      throw this.fail(field, `must be ${hexLength / 2} bytes of hex`);
    }
    const out = new Uint8Array(hexLength / 2);
    for (let i = 0; i < out.length; i++)
      out[i] = (nibble(s.charCodeAt(2 * i)) << 4) | nibble(s.charCodeAt(2 * i + 1));
    return out;
  }

  /** getDateFieldOf: a string in QVL's date grammar. */
  date(o: JsonObject, key: string, field = key): QvlDate {
    const s = this.str(o, key, field);
    const d = qvlDate(s);
    if (!d) throw this.fail(field, `"${s}" is not a date of the form YYYY-MM-DDThh:mm:ssZ`);
    return d;
  }

  /**
   * getStringVecFieldOf (advisoryIDs): optional; when present an array of strings. (QVL calls GetString()
   * on each element without a type check, undefined behaviour for a non-string; refused here.)
   */
  advisories(o: JsonObject, field: string): string[] {
    const v = memberOf(o, "advisoryIDs");
    if (v === undefined) return [];
    return this.arr(v, `${field}.advisoryIDs`).map((a, i) => {
      if (a.kind !== "string") throw this.fail(`${field}.advisoryIDs[${i}]`, "must be a string");
      return cString(a.value);
    });
  }
}
