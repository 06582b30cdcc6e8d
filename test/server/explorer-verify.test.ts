import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { readCollateral } from "../../src/collateral/index.js";
import { TdxError } from "../../src/errors.js";
import type { VerifyResponse } from "../../src/server/explorer/index.js";
import { registerExplorerRoutes } from "../../src/server/explorer/index.js";
import { verifyQuote } from "../../src/verify/index.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function serve(options: Parameters<typeof registerExplorerRoutes>[1] = {}): FastifyInstance {
  app = Fastify();
  registerExplorerRoutes(app, options);
  return app;
}

describe.skipIf(!vectorsDir())(
  vectorsDir()
    ? "POST /api/verify on real quotes"
    : `POST /api/verify on real quotes: ${VECTORS_SKIP_REASON}`,
  () => {
    const cases = loadCases();

    it.each(cases.map((c) => [c.name, c] as const))(
      "%s: the verifier's own result, decoded quote beside it",
      async (_n, c) => {
        const server = serve();
        const res = await server.inject({
          method: "POST",
          url: "/api/verify",
          payload: {
            quote: Buffer.from(c.quote).toString("base64"),
            collateral: c.collateralText,
            at: c.expected.at,
          },
        });
        expect(res.statusCode).toBe(200);
        const body = res.json() as VerifyResponse;
        const direct = verifyQuote(c.quote, readCollateral(c.collateralText), { now: c.expected.at });
        const { quote: _q, ...expected } = direct;
        expect(body.verification).toEqual(JSON.parse(JSON.stringify(expected)));
        expect(body.ok).toBe(direct.ok);
        expect(body.at).toBe(new Date(c.expected.at * 1000).toISOString());
        expect(body.collateralSource).toBe("request");
        expect(body.policy).toBeNull();
        expect(body.decode.summary.version).toBe(c.expected.quote.version);
      },
    );

    it("uses the server's collateral source and clock when the request gives neither", async () => {
      const c = cases.find((x) => x.expected.expect.tcbStatus === "UpToDate")!;
      const asked: number[] = [];
      const server = serve({
        collateralFor: async (quote) => {
          asked.push(quote.header.version);
          return readCollateral(c.collateralText);
        },
        now: () => new Date(c.expected.at * 1000),
      });
      const res = await server.inject({
        method: "POST",
        url: "/api/verify",
        payload: { quote: Buffer.from(c.quote).toString("hex") },
      });
      const body = res.json() as VerifyResponse;
      expect(asked).toEqual([c.expected.quote.version]);
      expect(body.collateralSource).toBe("server");
      expect(body.at).toBe(new Date(c.expected.at * 1000).toISOString());
      expect(body.verification.tcbStatus).toBe(c.expected.expect.tcbStatus);
    });

    it("without collateral and without a source, asks for collateral (and still decodes the quote)", async () => {
      const c = cases[0]!;
      const res = await serve().inject({
        method: "POST",
        url: "/api/verify",
        payload: { quote: Buffer.from(c.quote).toString("hex") },
      });
      expect(res.statusCode).toBe(400);
      const body = res.json();
      expect(body.error.code).toBe("EXPLORER_NO_COLLATERAL");
      expect(body.error.hint).toContain("collateral");
      expect(body.decode.summary.version).toBe(c.expected.quote.version);
    });

    it("a failing collateral source is reported with its reason's code, its details (hosts, URLs) kept in the log", async () => {
      const c = cases[0]!;
      const res = await serve({
        collateralFor: async () => {
          throw new TdxError("PCS_UNREACHABLE", "cannot fetch from http://pccs.internal:8081: ECONNREFUSED");
        },
      }).inject({
        method: "POST",
        url: "/api/verify",
        payload: { quote: Buffer.from(c.quote).toString("hex") },
      });
      expect(res.statusCode).toBe(503); // the server's source failed, not the request
      expect(res.json().error.code).toBe("EXPLORER_COLLATERAL_UNAVAILABLE");
      expect(res.json().error.message).toContain("PCS_UNREACHABLE");
      expect(res.body).not.toContain("pccs.internal");
    });

    it("appraises with the policy given, and refuses a malformed policy, collateral or time", async () => {
      const c = cases.find(
        (x) =>
          x.expected.expect.tcbStatus && x.expected.expect.tcbStatus !== "UpToDate" && x.expected.quote.mrtd,
      )!;
      const server = serve();
      const base = {
        quote: Buffer.from(c.quote).toString("base64"),
        collateral: c.collateralText,
        at: c.expected.at,
      };
      const denied = (
        await server.inject({ method: "POST", url: "/api/verify", payload: { ...base, policy: {} } })
      ).json() as VerifyResponse;
      // The default policy accepts UpToDate only.
      expect(denied.policy?.allowed).toBe(false);
      expect(denied.policy?.denials.map((d) => d.rule)).toContain("acceptedTcbStatuses");
      expect(denied.ok).toBe(false);
      const allowedPolicy = JSON.stringify({
        acceptedTcbStatuses: [c.expected.expect.tcbStatus],
        allowedAdvisoryIds: c.expected.expect.matchedTcbLevel?.advisoryIDs ?? [],
        mrTd: [c.expected.quote.mrtd],
      });
      const allowed = (
        await server.inject({
          method: "POST",
          url: "/api/verify",
          payload: { ...base, policy: allowedPolicy },
        })
      ).json() as VerifyResponse;
      expect(allowed.policy?.denials).toEqual([]);
      expect(allowed.policy?.allowed).toBe(true);
      expect(allowed.ok).toBe(true);
      expect(allowed.policy?.evaluated.find((r) => r.rule === "mrTd")?.passed).toBe(true);

      const badPolicy = await server.inject({
        method: "POST",
        url: "/api/verify",
        payload: { ...base, policy: { allowEverything: true } },
      });
      expect(badPolicy.statusCode).toBe(400);
      expect(badPolicy.json().error.code).toMatch(/^POLICY_/);
      const badCollateral = await server.inject({
        method: "POST",
        url: "/api/verify",
        payload: { ...base, collateral: "{}" },
      });
      expect(badCollateral.statusCode).toBe(400);
      expect(badCollateral.json().error.code).toMatch(/^[A-Z_]+$/);
      expect(badCollateral.json().error.hint).toBeTruthy();
      const badTime = await server.inject({
        method: "POST",
        url: "/api/verify",
        payload: { ...base, at: "yesterday" },
      });
      expect(badTime.json().error.code).toBe("EXPLORER_BAD_TIME");
    });
  },
);
