/**
 * The QGS serving GET_COLLATERAL_REQ and GET_PLATFORM_INFO_REQ from a simulated platform over real sockets,
 * and one treatment of every request it does not serve: the connection closed without data, as Intel's QGS
 * does (qgs_ql_logic.cpp get_resp returns an empty buffer for them; qgs_server.cpp then closes).
 */
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import {
  decodeGetCollateralResponse,
  decodeGetPlatformInfoResponse,
  encodeFrame,
  encodeGetCollateralRequest,
  encodeGetPlatformInfoRequest,
  encodeGetQuoteRequest,
  encodeQgsHeader,
  type QgsServer,
  type QgsServerEvent,
  qgsGetCollateral,
  qgsGetPlatformInfo,
  qgsRoundTrip,
  simQuotingBackend,
  startQgsServer,
} from "../../src/qgs/index.js";
import { createSimPlatform, FMSPC, type SimPlatform } from "../../src/sim/index.js";
import { verifyQuote } from "../../src/verify/index.js";
import { rejectionOf } from "../helpers/errors.js";
import { fakeBackend, tempDir } from "./helpers.js";

let platform: SimPlatform;
let server: QgsServer;
let address: string;
const events: QgsServerEvent[] = [];
const fmspc = Uint8Array.from(Buffer.from(FMSPC, "hex"));

beforeAll(async () => {
  platform = await createSimPlatform();
  address = `unix:${join(tempDir(), "qgs.socket")}`;
  server = await startQgsServer({
    backend: simQuotingBackend(platform),
    listen: address,
    maxMessageSize: 4096,
    onEvent: (e) => events.push(e),
  });
});
afterAll(() => server.close());

/** Send raw bytes and collect everything until the server closes. */
function rawExchange(bytes: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const s = net.connect(address.slice("unix:".length));
    const chunks: Buffer[] = [];
    s.on("data", (c) => chunks.push(c));
    s.on("close", () => resolve(new Uint8Array(Buffer.concat(chunks))));
    s.on("error", reject);
    s.write(bytes);
  });
}

const headerOnly = (type: number, major = 1) =>
  encodeQgsHeader({ majorVersion: major, minorVersion: 1, type, size: 16, errorCode: 0 });

describe("GET_COLLATERAL_REQ", () => {
  it("returns the platform's collateral, and the platform's quote verifies against it", async () => {
    const { collateral, parts } = await qgsGetCollateral(fmspc, platform.pckCa, { address });
    expect([parts.majorVersion, parts.minorVersion]).toEqual([4, 0]);
    // every part as Intel's QPL hands it over: one trailing NUL; CRLs DER; signed bodies with their wrapper
    for (const part of Object.values(parts).filter((p) => p instanceof Uint8Array)) {
      expect(part.at(-1)).toBe(0);
      expect(part.at(-2)).not.toBe(0);
    }
    expect([parts.rootCaCrl[0], parts.pckCrl[0]]).toEqual([0x30, 0x30]);
    expect(Buffer.from(parts.tcbInfo).toString()).toMatch(
      /^\{"tcbInfo":\{.*\},"signature":"[0-9a-f]{128}"\}\0$/,
    );
    expect(JSON.parse(collateral.tcbInfo).fmspc).toBe(FMSPC);

    const quote = platform.quote(new Uint8Array(64).fill(9));
    const v = verifyQuote(quote, collateral, { now: new Date(), trustAnchors: [platform.rootCaPem] });
    expect([v.ok, v.tcbStatus, v.error]).toEqual([true, "UpToDate", null]);
    // without the simulated root as anchor the same bundle must not verify (Intel's root is the default)
    expect(verifyQuote(quote, collateral, { now: new Date() }).ok).toBe(false);
    expect(events.some((e) => e.type === "collateral" && e.fmspc === FMSPC)).toBe(true);
    expect(server.stats.collaterals).toBeGreaterThan(0);
  });

  it("serves the other CA's CRL too, which does not verify this platform's quote", async () => {
    const other = platform.pckCa === "platform" ? "processor" : "platform";
    const { collateral } = await qgsGetCollateral(fmspc, other, { address });
    const quote = platform.quote(new Uint8Array(64));
    const v = verifyQuote(quote, collateral, { now: new Date(), trustAnchors: [platform.rootCaPem] });
    expect([v.ok, v.error?.code]).toEqual([false, "CRL_UNKNOWN_ISSUER"]);
  });

  it("answers an unknown FMSPC or PCK CA with an UNEXPECTED error reply that Intel's parser reads", async () => {
    const unknown = await rejectionOf(qgsGetCollateral(new Uint8Array(6).fill(1), "platform", { address }));
    expect([unknown.code, unknown.data?.remote]).toEqual(["QGS_UNEXPECTED", true]);
    const ca = new TextEncoder().encode("intermediate\0");
    const back = await qgsRoundTrip(encodeGetCollateralRequest(fmspc, ca), { address });
    expect(back.length).toBe(48);
    expect(decodeGetCollateralResponse(back).errorCode).toBe(0x12001);
    expect(events.some((e) => e.type === "refused" && e.code === "QGS_UNSUPPORTED_PCK_CA")).toBe(true);
    expect(events.some((e) => e.type === "refused" && e.code === "QGS_NO_COLLATERAL")).toBe(true);
  });

  // Intel's qgs_ql_logic.cpp get_resp: any inflate failure is answered QGS_MSG_ERROR_UNEXPECTED (0x12001),
  // whatever the parser's own code.
  it("answers a malformed request with UNEXPECTED in a collateral error reply, as Intel's get_resp", async () => {
    const bad = encodeGetCollateralRequest(fmspc, "platform");
    new DataView(bad.buffer).setUint32(12, 5, true); // error_code in a request
    expect(decodeGetCollateralResponse(await qgsRoundTrip(bad, { address })).errorCode).toBe(0x12001);
    const major2 = encodeGetCollateralRequest(fmspc, "platform");
    new DataView(major2.buffer).setUint16(0, 2, true);
    expect(decodeGetCollateralResponse(await qgsRoundTrip(major2, { address })).errorCode).toBe(0x12001);
  });

  it("answers an oversized request with INVALID_SIZE in a collateral error reply, without reading it", async () => {
    const big = encodeFrame(encodeGetCollateralRequest(fmspc, new Uint8Array(5000).fill(0x41)));
    const back = await rawExchange(big.subarray(0, 64));
    expect(decodeGetCollateralResponse(back.subarray(4)).errorCode).toBe(0x12006);
  });

  it("answers a minor-0 request in the 1.0 layout, which the client that asked reads", async () => {
    const { collateral } = await qgsGetCollateral(fmspc, platform.pckCa, { address, minorVersion: 0 });
    const raw = await qgsRoundTrip(encodeGetCollateralRequest(fmspc, platform.pckCa, { minorVersion: 0 }), {
      address,
    });
    const sum = new DataView(raw.buffer, raw.byteOffset + 20, 28);
    let parts = 0;
    for (let i = 0; i < 7; i++) parts += sum.getUint32(4 * i, true);
    expect(raw.length).toBe(52 + parts);
    expect([...raw.subarray(raw.length - 4)]).toEqual([0, 0, 0, 0]);
    expect(JSON.parse(collateral.qeIdentity).id).toBe("TD_QE");
  });
});

