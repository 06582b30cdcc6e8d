import { hexOf, latin1Of, utf8Bytes } from "../encoding.js";
import { TdxError } from "../errors.js";

/** Small byte, text and time helpers shared by the verification steps. */

/** Lowercase hex (src/encoding.ts). */
export const hex = hexOf;

/** "TDX_%02X" of a module major version (QVL TdxModuleCheck.cpp findTdxModuleIdentity). */
export function moduleIdName(major: number): string {
  return `TDX_${hexOf(Uint8Array.of(major & 0xff)).toUpperCase()}`;
}

/** A private copy. */
export function copy(b: Uint8Array): Uint8Array {
  return b.slice();
}

/** The bytes as a latin1 string: a compact, exact map key. */
export function latin1(b: Uint8Array): string {
  return latin1Of(b);
}

/** A short cache key for signed DER: its length and last 64 bytes (inside the signature). */
export function tailKey(der: Uint8Array): string {
  return `${der.length}:${latin1(der.subarray(Math.max(0, der.length - 64)))}`;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** UTF-8 bytes of a text. */
export function utf8(text: string): Uint8Array {
  return utf8Bytes(text);
}

const isoCache = new Map<number, string>();

/** Unix seconds as "2025-07-19T10:00:35Z" (memoised: results repeat the same few dates). */
export function iso(seconds: number): string {
  let s = isoCache.get(seconds);
  if (s === undefined) {
    const d = new Date(seconds * 1000);
    s = Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString().replace(".000Z", "Z");
    if (isoCache.size >= 4096) isoCache.clear();
    isoCache.set(seconds, s);
  }
  return s;
}

/** The verification time in whole unix seconds; VERIFY_TIME_INVALID for anything else. */
export function toSeconds(now: number | Date): number {
  const s = now instanceof Date ? now.getTime() / 1000 : now;
  if (typeof s !== "number" || !Number.isFinite(s)) {
    throw new TdxError("VERIFY_TIME_INVALID", "the verification time is not a valid time", {
      field: "now",
      hint: "pass now as unix seconds or a Date (verification never reads the clock itself)",
    });
  }
  return Math.floor(s);
}

/** Cached check records are shared between results: freeze them so no caller can alter another's. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    // Indexes for arrays, for-in for the plain objects of results (no key arrays allocated).
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) deepFreeze(v[i]);
    else for (const k in v) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

let lastId = 0;

/** A process-wide unique id (cache entries are told apart by id, never by object identity alone). */
export function newId(): number {
  return ++lastId;
}
