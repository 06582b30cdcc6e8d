import { TdxError } from "../errors.js";
import { putBytes, putU16, putU32 } from "./bytes.js";
import type { FieldRange, QuoteBodyType, SgxReportBody, TdReportBody } from "./types.js";
import { SGX_REPORT_BODY_SIZE, TD_REPORT_BODY_10_SIZE, TD_REPORT_BODY_15_SIZE } from "./types.js";
import { defineView, type FieldSpec, type ViewBase, viewToPlain } from "./view.js";

/** SGX report body field table: [name, offset, size, kind] (linux-sgx sgx_report.h). */
export const SGX_REPORT_FIELDS: readonly FieldSpec[] = [
  ["cpuSvn", 0, 16],
  ["miscSelect", 16, 4, "u32"],
  ["reserved1", 20, 28],
  ["attributes", 48, 16],
  ["mrEnclave", 64, 32],
  ["reserved2", 96, 32],
  ["mrSigner", 128, 32],
  ["reserved3", 160, 96],
  ["isvProdId", 256, 2, "u16"],
  ["isvSvn", 258, 2, "u16"],
  ["reserved4", 260, 60],
  ["reportData", 320, 64],
];

/** TD report body field table (DCAP sgx_report2_body_t / _v1_5_t). */
const TD_FIELDS: readonly FieldSpec[] = [
  ["teeTcbSvn", 0, 16],
  ["mrSeam", 16, 48],
  ["mrSignerSeam", 64, 48],
  ["seamAttributes", 112, 8],
  ["tdAttributes", 120, 8],
  ["xfam", 128, 8],
  ["mrTd", 136, 48],
  ["mrConfigId", 184, 48],
  ["mrOwner", 232, 48],
  ["mrOwnerConfig", 280, 48],
  ["rtmr0", 328, 48],
  ["rtmr1", 376, 48],
  ["rtmr2", 424, 48],
  ["rtmr3", 472, 48],
  ["reportData", 520, 64],
];
const TD15_FIELDS: readonly FieldSpec[] = [
  ["teeTcbSvn2", 584, 16],
  ["mrServiceTd", 600, 48],
];

const SgxReportBodyView = defineView<SgxReportBody>(SGX_REPORT_FIELDS);
const TdReportBody10View = defineView<TdReportBody>(TD_FIELDS);
const TdReportBody15View = defineView<TdReportBody>([...TD_FIELDS, ...TD15_FIELDS]);
for (const View of [TdReportBody10View, TdReportBody15View]) {
  // The four RTMRs as one array, as the TD report body declares them (rt_mr[4]).
  Object.defineProperty(View.prototype, "rtmr", {
    enumerable: true,
    get(this: TdReportBody & ViewBase) {
      const ov = this._ov;
      if (ov !== undefined && "rtmr" in ov) return ov.rtmr;
      const b = this._b;
      const o = this._o + 328;
      return [
        b.subarray(o, o + 48),
        b.subarray(o + 48, o + 96),
        b.subarray(o + 96, o + 144),
        b.subarray(o + 144, o + 192),
      ];
    },
    set(this: ViewBase, value: unknown) {
      if (this._ov === undefined) this._ov = {};
      this._ov.rtmr = value;
    },
  });
}

export function bodySizeOf(type: QuoteBodyType): number {
  return type === 1 ? SGX_REPORT_BODY_SIZE : type === 2 ? TD_REPORT_BODY_10_SIZE : TD_REPORT_BODY_15_SIZE;
}

function need(b: Uint8Array, off: number, size: number, what: string): void {
  if (off + size > b.length) {
    throw new TdxError(
      "ABI_TRUNCATED",
      `${what} needs ${size} bytes at offset ${off}, only ${b.length - off} left`,
      {
        field: what,
        offset: off,
        hint: "the input is truncated; pass the complete structure",
      },
    );
  }
}

/** Parse a 384-byte SGX report body at `off` (zero-copy: fields are views created on first read). */
export function parseSgxReportBody(b: Uint8Array, off = 0): SgxReportBody {
  need(b, off, SGX_REPORT_BODY_SIZE, "sgxReportBody");
  return new SgxReportBodyView(b, off);
}

