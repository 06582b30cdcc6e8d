import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { parseTdReport, serializeTdReport, type TdReport } from "../abi/index.js";
import { TdxError } from "../errors.js";

/**
 * The simulated CPU + TDX module: builds a TD (MRTD exactly as TDH.MEM.PAGE.ADD / TDH.MR.EXTEND
 * accumulate it), extends RTMRs (TDG.MR.RTMR.EXTEND) and produces TDREPORTs (TDG.MR.REPORT).
 *
 * The real REPORTMACSTRUCT MAC is computed by the CPU with a model-specific key and an algorithm Intel
 * does not publish; it cannot be reproduced. The simulation uses HMAC-SHA-256 under a per-platform
 * secret over the same bytes the real MAC covers (REPORTMACSTRUCT up to the MAC field: bytes 0..224,
 * which bind TEE_TCB_INFO and TDINFO through their SHA-384 hashes). Only the same platform's Quoting
 * Enclave can check it, as with EVERIFYREPORT2.
 */

export const PAGE_SIZE = 4096;
const MR_EXTEND_CHUNK = 256;

/** One section of a TD image (as in a TDVF descriptor): GPA, size in pages, content, how it is measured. */
export interface TdSection {
  name?: string;
  /** Guest-physical address of the first page (4 KiB aligned). */
  gpa: bigint;
  pages: number;
  /** Initial content; zero-padded to pages*4096. */
  content?: Uint8Array;
  /** TDH.MR.EXTEND every 256-byte chunk (TDVF attribute MR_EXTEND). */
  mrExtend: boolean;
  /** Accepted later by the guest, never TDH.MEM.PAGE.ADDed (TDVF attribute PAGE_AUG): not measured. */
  pageAug?: boolean;
}

export interface TdImage {
  sections: TdSection[];
  /**
   * "single-pass" (upstream KVM/QEMU: each page's PAGE.ADD then its 16 MR.EXTENDs) or "two-pass" (all
   * PAGE.ADDs of a section, then all its MR.EXTENDs; older stacks).
   */
  order?: "single-pass" | "two-pass";
}

function block(api: "MEM.PAGE.ADD" | "MR.EXTEND", gpa: bigint): Uint8Array {
  const b = new Uint8Array(128);
  b.set(Buffer.from(api, "ascii"), 0);
  new DataView(b.buffer).setBigUint64(16, gpa, true);
  return b;
}

function checkSection(s: TdSection, i: number): void {
  const field = `sections[${i}]`;
  if (s.gpa % BigInt(PAGE_SIZE) !== 0n || s.gpa < 0n) {
    throw new TdxError("SIM_TD_IMAGE_INVALID", `${field}.gpa 0x${s.gpa.toString(16)} is not 4 KiB aligned`, {
      field: `${field}.gpa`,
      hint: "give each section a page-aligned guest-physical address",
    });
  }
  if (!Number.isInteger(s.pages) || s.pages <= 0) {
    throw new TdxError("SIM_TD_IMAGE_INVALID", `${field}.pages must be a positive integer`, {
      field: `${field}.pages`,
      hint: "give the section size in 4 KiB pages",
    });
  }
  if (s.content && s.content.length > s.pages * PAGE_SIZE) {
    throw new TdxError("SIM_TD_IMAGE_INVALID", `${field}.content is larger than ${s.pages} pages`, {
      field: `${field}.content`,
      hint: "increase pages or shorten the content",
    });
  }
}

/** MRTD of a TD built from `image`: SHA-384 over the 128-byte blocks and 256-byte chunks in SEAMCALL order. */
export function measureMrTd(image: TdImage): Uint8Array {
  const h = createHash("sha384");
  const twoPass = image.order === "two-pass";
  image.sections.forEach((s, i) => {
    checkSection(s, i);
    const content = new Uint8Array(s.pages * PAGE_SIZE);
    if (s.content) content.set(s.content);
    const extendPage = (p: number) => {
      for (let c = 0; c < PAGE_SIZE; c += MR_EXTEND_CHUNK) {
        const gpa = s.gpa + BigInt(p * PAGE_SIZE + c);
        h.update(block("MR.EXTEND", gpa));
        h.update(content.subarray(p * PAGE_SIZE + c, p * PAGE_SIZE + c + MR_EXTEND_CHUNK));
      }
    };
    for (let p = 0; p < s.pages; p++) {
      if (!s.pageAug) h.update(block("MEM.PAGE.ADD", s.gpa + BigInt(p * PAGE_SIZE)));
      if (!twoPass && s.mrExtend) extendPage(p);
    }
    if (twoPass && s.mrExtend) for (let p = 0; p < s.pages; p++) extendPage(p);
  });
  return new Uint8Array(h.digest());
}

