import { createHash, createPublicKey, type KeyObject, verify, webcrypto } from "node:crypto";
import { TdxError } from "../errors.js";
import { derEcdsaToRaw } from "./backend.js";

export { derEcdsaToRaw } from "./backend.js";

/**
 * ECDSA P-256 over node:crypto (OpenSSL). Keys come in as raw points (the quote's 64-byte attestation
 * key, or 0x04||x||y from a certificate); signatures as raw r||s (quotes, TCB info, QE identity) or DER
 * (certificates, CRLs).
 */

function b64url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
}

/** x||y of a 64-byte x||y or 65-byte 0x04||x||y point; INVALID_PUBLIC_KEY for any other length. */
function uncompressedXY(point: Uint8Array, field: string): Uint8Array {
  const xy = point.length === 65 && point[0] === 0x04 ? point.subarray(1) : point;
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
  return xy;
}

function invalidPoint(field: string, cause: unknown): TdxError {
  return new TdxError("INVALID_PUBLIC_KEY", `${field} is not a valid P-256 point`, {
    field,
    hint: "the key bytes are corrupt",
    cause,
  });
}

/** A P-256 public key from 64 bytes x||y or 65 bytes 0x04||x||y. Throws TdxError on a point off the curve. */
export function p256PublicKey(point: Uint8Array, field = "publicKey"): KeyObject {
  const xy = uncompressedXY(point, field);
  try {
    // JWK import is the cheapest path into OpenSSL for a raw point on Node 20.
    return createPublicKey({
      key: { kty: "EC", crv: "P-256", x: b64url(xy.subarray(0, 32)), y: b64url(xy.subarray(32, 64)) },
      format: "jwk",
    });
  } catch (e) {
    throw invalidPoint(field, e);
  }
}

/**
 * The same key as `p256PublicKey`, imported through WebCrypto ("raw" point): several times cheaper than a
 * synchronous import on Node 20 (no scalar multiplication). OpenSSL rejects the same points either way
 * (off the curve, a coordinate >= p): rejects with the same INVALID_PUBLIC_KEY TdxError.
 */
export async function p256PublicKeyAsync(
  point: Uint8Array,
  field = "publicKey",
): Promise<webcrypto.CryptoKey> {
  const xy = uncompressedXY(point, field);
  const raw = new Uint8Array(65);
  raw[0] = 0x04;
  raw.set(xy, 1);
  try {
    return await webcrypto.subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, false, [
      "verify",
    ]);
  } catch (e) {
    throw invalidPoint(field, e);
  }
}

/** `verifyRawP256` through WebCrypto (runs on libuv's thread pool). Resolves false on any failure. */
export async function verifyRawP256Async(
  key: webcrypto.CryptoKey,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== 64) return false;
  try {
    return await webcrypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, message);
  } catch {
    return false;
  }
}

/** `verifyDerEcdsa` (SHA-256) through WebCrypto. Resolves false on any failure, non-canonical DER included. */
export async function verifyDerEcdsaAsync(
  key: webcrypto.CryptoKey,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const raw = derEcdsaToRaw(signature);
  return raw !== null && verifyRawP256Async(key, message, raw);
}

/**
 * `verifyRawP256` (der false) or `verifyDerEcdsa` with SHA-256 (der true), run on libuv's thread pool
 * (node:crypto's one-shot verify with a callback). Resolves false on any failure, as they return false.
 */
export function verifyP256OnThreadPool(
  key: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
  der: boolean,
): Promise<boolean> {
  if (!der && signature.length !== 64) return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      verify("sha256", message, { key, dsaEncoding: der ? "der" : "ieee-p1363" }, signature, (err, ok) =>
        resolve(!err && ok),
      );
    } catch {
      resolve(false);
    }
  });
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
