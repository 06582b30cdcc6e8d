import { base64Bytes } from "../encoding.js";
import { TdxError } from "../errors.js";

/**
 * RSASSA-PKCS1-v1_5 / SHA-256 pieces that need no crypto library: the key's parts, checked, and the
 * signature opened with BigInt (s^e mod n). Runs on any runtime; node:crypto / WebCrypto do the fast checks.
 */
export interface RsaJwk {
  kty: "RSA";
  n: string;
  e: string;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function bigOf(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** The modulus and exponent of an RSA JWK (and the exponent's value), checked: INVALID_PUBLIC_KEY when it is not a usable RSA key. */
export function rsaJwkParts(
  jwk: unknown,
  field = "publicKey",
): { n: Uint8Array; e: Uint8Array; bits: number; exponent: bigint } {
  const bad = (why: string) =>
    new TdxError("INVALID_PUBLIC_KEY", `${field} is not an RSA public key: ${why}`, {
      field,
      hint: "the key must be a JWK {kty: RSA, n, e} with base64url n and e",
    });
  if (typeof jwk !== "object" || jwk === null) throw bad("not an object");
  const k = jwk as Record<string, unknown>;
  if (k.kty !== "RSA") throw bad(`kty is ${JSON.stringify(k.kty)}`);
  if (typeof k.n !== "string" || !B64URL.test(k.n)) throw bad("n is not base64url");
  if (typeof k.e !== "string" || !B64URL.test(k.e)) throw bad("e is not base64url");
  let n = base64Bytes(k.n);
  while (n.length > 0 && n[0] === 0) n = n.subarray(1);
  const e = base64Bytes(k.e);
  if (n.length === 0) throw bad("n is zero");
  const bits = (n.length - 1) * 8 + (32 - Math.clz32(n[0]!));
  const ev = bigOf(e);
  if (ev < 3n || (ev & 1n) === 0n) throw bad("e is not an odd number of at least 3");
  return { n, e, bits, exponent: ev };
}

/** DigestInfo of SHA-256 (RFC 8017 §9.2 note 1). */
const SHA256_DIGEST_INFO = Uint8Array.from([
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
  0x20,
]);

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let r = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % mod;
    e >>= 1n;
    b = (b * b) % mod;
  }
  return r;
}

/**
 * What an RSASSA-PKCS1-v1_5 / SHA-256 signature opens to under the key (s^e mod n):
 * - "digest-mismatch": the opened block is a well-formed PKCS#1 v1.5 SHA-256 block, so the key did sign,
 *   but over other bytes than `digest`'s message (the message was altered after signing);
 * - "not-signed-by-key": the block is not well formed: the signature was altered, or another key made it;
 * - "valid": the block holds `digest` (RFC 8017 §8.2.2 with EMSA-PKCS1-v1_5, as OpenSSL's RSA_verify: the
 *   signature as long as the modulus, at least 8 bytes of 0xff padding, the exact DigestInfo).
 * The synchronous check of the WebCrypto backend (WebCrypto has no synchronous call) and the error message
 * of every backend.
 */
export function diagnoseRsaPkcs1Sha256(
  jwk: RsaJwk,
  digest: Uint8Array,
  signature: Uint8Array,
): "valid" | "digest-mismatch" | "not-signed-by-key" {
  const { n, e } = rsaJwkParts(jwk);
  if (signature.length !== n.length) return "not-signed-by-key";
  const nv = bigOf(n);
  const s = bigOf(signature);
  if (s >= nv) return "not-signed-by-key";
  let m = modPow(s, bigOf(e), nv);
  const em = new Uint8Array(n.length);
  for (let i = em.length - 1; i >= 0; i--) {
    em[i] = Number(m & 0xffn);
    m >>= 8n;
  }
  const tail = SHA256_DIGEST_INFO.length + 32;
  const psEnd = em.length - tail - 1;
  if (psEnd < 10 || em[0] !== 0 || em[1] !== 1 || em[psEnd] !== 0) return "not-signed-by-key";
  for (let i = 2; i < psEnd; i++) if (em[i] !== 0xff) return "not-signed-by-key";
  for (let i = 0; i < SHA256_DIGEST_INFO.length; i++) {
    if (em[psEnd + 1 + i] !== SHA256_DIGEST_INFO[i]) return "not-signed-by-key";
  }
  const h = em.subarray(em.length - 32);
  for (let i = 0; i < 32; i++) if (h[i] !== digest[i]) return "digest-mismatch";
  return "valid";
}
