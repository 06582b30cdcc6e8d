import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { vectorsDir } from "../helpers/vectors.js";

/** ../shared/vectors/eventlog, or null when the vectors are absent. */
export function eventlogVectorsDir(): string | null {
  const dir = vectorsDir();
  if (!dir) return null;
  const d = join(dir, "eventlog");
  return existsSync(d) ? d : null;
}

export const EVENTLOG_SKIP_REASON =
  "event-log vectors not found (../shared/vectors/eventlog or $TDX_VECTORS/eventlog)";

export function readVector(rel: string): Uint8Array {
  const dir = eventlogVectorsDir();
  if (!dir) throw new Error(EVENTLOG_SKIP_REASON);
  return new Uint8Array(readFileSync(join(dir, rel)));
}

export function readVectorText(rel: string): string {
  return Buffer.from(readVector(rel)).toString("utf8");
}

/** Encodes a TCG_PCR_EVENT2 record (test-side writer, independent of the parser). */
export function encodeEvent2(
  mrIndex: number,
  type: number,
  digests: { alg: number; digest: Uint8Array }[],
  data: Uint8Array,
): Uint8Array {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.writeUInt32LE(mrIndex >>> 0, 0);
  head.writeUInt32LE(type >>> 0, 4);
  head.writeUInt32LE(digests.length, 8);
  parts.push(head);
  for (const d of digests) {
    const a = Buffer.alloc(2);
    a.writeUInt16LE(d.alg, 0);
    parts.push(a, Buffer.from(d.digest));
  }
  const size = Buffer.alloc(4);
  size.writeUInt32LE(data.length, 0);
  parts.push(size, Buffer.from(data));
  return new Uint8Array(Buffer.concat(parts));
}

/** Encodes a Spec ID Event03 header record declaring the given algorithms. */
export function encodeSpecIdHeader(algs: { id: number; size: number }[], vendor = ""): Uint8Array {
  const body = Buffer.alloc(28 + algs.length * 4 + 1 + vendor.length);
  body.write("Spec ID Event03\0", 0, "latin1");
  body[21] = 2;
  body[23] = 2;
  body.writeUInt32LE(algs.length, 24);
  algs.forEach((a, i) => {
    body.writeUInt16LE(a.id, 28 + i * 4);
    body.writeUInt16LE(a.size, 30 + i * 4);
  });
  body[28 + algs.length * 4] = vendor.length;
  body.write(vendor, 29 + algs.length * 4, "latin1");
  const head = Buffer.alloc(32);
  head.writeUInt32LE(0, 0);
  head.writeUInt32LE(3, 4);
  head.writeUInt32LE(body.length, 28);
  return new Uint8Array(Buffer.concat([head, body]));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
}
