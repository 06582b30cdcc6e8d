import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const projectRoot = resolve(here, "..", "..");

/** Where the shared, read-only vectors live: $TDX_VECTORS, else ../shared/vectors. Null when absent. */
export function vectorsDir(): string | null {
  const candidates = [process.env.TDX_VECTORS, resolve(projectRoot, "..", "shared", "vectors")].filter(
    (p): p is string => typeof p === "string" && p.length > 0,
  );
  for (const c of candidates) if (existsSync(join(c, "INDEX.json"))) return c;
  return null;
}

export const VECTORS_SKIP_REASON =
  "real Intel vectors not found: set TDX_VECTORS or place them at ../shared/vectors";

export interface VectorCase {
  name: string;
  dir: string;
  quote: Uint8Array;
  collateralText: string;
  expected: {
    at: number;
    expect: {
      tcbStatus: string | null;
      error: string | null;
      collateralExpired: boolean;
      matchedTcbLevel?: { tcbDate: string; tcbStatus: string; advisoryIDs?: string[] } | null;
      qeIdentityStatus?: string | null;
      tdxModuleStatus?: string | null;
      [k: string]: unknown;
    };
    quote: {
      version: number;
      tee_type: string | number;
      mrtd?: string;
      tee_tcb_svn?: string;
      trailing_bytes?: number;
      [k: string]: unknown;
    };
    [k: string]: unknown;
  };
}

export function loadCases(): VectorCase[] {
  const dir = vectorsDir();
  if (!dir) return [];
  const casesDir = join(dir, "cases");
  return readdirSync(casesDir)
    .sort()
    .map((name) => {
      const d = join(casesDir, name);
      return {
        name,
        dir: d,
        quote: new Uint8Array(readFileSync(join(d, "quote.bin"))),
        collateralText: readFileSync(join(d, "collateral.json"), "utf8"),
        expected: JSON.parse(readFileSync(join(d, "expected.json"), "utf8")),
      };
    });
}

export function intelRootPem(): string | null {
  const dir = vectorsDir();
  return dir ? readFileSync(join(dir, "intel-sgx-root-ca.pem"), "utf8") : null;
}
