import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";

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
 * job: the job hands out the key as PKCS#8 DER and the KeyObjects are parsed from that.
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