/** TDG.MR.RTMR.EXTEND: RTMR = SHA-384(RTMR || data), data exactly 48 bytes. */
export function rtmrExtend(current: Uint8Array, data: Uint8Array): Uint8Array {
  if (current.length !== 48 || data.length !== 48) {
    throw new TdxError(
      "SIM_RTMR_EXTEND_SIZE",
      "an RTMR extend takes a 48-byte register and 48 bytes of data",
      {
        field: "data",
        hint: "extend with a SHA-384 digest (48 bytes)",
        data: { registerSize: current.length, dataSize: data.length },
      },
    );
  }
  return new Uint8Array(createHash("sha384").update(current).update(data).digest());
}

/** A TDX module's identity as TEE_TCB_INFO reports it. */
export interface TdxModuleIdentity {
  version: "1.0" | "1.5";
  /** VALID bitmap: 0x1FF (TDX 1.0) or 0x301FF (TDX 1.5, TEE_TCB_SVN2 valid). */
  valid: bigint;
  /** The TCB SVN the TD was launched with (TDX 1.5: kept across TD-preserving module updates). */
  teeTcbSvn: Uint8Array;
  /**
   * TDX 1.5: the current TCB SVN, after any TD-preserving update of the module (equal to teeTcbSvn
   * without one); zero for 1.0. Intel's checkForRelaunch compares it with the latest TCB Info levels.
   */
  teeTcbSvn2: Uint8Array;
  mrSeam: Uint8Array;
  /** Zero for Intel-signed modules. */
  mrSignerSeam: Uint8Array;
  /** SEAM attributes: zero for Intel modules. */
  seamAttributes: Uint8Array;
}

/**
 * The module identity for TDX 1.0 (TEE_TCB_SVN[1] = 0: verifiers compare all 16 bytes against the TCB
 * level) or TDX 1.5 (TEE_TCB_SVN[1] = 1: selects tdxModuleIdentities "TDX_01", byte 0 is the module SVN).
 * `launchModuleSvn` (TDX 1.5 only) simulates a TD-preserving update: the TD was launched on that module
 * SVN, which TEE_TCB_SVN keeps, while TEE_TCB_SVN2 reports the running module's `moduleSvn`.
 * MRSEAM is a simulated value derived from the version and the running module's SVN (real MRSEAMs are
 * hashes of Intel's binaries).
 */
export function tdxModuleIdentity(
  version: "1.0" | "1.5",
  svns: { moduleSvn: number; microcodeSvn: number; launchModuleSvn?: number },
): TdxModuleIdentity {
  if (svns.launchModuleSvn !== undefined && version !== "1.5") {
    throw new TdxError("SIM_TDX_MODULE_VERSION", "a TD-preserving module update needs a TDX 1.5 module", {
      field: "launchModuleSvn",
      hint: "TEE_TCB_SVN2 exists from TDX 1.5 on; use a 1.5 module or drop launchModuleSvn",
    });
  }
  const current = new Uint8Array(16);
  if (version === "1.5") {
    current[0] = svns.moduleSvn;
    current[1] = 1;
  } else {
    current[0] = 5;
    current[1] = 0;
  }
  current[2] = svns.microcodeSvn;
  const teeTcbSvn = current.slice();
  if (svns.launchModuleSvn !== undefined) teeTcbSvn[0] = svns.launchModuleSvn;
  const label = `tdx-attest simulated TDX module ${version} svn ${current[0]}`;
  return {
    version,
    valid: version === "1.5" ? 0x301ffn : 0x1ffn,
    teeTcbSvn,
    teeTcbSvn2: version === "1.5" ? current : new Uint8Array(16),
    mrSeam: new Uint8Array(createHash("sha384").update(label).digest()),
    mrSignerSeam: new Uint8Array(48),
    seamAttributes: new Uint8Array(8),
  };
}

/** TD_PARAMS-provided identity of a TD plus its measurement registers. */
export interface TdState {
  attributes: bigint;
  xfam: bigint;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  /** SERVTD_HASH (TDX 1.5): zero when no service TD is bound. */
  servTdHash: Uint8Array;
}

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

const REPORT_MAC_COVERED = 224;

function mac(key: Uint8Array, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(bytes.subarray(0, REPORT_MAC_COVERED)).digest());
}

