import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeGetQuoteResponse,
  encodeFrame,
  encodeGetQuoteRequest,
  encodeGetQuoteResponse,
  formatQgsAddress,
  type QgsServer,
  type QgsServerEvent,
  qgsGetQuote,
  qgsGetQuoteBare,
  qgsRoundTrip,
  startQgsServer,
  TDQE_ATTESTATION_KEY_ID,
} from "../../src/qgs/index.js";
import { rejectionOf } from "../helpers/errors.js";
import { fakeBackend, fakeQuoteFor, fakeTdReport, tempDir } from "./helpers.js";

/** Send raw bytes, optionally half-close, and collect whatever comes back until the server closes. */
function rawExchange(
  addr: { port: number } | { path: string },
  bytes: Uint8Array,
  opts: { end?: boolean } = {},
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const s = "path" in addr ? net.connect(addr.path) : net.connect(addr.port, "127.0.0.1");
    const chunks: Buffer[] = [];
    s.on("data", (c) => chunks.push(c));
    s.on("close", () => resolve(new Uint8Array(Buffer.concat(chunks))));
    s.on("error", reject);
    s.write(bytes);
    if (opts.end) s.end();
  });
}

const events: QgsServerEvent[] = [];
let unixServer: QgsServer;
let tcpServer: QgsServer;
let socketPath: string;

beforeAll(async () => {
  socketPath = join(tempDir(), "qgs.socket");
  unixServer = await startQgsServer({
    backend: fakeBackend({ delayMs: 5 }),
    listen: `unix:${socketPath}`,
    onEvent: (e) => events.push(e),
  });
  tcpServer = await startQgsServer({
    backend: fakeBackend(),
    listen: "tcp:127.0.0.1:0",
    maxMessageSize: 4096,
    timeoutMs: 300,
  });
});
afterAll(async () => {
  await unixServer.close();
  await tcpServer.close();
});

function tcpPort(): number {
  if (tcpServer.address.kind !== "tcp") throw new Error("not tcp");
  return tcpServer.address.port;
}

