import {
  constants,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  privateDecrypt,
} from "node:crypto";
import { FlattenedEncrypt, flattenedDecrypt } from "jose";
import { describe, expect, it } from "vitest";
import { newKeyPair } from "../../src/crypto/keygen.js";
import { generateTeeKeyPair } from "../../src/kbs/client.js";
import { checkTeePubkey, decryptKbsResponse, encryptToTeeKey, importTeePubkey } from "../../src/kbs/jwe.js";

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

/**
 * The AAD guest-components' Rust client uses: it parses `protected` into kbs-types ProtectedHeader
 * {alg, enc, #[flatten] other_fields} and serialises it again with serde_json. Without serde_json's
 * preserve_order, maps are BTreeMaps (members sorted at every level); with it, they keep the order
 * they were read in.
 */
function rustClientAad(protectedB64: string, preserveOrder: boolean): Buffer {
  const parsed = JSON.parse(b64u(protectedB64).toString()) as Record<string, unknown>;
  const order = (v: unknown): unknown => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const entries = Object.entries(v as Record<string, unknown>);
    if (!preserveOrder) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, x]) => [k, order(x)]));
  };
  const { alg, enc, ...other } = parsed;
  const header = { alg, enc, ...(order(other) as Record<string, unknown>) };
  return Buffer.from(Buffer.from(JSON.stringify(header)).toString("base64url"), "ascii");
}

describe("JWE to the TEE key, checked by an independent decryption", () => {
  it.each(["P-256", "P-384", "P-521"])(
    "decrypts in both builds of guest-components' client (AAD re-serialised sorted and in order, %s)",
    async (crv) => {
      const names: Record<string, string> = {
        "P-256": "prime256v1",
        "P-384": "secp384r1",
        "P-521": "secp521r1",
      };
      const { privateKey, publicKey } = newKeyPair({ type: "ec", namedCurve: names[crv]! });
      const j = publicKey.export({ format: "jwk" });
      const secret = Buffer.from("the disk key");
      const jwe = (await encryptToTeeKey(secret, {
        kty: "EC",
        crv,
        alg: "ECDH-ES+A256KW",
        x: j.x,
        y: j.y,
      })) as unknown as Record<string, string>;
      expect(b64u(jwe.protected!).toString()).toMatch(
        /^\{"alg":"ECDH-ES\+A256KW","enc":"A256GCM","epk":\{"crv":"P-\d+","kty":"EC","x":"[^"]+","y":"[^"]+"\}\}$/,
      );
      const header = JSON.parse(b64u(jwe.protected!).toString()) as { epk: Record<string, string> };
      const z = diffieHellman({ privateKey, publicKey: createPublicKey({ key: header.epk, format: "jwk" }) });
      const unwrap = createDecipheriv(
        "id-aes256-wrap",
        concatKdf(z, "ECDH-ES+A256KW"),
        Buffer.alloc(8, 0xa6),
      );
      const cek = Buffer.concat([unwrap.update(b64u(jwe.encrypted_key!)), unwrap.final()]);
      for (const preserveOrder of [false, true]) {
        const d = createDecipheriv("aes-256-gcm", cek, b64u(jwe.iv!));
        d.setAAD(rustClientAad(jwe.protected!, preserveOrder));
        d.setAuthTag(b64u(jwe.tag!));
        expect(Buffer.concat([d.update(b64u(jwe.ciphertext!)), d.final()]).toString()).toBe("the disk key");
      }
      // And jose, as any RFC 7516 implementation, reads it too; so does the client's own decryption.
      const byJose = await flattenedDecrypt(jwe as never, privateKey);
      expect(Buffer.from(byJose.plaintext).toString()).toBe("the disk key");
      expect(Buffer.from(await decryptKbsResponse(jwe, privateKey)).toString()).toBe("the disk key");
    },
  );

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
    const { privateKey, publicKey } = newKeyPair({ type: "ec", namedCurve: "P-521" });
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

  it("the client decrypts what jose encrypts (its header order), and refuses altered responses", async () => {
    for (const [crv, name] of [
      ["P-256", "prime256v1"],
      ["P-384", "secp384r1"],
    ] as const) {
      const { privateKey, publicKey } = newKeyPair({ type: "ec", namedCurve: name });
      const jwe = await new FlattenedEncrypt(secret)
        .setProtectedHeader({ alg: "ECDH-ES+A256KW", enc: "A256GCM" })
        .encrypt(publicKey);
      expect(await decryptKbsResponse(jwe, privateKey), crv).toEqual(secret);
      const ours = (await encryptToTeeKey(secret, {
        ...publicKey.export({ format: "jwk" }),
        alg: "ECDH-ES+A256KW",
      })) as unknown as Record<string, string>;
      const flip = (v: string) =>
        Buffer.from(b64u(v).map((b, i) => (i === 0 ? b ^ 1 : b))).toString("base64url");
      for (const field of ["ciphertext", "tag", "encrypted_key", "iv"])
        await expect(
          decryptKbsResponse({ ...ours, [field]: flip(ours[field]!) }, privateKey),
        ).rejects.toThrow(/could not decrypt/);
      const header = JSON.parse(b64u(ours.protected!).toString()) as Record<string, unknown>;
      const otherEpk = {
        ...header,
        epk: { ...(header.epk as object), x: flip((header.epk as { x: string }).x) },
      };
      await expect(
        decryptKbsResponse(
          { ...ours, protected: Buffer.from(JSON.stringify(otherEpk)).toString("base64url") },
          privateKey,
        ),
      ).rejects.toThrow(/could not decrypt/);
    }
  });

  it("checks an EC tee-pubkey's point without importing it: off-curve and short coordinates are refused", () => {
    const ec = generateTeeKeyPair("ec").publicJwk;
    const y = Buffer.from(ec.y!, "base64url");
    y[31]! ^= 1;
    for (const jwk of [
      { ...ec, y: y.toString("base64url") },
      { ...ec, x: Buffer.from(ec.x!, "base64url").subarray(1).toString("base64url") },
      { ...ec, x: `${ec.x}=` },
    ]) {
      for (const check of [checkTeePubkey, importTeePubkey])
        expect(() => check(jwk), JSON.stringify(jwk)).toThrow(/not a valid key/);
    }
    const ok = checkTeePubkey(ec);
    expect(ok.alg).toBe("ECDH-ES+A256KW");
  });

  it("refuses keys a TEE must not send", () => {
    const ec = generateTeeKeyPair("ec").publicJwk;
    const priv = newKeyPair({ type: "ec", namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
    const rsa1024 = newKeyPair({ type: "rsa", modulusLength: 1024 }).publicKey.export({ format: "jwk" });
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
