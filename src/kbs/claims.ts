import { createHash } from "node:crypto";
import type { JWK } from "jose";
import type { Quote, TdReportBody } from "../abi/types.js";
import type { AttestedTeeEvidence, InitData } from "../attest/index.js";
import { hexOf } from "../encoding.js";
import { TdxError } from "../errors.js";
import { canonicalJson } from "./jcs.js";

/** EAR profile Trustee emits; kept so Trustee-side policies and tools read our tokens unchanged. */
export const EAR_PROFILE = "tag:github.com,2024:confidential-containers/Trustee";
/** The submodule that carries the CPU (TDX) appraisal. */
export const CPU_SUBMOD = "cpu0";
export const ANNOTATED_EVIDENCE = "ear.veraison.annotated-evidence";

export type EarStatus = "affirming" | "warning" | "contraindicated";

const hex = hexOf;
/** Hex of `n` as `bytes` little-endian bytes (quote header fields as Trustee prints them). */
const le = (n: number, bytes: number) => {
  const b = new Uint8Array(bytes);
  for (let i = 0, v = n; i < bytes; i++, v = Math.floor(v / 256)) b[i] = v % 256;
  return hexOf(b);
};

/** TD attribute bits Trustee names (td_attributes.*): debug 0, septve_disable 28, pks 30, kl 31, perfmon 63. */
export function tdAttributeFlags(attrs: Uint8Array) {
  const v = attrs.length >= 8 ? Buffer.from(attrs).readBigUInt64LE(0) : 0n;
  const bit = (n: number) => ((v >> BigInt(n)) & 1n) === 1n;
  return {
    debug: bit(0),
    septve_disable: bit(28),
    protection_keys: bit(30),
    key_locker: bit(31),
    perfmon: bit(63),
  };
}

function tdBody(q: Quote): TdReportBody {
  // The pipeline refuses SGX quotes while parsing (src/attest/evidence.ts); this only guards direct callers.
  if (q.body.kind === "sgx")
    throw new TdxError("ATTEST_NOT_TD_QUOTE", "the quote is an SGX enclave quote, not a TD quote", {
      hint: "token claims are made from TD quotes (version 4 or 5, TEE type 0x81)",
    });
  return q.body.report;
}

/** The quote as Trustee's TDX verifier names it (`tdx.quote.*`), every field hex. */
export function trusteeQuoteClaims(q: Quote) {
  const b = tdBody(q);
  const body: Record<string, string> = {
    tcb_svn: hex(b.teeTcbSvn),
    mr_seam: hex(b.mrSeam),
    mrsigner_seam: hex(b.mrSignerSeam),
    seam_attributes: hex(b.seamAttributes),
    td_attributes: hex(b.tdAttributes),
    xfam: hex(b.xfam),
    mr_td: hex(b.mrTd),
    mr_config_id: hex(b.mrConfigId),
    mr_owner: hex(b.mrOwner),
    mr_owner_config: hex(b.mrOwnerConfig),
    rtmr_0: hex(b.rtmr[0]),
    rtmr_1: hex(b.rtmr[1]),
    rtmr_2: hex(b.rtmr[2]),
    rtmr_3: hex(b.rtmr[3]),
    report_data: hex(b.reportData),
  };
  if (b.teeTcbSvn2) body.tee_tcb_svn2 = hex(b.teeTcbSvn2);
  if (b.mrServiceTd) body.mr_servicetd = hex(b.mrServiceTd);
  const header = {
    version: le(q.header.version, 2),
    att_key_type: le(q.header.attestationKeyType, 2),
    tee_type: le(q.header.teeType, 4),
    reserved: le(q.header.qeSvn, 2) + le(q.header.pceSvn, 2),
    vendor_id: hex(q.header.qeVendorId),
    user_data: hex(q.header.userData),
  };
  const out: Record<string, unknown> = { header, body };
  if (q.bodyDescriptor) {
    out.type = le(q.bodyDescriptor.type, 2);
    out.size = le(q.bodyDescriptor.size, 4);
  }
  return out;
}

export interface TokenClaimsInput {
  /** The verified evidence (its typed verification result, event-log replay and parsed quote). */
  attested: AttestedTeeEvidence;
  /** The init-data document bound to MRCONFIGID, when the Attestation carried one. */
  initData?: InitData;
  teePubkey: JWK;
  nonce: string;
  policyId: string;
  /** Additional evidence string bound into REPORTDATA (device evidence), "" when none. */
  additionalEvidence: string;
  hashAlgorithm: string;
}

