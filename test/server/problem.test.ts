import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpStatusOf } from "../../src/error-registry.js";
import { TdxError } from "../../src/errors.js";
import { KbsClient } from "../../src/kbs/client.js";
import { problemOf, statusOf } from "../../src/server/problem.js";
import { rejectionOf } from "../helpers/errors.js";

describe("problem+json from a TdxError", () => {
  it("keeps the error's shape: code, detail, field, offset, hint and data", () => {
    const e = new TdxError("KBS_EVIDENCE_REJECTED", "the quote could not be verified: QUOTE_TRUNCATED: cut", {
      field: "body",
      offset: 48,
      hint: "send the whole quote",
      data: { problems: [{ code: "QUOTE_TRUNCATED" }] },
    });
    const { status, body } = problemOf(e, "req-1");
    expect(status).toBe(401);
    expect(body).toMatchObject({
      type: "urn:tdx-attest:problem:evidence-rejected",
      status: 401,
      code: "KBS_EVIDENCE_REJECTED",
      detail: e.message,
      field: "body",
      offset: 48,
      hint: "send the whole quote",
      problems: [{ code: "QUOTE_TRUNCATED" }],
      instance: "urn:request:req-1",
    });
  });

  it("answers with the registry's status; a code without one is the broker's own failure (500)", () => {
    for (const code of [
      "KBS_RATE_LIMITED",
      "KBS_POLICY_IN_USE",
      "POLICY_UNKNOWN_FIELD",
      "KBS_DB_UNAVAILABLE",
    ] as const)
      expect(problemOf(new TdxError(code, "x"), "r").status).toBe(httpStatusOf(code));
    expect(problemOf(new TdxError("KBS_SEALED_DATA_CORRUPT", "x"), "r").status).toBe(500);
    expect(statusOf("NOT_A_CODE")).toBe(500);
    const internal = problemOf(new Error("boom"), "r");
    expect(internal).toMatchObject({ status: 500, body: { code: "KBS_INTERNAL" } });
    expect(JSON.stringify(internal.body)).not.toContain("boom");
  });
});

describe("the key broker client reads a problem back into the same TdxError", () => {
  let server: Server;
  let url = "";
  let answer: { status: number; body: string } = { status: 500, body: "" };
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(answer.status, { "content-type": "application/problem+json" }).end(answer.body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("a code of this version keeps its field and offset as the error's own", async () => {
    answer = {
      status: 401,
      body: JSON.stringify({
        code: "KBS_EVIDENCE_REJECTED",
        detail: "the quote could not be verified",
        field: "header.version",
        offset: 0,
        hint: "send a TD quote",
        problems: [{ code: "QUOTE_UNSUPPORTED_VERSION" }],
      }),
    };
    const e = await rejectionOf(new KbsClient({ url }).auth());
    expect(e.code).toBe("KBS_EVIDENCE_REJECTED");
    expect([e.field, e.offset, e.hint]).toEqual(["header.version", 0, "send a TD quote"]);
    expect(e.data).toMatchObject({ status: 401, problems: [{ code: "QUOTE_UNSUPPORTED_VERSION" }] });
  });

  it("a code this version does not know (another broker) is KBS_HTTP_ERROR with the broker's code in data", async () => {
    answer = {
      status: 401,
      body: JSON.stringify({
        type: "https://github.com/confidential-containers/kbs/errors/PolicyDeny",
        code: "PolicyDeny",
        detail: "denied",
      }),
    };
    const e = await rejectionOf(new KbsClient({ url }).auth());
    expect(e.code).toBe("KBS_HTTP_ERROR");
    expect(e.data).toMatchObject({ status: 401, code: "PolicyDeny" });
    answer = { status: 502, body: "Bad Gateway" };
    const bare = await rejectionOf(new KbsClient({ url }).auth());
    expect(bare.code).toBe("KBS_HTTP_ERROR");
    expect(bare.data).toMatchObject({ status: 502 });
  });
});
