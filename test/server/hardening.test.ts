import { connect } from "node:net";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedReportData } from "../../src/kbs/binding.js";
import { attestationMessage, generateTeeKeyPair, KbsClient } from "../../src/kbs/client.js";
import { registerExplorerRoutes } from "../../src/server/explorer/index.js";
import { buildPcsServer } from "../../src/server/pcs.js";
import { createSimPlatform } from "../../src/sim/index.js";
import { startTestPostgres, type TestPostgres } from "../kbs/postgres.js";
import { ADMIN_TOKEN, admin, startTestBroker } from "./broker.js";
import { FakeVerifier, fakeQuoteBytes } from "./fake-evidence.js";

/** Send a request whose body trickles in one byte a second; resolve with the status line and the time to it. */
function slowRequest(port: number, path: string): Promise<{ statusLine: string; ms: number; body: string }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = connect(port, "127.0.0.1");
    let got = "";
    s.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
    );
    const drip = setInterval(() => s.writable && s.write(" "), 1000);
    s.on("data", (d) => {
      got += d.toString();
    });
    s.on("close", () => {
      clearInterval(drip);
      resolve({
        statusLine: got.split("\r\n")[0] ?? "",
        ms: Date.now() - t0,
        body: got.split("\r\n\r\n")[1] ?? "",
      });
    });
    s.on("error", () => {});
  });
}

describe.each(["sqlite", "postgres"])("broker hardening over HTTP (%s)", (backend) => {
  const verifier = new FakeVerifier();
  let pg: TestPostgres | undefined;
  let broker: Awaited<ReturnType<typeof startTestBroker>>;

  beforeAll(async () => {
    if (backend === "postgres") pg = await startTestPostgres();
    broker = await startTestBroker({
      verifier,
      ...(pg ? { dbUrl: pg.url } : {}),
      authRateLimit: { max: 1000, windowSeconds: 60 },
      timeouts: { requestSeconds: 2, headersSeconds: 1 },
    });
  });
  afterAll(async () => {
    await broker?.close();
    await pg?.stop();
  });

  it("answers a kbs-session-id with bad %-encoding with a 400 problem document, not 500", async () => {
    for (const path of ["/kbs/v0/attest", "/kbs/v0/resource/default/disk/key"]) {
      const res = await fetch(`${broker.url}${path}`, {
        method: path.endsWith("attest") ? "POST" : "GET",
        headers: { cookie: "kbs-session-id=%E0%A4%A", "content-type": "application/json" },
        ...(path.endsWith("attest") ? { body: "{}" } : {}),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/problem\+json/);
      expect(((await res.json()) as Record<string, unknown>).code).toBe("KBS_COOKIE_INVALID");
    }
  });

  it("refuses a tee-pubkey nested thousands deep before any verification", async () => {
    const client = new KbsClient({ url: broker.url });
    const { nonce } = await client.auth();
    const key = generateTeeKeyPair();
    const msg = attestationMessage(
      nonce,
      { ...key.publicJwk, ext: "DEEP" },
      fakeQuoteBytes({
        reportData: Buffer.from(expectedReportData(nonce, key.publicJwk, "")).toString("hex"),
      }),
    );
    // Built as text: the nesting would overflow JSON.stringify in this test too.
    const body = JSON.stringify(msg).replace('"DEEP"', `${'{"a":'.repeat(5000)}"x"${"}".repeat(5000)}`);
    const calls = verifier.calls;
    const res = await fetch(`${broker.url}/kbs/v0/attest`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: client.cookie! },
      body,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Record<string, unknown>).code).toBe("KBS_REQUEST_TOO_DEEP");
    expect(verifier.calls).toBe(calls);
  });

  it("has one limit for resource path segments: 128 characters pass to the resource rule, longer is a 400 problem", async () => {
    const t = await (async () => {
      const client = new KbsClient({ url: broker.url });
      return client;
    })();
    for (const n of [101, 128]) {
      const res = await admin(
        broker.url,
        "PUT",
        `/kbs/v0/resource/default/disk/${"k".repeat(n)}`,
        new Uint8Array([1]),
      );
      expect(res.status, `segment of ${n}`).toBe(200);
    }
    const res = await fetch(`${broker.url}/kbs/v0/resource/default/disk/${"k".repeat(129)}`);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/problem\+json/);
    expect(((await res.json()) as Record<string, unknown>).code).toBe("KBS_RESOURCE_PATH_INVALID");
    expect(t).toBeDefined();
  });

  it("closes a request whose body trickles in, within seconds, with a 408 problem document", async () => {
    const port = Number(new URL(broker.url).port);
    const r = await slowRequest(port, "/kbs/v0/auth");
    expect(r.statusLine).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(r.body)).toMatchObject({ code: "KBS_REQUEST_TIMEOUT", status: 408 });
    expect(r.ms).toBeLessThan(6000);
  });

  it("keeps admin calls working with the token", async () => {
    expect((await admin(broker.url, "GET", "/kbs/v0/admin/resources", undefined, ADMIN_TOKEN)).status).toBe(
      200,
    );
  });
});

describe("the other listeners have deadlines and nesting limits too", () => {
  it("the PCS stand-in closes a trickling request within seconds", async () => {
    const platform = await createSimPlatform();
    const pcs = buildPcsServer({ platform, timeouts: { requestSeconds: 1, headersSeconds: 1 } });
    await pcs.listen({ host: "127.0.0.1", port: 0 });
    try {
      const port = (pcs.server.address() as { port: number }).port;
      const r = await slowRequest(port, "/sgx/certification/v4/pckcrl");
      expect(r.statusLine).toMatch(/^HTTP\/1\.1 408/);
      expect(r.ms).toBeLessThan(5000);
    } finally {
      await pcs.close();
    }
  });

  it("the explorer's /api/verify refuses collateral nested 100,000 deep with 400, not 500", async () => {
    const app = Fastify();
    registerExplorerRoutes(app, {});
    await app.ready();
    try {
      const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
      for (const body of [
        `{"quote":"00","collateral":${deep}}`,
        JSON.stringify({ quote: "00", collateral: deep }),
      ]) {
        const res = await app.inject({
          method: "POST",
          url: "/api/verify",
          headers: { "content-type": "application/json" },
          payload: body,
        });
        expect(res.statusCode).toBe(400);
        expect(res.json().error.code).toBe("EXPLORER_REQUEST_TOO_DEEP");
      }
    } finally {
      await app.close();
    }
  });
});
