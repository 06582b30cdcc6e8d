import { createPublicKey, type KeyObject } from "node:crypto";
import { FlattenedEncrypt, type FlattenedJWE, flattenedDecrypt, type JWK } from "jose";
import { TdxError } from "../errors.js";

/** Key-wrapping algorithms a tee-pubkey may name (Trustee's set minus the deprecated RSA1_5). */
export const SUPPORTED_TEE_KEY_ALGS = ["ECDH-ES+A256KW", "RSA-OAEP-256"] as const;
export type TeeKeyAlg = (typeof SUPPORTED_TEE_KEY_ALGS)[number];

/** The KBS resource response: a flattened JWE (protected, encrypted_key, iv, ciphertext, tag). */
export type KbsResponse = Required<
  Pick<FlattenedJWE, "protected" | "encrypted_key" | "iv" | "ciphertext" | "tag">
>;

/**
 * Check a tee-pubkey JWK and turn it into a key object. Only public EC P-256/P-384/P-521 keys (for
 * ECDH-ES+A256KW) and RSA keys of at least 2048 bits (for RSA-OAEP-256) are accepted; a JWK that also
 * carries private parts is refused because a guest must never send them.
 */
export function importTeePubkey(jwk: unknown): { key: KeyObject; alg: TeeKeyAlg; jwk: JWK } {
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk))
    throw badKey("tee-pubkey is not a JSON object", "send the public key as a JWK object");
  const k = jwk as Record<string, unknown>;
  if ("d" in k || "p" in k || "q" in k)
    throw badKey("tee-pubkey carries private key material", "send only the public part of the key");
  const alg = k.alg === undefined ? (k.kty === "RSA" ? "RSA-OAEP-256" : "ECDH-ES+A256KW") : k.alg;
  if (k.kty === "EC") {
    if (alg !== "ECDH-ES+A256KW")
      throw badKey(`alg ${String(alg)} does not fit an EC key`, "use ECDH-ES+A256KW for EC keys");
    if (!["P-256", "P-384", "P-521"].includes(String(k.crv)))
      throw badKey(`curve ${String(k.crv)} is not supported`, "use P-256 (default), P-384 or P-521");
    if (typeof k.x !== "string" || typeof k.y !== "string")
      throw badKey("EC tee-pubkey lacks x or y", "send x and y as base64url coordinates");
  } else if (k.kty === "RSA") {
    if (alg !== "RSA-OAEP-256")
      throw badKey(
        `alg ${String(alg)} is not accepted for RSA keys`,
        "use RSA-OAEP-256 (RSA1_5 is deprecated)",
      );
    if (typeof k.n !== "string" || typeof k.e !== "string")
      throw badKey("RSA tee-pubkey lacks n or e", "send n and e as base64url integers");
  } else {
    throw badKey(`key type ${String(k.kty)} is not supported`, "use an EC (P-256) or RSA key");
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: k as JWK & { kty: string }, format: "jwk" });
  } catch (e) {
    throw badKey(
      `tee-pubkey is not a valid key: ${(e as Error).message}`,
      "check the coordinates/modulus encoding",
    );
  }
  if (k.kty === "RSA" && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
    throw badKey("RSA tee-pubkey is shorter than 2048 bits", "use an RSA key of 2048 bits or more");
  return { key, alg: alg as TeeKeyAlg, jwk: k as JWK };
}

function badKey(message: string, hint: string): TdxError {
  return new TdxError("KBS_TEE_PUBKEY_INVALID", message, { field: "runtime-data.tee-pubkey", hint });
}

/**
 * Encrypt a secret to the TEE key as Trustee does: a random A256GCM content key wrapped with
 * ECDH-ES+A256KW (Concat KDF, empty PartyU/PartyV info) or RSA-OAEP-256; AAD is the ASCII of the
 * base64url protected header, and the tag stands apart from the ciphertext (protocol >= 0.2.0).
 */
export async function encryptToTeeKey(plaintext: Uint8Array, teePubkey: unknown): Promise<KbsResponse> {
  const { key, alg } = importTeePubkey(teePubkey);
  const jwe = await new FlattenedEncrypt(plaintext).setProtectedHeader({ alg, enc: "A256GCM" }).encrypt(key);
  if (!jwe.protected || !jwe.encrypted_key || !jwe.tag)
    throw new TdxError("KBS_JWE_FAILED", "the JWE library returned an incomplete flattened JWE");
  return {
    protected: jwe.protected,
    encrypted_key: jwe.encrypted_key,
    iv: jwe.iv ?? "",
    ciphertext: jwe.ciphertext,
    tag: jwe.tag,
  };
}

/** The guest side: decrypt a KBS response with the TEE private key. */
export async function decryptKbsResponse(response: unknown, privateKey: KeyObject): Promise<Uint8Array> {
  if (response === null || typeof response !== "object")
    throw new TdxError("KBS_RESPONSE_INVALID", "the resource response is not a JSON object", {
      hint: "the server did not answer with a KBS Response (flattened JWE)",
    });
  try {
    const { plaintext, protectedHeader } = await flattenedDecrypt(response as FlattenedJWE, privateKey, {
      keyManagementAlgorithms: [...SUPPORTED_TEE_KEY_ALGS],
      contentEncryptionAlgorithms: ["A256GCM"],
    });
    if (protectedHeader?.enc !== "A256GCM")
      throw new Error(`unexpected content encryption ${String(protectedHeader?.enc)}`);
    return plaintext;
  } catch (e) {
    throw new TdxError(
      "KBS_RESPONSE_DECRYPT_FAILED",
      `could not decrypt the resource: ${(e as Error).message}`,
      {
        cause: e,
        hint: "the response was not encrypted to this session's tee key, or it was altered in transit",
      },
    );
  }
}
