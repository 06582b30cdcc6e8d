import { createDecipheriv, createHash, createPublicKey, diffieHellman } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newKeyPair } from "../../src/crypto/keygen.js";
import { expectedReportData } from "../../src/kbs/binding.js";
import { attestationMessage, generateTeeKeyPair, KbsClient } from "../../src/kbs/client.js";
import { concatKdf256 } from "../../src/kbs/jwe.js";
import { AdminAuth } from "../../src/server/admin-auth.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { aaelLog, aaHeader } from "../eventlog/aael.js";
import { rejectionOf } from "../helpers/errors.js";
import { SIM_ADMIN, simSource, startSimBroker } from "./sim-broker.js";

const b64u = (s: string) => Buffer.from(s, "base64url");
const adminFetch = (url: string, method: string, path: string, body?: unknown, token = SIM_ADMIN) =>
  fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

/** guest-components' AAD: the protected header re-serialised by serde_json with sorted maps. */
function sortedAad(protectedB64: string): Buffer {
  const sort = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([k, x]) => [k, sort(x)]),
        )
      : v;
  const { alg, enc, ...rest } = JSON.parse(b64u(protectedB64).toString()) as Record<string, unknown>;
  return Buffer.from(
    Buffer.from(JSON.stringify({ alg, enc, ...(sort(rest) as object) })).toString("base64url"),
  );
}

const ALLOW_ALL = "package policy\n\ndefault allow = true\n";
const DENY_ALL = "# KBS Resource Policy\n# comments...\n\npackage policy\n\ndefault allow = false\n";
const AFFIRMING =
  'package policy\nimport rego.v1\n\ndefault allow = false\n\nallow if {\n    not any_not_affirming\n    count(input.submods) > 0\n\n}\n\nany_not_affirming if {\n    some _, submod in input.submods\n    submod["ear.status"] != "affirming"\n}\n';

