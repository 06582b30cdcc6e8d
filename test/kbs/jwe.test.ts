import {
  constants,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  privateDecrypt,
} from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateTeeKeyPair } from "../../src/kbs/client.js";
import { decryptKbsResponse, encryptToTeeKey, importTeePubkey } from "../../src/kbs/jwe.js";

const b64u = (s: string) => Buffer.from(s, "base64url");

/** Concat KDF (NIST SP 800-56A) as Trustee's jwe/mod.rs uses it: empty PartyU/PartyV, 256-bit key. */
function concatKdf(z: Buffer, alg: string): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const otherInfo = Buffer.concat([u32(alg.length), Buffer.from(alg), u32(0), u32(0), u32(256)]);
  return createHash("sha256")
    .update(Buffer.concat([u32(1), z, otherInfo]))
    .digest();
}

/** AES-GCM decryption of the content with AAD = ASCII(base64url(protected)), tag apart (RFC 7516). */
function openContent(jwe: Record<string, string>, cek: Buffer): Buffer {
  const d = createDecipheriv("aes-256-gcm", cek, b64u(jwe.iv!));
  d.setAAD(Buffer.from(jwe.protected!, "ascii"));
  d.setAuthTag(b64u(jwe.tag!));
  return Buffer.concat([d.update(b64u(jwe.ciphertext!)), d.final()]);
}

describe("JWE to the TEE key, checked by an independent decryption", () => {
  const secret = new TextEncoder().encode("disk key: 0123456789abcdef");

  it("ECDH-ES+A256KW / A256GCM on P-256 follows Trustee's construction", async () => {
    const tee = generateTeeKeyPair("ec");
    const jwe = (await encryptToTeeKey(secret, tee.publicJwk)) as unknown as Record<string, string>;
    const header = JSON.parse(b64u(jwe.protected!).toString()) as {
      alg: string;
      enc: string;
      epk: Record<string, string>;
    };
    expect(header.alg).toBe("ECDH-ES+A256KW");
    expect(header.enc).toBe("A256GCM");
    expect(header.epk).toMatchObject({ kty: "EC", crv: "P-256" });
    expect(b64u(jwe.encrypted_key!)).toHaveLength(40);
    expect(b64u(jwe.iv!)).toHaveLength(12);
    expect(b64u(jwe.tag!)).toHaveLength(16);
    const epk = createPublicKey({ key: header.epk, format: "jwk" });
    const z = diffieHellman({ privateKey: tee.privateKey, publicKey: epk });
    const kek = concatKdf(z, "ECDH-ES+A256KW");
    const unwrap = createDecipheriv("id-aes256-wrap", kek, Buffer.alloc(8, 0xa6));
    const cek = Buffer.concat([unwrap.update(b64u(jwe.encrypted_key!)), unwrap.final()]);
    expect(openContent(jwe, cek).toString()).toBe(new TextDecoder().decode(secret));
  });

  it("RSA-OAEP-256 wraps the content key with OAEP SHA-256", async () => {
    const tee = generateTeeKeyPair("rsa");
    const jwe = (await encryptToTeeKey(secret, tee.publicJwk)) as unknown as Record<string, string>;
    expect(JSON.parse(b64u(jwe.protected!).toString())).toEqual({ alg: "RSA-OAEP-256", enc: "A256GCM" });
    const cek = privateDecrypt(
      { key: tee.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      b64u(jwe.encrypted_key!),
    );
    expect(openContent(jwe, cek).toString()).toBe(new TextDecoder().decode(secret));
  });

  it("round-trips on P-521 and refuses a response for another key", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-521" });
    const j = publicKey.export({ format: "jwk" });
    const jwe = await encryptToTeeKey(secret, {
      kty: "EC",
      crv: "P-521",
      alg: "ECDH-ES+A256KW",
      x: j.x,
      y: j.y,
    });
    expect(await decryptKbsResponse(jwe, privateKey)).toEqual(secret);
    await expect(decryptKbsResponse(jwe, generateTeeKeyPair().privateKey)).rejects.toThrow(
      /could not decrypt/,
    );
  });

  it("refuses keys a TEE must not send", () => {
    const ec = generateTeeKeyPair("ec").publicJwk;
    const priv = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
    const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
    const bad: [unknown, RegExp][] = [
      [{ ...priv, alg: "ECDH-ES+A256KW" }, /private key material/],
      [{ kty: "RSA", alg: "RSA-OAEP-256", n: rsa1024.n, e: rsa1024.e }, /shorter than 2048/],
      [{ ...ec, alg: "RSA1_5" }, /does not fit an EC key/],
      [{ kty: "RSA", alg: "RSA1_5", n: rsa1024.n, e: rsa1024.e }, /RSA1_5 is deprecated|not accepted/],
      [{ ...ec, crv: "secp256k1" }, /curve secp256k1/],
      [{ kty: "OKP", crv: "X25519", x: "AA" }, /key type OKP/],
      [{ ...ec, x: "AAAA" }, /not a valid key/],
      ["a string", /not a JSON object/],
    ];
    for (const [jwk, msg] of bad) {
      try {
        importTeePubkey(jwk);
        expect.unreachable(`accepted ${JSON.stringify(jwk)}`);
      } catch (e) {
        expect((e as { code: string }).code).toBe("KBS_TEE_PUBKEY_INVALID");
        expect(String((e as Error).message)).toMatch(msg);
      }
    }
  });
});
