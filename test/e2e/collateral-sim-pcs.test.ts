import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CollateralService } from "../../src/collateral/index.js";
import { appraise, readPolicy } from "../../src/policy/index.js";
import { buildPcsServer } from "../../src/server/pcs.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { verifyQuote } from "../../src/verify/index.js";

// A simulated TDX platform behind the simulated PCS server (Fastify, Intel PCS v4 paths and headers):
// the collateral client fetches over HTTP what the quote needs, the verifier judges it with the sim root.
describe("collateral service against the simulated PCS", () => {
  let platform: SimPlatform;
  let server: FastifyInstance;
  let url: string;
  const now = new Date();

  beforeAll(async () => {
    platform = await createSimPlatform();
    server = buildPcsServer({ platform, now: () => now });
    await server.listen({ host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await server.close();
  });

  it("fetches collateral that verifies the platform's quote under the sim root, and the policy allows it", async () => {
    const quote = platform.quote(new Uint8Array(64).fill(7));
    // Intel's root is the default anchor of the fetcher too: without the sim root nothing is fetched.
    const intelOnly = new CollateralService({ urls: [url] });
    await expect(intelOnly.fetchForQuote(quote, { now })).rejects.toMatchObject({
      code: "QUOTE_PCK_CHAIN_UNTRUSTED",
    });
    const service = new CollateralService({ urls: [url], trustAnchors: [platform.rootCaPem] });
    const fetched = await service.fetchForQuote(quote, { now });
    expect(fetched.platform.tee).toBe("tdx");
    const result = verifyQuote(quote, fetched.collateral, { now, trustAnchors: [platform.rootCaPem] });
    expect(result.error).toBeNull();
    expect(result.ok).toBe(true);
    expect(result.tcbStatus).toBe("UpToDate");
    expect(appraise(result).allowed).toBe(true);
    const pinned = appraise(result, readPolicy(JSON.stringify({ reportData: ["07".repeat(64)] })));
    expect(pinned.allowed).toBe(true);
    // Intel's root is the default anchor: the simulated chain is refused.
    const untrusted = verifyQuote(quote, fetched.collateral, { now });
    expect(untrusted.ok).toBe(false);
    expect(appraise(untrusted).denials.map((d) => d.rule)).toContain("verified");
    // A second call is served from the cache.
    await service.forQuote(quote, { now });
    expect(service.stats().hits).toBe(4);
  });
});
