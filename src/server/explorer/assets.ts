import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TdxError } from "../../errors.js";
import { faviconIco } from "./favicon.js";

/** The page's files, as served under `/` (index.html, favicon.ico) and `/explorer/…` (the rest). */
export const ASSET_FILES = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "favicon.svg": "image/svg+xml",
  "favicon.ico": "image/x-icon",
} as const;

export type AssetName = keyof typeof ASSET_FILES;

/** Where an asset sits, relative to the page (and to a static build's folder). */
export function assetPath(name: AssetName): string {
  return name === "index.html" || name === "favicon.ico" ? name : `explorer/${name}`;
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Where the static files live: next to this module (source tree, or a build that copied them), else
 * in the package's `src/server/explorer/static` when running from `dist/` (tsc does not copy them).
 */
export function explorerStaticDir(): string {
  const candidates = [
    join(here, "static"),
    resolve(here, "..", "..", "..", "src", "server", "explorer", "static"),
  ];
  for (const c of candidates) if (existsSync(join(c, "index.html"))) return c;
  throw new TdxError("EXPLORER_ASSETS_MISSING", "the explorer page's files were not found", {
    data: { searched: candidates },
    hint: "reinstall tdx-attest, or copy src/server/explorer/static next to dist/server/explorer/",
  });
}

export interface ExplorerAssets {
  get(name: AssetName): Buffer;
}

/** Read the page's files once. `apiUrl` is written into index.html for a page hosted apart from its server. */
export function loadExplorerAssets(apiUrl = ""): ExplorerAssets {
  const dir = explorerStaticDir();
  const files = new Map<AssetName, Buffer>();
  for (const name of Object.keys(ASSET_FILES) as AssetName[]) {
    // The ICO is drawn by code (favicon.ts); the other files are read from static/.
    let content = name === "favicon.ico" ? faviconIco() : readFileSync(join(dir, name));
    if (name === "index.html") content = Buffer.from(withApiUrl(content.toString("utf8"), apiUrl), "utf8");
    files.set(name, content);
  }
  return {
    get(name) {
      const f = files.get(name);
      if (!f) throw new TdxError("EXPLORER_ASSETS_MISSING", `explorer asset ${name} is missing`);
      return f;
    },
  };
}

function escapeAttribute(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function withApiUrl(html: string, apiUrl: string): string {
  return html.replace(
    /<meta name="tdx-attest-api" content="[^"]*">/,
    `<meta name="tdx-attest-api" content="${escapeAttribute(apiUrl)}">`,
  );
}

/**
 * Write the page as static files: `index.html`, `favicon.ico` and `explorer/{app.js,style.css,favicon.svg}`. The page calls
 * `<apiUrl>/api/decode` and `/api/verify`; with no apiUrl it calls the origin that serves it.
 */
export function writeStaticExplorer(outDir: string, options: { apiUrl?: string } = {}): string[] {
  const apiUrl = options.apiUrl ?? "";
  if (apiUrl !== "" && !/^https?:\/\/[^\s"<>]+$/.test(apiUrl)) {
    throw new TdxError("EXPLORER_BAD_API_URL", `--api ${apiUrl} is not an http(s) URL`, {
      field: "apiUrl",
      hint: "give the base URL of a tdx-attest server, e.g. http://127.0.0.1:8080",
    });
  }
  const assets = loadExplorerAssets(apiUrl);
  const written: string[] = [];
  mkdirSync(join(outDir, "explorer"), { recursive: true });
  for (const name of Object.keys(ASSET_FILES) as AssetName[]) {
    const target = join(outDir, assetPath(name));
    writeFileSync(target, assets.get(name));
    written.push(target);
  }
  return written;
}
