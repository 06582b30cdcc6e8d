/**
 * The AF_VSOCK code path (koffi socket/connect/accept4/recv/send driven by libuv polling) exercised with
 * AF_UNIX addresses, since vsock loopback is rarely available in CI. Only the sockaddr differs from vsock.
 */
import net from "node:net";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connectFdSocket, FdListener, sockaddrUn, sockaddrVm } from "../../src/qgs/fdsocket.js";
import { loadLibc } from "../../src/qgs/ffi.js";
import {
  decodeGetQuoteResponse,
  encodeFrame,
  encodeGetQuoteRequest,
  qgsGetQuote,
  quoteFromResponse,
  serveQgsConnection,
  startQgsServer,
} from "../../src/qgs/index.js";
import { fakeBackend, fakeQuoteFor, fakeTdReport, tempDir } from "./helpers.js";

const libc = await loadLibc().catch(() => null);

describe.skipIf(libc === null)("koffi socket layer (vsock code path over AF_UNIX)", () => {
  it("lays out sockaddr_vm as the kernel expects", () => {
    const a = sockaddrVm(2, 4050);
    expect([...a.bytes]).toEqual([40, 0, 0, 0, 0xd2, 0x0f, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("client: an FdSocket talks to a node:net QGS", async () => {
    const path = join(tempDir(), "qgs.socket");
    const server = await startQgsServer({ backend: fakeBackend(), listen: `unix:${path}` });
    try {
      const results = await Promise.all(
        [1, 2, 3].map(async (seed) => {
          const s = await connectFdSocket(libc!, sockaddrUn(path));
          const chunks: Buffer[] = [];
          await new Promise<void>((resolve, reject) => {
            s.on("data", (c: Buffer) => chunks.push(c));
            s.on("end", () => resolve());
            s.on("error", reject);
            s.write(encodeFrame(encodeGetQuoteRequest(fakeTdReport(seed))));
          });
          s.destroy();
          return quoteFromResponse(decodeGetQuoteResponse(new Uint8Array(Buffer.concat(chunks)).subarray(4)));
        }),
      );
      expect(results).toEqual([1, 2, 3].map((s) => fakeQuoteFor(fakeTdReport(s))));
    } finally {
      await server.close();
    }
  });

  it("server: an FdListener accepts and serves node:net clients concurrently", async () => {
    const path = join(tempDir(), "ffi.socket");
    const listener = FdListener.listen(libc!, sockaddrUn(path), (s) =>
      serveQgsConnection(s, fakeBackend({ delayMs: 2 }), {}),
    );
    try {
      const reports = Array.from({ length: 12 }, (_, i) => fakeTdReport(100 + i));
      const quotes = await Promise.all(reports.map((r) => qgsGetQuote(r, { address: `unix:${path}` })));
      quotes.forEach((q, i) => {
        expect(q.quote).toEqual(fakeQuoteFor(reports[i]!));
      });
    } finally {
      listener.close();
    }
  });

  it("ioctl writes its result into the buffer (FIONREAD on a connected socket), pinned memory has an address", async () => {
    const path = join(tempDir(), "echo.socket");
    const server = net.createServer((c) => {
      // The client closes without reading everything: the kernel may answer this end with a reset.
      c.on("error", () => {});
      c.end(Buffer.from("eleven byte"));
    });
    await new Promise<void>((r) => server.listen(path, r));
    try {
      const s = await connectFdSocket(libc!, sockaddrUn(path));
      const buf = new Uint8Array(8);
      // no reader attached: the bytes stay in the kernel until FIONREAD sees them
      for (let i = 0; i < 200 && new DataView(buf.buffer).getInt32(0, true) === 0; i++) {
        expect(libc!.ioctl(s.fd, 0x541b, buf)).toBe(0);
        if (new DataView(buf.buffer).getInt32(0, true) === 0) await new Promise((r) => setTimeout(r, 5));
      }
      expect(new DataView(buf.buffer).getInt32(0, true)).toBe(11);
      s.destroy();
    } finally {
      server.close();
    }
    const mem = libc!.allocPinned(4096);
    expect(mem.address > 0n).toBe(true);
    mem.bytes[4095] = 7;
    expect(mem.bytes.length).toBe(4096);
    mem.free();
  });

  it("connect to a missing path fails with the errno", async () => {
    await expect(connectFdSocket(libc!, sockaddrUn(join(tempDir(), "none")))).rejects.toMatchObject({
      code: "ENOENT",
    });
  });
});
