/**
 * Text encodings of bytes (hex, base64, base64url, latin1, UTF-8) without Buffer, so the parsers, the
 * verifier and the policy run on any runtime (browsers, Deno, Bun, edge workers). Imports nothing.
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUE = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  t["-".charCodeAt(0)] = 62; // base64url
  t["_".charCodeAt(0)] = 63;
  return t;
})();

/** Lowercase hex. */
export function hexOf(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Bytes of a hex text of even length, or null at the first character that is not a hex digit (callers
 * raise their own TdxError with their field).
 */
export function hexBytes(h: string): Uint8Array | null {
  if (h.length % 2 !== 0) return null;
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(h.charCodeAt(2 * i));
    const lo = hexDigit(h.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Standard base64 with padding. */
export function base64Of(b: Uint8Array): string {
  let s = "";
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64[v >>> 18]! + B64[(v >>> 12) & 63]! + B64[(v >>> 6) & 63]! + B64[v & 63]!;
  }
  if (i < b.length) {
    const v = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8);
    s += B64[v >>> 18]! + B64[(v >>> 12) & 63]!;
    s += i + 1 < b.length ? `${B64[(v >>> 6) & 63]!}=` : "==";
  }
  return s;
}

/** base64url without padding (JWK, JWS). */
export function base64UrlOf(b: Uint8Array): string {
  return base64Of(b).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/**
 * Bytes of base64 or base64url text, decoded as Node's Buffer does (lenient): characters outside both
 * alphabets (whitespace, line breaks) are skipped, decoding stops at the first "=", a dangling 6-bit
 * group is dropped.
 */
export function base64Bytes(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  let n = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 61) break; // "="
    const v = c < 128 ? B64_VALUE[c]! : -1;
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >>> bits) & 0xff;
    }
  }
  return out.slice(0, n);
}

/** Each byte as one character (U+0000-U+00FF): an exact, compact map key; also PEM/ASCII scanning. */
export function latin1Of(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** The low byte of each character. */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** UTF-8 text of bytes (invalid sequences become U+FFFD, as Buffer's toString does). */
export function utf8Of(b: Uint8Array): string {
  return decoder.decode(b);
}
