/**
 * QGS transport framing: every message travels as a 4-byte big-endian length (excluding itself) followed by
 * the message. This is the only big-endian field of the whole protocol (guest-abi §6.1).
 */
import { TdxError } from "../errors.js";

export const QGS_FRAME_PREFIX_SIZE = 4;

export function encodeFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(QGS_FRAME_PREFIX_SIZE + message.length);
  new DataView(out.buffer).setUint32(0, message.length, false);
  out.set(message, QGS_FRAME_PREFIX_SIZE);
  return out;
}

/** The length a frame prefix announces (the first 4 bytes, big-endian). */
export function framePrefixLength(bytes: Uint8Array): number {
  if (bytes.length < QGS_FRAME_PREFIX_SIZE)
    throw new TdxError("QGS_FRAME_TRUNCATED", `frame of ${bytes.length} bytes has no 4-byte length prefix`, {
      offset: bytes.length,
      hint: "the peer closed the connection before sending a whole frame",
    });
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, false);
}

/** Decode exactly one frame; trailing bytes are an error (one message per connection). */
export function decodeFrame(bytes: Uint8Array, maxMessageSize = Number.MAX_SAFE_INTEGER): Uint8Array {
  const len = framePrefixLength(bytes);
  if (len > maxMessageSize)
    throw new TdxError(
      "QGS_FRAME_TOO_LARGE",
      `frame announces ${len} bytes, the limit is ${maxMessageSize}`,
      {
        offset: 0,
        hint: "the peer is not speaking the QGS protocol, or the limit is too small for its messages",
      },
    );
  if (bytes.length !== QGS_FRAME_PREFIX_SIZE + len)
    throw new TdxError(
      bytes.length < QGS_FRAME_PREFIX_SIZE + len ? "QGS_FRAME_TRUNCATED" : "QGS_FRAME_TRAILING_BYTES",
      `frame announces ${len} bytes but ${bytes.length - QGS_FRAME_PREFIX_SIZE} follow the prefix`,
      { offset: QGS_FRAME_PREFIX_SIZE, hint: "the frame length must equal the message length" },
    );
  return bytes.subarray(QGS_FRAME_PREFIX_SIZE);
}

/** Collects stream chunks into one contiguous buffer without quadratic copying. */
export class ByteAccumulator {
  private buf = new Uint8Array(4096);
  private len = 0;

  get length(): number {
    return this.len;
  }

  push(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.len + chunk.length) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  /** A view of the first `n` bytes (or all). Valid until the next push. */
  bytes(n = this.len): Uint8Array {
    return this.buf.subarray(0, Math.min(n, this.len));
  }
}
