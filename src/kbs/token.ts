import {
  createPublicKey,
  type KeyObject,
  randomUUID,
  sign as signBytes,
  verify as verifyBytes,
} from "node:crypto";
import type { JWK } from "jose";
import { newKeyPair } from "../crypto/keygen.js";
import { TdxError } from "../errors.js";

export const DEFAULT_TOKEN_ISSUER = "tdx-attest-kbs";

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const b64u = (b: Uint8Array | string) =>
  (typeof b === "string" ? Buffer.from(b, "utf8") : Buffer.from(b)).toString("base64url");

/**
 * Signs and checks attestation tokens: standard compact JWS (RFC 7515) ES256 JWTs (RFC 7519) that jose,
 * Trustee's clients and any JOSE library verify. The header carries the public key as `jwk`, as Trustee's
 * EAR broker does, so passport-mode consumers can pin it; this broker trusts only its own key.
 *
 * Signed and verified with node:crypto directly (ECDSA P-256 / SHA-256, r||s as RFC 7518 §3.4 wants):
 * a JOSE library's WebCrypto path costs a thread-pool round trip and a key import per call, several
 * times the signature itself. test/kbs/token.test.ts checks that jose accepts the tokens and
 * that this verifier refuses what jose refuses.
 */
export class TokenSigner {
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly issuer: string;
  readonly ttlSeconds: number;
  readonly #publicJwk: JWK;
  /** base64url of the protected header, the same for every token. */
  readonly #header: string;

  constructor(privateKey: KeyObject, opts: { issuer?: string; ttlSeconds?: number } = {}) {
    if (privateKey.asymmetricKeyType !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1")
      throw new TdxError("KBS_TOKEN_KEY_INVALID", "the token signing key must be an EC P-256 private key", {
        hint: "generate one with: openssl ecparam -name prime256v1 -genkey -noout",
      });
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
    this.issuer = opts.issuer ?? DEFAULT_TOKEN_ISSUER;
    this.ttlSeconds = opts.ttlSeconds ?? 300;
    const jwk = this.publicKey.export({ format: "jwk" });
    this.#publicJwk = { kty: "EC", crv: "P-256", x: jwk.x!, y: jwk.y!, alg: "ES256", use: "sig" };
    this.#header = b64u(
      JSON.stringify({ alg: "ES256", typ: "JWT", jwk: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y } }),
    );
  }

  static generatePrivateKeyPem(): string {
    const { privateKey } = newKeyPair({ type: "ec", namedCurve: "P-256" });
    return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  }

  async publicJwk(): Promise<JWK> {
    return { ...this.#publicJwk };
  }

  /**
   * Sign claims issued at `now` (iss, iat, exp and a fresh jti added), or, with `registered`,
   * re-issue a session's token with the same iat, exp and jti (a second /attest on the session).
   * No nbf, as Trustee's EAR tokens: guest-components' Token::check_valid refuses a token whose nbf is
   * ahead of the guest's clock and would attest again until the clocks meet.
   */
  async sign(
    claims: Record<string, unknown>,
    now: Date,
    registered?: { iat: number; exp: number; jti: string },
  ): Promise<{
    token: string;
    expiresAt: Date;
    registered: { iss: string; iat: number; exp: number; jti: string };
  }> {
    const iat = registered?.iat ?? Math.floor(now.getTime() / 1000);
    const exp = registered?.exp ?? iat + this.ttlSeconds;
    const jti = registered?.jti ?? randomUUID();
    const reg = { iss: this.issuer, iat, exp, jti };
    const input = `${this.#header}.${b64u(JSON.stringify({ ...claims, ...reg }))}`;
    const signature = signBytes("sha256", Buffer.from(input, "ascii"), {
      key: this.#privateKey,
      dsaEncoding: "ieee-p1363",
    });
    return { token: `${input}.${b64u(signature)}`, expiresAt: new Date(exp * 1000), registered: reg };
  }

  /**
   * Verify a token this broker issued; `now` is an input so tests and audits can replay time. The checks
   * are RFC 7519's as jose's jwtVerify makes them with {algorithms: [ES256], issuer, clockTolerance: 0},
   * and exp is required (every token this broker issues has one).
   */
  async verify(token: string, now: Date): Promise<Record<string, unknown>> {
    if (typeof token !== "string") throw invalid("the token is not a string");
    const parts = token.split(".");
    if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p)))
      throw invalid("it is not a compact JWS (three base64url parts)");
    const header = jsonObject(parts[0]!, "protected header");
    if (header.alg !== "ES256") throw invalid(`alg ${JSON.stringify(header.alg)} is not ES256`);
    // RFC 7515 §4.1.11: an extension the verifier does not understand must be refused; this broker uses none.
    if (header.crit !== undefined) throw invalid("the header names critical extensions");
    if (header.b64 !== undefined) throw invalid("the header carries b64 (RFC 7797), not a JWT");
    const signature = Buffer.from(parts[2]!, "base64url");
    if (
      signature.length !== 64 ||
      !verifyBytes(
        "sha256",
        Buffer.from(`${parts[0]}.${parts[1]}`, "ascii"),
        { key: this.publicKey, dsaEncoding: "ieee-p1363" },
        signature,
      )
    )
      throw invalid("signature verification failed");
    const payload = jsonObject(parts[1]!, "payload");
    const t = Math.floor(now.getTime() / 1000);
    if (payload.iss !== this.issuer) throw invalid('unexpected "iss" claim value');
    for (const k of ["iat", "nbf", "exp"] as const)
      if (payload[k] !== undefined && typeof payload[k] !== "number")
        throw invalid(`"${k}" claim must be a number`);
    if (payload.exp === undefined) throw invalid('missing required "exp" claim');
    if ((payload.nbf as number | undefined) !== undefined && (payload.nbf as number) > t)
      throw invalid('"nbf" claim timestamp check failed');
    if ((payload.exp as number) <= t)
      throw new TdxError("KBS_TOKEN_EXPIRED", "the attestation token has expired", {
        hint: "attest again (POST /kbs/v0/auth then /kbs/v0/attest) to get a fresh token",
      });
    return payload;
  }
}

function jsonObject(part: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    throw invalid(`the ${what} is not JSON`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw invalid(`the ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function invalid(why: string): TdxError {
  return new TdxError("KBS_TOKEN_INVALID", `the attestation token is not valid: ${why}`, {
    hint: "present a token issued by this broker, unmodified",
  });
}