describe.each(["sqlite", "postgres"] as const)(
  "what Trustee's own clients send, over HTTP (%s)",
  (backend) => {
    let platform: SimPlatform;
    let aaPlatform: SimPlatform;
    let aaLog: Buffer;
    let broker: Awaited<ReturnType<typeof startSimBroker>>;

    beforeAll(async () => {
      platform = await createSimPlatform();
      // A TD without a firmware CCEL whose attestation agent measured two events into RTMR3.
      aaPlatform = await createSimPlatform();
      const { log, digests } = aaelLog([
        `INIT/sha384 ${"00".repeat(48)}`,
        'github.com/confidential-containers PullImage {"digest":"sha256:00","image":"busybox"}',
      ]);
      for (const d of digests) aaPlatform.extendRtmr(3, d);
      aaLog = log;
      broker = await startSimBroker(backend, [platform, aaPlatform]);
      await broker.service.putResource("default/disk/key", new TextEncoder().encode("the disk key"));
    });
    afterAll(async () => broker?.close());

    it("sends a JWE both builds of the Rust client decrypt: header members in sorted order", async () => {
      const key = generateTeeKeyPair("ec");
      const client = new KbsClient({ url: broker.url });
      const { nonce } = await client.auth();
      await client.attestRaw(
        attestationMessage(
          nonce,
          key.publicJwk,
          platform.quote(expectedReportData(nonce, key.publicJwk, "")),
        ),
      );
      const jwe = (await client.resourceRaw("default/disk/key")) as Record<string, string>;
      expect(sortedAad(jwe.protected!).toString()).toBe(jwe.protected);
      const header = JSON.parse(b64u(jwe.protected!).toString()) as { epk: Record<string, string> };
      const z = diffieHellman({
        privateKey: key.privateKey,
        publicKey: createPublicKey({ key: header.epk, format: "jwk" }),
      });
      const unwrap = createDecipheriv(
        "id-aes256-wrap",
        concatKdf256(z, "ECDH-ES+A256KW"),
        Buffer.alloc(8, 0xa6),
      );
      const cek = Buffer.concat([unwrap.update(b64u(jwe.encrypted_key!)), unwrap.final()]);
      const d = createDecipheriv("aes-256-gcm", cek, b64u(jwe.iv!));
      d.setAAD(sortedAad(jwe.protected!));
      d.setAuthTag(b64u(jwe.tag!));
      expect(Buffer.concat([d.update(b64u(jwe.ciphertext!)), d.final()]).toString()).toBe("the disk key");
    });

    it("accepts the attestation agent's own event log (69-byte header, AAEL events, FF×8) and replays it", async () => {
      expect(aaHeader().length).toBe(69);
      const { token } = await new KbsClient({ url: broker.url }).getResource("default/disk/key", {
        getQuote: async (rd) => ({ quote: aaPlatform.quote(rd), ccEventlog: aaLog }),
      });
      const claims = JSON.parse(b64u(token.split(".")[1]!).toString()) as {
        submods: { cpu0: Record<string, { tdx: { event_log: unknown } }> };
      };
      expect(claims.submods.cpu0["ear.veraison.annotated-evidence"]!.tdx.event_log).toMatchObject({
        replayed: true,
        matches: true,
        events: 2,
      });
    });

    it("names the evidence by the quote it verified: trailing bytes do not change evidence_sha256", async () => {
      const padded = {
        getQuote: async (rd: Uint8Array) => {
          const q = platform.quote(rd);
          const out = new Uint8Array(q.length + 70);
          out.set(q);
          out.fill(0x5a, q.length);
          return { quote: out, signed: q };
        },
      };
      let signed: Uint8Array | undefined;
      const { token } = await new KbsClient({ url: broker.url }).getResource("default/disk/key", {
        getQuote: async (rd) => {
          const r = await padded.getQuote(rd);
          signed = r.signed;
          return { quote: r.quote };
        },
      });
      const claims = JSON.parse(b64u(token.split(".")[1]!).toString()) as {
        submods: { cpu0: Record<string, { evidence_sha256: string }> };
      };
      expect(claims.submods.cpu0["ear.veraison.annotated-evidence"]!.evidence_sha256).toBe(
        createHash("sha256").update(signed!).digest("hex"),
      );
    });

    it("answers kbs-client delete-resource with 200", async () => {
      await broker.service.putResource("default/tmp/x", new Uint8Array([1]));
      const res = await adminFetch(broker.url, "DELETE", "/kbs/v0/resource/default/tmp/x");
      expect(res.status).toBe(200);
      expect(await broker.store.getResource("default/tmp/x")).toBeUndefined();
    });

    it("takes set-resource-policy with Trustee's canned policies, reads them back, refuses other Rego with a hint", async () => {
      const set = (rego: string) =>
        adminFetch(broker.url, "POST", "/kbs/v0/resource-policy", {
          policy: Buffer.from(rego).toString("base64url"),
        });
      expect((await set(DENY_ALL)).status).toBe(200);
      const denied = await rejectionOf(
        new KbsClient({ url: broker.url }).getResource("default/disk/key", simSource(platform)),
      );
      expect(denied.code).toBe("KBS_RESOURCE_POLICY_DENIED");
      expect(denied.data?.status).toBe(403);
      expect((await set(AFFIRMING)).status).toBe(200);
      await new KbsClient({ url: broker.url }).getResource("default/disk/key", simSource(platform));
      expect((await set(ALLOW_ALL)).status).toBe(200);
      const got = (await (await adminFetch(broker.url, "GET", "/kbs/v0/resource-policy")).json()) as {
        policy: string;
      };
      expect(JSON.parse(b64u(got.policy).toString())).toMatchObject({ allow: "all" });
      const other = await set("package policy\ndefault allow = false\nallow if { input.x == 1 }\n");
      expect(other.status).toBe(400);
      const p = (await other.json()) as Record<string, string>;
      expect(p.code).toBe("KBS_REGO_UNSUPPORTED");
      expect(p.hint).toMatch(/JSON rules/);
    });

    it("takes set-attestation-policy as JSON, refuses Rego, and answers the reference-value calls with a problem", async () => {
      const json = JSON.stringify({ acceptedTcbStatuses: ["UpToDate", "SWHardeningNeeded"] });
      const ok = await adminFetch(broker.url, "POST", "/kbs/v0/attestation-policy", {
        type: "json",
        policy_id: "relaxed",
        policy: Buffer.from(json).toString("base64url"),
      });
      expect(ok.status).toBe(200);
      expect((await broker.store.getPolicy("attestation", "relaxed"))?.body).toBe(json);
      const rego = await adminFetch(broker.url, "POST", "/kbs/v0/attestation-policy", {
        type: "rego",
        policy_id: "default",
        policy: Buffer.from("package policy\ndefault allow = true\n").toString("base64url"),
      });
      expect(rego.status).toBe(400);
      expect(((await rego.json()) as Record<string, string>).code).toBe("KBS_REGO_UNSUPPORTED");
      for (const [method, path] of [
        ["GET", "/kbs/v0/reference-value"],
        ["GET", "/kbs/v0/reference-value/mr_td"],
        ["POST", "/kbs/v0/reference-value"],
      ] as const) {
        const res = await adminFetch(
          broker.url,
          method,
          path,
          method === "POST" ? { version: "0.1.0" } : undefined,
        );
        expect(res.status, path).toBe(501);
        const p = (await res.json()) as Record<string, string>;
        expect(p.code).toBe("KBS_REFERENCE_VALUES_UNSUPPORTED");
        expect(p.hint).toMatch(/attestation policy/);
      }
      expect((await fetch(`${broker.url}/kbs/v0/reference-value`)).status).toBe(401);
    });
  },
);

describe("admin JWTs the way Trustee's kbs-client signs them (Ed25519, 2 hours)", () => {
  it("are refused under the default 10-minute cap and accepted when the cap is raised", async () => {
    const { privateKey, publicKey } = newKeyPair({ type: "ed25519" });
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "EdDSA" })
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 7200)
      .sign(privateKey);
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    for (const [cap, status] of [
      [undefined, 401],
      [7200, 200],
    ] as const) {
      const platform = await createSimPlatform();
      const broker = await startSimBroker("sqlite", [platform], {
        app: {
          adminAuth: new AdminAuth({ publicKeys: [pem], ...(cap ? { maxJwtLifetimeSeconds: cap } : {}) }),
        },
      });
      try {
        const res = await adminFetch(broker.url, "GET", "/kbs/v0/admin/resources", undefined, jwt);
        expect(res.status, `cap ${cap}`).toBe(status);
      } finally {
        await broker.close();
      }
    }
  });
});
