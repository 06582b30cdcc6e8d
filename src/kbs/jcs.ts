import { TdxError } from "../errors.js";

/**
 * RFC 8785 JSON Canonicalization Scheme. Object members are sorted by the UTF-16 code units of their
 * names, there is no whitespace, numbers use the ECMAScript shortest round-trip form (what
 * JSON.stringify prints) and strings escape only what JSON requires. The KBS protocol hashes this
 * form of {additional-evidence, nonce, tee-pubkey} into REPORTDATA, so both sides must agree byte
 * for byte.
 */
export function canonicalJson(value: unknown): string {
  return write(value, "$", 0);
}

/** Far deeper than any message of the protocol; deeper input is refused instead of exhausting the stack. */
const MAX_DEPTH = 64;

function write(value: unknown, path: string, depth: number): string {
  if (depth > MAX_DEPTH)
    throw new TdxError("JCS_TOO_DEEP", `${path.slice(0, 80)}… nests more than ${MAX_DEPTH} levels`, {
      field: "tee-pubkey",
      hint: "send a flat JWK (kty, crv, x, y or kty, n, e, alg)",
    });
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value))
        throw new TdxError("JCS_NUMBER_NOT_FINITE", `${path} is ${value}, which JSON cannot represent`, {
          field: path,
          hint: "send only finite numbers",
        });
      // ECMAScript Number serialization is exactly RFC 8785's number format (and -0 prints as 0).
      return JSON.stringify(value);
    case "string":
      return writeString(value, path);
    case "object": {
      if (Array.isArray(value))
        return `[${value.map((v, i) => write(v, `${path}[${i}]`, depth + 1)).join(",")}]`;
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 requires.
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${writeString(k, path)}:${write(v, `${path}.${k}`, depth + 1)}`).join(",")}}`;
    }
    default:
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

function writeString(s: string, path: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff)
      throw new TdxError("JCS_LONE_SURROGATE", `${path} holds a lone UTF-16 surrogate at index ${i}`, {
        field: path,
        hint: "strings must be valid Unicode to be canonicalized (RFC 8785 §3.2.2.2)",
      });
  }
  // For well-formed strings JSON.stringify escapes exactly ", \ and U+0000..U+001F, using the short
  // forms \b \t \n \f \r and lowercase \u00xx otherwise: RFC 8785's rule.
  return JSON.stringify(s);
}
