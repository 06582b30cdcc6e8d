import { TdxError } from "../errors.js";
import { putBytes } from "./bytes.js";
import type { FieldRange, TdReport } from "./types.js";
import { TDREPORT_SIZE } from "./types.js";

/** TDREPORT_STRUCT field table: [path, absolute offset, size] (TDX module td_report_t). */
const TDREPORT_FIELDS = [
  ["reportMacStruct.reportType", 0, 4],
  ["reportMacStruct.reserved1", 4, 12],
  ["reportMacStruct.cpuSvn", 16, 16],
  ["reportMacStruct.teeTcbInfoHash", 32, 48],
  ["reportMacStruct.teeInfoHash", 80, 48],
  ["reportMacStruct.reportData", 128, 64],
  ["reportMacStruct.reserved2", 192, 32],
  ["reportMacStruct.mac", 224, 32],
  ["teeTcbInfo.valid", 256, 8],
  ["teeTcbInfo.teeTcbSvn", 264, 16],
  ["teeTcbInfo.mrSeam", 280, 48],
  ["teeTcbInfo.mrSignerSeam", 328, 48],
  ["teeTcbInfo.attributes", 376, 8],
  ["teeTcbInfo.teeTcbSvn2", 384, 16],
  ["teeTcbInfo.reserved", 400, 95],
  ["reserved", 495, 17],
  ["tdInfo.attributes", 512, 8],
  ["tdInfo.xfam", 520, 8],
  ["tdInfo.mrTd", 528, 48],
  ["tdInfo.mrConfigId", 576, 48],
  ["tdInfo.mrOwner", 624, 48],
  ["tdInfo.mrOwnerConfig", 672, 48],
  ["tdInfo.rtmr0", 720, 48],
  ["tdInfo.rtmr1", 768, 48],
  ["tdInfo.rtmr2", 816, 48],
  ["tdInfo.rtmr3", 864, 48],
  ["tdInfo.servTdHash", 912, 48],
  ["tdInfo.reserved", 960, 64],
] as const;

/** Offsets of the parts of a TDREPORT that other code hashes or MACs. */
export const TDREPORT_OFFSETS = {
  reportMacStruct: 0,
  mac: 224,
  teeTcbInfo: 256,
  teeTcbInfoSize: 239,
  tdInfo: 512,
  tdInfoSize: 512,
} as const;

/** Parse a 1024-byte TDREPORT_STRUCT (zero-copy). */
export function parseTdReport(bytes: Uint8Array): TdReport {
  if (bytes.length !== TDREPORT_SIZE) {
    throw new TdxError("TDREPORT_SIZE", `a TDREPORT is exactly 1024 bytes, got ${bytes.length}`, {
      field: "tdreport",
      offset: Math.min(bytes.length, TDREPORT_SIZE),
      hint: "pass the raw 1024-byte TDREPORT_STRUCT returned by TDG.MR.REPORT (e.g. from /dev/tdx_guest)",
    });
  }
  const v = (o: number, n: number) => bytes.subarray(o, o + n);
  return {
    bytes,
    reportMacStruct: {
      reportType: { type: bytes[0]!, subtype: bytes[1]!, version: bytes[2]!, reserved: bytes[3]! },
      reserved1: v(4, 12),
      cpuSvn: v(16, 16),
      teeTcbInfoHash: v(32, 48),
      teeInfoHash: v(80, 48),
      reportData: v(128, 64),
      reserved2: v(192, 32),
      mac: v(224, 32),
    },
    teeTcbInfo: {
      valid: v(256, 8),
      teeTcbSvn: v(264, 16),
      mrSeam: v(280, 48),
      mrSignerSeam: v(328, 48),
      attributes: v(376, 8),
      teeTcbSvn2: v(384, 16),
      reserved: v(400, 95),
    },
    reserved: v(495, 17),
    tdInfo: {
      attributes: v(512, 8),
      xfam: v(520, 8),
      mrTd: v(528, 48),
      mrConfigId: v(576, 48),
      mrOwner: v(624, 48),
      mrOwnerConfig: v(672, 48),
      rtmr: [v(720, 48), v(768, 48), v(816, 48), v(864, 48)],
      servTdHash: v(912, 48),
      reserved: v(960, 64),
    },
    layout: tdReportLayout(),
  };
}

export function tdReportLayout(): FieldRange[] {
  return TDREPORT_FIELDS.map(([path, offset, size]) => ({ path, offset, size }));
}

/** Serialize a TDREPORT from typed values (1024 bytes). */
export function serializeTdReport(r: Omit<TdReport, "bytes" | "layout">): Uint8Array {
  const out = new Uint8Array(TDREPORT_SIZE);
  const m = r.reportMacStruct;
  out[0] = m.reportType.type;
  out[1] = m.reportType.subtype;
  out[2] = m.reportType.version;
  out[3] = m.reportType.reserved;
  putBytes(out, 4, m.reserved1, 12, "reportMacStruct.reserved1");
  putBytes(out, 16, m.cpuSvn, 16, "reportMacStruct.cpuSvn");
  putBytes(out, 32, m.teeTcbInfoHash, 48, "reportMacStruct.teeTcbInfoHash");
  putBytes(out, 80, m.teeInfoHash, 48, "reportMacStruct.teeInfoHash");
  putBytes(out, 128, m.reportData, 64, "reportMacStruct.reportData");
  putBytes(out, 192, m.reserved2, 32, "reportMacStruct.reserved2");
  putBytes(out, 224, m.mac, 32, "reportMacStruct.mac");
  const t = r.teeTcbInfo;
  putBytes(out, 256, t.valid, 8, "teeTcbInfo.valid");
  putBytes(out, 264, t.teeTcbSvn, 16, "teeTcbInfo.teeTcbSvn");
  putBytes(out, 280, t.mrSeam, 48, "teeTcbInfo.mrSeam");
  putBytes(out, 328, t.mrSignerSeam, 48, "teeTcbInfo.mrSignerSeam");
  putBytes(out, 376, t.attributes, 8, "teeTcbInfo.attributes");
  putBytes(out, 384, t.teeTcbSvn2, 16, "teeTcbInfo.teeTcbSvn2");
  putBytes(out, 400, t.reserved, 95, "teeTcbInfo.reserved");
  putBytes(out, 495, r.reserved, 17, "reserved");
  const d = r.tdInfo;
  putBytes(out, 512, d.attributes, 8, "tdInfo.attributes");
  putBytes(out, 520, d.xfam, 8, "tdInfo.xfam");
  putBytes(out, 528, d.mrTd, 48, "tdInfo.mrTd");
  putBytes(out, 576, d.mrConfigId, 48, "tdInfo.mrConfigId");
  putBytes(out, 624, d.mrOwner, 48, "tdInfo.mrOwner");
  putBytes(out, 672, d.mrOwnerConfig, 48, "tdInfo.mrOwnerConfig");
  for (let i = 0; i < 4; i++) putBytes(out, 720 + 48 * i, d.rtmr[i]!, 48, `tdInfo.rtmr${i}`);
  putBytes(out, 912, d.servTdHash, 48, "tdInfo.servTdHash");
  putBytes(out, 960, d.reserved, 64, "tdInfo.reserved");
  return out;
}

/** A TDREPORT with every field zero, to fill in field by field. */
export function emptyTdReport(): TdReport {
  return parseTdReport(new Uint8Array(TDREPORT_SIZE));
}
