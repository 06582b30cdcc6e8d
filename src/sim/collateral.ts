import { sign } from "node:crypto";
import type { Collateral } from "../collateral/types.js";
import type { SimKey } from "./pki.js";
import {
  type CollateralSpec,
  FMSPC,
  type ModuleLevelSpec,
  PCE_ID,
  TCB_EVALUATION_DATA_NUMBER,
  type TcbLevelSpec,
} from "./scenarios.js";

/**
 * TCB Info v3 (id "TDX") and QE Identity v2 (id "TD_QE") exactly as Intel's PCS publishes them: compact
 * JSON, Intel's member order, upper-case hex, dates as "YYYY-MM-DDThh:mm:ssZ", signed with ECDSA P-256 /
 * SHA-256 over the bytes of the inner object, the signature as 64 bytes r||s in lower-case hex.
 */

/** Intel's TD QE: MRSIGNER and ISVPRODID of the production TD Quoting Enclave. */
export const TD_QE_MRSIGNER = "DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5";
export const TD_QE_ISVPRODID = 2;
export const TD_QE_MISCSELECT = "00000000";
export const TD_QE_MISCSELECT_MASK = "FFFFFFFF";
export const TD_QE_ATTRIBUTES = "11000000000000000000000000000000";
export const TD_QE_ATTRIBUTES_MASK = "FBFFFFFFFFFFFFFF0000000000000000";

const ZERO_MRSIGNER_48 = "0".repeat(96);

/** "2026-11-26T13:07:25Z": Intel's date format (whole seconds, no milliseconds). */
export function intelDate(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

const SGX_COMPONENT_NAMES: Array<{ category?: string; type?: string }> = [
  { category: "BIOS", type: "Early Microcode Update" },
  { category: "OS/VMM", type: "SGX Late Microcode Update" },
  { category: "OS/VMM", type: "TXT SINIT" },
  { category: "BIOS" },
  { category: "BIOS" },
  { category: "BIOS" },
  {},
  { category: "OS/VMM", type: "SEAMLDR ACM" },
];
const TDX_COMPONENT_NAMES: Array<{ category?: string; type?: string }> = [
  { category: "OS/VMM", type: "TDX Module" },
  { category: "OS/VMM", type: "TDX Module" },
  { category: "OS/VMM", type: "TDX Late Microcode Update" },
];

function components(svns: number[], names: Array<{ category?: string; type?: string }>) {
  return svns.map((svn, i) => {
    const n = names[i] ?? {};
    const c: { svn: number; category?: string; type?: string } = { svn };
    if (n.category !== undefined) c.category = n.category;
    if (n.type !== undefined) c.type = n.type;
    return c;
  });
}

function tcbLevelJson(l: TcbLevelSpec) {
  const out: Record<string, unknown> = {
    tcb: {
      sgxtcbcomponents: components(l.sgx, SGX_COMPONENT_NAMES),
      pcesvn: l.pceSvn,
      tdxtcbcomponents: components(l.tdx, TDX_COMPONENT_NAMES),
    },
    tcbDate: l.tcbDate,
    tcbStatus: l.tcbStatus,
  };
  if (l.advisoryIDs && l.advisoryIDs.length > 0) out.advisoryIDs = l.advisoryIDs;
  return out;
}

function isvLevelJson(l: ModuleLevelSpec) {
  const out: Record<string, unknown> = {
    tcb: { isvsvn: l.isvsvn },
    tcbDate: l.tcbDate,
    tcbStatus: l.tcbStatus,
  };
  if (l.advisoryIDs && l.advisoryIDs.length > 0) out.advisoryIDs = l.advisoryIDs;
  return out;
}

function moduleIdentity(id: string, levels: ModuleLevelSpec[]) {
  return {
    id,
    mrsigner: ZERO_MRSIGNER_48,
    attributes: "0000000000000000",
    attributesMask: "FFFFFFFFFFFFFFFF",
    tcbLevels: levels.map(isvLevelJson),
  };
}

/** The signed `tcbInfo` object text. */
export function tcbInfoText(spec: CollateralSpec, issueDate: Date, nextUpdate: Date): string {
  return JSON.stringify({
    id: "TDX",
    version: 3,
    issueDate: intelDate(issueDate),
    nextUpdate: intelDate(nextUpdate),
    fmspc: FMSPC,
    pceId: PCE_ID,
    tcbType: 0,
    tcbEvaluationDataNumber: TCB_EVALUATION_DATA_NUMBER,
    tdxModule: {
      mrsigner: ZERO_MRSIGNER_48,
      attributes: "0000000000000000",
      attributesMask: "FFFFFFFFFFFFFFFF",
    },
    tdxModuleIdentities: [
      moduleIdentity("TDX_03", spec.tdxModuleLevels.TDX_03),
      moduleIdentity("TDX_01", spec.tdxModuleLevels.TDX_01),
    ],
    tcbLevels: spec.tcbLevels.map(tcbLevelJson),
  });
}

/** The signed `enclaveIdentity` object text. */
export function qeIdentityText(spec: CollateralSpec, issueDate: Date, nextUpdate: Date): string {
  return JSON.stringify({
    id: "TD_QE",
    version: 2,
    issueDate: intelDate(issueDate),
    nextUpdate: intelDate(nextUpdate),
    tcbEvaluationDataNumber: TCB_EVALUATION_DATA_NUMBER,
    miscselect: TD_QE_MISCSELECT,
    miscselectMask: TD_QE_MISCSELECT_MASK,
    attributes: TD_QE_ATTRIBUTES,
    attributesMask: TD_QE_ATTRIBUTES_MASK,
    mrsigner: TD_QE_MRSIGNER,
    isvprodid: TD_QE_ISVPRODID,
    tcbLevels: spec.qeLevels.map(isvLevelJson),
  });
}

/** ECDSA P-256 / SHA-256 over the UTF-8 bytes of `text`, raw r||s (64 bytes). */
export function signText(text: string, key: SimKey): Uint8Array {
  return new Uint8Array(
    sign("sha256", Buffer.from(text, "utf8"), { key: key.privateKey, dsaEncoding: "ieee-p1363" }),
  );
}

/** A PCS response body: `{"tcbInfo":…,"signature":"…"}` / `{"enclaveIdentity":…,"signature":"…"}`. */
export function pcsBody(kind: "tcbInfo" | "enclaveIdentity", text: string, signature: Uint8Array): string {
  return `{"${kind}":${text},"signature":"${Buffer.from(signature).toString("hex")}"}`;
}

export type { Collateral };
