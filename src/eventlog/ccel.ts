/**
 * ACPI "CC Event Log" table (ACPI 6.5 §5.2.34), 56 bytes: where the firmware's TCG event log lives.
 * Linux exposes it at /sys/firmware/acpi/tables/CCEL and the log area at /sys/firmware/acpi/tables/data/CCEL.
 */
import { type ErrorCode, TdxError } from "../errors.js";

export const CCEL_TABLE_SIZE = 56;
export const CC_TYPE_NAMES: Record<number, string> = {
  0: "reserved",
  1: "AMD SEV",
  2: "Intel TDX",
  3: "Arm CCA",
};
export const CC_TYPE_TDX = 2;

export interface CcelTable {
  signature: string;
  length: number;
  revision: number;
  checksum: number;
  oemId: string;
  oemTableId: string;
  oemRevision: number;
  creatorId: string;
  creatorRevision: number;
  ccType: number;
  ccTypeName: string;
  ccSubtype: number;
  /** Log Area Minimum Length (LAML). */
  logAreaMinimumLength: bigint;
  /** Log Area Start Address (LASA), guest-physical. */
  logAreaStartAddress: bigint;
}

const ascii = (b: Uint8Array) => String.fromCharCode(...b);

function tableError(code: ErrorCode, message: string, offset: number, field: string, hint: string): TdxError {
  return new TdxError(code, message, { offset, field, hint });
}

/** Parses and checks the CCEL table (56 bytes, or longer in a later revision): signature, length, checksum, CC type TDX. */
export function parseCcelTable(bytes: Uint8Array, options: { anyCcType?: boolean } = {}): CcelTable {
  const hint = "give the ACPI table (/sys/firmware/acpi/tables/CCEL, 56 bytes), not the log data";
  if (bytes.length < CCEL_TABLE_SIZE) {
    throw tableError(
      "CCEL_TRUNCATED",
      `CCEL table is ${bytes.length} bytes, needs ${CCEL_TABLE_SIZE}`,
      bytes.length,
      "length",
      hint,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const signature = ascii(bytes.subarray(0, 4));
  if (signature !== "CCEL") {
    throw tableError(
      "CCEL_BAD_SIGNATURE",
      `ACPI table signature is ${JSON.stringify(signature)}, not "CCEL"`,
      0,
      "signature",
      hint,
    );
  }
  const length = v.getUint32(4, true);
  // At least the 56 bytes of the revision this reads, as the kernel (acpi_ccel_data_init) and go-eventlog
  // (parseCCELACPITable) ask; a later revision may be longer.
  if (length < CCEL_TABLE_SIZE || bytes.length !== length) {
    throw tableError(
      "CCEL_BAD_LENGTH",
      `CCEL table declares length ${length} and is ${bytes.length} bytes; they must agree, at least ${CCEL_TABLE_SIZE}`,
      4,
      "length",
      hint,
    );
  }
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  if (sum !== 0) {
    throw tableError(
      "CCEL_BAD_CHECKSUM",
      `CCEL table bytes sum to 0x${sum.toString(16)} mod 256, not 0`,
      9,
      "checksum",
      "the table was altered or copied incompletely; read it again from /sys/firmware/acpi/tables/CCEL",
    );
  }
  const ccType = bytes[36]!;
  if (ccType !== CC_TYPE_TDX && !options.anyCcType) {
    throw tableError(
      "CCEL_NOT_TDX",
      `CCEL table is for CC type ${ccType} (${CC_TYPE_NAMES[ccType] ?? "unknown"}), not Intel TDX (2)`,
      36,
      "ccType",
      "this event log comes from another confidential-computing technology; replay it with that vendor's tools",
    );
  }
  return {
    signature,
    length,
    revision: bytes[8]!,
    checksum: bytes[9]!,
    oemId: ascii(bytes.subarray(10, 16)),
    oemTableId: ascii(bytes.subarray(16, 24)),
    oemRevision: v.getUint32(24, true),
    creatorId: ascii(bytes.subarray(28, 32)),
    creatorRevision: v.getUint32(32, true),
    ccType,
    ccTypeName: CC_TYPE_NAMES[ccType] ?? "unknown",
    ccSubtype: bytes[37]!,
    logAreaMinimumLength: v.getBigUint64(40, true),
    logAreaStartAddress: v.getBigUint64(48, true),
  };
}

export type CcelTableJson = Omit<CcelTable, "logAreaMinimumLength" | "logAreaStartAddress"> & {
  logAreaMinimumLength: string;
  logAreaStartAddress: string;
};

/** JSON-friendly view of a CCEL table (u64 fields as 0x-hex). */
export function ccelTableToJson(t: CcelTable): CcelTableJson {
  return {
    ...t,
    logAreaMinimumLength: `0x${t.logAreaMinimumLength.toString(16)}`,
    logAreaStartAddress: `0x${t.logAreaStartAddress.toString(16)}`,
  };
}
