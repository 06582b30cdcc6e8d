import { createPublicKey, type KeyObject, verify, webcrypto } from "node:crypto";
import { TdxError } from "../errors.js";
import { type RsaJwk, rsaJwkParts } from "./rsa-jwk.js";

/**
 * RSASSA-PKCS1-v1_5 with SHA-256 (how a vTPM attestation key signs a TPM2_Quote with its default scheme)
 * over node:crypto. Keys come as JSON Web Keys (`n`, `e` base64url), as the Azure paravisor writes them into
 * the HCL var data. The runtime-neutral pieces (the key's parts, the signature opened) are in rsa-jwk.ts.
 */
export { diagnoseRsaPkcs1Sha256, type RsaJwk, rsaJwkParts } from "./rsa-jwk.js";

/** A node:crypto public key from an RSA JWK. INVALID_PUBLIC_KEY when OpenSSL refuses it. */
export function rsaPublicKeyFromJwk(jwk: unknown, field = "publicKey"): KeyObject {
  rsaJwkParts(jwk, field);
  const k = jwk as RsaJwk;
  try {
    return createPublicKey({ key: { kty: "RSA", n: k.n, e: k.e }, format: "jwk" });
  } catch (e) {
    throw new TdxError("INVALID_PUBLIC_KEY", `${field} is not a valid RSA public key`, {
      field,
      hint: "the key bytes are corrupt",
      cause: e,
    });
  }
}

/** Verify an RSASSA-PKCS1-v1_5 / SHA-256 signature. Never throws for a bad signature: returns false. */
export function verifyRsaPkcs1Sha256(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify("sha256", message, key, signature);
  } catch {
    return false;
  }
}

/** The same check through WebCrypto. Resolves false on any failure (a key WebCrypto refuses included). */
export async function verifyRsaPkcs1Sha256Async(
  jwk: RsaJwk,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    const key = await webcrypto.subtle.importKey(
      "jwk",
      { kty: "RSA", n: jwk.n, e: jwk.e, ext: true },
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["verify"],
    );
    return await webcrypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, message);
  } catch {
    return false;
  }
}
