import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { decodeProtectedHeader, importJWK, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { newKeyPair } from "../../src/crypto/keygen.js";
import { isTdxError } from "../../src/errors.js";
import { TokenSigner } from "../../src/kbs/token.js";

const now = new Date("2026-03-01T12:00:00Z");
const signer = () =>
  new TokenSigner(createPrivateKey(TokenSigner.generatePrivateKeyPem()), { ttlSeconds: 300 });
const b64u = (s: string) => Buffer.from(s).toString("base64url");

/** A token with this header and payload, signed with `key` (ES256, r||s). */
function forge(key: KeyObject, header: Record<string, unknown>, payload: Record<string, unknown>) {
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
}

describe("attestation tokens (ES256 JWS signed with node:crypto)", () => {
  it("are standard JWTs that jose verifies with the public key from the header and from the JWKS", async () => {
    const s = signer();
    const { token, registered } = await s.sign({ hello: "world", n: 1 }, now);
    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: "ES256", typ: "JWT", jwk: { kty: "EC", crv: "P-256" } });
    expect(Object.keys(header)).toEqual(["alg", "typ", "jwk"]);
    const fromHeader = await importJWK(header.jwk as never, "ES256");
    const { payload } = await jwtVerify(token, fromHeader, {
      algorithms: ["ES256"],
      issuer: "tdx-attest-kbs",
      currentDate: now,
    });
    expect(payload).toEqual({ hello: "world", n: 1, ...registered });
    // No nbf, as Trustee's EAR: guest-components' Token::check_valid refuses a token whose nbf is ahead of
    // the guest's clock (token_provider/mod.rs), so a lagging guest would attest again and again.
    expect(payload).not.toHaveProperty("nbf");
    const fromJwks = await importJWK((await s.publicJwk()) as never, "ES256");
    await jwtVerify(token, fromJwks, { currentDate: now });
    expect(await s.verify(token, now)).toEqual(payload);
  });

  it("re-issues a session's token with the same iat, exp and jti", async () => {
    const s = signer();
    const first = await s.sign({ a: 1 }, now);
    const again = await s.sign({ a: 1 }, new Date(now.getTime() + 60_000), first.registered);
    expect(await s.verify(again.token, new Date(now.getTime() + 60_000))).toEqual(
      await s.verify(first.token, now),
    );
  });

  it("verifies what a JOSE library signs with the broker's key (interoperable both ways)", async () => {
    const pem = TokenSigner.generatePrivateKeyPem();
    const s = new TokenSigner(createPrivateKey(pem));
    const iat = Math.floor(now.getTime() / 1000);
    const token = await new SignJWT({ x: 1 })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer("tdx-attest-kbs")
      .setIssuedAt(iat)
      .setExpirationTime(iat + 60)
      .sign(createPrivateKey(pem));
    expect((await s.verify(token, now)).x).toBe(1);
  });

  it("refuses what jose refuses: other key, changed payload or header, expired, not yet valid, other issuer", async () => {
    const s = signer();
    const { token } = await s.sign({ role: "td" }, now);
    const [h, p, sig] = token.split(".");
    const code = (t: string, at = now, by = s) =>
      by.verify(t, at).then(
        () => "ok",
        (e: unknown) => (isTdxError(e) ? e.code : `not a TdxError: ${String(e)}`),
      );
    expect(await code(token, new Date(now.getTime() + 300_000))).toBe("KBS_TOKEN_EXPIRED");
    expect(await code(token, new Date(now.getTime() + 299_000))).toBe("ok");
    expect(await code((await signer().sign({ role: "td" }, now)).token)).toBe("KBS_TOKEN_INVALID");
    const changed = b64u(
      JSON.stringify({ ...JSON.parse(Buffer.from(p!, "base64url").toString()), role: "x" }),
    );
    expect(await code(`${h}.${changed}.${sig}`)).toBe("KBS_TOKEN_INVALID");
    expect(await code(`${b64u('{"alg":"none"}')}.${p}.`)).toBe("KBS_TOKEN_INVALID");
    expect(await code(`${h}.${p}`)).toBe("KBS_TOKEN_INVALID");
    expect(await code(`${h}.${p}.${sig}x`)).toBe("KBS_TOKEN_INVALID");
    expect(await code(`${h}.${p}.${sig!.replace(/^./, (c) => (c === "A" ? "B" : "A"))}`)).toBe(
      "KBS_TOKEN_INVALID",
    );
    // Signed with the right key, with headers and claims jose refuses too.
    const { privateKey } = newKeyPair({ type: "ec", namedCurve: "P-256" });
    const own = new TokenSigner(privateKey);
    const iat = Math.floor(now.getTime() / 1000);
    const cases: [Record<string, unknown>, Record<string, unknown>, string][] = [
      [{ alg: "ES256" }, { iss: "tdx-attest-kbs", iat, exp: iat + 60 }, "ok"],
      [{ alg: "ES256" }, { iss: "someone-else", iat, exp: iat + 60 }, "KBS_TOKEN_INVALID"],
      [{ alg: "ES256" }, { iss: "tdx-attest-kbs", iat, nbf: iat + 10, exp: iat + 60 }, "KBS_TOKEN_INVALID"],
      [{ alg: "ES256" }, { iss: "tdx-attest-kbs", iat, exp: iat }, "KBS_TOKEN_EXPIRED"],
      [{ alg: "ES256" }, { iss: "tdx-attest-kbs", iat, exp: String(iat + 60) }, "KBS_TOKEN_INVALID"],
      [{ alg: "ES256" }, { iss: "tdx-attest-kbs", iat }, "KBS_TOKEN_INVALID"],
      [{ alg: "ES256", crit: ["exp"] }, { iss: "tdx-attest-kbs", iat, exp: iat + 60 }, "KBS_TOKEN_INVALID"],
      [{ alg: "ES384" }, { iss: "tdx-attest-kbs", iat, exp: iat + 60 }, "KBS_TOKEN_INVALID"],
    ];
    for (const [header, payload, want] of cases) {
      const t = forge(privateKey, header, payload);
      const joseOk = await jwtVerify(t, own.publicKey, {
        algorithms: ["ES256"],
        issuer: "tdx-attest-kbs",
        currentDate: now,
        requiredClaims: ["exp"],
      }).then(
        () => true,
        () => false,
      );
      expect(joseOk, JSON.stringify([header, payload])).toBe(want === "ok");
      expect(await code(t, now, own), JSON.stringify([header, payload])).toBe(want);
    }
  });
});
