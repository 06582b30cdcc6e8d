import { sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  derEcdsaToRaw,
  p256PublicKey,
  p256PublicKeyAsync,
  verifyDerEcdsa,
  verifyDerEcdsaAsync,
  verifyRawP256,
  verifyRawP256Async,
} from "../../src/crypto/ecdsa.js";
import { newKeyPair } from "../../src/crypto/keygen.js";
import { isTdxError } from "../../src/errors.js";

/** The WebCrypto twins of the node:crypto helpers accept and reject exactly what OpenSSL does. */

const { publicKey, privateKey } = newKeyPair({ type: "ec", namedCurve: "P-256" });
const jwk = publicKey.export({ format: "jwk" });
const xy = new Uint8Array(
  Buffer.concat([Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]),
);
const P = Buffer.from("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", "hex");

function outcome(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    return isTdxError(e) ? `${e.code}: ${e.message} (${e.field})` : `other: ${String(e)}`;
  }
}

async function outcomeAsync(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
    return "ok";
  } catch (e) {
    return isTdxError(e) ? `${e.code}: ${e.message} (${e.field})` : `other: ${String(e)}`;
  }
}

describe("p256PublicKeyAsync", () => {
  const offCurve = new Uint8Array(xy);
  offCurve[63]! ^= 1;
  const points: Record<string, Uint8Array> = {
    "x||y": xy,
    "0x04||x||y": new Uint8Array([4, ...xy]),
    "off the curve": offCurve,
    "(0, 0)": new Uint8Array(64),
    "x = p": new Uint8Array([...P, ...xy.subarray(32)]),
    "0x05 prefix": new Uint8Array([5, ...xy]),
    "63 bytes": xy.subarray(0, 63),
    "compressed (33 bytes)": new Uint8Array([2, ...xy.subarray(0, 32)]),
  };
  it.each(Object.entries(points))("%s: same outcome as the sync import", async (_name, point) => {
    const sync = outcome(() => p256PublicKey(point, "subjectPublicKeyInfo"));
    expect(await outcomeAsync(() => p256PublicKeyAsync(point, "subjectPublicKeyInfo"))).toBe(sync);
  });
  it("rejects a point off the curve with INVALID_PUBLIC_KEY", async () => {
    await expect(p256PublicKeyAsync(offCurve, "attestationKey")).rejects.toMatchObject({
      code: "INVALID_PUBLIC_KEY",
      field: "attestationKey",
    });
  });
});

describe("signatures through WebCrypto", () => {
  const msg = new Uint8Array(700).fill(7);
  const raw = new Uint8Array(sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" }));

  it("raw r||s: valid, altered and wrong-length signatures", async () => {
    const key = await p256PublicKeyAsync(xy);
    const altered = new Uint8Array(raw);
    altered[10]! ^= 1;
    for (const sig of [raw, altered, raw.subarray(0, 63), new Uint8Array([...raw, 0]), new Uint8Array(0)]) {
      expect(await verifyRawP256Async(key, msg, sig)).toBe(verifyRawP256(publicKey, msg, sig));
    }
    expect(await verifyRawP256Async(key, msg, raw)).toBe(true);
  });

  it("DER: canonical and mutated encodings are accepted exactly when OpenSSL accepts them", async () => {
    const key = await p256PublicKeyAsync(xy);
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    let accepted = 0;
    for (let i = 0; i < 300; i++) {
      const der = new Uint8Array(sign("sha256", msg, { key: privateKey, dsaEncoding: "der" }));
      let sig: Uint8Array = der;
      switch (i % 5) {
        case 1:
          sig = new Uint8Array(der);
          sig[rnd(der.length)]! ^= 1 << rnd(8);
          break;
        case 2:
          sig = new Uint8Array(der);
          sig[rnd(der.length)] = [0, 0x80, 0x7f, 0x81, 0x02, 0x30, 0x21, 0x20][rnd(8)]!;
          break;
        case 3:
          sig = new Uint8Array([...der, 0]); // trailing byte
          break;
        case 4: {
          // r with a superfluous leading zero (lengths fixed up): not DER
          const rLen = der[3]!;
          const r = der.subarray(4, 4 + rLen);
          const rest = der.subarray(4 + rLen);
          sig = new Uint8Array([0x30, der[1]! + 1, 0x02, rLen + 1, 0, ...r, ...rest]);
          break;
        }
      }
      const expected = verifyDerEcdsa(publicKey, msg, sig);
      expect(await verifyDerEcdsaAsync(key, msg, sig), Buffer.from(sig).toString("hex")).toBe(expected);
      if (expected) accepted++;
    }
    expect(accepted).toBeGreaterThanOrEqual(60);
  });

  it("derEcdsaToRaw left-pads short r and s to 32 bytes", () => {
    const der = new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x7f]);
    const out = derEcdsaToRaw(der)!;
    expect(out.length).toBe(64);
    expect(out[31]).toBe(5);
    expect(out[63]).toBe(0x7f);
    expect(out.filter((b) => b !== 0).length).toBe(2);
    expect(derEcdsaToRaw(new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x85, 0x02, 0x01, 0x7f]))).toBeNull(); // negative r
  });
});
