import * as nodeCrypto from "node:crypto";
import { createHash, randomBytes, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  cryptoBackend,
  nodeCryptoBackend,
  p256VerifyDigest,
  webCryptoBackend,
} from "../../src/crypto/backend.js";
import { newKeyPair } from "../../src/crypto/keygen.js";
import { sha256Sync, sha384Sync } from "../../src/crypto/sha2.js";
import { base64Bytes, base64Of, base64UrlOf, hexBytes, hexOf, latin1Of } from "../../src/encoding.js";
import { Verifier } from "../../src/verify/index.js";

/** The crypto backends agree with OpenSSL, input by input; the project's run uses the backend it says. */

const node = nodeCryptoBackend(nodeCrypto);

function p256Pair() {
  const { publicKey, privateKey } = newKeyPair({ type: "ec", namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const xy = new Uint8Array([
    ...Buffer.from(jwk.x as string, "base64url"),
    ...Buffer.from(jwk.y as string, "base64url"),
  ]);
  return { privateKey, xy };
}

describe("crypto backends", () => {
  it("this project runs the backend it is meant to (the webcrypto project really is WebCrypto)", () => {
    const want = (globalThis as { __TDX_EXPECTED_BACKEND?: string }).__TDX_EXPECTED_BACKEND ?? "node:crypto";
    expect(cryptoBackend().name).toBe(want);
    expect(new Verifier().cryptoBackend).toBe(want);
  });

  it("plain-JavaScript P-256, WebCrypto and OpenSSL agree on valid, altered and malformed signatures", async () => {
    for (let i = 0; i < 12; i++) {
      const { privateKey, xy } = p256Pair();
      const msg = randomBytes(1 + i * 37);
      const raw = sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
      const der = sign("sha256", msg, { key: privateKey, dsaEncoding: "der" });
      const badRaw = Buffer.from(raw);
      badRaw[i % 64]! ^= 1 << (i % 8);
      const badMsg = Buffer.from(msg);
      badMsg[0]! ^= 0x80;
      const n = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");
      const cases: [Uint8Array, Uint8Array, boolean][] = [
        [msg, raw, false],
        [msg, der, true],
        [msg, badRaw, false],
        [badMsg, raw, false],
        [badMsg, der, true],
        [msg, Buffer.concat([raw.subarray(0, 32), n]), false], // s = n
        [msg, new Uint8Array(64), false],
        [msg, raw.subarray(0, 63), false],
        [msg, Buffer.concat([der, Buffer.from([0])]), true], // trailing byte
      ];
      for (const [m, s, isDer] of cases) {
        const want = node.verifyP256(node.p256Key(xy, "k"), m, s, isDer);
        const wk = webCryptoBackend.p256Key(xy, "k");
        expect(webCryptoBackend.verifyP256(wk, m, s, isDer)).toBe(want);
        expect(await webCryptoBackend.verifyP256Async(wk, m, s, isDer)).toBe(want);
        expect(await node.verifyP256Async(node.p256Key(xy, "k"), m, s, isDer)).toBe(want);
      }
      expect(p256VerifyDigest(xy, createHash("sha256").update(msg).digest(), raw)).toBe(true);
    }
  });

  it("both refuse the same points with INVALID_PUBLIC_KEY", () => {
    const { xy } = p256Pair();
    const offCurve = xy.slice();
    offCurve[63]! ^= 1;
    const big = new Uint8Array(64).fill(0xff);
    for (const bad of [offCurve, big, new Uint8Array(64), xy.subarray(0, 63)]) {
      for (const b of [node, webCryptoBackend]) {
        expect(() => b.p256Key(bad, "k")).toThrow(expect.objectContaining({ code: "INVALID_PUBLIC_KEY" }));
      }
    }
    expect(webCryptoBackend.p256Key(new Uint8Array([4, ...xy]), "k").xy).toEqual(xy);
  });

  it("RSA PKCS#1 v1.5 / SHA-256: the plain-JavaScript check agrees with OpenSSL", async () => {
    const { publicKey, privateKey } = newKeyPair({ type: "rsa", modulusLength: 2048 });
    const jwk = publicKey.export({ format: "jwk" }) as { n: string; e: string };
    const key = { kty: "RSA" as const, n: jwk.n, e: jwk.e };
    const msg = randomBytes(100);
    const sig = sign("sha256", msg, privateKey);
    const bad = Buffer.from(sig);
    bad[10]! ^= 1;
    for (const [m, s] of [
      [msg, sig],
      [msg, bad],
      [randomBytes(100), sig],
      [msg, sig.subarray(1)],
    ] as const) {
      const want = node.verifyRsa(key, m, s);
      expect(webCryptoBackend.verifyRsa(key, m, s)).toBe(want);
      expect(await webCryptoBackend.verifyRsaAsync(key, m, s)).toBe(want);
    }
    expect(webCryptoBackend.verifyRsa({ kty: "RSA", n: "AA", e: "AQAB" }, msg, sig)).toBe(false);
  });

  it("SHA-256 and SHA-384 in plain JavaScript equal node:crypto's at every length around the blocks", () => {
    for (let n = 0; n < 260; n++) {
      const b = randomBytes(n);
      expect(hexOf(sha256Sync(b.subarray(0, n >> 1), b.subarray(n >> 1)))).toBe(
        createHash("sha256").update(b).digest("hex"),
      );
      expect(hexOf(sha384Sync(b))).toBe(createHash("sha384").update(b).digest("hex"));
    }
  });

  it("the encodings equal Buffer's", () => {
    for (let n = 0; n < 70; n++) {
      const b = randomBytes(n);
      expect(hexOf(b)).toBe(b.toString("hex"));
      expect(hexBytes(b.toString("hex"))).toEqual(new Uint8Array(b));
      expect(base64Of(b)).toBe(b.toString("base64"));
      expect(base64UrlOf(b)).toBe(b.toString("base64url"));
      expect(base64Bytes(b.toString("base64"))).toEqual(new Uint8Array(b));
      expect(base64Bytes(b.toString("base64url"))).toEqual(new Uint8Array(b));
      expect(latin1Of(b)).toBe(b.toString("latin1"));
    }
    expect(hexBytes("0g")).toBeNull();
    expect(hexBytes("abc")).toBeNull();
    const wrapped = "QUJD\nREVG\r\n";
    expect(base64Bytes(wrapped)).toEqual(new Uint8Array(Buffer.from(wrapped, "base64")));
  });
});