describe("GET_PLATFORM_INFO_REQ", () => {
  it("returns the QE's ISVSVN, the PCE ISVSVN, the QE ID and the CPUSVN that the platform's quotes carry", async () => {
    const info = await qgsGetPlatformInfo({ address });
    const q = parseQuote(platform.quote(new Uint8Array(64)));
    const qe = q.signatureData.qeReportCertificationData?.qeReport;
    if (!qe) throw new Error("no QE report in the quote");
    expect(info.platformId).toEqual(q.header.userData.subarray(0, 16));
    expect(info.cpuSvn).toEqual(qe.cpuSvn);
    expect(info.tdqeIsvSvn).toBe(qe.isvSvn);
    expect(info.pceIsvSvn).toBe(platform.tcb.pceSvn);
    const raw = await qgsRoundTrip(encodeGetPlatformInfoRequest(), { address });
    expect(raw.length).toBe(32 + 16 + 16);
  });

  it("answers a malformed request with Intel's 28-byte platform-info error reply", async () => {
    const bad = encodeGetPlatformInfoRequest();
    new DataView(bad.buffer).setUint32(12, 1, true);
    const back = await qgsRoundTrip(bad, { address });
    expect(back.length).toBe(28);
    expect(decodeGetPlatformInfoResponse(back).errorCode).toBe(0x12001);
  });
});

describe("a backend without collateral or platform info", () => {
  it("answers both requests with UNEXPECTED", async () => {
    const bare = await startQgsServer({ backend: fakeBackend(), listen: "tcp:127.0.0.1:0" });
    try {
      const c = await rejectionOf(qgsGetCollateral(fmspc, "platform", { address: bare.address }));
      const p = await rejectionOf(qgsGetPlatformInfo({ address: bare.address }));
      expect([c.code, p.code]).toEqual(["QGS_UNEXPECTED", "QGS_UNEXPECTED"]);
    } finally {
      await bare.close();
    }
  });
});

describe("requests this QGS does not serve", () => {
  it("closes the connection without data for every type but 0, 2 and 4, whatever the major version", async () => {
    const before = events.length;
    for (const type of [1, 3, 5, 6, 7, 8, 0x7fffffff, 0xffffffff]) {
      expect((await rawExchange(encodeFrame(headerOnly(type)))).length).toBe(0);
      expect((await rawExchange(encodeFrame(headerOnly(type, 2)))).length).toBe(0);
    }
    const refused = events.slice(before).filter((e) => e.type === "refused");
    expect(refused.length).toBe(16);
    expect(refused.every((e) => e.type === "refused" && e.code === "QGS_UNSUPPORTED_TYPE")).toBe(true);
    // a GET_QUOTE_MIG_REQ-sized message too (report and servtd_ext): not served, closed
    const mig = encodeGetQuoteRequest(new Uint8Array(1024).fill(1));
    new DataView(mig.buffer).setUint32(4, 6, true);
    expect((await rawExchange(encodeFrame(mig))).length).toBe(0);
  });

  it("and still answers the served types after them", async () => {
    expect((await qgsGetPlatformInfo({ address })).platformId).toEqual(platform.qeId);
  });
});
