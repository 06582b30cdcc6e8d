import { hexBytes, hexOf } from "../encoding.js";
import { TdxError } from "../errors.js";

/** Text encodings without Buffer (any runtime): re-exported for the layouts and their callers. */
export {
  base64Bytes,
  base64Of,
  base64UrlOf,
  hexBytes,
  hexOf,
  latin1Bytes,
  latin1Of,
  utf8Bytes,
  utf8Of,
} from "../encoding.js";

/** Lowercase hex of the bytes (src/encoding.ts's hexOf, under the name the layouts export). */
export function toHex(bytes: Uint8Array): string {
  return hexOf(bytes);
}

/** Decode hex (either case, optional 0x prefix, whitespace ignored) into bytes. */
export function fromHex(hex: string, field = "hex"): Uint8Array {
  let h = hex.replace(/\s+/g, "");
  if (h.startsWith("0x") || h.startsWith("0X")) h = h.slice(2);
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) {
    throw new TdxError("INVALID_HEX", `${field} is not valid hex`, {
      field,
      hint: "give an even number of hex digits (0-9, a-f), optionally prefixed with 0x",
    });
  }
  return hexBytes(h) as Uint8Array;
}

export function u16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

export function u32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

export function u64(b: Uint8Array, off: number): bigint {
  return BigInt(u32(b, off)) | (BigInt(u32(b, off + 4)) << 32n);
}

export function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
}

export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

export function putU64(b: Uint8Array, off: number, v: bigint): void {
  putU32(b, off, Number(v & 0xffffffffn));
  putU32(b, off + 4, Number((v >> 32n) & 0xffffffffn));
}

/** Copy a fixed-size field into `out`, refusing a value of the wrong size. */
export function putBytes(out: Uint8Array, off: number, value: Uint8Array, size: number, field: string): void {
  if (value.length !== size) {
    throw new TdxError("ABI_FIELD_SIZE", `${field} must be ${size} bytes, got ${value.length}`, {
      field,
      hint: `pass exactly ${size} bytes for ${field}`,
      data: { expected: size, actual: value.length },
    });
  }
  out.set(value, off);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isAllZero(a: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
