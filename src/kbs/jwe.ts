import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createPublicKey,
  ECDH,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { FlattenedEncrypt, type FlattenedJWE, flattenedDecrypt, type JWK } from "jose";
import { TdxError } from "../errors.js";

/** Key-wrapping algorithms a tee-pubkey may name (Trustee's set minus the deprecated RSA1_5). */
export const SUPPORTED_TEE_KEY_ALGS = ["ECDH-ES+A256KW", "RSA-OAEP-256"] as const;
export type TeeKeyAlg = (typeof SUPPORTED_TEE_KEY_ALGS)[number];

/** The KBS resource response: a flattened JWE (protected, encrypted_key, iv, ciphertext, tag). */
export type KbsResponse = Required<
  Pick<FlattenedJWE, "protected" | "encrypted_key" | "iv" | "ciphertext" | "tag">
>;

/** A tee-pubkey as checked: the EC point (uncompressed, validated on its curve) or the RSA key object. */
export type CheckedTeePubkey =
  | { alg: "ECDH-ES+A256KW"; jwk: JWK; crv: EcCurve; point: Buffer }
  | { alg: "RSA-OAEP-256"; jwk: JWK; key: KeyObject };

type EcCurve = "P-256" | "P-384" | "P-521";
/** OpenSSL's name of each curve and the byte length of its coordinates. */
const EC_CURVES: Record<EcCurve, { name: string; bytes: number }> = {
  "P-256": { name: "prime256v1", bytes: 32 },
  "P-384": { name: "secp384r1", bytes: 48 },
  "P-521": { name: "secp521r1", bytes: 66 },
};
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** EC points (curve:x:y) known to decode on their curve; bounded, cleared when full. */
const pointsOnCurve = new Set<string>();

/**
 * Check a tee-pubkey JWK. Only public EC P-256/P-384/P-521 keys (for ECDH-ES+A256KW) and RSA keys of at
 * least 2048 bits (for RSA-OAEP-256) are accepted; a JWK that also carries private parts is refused
 * because a guest must never send them. An EC key's coordinates must be full length (RFC 7518 §6.2.1.2)
 * and the point on the curve (checked by OpenSSL's point decoding, as a key import would, without the
 * cost of making a key object).
 */
export function checkTeePubkey(jwk: unknown): CheckedTeePubkey {
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk))
    throw badKey("tee-pubkey is not a JSON object", "send the public key as a JWK object");
  const k = jwk as Record<string, unknown>;
  if ("d" in k || "p" in k || "q" in k)
    throw badKey("tee-pubkey carries private key material", "send only the public part of the key");
  const alg = k.alg === undefined ? (k.kty === "RSA" ? "RSA-OAEP-256" : "ECDH-ES+A256KW") : k.alg;
  if (k.kty === "EC") {
    if (alg !== "ECDH-ES+A256KW")
      throw badKey(`alg ${String(alg)} does not fit an EC key`, "use ECDH-ES+A256KW for EC keys");
    const curve = EC_CURVES[String(k.crv) as EcCurve];
    if (!Object.hasOwn(EC_CURVES, String(k.crv)) || !curve)
      throw badKey(`curve ${String(k.crv)} is not supported`, "use P-256 (default), P-384 or P-521");
    if (typeof k.x !== "string" || typeof k.y !== "string")
      throw badKey("EC tee-pubkey lacks x or y", "send x and y as base64url coordinates");
    const x = BASE64URL.test(k.x) ? Buffer.from(k.x, "base64url") : Buffer.alloc(0);
    const y = BASE64URL.test(k.y) ? Buffer.from(k.y, "base64url") : Buffer.alloc(0);
    if (x.length !== curve.bytes || y.length !== curve.bytes)
      throw badKey(
        `tee-pubkey is not a valid key: x and y must be ${curve.bytes}-byte base64url coordinates of ${String(k.crv)}`,
        "check the coordinates encoding (full length, base64url without padding)",
      );
    const point = Buffer.concat([Buffer.from([4]), x, y]);
    // Whether a point is on its curve never changes: a TD's key, checked at /attest, is not decoded again
    // at /resource (OpenSSL's decoding costs about as much as the ECDH itself).
    const pointKey = `${curve.name}:${k.x}:${k.y}`;
    if (!pointsOnCurve.has(pointKey)) {
      try {
        ECDH.convertKey(point, curve.name);
      } catch (e) {
        throw badKey(
          `tee-pubkey is not a valid key: the point is not on ${String(k.crv)} (${(e as Error).message})`,
          "check the coordinates encoding",
        );
      }
      if (pointsOnCurve.size >= 4096) pointsOnCurve.clear();
      pointsOnCurve.add(pointKey);
    }
    return remember({ alg: "ECDH-ES+A256KW", jwk: k as JWK, crv: k.crv as EcCurve, point });
  }
  if (k.kty === "RSA") {
    if (alg !== "RSA-OAEP-256")
      throw badKey(
        `alg ${String(alg)} is not accepted for RSA keys`,
        "use RSA-OAEP-256 (RSA1_5 is deprecated)",
      );
    if (typeof k.n !== "string" || typeof k.e !== "string")
      throw badKey("RSA tee-pubkey lacks n or e", "send n and e as base64url integers");
    const key = jwkKey(k);
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
      throw badKey("RSA tee-pubkey is shorter than 2048 bits", "use an RSA key of 2048 bits or more");
    return remember({ alg: "RSA-OAEP-256", jwk: k as JWK, key });
  }
  throw badKey(`key type ${String(k.kty)} is not supported`, "use an EC (P-256) or RSA key");
}

