/**
 * A fake Intel PCS v4 / PCCS on 127.0.0.1 (port 0) serving one vector's collateral with Intel's response
 * shapes and headers. Tests switch it down, gate its answers and count its requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Collateral } from "../../src/collateral/types.js";

export interface FakePcsOptions {
  /** Serve the root CA CRL as PCCS does (hex text at /sgx/certification/v4/rootcacrl). Default true. */
  pccsRootCrlHex?: boolean;
  /** Send the TCB Info chain under the v3 header name SGX-TCB-Info-Issuer-Chain. */
  v3TcbHeader?: boolean;
  /** Serve the PCK CRL as PEM even when encoding=der is asked for. */
  pckCrlPem?: boolean;
  /** FMSPCs (uppercase) this service knows; default: the collateral's. */
  knownFmspc?: string[];
}

function pem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

export class FakePcs {
  readonly requests: string[] = [];
  /** When set, every request answers with this status. */
  failWith: number | null = null;
  /** When set, responses wait for it. */
  gate: Promise<void> | null = null;
  /** Collateral served (replaceable between requests). */
  collateral: Collateral;
  private server: Server;
  url = "";

  constructor(
    collateral: Collateral,
    private readonly options: FakePcsOptions = {},
  ) {
    this.collateral = collateral;
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  count(pathPrefix: string): number {
    return this.requests.filter((r) => r.startsWith(pathPrefix)).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "http://x");
    this.requests.push(`${u.pathname}${u.search}`);
    if (this.gate) await this.gate;
    if (this.failWith !== null) {
      res.writeHead(this.failWith, { "Error-Message": "fake failure" }).end();
      return;
    }
    const c = this.collateral;
    const tee = u.pathname.startsWith("/tdx/") ? "TDX" : "SGX";
    const tcbFmspc = (JSON.parse(c.tcbInfo) as { fmspc: string; id?: string }).fmspc.toUpperCase();
    const known = this.options.knownFmspc ?? [tcbFmspc];
    const sig = (b: Uint8Array) => Buffer.from(b).toString("hex");
    switch (u.pathname) {
      case "/sgx/certification/v4/pckcrl": {
        const ca = u.searchParams.get("ca");
        if (ca !== "platform" && ca !== "processor") {
          res.writeHead(400).end();
          return;
        }
        const der = u.searchParams.get("encoding") === "der" && !this.options.pckCrlPem;
        res.writeHead(200, {
          "Content-Type": der ? "application/pkix-crl" : "application/x-pem-file",
          "SGX-PCK-CRL-Issuer-Chain": encodeURIComponent(c.pckCrlIssuerChain ?? ""),
        });
        res.end(der ? Buffer.from(c.pckCrl) : pem(c.pckCrl, "X509 CRL"));
        return;
      }
      case "/sgx/certification/v4/rootcacrl":
        if (this.options.pccsRootCrlHex === false) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { "Content-Type": "application/x-pem-file" });
        res.end(Buffer.from(c.rootCaCrl).toString("hex"));
        return;
      case "/tdx/certification/v4/tcb":
      case "/sgx/certification/v4/tcb": {
        const fmspc = (u.searchParams.get("fmspc") ?? "").toUpperCase();
        const id = (JSON.parse(c.tcbInfo) as { id?: string }).id ?? "SGX";
        if (!known.includes(fmspc) || id !== tee) {
          res.writeHead(404).end();
          return;
        }
        const header = this.options.v3TcbHeader ? "SGX-TCB-Info-Issuer-Chain" : "TCB-Info-Issuer-Chain";
        res.writeHead(200, {
          "Content-Type": "application/json",
          [header]: encodeURIComponent(c.tcbInfoIssuerChain),
        });
        res.end(`{"tcbInfo":${c.tcbInfo},"signature":"${sig(c.tcbInfoSignature)}"}`);
        return;
      }
      case "/tdx/certification/v4/qe/identity":
      case "/sgx/certification/v4/qe/identity": {
        const id = (JSON.parse(c.qeIdentity) as { id?: string }).id;
        if ((tee === "TDX") !== (id === "TD_QE")) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, {
          "Content-Type": "application/json",
          "SGX-Enclave-Identity-Issuer-Chain": encodeURIComponent(c.qeIdentityIssuerChain ?? ""),
        });
        res.end(`{"enclaveIdentity":${c.qeIdentity},"signature":"${sig(c.qeIdentitySignature)}"}`);
        return;
      }
      default:
        res.writeHead(404).end();
    }
  }
}

/** A base URL nobody listens on (a port that was just bound and released). */
export async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
