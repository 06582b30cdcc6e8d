import { createHash, createPublicKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { jwtVerify } from "jose";
import { TdxError } from "../errors.js";

/** JWTs signed with an admin key must name this audience and live at most this long. */
export const ADMIN_JWT_AUDIENCE = "tdx-attest-kbs-admin";
export const ADMIN_JWT_MAX_LIFETIME_SECONDS = 600;

/**
 * An admin public key from PEM text, refused (KBS_CONFIG_INVALID naming `source` and why) unless it can
 * verify an admin JWT with an accepted algorithm: a PUBLIC KEY (SPKI) PEM, not a private key; EC P-256
 * (ES256) or P-384 (ES384), Ed25519 (EdDSA), or RSA of at least 2048 bits (RS256, PS256).
 */
export function readAdminPublicKey(pem: string, source: string): KeyObject {
  const bad = (why: string, hint: string) =>
    new TdxError("KBS_CONFIG_INVALID", `the admin public key ${source} ${why}`, { field: source, hint });
  const text = pem.trim();
  if (/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(text))
    throw bad(
      "is a PRIVATE key: the broker must only hold the public half",
      "export the public key (openssl pkey -in admin.key -pubout -out admin.pub.pem), give the broker that, and keep the private key with the admin",
    );
  if (!/^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----$/.test(text))
    throw bad(
      "is not a PEM public key (-----BEGIN PUBLIC KEY-----)",
      "give the SubjectPublicKeyInfo PEM, e.g. from: openssl pkey -in admin.key -pubout",
    );
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: "pem" });
  } catch (e) {
    throw bad(
      `cannot be read: ${(e as Error).message}`,
      "give the SubjectPublicKeyInfo PEM of the admin key",
    );
  }
  const type = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (type === "ec" && curve !== "prime256v1" && curve !== "secp384r1")
    throw bad(
      `is an EC key on ${curve ?? "an unknown curve"}: admin JWTs are accepted as ES256 (P-256) or ES384 (P-384) only`,
      "make the admin key on P-256 or P-384, or use Ed25519",
    );
  if ((type === "rsa" || type === "rsa-pss") && bits < 2048)
    throw bad(
      `is RSA-${bits}: at least 2048 bits are required`,
      "make an RSA key of 2048 bits or more, or use Ed25519",
    );
  if (type !== "ec" && type !== "ed25519" && type !== "rsa" && type !== "rsa-pss")
    throw bad(
      `is a ${type} key: admin JWTs are verified with ES256, ES384, EdDSA (Ed25519), RS256 or PS256 only`,
      "use a P-256, P-384, Ed25519 or RSA (2048+) key",
    );
  return key;
}

/**
 * Admin authentication: a static bearer token (compared as SHA-256 digests in constant time) and/or
 * admin public keys that verify short-lived JWTs (ES256, ES384, EdDSA, RS256, PS256; iat and exp at most
 * 10 minutes apart; aud, when present, tdx-attest-kbs-admin), as Trustee's kbs-client makes them.
 * With neither configured every admin call is refused: the admin API is never open by default.
 */
export class AdminAuth {
  readonly #tokenDigests: Buffer[];
  readonly #keys: { key: KeyObject; id: string }[];
  /** Longest admin JWT lifetime accepted (exp - iat), seconds. */
  readonly maxJwtLifetimeSeconds: number;