/** Marks what checkTeePubkey returned, so encryptToTeeKey can take it without checking again. */
function remember<T extends CheckedTeePubkey>(c: T): T {
  checkedKeys.add(c);
  return c;
}

function jwkKey(k: Record<string, unknown>): KeyObject {
  try {
    return createPublicKey({ key: k as JWK & { kty: string }, format: "jwk" });
  } catch (e) {
    throw badKey(
      `tee-pubkey is not a valid key: ${(e as Error).message}`,
      "check the coordinates/modulus encoding",
    );
  }
}

/** Check a tee-pubkey JWK (see checkTeePubkey) and turn it into a key object. */
export function importTeePubkey(jwk: unknown): { key: KeyObject; alg: TeeKeyAlg; jwk: JWK } {
  const checked = checkTeePubkey(jwk);
  return {
    key: checked.alg === "RSA-OAEP-256" ? checked.key : jwkKey(checked.jwk as Record<string, unknown>),
    alg: checked.alg,
    jwk: checked.jwk,
  };
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
export async function encryptToTeeKey(
  plaintext: Uint8Array,
  teePubkey: unknown | CheckedTeePubkey,
): Promise<KbsResponse> {
  const checked = isChecked(teePubkey) ? teePubkey : checkTeePubkey(teePubkey);
  if (checked.alg === "ECDH-ES+A256KW") return encryptEcdhEs(plaintext, checked.point, checked.crv);
  const jwe = await new FlattenedEncrypt(plaintext)
    .setProtectedHeader({ alg: checked.alg, enc: "A256GCM" })
    .encrypt(checked.key);
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

const checkedKeys = new WeakSet<object>();
const isChecked = (v: unknown): v is CheckedTeePubkey =>
  typeof v === "object" && v !== null && checkedKeys.has(v);
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

function encryptEcdhEs(plaintext: Uint8Array, recipient: Buffer, crv: EcCurve): KbsResponse {
  // node's ECDH class takes the recipient's point as bytes: no key object to import for either key.
  const ecdh = createECDH(EC_CURVES[crv].name);
  ecdh.generateKeys();
  let z: Buffer;
  try {
    z = ecdh.computeSecret(recipient);
  } catch (e) {
    throw badKey(`tee-pubkey is not a valid key: ${(e as Error).message}`, "check the coordinates encoding");
  }
  const epk = ecdh.getPublicKey();
  const n = EC_CURVES[crv].bytes;
  const kek = concatKdf256(z, "ECDH-ES+A256KW");
  z.fill(0);
  const cek = randomBytes(32);
  // RFC 3394 AES key wrap with the default IV.
  const wrap = createCipheriv("id-aes256-wrap", kek, Buffer.from("A6A6A6A6A6A6A6A6", "hex"));
  const encryptedKey = Buffer.concat([wrap.update(cek), wrap.final()]);
  // Members in sorted order at every level (see above): alg, enc, epk{crv, kty, x, y}.
  const header = `{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"crv":"${crv}","kty":"EC","x":"${b64u(epk.subarray(1, 1 + n))}","y":"${b64u(epk.subarray(1 + n))}"}}`;
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
    const direct = decryptEcdhEs(response as Record<string, unknown>, privateKey);
    if (direct) return direct;
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

/**
 * The common case done with node:crypto (ECDH, Concat KDF, AES key unwrap, AES-GCM): a flattened JWE of
 * exactly the members this broker and Trustee's send, header {alg: ECDH-ES+A256KW, enc: A256GCM, epk} and
 * an EC private key. Anything else (RSA, other header members such as apu/apv, an aad member) returns
 * undefined and goes to jose. Throws when the JWE does not decrypt.
 */
function decryptEcdhEs(jwe: Record<string, unknown>, privateKey: KeyObject): Uint8Array | undefined {
  const members = ["protected", "encrypted_key", "iv", "ciphertext", "tag"];
  if (privateKey.asymmetricKeyType !== "ec" || Object.keys(jwe).some((k) => !members.includes(k)))
    return undefined;
  if (!members.every((m) => typeof jwe[m] === "string" && BASE64URL_OR_EMPTY.test(jwe[m] as string)))
    return undefined;
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(jwe.protected as string, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) return undefined;
  const epk = header.epk as Record<string, unknown> | undefined;
  if (
    Object.keys(header).some((k) => k !== "alg" && k !== "enc" && k !== "epk") ||
    header.alg !== "ECDH-ES+A256KW" ||
    header.enc !== "A256GCM" ||
    epk === null ||
    typeof epk !== "object" ||
    epk.kty !== "EC" ||
    !Object.hasOwn(EC_CURVES, String(epk.crv)) ||
    typeof epk.x !== "string" ||
    typeof epk.y !== "string"
  )
    return undefined;
  const curve = EC_CURVES[epk.crv as EcCurve];
  const jwk = privateKey.export({ format: "jwk" });
  if (jwk.crv !== epk.crv)
    throw new Error(`the response's epk is on ${String(epk.crv)}, the key on ${jwk.crv}`);
  const ecdh = createECDH(curve.name);
  ecdh.setPrivateKey(Buffer.from(jwk.d!, "base64url"));
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(epk.x, "base64url"),
    Buffer.from(epk.y, "base64url"),
  ]);
  if (point.length !== 1 + 2 * curve.bytes) throw new Error("the epk coordinates are not full length");
  const kek = concatKdf256(ecdh.computeSecret(point), "ECDH-ES+A256KW");
  const unwrap = createDecipheriv("id-aes256-wrap", kek, Buffer.from("A6A6A6A6A6A6A6A6", "hex"));
  const cek = Buffer.concat([
    unwrap.update(Buffer.from(jwe.encrypted_key as string, "base64url")),
    unwrap.final(),
  ]);
  const iv = Buffer.from(jwe.iv as string, "base64url");
  const tag = Buffer.from(jwe.tag as string, "base64url");
  if (cek.length !== 32 || iv.length !== 12 || tag.length !== 16)
    throw new Error("the content key, iv or tag has the wrong length for A256GCM");
  const gcm = createDecipheriv("aes-256-gcm", cek, iv);
  gcm.setAAD(Buffer.from(jwe.protected as string, "ascii"));
  gcm.setAuthTag(tag);
  const out = Buffer.concat([gcm.update(Buffer.from(jwe.ciphertext as string, "base64url")), gcm.final()]);
  cek.fill(0);
  kek.fill(0);
  return new Uint8Array(out);
}

const BASE64URL_OR_EMPTY = /^[A-Za-z0-9_-]*$/;
