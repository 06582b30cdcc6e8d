import { resolve } from "node:path";
import type { Command } from "commander";
import { CollateralService } from "../../collateral/index.js";
import { TdxError } from "../../errors.js";
import {
  type ExplorerOptions,
  registerExplorerRoutes,
  writeStaticExplorer,
} from "../../server/explorer/index.js";
import { Verifier } from "../../verify/index.js";
import { readInputFile } from "../io.js";
import { authority, HTTP_SERVER_PACKAGES, loadServer, untilSignal, writeStartupLine } from "../servers.js";

interface ServeFlags {
  listen: string;
  pccs?: string[];
  collateralCache?: string;
  trustRoot?: string[];
  cors?: string;
  json?: boolean;
}

/** HOST:PORT, [IPv6]:PORT or a bare PORT (on 127.0.0.1). */
export function parseExplorerListen(text: string): { host: string; port: number } {
  const t = text.trim();
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]+)):)?(\d{1,5})$/.exec(t);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new TdxError("USAGE", `--listen ${text} is not HOST:PORT`, {
      field: "--listen",
      hint: "give HOST:PORT such as 127.0.0.1:8088, [::1]:8088, or a port alone",
    });
  }
  return { host: m[1] ?? m[2] ?? "127.0.0.1", port };
}

function readTrustRoot(path: string): string | Uint8Array {
  const bytes = readInputFile(path);
  const text = Buffer.from(bytes).toString("latin1");
  return text.includes("-----BEGIN CERTIFICATE-----") ? text : bytes;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Registers `explorer build` and `explorer serve`. */
export function registerExplorerCommands(program: Command): void {
  const explorer = program
    .command("explorer")
    .description("the quote explorer: a web page that decodes a quote beside its bytes and verifies it");

  explorer
    .command("build")
    .description(
      "write the explorer page as static files (index.html, favicon.ico, explorer/* and the in-page verifier in explorer/lib) to host anywhere",
    )
    .requiredOption("--out <dir>", "directory to write into (created if missing)")
    .option(
      "--api <url>",
      "base URL of a tdx-attest server the page calls for decoding and verification (default: none, the page decodes and verifies itself with WebCrypto)",
    )
    .addHelpText(
      "after",
      "\nWithout --api the page decodes and verifies in the browser (WebCrypto; no server, no request leaves\n" +
        "the page): host the folder on any static file server (browsers refuse ES modules from file://).\n" +
        "With --api it calls that tdx-attest server's /api/decode and /api/verify instead; start the server\n" +
        "with --cors <the page's origin>.\n\n" +
        "Examples:\n  tdx-attest explorer build --out site\n" +
        "  tdx-attest explorer build --out site --api http://127.0.0.1:8088",
    )
    .action((opts: { out: string; api?: string }) => {
      const written = writeStaticExplorer(resolve(opts.out), opts.api ? { apiUrl: opts.api } : {});
      for (const f of written) process.stdout.write(`${f}\n`);
    });

  explorer
    .command("serve")
    .description("serve the explorer page and its API alone (tdx-attest serve also serves it, at /)")
    .option("--listen <host:port>", "where to listen", "127.0.0.1:8088")
    .option(
      "--pccs <url>",
      "PCCS or Intel PCS base URL for collateral when the page uploads none (repeatable, tried in order)",
      collect,
    )
    .option("--collateral-cache <dir>", "directory for the collateral cache (with --pccs)")
    .option("--trust-root <pem>", "trust this root instead of Intel's SGX Root CA (repeatable)", collect)
    .option("--cors <origin>", "let a static build hosted at this origin call the API")
    .option(
      "--json",
      "print the start-up as one JSON object on stdout (url, port, collateral source, trust roots with their SHA-256) instead of the banner",
    )
    .addHelpText(
      "after",
      "\nWithout --pccs, verification needs the collateral JSON opened on the page.\n\nExamples:\n" +
        "  tdx-attest explorer serve\n" +
        "  tdx-attest explorer serve --listen 127.0.0.1:9000 --pccs https://pccs.example:8081/sgx/certification/v4",
    )
    .action(async (opts: ServeFlags) => {
      const { host, port } = parseExplorerListen(opts.listen);
      const options: ExplorerOptions = {};
      if (opts.trustRoot?.length) options.trustAnchors = opts.trustRoot.map(readTrustRoot);
      if (opts.pccs?.length) {
        const service = new CollateralService({
          urls: opts.pccs,
          ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
          ...(opts.collateralCache ? { cacheDir: resolve(opts.collateralCache) } : {}),
        });
        // At the server's time: a caller's `at` must not drive the cache (see src/server/serve.ts).
        options.collateralFor = (quote) => service.forQuote(quote, { now: new Date() });
      }
      if (opts.cors) options.corsOrigin = opts.cors;
      const [{ default: Fastify }, { httpTimeoutOptions, problemOnClientError }] = await loadServer(
        "explorer serve",
        HTTP_SERVER_PACKAGES,
        () => Promise.all([import("fastify"), import("../../server/http-limits.js")]),
      );
      const app = Fastify({
        logger: false,
        ...httpTimeoutOptions(),
        clientErrorHandler: problemOnClientError,
      });
      registerExplorerRoutes(app, options);
      await app.listen({ host, port });
      const stopped = untilSignal(() => app.close());
      const address = app.server.address();
      const bound = address && typeof address === "object" ? address.port : port;
      const url = `http://${authority(host, bound)}/`;
      if (opts.json) {
        const verifier = new Verifier(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {});
        writeStartupLine({
          server: "explorer",
          url,
          host,
          port: bound,
          // The page's upload first; with --pccs, else fetched from those services.
          collateral: { source: opts.pccs?.length ? "page-or-pccs" : "page", urls: opts.pccs ?? [] },
          trustRoots: verifier.trustRoots,
          ...(opts.trustRoot?.length ? { trustRootFiles: opts.trustRoot.map((f) => resolve(f)) } : {}),
          ...(opts.cors ? { cors: opts.cors } : {}),
        });
      } else {
        process.stdout.write(`quote explorer at ${url}\n`);
        process.stdout.write(
          opts.pccs?.length
            ? `collateral: uploaded on the page, else from ${opts.pccs.join(", ")}\n`
            : "collateral: open it on the page (no --pccs given)\n",
        );
        if (opts.trustRoot?.length) process.stdout.write(`trusting only: ${opts.trustRoot.join(", ")}\n`);
      }
      await stopped;
    });
}
