/**
 * The key broker's side of Azure TDX confidential VMs (`tee: "az-tdx-vtpm"`): reading the evidence from
 * `tee-evidence` in Trustee's JSON shapes (v0, v1, v2), the runtime-data binding through the TPM quote's nonce,
 * and what a failed verification means in KBS codes.
 *
 * Binding, as Trustee does it: the client hashes JCS({additional-evidence, nonce, tee-pubkey}) with the negotiated
 * algorithm (guest-components `attestation-agent/kbs_protocol/src/client/rcar_client.rs`
 * `get_composite_evidence`) and hands the raw digest to the attester, which uses it unpadded as TPM2_Quote's
 * qualifying data and, v2, writes it to the vTPM NV index whose contents the paravisor puts in the HCL var data's
 * `user-data` (guest-components `attestation-agent/attester/src/az_tdx_vtpm/mod.rs`). Trustee's KBS passes the same
 * raw digest to the verifier (`kbs/src/attestation/coco/builtin.rs`), which requires the TPM nonce to equal it
 * exactly and, v2, `user-data` to begin with it (`deps/verifier/src/az_tdx_vtpm/mod.rs`). Only TDX pads the digest
 * to 64 bytes, because REPORTDATA is 64 bytes; the TPM nonce has no fixed size.
 */
import { createHash } from "node:crypto";
import { parseAzTdxVtpmEvidence } from "../abi/az-evidence.js";
import {
  type AttestedAzTdxVtpmEvidence,
  AZ_TDX_VTPM_TEE,
  type InitData,
  type TeeEvidence,
} from "../attest/index.js";
import { hexOf as hex } from "../encoding.js";
import { TdxError } from "../errors.js";
import { type RuntimeDataHashAlgorithm, runtimeDataObject } from "./binding.js";
import { readCompositeEvidence, readTeeEvidence } from "./evidence.js";
import { canonicalJson } from "./jcs.js";

/** H(JCS({additional-evidence, nonce, tee-pubkey})), not padded: the report data az-tdx-vtpm evidence binds. */
export function runtimeDataDigest(
  nonce: string,
  teePubkey: unknown,
  additionalEvidence: string,
  algorithm: RuntimeDataHashAlgorithm,
): Uint8Array {
  return new Uint8Array(
    createHash(algorithm)
      .update(canonicalJson(runtimeDataObject(nonce, teePubkey, additionalEvidence)), "utf8")
      .digest(),
  );
}

/**
 * Read `tee-evidence` for a session of tee `az-tdx-vtpm`: the composite form (or the bare evidence object, or
 * either as JSON text) holding Trustee's az-tdx-vtpm evidence JSON. Evidence that does not parse is 400
 * KBS_EVIDENCE_INVALID with the parser's code (AZ_EVIDENCE_*) as `cause`.
 */
export function readAzTdxVtpmTeeEvidence(teeEvidence: unknown): {
  evidence: ReturnType<typeof parseAzTdxVtpmEvidence>;
  additionalEvidence: string;
  /** SHA-256 of the primary evidence as sent (its JSON text): the audit log's name for it until it parses. */
  sentSha256: string;
} {
  const { primary, additionalEvidence } = readCompositeEvidence(teeEvidence);
  const sentSha256 = createHash("sha256")
    .update(JSON.stringify(primary) ?? "")
    .digest("hex");
  try {
    return { evidence: parseAzTdxVtpmEvidence(primary), additionalEvidence, sentSha256 };
  } catch (e) {
    if (!(e instanceof TdxError)) throw e;
    throw new TdxError(
      "KBS_EVIDENCE_INVALID",
      `tee-evidence is not az-tdx-vtpm evidence: ${e.code}: ${e.message}`,
      {
        field: `tee-evidence.primary_evidence${e.field ? `.${e.field}` : ""}`,
        hint: `this session's tee is az-tdx-vtpm: send Trustee's evidence JSON {version, tpm_quote: {signature, message, pcrs}, hcl_report, td_quote} (v0, v1 or v2); a bare TD's quote needs a session with "tee": "tdx"`,
        data: { cause: e.toJSON() },
      },
    );
  }
}

/**
 * Read the evidence of a session's tee from `tee-evidence`, with what it must bind: for az-tdx-vtpm the raw
 * runtime-data digest of this session (and the init-data digest, bound through PCR 8). TDX evidence is read as
 * before (its REPORTDATA binding is checked after verification).
 */
