import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeGetQuoteBuffer,
  encodeFrame,
  encodeGetQuoteBuffer,
  encodeGetQuoteResponse,
  GetQuoteStatus,
  getQuoteStatusName,
  type QgsServer,
  qemuHandleGetQuote,
  quoteFromGetQuoteBuffer,
  startQgsServer,
  TdvmcallStatus,
} from "../../src/qgs/index.js";
import { fakeBackend, fakeQuoteFor, fakeTdReport, tempDir } from "./helpers.js";

let server: QgsServer;
let sock: string;
beforeAll(async () => {
  sock = join(tempDir(), "qgs.socket");
  server = await startQgsServer({ backend: fakeBackend(), listen: `unix:${sock}` });
});
afterAll(() => server.close());

/** A one-shot peer that answers any request with `answer`. */
async function cannedQgs(answer: Uint8Array): Promise<{ address: string; close: () => void }> {
  const s = net.createServer((c) => {
    c.once("data", () => c.end(answer));
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return { address: `tcp:127.0.0.1:${(s.address() as net.AddressInfo).port}`, close: () => s.close() };
}

describe("QEMU's GetQuote handling over our QGS", () => {
  it("a TD's 8 KiB buffer with a raw TDREPORT comes back with the quote, status SUCCESS", async () => {
    const report = fakeTdReport(21);
    const buf = encodeGetQuoteBuffer(report, 8192);
    const { r10, completion } = qemuHandleGetQuote(buf, { qgs: `unix:${sock}` });
    expect(r10).toBe(TdvmcallStatus.SUCCESS);
    expect(decodeGetQuoteBuffer(buf).status).toBe(GetQuoteStatus.IN_FLIGHT);
    await completion;
    expect(quoteFromGetQuoteBuffer(buf)).toEqual(fakeQuoteFor(report));
  });

  it("refuses misaligned, oversized and malformed buffers in R10 without touching them", () => {
    const report = fakeTdReport(22);
    expect(qemuHandleGetQuote(new Uint8Array(0), { qgs: `unix:${sock}` }).r10).toBe(
      TdvmcallStatus.INVALID_OPERAND,
    );
    expect(qemuHandleGetQuote(encodeGetQuoteBuffer(report, 5000), { qgs: `unix:${sock}` }).r10).toBe(
      TdvmcallStatus.ALIGN_ERROR,
    );
    expect(
      qemuHandleGetQuote(encodeGetQuoteBuffer(report, 8192), { qgs: `unix:${sock}`, gpa: 0x1000_0800n }).r10,
    ).toBe(TdvmcallStatus.ALIGN_ERROR);
    expect(qemuHandleGetQuote(encodeGetQuoteBuffer(report, 256 * 1024), { qgs: `unix:${sock}` }).r10).toBe(
      TdvmcallStatus.INVALID_OPERAND,
    );
    const badVersion = encodeGetQuoteBuffer(report, 8192);
    badVersion[0] = 2;
    expect(qemuHandleGetQuote(badVersion, { qgs: `unix:${sock}` }).r10).toBe(TdvmcallStatus.INVALID_OPERAND);
    expect(decodeGetQuoteBuffer(badVersion).status).toBe(0n);
  });

  it("marks ERROR for answers QEMU rejects: minor version 0, a selected id, a quote beyond the buffer", async () => {
    const quote = new Uint8Array(3000).fill(9);
    const answers = [
      encodeFrame(encodeGetQuoteResponse(quote, { minorVersion: 0 })),
      encodeFrame(encodeGetQuoteResponse(quote, { selectedId: new Uint8Array(16) })),
      encodeFrame(encodeGetQuoteResponse(new Uint8Array(9000))),
    ];
    for (const answer of answers) {
      const peer = await cannedQgs(answer);
      try {
        const buf = encodeGetQuoteBuffer(fakeTdReport(23), 8192);
        const { completion } = qemuHandleGetQuote(buf, { qgs: peer.address });
        await completion;
        expect(getQuoteStatusName(decodeGetQuoteBuffer(buf).status)).toBe("ERROR");
      } finally {
        peer.close();
      }
    }
    // and the same 3000-byte quote at minor version 1 is accepted
    const ok = await cannedQgs(encodeFrame(encodeGetQuoteResponse(quote)));
    const buf = encodeGetQuoteBuffer(fakeTdReport(23), 8192);
    await qemuHandleGetQuote(buf, { qgs: ok.address }).completion;
    expect(quoteFromGetQuoteBuffer(buf)).toEqual(quote);
    ok.close();
  });

  it("marks SERVICE_UNAVAILABLE when no QGS answers", async () => {
    const buf = encodeGetQuoteBuffer(fakeTdReport(24), 8192);
    await qemuHandleGetQuote(buf, { qgs: `unix:${sock}.absent` }).completion;
    expect(decodeGetQuoteBuffer(buf).statusName).toBe("SERVICE_UNAVAILABLE");
  });
});
