import { createHash, timingSafeEqual } from "node:crypto";
import { TdxError } from "../errors.js";
import { canonicalJson } from "./jcs.js";

/** Hash algorithms a KBS client may negotiate for the runtime-data digest (kbs-types HashAlgorithm names). */
export type RuntimeDataHashAlgorithm = "sha256" | "sha384" | "sha512";

/** Trustee's default for TDX when the client does not negotiate. */
export const DEFAULT_RUNTIME_DATA_HASH: RuntimeDataHashAlgorithm = "sha384";

/** The order of preference when a client offers several algorithms: the strongest that fits REPORTDATA. */
const PREFERENCE: RuntimeDataHashAlgorithm[] = ["sha384", "sha512", "sha256"];

/**
 * Pick the runtime-data hash from the client's `extra-params.supported-hash-algorithms`. No list (or
 * a list we cannot read) means the protocol default, SHA-384; a list without any algorithm we accept
 * is refused.
 */
export function negotiateHashAlgorithm(
  extraParams: unknown,
  prefer?: RuntimeDataHashAlgorithm,
): {
  algorithm: RuntimeDataHashAlgorithm;
  negotiated: boolean;
} {
  const offered =
    extraParams !== null && typeof extraParams === "object" && !Array.isArray(extraParams)
      ? (extraParams as Record<string, unknown>)["supported-hash-algorithms"]
      : undefined;
  if (!Array.isArray(offered)) return { algorithm: DEFAULT_RUNTIME_DATA_HASH, negotiated: false };
  const names = offered.filter((x): x is string => typeof x === "string").map((x) => x.toLowerCase());
  const order = prefer ? [prefer, ...PREFERENCE.filter((p) => p !== prefer)] : PREFERENCE;
  const pick = order.find((alg) => names.includes(alg));
  if (!pick)
    throw new TdxError("KBS_HASH_ALGORITHM_UNSUPPORTED", `none of the offered hash algorithms is supported`, {
      field: "extra-params.supported-hash-algorithms",
      hint: "offer sha384 or sha512 (or sha256)",
      data: { offered: names, supported: PREFERENCE },
    });
  return { algorithm: pick, negotiated: true };
}

/** The object whose canonical JSON is hashed into REPORTDATA (kbs_protocol rcar_client). */
export function runtimeDataObject(nonce: string, teePubkey: unknown, additionalEvidence: string) {
  return { "additional-evidence": additionalEvidence, nonce, "tee-pubkey": teePubkey };
}

/** H(JCS({additional-evidence, nonce, tee-pubkey})) zero-padded to the 64 bytes of REPORTDATA. */
export function expectedReportData(
  nonce: string,
  teePubkey: unknown,
  additionalEvidence: string,
  algorithm: RuntimeDataHashAlgorithm = DEFAULT_RUNTIME_DATA_HASH,
): Uint8Array {
  const digest = createHash(algorithm)
    .update(canonicalJson(runtimeDataObject(nonce, teePubkey, additionalEvidence)), "utf8")
    .digest();
  const out = new Uint8Array(64);
  out.set(digest.subarray(0, 64));
  return out;
}

/** Byte-compare REPORTDATA with the expected binding; explains the mismatch in hex when it fails. */
export function checkReportDataBinding(
  reportData: Uint8Array,
  expected: Uint8Array,
  algorithm: RuntimeDataHashAlgorithm,
): void {
  if (reportData.length === 64 && timingSafeEqual(reportData, expected)) return;
  throw new TdxError(
    "KBS_REPORTDATA_MISMATCH",
    `REPORTDATA is not bound to this session: expected ${algorithm}(JCS({additional-evidence, nonce, tee-pubkey})) = ${Buffer.from(expected).toString("hex")}, got ${Buffer.from(reportData).toString("hex")}`,
    {
      field: "quote.body.reportData",
      hint: "the quote must be taken over the challenge nonce and the same tee-pubkey sent in runtime-data, hashed with the negotiated algorithm",
      data: {
        algorithm,
        expected: Buffer.from(expected).toString("hex"),
        actual: Buffer.from(reportData).toString("hex"),
      },
    },
  );
}
