import { createHash } from "node:crypto";

/**
 * The attestation agent's event log as guest-components writes it without a firmware CCEL
 * (attester/src/utils.rs read_eventlog; attestation-agent/src/eventlog/tcg2.rs): a stand-in Spec ID
 * header with a zero signature, AAEL entries (EV_EVENT_TAG at CC-MR 4 = RTMR3, one SHA-384 digest of
 * the tagged event "AAEL" ‖ size ‖ text), then the 8×0xFF end flag.
 */
export function aaHeader(
  algorithms: [number, number][] = [
    [0x0c, 48],
    [0x12, 32],
  ],
): Buffer {
  const data = Buffer.alloc(24 + 4 + algorithms.length * 4 + 1);
  data.writeUInt32LE(algorithms.length, 24);
  algorithms.forEach(([id, size], i) => {
    data.writeUInt16LE(id, 28 + i * 4);
    data.writeUInt16LE(size, 30 + i * 4);
  });
  const head = Buffer.alloc(32);
  head.writeUInt32LE(3, 4); // EV_NO_ACTION
  head.writeUInt32LE(data.length, 28);
  return Buffer.concat([head, data]);
}

export function aaelEvent(text: string, mrIndex = 4): { record: Buffer; digest: Buffer } {
  const body = Buffer.from(text, "utf8");
  const tagged = Buffer.alloc(8);
  tagged.writeUInt32LE(0x4141454c, 0); // "AAEL"
  tagged.writeUInt32LE(body.length, 4);
  const data = Buffer.concat([tagged, body]);
  const digest = createHash("sha384").update(data).digest();
  const head = Buffer.alloc(14);
  head.writeUInt32LE(mrIndex, 0);
  head.writeUInt32LE(6, 4); // EV_EVENT_TAG
  head.writeUInt32LE(1, 8);
  head.writeUInt16LE(0x0c, 12); // SHA-384
  const size = Buffer.alloc(4);
  size.writeUInt32LE(data.length);
  return { record: Buffer.concat([head, digest, size, data]), digest };
}

export const EL_END_FLAG = Buffer.alloc(8, 0xff);

/** The whole log (header, entries, end flag) and the digests extended into RTMR3, in order. */
export function aaelLog(texts: string[], header = aaHeader()): { log: Buffer; digests: Buffer[] } {
  const events = texts.map((t) => aaelEvent(t));
  return {
    log: Buffer.concat([header, ...events.map((e) => e.record), EL_END_FLAG]),
    digests: events.map((e) => e.digest),
  };
}
