import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
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
export function loadExplorerAssets(apiUrl = "", mode: "server" | "local" = "server"): ExplorerAssets {
  const dir = explorerStaticDir();
  const files = new Map<AssetName, Buffer>();
  for (const name of Object.keys(ASSET_FILES) as AssetName[]) {
    // The ICO is drawn by code (favicon.ts); the other files are read from static/.
    let content = name === "favicon.ico" ? faviconIco() : readFileSync(join(dir, name));
    if (name === "index.html")
      content = Buffer.from(withApiUrl(content.toString("utf8"), apiUrl, mode), "utf8");
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

function withApiUrl(html: string, apiUrl: string, mode: "server" | "local" = "server"): string {
  return html
    .replace(
      /<meta name="tdx-attest-api" content="[^"]*">/,
      `<meta name="tdx-attest-api" content="${escapeAttribute(apiUrl)}">`,
    )
    .replace(
      /<meta name="tdx-attest-mode" content="[^"]*">/,
      `<meta name="tdx-attest-mode" content="${mode}">`,
    );
}

/** The built in-page API (dist/server/explorer/local.js) and the dist/ folder it sits in. */
function builtLocalApi(): { distRoot: string; entry: string } {
  const candidates = [here, resolve(here, "..", "..", "..", "dist", "server", "explorer")];
  for (const c of candidates) {
    if (existsSync(join(c, "local.js")))
      return { distRoot: resolve(c, "..", ".."), entry: join(c, "local.js") };
  }
  throw new TdxError(
    "EXPLORER_ASSETS_MISSING",
    "the in-page verifier (dist/server/explorer/local.js) was not found",
    {
      data: { searched: candidates },
      hint: "run `npm run build` (or reinstall tdx-attest), or build with --api to use a server instead",
    },
  );
}

const RELATIVE_IMPORT =
  /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*["'](\.[^"']+)["']|(?:^|[;\s])import\s*["'](\.[^"']+)["']/g;

/**
 * The ES modules the in-page verifier loads, as paths under dist/: local.js and every file it reaches through
 * relative imports (abi, verify, collateral readers, policy, crypto; no `node:` import, no package import).
 */
export function localApiFiles(): { distRoot: string; files: string[] } {
  const { distRoot, entry } = builtLocalApi();
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(RELATIVE_IMPORT)) {
      todo.push(resolve(dirname(file), (m[1] ?? m[2]) as string));
    }
  }
  return { distRoot, files: [...seen].map((f) => relative(distRoot, f)).sort() };
}

/**
 * Write the page as static files: `index.html`, `favicon.ico` and `explorer/{app.js,style.css,favicon.svg}`.
 * With an apiUrl the page calls `<apiUrl>/api/decode` and `/api/verify`; without one it decodes and verifies
 * in the page: `explorer/lib/` gets the verifier's ES modules (dist/ as built, WebCrypto) and no server is
 * needed (any static file server; browsers refuse ES modules from file://).
 */
export function writeStaticExplorer(outDir: string, options: { apiUrl?: string } = {}): string[] {
  const apiUrl = options.apiUrl ?? "";
  if (apiUrl !== "" && !/^https?:\/\/[^\s"<>]+$/.test(apiUrl)) {
    throw new TdxError("EXPLORER_BAD_API_URL", `--api ${apiUrl} is not an http(s) URL`, {
      field: "apiUrl",
      hint: "give the base URL of a tdx-attest server, e.g. http://127.0.0.1:8080",
    });
  }
  const local = apiUrl === "";
  const lib = local ? localApiFiles() : null;
  const assets = loadExplorerAssets(apiUrl, local ? "local" : "server");
  const written: string[] = [];
  mkdirSync(join(outDir, "explorer"), { recursive: true });
  for (const name of Object.keys(ASSET_FILES) as AssetName[]) {
    const target = join(outDir, assetPath(name));
    writeFileSync(target, assets.get(name));
    written.push(target);
  }
  if (lib) {
    for (const f of lib.files) {
      const target = join(outDir, "explorer", "lib", f);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, readFileSync(join(lib.distRoot, f)));
      written.push(target);
    }
  }
  return written;
}
