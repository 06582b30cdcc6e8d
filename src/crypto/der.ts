import { TdxError } from "../errors.js";

/**
 * A strict, allocation-light DER walker: just enough ASN.1 for X.509 certificates, CRLs and Intel's
 * PCK SGX extension. Nodes are offsets into the caller's buffer, so nothing is copied while walking.
 * Only definite, minimally encoded lengths and single-byte tags are accepted (what DER requires and
 * what every certificate in the Intel PKI uses).
 */

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_NULL = 0x05;
export const TAG_OID = 0x06;
export const TAG_ENUMERATED = 0x0a;
export const TAG_UTF8_STRING = 0x0c;
export const TAG_PRINTABLE_STRING = 0x13;
export const TAG_IA5_STRING = 0x16;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;
export const TAG_SEQUENCE = 0x30;
export const TAG_SET = 0x31;

export interface DerNode {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

export function derError(what: string, offset: number, field = "der"): TdxError {
  return new TdxError("DER_MALFORMED", `malformed DER (${what}) at offset ${offset}`, {
    field,
    offset,
    hint: "the certificate, CRL or extension is corrupt or not DER; obtain a fresh copy from Intel PCS/PCCS",
  });
}

/** Read the TLV at `offset`; it must end at or before `limit`. */
export function readNode(buf: Uint8Array, offset: number, limit: number = buf.length): DerNode {
  if (offset + 2 > limit) throw derError("truncated header", offset);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw derError("multi-byte tag", offset);
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw derError("indefinite length", offset);
    if (n > 4) throw derError("length too large", offset);
    if (p + n > limit) throw derError("truncated length", offset);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (buf[p] === 0 || len < 0x80) throw derError("non-minimal length", offset);
    p += n;
  }
  const end = p + len;
  if (end > limit) throw derError("content runs past its container", offset);
  return { tag, start: offset, contentStart: p, end };
}

/** Read the TLV at `offset` and require a tag. */
export function expectNode(
  buf: Uint8Array,
  offset: number,
  tag: number,
  limit: number,
  field: string,
): DerNode {
  const n = readNode(buf, offset, limit);
  if (n.tag !== tag) {
    throw derError(
      `${field}: expected tag 0x${tag.toString(16)}, got 0x${n.tag.toString(16)}`,
      offset,
      field,
    );
  }
  return n;
}

/** The child nodes of a constructed node. */
export function childrenOf(buf: Uint8Array, node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let p = node.contentStart;
  while (p < node.end) {
    const c = readNode(buf, p, node.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

export function contentOf(buf: Uint8Array, node: DerNode): Uint8Array {
  return buf.subarray(node.contentStart, node.end);
}

export function tlvOf(buf: Uint8Array, node: DerNode): Uint8Array {
  return buf.subarray(node.start, node.end);
}

const oidCache = new Map<string, string>();

/** Decode an OBJECT IDENTIFIER's content to dotted form (memoised: certificates repeat the same few OIDs). */
export function decodeOid(content: Uint8Array): string {
  if (content.length === 0) throw derError("empty OID", 0, "oid");
  let key = "";
  for (let i = 0; i < content.length; i++) key += String.fromCharCode(content[i]!);
  const hit = oidCache.get(key);
  if (hit !== undefined) return hit;
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (v === 0 && b === 0x80) throw derError("non-minimal OID arc", i, "oid");
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = v < 40 ? 0 : v < 80 ? 1 : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    } else if (i === content.length - 1) throw derError("truncated OID", i, "oid");
  }
  const oid = parts.join(".");
  if (oidCache.size < 1024) oidCache.set(key, oid);
  return oid;
}

/** decodeOid of an OID node's content, without taking a view of it when the OID is already memoised. */
export function decodeOidOf(buf: Uint8Array, node: DerNode): string {
  let key = "";
  for (let i = node.contentStart; i < node.end; i++) key += String.fromCharCode(buf[i]!);
  return oidCache.get(key) ?? decodeOid(buf.subarray(node.contentStart, node.end));
}

/** Non-negative INTEGER content (or ENUMERATED) as a JS number; refuses negatives and values above 2^48. */
export function decodeSmallUint(content: Uint8Array, field: string): number {
  if (content.length === 0 || content.length > 7) throw derError(`${field}: integer size`, 0, field);
  if (content[0]! & 0x80) throw derError(`${field}: negative integer`, 0, field);
  if (content.length > 1 && content[0] === 0 && !(content[1]! & 0x80)) {
    throw derError(`${field}: non-minimal integer`, 0, field);
  }
  let v = 0;
  for (let i = 0; i < content.length; i++) v = v * 256 + content[i]!;
  return v;
}

function digits(b: Uint8Array, at: number, n: number, field: string): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = (b[at + i] ?? 0) - 48;
    if (c < 0 || c > 9) throw derError(`${field}: bad time digit`, at + i, field);
    v = v * 10 + c;
  }
  return v;
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) to unix seconds. */
export function decodeTime(buf: Uint8Array, node: DerNode, field: string): number {
  const s = node.contentStart;
  const len = node.end - s;
  let year: number;
  let p: number;
  if (node.tag === TAG_UTC_TIME) {
    if (len !== 13 || buf[s + 12] !== 0x5a)
      throw derError(`${field}: UTCTime must be YYMMDDHHMMSSZ`, node.start);
    const yy = digits(buf, s, 2, field);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    p = s + 2;
  } else if (node.tag === TAG_GENERALIZED_TIME) {
    if (len !== 15 || buf[s + 14] !== 0x5a) {
      throw derError(`${field}: GeneralizedTime must be YYYYMMDDHHMMSSZ`, node.start);
    }
    year = digits(buf, s, 4, field);
    p = s + 4;
  } else throw derError(`${field}: not a time`, node.start, field);
  const month = digits(buf, p, 2, field);
  const day = digits(buf, p + 2, 2, field);
  const hour = digits(buf, p + 4, 2, field);
  const minute = digits(buf, p + 6, 2, field);
  const second = digits(buf, p + 8, 2, field);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw derError(`${field}: time out of range`, node.start, field);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
}
