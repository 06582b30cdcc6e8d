import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { vectorsDir } from "./vectors.js";

/** The Azure TDX vTPM capture of ../shared/vectors/az-tdx-vtpm (read in place), or null when absent. */
export interface AzVectors {
  dir: string;
  evidenceV0: string;
  evidenceV1: string;
  hclReport: Uint8Array;
  tdQuote: Uint8Array;
  tpmQuoteV1: string;
  /** The TD quote's case: its collateral and Intel's verdict time. */
  collateralText: string;
  at: number;
  expected: { expect: { tcbStatus: string; qeIdentityStatus: string; tdxModuleStatus: string } };
}

export const AZ_CASE = "trustee_aztdx_tdquote_ASSEMBLED_2025-09";

export function azVectors(): AzVectors | null {
  const root = vectorsDir();
  if (!root) return null;
  const dir = join(root, "az-tdx-vtpm");
  const caseDir = join(root, "cases", AZ_CASE);
  if (!existsSync(dir) || !existsSync(caseDir)) return null;
  const expected = JSON.parse(readFileSync(join(caseDir, "expected.json"), "utf8"));
  return {
    dir,
    evidenceV0: readFileSync(join(dir, "evidence-v0.json"), "utf8"),
    evidenceV1: readFileSync(join(dir, "evidence-v1.json"), "utf8"),
    hclReport: new Uint8Array(readFileSync(join(dir, "hcl-report.bin"))),
    tdQuote: new Uint8Array(readFileSync(join(dir, "td-quote.bin"))),
    tpmQuoteV1: readFileSync(join(dir, "tpm-quote-v1.json"), "utf8"),
    collateralText: readFileSync(join(caseDir, "collateral.json"), "utf8"),
    at: expected.at,
    expected,
  };
}

export const AZ_SKIP_REASON =
  "Azure vTPM vectors not found: set TDX_VECTORS or place them at ../shared/vectors (az-tdx-vtpm/ and the case " +
  AZ_CASE +
  ")";
