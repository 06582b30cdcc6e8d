import { createHash } from "node:crypto";
import { hexBytes } from "../encoding.js";
import { TdxError } from "../errors.js";

/** Size of a TDX measurement register and of a SHA-384 digest. */
export const MR_SIZE = 48;

export function sha384(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha384");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export { bytesEqual, toHex as hex } from "../abi/bytes.js";

/** Strict hex decode (even length, hex digits only; an optional 0x prefix is accepted). */
export function unhex(text: string, field: string, expectedLength?: number): Uint8Array {
  const t = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) {
    throw new TdxError("BAD_HEX", `${field} is not a hex string`, {
      field,
      hint: "give an even number of hex digits (0-9, a-f)",
    });
  }
  const out = hexBytes(t) as Uint8Array; // even length and hex digits: checked above
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new TdxError("BAD_HEX_LENGTH", `${field} must be ${expectedLength} bytes, got ${out.length}`, {
      field,
      hint: `give exactly ${expectedLength * 2} hex digits`,
      data: { expected: expectedLength, actual: out.length },
    });
  }
  return out;
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** The RTMR extend rule of TDG.MR.RTMR.EXTEND: MR := SHA-384(MR || digest), both 48 bytes. */
export function extendRegister(register: Uint8Array, digest: Uint8Array): Uint8Array {
  return sha384(register, digest);
}
