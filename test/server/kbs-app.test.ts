import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newKeyPair } from "../../src/crypto/keygen.js";
import { expectedReportData } from "../../src/kbs/binding.js";
import { attestationMessage, generateTeeKeyPair, KbsClient } from "../../src/kbs/client.js";
import { decryptKbsResponse } from "../../src/kbs/jwe.js";
import { signAdminJwt } from "../../src/server/admin-auth.js";
import { rejectionOf } from "../helpers/errors.js";
import { ADMIN_TOKEN, admin, startTestBroker } from "./broker.js";
import { FakeVerifier, fakeQuoteBytes, fakeQuoteSource } from "./fake-evidence.js";

describe("key broker over HTTP (fake verifier)", () => {
  let now = new Date("2026-11-26T12:00:00Z");
  const verifier = new FakeVerifier();
  const adminKey = newKeyPair({ type: "ec", namedCurve: "P-256" });
  let broker: Awaited<ReturnType<typeof startTestBroker>>;
  const SECRET = "correct horse battery staple";

  beforeAll(async () => {
    broker = await startTestBroker({
      verifier,
      clock: () => now,
      authRateLimit: { max: 1000, windowSeconds: 60 },
      adminPublicKeys: [adminKey.publicKey.export({ type: "spki", format: "pem" }).toString()],
    });
    const put = await admin(
      broker.url,
      "PUT",
      "/kbs/v0/resource/default/disk/key",
      new TextEncoder().encode(SECRET),
    );
    expect(put.status).toBe(200);
    const pol = await admin(
      broker.url,
      "PUT",
      "/kbs/v0/admin/policy/resource/pinned",
      JSON.stringify({ rules: [{ name: "golden-mrtd", claim: "mr_td", in: ["22".repeat(48)] }] }),
    );
    expect(pol.status).toBe(200);
    expect(
      (
        await admin(
          broker.url,
          "PUT",
          "/kbs/v0/resource/default/disk/pinned?policy=pinned",
          new Uint8Array([1, 2, 3]),
        )
      ).status,
    ).toBe(200);
  });
  afterAll(async () => broker?.close());

  it("releases the secret to an attested TD (EC key, SHA-384) with an EAR token", async () => {
    const client = new KbsClient({ url: broker.url, hashAlgorithms: ["sha384"] });
    const { secret, token } = await client.getResource("default/disk/key", fakeQuoteSource());
    expect(new TextDecoder().decode(secret)).toBe(SECRET);
    const header = decodeProtectedHeader(token);
    expect(header.alg).toBe("ES256");
    expect(header.jwk).toMatchObject({ kty: "EC", crv: "P-256" });
    // biome-ignore lint/suspicious/noExplicitAny: walking a JSON document in assertions
    const claims = decodeJwt(token) as Record<string, any>;
    expect(claims.eat_profile).toBe("tag:github.com,2024:confidential-containers/Trustee");
    const cpu = claims.submods.cpu0;
    expect(cpu["ear.status"]).toBe("affirming");
    expect(cpu["ear.veraison.annotated-evidence"].tdx.quote.body.mr_td).toBe("11".repeat(48));
    expect(cpu["ear.veraison.annotated-evidence"].tdx.tcb_status).toBe("UpToDate");
    expect(cpu["ear.veraison.annotated-evidence"].runtime_data_claims["tee-pubkey"].kty).toBe("EC");
    expect(claims.tdx_mrtd).toBe("11".repeat(48));
    expect(claims.attester_tcb_status).toBe("UpToDate");
    expect(claims.tdx_is_debuggable).toBe(false);
    expect(claims.exp - claims.iat).toBe(300);
  });

  it("negotiates SHA-512 and wraps to an RSA key with RSA-OAEP-256", async () => {
    const client = new KbsClient({ url: broker.url, hashAlgorithms: ["sha512"] });
    const { nonce, hashAlgorithm } = await client.auth();
    expect(hashAlgorithm).toBe("sha512");
    const key = generateTeeKeyPair("rsa");
    const rd = expectedReportData(nonce, key.publicJwk, "", "sha512");
    await client.attestRaw(
      attestationMessage(
        nonce,
        key.publicJwk,
        fakeQuoteBytes({ reportData: Buffer.from(rd).toString("hex") }),
      ),
    );
    const jwe = (await client.resourceRaw("default/disk/key")) as Record<string, string>;
    expect(Object.keys(jwe).sort()).toEqual(["ciphertext", "encrypted_key", "iv", "protected", "tag"]);
    expect(JSON.parse(Buffer.from(jwe.protected!, "base64url").toString())).toEqual({
      alg: "RSA-OAEP-256",
      enc: "A256GCM",
    });
    expect(new TextDecoder().decode(await decryptKbsResponse(jwe, key.privateKey))).toBe(SECRET);
  });

  it('answers the challenge like Trustee: 44-char base64 nonce, cookie with expiry, extra-params ""', async () => {
    const res = await fetch(`${broker.url}/kbs/v0/auth`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version: "0.4.0", tee: "tdx", "extra-params": "" }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.nonce).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(body["extra-params"]).toBe("");
    expect(res.headers.get("set-cookie")).toMatch(
      /^kbs-session-id=[0-9a-f-]{36}; Expires=.+ GMT; Path=\/kbs; HttpOnly/,
    );
  });

  it("refuses another protocol version with 401 problem+json", async () => {
    const res = await fetch(`${broker.url}/kbs/v0/auth`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ version: "0.3.0", tee: "tdx", "extra-params": "" }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const p = (await res.json()) as Record<string, unknown>;
    expect(p).toMatchObject({
      type: "urn:tdx-attest:problem:protocol-version-mismatch",
      status: 401,
      code: "KBS_PROTOCOL_VERSION_MISMATCH",
    });
    expect(String(p.detail)).toMatch(/Version Mismatch/);
  });

  // Trustee: semver VersionReq "=0.4.0", which ignores build metadata and refuses a pre-release.
  it("takes 0.4.0 with build metadata, refuses a 0.4.0 pre-release", async () => {
    const auth = (version: string) =>
      fetch(`${broker.url}/kbs/v0/auth`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ version, tee: "tdx", "extra-params": "" }),
      });
    expect((await auth("0.4.0+build.7")).status).toBe(200);
    expect((await auth("0.4.0-rc1")).status).toBe(401);
    expect((await auth("0.4.0+")).status).toBe(401);
  });

  it("refuses a tee-pubkey holding a lone UTF-16 surrogate with 400, not 500 (JCS_LONE_SURROGATE)", async () => {
    const client = new KbsClient({ url: broker.url });
    const { nonce } = await client.auth();
    const key = generateTeeKeyPair();
    // JSON.parse accepts "\ud800"; RFC 8785 cannot canonicalize it, so REPORTDATA cannot be computed.
    const jwk = { ...key.publicJwk, kid: "\ud800" };
    const e = await rejectionOf(
      client.attestRaw(attestationMessage(nonce, jwk, fakeQuoteBytes({ reportData: "00".repeat(64) }))),
    );
    expect(e.code).toBe("JCS_LONE_SURROGATE");
    expect(e.data?.status).toBe(400);
  });

  it("refuses a wrong nonce", async () => {
    const client = new KbsClient({ url: broker.url });
    await client.auth();
    const key = generateTeeKeyPair();
    const other = Buffer.alloc(32, 9).toString("base64");
    const rd = expectedReportData(other, key.publicJwk, "");
    const e = await rejectionOf(
      client.attestRaw(
        attestationMessage(
          other,
          key.publicJwk,
          fakeQuoteBytes({ reportData: Buffer.from(rd).toString("hex") }),
        ),
      ),
    );
    expect(e.code).toBe("KBS_NONCE_MISMATCH");
    expect(e.data?.status).toBe(401);
  });

  it("answers a second /attest on an attested session with that session's token, as Trustee does", async () => {
    const client = new KbsClient({ url: broker.url });
    const { nonce } = await client.auth();
    const key = generateTeeKeyPair();
    const msg = attestationMessage(
      nonce,
      key.publicJwk,
      fakeQuoteBytes({
        reportData: Buffer.from(expectedReportData(nonce, key.publicJwk, "", "sha384")).toString("hex"),
      }),
    );
    const first = await client.attestRaw(msg);
    const second = await client.attestRaw(msg);
    const a = decodeJwt(first);
    const b = decodeJwt(second);
    expect(b.jti).toBe(a.jti);
    expect(b.exp).toBe(a.exp);
    expect(b).toEqual(a);
    // Even a body that would not verify gets the session's token: the session is attested.
    expect(decodeJwt(await client.attestRaw({})).jti).toBe(a.jti);
  });

  it("refuses a second try after a refusal: the challenge is used up, and the retries are counted, not logged", async () => {
    const client = new KbsClient({ url: broker.url });
    const { nonce } = await client.auth();
    const key = generateTeeKeyPair();
    const other = Buffer.alloc(32, 8).toString("base64");
    const wrong = attestationMessage(
      other,
      key.publicJwk,
      fakeQuoteBytes({
        reportData: Buffer.from(expectedReportData(other, key.publicJwk, "")).toString("hex"),
      }),
    );
    expect((await rejectionOf(client.attestRaw(wrong))).code).toBe("KBS_NONCE_MISMATCH");
    const right = attestationMessage(
      nonce,
      key.publicJwk,
      fakeQuoteBytes({
        reportData: Buffer.from(expectedReportData(nonce, key.publicJwk, "")).toString("hex"),
      }),
    );
    const rowsBefore = (await broker.store.listAudit({ limit: 10_000 })).length;
    for (let i = 0; i < 9; i++)
      expect((await rejectionOf(client.attestRaw(i % 2 ? right : wrong))).code).toBe("KBS_NONCE_REPLAYED");
    expect((await broker.store.listAudit({ limit: 10_000 })).length).toBe(rowsBefore);
    const sid = /kbs-session-id=([^;]+)/.exec(client.cookie ?? "")![1]!;
    expect((await broker.store.getSession(sid))!.refusals).toBe(9);
    // The tenth /attest of the session within the minute is over the per-session limit.
    const limited = await rejectionOf(client.attestRaw(right));
    expect(limited.code).toBe("KBS_RATE_LIMITED");
    expect(limited.data?.status).toBe(429);
  });

  it("refuses an expired session", async () => {
    const client = new KbsClient({ url: broker.url });
    const { nonce } = await client.auth();
    now = new Date(now.getTime() + 301_000);
    try {
      const key = generateTeeKeyPair();
      const rd = expectedReportData(nonce, key.publicJwk, "");
      const e = await rejectionOf(
        client.attestRaw(
          attestationMessage(
            nonce,
            key.publicJwk,
            fakeQuoteBytes({ reportData: Buffer.from(rd).toString("hex") }),
          ),
        ),
      );
      expect(e.code).toBe("KBS_SESSION_EXPIRED");
    } finally {
      now = new Date(now.getTime() - 301_000);
    }
  });

  it("refuses a quote that does not verify", async () => {
    const e = await rejectionOf(
      new KbsClient({ url: broker.url }).getResource("default/disk/key", fakeQuoteSource({ genuine: false })),
    );
    expect(e.code).toBe("KBS_EVIDENCE_REJECTED");
    expect(e.message).toMatch(/QUOTE_SIGNATURE_INVALID/);
  });

  it("refuses REPORTDATA not bound to the tee-pubkey", async () => {
    const e = await rejectionOf(
      new KbsClient({ url: broker.url }).getResource(
        "default/disk/key",
        fakeQuoteSource({}, (rd) => {
          const x = Uint8Array.from(rd);
          x[0]! ^= 1;
          return x;
        }),
      ),
    );
    expect(e.code).toBe("KBS_REPORTDATA_MISMATCH");
    expect(e.data?.expected).toMatch(/^[0-9a-f]{128}$/);
  });

  it("refuses a debug TD under the default attestation policy, naming the rule", async () => {
    const e = await rejectionOf(
      new KbsClient({ url: broker.url }).getResource("default/disk/key", fakeQuoteSource({ debug: true })),
    );
    expect(e.code).toBe("KBS_ATTESTATION_POLICY_DENIED");
    expect(e.data?.status).toBe(403);
    const denials = e.data?.denials as { rule: string; expected: unknown; actual: unknown }[];
    expect(denials.length).toBeGreaterThan(0);
    expect(JSON.stringify(denials)).toMatch(/DEBUG|debug/);
  });

  it("explains a resource policy denial: rule, expected, actual", async () => {
    const e = await rejectionOf(
      new KbsClient({ url: broker.url }).getResource("default/disk/pinned", fakeQuoteSource()),
    );
    expect(e.code).toBe("KBS_RESOURCE_POLICY_DENIED");
    // 403 as Trustee's PolicyDeny (kbs/src/error.rs): guest-components gives up at once instead of
    // running the whole handshake again, as it does on 401.
    expect(e.data?.status).toBe(403);
    expect(e.data?.denials).toEqual([
      expect.objectContaining({ rule: "golden-mrtd", expected: ["22".repeat(48)], actual: "11".repeat(48) }),
    ]);
    expect(e.message).toMatch(/rule golden-mrtd/);
  });

  it("answers 404 for an unknown resource", async () => {
    const e = await rejectionOf(
      new KbsClient({ url: broker.url }).getResource("default/disk/nope", fakeQuoteSource()),
    );
    expect(e.code).toBe("KBS_RESOURCE_NOT_FOUND");
    expect(e.data?.status).toBe(404);
  });

  it("refuses a resource request without attestation", async () => {
    const client = new KbsClient({ url: broker.url });
    expect((await rejectionOf(client.resourceRaw("default/disk/key"))).code).toBe("KBS_SESSION_MISSING");
    await client.auth();
    expect((await rejectionOf(client.resourceRaw("default/disk/key"))).code).toBe("KBS_NOT_ATTESTED");
  });

  it("accepts its token as a bearer credential (passport mode) and refuses a forged one", async () => {
    const { token } = await new KbsClient({ url: broker.url }).getResource(
      "default/disk/key",
      fakeQuoteSource(),
    );
    const fresh = new KbsClient({ url: broker.url });
    const jwe = await fresh.resourceRaw("default/disk/key", token);
    expect(jwe).toHaveProperty("ciphertext");
    const [h, , s] = token.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), tdx_mrtd: "00" })).toString("base64url")}.${s}`;
    expect((await rejectionOf(fresh.resourceRaw("default/disk/key", forged))).code).toBe("KBS_TOKEN_INVALID");
  });

  // Trustee's get_attestation_token: the session cookie's token when that session is attested, else the bearer.
  it("takes an attested session before a bearer token, and a bearer when the session cannot serve", async () => {
    const attested = new KbsClient({ url: broker.url });
    const { token } = await attested.getResource("default/disk/key", fakeQuoteSource());
    const [h, , s] = token.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), tdx_mrtd: "00" })).toString("base64url")}.${s}`;
    expect(await attested.resourceRaw("default/disk/key", forged)).toHaveProperty("ciphertext");
    const pending = new KbsClient({ url: broker.url });
    await pending.auth();
    expect(await pending.resourceRaw("default/disk/key", token)).toHaveProperty("ciphertext");
    expect((await rejectionOf(pending.resourceRaw("default/disk/key", forged))).code).toBe(
      "KBS_TOKEN_INVALID",
    );
    expect((await rejectionOf(pending.resourceRaw("default/disk/key"))).code).toBe("KBS_NOT_ATTESTED");
  });

  it("keeps the admin API closed without credentials", async () => {
    const anon = await fetch(`${broker.url}/kbs/v0/resource/default/disk/key`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array([1]),
    });
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as Record<string, unknown>).code).toBe("KBS_ADMIN_UNAUTHENTICATED");
    expect(
      (await admin(broker.url, "GET", "/kbs/v0/admin/audit", undefined, "wrong-token-wrong-token")).status,
    ).toBe(401);
    expect((await admin(broker.url, "GET", "/kbs/v0/admin/resources")).status).toBe(200);
  });

  it("accepts a short-lived JWT signed by the admin key", async () => {
    const jwt = await signAdminJwt(
      adminKey.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      now,
    );
    const res = await admin(broker.url, "GET", "/kbs/v0/admin/policies", undefined, jwt);
    expect(res.status).toBe(200);
    const other = newKeyPair({ type: "ec", namedCurve: "P-256" });
    const bad = await signAdminJwt(other.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), now);
    expect((await admin(broker.url, "GET", "/kbs/v0/admin/policies", undefined, bad)).status).toBe(401);
    // Trustee's kbs-client style: EdDSA over {iat, exp}, no audience; another audience is refused.
    const { SignJWT } = await import("jose");
    const iat = Math.floor(now.getTime() / 1000);
    const plain = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256" })
      .setIssuedAt(iat)
      .setExpirationTime(iat + 300)
      .sign(adminKey.privateKey);
    expect((await admin(broker.url, "GET", "/kbs/v0/admin/policies", undefined, plain)).status).toBe(200);
    const elsewhere = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256" })
      .setAudience("another-service")
      .setIssuedAt(iat)
      .setExpirationTime(iat + 300)
      .sign(adminKey.privateKey);
    expect((await admin(broker.url, "GET", "/kbs/v0/admin/policies", undefined, elsewhere)).status).toBe(401);
    const longLived = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256" })
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(adminKey.privateKey);
    expect((await admin(broker.url, "GET", "/kbs/v0/admin/policies", undefined, longLived)).status).toBe(401);
  });

  it("records releases and refusals in the audit log", async () => {
    const res = await admin(broker.url, "GET", "/kbs/v0/admin/audit?limit=1000");
    const { entries } = (await res.json()) as {
      entries: {
        event: string;
        verdict: string;
        reason: string | null;
        resource: string | null;
        evidenceSha256: string | null;
      }[];
    };
    expect(
      entries.some(
        (e) => e.event === "release" && e.verdict === "allowed" && e.resource === "default/disk/key",
      ),
    ).toBe(true);
    expect(
      entries.some(
        (e) => e.event === "release" && e.verdict === "denied" && /golden-mrtd/.test(e.reason ?? ""),
      ),
    ).toBe(true);
    expect(
      entries.some(
        (e) => e.event === "attest" && e.verdict === "denied" && /KBS_NONCE_MISMATCH/.test(e.reason ?? ""),
      ),
    ).toBe(true);
    expect(
      entries.filter((e) => e.event === "attest").every((e) => /^[0-9a-f]{64}$/.test(e.evidenceSha256 ?? "")),
    ).toBe(true);
    // A release names the evidence of the attestation its token came from.
    const released = entries.filter((e) => e.event === "release" && e.verdict === "allowed");
    expect(released.length).toBeGreaterThan(0);
    expect(released.every((e) => /^[0-9a-f]{64}$/.test(e.evidenceSha256 ?? ""))).toBe(true);
  });

  it("refuses a malformed audit query with 400", async () => {
    const res = await admin(broker.url, "GET", "/kbs/v0/admin/audit?limit=ten");
    expect(res.status).toBe(400);
    expect(((await res.json()) as Record<string, unknown>).field).toBe("limit");
  });

  it("serves /healthz and /metrics with attestation counters", async () => {
    expect(await (await fetch(`${broker.url}/healthz`)).json()).toEqual({ status: "ok", db: "sqlite" });
    const text = await (await fetch(`${broker.url}/metrics`)).text();
    expect(text).toMatch(/kbs_attestations_total\{result="allowed"\} [1-9]/);
    expect(text).toMatch(/kbs_verdicts_total\{verdict="denied",code="KBS_NONCE_REPLAYED"\} 9/);
    expect(text).toMatch(/kbs_collateral_cache_hits/);
  });

  it("propagates a request id", async () => {
    const res = await fetch(`${broker.url}/kbs/v0/nothing`, { headers: { "x-request-id": "abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123");
    expect(((await res.json()) as Record<string, unknown>).instance).toBe("urn:request:abc-123");
  });

  it("refuses admin writes that would break the store's rules", async () => {
    expect(
      (
        await admin(
          broker.url,
          "PUT",
          "/kbs/v0/admin/policy/resource/bad",
          JSON.stringify({ rules: [{ claim: "nope", equals: 1 }] }),
        )
      ).status,
    ).toBe(400);
    expect((await admin(broker.url, "DELETE", "/kbs/v0/admin/policy/resource/pinned")).status).toBe(409);
    expect(
      (await admin(broker.url, "PUT", "/kbs/v0/resource/a/b/c?policy=missing", new Uint8Array([1]))).status,
    ).toBe(404);
    expect((await admin(broker.url, "PUT", "/kbs/v0/resource/a/b/c", "{}")).status).toBe(400);
    expect(ADMIN_TOKEN.length).toBeGreaterThan(16);
  });

  it("refuses an attestation policy with an unknown rule with 400, as documented (it was 500)", async () => {
    const res = await admin(
      broker.url,
      "PUT",
      "/kbs/v0/admin/policy/attestation/typo",
      JSON.stringify({ mrtd: ["00".repeat(48)] }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ code: "POLICY_UNKNOWN_FIELD", field: "$.mrtd", status: 400 });
  });
});

