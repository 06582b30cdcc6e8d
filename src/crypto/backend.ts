import type * as NodeCrypto from "node:crypto";
import { TdxError } from "../errors.js";
import { diagnoseRsaPkcs1Sha256, type RsaJwk, rsaJwkParts } from "./rsa-jwk.js";
import { sha256Sync, sha384Sync } from "./sha2.js";

/**
 * The one small interface behind every signature and hash the verifier needs, so the same verifier runs on
 * Node, Deno, Bun, browsers and edge workers:
 * - `nodeCryptoBackend`: node:crypto (OpenSSL), synchronous calls and libuv's thread pool for the async
 *   path: today's speed on Node. Chosen by default wherever `process.getBuiltinModule("node:crypto")`
 *   answers (Node >= 20.16, Bun, Deno), or by the package's `node` export condition (any Node 20).
 * - `webCryptoBackend`: WebCrypto (`crypto.subtle`) for the async path (`verifyAsync`); WebCrypto has no
 *   synchronous calls, so the synchronous path (`verify`) checks signatures in plain JavaScript (BigInt
 *   P-256 and RSA, a few milliseconds each) and hashes with sha2.ts.
 * This module reaches node:crypto only through a type import and that runtime lookup: no `node:` import
 * on the graph of the `browser`/`default` export condition.
 */

/**
 * An imported P-256 public key: the point (validated: on the curve) and each backend's own handle, made once
 * (keys of shared certificates, such as the trust anchors, may meet both backends).
 */
export interface P256Key {
  readonly xy: Uint8Array;
  /** node:crypto KeyObject. */
  node?: unknown;
  /** WebCrypto CryptoKey, its import started once. */
  web?: Promise<unknown>;
}