/** TDG.MR.REPORT: the 1024-byte TDREPORT_STRUCT for `reportData`. */
export function tdgMrReport(opts: {
  module: TdxModuleIdentity;
  td: TdState;
  cpuSvn: Uint8Array;
  macKey: Uint8Array;
  reportData: Uint8Array;
}): Uint8Array {
  if (opts.reportData.length !== 64) {
    throw new TdxError("SIM_REPORT_DATA_SIZE", `REPORTDATA must be 64 bytes, got ${opts.reportData.length}`, {
      field: "reportData",
      hint: "pass exactly 64 bytes (128 hex digits); pad a shorter value with zeros",
    });
  }
  const m = opts.module;
  const td = opts.td;
  const r: Omit<TdReport, "bytes" | "layout"> = {
    reportMacStruct: {
      reportType: { type: 0x81, subtype: 0, version: 0, reserved: 0 },
      reserved1: new Uint8Array(12),
      cpuSvn: opts.cpuSvn,
      teeTcbInfoHash: new Uint8Array(48),
      teeInfoHash: new Uint8Array(48),
      reportData: opts.reportData,
      reserved2: new Uint8Array(32),
      mac: new Uint8Array(32),
    },
    teeTcbInfo: {
      valid: u64le(m.valid),
      teeTcbSvn: m.teeTcbSvn,
      mrSeam: m.mrSeam,
      mrSignerSeam: m.mrSignerSeam,
      attributes: m.seamAttributes,
      teeTcbSvn2: m.teeTcbSvn2,
      reserved: new Uint8Array(95),
    },
    reserved: new Uint8Array(17),
    tdInfo: {
      attributes: u64le(td.attributes),
      xfam: u64le(td.xfam),
      mrTd: td.mrTd,
      mrConfigId: td.mrConfigId,
      mrOwner: td.mrOwner,
      mrOwnerConfig: td.mrOwnerConfig,
      rtmr: td.rtmr,
      servTdHash: td.servTdHash,
      reserved: new Uint8Array(64),
    },
  };
  const bytes = serializeTdReport(r);
  bytes.set(
    createHash("sha384")
      .update(bytes.subarray(256, 256 + 239))
      .digest(),
    32,
  );
  bytes.set(createHash("sha384").update(bytes.subarray(512, 1024)).digest(), 80);
  bytes.set(mac(opts.macKey, bytes), 224);
  return bytes;
}

/**
 * What EVERIFYREPORT2 and the TD QE check before quoting: a TDX report type, the MAC under this
 * platform's key, and TEE_TCB_INFO_HASH / TEE_INFO_HASH against the structures they hash.
 */
export function verifyTdReport(bytes: Uint8Array, macKey: Uint8Array): TdReport {
  const report = parseTdReport(bytes);
  const type = report.reportMacStruct.reportType;
  if (type.type !== 0x81 || type.subtype !== 0 || type.reserved !== 0) {
    throw new TdxError("SIM_TDREPORT_TYPE", `REPORTTYPE ${type.type}/${type.subtype} is not a TDX report`, {
      field: "reportMacStruct.reportType",
      offset: 0,
      hint: "pass a TDREPORT from TDG.MR.REPORT (type 0x81, subtype 0)",
    });
  }
  const expected = mac(macKey, bytes);
  if (!timingSafeEqual(expected, report.reportMacStruct.mac)) {
    throw new TdxError("SIM_TDREPORT_MAC_INVALID", "the TDREPORT MAC does not verify on this platform", {
      field: "reportMacStruct.mac",
      offset: 224,
      hint: "the report was altered or was produced on another platform; take a fresh report on this platform",
    });
  }
  const tcbHash = createHash("sha384")
    .update(bytes.subarray(256, 256 + 239))
    .digest();
  if (!timingSafeEqual(tcbHash, report.reportMacStruct.teeTcbInfoHash)) {
    throw new TdxError("SIM_TDREPORT_TEE_TCB_INFO_HASH", "TEE_TCB_INFO_HASH does not match TEE_TCB_INFO", {
      field: "reportMacStruct.teeTcbInfoHash",
      offset: 32,
      hint: "the TEE_TCB_INFO part of the report was altered",
    });
  }
  const infoHash = createHash("sha384").update(bytes.subarray(512, 1024)).digest();
  if (!timingSafeEqual(infoHash, report.reportMacStruct.teeInfoHash)) {
    throw new TdxError("SIM_TDREPORT_TEE_INFO_HASH", "TEE_INFO_HASH does not match TDINFO", {
      field: "reportMacStruct.teeInfoHash",
      offset: 80,
      hint: "the TDINFO part of the report (MRTD, RTMRs, ...) was altered",
    });
  }
  return report;
}
