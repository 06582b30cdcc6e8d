import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { quoteResultLines, reportDataFromFlags } from "../../src/cli/commands/guest.js";
import { openProvider, parseTdxAttestConf } from "../../src/guest/index.js";
import { guestQgsAddress, resolveContext } from "../../src/guest/providers.js";

describe("guest configuration", () => {
  it("reads libtdx_attest's /etc/tdx-attest.conf port line as DCAP does", () => {
    expect(parseTdxAttestConf("# comment\n port = 4051 \n")).toBe(4051);
    expect(parseTdxAttestConf("port=7\n")).toBe(7);
    expect(parseTdxAttestConf("port = 0\n")).toBeNull();
    expect(parseTdxAttestConf("port = 12x\n")).toBeNull();
    expect(parseTdxAttestConf("# port = 5\n")).toBeNull();
    expect(parseTdxAttestConf("")).toBeNull();
    // tdx_attest.c get_vsock_port: the first well-formed port line decides, 0 or > UINT_MAX meaning none.
    expect(parseTdxAttestConf("port = 0\nport = 4050\n")).toBeNull();
    expect(parseTdxAttestConf("port = 4294967296\nport = 4050\n")).toBeNull();
    expect(parseTdxAttestConf("port = 12x\nport = 4050\n")).toBe(4050);
  });

  it("the device provider dials the configured vsock port, else CID 2 port 4050", async () => {
    const root = mkdtempSync(join(tmpdir(), "tdx-conf-"));
    const p = await openProvider("device", { root });
    expect(p.describe().quote).toContain("vsock:2:4050");
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "etc", "tdx-attest.conf"), "port = 4999\n");
    expect((await guestQgsAddress(resolveContext({ root }))).address).toEqual({
      kind: "vsock",
      cid: 2,
      port: 4999,
    });
    expect((await guestQgsAddress(resolveContext({ root, qgs: "unix:/q" }))).address).toEqual({
      kind: "unix",
      path: "/q",
    });
  });

  it("CLI REPORTDATA: hex zero-padded to 64 bytes, or SHA-512 of the base64 nonce", () => {
    const rd = reportDataFromFlags({ reportData: "0xc0ffee" });
    expect(Buffer.from(rd).toString("hex")).toBe(`c0ffee${"00".repeat(61)}`);
    const nonce = Buffer.from([1, 2, 3, 250, 251]);
    for (const text of [nonce.toString("base64"), nonce.toString("base64url")])
      expect(reportDataFromFlags({ nonce: text })).toEqual(
        new Uint8Array(createHash("sha512").update(nonce).digest()),
      );
    expect(() => reportDataFromFlags({ reportData: "00".repeat(65) })).toThrow(/at most 64 bytes/);
    expect(() => reportDataFromFlags({ nonce: "not base64!" })).toThrow(/base64/);
  });

  it("the quote command says which path produced the quote, the fallback, retries and warnings", () => {
    expect(
      quoteResultLines({
        quote: new Uint8Array(1),
        path: "device",
        via: "/dev/tdx_guest TDREPORT + QGS at vsock:2:4050 (default)",
        attempts: 2,
        retries: [{ attempt: 1, code: "QGS_TIMEOUT", waitedMs: 1000 }],
        warnings: ["dropped 3 bytes"],
        fallback: {
          from: "configfs",
          code: "GUEST_QUOTE_EMPTY",
          message: "configfs-tsm returned an empty quote",
        },
      }),
    ).toEqual([
      "quote from: device (/dev/tdx_guest TDREPORT + QGS at vsock:2:4050 (default))",
      "fallback: configfs failed with GUEST_QUOTE_EMPTY: configfs-tsm returned an empty quote",
      "retried: attempt 1 failed with QGS_TIMEOUT, waited 1000 ms",
      "warning: dropped 3 bytes",
    ]);
  });
});
