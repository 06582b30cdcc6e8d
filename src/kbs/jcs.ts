import { TdxError } from "../errors.js";

/**
 * RFC 8785 JSON Canonicalization Scheme. Object members are sorted by the UTF-16 code units of their
 * names, there is no whitespace, numbers use the ECMAScript shortest round-trip form (what
 * JSON.stringify prints) and strings escape only what JSON requires. The KBS protocol hashes this
 * form of {additional-evidence, nonce, tee-pubkey} into REPORTDATA, so both sides must agree byte
 * for byte.
 */
export function canonicalJson(value: unknown): string {
  return write(value, [], 0);
}

/** Far deeper than any message of the protocol; deeper input is refused instead of exhausting the stack. */
const MAX_DEPTH = 64;

/** The JSONPath-like name of a place, for messages: built only when something is refused. */
function pathOf(keys: (string | number)[]): string {
  return `$${keys.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("")}`;
}

/** `keys` is the path to `value` (pushed and popped as the walk goes, joined only for an error). */
function write(value: unknown, keys: (string | number)[], depth: number): string {
  if (depth > MAX_DEPTH)
    throw new TdxError("JCS_TOO_DEEP", `${pathOf(keys).slice(0, 80)}… nests more than ${MAX_DEPTH} levels`, {
      field: "tee-pubkey",
      hint: "send a flat JWK (kty, crv, x, y or kty, n, e, alg)",
    });
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) {
        const path = pathOf(keys);
        throw new TdxError("JCS_NUMBER_NOT_FINITE", `${path} is ${value}, which JSON cannot represent`, {
          field: path,
          hint: "send only finite numbers",
        });
      }
      // ECMAScript Number serialization is exactly RFC 8785's number format (and -0 prints as 0).
      return JSON.stringify(value);
    case "string":
      return writeString(value, keys);
    case "object": {
      let out: string;
      if (Array.isArray(value)) {
        out = "[";
        for (let i = 0; i < value.length; i++) {
          keys.push(i);
          out += (i > 0 ? "," : "") + write(value[i], keys, depth + 1);
          keys.pop();
        }
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 requires.
      const names = Object.keys(obj).sort();
      out = "{";
      let first = true;
      for (const k of names) {
        const v = obj[k];
        if (v === undefined) continue;
        keys.push(k);
        out += `${first ? "" : ","}${writeString(k, keys)}:${write(v, keys, depth + 1)}`;
        keys.pop();
        first = false;
      }
      return `${out}}`;
    }
    default: {
      const path = pathOf(keys);
      throw new TdxError(
        "JCS_UNSUPPORTED_VALUE",
        `${path} is a ${typeof value}, which JSON cannot represent`,
        {
          field: path,
          hint: "canonical JSON accepts only null, booleans, numbers, strings, arrays and objects",
        },
      );
    }
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;

function writeString(s: string, keys: (string | number)[]): string {
  // Most strings have no surrogate at all: one native scan instead of a loop over every character.
  if (SURROGATE.test(s)) checkSurrogates(s, keys);
  // For well-formed strings JSON.stringify escapes exactly ", \ and U+0000..U+001F, using the short
  // forms \b \t \n \f \r and lowercase \u00xx otherwise: RFC 8785's rule.
  return JSON.stringify(s);
}

function checkSurrogates(s: string, keys: (string | number)[]): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const path = pathOf(keys);
      throw new TdxError("JCS_LONE_SURROGATE", `${path} holds a lone UTF-16 surrogate at index ${i}`, {
        field: path,
        hint: "strings must be valid Unicode to be canonicalized (RFC 8785 §3.2.2.2)",
      });
    }
  }
}
