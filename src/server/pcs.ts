import { randomBytes } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from "fastify";
import { TdxError } from "../errors.js";
import type { SimCollateralBundle, SimPlatform } from "../sim/index.js";
import { type HttpTimeouts, httpTimeoutOptions, problemOnClientError } from "./http-limits.js";

/**
 * A PCS stand-in serving a simulated platform's collateral on Intel PCS v4 paths, with Intel's headers
 * (percent-encoded PEM issuer chains, Request-ID), so PCS/PCCS clients work against it unchanged:
 *
 *   GET /sgx/certification/v4/pckcrl?ca=processor|platform[&encoding=der]   SGX-PCK-CRL-Issuer-Chain
 *   GET /tdx/certification/v4/tcb?fmspc=…   (and /sgx/…/tcb)                 TCB-Info-Issuer-Chain
 *   GET /tdx/certification/v4/qe/identity   (and /sgx/…/qe/identity)         SGX-Enclave-Identity-Issuer-Chain
 *   GET /sgx/certification/v4/rootcacrl     (PCCS: hex of the DER)
 *   GET /IntelSGXRootCA.der                  (the root CA CRL distribution point: DER)
 *
 * The v3 paths are served too (TCB info issuer chain header named SGX-TCB-Info-Issuer-Chain there).
 * Collateral is re-issued when half its validity has passed, like a PCS publishing fresh data. Bodies are
 * sent as bytes so that Content-Type is exactly Intel's (no charset parameter added).
 */

export interface PcsServerOptions {
  platform: SimPlatform;
  /** Clock (tests pass a fixed one). */
  now?: () => Date;
  /** Request deadlines (seconds), as every listener has them. */
  timeouts?: HttpTimeouts;
  /** Fastify's logger option: true, false, or a pino configuration (e.g. its destination stream). */
  logger?: FastifyServerOptions["logger"];
}

/** Intel percent-encodes the PEM chain (encodeURIComponent leaves "-", "_", ".", "!", "~", "*", "'", "(", ")"). */
export function encodeIssuerChain(pem: string): string {
  return encodeURIComponent(pem);
}

function pcsError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply
    .code(status)
    .header("Request-ID", randomBytes(16).toString("hex"))
    .header("Error-Code", code)
    .header("Error-Message", message)
    .send();
}

function pemCrl(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN X509 CRL-----\n${b64.replace(/.{1,64}/g, "$&\n")}-----END X509 CRL-----\n`;
}

export function buildPcsServer(opts: PcsServerOptions): FastifyInstance {
  const now = opts.now ?? (() => new Date());
  const app = Fastify({
    logger: opts.logger ?? false,
    ...httpTimeoutOptions(opts.timeouts),
    clientErrorHandler: problemOnClientError,
  });
  let cached: { bundle: SimCollateralBundle; refreshAt: number } | null = null;
  let pending: Promise<SimCollateralBundle> | null = null;

  async function bundle(): Promise<SimCollateralBundle> {
    const t = now().getTime();
    if (cached && t < cached.refreshAt) return cached.bundle;
    if (!pending) {
      pending = opts.platform
        .collateralBundle({ now: new Date(t) })
        .then((b) => {
          const half = (b.nextUpdate.getTime() - b.issueDate.getTime()) / 2;
          // Expired-collateral scenarios stay expired: refresh them on every request.
          const refreshAt = b.nextUpdate.getTime() > t ? b.issueDate.getTime() + half : t;
          cached = { bundle: b, refreshAt };
          return b;
        })
        .finally(() => {
          pending = null;
        });
    }
    return pending;
  }

  app.addHook("onSend", async (_req, reply, payload) => {
    if (!reply.hasHeader("Request-ID")) reply.header("Request-ID", randomBytes(16).toString("hex"));
    return payload;
  });

  for (const api of ["v3", "v4"] as const) {
    app.get<{ Querystring: { ca?: string; encoding?: string } }>(
      `/sgx/certification/${api}/pckcrl`,
      async (req, reply) => {
        const ca = (req.query.ca ?? "").toLowerCase();
        if (ca !== "processor" && ca !== "platform") {
          return pcsError(reply, 400, "InvalidRequestSyntax", "ca must be processor or platform");
        }
        const encoding = req.query.encoding;
        if (encoding !== undefined && encoding !== "der" && encoding !== "pem") {
          return pcsError(reply, 400, "InvalidRequestSyntax", "encoding must be der or pem");
        }
        const b = await bundle();
        const der = b.pckCrl[ca];
        reply.header("SGX-PCK-CRL-Issuer-Chain", encodeIssuerChain(b.pckCrlIssuerChain[ca]));
        if (encoding === "der") return reply.type("application/pkix-crl").send(Buffer.from(der));
        return reply.type("application/x-pem-file").send(Buffer.from(pemCrl(der), "ascii"));
      },
    );

    for (const tee of ["tdx", "sgx"] as const) {
      app.get<{ Querystring: { fmspc?: string } }>(`/${tee}/certification/${api}/tcb`, async (req, reply) => {
        const fmspc = req.query.fmspc ?? "";
        if (!/^[0-9a-fA-F]{12}$/.test(fmspc)) {
          return pcsError(reply, 400, "InvalidRequestSyntax", "fmspc must be 12 hex digits");
        }
        const b = await bundle();
        // The simulated platform is TDX-only: no SGX TCB info, and only its own FMSPC exists.
        if (tee === "sgx" || fmspc.toUpperCase() !== b.fmspc)
          return pcsError(reply, 404, "NotFound", "no TCB info");
        reply.header(
          api === "v4" ? "TCB-Info-Issuer-Chain" : "SGX-TCB-Info-Issuer-Chain",
          encodeIssuerChain(b.tcbInfoIssuerChain),
        );
        return reply.type("application/json").send(Buffer.from(b.tcbInfoResponse, "utf8"));
      });
      app.get(`/${tee}/certification/${api}/qe/identity`, async (_req, reply) => {
        if (tee === "sgx")
          return pcsError(reply, 404, "NotFound", "the simulated platform has no SGX QE identity");
        const b = await bundle();
        reply.header("SGX-Enclave-Identity-Issuer-Chain", encodeIssuerChain(b.qeIdentityIssuerChain));
        return reply.type("application/json").send(Buffer.from(b.qeIdentityResponse, "utf8"));
      });
    }

    app.get(`/sgx/certification/${api}/rootcacrl`, async (_req, reply) => {
      const b = await bundle();
      // PCCS returns the root CA CRL as hex text ("to keep backward compatibility").
      return reply
        .type("application/x-pem-file")
        .send(Buffer.from(Buffer.from(b.rootCaCrl).toString("hex"), "ascii"));
    });
  }

  app.get("/IntelSGXRootCA.der", async (_req, reply) => {
    const b = await bundle();
    return reply.type("application/pkix-crl").send(Buffer.from(b.rootCaCrl));
  });

  app.get("/healthz", async () => ({ ok: true }));
  return app;
}

/** Parse "127.0.0.1:8081", "[::1]:8081" or ":8081" (host defaults to 127.0.0.1). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m || Number(m[3]) > 65535) {
    throw new TdxError("PCS_LISTEN_INVALID", `--listen ${listen} is not HOST:PORT`, {
      field: "listen",
      hint: "give an address like 127.0.0.1:8081 or [::1]:8081",
    });
  }
  const host = m[1] ?? (m[2] || "127.0.0.1");
  return { host, port: Number(m[3]) };
}