/** The AR4SI trust vector and EAR status for a TD the attestation policy let through. */
export function appraisalStatus(attested: AttestedTeeEvidence, debug: boolean) {
  const r = attested.result;
  const upToDate = r.tcbStatus === "UpToDate" && !r.collateralExpired;
  const vector = {
    "instance-identity": 2,
    configuration: debug ? 96 : 2,
    executables: attested.eventLog ? (attested.eventLog.matches ? 2 : 96) : 0,
    hardware: upToDate ? 2 : 32,
  };
  const values = Object.values(vector);
  const status: EarStatus = values.some((v) => v >= 96)
    ? "contraindicated"
    : values.some((v) => v >= 32)
      ? "warning"
      : "affirming";
  return { status, vector };
}

/**
 * The claims of an attestation token: an EAR (draft-ietf-rats-ear) with Trustee's layout under
 * submods.cpu0 (the stable names; see docs/kbs.md) plus the flat aliases ITA/MAA-style consumers
 * probe (tdx_mrtd, attester_tcb_status, ...). Time claims (iat/exp) are added by the signer.
 */
export function buildTokenClaims(input: TokenClaimsInput): Record<string, unknown> {
  const { attested, teePubkey } = input;
  const r = attested.result;
  const q = attested.quote;
  const b = attested.report;
  const flags = tdAttributeFlags(b.tdAttributes);
  const { status, vector } = appraisalStatus(attested, flags.debug);
  const quoteClaims = trusteeQuoteClaims(q);
  const tcbStatus = r.tcbStatus ?? "Unknown";
  const tcbDate = r.matchedTcbLevel?.tcbDate;
  const tdx: Record<string, unknown> = {
    quote: quoteClaims,
    td_attributes: flags,
    tcb_status: tcbStatus,
    advisory_ids: r.advisoryIds,
    collateral_expiration_status: r.collateralExpired ? "1" : "0",
  };
  if (tcbDate) tdx.tcb_date = tcbDate;
  if (r.earliestExpiry) tdx.earliest_expiration_date = r.earliestExpiry.iso;
  if (attested.eventLog) tdx.event_log = attested.eventLog;
  const runtimeDataClaims = { nonce: input.nonce, "tee-pubkey": teePubkey };
  const reportData = hex(b.reportData);
  return {
    eat_profile: EAR_PROFILE,
    "ear.verifier-id": { developer: "tdx-attest", build: "tdx-attest 0.1.0" },
    submods: {
      [CPU_SUBMOD]: {
        "ear.status": status,
        "ear.trustworthiness-vector": vector,
        "ear.appraisal-policy-id": input.policyId,
        [ANNOTATED_EVIDENCE]: {
          tdx,
          report_data: reportData,
          runtime_data_claims: runtimeDataClaims,
          // Trustee's names: the init-data digest (or MRCONFIGID as it is when none was sent) and the
          // document's data entries.
          init_data: input.initData ? hex(input.initData.digest) : hex(b.mrConfigId),
          ...(input.initData
            ? { init_data_claims: input.initData.data, init_data_algorithm: input.initData.algorithm }
            : {}),
          runtime_data_hash_algorithm: input.hashAlgorithm,
          evidence_sha256: attested.evidenceSha256,
          additional_evidence: input.additionalEvidence,
          // Device (GPU, ...) evidence is bound into REPORTDATA but not appraised by this broker: say so.
          ...(input.additionalEvidence !== "" ? { additional_evidence_verified: false } : {}),
        },
      },
    },
    // Aliases: Intel Trust Authority v1 / Azure Attestation flat names, and the tdx_tcb_status name
    // consumer code probes for even though no verifier emits it.
    attester_type: "TDX",
    tdx_mrtd: hex(b.mrTd),
    tdx_mrseam: hex(b.mrSeam),
    tdx_mrsignerseam: hex(b.mrSignerSeam),
    tdx_seam_attributes: hex(b.seamAttributes),
    tdx_tee_tcb_svn: hex(b.teeTcbSvn),
    tdx_td_attributes: hex(b.tdAttributes),
    tdx_td_attributes_debug: flags.debug,
    tdx_is_debuggable: flags.debug,
    tdx_xfam: hex(b.xfam),
    tdx_mrconfigid: hex(b.mrConfigId),
    tdx_mrowner: hex(b.mrOwner),
    tdx_mrownerconfig: hex(b.mrOwnerConfig),
    tdx_rtmr0: hex(b.rtmr[0]),
    tdx_rtmr1: hex(b.rtmr[1]),
    tdx_rtmr2: hex(b.rtmr[2]),
    tdx_rtmr3: hex(b.rtmr[3]),
    tdx_report_data: reportData,
    attester_tcb_status: tcbStatus,
    tdx_tcb_status: tcbStatus,
    attester_advisory_ids: r.advisoryIds,
    ...(tcbDate ? { attester_tcb_date: tcbDate } : {}),
    attester_runtime_data: runtimeDataClaims,
  };
}

