import { TdxError } from "../errors.js";
import { u64 } from "./bytes.js";

/** TD ATTRIBUTES bits (TDX module td_param_attributes_t; Linux shared TDX definitions). */
export const TD_ATTRIBUTE_BITS: Readonly<Record<string, number>> = {
  DEBUG: 0,
  HGS_PLUS_PROF: 4,
  PERF_PROF: 5,
  PMT_PROF: 6,
  ICSSD: 16,
  LASS: 27,
  SEPT_VE_DISABLE: 28,
  MIGRATABLE: 29,
  PKS: 30,
  KL: 31,
  TPA: 62,
  PERFMON: 63,
};

/** XFAM bits: the XSAVE feature set (XCR0 | IA32_XSS layout). */
export const XFAM_BITS: Readonly<Record<string, number>> = {
  X87: 0,
  SSE: 1,
  AVX: 2,
  MPX_BNDREGS: 3,
  MPX_BNDCSR: 4,
  AVX512_OPMASK: 5,
  AVX512_ZMM_HI256: 6,
  AVX512_HI16_ZMM: 7,
  PT: 8,
  PKRU: 9,
  PASID: 10,
  CET_U: 11,
  CET_S: 12,
  HDC: 13,
  UINTR: 14,
  LBR: 15,
  HWP: 16,
  AMX_TILECFG: 17,
  AMX_TILEDATA: 18,
  APX: 19,
};

function names(value: bigint, table: Readonly<Record<string, number>>): string[] {
  const byBit = new Map<number, string>();
  for (const [name, bit] of Object.entries(table)) byBit.set(bit, name);
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((value >> BigInt(bit)) & 1n) out.push(byBit.get(bit) ?? `BIT${bit}`);
  }
  return out;
}

function asU64(v: Uint8Array | bigint): bigint {
  return typeof v === "bigint" ? v : u64(v, 0);
}

/** Names of the set TD ATTRIBUTES bits (8 bytes LE or a bigint); unknown bits as "BITn". */
export function tdAttributeNames(attrs: Uint8Array | bigint): string[] {
  return names(asU64(attrs), TD_ATTRIBUTE_BITS);
}

/** Names of the set XFAM bits; unknown bits as "BITn". */
export function xfamNames(xfam: Uint8Array | bigint): string[] {
  return names(asU64(xfam), XFAM_BITS);
}

/** True when the TD ATTRIBUTES has the named bit set. */
export function hasTdAttribute(attrs: Uint8Array | bigint, name: keyof typeof TD_ATTRIBUTE_BITS): boolean {
  const bit = TD_ATTRIBUTE_BITS[name];
  return bit !== undefined && ((asU64(attrs) >> BigInt(bit)) & 1n) === 1n;
}

/** A TD ATTRIBUTES value (8 bytes LE) from bit names. */
export function tdAttributesFromNames(list: string[]): Uint8Array {
  let v = 0n;
  for (const n of list) {
    const bit = TD_ATTRIBUTE_BITS[n];
    if (bit === undefined) {
      throw new TdxError("TD_ATTRIBUTE_UNKNOWN", `unknown TD attribute ${n}`, {
        field: "tdAttributes",
        hint: `use one of ${Object.keys(TD_ATTRIBUTE_BITS).join(", ")}`,
      });
    }
    v |= 1n << BigInt(bit);
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, true);
  return out;
}
