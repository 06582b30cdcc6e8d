import type { FastifyInstance } from "fastify";
import { type ErrorCode, TdxError } from "../errors.js";

/**
 * How deep JSON request bodies may nest. Every message the broker and the explorer take is a few
 * levels deep (an Attestation is 5, collateral JSON 6); code further down (canonical JSON, JWK import,
 * collateral readers) recurses, so a body nested thousands deep is refused before anything reads it.
 */
export const MAX_JSON_DEPTH = 32;

/** The deepest nesting of [ and { in JSON text (strings skipped), counted without recursion. */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string to its closing quote with indexOf (a quote's base64 is most of an Attestation):
      // a quote ends the string unless an odd number of backslashes precede it.
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q < 0) return max; // unterminated: the JSON parser refuses it
        let slashes = 0;
        while (text.charCodeAt(q - 1 - slashes) === 0x5c) slashes++;
        i = q;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Throw `code` (400) when JSON text nests deeper than `max`. */
export function checkJsonDepth(text: string, code: ErrorCode, field = "body", max = MAX_JSON_DEPTH): void {
  const depth = jsonNestingDepth(text);
  if (depth > max)
    throw new TdxError(code, `the JSON ${field} nests ${depth} levels deep; at most ${max} are accepted`, {
      field,
      hint: "send the message as docs/kbs.md and docs/explorer.md show it: a few levels of objects, not more",
      data: { depth, max },
    });
}

/**
 * Replace the JSON body parser of a Fastify scope with one that refuses bodies nested deeper than
 * MAX_JSON_DEPTH (and keeps Fastify's protection against __proto__ / constructor poisoning).
 */
export function useDepthLimitedJsonParser(app: FastifyInstance, code: ErrorCode, bodyLimit?: number): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser(
    "application/json",
    { parseAs: "string", ...(bodyLimit ? { bodyLimit } : {}) },
    (req, body, done) => {
      try {
        checkJsonDepth(String(body), code);
      } catch (e) {
        done(e as Error, undefined);
        return;
      }
      parse(req, body as string, done);
    },
  );
}
