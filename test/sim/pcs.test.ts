import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPcsServer, encodeIssuerChain, parseListen } from "../../src/server/pcs.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";

let p: SimPlatform;
let base: string;
let close: () => Promise<void>;
beforeAll(async () => {
  p = await createSimPlatform();
  const app = buildPcsServer({ platform: p });
  base = await app.listen({ host: "127.0.0.1", port: 0 });
  close = () => app.close();
});
afterAll(async () => {
  await close();
});

const get = (path: string) => fetch(`${base}${path}`);

describe("simulated PCS (Intel PCS v4 paths and headers)", () => {
  it("TDX TCB info with the URL-encoded TCB-Info-Issuer-Chain header", async () => {
    const r = await get("/tdx/certification/v4/tcb?fmspc=90c06f000000");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.headers.get("request-id")).toMatch(/^[0-9a-f]{32}$/);
    const chain = r.headers.get("tcb-info-issuer-chain")!;
    expect(chain).toContain("%0A");
    expect(decodeURIComponent(chain)).toBe(p.certs.tcbSigning.pem + p.certs.root.pem);
    const text = await r.text();
    const m = /^\{"tcbInfo":(.*),"signature":"([0-9a-f]{128})"\}$/.exec(text);
    expect(m).not.toBeNull();
    expect(JSON.parse(m![1]!).fmspc).toBe("90C06F000000");
    // v3 path: older header name
    const v3 = await get("/tdx/certification/v3/tcb?fmspc=90C06F000000");
    expect(decodeURIComponent(v3.headers.get("sgx-tcb-info-issuer-chain")!)).toContain("BEGIN CERTIFICATE");
  });

  it("TD QE identity with SGX-Enclave-Identity-Issuer-Chain", async () => {
    const r = await get("/tdx/certification/v4/qe/identity");
    expect(r.status).toBe(200);
    expect(decodeURIComponent(r.headers.get("sgx-enclave-identity-issuer-chain")!)).toBe(
      p.certs.tcbSigning.pem + p.certs.root.pem,
    );
    const body = JSON.parse(await r.text());
    expect(body.enclaveIdentity.id).toBe("TD_QE");
  });

  it("PCK CRLs as DER or PEM, with the issuer chain of the requested CA", async () => {
    const der = await get("/sgx/certification/v4/pckcrl?ca=platform&encoding=der");
    expect(der.status).toBe(200);
    expect(der.headers.get("content-type")).toBe("application/pkix-crl");
    const bytes = new Uint8Array(await der.arrayBuffer());
    expect(bytes[0]).toBe(0x30);
    expect(decodeURIComponent(der.headers.get("sgx-pck-crl-issuer-chain")!)).toBe(
      p.certs.platformCa.pem + p.certs.root.pem,
    );
    const pem = await get("/sgx/certification/v4/pckcrl?ca=processor");
    expect(await pem.text()).toMatch(/^-----BEGIN X509 CRL-----\n/);
    expect(decodeURIComponent(pem.headers.get("sgx-pck-crl-issuer-chain")!)).toBe(
      p.certs.processorCa.pem + p.certs.root.pem,
    );
    expect(encodeIssuerChain("a b\n+/=")).toBe("a%20b%0A%2B%2F%3D");
  });

  it("the root CA CRL: hex on the PCCS path, DER on the distribution point", async () => {
    const hex = await (await get("/sgx/certification/v4/rootcacrl")).text();
    const der = new Uint8Array(await (await get("/IntelSGXRootCA.der")).arrayBuffer());
    expect(hex).toBe(Buffer.from(der).toString("hex"));
  });

  it("answers bad requests like PCS (400 / 404 with Error-Code)", async () => {
    const a = await get("/sgx/certification/v4/pckcrl?ca=nope");
    expect(a.status).toBe(400);
    expect(a.headers.get("error-code")).toBe("InvalidRequestSyntax");
    expect((await get("/tdx/certification/v4/tcb?fmspc=zz")).status).toBe(400);
    expect((await get("/tdx/certification/v4/tcb?fmspc=00906ED50000")).status).toBe(404);
    expect((await get("/sgx/certification/v4/qe/identity")).status).toBe(404);
  });

  it("serves the same signed collateral until half its validity has passed", async () => {
    const a = await (await get("/tdx/certification/v4/qe/identity")).text();
    const b = await (await get("/tdx/certification/v4/qe/identity")).text();
    expect(a).toBe(b);
  });

  it("parses --listen addresses", () => {
    expect(parseListen("127.0.0.1:8081")).toEqual({ host: "127.0.0.1", port: 8081 });
    expect(parseListen("[::1]:9")).toEqual({ host: "::1", port: 9 });
    expect(parseListen(":80")).toEqual({ host: "127.0.0.1", port: 80 });
    expect(() => parseListen("nope")).toThrow(expect.objectContaining({ code: "PCS_LISTEN_INVALID" }));
  });
});
