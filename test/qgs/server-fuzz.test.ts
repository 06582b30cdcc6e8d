/** Whatever a peer sends, the server answers or closes, and keeps serving. */
import net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeGetCollateralResponse,
  decodeGetPlatformInfoResponse,
  decodeGetQuoteResponse,
  decodeQgsHeader,
  encodeFrame,
  encodeGetCollateralRequest,
  encodeGetPlatformInfoRequest,
  encodeGetQuoteRequest,
  type QgsServer,
  qgsGetQuote,
  startQgsServer,
} from "../../src/qgs/index.js";
import { fakeBackend, fakeQuoteFor, fakeTdReport } from "./helpers.js";

let server: QgsServer;
let port = 0;
beforeAll(async () => {
  server = await startQgsServer({
    backend: fakeBackend(),
    listen: "tcp:127.0.0.1:0",
    timeoutMs: 150,
    maxMessageSize: 4096,
  });
  if (server.address.kind === "tcp") port = server.address.port;
});
afterAll(() => server.close());

function send(bytes: Uint8Array, halfClose: boolean): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    s.on("data", (c) => chunks.push(c));
    s.on("error", () => {});
    s.on("close", () => resolve(new Uint8Array(Buffer.concat(chunks))));
    s.write(bytes);
    if (halfClose) s.end();
  });
}

const validFrames = [
  encodeFrame(encodeGetQuoteRequest(fakeTdReport(1))),
  encodeFrame(encodeGetCollateralRequest(Uint8Array.of(0x90, 0xc0, 0x6f, 0, 0, 0), "platform")),
  encodeFrame(encodeGetPlatformInfoRequest()),
];

/** One byte of a served request set to any value, the frame cut anywhere after it. */
const mutated = (valid: Uint8Array) =>
  fc
    .tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(valid.length))
    .map(([at, value, cut]) => {
      const b = valid.slice(0, Math.max(cut, at + 1));
      b[at] = value;
      return b;
    });

describe("QGS server under malformed input", () => {
  it("answers with a well-formed frame or closes, for random bytes and mutated frames", async () => {
    const input = fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 3000 }), ...validFrames.map(mutated));
    await fc.assert(
      fc.asyncProperty(input, fc.boolean(), async (bytes, halfClose) => {
        const back = await send(bytes, halfClose);
        if (back.length === 0) return;
        // Anything sent back is a framed response Intel's parser reads (GET_QUOTE_RESP, or the error reply of
        // a mutated type 2 / 4 request; the fake backend has no collateral nor platform info) or a bare quote
        // for a bare TDREPORT.
        const len = new DataView(back.buffer).getUint32(0, false);
        if (len === back.length - 4) {
          const message = back.subarray(4);
          const type = decodeQgsHeader(message).type;
          if (type === 1) {
            const r = decodeGetQuoteResponse(message);
            if (r.errorCode === 0) expect(r.quote.length).toBeGreaterThan(0);
          } else if (type === 3) expect(decodeGetCollateralResponse(message).errorCode).not.toBe(0);
          else {
            expect(type).toBe(5);
            expect(decodeGetPlatformInfoResponse(message).errorCode).not.toBe(0);
          }
        } else expect(bytes.length).toBe(1024);
      }),
      { numRuns: 120 },
    );
    const ok = await qgsGetQuote(fakeTdReport(2), { address: server.address });
    expect(ok.quote).toEqual(fakeQuoteFor(fakeTdReport(2)));
  });
});
