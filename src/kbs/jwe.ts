import {
  createCipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { FlattenedEncrypt, type FlattenedJWE, flattenedDecrypt, type JWK } from "jose";
import { newKeyPair } from "../crypto/keygen.js";
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
 *
 * The protected header is written exactly as Trustee's server writes it, `{"alg","enc","epk":{"crv",
 * "kty","x","y"}}`, because guest-components' Rust client does not use the received string as AAD:
 * it re-serialises the parsed header (kbs-types ProtectedHeader::generate_aad, serde_json), `alg` and
 * `enc` first, then the other members sorted (or, with serde_json's preserve_order, as received). With
 * the members already in sorted order both builds reproduce the same bytes. jose writes the epk as
 * {x, crv, kty, y}, which only the preserve_order build reproduces, so the EC case is assembled here
 * from node:crypto (ECDH, RFC 7518 §4.6 Concat KDF, AES key wrap, AES-GCM); jose still decrypts it
 * (test/kbs/jwe.test.ts) and still builds the RSA-OAEP-256 case, whose header is just {alg, enc}.
 */
export async function encryptToTeeKey(plaintext: Uint8Array, teePubkey: unknown): Promise<KbsResponse> {
  const { key, alg, jwk } = importTeePubkey(teePubkey);
  if (alg === "ECDH-ES+A256KW") return encryptEcdhEs(plaintext, key, String(jwk.crv));
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

const CURVES: Record<string, string> = { "P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1" };
const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** RFC 7518 §4.6.2 Concat KDF with SHA-256, one round (a 256-bit key): AlgorithmID, empty PartyU/V, SuppPubInfo. */
export function concatKdf256(z: Uint8Array, algorithm: string): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const alg = Buffer.from(algorithm, "ascii");
  return createHash("sha256")
    .update(u32(1))
    .update(z)
    .update(u32(alg.length))
    .update(alg)
    .update(u32(0))
    .update(u32(0))
    .update(u32(256))
    .digest();
}

function encryptEcdhEs(plaintext: Uint8Array, recipient: KeyObject, crv: string): KbsResponse {
  const { privateKey, publicKey } = newKeyPair({ type: "ec", namedCurve: CURVES[crv]! });
  const epk = publicKey.export({ format: "jwk" });
  const kek = concatKdf256(diffieHellman({ privateKey, publicKey: recipient }), "ECDH-ES+A256KW");
  const cek = randomBytes(32);
  // RFC 3394 AES key wrap with the default IV.
  const wrap = createCipheriv("id-aes256-wrap", kek, Buffer.from("A6A6A6A6A6A6A6A6", "hex"));
  const encryptedKey = Buffer.concat([wrap.update(cek), wrap.final()]);
  // Members in sorted order at every level (see above): alg, enc, epk{crv, kty, x, y}.
  const header = JSON.stringify({
    alg: "ECDH-ES+A256KW",
    enc: "A256GCM",
    epk: { crv, kty: "EC", x: epk.x, y: epk.y },
  });
  const protectedB64 = b64u(Buffer.from(header, "utf8"));
  const iv = randomBytes(12);
  const gcm = createCipheriv("aes-256-gcm", cek, iv);
  gcm.setAAD(Buffer.from(protectedB64, "ascii"));
  const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final()]);
  const tag = gcm.getAuthTag();
  cek.fill(0);
  kek.fill(0);
  return {
    protected: protectedB64,
    encrypted_key: b64u(encryptedKey),
    iv: b64u(iv),
    ciphertext: b64u(ciphertext),
    tag: b64u(tag),
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
      throw new TdxError(
        "KBS_RESPONSE_DECRYPT_FAILED",
        `could not decrypt the resource: content encryption ${String(protectedHeader?.enc)} is not A256GCM`,
        {
          field: "protected.enc",
          hint: "the broker must encrypt the resource with A256GCM (KBS protocol 0.4.0)",
        },
      );
    return plaintext;
  } catch (e) {
    if (e instanceof TdxError) throw e;
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
