import { concatBytes } from "../abi/bytes.js";
import { TdxError } from "../errors.js";

/**
 * The few DER encoders the simulated PKI needs for Intel's extension values (the SGX extension, key
 * usage, basic constraints, key identifiers, CRL distribution points). Encode-only; parsing lives in
 * src/crypto/der.ts.
 */

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  let v = n;
  while (v > 0) {
    out.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return [0x80 | out.length, ...out];
}

export function tlv(tag: number, content: Uint8Array): Uint8Array {
  const len = lengthBytes(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts);
}

export function sequence(...items: Uint8Array[]): Uint8Array {
  return tlv(0x30, concat(items));
}

export function octetString(b: Uint8Array): Uint8Array {
  return tlv(0x04, b);
}

export function boolean(v: boolean): Uint8Array {
  return tlv(0x01, Uint8Array.of(v ? 0xff : 0x00));
}

/** A non-negative INTEGER, minimally encoded (a leading zero byte when the top bit is set). */
export function integer(v: number): Uint8Array {
  if (!Number.isInteger(v) || v < 0)
    throw new TdxError(
      "SIM_DER_VALUE_INVALID",
      `a DER INTEGER of ${v} was asked: only non-negative integers are encoded`,
      {
        field: "integer",
        data: { value: String(v) },
        hint: "give whole numbers of 0 or more (SVNs, path lengths, CRL numbers)",
      },
    );
  const bytes: number[] = [];
  let x = v;
  do {
    bytes.unshift(x & 0xff);
    x = Math.floor(x / 256);
  } while (x > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

export function enumerated(v: number): Uint8Array {
  const i = integer(v);
  i[0] = 0x0a;
  return i;
}

/** OBJECT IDENTIFIER from dotted text. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((s) => Number(s));
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i] = (chunk[i] ?? 0) | 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** BIT STRING with the given unused-bit count. */
export function bitString(bytes: Uint8Array, unusedBits: number): Uint8Array {
  return tlv(0x03, concat([Uint8Array.of(unusedBits), bytes]));
}