/** Serialize an SGX report body to its 384 bytes. */
export function encodeSgxReportBody(r: SgxReportBody): Uint8Array {
  const out = new Uint8Array(SGX_REPORT_BODY_SIZE);
  putBytes(out, 0, r.cpuSvn, 16, "cpuSvn");
  putU32(out, 16, r.miscSelect);
  putBytes(out, 20, r.reserved1, 28, "reserved1");
  putBytes(out, 48, r.attributes, 16, "attributes");
  putBytes(out, 64, r.mrEnclave, 32, "mrEnclave");
  putBytes(out, 96, r.reserved2, 32, "reserved2");
  putBytes(out, 128, r.mrSigner, 32, "mrSigner");
  putBytes(out, 160, r.reserved3, 96, "reserved3");
  putU16(out, 256, r.isvProdId);
  putU16(out, 258, r.isvSvn);
  putBytes(out, 260, r.reserved4, 60, "reserved4");
  putBytes(out, 320, r.reportData, 64, "reportData");
  return out;
}

/** A new SGX report body with all-zero fields, for building one field by field. */
export function emptySgxReportBody(): SgxReportBody {
  return parseSgxReportBody(new Uint8Array(SGX_REPORT_BODY_SIZE));
}

/** Parse a TD report body (type 2: 584 bytes, type 3: 648 bytes) at `off` (zero-copy). */
export function parseTdReportBody(b: Uint8Array, off: number, type: 2 | 3): TdReportBody {
  need(b, off, bodySizeOf(type), type === 2 ? "tdReportBody10" : "tdReportBody15");
  return type === 2 ? new TdReportBody10View(b, off) : new TdReportBody15View(b, off);
}

/** Serialize a TD report body: type 2 (TD 1.0, 584 bytes) or 3 (TD 1.5, 648 bytes). */
export function encodeTdReportBody(r: TdReportBody, type: 2 | 3): Uint8Array {
  const out = new Uint8Array(bodySizeOf(type));
  putBytes(out, 0, r.teeTcbSvn, 16, "teeTcbSvn");
  putBytes(out, 16, r.mrSeam, 48, "mrSeam");
  putBytes(out, 64, r.mrSignerSeam, 48, "mrSignerSeam");
  putBytes(out, 112, r.seamAttributes, 8, "seamAttributes");
  putBytes(out, 120, r.tdAttributes, 8, "tdAttributes");
  putBytes(out, 128, r.xfam, 8, "xfam");
  putBytes(out, 136, r.mrTd, 48, "mrTd");
  putBytes(out, 184, r.mrConfigId, 48, "mrConfigId");
  putBytes(out, 232, r.mrOwner, 48, "mrOwner");
  putBytes(out, 280, r.mrOwnerConfig, 48, "mrOwnerConfig");
  for (let i = 0; i < 4; i++) putBytes(out, 328 + 48 * i, r.rtmr[i]!, 48, `rtmr${i}`);
  putBytes(out, 520, r.reportData, 64, "reportData");
  if (type === 3) {
    putBytes(out, 584, r.teeTcbSvn2 ?? new Uint8Array(16), 16, "teeTcbSvn2");
    putBytes(out, 600, r.mrServiceTd ?? new Uint8Array(48), 48, "mrServiceTd");
  }
  return out;
}

export function sgxReportLayout(prefix: string, off: number): FieldRange[] {
  return SGX_REPORT_FIELDS.map(([name, o, size]) => ({ path: `${prefix}.${name}`, offset: off + o, size }));
}

export function tdReportBodyLayout(prefix: string, off: number, type: 2 | 3): FieldRange[] {
  const fields = type === 3 ? [...TD_FIELDS, ...TD15_FIELDS] : TD_FIELDS;
  return fields.map(([name, o, size]) => ({ path: `${prefix}.${name}`, offset: off + o, size }));
}

/** A plain (spreadable, JSON-friendly) copy of an SGX report body's fields; byte fields stay views. */
export function plainSgxReportBody(r: SgxReportBody): SgxReportBody {
  return viewToPlain(r, SGX_REPORT_FIELDS);
}

/** A plain (spreadable) copy of a TD report body's fields; byte fields stay views. */
export function plainTdReportBody(r: TdReportBody): TdReportBody {
  const out: TdReportBody = {
    teeTcbSvn: r.teeTcbSvn,
    mrSeam: r.mrSeam,
    mrSignerSeam: r.mrSignerSeam,
    seamAttributes: r.seamAttributes,
    tdAttributes: r.tdAttributes,
    xfam: r.xfam,
    mrTd: r.mrTd,
    mrConfigId: r.mrConfigId,
    mrOwner: r.mrOwner,
    mrOwnerConfig: r.mrOwnerConfig,
    rtmr: r.rtmr,
    reportData: r.reportData,
  };
  if (r.teeTcbSvn2) out.teeTcbSvn2 = r.teeTcbSvn2;
  if (r.mrServiceTd) out.mrServiceTd = r.mrServiceTd;
  return out;
}