  constructor(
    opts: { tokens?: string[]; publicKeys?: (string | KeyObject)[]; maxJwtLifetimeSeconds?: number } = {},
  ) {
    const max = opts.maxJwtLifetimeSeconds ?? ADMIN_JWT_MAX_LIFETIME_SECONDS;
    if (!Number.isInteger(max) || max <= 0)
      throw new TdxError(
        "KBS_CONFIG_INVALID",
        `admin JWT lifetime cap ${max} is not a positive number of seconds`,
        {
          field: "admin.maxJwtLifetimeSeconds",
          hint: "e.g. 600 (10 minutes, the default) or 7200 for Trustee kbs-client's 2-hour tokens",
        },
      );
    this.maxJwtLifetimeSeconds = max;
    this.#tokenDigests = (opts.tokens ?? [])
      .map((t) => t.trim())
      .filter((t) => {
        if (t.length < 16)
          throw new TdxError("KBS_ADMIN_TOKEN_WEAK", "an admin token must be at least 16 characters", {
            hint: "generate one with: head -c 32 /dev/urandom | base64",
          });
        return true;
      })
      .map((t) => createHash("sha256").update(t).digest());
    this.#keys = (opts.publicKeys ?? []).map((k, i) => {
      const key = typeof k === "string" ? readAdminPublicKey(k, `#${i + 1}`) : k;
      const der = key.export({ type: "spki", format: "der" });
      return { key, id: createHash("sha256").update(der).digest("hex").slice(0, 16) };
    });
  }

  get enabled(): boolean {
    return this.#tokenDigests.length > 0 || this.#keys.length > 0;
  }

  /** Check an Authorization header; returns the actor name recorded in the audit log. */
  async authenticate(authorization: string | undefined, now: Date): Promise<string> {
    return (await this.credential(authorization, now)).actor;
  }

  /**
   * Check an Authorization header; returns the actor and, for a JWT, what identifies that one token
   * (its jti, else the SHA-256 of the token) and when it expires: the broker records it for write
   * calls so that the token cannot be replayed (src/server/kbs-app.ts, the store's admin_tokens_used).
   */
  async credential(
    authorization: string | undefined,
    now: Date,
  ): Promise<{ actor: string; jwt?: { id: string; expiresAt: number } }> {
    if (!this.enabled)
      throw new TdxError(
        "KBS_ADMIN_DISABLED",
        "the admin API is disabled: no admin token or admin key is configured",
        {
          hint: "start the broker with admin.tokenFile / --admin-token-file or admin.publicKeyFile / --admin-public-key",
        },
      );
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
    if (!m)
      throw new TdxError("KBS_ADMIN_UNAUTHENTICATED", "admin calls need an Authorization: Bearer header", {
        hint: "pass --admin-token-file FILE (or --admin-key KEY.pem) to the tdx-attest kbs command",
      });
    const presented = m[1]!;
    const digest = createHash("sha256").update(presented).digest();
    for (const d of this.#tokenDigests)
      if (timingSafeEqual(d, digest)) return { actor: `token:${digest.toString("hex").slice(0, 12)}` };
    if (this.#keys.length > 0 && presented.split(".").length === 3) {
      for (const { key, id } of this.#keys) {
        try {
          const { payload } = await jwtVerify(presented, key, {
            algorithms: ["ES256", "ES384", "EdDSA", "RS256", "PS256"],
            currentDate: now,
            requiredClaims: ["exp", "iat"],
            maxTokenAge: this.maxJwtLifetimeSeconds,
          });
          if ((payload.exp ?? 0) - (payload.iat ?? 0) > this.maxJwtLifetimeSeconds) continue;
          // Trustee's kbs-client signs {iat, exp} without an audience: accept that, but a token made
          // for another audience is not ours.
          const aud =
            payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
          if (aud.length > 0 && !aud.includes(ADMIN_JWT_AUDIENCE)) continue;
          const tokenId =
            typeof payload.jti === "string" && payload.jti !== ""
              ? `jti:${id}:${payload.jti}`
              : `sha256:${digest.toString("hex")}`;
          return {
            actor: `key:${id}${payload.sub ? `:${payload.sub}` : ""}`,
            jwt: { id: tokenId, expiresAt: (payload.exp ?? 0) * 1000 },
          };
        } catch {
          // try the next key
        }
      }
    }
    throw new TdxError("KBS_ADMIN_UNAUTHENTICATED", "the admin credential was not accepted", {
      hint: `check the admin token, or sign a fresh JWT (aud tdx-attest-kbs-admin, iat and exp at most ${this.maxJwtLifetimeSeconds} s apart) with the admin key`,
    });
  }
}

/** Sign a short-lived admin JWT with a private key (what the CLI's --admin-key does). */
export async function signAdminJwt(privateKeyPem: string, now: Date, subject = "cli"): Promise<string> {
  const { SignJWT } = await import("jose");
  const { createPrivateKey, randomUUID } = await import("node:crypto");
  const key = createPrivateKey(privateKeyPem);
  const alg =
    key.asymmetricKeyType === "ed25519"
      ? "EdDSA"
      : key.asymmetricKeyType === "ec"
        ? key.asymmetricKeyDetails?.namedCurve === "secp384r1"
          ? "ES384"
          : "ES256"
        : "RS256";
  const iat = Math.floor(now.getTime() / 1000);
  return (
    new SignJWT({})
      .setProtectedHeader({ alg })
      // One token per call: the broker refuses a second write with the same jti.
      .setJti(randomUUID())
      .setAudience(ADMIN_JWT_AUDIENCE)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 120)
      .sign(key)
  );
}