describe("rate limit on /attest per client address", () => {
  it("answers 429 with Retry-After past the limit, before any work", async () => {
    const verifier = new FakeVerifier();
    const broker = await startTestBroker({
      verifier,
      authRateLimit: { max: 1000, windowSeconds: 60 },
      attestRateLimit: { max: 3, windowSeconds: 60 },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const client = new KbsClient({ url: broker.url });
        await client.auth();
        const r = await fetch(`${broker.url}/kbs/v0/attest`, {
          method: "POST",
          headers: { "content-type": "application/json", cookie: client.cookie! },
          body: "{}",
        });
        statuses.push(r.status);
      }
      expect(statuses).toEqual([400, 400, 400, 429, 429]);
      expect(verifier.calls).toBe(0);
    } finally {
      await broker.close();
    }
  });
});

describe("rate limit on /auth", () => {
  it("answers 429 with Retry-After past the limit", async () => {
    const broker = await startTestBroker({
      verifier: new FakeVerifier(),
      authRateLimit: { max: 3, windowSeconds: 60 },
    });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`${broker.url}/kbs/v0/auth`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ version: "0.4.0", tee: "tdx", "extra-params": "" }),
        });
        statuses.push(r.status);
        if (r.status === 429) retryAfter = r.headers.get("retry-after");
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    } finally {
      await broker.close();
    }
  });

  // The limit is counted by the session's insert; a request refused before it (a bad body) counts all the same.
  it("counts requests it refuses before storing a session, and stores none past the limit", async () => {
    const broker = await startTestBroker({
      verifier: new FakeVerifier(),
      authRateLimit: { max: 3, windowSeconds: 60 },
    });
    try {
      const statuses: number[] = [];
      const cookies: (string | null)[] = [];
      for (const body of [
        { version: "0.0.1", tee: "tdx", "extra-params": "" },
        { version: "0.4.0", tee: "no-such-tee", "extra-params": "" },
        { version: "0.4.0", tee: "tdx", "extra-params": "" },
        { version: "0.4.0", tee: "tdx", "extra-params": "" },
        { version: "0.0.1", tee: "tdx", "extra-params": "" },
      ]) {
        const r = await fetch(`${broker.url}/kbs/v0/auth`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        statuses.push(r.status);
        cookies.push(r.headers.get("set-cookie"));
      }
      expect(statuses).toEqual([401, 400, 200, 429, 429]);
      // Only the one within the limit got a session.
      expect(cookies.map((c) => c !== null)).toEqual([false, false, true, false, false]);
    } finally {
      await broker.close();
    }
  });
});

describe("rate limit on /attest without a session", () => {
  it("counts a request that names no session before refusing it", async () => {
    const broker = await startTestBroker({
      verifier: new FakeVerifier(),
      attestRateLimit: { max: 2, windowSeconds: 60 },
    });
    try {
      const codes: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${broker.url}/kbs/v0/attest`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        codes.push(((await r.json()) as { code: string }).code);
      }
      expect(codes).toEqual(["KBS_SESSION_MISSING", "KBS_SESSION_MISSING", "KBS_RATE_LIMITED"]);
    } finally {
      await broker.close();
    }
  });
});