export interface CryptoBackend {
  readonly name: "node:crypto" | "webcrypto";
  /** A P-256 key from 64 bytes x||y or 65 bytes 0x04||x||y; INVALID_PUBLIC_KEY for a point off the curve. */
  p256Key(point: Uint8Array, field: string): P256Key;
  /** ECDSA-SHA256: raw r||s (der false) or a DER ECDSA-Sig-Value (der true). False on any failure. */
  verifyP256(key: P256Key, message: Uint8Array, signature: Uint8Array, der: boolean): boolean;
  /** The same, off the calling thread where the runtime can (thread pool, WebCrypto). */
  verifyP256Async(key: P256Key, message: Uint8Array, signature: Uint8Array, der: boolean): Promise<boolean>;
  /** RSASSA-PKCS1-v1_5 / SHA-256 with a JWK key. False on any failure, a refused key included. */
  verifyRsa(jwk: RsaJwk, message: Uint8Array, signature: Uint8Array): boolean;
  verifyRsaAsync(jwk: RsaJwk, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  sha256(...parts: Uint8Array[]): Uint8Array;
  sha384(...parts: Uint8Array[]): Uint8Array;
}

// ---------------------------------------------------------------------------------------------------------
// P-256 in plain JavaScript (SEC 1 §4.1.4 verification; curve from FIPS 186-4 D.1.2.3)

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

type Jacobian = [bigint, bigint, bigint];
const INFINITY: Jacobian = [1n, 1n, 0n];

const mod = (a: bigint, m = P): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

function invert(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function bigOf(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

// Doubling with a = -3 (dbl-2001-b), addition add-2007-bl (explicit-formulas database).
function double([x, y, z]: Jacobian): Jacobian {
  if (z === 0n || y === 0n) return INFINITY;
  const delta = (z * z) % P;
  const gamma = (y * y) % P;
  const beta = (x * gamma) % P;
  const alpha = mod(3n * (x - delta) * (x + delta));
  const x3 = mod(alpha * alpha - 8n * beta);
  const z3 = mod((y + z) * (y + z) - gamma - delta);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * ((gamma * gamma) % P));
  return [x3, y3, z3];
}

function add(p1: Jacobian, p2: Jacobian): Jacobian {
  if (p1[2] === 0n) return p2;
  if (p2[2] === 0n) return p1;
  const [x1, y1, z1] = p1;
  const [x2, y2, z2] = p2;
  const z1z1 = (z1 * z1) % P;
  const z2z2 = (z2 * z2) % P;
  const u1 = (x1 * z2z2) % P;
  const u2 = (x2 * z1z1) % P;
  const s1 = (((y1 * z2) % P) * z2z2) % P;
  const s2 = (((y2 * z1) % P) * z1z1) % P;
  const h = mod(u2 - u1);
  const r = mod(s2 - s1);
  if (h === 0n) return r === 0n ? double(p1) : INFINITY;
  const hh = (h * h) % P;
  const hhh = (h * hh) % P;
  const v = (u1 * hh) % P;
  const x3 = mod(r * r - hhh - 2n * v);
  const y3 = mod(r * (v - x3) - s1 * hhh);
  const z3 = (((z1 * z2) % P) * h) % P;
  return [x3, y3, z3];
}

/** The point's coordinates when it is on P-256 (both below p, y² = x³ - 3x + b), else null. */
function onCurve(xy: Uint8Array): [bigint, bigint] | null {
  const x = bigOf(xy.subarray(0, 32));
  const y = bigOf(xy.subarray(32, 64));
  if (x >= P || y >= P) return null;
  return mod(y * y - (x * x * x - 3n * x + B)) === 0n ? [x, y] : null;
}

/** ECDSA P-256 verification of raw r||s over a 32-byte digest, in BigInt (Shamir's trick). */
export function p256VerifyDigest(xy: Uint8Array, digest: Uint8Array, rs: Uint8Array): boolean {
  const q = onCurve(xy);
  if (!q || rs.length !== 64) return false;
  const r = bigOf(rs.subarray(0, 32));
  const s = bigOf(rs.subarray(32, 64));
  if (r === 0n || s === 0n || r >= N || s >= N) return false;
  const e = bigOf(digest);
  const w = invert(s, N);
  const u1 = (e * w) % N;
  const u2 = (r * w) % N;
  const g: Jacobian = [GX, GY, 1n];
  const qj: Jacobian = [q[0], q[1], 1n];
  const gq = add(g, qj);
  let acc = INFINITY;
  for (let i = 255; i >= 0; i--) {
    acc = double(acc);
    const b = BigInt(i);
    const a1 = (u1 >> b) & 1n;
    const a2 = (u2 >> b) & 1n;
    if (a1 && a2) acc = add(acc, gq);
    else if (a1) acc = add(acc, g);
    else if (a2) acc = add(acc, qj);
  }
  if (acc[2] === 0n) return false;
  const zi = invert(acc[2], P);
  const x = (acc[0] * ((zi * zi) % P)) % P;
  return x % N === r;
}

// ---------------------------------------------------------------------------------------------------------

/** x||y of a 64-byte x||y or 65-byte 0x04||x||y point; INVALID_PUBLIC_KEY for any other length. */
export function uncompressedXY(point: Uint8Array, field: string): Uint8Array {
  const xy = point.length === 65 && point[0] === 0x04 ? point.subarray(1) : point;
  if (xy.length !== 64) {
    throw new TdxError(
      "INVALID_PUBLIC_KEY",
      `${field} is not an uncompressed P-256 point (${point.length} bytes)`,
      {
        field,
        hint: "P-256 keys are 64 bytes x||y (quote) or 65 bytes 0x04||x||y (certificate)",
      },
    );
  }
  return xy;
}

export function invalidPoint(field: string, cause?: unknown): TdxError {
  return new TdxError("INVALID_PUBLIC_KEY", `${field} is not a valid P-256 point`, {
    field,
    hint: "the key bytes are corrupt",
    cause,
  });
}

/**
 * A DER ECDSA-Sig-Value as raw r||s (32 bytes each, left-padded) for WebCrypto, or null when OpenSSL would
 * not accept it as DER: OpenSSL re-encodes a signature and refuses it unless the bytes are identical, so
 * only canonical DER (minimal lengths, minimal positive INTEGERs, nothing trailing) passes here.
 */
export function derEcdsaToRaw(der: Uint8Array): Uint8Array | null {
  if (der.length < 8 || der[0] !== 0x30) return null;
  let pos = 2;
  let seqLen = der[1]!;
  if (seqLen === 0x81) {
    seqLen = der[2]!;
    if (seqLen < 0x80) return null;
    pos = 3;
  } else if (seqLen > 0x7f) {
    return null;
  }
  if (pos + seqLen !== der.length) return null;
  const out = new Uint8Array(64);
  for (let i = 0; i < 2; i++) {
    if (pos + 2 > der.length || der[pos] !== 0x02) return null;
    const len = der[pos + 1]!;
    pos += 2;
    if (len === 0 || len > 0x7f || pos + len > der.length) return null;
    const first = der[pos]!;
    if (first & 0x80) return null; // negative
    if (first === 0 && len > 1 && !(der[pos + 1]! & 0x80)) return null; // non-minimal
    let v = der.subarray(pos, pos + len);
    if (v.length === 33 && v[0] === 0) v = v.subarray(1);
    if (v.length > 32) return null;
    out.set(v, i * 32 + 32 - v.length);
    pos += len;
  }
  return pos === der.length ? out : null;
}

interface Subtle {
  importKey(...args: unknown[]): Promise<unknown>;
  verify(...args: unknown[]): Promise<boolean>;
}

function subtle(): Subtle {
  const s = (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
  if (!s) {
    throw new TdxError("CRYPTO_UNAVAILABLE", "this runtime has no WebCrypto (crypto.subtle)", {
      hint: "run in a secure context (https or localhost) or a runtime with WebCrypto, or use verify() (plain JavaScript)",
    });
  }
  return s;
}

async function subtleRsa(jwk: RsaJwk, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    const key = await subtle().importKey(
      "jwk",
      { kty: "RSA", n: jwk.n, e: jwk.e, ext: true },
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      ["verify"],
    );
    return await subtle().verify("RSASSA-PKCS1-v1_5", key, signature, message);
  } catch {
    return false;
  }
}

/** WebCrypto for `verifyAsync`, plain JavaScript for `verify`: any runtime with `crypto.subtle`. */
export const webCryptoBackend: CryptoBackend = {
  name: "webcrypto",
  p256Key(point, field) {
    const xy = uncompressedXY(point, field);
    // WebCrypto's import is asynchronous; the same points (off the curve, a coordinate >= p) are refused
    // here synchronously, so a bad key fails at the same check as with node:crypto.
    if (!onCurve(xy)) throw invalidPoint(field);
    return { xy: xy.slice() };
  },
  verifyP256(key, message, signature, der) {
    const rs = der ? derEcdsaToRaw(signature) : signature;
    return rs !== null && rs.length === 64 && p256VerifyDigest(key.xy, sha256Sync(message), rs);
  },
  async verifyP256Async(key, message, signature, der) {
    const rs = der ? derEcdsaToRaw(signature) : signature;
    if (rs === null || rs.length !== 64) return false;
    try {
      if (!key.web) {
        const raw = new Uint8Array(65);
        raw[0] = 0x04;
        raw.set(key.xy, 1);
        key.web = subtle().importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
      }
      return await subtle().verify({ name: "ECDSA", hash: "SHA-256" }, await key.web, rs, message);
    } catch {
      return false;
    }
  },
  verifyRsa(jwk, message, signature) {
    try {
      return diagnoseRsaPkcs1Sha256(jwk, sha256Sync(message), signature) === "valid";
    } catch {
      return false;
    }
  },
  async verifyRsaAsync(jwk, message, signature) {
    try {
      rsaJwkParts(jwk);
    } catch {
      return false;
    }
    return subtleRsa(jwk, message, signature);
  },
  sha256: sha256Sync,
  sha384: sha384Sync,
};

type NodeCryptoModule = typeof NodeCrypto;

function b64url(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return btoa(s).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** node:crypto (OpenSSL): the module is passed in, so this file has no `node:` import. */
export function nodeCryptoBackend(c: NodeCryptoModule): CryptoBackend {
  const hash =
    (alg: string) =>
    (...parts: Uint8Array[]): Uint8Array => {
      const h = c.createHash(alg);
      for (const p of parts) h.update(p);
      return new Uint8Array(h.digest());
    };
  const keyObject = (key: P256Key): NodeCrypto.KeyObject => {
    key.node ??= c.createPublicKey({
      key: { kty: "EC", crv: "P-256", x: b64url(key.xy.subarray(0, 32)), y: b64url(key.xy.subarray(32, 64)) },
      format: "jwk",
    });
    return key.node as NodeCrypto.KeyObject;
  };
  return {
    name: "node:crypto",
    p256Key(point, field) {
      const key: P256Key = { xy: uncompressedXY(point, field).slice() };
      try {
        // JWK import is the cheapest path into OpenSSL for a raw point on Node 20; it refuses off-curve points.
        keyObject(key);
      } catch (e) {
        throw invalidPoint(field, e);
      }
      return key;
    },
    verifyP256(key, message, signature, der) {
      if (!der && signature.length !== 64) return false;
      try {
        return c.verify(
          "sha256",
          message,
          { key: keyObject(key), dsaEncoding: der ? "der" : "ieee-p1363" },
          signature,
        );
      } catch {
        return false;
      }
    },
    verifyP256Async(key, message, signature, der) {
      if (!der && signature.length !== 64) return Promise.resolve(false);
      return new Promise((resolve) => {
        try {
          c.verify(
            "sha256",
            message,
            { key: keyObject(key), dsaEncoding: der ? "der" : "ieee-p1363" },
            signature,
            (err, ok) => resolve(!err && ok),
          );
        } catch {
          resolve(false);
        }
      });
    },
    verifyRsa(jwk, message, signature) {
      try {
        rsaJwkParts(jwk);
        const key = c.createPublicKey({ key: { kty: "RSA", n: jwk.n, e: jwk.e }, format: "jwk" });
        return c.verify("sha256", message, key, signature);
      } catch {
        return false;
      }
    },
    async verifyRsaAsync(jwk, message, signature) {
      try {
        rsaJwkParts(jwk);
      } catch {
        return false;
      }
      return subtleRsa(jwk, message, signature);
    },
    sha256: hash("sha256"),
    sha384: hash("sha384"),
  };
}

let chosen: CryptoBackend | undefined;

/** node:crypto when the runtime hands it out without an import (Node >= 20.16, Bun, Deno), else WebCrypto. */
function detect(): CryptoBackend {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const c = proc?.getBuiltinModule?.("node:crypto") as NodeCryptoModule | undefined;
    if (c && typeof c.verify === "function" && typeof c.createPublicKey === "function")
      return nodeCryptoBackend(c);
  } catch {
    // Not Node: WebCrypto.
  }
  return webCryptoBackend;
}

/** The backend new verifiers use unless given one (`VerifierOptions.crypto`). */
export function cryptoBackend(): CryptoBackend {
  chosen ??= detect();
  return chosen;
}

/** Choose the default backend (the `node` export condition installs node:crypto's; tests switch). */
export function setCryptoBackend(backend: CryptoBackend): void {
  chosen = backend;
}