describe("QGS server over real sockets", () => {
  it("answers framed GET_QUOTE_REQ over a unix socket and TCP", async () => {
    const report = fakeTdReport(1);
    const viaUnix = await qgsGetQuote(report, { address: `unix:${socketPath}` });
    expect(viaUnix.quote).toEqual(fakeQuoteFor(report));
    expect(viaUnix.selectedId.length).toBe(0);
    const viaTcp = await qgsGetQuote(report, { address: formatQgsAddress(tcpServer.address) });
    expect(viaTcp.quote).toEqual(fakeQuoteFor(report));
  });

  it("serves many concurrent clients, each getting the quote of its own report", async () => {
    const before = unixServer.stats.quotes;
    const reports = Array.from({ length: 40 }, (_, i) => fakeTdReport(i + 10));
    const results = await Promise.all(reports.map((r) => qgsGetQuote(r, { address: `unix:${socketPath}` })));
    results.forEach((res, i) => {
      expect(res.quote).toEqual(fakeQuoteFor(reports[i]!));
    });
    expect(unixServer.stats.quotes - before).toBe(40);
  });

  // Intel's QGS passes NULL to tee_att_get_quote (the id list is not read) and answers with no selected id
  // (qgs_ql_logic.cpp; QEMU's reader refuses a response that has one).
  it("ignores the attestation key id list and answers without a selected id, as Intel's QGS", async () => {
    const report = fakeTdReport(2);
    for (const idList of [TDQE_ATTESTATION_KEY_ID, new Uint8Array(16).fill(7)]) {
      const ok = await qgsGetQuote(report, { address: `unix:${socketPath}`, idList });
      expect(ok.quote).toEqual(fakeQuoteFor(report));
      expect(ok.selectedId?.length ?? 0).toBe(0);
    }
  });

  it("accepts the bare 1024-byte TDREPORT form and answers with the raw quote", async () => {
    const report = fakeTdReport(4);
    expect(await qgsGetQuoteBare(report, { address: `unix:${socketPath}` })).toEqual(fakeQuoteFor(report));
    // a bare request that is not a TDREPORT gets the connection closed without data
    const bad = fakeTdReport(4);
    bad[0] = 0x00;
    expect((await rejectionOf(qgsGetQuoteBare(bad, { address: `unix:${socketPath}` }))).code).toBe(
      "QGS_CONNECTION_CLOSED",
    );
  });

  it("answers a wrong major version with UNEXPECTED and accepts another minor version", async () => {
    const report = fakeTdReport(5);
    const wrong = encodeGetQuoteRequest(report, { majorVersion: 2 });
    const resp = decodeGetQuoteResponse(await qgsRoundTrip(wrong, { address: `unix:${socketPath}` }));
    // Intel's get_resp answers every request that does not inflate with UNEXPECTED (qgs_ql_logic.cpp).
    expect(resp.errorCode).toBe(0x12001);
    // qgs_msg_lib checks only the major version
    const minor0 = await qgsGetQuote(report, { address: `unix:${socketPath}`, minorVersion: 0 });
    expect(minor0.quote).toEqual(fakeQuoteFor(report));
  });

  it("refuses a non-TDREPORT inside a framed request with UNEXPECTED, as Intel's QGS does", async () => {
    const notReport = new Uint8Array(1024);
    const err = await rejectionOf(qgsGetQuote(notReport, { address: `unix:${socketPath}` }));
    expect(err.code).toBe("QGS_UNEXPECTED");
    expect(err.data?.remote).toBe(true);
  });

  it("maps a backend failure to a QGS UNEXPECTED error response", async () => {
    const failing = await startQgsServer({ backend: fakeBackend({ fail: true }), listen: "tcp:127.0.0.1:0" });
    try {
      const err = await rejectionOf(qgsGetQuote(fakeTdReport(), { address: failing.address }));
      expect(err.code).toBe("QGS_UNEXPECTED");
      expect(err.hint).toMatch(/QGS/);
    } finally {
      await failing.close();
    }
  });

  it("answers an oversized GET_QUOTE_REQ frame with INVALID_SIZE without reading it", async () => {
    const big = encodeGetQuoteRequest(new Uint8Array(8000).fill(1));
    const frame = encodeFrame(big);
    const back = await rawExchange({ port: tcpPort() }, frame.subarray(0, 64));
    const resp = decodeGetQuoteResponse(back.subarray(4));
    expect(resp.errorCode).toBe(0x12006);
  });

  it("closes the connection on garbage, on unsupported message types and on a peer that stops mid-frame", async () => {
    const garbage = new Uint8Array(2000).fill(0xab);
    expect((await rawExchange({ port: tcpPort() }, garbage)).length).toBe(0);
    // a response type sent as a request is not served: closed, as Intel's QGS does
    const quoteResponse = encodeFrame(encodeGetQuoteResponse(new Uint8Array(8).fill(1)));
    expect((await rawExchange({ port: tcpPort() }, quoteResponse)).length).toBe(0);
    const frame = encodeFrame(encodeGetQuoteRequest(fakeTdReport()));
    // half a frame, then the peer half-closes: the server closes without an answer
    expect((await rawExchange({ port: tcpPort() }, frame.subarray(0, 500), { end: true })).length).toBe(0);
    // half a frame and silence: the per-connection deadline closes it
    expect((await rawExchange({ port: tcpPort() }, frame.subarray(0, 500))).length).toBe(0);
    expect(tcpServer.stats.timeouts).toBeGreaterThan(0);
    // and the server still serves
    const ok = await qgsGetQuote(fakeTdReport(6), { address: tcpServer.address });
    expect(ok.quote).toEqual(fakeQuoteFor(fakeTdReport(6)));
  });

  it("survives peers that reset the connection mid-frame while others are served", async () => {
    const frame = encodeFrame(encodeGetQuoteRequest(fakeTdReport(7)));
    const resets = Array.from(
      { length: 20 },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect(socketPath);
          s.on("error", () => resolve());
          s.on("close", () => resolve());
          s.write(frame.subarray(0, 100 + Math.floor(Math.random() * 800)), () => s.destroy());
        }),
    );
    const good = Array.from({ length: 10 }, (_, i) =>
      qgsGetQuote(fakeTdReport(50 + i), { address: `unix:${socketPath}` }),
    );
    await Promise.all(resets);
    const results = await Promise.all(good);
    expect(results.map((r) => r.quote.length)).toEqual(Array(10).fill(1200));
    expect(events.some((e) => e.type === "disconnect")).toBe(true);
  });

  it("client: maps an unreachable server, a silent server and a server that closes early", async () => {
    const missing = await rejectionOf(qgsGetQuote(fakeTdReport(), { address: `unix:${socketPath}.nope` }));
    expect(missing.code).toBe("QGS_UNREACHABLE");
    expect(missing.hint).toMatch(/socket file does not exist/);
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    const t = await rejectionOf(
      qgsGetQuote(fakeTdReport(), { address: `tcp:127.0.0.1:${port}`, timeoutMs: 200 }),
    );
    expect(t.code).toBe("QGS_TIMEOUT");
    silent.close();
    const closer = net.createServer((s) => s.end(Uint8Array.of(0, 0, 0, 40, 1, 2)));
    await new Promise<void>((r) => closer.listen(0, "127.0.0.1", r));
    const p2 = (closer.address() as net.AddressInfo).port;
    const c = await rejectionOf(qgsGetQuote(fakeTdReport(), { address: `tcp:127.0.0.1:${p2}` }));
    expect(c.code).toBe("QGS_CONNECTION_CLOSED");
    closer.close();
  });

  it("refuses to start on a path where a QGS already answers", async () => {
    const err = await rejectionOf(startQgsServer({ backend: fakeBackend(), listen: `unix:${socketPath}` }));
    expect(err.code).toBe("QGS_ADDRESS_IN_USE");
  });
});
