import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";

/** What key to make: RSA of a modulus length, EC on a named curve, or Ed25519. */
export type KeyPairSpec =
  | { type: "rsa"; modulusLength: number }
  | { type: "ec"; namedCurve: string }
  | { type: "ed25519" };

export interface NewKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * A new key pair, as `generateKeyPairSync` makes it, whose KeyObjects share nothing with Node's key generation
 * job: the job hands out the key as PKCS#8 DER and the KeyObjects are parsed from that. EC keys on the JWK
 * curves are made without a job at all (ecKeyPair: node's ECDH class, imported as a JWK; several times cheaper).
 *
 * Why: on Node 20 the KeyObjects that `generateKeyPairSync` (or `generateKeyPair`) returns share one mutex
 * with the job object that made them, and the job's destructor, run by the garbage collector once the job is
 * unreachable, locks that mutex (`~KeyPairGenConfig`, nodejs/node src/crypto/crypto_keygen.h). Exporting such
 * a key as JWK holds the same mutex while it allocates the JWK's strings (`ExportJWKRsaKey` in
 * src/crypto/crypto_rsa.cc, and its EC twin); if that allocation starts a GC that collects the job, the thread
 * waits for a mutex it holds itself, forever (a futex wait at no CPU; vitest cannot time it out). Reading
 * `asymmetricKeyDetails` deadlocks the same way; PEM and DER exports did not in 40,000 rounds. Seen in CI
 * in test/kbs/az-tdx-vtpm.test.ts (the simulated paravisor's EK and AK); `test/crypto/keygen.test.ts`
 * reproduces it in a child process within a few thousand generate-and-export rounds and checks this function
 * never does.
 */
export function newKeyPair(spec: KeyPairSpec): NewKeyPair {
  if (spec.type === "ec") {
    const fast = ecKeyPair(spec.namedCurve);
    if (fast) return fast;
  }
  const privateKeyEncoding = { type: "pkcs8", format: "der" } as const;
  const publicKeyEncoding = { type: "spki", format: "der" } as const;
  let der: Buffer;
  if (spec.type === "rsa") {
    const { modulusLength } = spec;
    der = generateKeyPairSync("rsa", { modulusLength, privateKeyEncoding, publicKeyEncoding }).privateKey;
  } else if (spec.type === "ec") {
    const { namedCurve } = spec;
    der = generateKeyPairSync("ec", { namedCurve, privateKeyEncoding, publicKeyEncoding }).privateKey;
  } else {
    der = generateKeyPairSync("ed25519", { privateKeyEncoding, publicKeyEncoding }).privateKey;
  }
  const privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** JWK curve names and field sizes of the curves ecKeyPair makes (node's ECDH names them the OpenSSL way). */
const EC_JWK_CURVES: Record<string, { crv: string; openssl: string; bytes: number }> = {};
for (const [crv, openssl, bytes] of [
  ["P-256", "prime256v1", 32],
  ["P-384", "secp384r1", 48],
  ["P-521", "secp521r1", 66],
] as const) {
  const c = { crv, openssl, bytes };
  EC_JWK_CURVES[crv] = c;
  EC_JWK_CURVES[openssl] = c;
}
EC_JWK_CURVES["secp256r1"] = EC_JWK_CURVES["P-256"]!;

/**
 * An EC key pair made with node's ECDH class and imported as a JWK: no key generation job, so nothing to
 * deadlock on (see newKeyPair), and about 4x cheaper than the PKCS#8 round trip (a TD makes one per
 * attestation: ~150 us against ~590 us for P-256 here, a JWK export included). undefined for a curve JWK does not name.
 */
function ecKeyPair(namedCurve: string): NewKeyPair | undefined {
  const curve = EC_JWK_CURVES[namedCurve];
  if (!curve) return undefined;
  const ecdh = createECDH(curve.openssl);
  const point = ecdh.generateKeys();
  // getPrivateKey drops leading zero bytes; a JWK's d is the full field size (RFC 7518 6.2.2.1).
  const raw = ecdh.getPrivateKey();
  const d = Buffer.alloc(curve.bytes);
  raw.copy(d, curve.bytes - raw.length);
  const jwk = {
    kty: "EC",
    crv: curve.crv,
    x: point.subarray(1, 1 + curve.bytes).toString("base64url"),
    y: point.subarray(1 + curve.bytes).toString("base64url"),
  };
  const privateKey = createPrivateKey({ key: { ...jwk, d: d.toString("base64url") }, format: "jwk" });
  raw.fill(0);
  d.fill(0);
  return { privateKey, publicKey: createPublicKey({ key: jwk, format: "jwk" }) };
}