/** Where Trustee's KBS looks for the TEE key in a token, in its order (trustee kbs/src/token/mod.rs). */
const TEE_PUBKEY_POINTERS = [
  `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/runtime_data_claims/tee-pubkey`,
  "/tdx/attester_runtime_data/tee-pubkey",
  "/attester_runtime_data/tee-pubkey",
  "/customized_claims/runtime_data/tee-pubkey",
  "/tee-pubkey",
];

/** The keys of a JSON pointer, unescaped; the pointers in use are few (claim names, policy rules). */
const pointerKeys = new Map<string, string[]>();

function keysOf(pointer: string): string[] {
  let keys = pointerKeys.get(pointer);
  if (!keys) {
    keys = pointer
      .split("/")
      .slice(1)
      .map((raw) => raw.replace(/~1/g, "/").replace(/~0/g, "~"));
    if (pointerKeys.size >= 4096) pointerKeys.clear();
    pointerKeys.set(pointer, keys);
  }
  return keys;
}

/** RFC 6901 JSON pointer lookup (own members only). */
export function jsonPointer(doc: unknown, pointer: string): unknown {
  if (pointer === "") return doc;
  let cur: unknown = doc;
  for (const key of keysOf(pointer)) {
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export function teePubkeyFromClaims(claims: unknown): unknown {
  for (const p of TEE_PUBKEY_POINTERS) {
    const v = jsonPointer(claims, p);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * The stable short claim names resource policies use, each resolved from the token at one fixed
 * place. Names never change meaning once released (docs/kbs.md lists them).
 */
export const CLAIM_NAMES: Record<string, string> = {
  ear_status: `/submods/${CPU_SUBMOD}/ear.status`,
  attestation_policy: `/submods/${CPU_SUBMOD}/ear.appraisal-policy-id`,
  tcb_status: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/tdx/tcb_status`,
  advisory_ids: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/tdx/advisory_ids`,
  tcb_date: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/tdx/tcb_date`,
  collateral_expired: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/tdx/collateral_expiration_status`,
  collateral_expires_at: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/tdx/earliest_expiration_date`,
  debug: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/tdx/td_attributes/debug`,
  report_data: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/report_data`,
  tee_pubkey: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/runtime_data_claims/tee-pubkey`,
  event_log_matches: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/tdx/event_log/matches`,
  evidence_sha256: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/evidence_sha256`,
  init_data: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/init_data`,
  init_data_claims: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/init_data_claims`,
  // az-tdx-vtpm: the vTPM's SHA-256 PCRs ({pcr00: hex, ...}); one PCR is pcrs/pcr07 (see claimPointer).
  pcrs: `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/az-tdx-vtpm/tpm`,
};
for (const f of [
  "mr_td",
  "mr_seam",
  "mrsigner_seam",
  "seam_attributes",
  "td_attributes",
  "xfam",
  "mr_config_id",
  "mr_owner",
  "mr_owner_config",
  "rtmr_0",
  "rtmr_1",
  "rtmr_2",
  "rtmr_3",
  "tcb_svn",
  "tee_tcb_svn2",
  "mr_servicetd",
])
  CLAIM_NAMES[f] = `/submods/${CPU_SUBMOD}/${ANNOTATED_EVIDENCE}/tdx/quote/body/${f}`;

/**
 * The JSON pointer of a stable claim name; `init_data_claims/<entry>` names one init-data entry
 * (e.g. init_data_claims/policy.rego), `pcrs/pcrNN` one PCR of an az-tdx-vtpm token (e.g. pcrs/pcr07).
 */
export function claimPointer(name: string): string | undefined {
  const slash = name.indexOf("/");
  if (slash > 0 && name.slice(0, slash) === "init_data_claims") {
    const entry = name
      .slice(slash + 1)
      .replace(/~/g, "~0")
      .replace(/\//g, "~1");
    return `${CLAIM_NAMES.init_data_claims}/${entry}`;
  }
  // One PCR: two decimal digits as Trustee names them (pcr00 .. pcr23 on Azure); anything else is unknown.
  if (slash > 0 && name.slice(0, slash) === "pcrs")
    return /^pcr\d{2}$/.test(name.slice(slash + 1))
      ? `${CLAIM_NAMES.pcrs}/${name.slice(slash + 1)}`
      : undefined;
  return CLAIM_NAMES[name];
}

/** Resolve a claim by stable name or JSON pointer. collateral_expired reads as a boolean. */
export function claimValue(claims: unknown, name: string): unknown {
  const pointer = name.startsWith("/") ? name : claimPointer(name);
  if (pointer === undefined) return undefined;
  const v = jsonPointer(claims, pointer);
  if (name === "collateral_expired" && typeof v === "string") return v !== "0";
  return v;
}

/**
 * The claims that belong to one attestation alone: the runtime data (nonce, tee-pubkey), REPORTDATA,
 * the evidence hash and the JWT's registered claims. Everything else is the same for every attestation
 * of one TD image on one platform with one collateral set, and is stored once (a claim set) however
 * many attestations share it.
 */
const SESSION_CLAIM_PATHS: string[][] = [
  ...["report_data", "runtime_data_claims", "runtime_data_hash_algorithm", "evidence_sha256"].map((k) => [
    "submods",
    CPU_SUBMOD,
    ANNOTATED_EVIDENCE,
    k,
  ]),
  ["submods", CPU_SUBMOD, ANNOTATED_EVIDENCE, "additional_evidence"],
  ["submods", CPU_SUBMOD, ANNOTATED_EVIDENCE, "additional_evidence_verified"],
  ["submods", CPU_SUBMOD, ANNOTATED_EVIDENCE, "tdx", "quote", "body", "report_data"],
  ["tdx_report_data"],
  ["attester_runtime_data"],
  ["iss"],
  ["iat"],
  ["nbf"],
  ["exp"],
  ["jti"],
];

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/** SESSION_CLAIM_PATHS as a tree: `true` marks a claim of the session's own. */
type PathTree = { [k: string]: PathTree | true };
const SESSION_CLAIM_TREE: PathTree = {};
for (const path of SESSION_CLAIM_PATHS) {
  let node = SESSION_CLAIM_TREE;
  for (const k of path.slice(0, -1)) {
    node[k] ??= {};
    node = node[k] as PathTree;
  }
  node[path[path.length - 1]!] = true;
}

/**
 * Split token claims into the shared claim set and this attestation's own claims. Neither side is a deep
 * copy: objects on the session claims' paths are copied (shallow), everything else is shared with `claims`.
 * The copies are built member by member, never with `delete` (which would turn them into slow
 * dictionary objects for the canonical JSON that follows).
 */
export function splitClaims(claims: Json): { shared: Json; session: Json } {
  return splitBy(claims, SESSION_CLAIM_TREE);
}

function splitBy(from: Json, tree: PathTree): { shared: Json; session: Json } {
  const shared: Json = {};
  const session: Json = {};
  for (const k of Object.keys(from)) {
    const v = from[k];
    const t = Object.hasOwn(tree, k) ? tree[k] : undefined;
    if (t === true) session[k] = v;
    else if (t !== undefined && isObj(v)) {
      const inner = splitBy(v, t);
      shared[k] = inner.shared;
      if (Object.keys(inner.session).length > 0) session[k] = inner.session;
    } else shared[k] = v;
  }
  return { shared, session };
}

/**
 * The inverse of splitClaims: the attestation's own claims put back into its claim set. Copy on touch:
 * only the objects the session claims go into are copied, the rest is shared with `shared` (which callers
 * may keep frozen, see freezeClaims).
 */
export function mergeClaims(shared: Json, session: Json): Json {
  const put = (to: Json, from: Json): Json => {
    const out: Json = { ...to };
    for (const k of Object.keys(from)) {
      const v = from[k];
      out[k] = isObj(v) && isObj(out[k]) ? put(out[k] as Json, v) : v;
    }
    return out;
  };
  return put(shared, session);
}

/** Freeze a parsed claim set in depth, so the copies mergeClaims shares it with cannot change it. */
export function freezeClaims<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) freezeClaims(x);
    Object.freeze(v);
  }
  return v;
}

/** A claim set as stored: RFC 8785 canonical JSON and its SHA-256 (the reference audit rows keep). */
export function claimSetOf(shared: Json): { digest: string; body: string } {
  const body = canonicalJson(shared);
  return { digest: createHash("sha256").update(body).digest("hex"), body };
}
