import { createPublicKey, type KeyObject, randomUUID } from "node:crypto";
import { exportJWK, type JWK, jwtVerify, SignJWT } from "jose";
import { newKeyPair } from "../crypto/keygen.js";
import { TdxError } from "../errors.js";

export const DEFAULT_TOKEN_ISSUER = "tdx-attest-kbs";

/**
 * Signs and checks attestation tokens (ES256 JWTs). The header carries the public key as `jwk`, as
 * Trustee's EAR broker does, so passport-mode consumers can pin it; this broker trusts only its own key.
 */
export class TokenSigner {
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly issuer: string;
  readonly ttlSeconds: number;
  #publicJwk: JWK | undefined;

  constructor(privateKey: KeyObject, opts: { issuer?: string; ttlSeconds?: number } = {}) {
    if (privateKey.asymmetricKeyType !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1")
      throw new TdxError("KBS_TOKEN_KEY_INVALID", "the token signing key must be an EC P-256 private key", {
        hint: "generate one with: openssl ecparam -name prime256v1 -genkey -noout",
      });
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
    this.issuer = opts.issuer ?? DEFAULT_TOKEN_ISSUER;
    this.ttlSeconds = opts.ttlSeconds ?? 300;
  }

  static generatePrivateKeyPem(): string {
    const { privateKey } = newKeyPair({ type: "ec", namedCurve: "P-256" });
    return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  }

  async publicJwk(): Promise<JWK> {
    this.#publicJwk ??= { ...(await exportJWK(this.publicKey)), alg: "ES256", use: "sig" };
    return this.#publicJwk;
  }

  /**
   * Sign claims issued at `now` (iss, iat, nbf, exp and a fresh jti added), or, with `registered`,
   * re-issue a session's token with the same iat, exp and jti (a second /attest on the session).
   */
  async sign(
    claims: Record<string, unknown>,
    now: Date,
    registered?: { iat: number; exp: number; jti: string },
  ): Promise<{
    token: string;
    expiresAt: Date;
    registered: { iss: string; iat: number; nbf: number; exp: number; jti: string };
  }> {
    const iat = registered?.iat ?? Math.floor(now.getTime() / 1000);
    const exp = registered?.exp ?? iat + this.ttlSeconds;
    const jti = registered?.jti ?? randomUUID();
    const jwk = await this.publicJwk();
    const token = await new SignJWT(claims)
      .setProtectedHeader({
        alg: "ES256",
        typ: "JWT",
        jwk: { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! },
      })
      .setIssuer(this.issuer)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(this.#privateKey);
    return {
      token,
      expiresAt: new Date(exp * 1000),
      registered: { iss: this.issuer, iat, nbf: iat, exp, jti },
    };
  }

  /** Verify a token this broker issued; `now` is an input so tests and audits can replay time. */
  async verify(token: string, now: Date): Promise<Record<string, unknown>> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        algorithms: ["ES256"],
        issuer: this.issuer,
        currentDate: now,
        clockTolerance: 0,
      });
      return payload as Record<string, unknown>;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "ERR_JWT_EXPIRED")
        throw new TdxError("KBS_TOKEN_EXPIRED", "the attestation token has expired", {
          hint: "attest again (POST /kbs/v0/auth then /kbs/v0/attest) to get a fresh token",
        });
      throw new TdxError("KBS_TOKEN_INVALID", `the attestation token is not valid: ${(e as Error).message}`, {
        hint: "present a token issued by this broker, unmodified",
      });
    }
  }
}