export function readSessionEvidence(
  session: { tee: string; nonce: string; hashAlg: string },
  teeEvidence: unknown,
  teePubkey: unknown,
  initData: InitData | undefined,
): { evidence: TeeEvidence; additionalEvidence: string; sentSha256: string } {
  if (session.tee === AZ_TDX_VTPM_TEE) {
    const { evidence, additionalEvidence, sentSha256 } = readAzTdxVtpmTeeEvidence(teeEvidence);
    const reportData = runtimeDataDigest(
      session.nonce,
      teePubkey,
      additionalEvidence,
      session.hashAlg as RuntimeDataHashAlgorithm,
    );
    return {
      evidence: {
        tee: AZ_TDX_VTPM_TEE,
        evidence,
        reportData,
        ...(initData ? { initDataHash: initData.digest } : {}),
      },
      additionalEvidence,
      sentSha256,
    };
  }
  const { evidence, additionalEvidence } = readTeeEvidence(teeEvidence);
  return {
    evidence,
    additionalEvidence,
    sentSha256: createHash("sha256").update(evidence.quote).digest("hex"),
  };
}

/** Verifier codes that mean "not bound to this session" (the TPM nonce, v2 user-data). */
const BINDING_CODES = new Set(["AZ_NONCE_MISMATCH", "AZ_USER_DATA_MISMATCH"]);

/**
 * What a failed az-tdx-vtpm verification means to the TD, in the codes a bare TD gets: evidence made for another
 * session (TPM nonce or v2 user-data) is 401 KBS_REPORTDATA_MISMATCH with `expected` and `actual`; PCR 8 that is
 * not the init-data digest is 401 KBS_INIT_DATA_MISMATCH; anything else (the TD quote, the HCL report, the AK, the
 * TPM signature, a PCR) is 401 KBS_EVIDENCE_REJECTED with the verifier's error in `problems`. Returns when the
 * evidence verified.
 */
export function checkAzTdxVtpmOutcome(
  attested: AttestedAzTdxVtpmEvidence,
  expected: { algorithm: string; initData?: InitData | undefined },
): void {
  const r = attested.result;
  const reportData = attested.expectedReportData;
  if (r.ok) return;
  const problem = r.error ?? { code: "VERIFY_INTERNAL", message: "verification failed" };
  if (BINDING_CODES.has(problem.code)) {
    const where = problem.code === "AZ_NONCE_MISMATCH" ? "the TPM quote's nonce" : "the HCL user-data";
    const actual =
      problem.code === "AZ_NONCE_MISMATCH"
        ? (attested.nonce ?? "")
        : String((problem.data as { actual?: unknown } | undefined)?.actual ?? "");
    throw new TdxError(
      "KBS_REPORTDATA_MISMATCH",
      `${where} is not bound to this session: expected ${expected.algorithm}(JCS({additional-evidence, nonce, tee-pubkey})) = ${hex(reportData)}, got ${actual}`,
      {
        field: problem.code === "AZ_NONCE_MISMATCH" ? "tpm_quote.message.extraData" : "hcl_report.user-data",
        hint: "the evidence must be taken over this session's runtime-data digest (unpadded) as the TPM quote's nonce (and, v2, written as user-data first), with the same tee-pubkey sent in runtime-data",
        data: {
          algorithm: expected.algorithm,
          expected: hex(reportData),
          actual,
          problems: [problem],
        },
      },
    );
  }
  if (problem.code === "AZ_INIT_DATA_MISMATCH") {
    const d = (problem.data ?? {}) as { expected?: unknown; actual?: unknown };
    throw new TdxError("KBS_INIT_DATA_MISMATCH", `init-data does not match PCR 8: ${problem.message}`, {
      field: "init-data",
      hint: 'on Azure the init-data digest (SHA-256: declare algorithm = "sha256") is extended into PCR 8 once; send the exact document the TD bound, or none',
      data: {
        ...(expected.initData ? { algorithm: expected.initData.algorithm } : {}),
        expected: d.expected ?? null,
        actual: d.actual ?? null,
        problems: [problem],
      },
    });
  }
  throw new TdxError(
    "KBS_EVIDENCE_REJECTED",
    `the az-tdx-vtpm evidence did not verify: ${problem.code}: ${problem.message}`,
    {
      ...(problem.hint ? { hint: problem.hint } : {}),
      data: { problems: [problem] },
    },
  );
}
