import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";
import { TdxError } from "../errors.js";

/**
 * ECDSA P-256 over node:crypto (OpenSSL). Keys come in as raw points (the quote's 64-byte attestation
 * key, or 0x04||x||y from a certificate); signatures as raw r||s (quotes, TCB info, QE identity) or DER
 * (certificates, CRLs).
 */

function b64url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
}

/** A P-256 public key from 64 bytes x||y or 65 bytes 0x04||x||y. Throws TdxError on a point off the curve. */
export function p256PublicKey(point: Uint8Array, field = "publicKey"): KeyObject {
  let xy = point;
  if (point.length === 65 && point[0] === 0x04) xy = point.subarray(1);
  if (xy.length !== 64) {
    throw new TdxError(
      "INVALID_PUBLIC_KEY",
      `${field} is not an uncompressed P-256 point (${point.length} bytes)`,
      {
        field,
        hint: "P-256 keys are 64 bytes x||y (quote) or 65 bytes 0x04||x||y (certificate)",
      },
    );
  }
  try {
    // JWK import is the cheapest path into OpenSSL for a raw point on Node 20.
    return createPublicKey({
      key: { kty: "EC", crv: "P-256", x: b64url(xy.subarray(0, 32)), y: b64url(xy.subarray(32, 64)) },
      format: "jwk",
    });
  } catch (e) {
    throw new TdxError("INVALID_PUBLIC_KEY", `${field} is not a valid P-256 point`, {
      field,
      hint: "the key bytes are corrupt",
      cause: e,
    });
  }
}

/** Verify a raw r||s (64 bytes) ECDSA-SHA256 signature. Never throws for a bad signature: returns false. */
export function verifyRawP256(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return false;
  }
}

/** Verify a DER ECDSA-Sig-Value with the given hash ("sha256" | "sha384"). Returns false on any failure. */
export function verifyDerEcdsa(
  key: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  hash: "sha256" | "sha384" = "sha256",
): boolean {
  try {
    return verify(hash, message, { key, dsaEncoding: "der" }, signature);
  } catch {
    return false;
  }
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Lowercase hex SHA-256 (cache keys). */
export function sha256Hex(...parts: (Uint8Array | string)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}
