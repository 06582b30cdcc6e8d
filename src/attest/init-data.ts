import { createHash } from "node:crypto";
import type { TdReportBody } from "../abi/types.js";
import { hexOf as hex } from "../encoding.js";
import { TdxError } from "../errors.js";
import { parseInitDataToml } from "./toml.js";

/** The init-data algorithms (trustee kbs/docs/initdata.md; kbs-types HashAlgorithm names). */
export const INIT_DATA_ALGORITHMS = ["sha256", "sha384", "sha512"] as const;
export type InitDataAlgorithm = (typeof INIT_DATA_ALGORITHMS)[number];

/** An init-data document as the Attestation carries it, read and hashed. */
export interface InitData {
  format: "toml";
  version: string;
  algorithm: InitDataAlgorithm;
  /** H(raw body bytes) with the declared algorithm, unpadded (what Trustee's `init_data` claim holds). */
  digest: Uint8Array;
  /** The document's `data` entries (aa.toml, cdh.toml, policy.rego, ...): the token's init_data_claims. */
  data: Record<string, string>;
}

function invalid(message: string, field: string, hint: string): TdxError {
  return new TdxError("INIT_DATA_INVALID", message, { field, hint });
}

/**
 * Read `Attestation.init-data` ({format: "toml", body}). The digest is over the body's raw bytes with
 * the algorithm the document declares, as Trustee's attestation service and guest-components'
 * attestation-agent compute it (trustee attestation-service/src/lib.rs parse_init_data).
 */
export function readInitData(value: unknown): InitData {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw invalid(
      "init-data must be an object {format, body}",
      "init-data",
      'send {"format": "toml", "body": "<the TOML text>"}',
    );
  const v = value as Record<string, unknown>;
  if (v.format !== "toml")
    throw invalid(
      `init-data format ${JSON.stringify(v.format)} is not supported`,
      "init-data.format",
      'send the init-data document as TOML with "format": "toml" (as Trustee\'s built-in attestation service requires)',
    );
  if (typeof v.body !== "string")
    throw invalid(
      "init-data.body must be the TOML text",
      "init-data.body",
      "send the document's text unchanged",
    );
  const doc = parseInitDataToml(v.body);
  const { version, algorithm, data } = doc;
  if (typeof version !== "string")
    throw invalid(
      "init-data has no version",
      "init-data.body.version",
      'the document needs version = "0.1.0"',
    );
  if (typeof algorithm !== "string" || !(INIT_DATA_ALGORITHMS as readonly string[]).includes(algorithm))
    throw invalid(
      `init-data algorithm ${JSON.stringify(algorithm)} is not one of ${INIT_DATA_ALGORITHMS.join(", ")}`,
      "init-data.body.algorithm",
      'declare algorithm = "sha384" (or sha256, sha512)',
    );
  if (data !== undefined && typeof data !== "object")
    throw invalid("init-data data must be a table", "init-data.body.data", "put the entries under [data]");
  const entries: Record<string, string> = {};
  for (const [k, val] of Object.entries((data ?? {}) as Record<string, unknown>)) {
    if (typeof val !== "string")
      throw invalid(
        `init-data data.${k} is a table, not a string`,
        `init-data.body.data.${k}`,
        "data entries are strings",
      );
    entries[k] = val;
  }
  return {
    format: "toml",
    version,
    algorithm: algorithm as InitDataAlgorithm,
    digest: new Uint8Array(createHash(algorithm).update(v.body, "utf8").digest()),
    data: entries,
  };
}

/** The init-data digest as MRCONFIGID holds it: zero-padded (SHA-256) or cut (SHA-512) to 48 bytes. */
export function initDataMrConfigId(digest: Uint8Array): Uint8Array {
  const out = new Uint8Array(48);
  out.set(digest.subarray(0, 48));
  return out;
}

/** For TDX: the init-data digest, padded to 48 bytes, must equal MRCONFIGID (trustee deps/verifier tdx). */
export function checkInitDataBinding(report: TdReportBody, initData: InitData): void {
  const expected = initDataMrConfigId(initData.digest);
  const actual = report.mrConfigId;
  if (Buffer.from(expected).equals(Buffer.from(actual))) return;
  throw new TdxError(
    "ATTEST_INIT_DATA_MISMATCH",
    `init-data does not match MRCONFIGID: ${initData.algorithm}(init-data) padded to 48 bytes = ${hex(expected)}, MRCONFIGID = ${hex(actual)}`,
    {
      field: "init-data",
      hint: "send the exact init-data document the TD was launched with (its digest is the TD's MRCONFIGID), or none",
      data: { algorithm: initData.algorithm, expected: hex(expected), actual: hex(actual) },
    },
  );
}
