/**
 * TCG PC Client "crypto-agile" event log as written by TDVF/OVMF and td-shim into the CCEL log area:
 * one TCG_PCClientPCREvent (SHA-1 layout) carrying the Spec ID Event03, then TCG_PCR_EVENT2 records,
 * then padding (0xFF or 0x00) up to the Log Area Minimum Length. Little-endian throughout.
 */
import { TdxError } from "../errors.js";
import type { EventLogQuirk, QuirkUse } from "./types.js";

export const TPM_ALG_SHA1 = 0x0004;
export const TPM_ALG_SHA256 = 0x000b;
export const TPM_ALG_SHA384 = 0x000c;
export const TPM_ALG_SHA512 = 0x000d;
export const TPM_ALG_SM3_256 = 0x0012;

/** Digest sizes of the TCG algorithm ids we know; the Spec ID event declares the sizes of the log's banks. */
export const TCG_ALGORITHMS: Record<number, { name: string; size: number }> = {
  [TPM_ALG_SHA1]: { name: "sha1", size: 20 },
  [TPM_ALG_SHA256]: { name: "sha256", size: 32 },
  [TPM_ALG_SHA384]: { name: "sha384", size: 48 },
  [TPM_ALG_SHA512]: { name: "sha512", size: 64 },
  [TPM_ALG_SM3_256]: { name: "sm3_256", size: 32 },
};

export const EV_NO_ACTION = 0x00000003;
export const EV_SEPARATOR = 0x00000004;
export const EV_EFI_ACTION = 0x80000007;

export const TCG_EVENT_TYPE_NAMES: Record<number, string> = {
  0: "EV_PREBOOT_CERT",
  1: "EV_POST_CODE",
  2: "EV_UNUSED",
  3: "EV_NO_ACTION",
  4: "EV_SEPARATOR",
  5: "EV_ACTION",
  6: "EV_EVENT_TAG",
  7: "EV_S_CRTM_CONTENTS",
  8: "EV_S_CRTM_VERSION",
  9: "EV_CPU_MICROCODE",
  10: "EV_PLATFORM_CONFIG_FLAGS",
  11: "EV_TABLE_OF_DEVICES",
  12: "EV_COMPACT_HASH",
  13: "EV_IPL",
  14: "EV_IPL_PARTITION_DATA",
  15: "EV_NONHOST_CODE",
  16: "EV_NONHOST_CONFIG",
  17: "EV_NONHOST_INFO",
  18: "EV_OMIT_BOOT_DEVICE_EVENTS",
  19: "EV_POST_CODE2",
  2147483648: "EV_EFI_EVENT_BASE",
  2147483649: "EV_EFI_VARIABLE_DRIVER_CONFIG",
  2147483650: "EV_EFI_VARIABLE_BOOT",
  2147483651: "EV_EFI_BOOT_SERVICES_APPLICATION",
  2147483652: "EV_EFI_BOOT_SERVICES_DRIVER",
  2147483653: "EV_EFI_RUNTIME_SERVICES_DRIVER",
  2147483654: "EV_EFI_GPT_EVENT",
  2147483655: "EV_EFI_ACTION",
  2147483656: "EV_EFI_PLATFORM_FIRMWARE_BLOB",
  2147483657: "EV_EFI_HANDOFF_TABLES",
  2147483658: "EV_EFI_PLATFORM_FIRMWARE_BLOB2",
  2147483659: "EV_EFI_HANDOFF_TABLES2",
  2147483660: "EV_EFI_VARIABLE_BOOT2",
  2147483661: "EV_EFI_GPT_EVENT2",
  2147483664: "EV_EFI_HCRTM_EVENT",
  2147483872: "EV_EFI_VARIABLE_AUTHORITY",
  2147483873: "EV_EFI_SPDM_FIRMWARE_BLOB",
  2147483874: "EV_EFI_SPDM_FIRMWARE_CONFIG",
  2147483875: "EV_EFI_SPDM_DEVICE_POLICY",
  2147483876: "EV_EFI_SPDM_DEVICE_AUTHORITY",
  134217729: "DSTACK_RUNTIME_EVENT",
};

export function eventTypeName(type: number): string {
  return TCG_EVENT_TYPE_NAMES[type] ?? `0x${type.toString(16).padStart(8, "0")}`;
}

export function algorithmName(id: number): string {
  return TCG_ALGORITHMS[id]?.name ?? `alg_0x${id.toString(16).padStart(4, "0")}`;
}

export interface SpecIdAlgorithm {
  algorithmId: number;
  algorithm: string;
  digestSize: number;
}

export interface SpecIdEvent {
  signature: string;
  platformClass: number;
  specVersionMinor: number;
  specVersionMajor: number;
  specErrata: number;
  uintnSize: number;
  algorithms: SpecIdAlgorithm[];
  vendorInfo: Uint8Array;
}

export interface TcgDigest {
  algorithmId: number;
  algorithm: string;
  digest: Uint8Array;
}

export interface TcgEvent {
  /** Position in the log; 0 is the Spec ID header when present. */
  index: number;
  /** Byte offset of the record. */
  offset: number;
  /** Size of the whole record in bytes. */
  size: number;
  /** CC measurement-register index as logged (1..4 = RTMR0..3). */
  mrIndex: number;
  type: number;
  typeName: string;
  digests: TcgDigest[];
  /** The event data (a view into the input). */
  data: Uint8Array;
  /** Set when the event-size-overrun quirk cut the data short. */
  dataTruncated?: boolean;
  /** Present on the header record. */
  specId?: SpecIdEvent;
}

export interface TcgLog {
  format: "tcg";
  /**
   * "attestation-agent" when the log starts with the header CoCo's attestation agent writes when the
   * TD has no firmware CCEL: an EV_NO_ACTION record whose Spec ID has an all-zero signature and
   * version, only the digest table (guest-components attester/src/utils.rs EL_HEADER, 69 bytes with
   * SHA-384 and SM3, 73 with SHA-256 too). Trustee's parser reads it (it never checks the signature).
   */
  header?: "attestation-agent";
  /** Null only under the missing-spec-id quirk. */
  specId: SpecIdEvent | null;
  /** The algorithms used to size digests (the Spec ID's, or the assumed TDX table). */
  algorithms: SpecIdAlgorithm[];
  events: TcgEvent[];
  /** Offset just past the last record. */
  endOffset: number;
  /** How the log ended. */
  end: "end-of-buffer" | "padding";
  /** Bytes after the last record. */
  paddingLength: number;
  quirksApplied: QuirkUse[];
}

export interface TcgParseOptions {
  quirks?: readonly EventLogQuirk[];
}

const SPEC_ID_SIGNATURE = "Spec ID Event03\0";
/** No real log declares more banks than there are TCG hash algorithms. */
const MAX_ALGORITHMS = 16;

class Reader {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(offset: number, size: number, field: string, record: number): void {
    if (offset + size > this.bytes.length) {
      throw new TdxError(
        "EVENTLOG_TRUNCATED",
        `event log ends inside ${field} of event ${record}: needs ${size} bytes at offset ${offset}, ${Math.max(0, this.bytes.length - offset)} left`,
        {
          offset,
          field,
          hint: "the log was cut short; read the whole log area (/sys/firmware/acpi/tables/data/CCEL) as root",
          data: { event: record, needed: size, available: Math.max(0, this.bytes.length - offset) },
        },
      );
    }
  }
  u8(o: number) {
    return this.view.getUint8(o);
  }
  u16(o: number) {
    return this.view.getUint16(o, true);
  }
  u32(o: number) {
    return this.view.getUint32(o, true);
  }
}

function isSpecIdData(data: Uint8Array): boolean {
  if (data.length < SPEC_ID_SIGNATURE.length) return false;
  for (let i = 0; i < SPEC_ID_SIGNATURE.length; i++)
    if (data[i] !== SPEC_ID_SIGNATURE.charCodeAt(i)) return false;
  return true;
}

function parseSpecId(data: Uint8Array, base: number): SpecIdEvent {
  const r = new Reader(data);
  const bad = (message: string, at: number, field: string) =>
    new TdxError("EVENTLOG_BAD_SPEC_ID", `Spec ID event: ${message}`, {
      offset: base + at,
      field: `specId.${field}`,
      hint: "the log header is malformed; check that this is a TCG crypto-agile (TCG2) log",
    });
  const need = (at: number, size: number, field: string) => {
    if (at + size > data.length) throw bad(`event data ends inside ${field}`, at, field);
  };
  need(16, 12, "header");
  const count = r.u32(24);
  if (count === 0 || count > MAX_ALGORITHMS)
    throw bad(`numberOfAlgorithms is ${count}`, 24, "numberOfAlgorithms");
  need(28, count * 4 + 1, "digestSizes");
  const algorithms: SpecIdAlgorithm[] = [];
  for (let i = 0; i < count; i++) {
    const at = 28 + i * 4;
    const algorithmId = r.u16(at);
    const digestSize = r.u16(at + 2);
    const known = TCG_ALGORITHMS[algorithmId];
    if (known && known.size !== digestSize) {
      throw bad(
        `${known.name} declared with digest size ${digestSize}, must be ${known.size}`,
        at + 2,
        "digestSizes",
      );
    }
    if (digestSize === 0 || digestSize > 64)
      throw bad(`digest size ${digestSize} is out of range`, at + 2, "digestSizes");
    if (algorithms.some((a) => a.algorithmId === algorithmId)) {
      throw bad(`algorithm 0x${algorithmId.toString(16)} listed twice`, at, "digestSizes");
    }
    algorithms.push({ algorithmId, algorithm: algorithmName(algorithmId), digestSize });
  }
  const vendorAt = 28 + count * 4;
  const vendorSize = r.u8(vendorAt);
  need(vendorAt + 1, vendorSize, "vendorInfo");
  return {
    signature: SPEC_ID_SIGNATURE.slice(0, 15),
    platformClass: r.u32(16),
    specVersionMinor: r.u8(20),
    specVersionMajor: r.u8(21),
    specErrata: r.u8(22),
    uintnSize: r.u8(23),
    algorithms,
    vendorInfo: data.subarray(vendorAt + 1, vendorAt + 1 + vendorSize),
  };
}

function isPadding(bytes: Uint8Array, from: number, to: number): boolean {
  const first = bytes[from];
  if (first !== 0x00 && first !== 0xff) return false;
  for (let i = from; i < to; i++) if (bytes[i] !== first) return false;
  return true;
}

const PAD_CHUNK = 64 * 1024;
const padChunks = new Map<number, Buffer>();

/** Index of the first byte from `from` that is neither 0x00 nor 0xFF, or -1. */
function onlyPaddingBytes(bytes: Uint8Array, from: number): number {
  const first = bytes[from];
  if (first === 0x00 || first === 0xff) {
    // Fast path for a uniform padding area (the usual 64 KiB..1 MiB of CCEL padding): memcmp by chunks.
    let pad = padChunks.get(first);
    if (!pad) {
      pad = Buffer.alloc(PAD_CHUNK, first);
      padChunks.set(first, pad);
    }
    const area = Buffer.from(bytes.buffer, bytes.byteOffset + from, bytes.length - from);
    let uniform = true;
    for (let o = 0; uniform && o < area.length; o += PAD_CHUNK) {
      const n = Math.min(PAD_CHUNK, area.length - o);
      uniform = area.subarray(o, o + n).equals(pad.subarray(0, n));
    }
    if (uniform) return -1;
  }
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0x00 && bytes[i] !== 0xff) return i;
  return -1;
}

/**
 * The attestation agent's stand-in header (no CCEL in the TD): PCR 0, EV_NO_ACTION, a zero SHA-1
 * digest, and event data of 24 zero bytes (signature, platform class, versions, uintn size) followed
 * by a digest table that fills the declared size exactly (guest-components attester/src/utils.rs).
 */
function isAttestationAgentHeader(bytes: Uint8Array, r: Reader): boolean {
  if (bytes.length < 32 + 29 || r.u32(0) !== 0 || r.u32(4) !== EV_NO_ACTION) return false;
  for (let i = 8; i < 28; i++) if (bytes[i] !== 0) return false;
  const size = r.u32(28);
  if (32 + size > bytes.length || size < 29) return false;
  for (let i = 32; i < 56; i++) if (bytes[i] !== 0) return false;
  const count = r.u32(56);
  if (count === 0 || count > MAX_ALGORITHMS) return false;
  const vendorAt = 60 + count * 4;
  return vendorAt < 32 + size && 32 + size === vendorAt + 1 + (bytes[vendorAt] ?? 0);
}

/** The algorithm table assumed for TDX when the missing-spec-id quirk is on. */
export const TDX_DEFAULT_ALGORITHMS: SpecIdAlgorithm[] = [
  { algorithmId: TPM_ALG_SHA384, algorithm: "sha384", digestSize: 48 },
];

/** Parses a TCG crypto-agile event log (raw CCEL log area or an exported binary log). */
export function parseTcgLog(bytes: Uint8Array, options: TcgParseOptions = {}): TcgLog {
  const quirks = new Set(options.quirks ?? []);
  const quirksApplied: QuirkUse[] = [];
  const r = new Reader(bytes);
  const events: TcgEvent[] = [];
  if (bytes.length === 0 || isPadding(bytes, 0, bytes.length)) {
    throw new TdxError("EVENTLOG_EMPTY", "the event log holds no events (empty or all padding)", {
      offset: 0,
      hint: "read the log data (/sys/firmware/acpi/tables/data/CCEL), not the 56-byte table; it needs root",
    });
  }

  // Header: TCG_PCClientPCREvent { u32 pcr; u32 type; u8 sha1[20]; u32 size; u8 data[size] }.
  let specId: SpecIdEvent | null = null;
  let algorithms: SpecIdAlgorithm[];
  let off = 0;
  const headerLooksLikeSpecId =
    bytes.length >= 32 && r.u32(4) === EV_NO_ACTION && isSpecIdData(bytes.subarray(32, 48));
  const aaHeader = !headerLooksLikeSpecId && isAttestationAgentHeader(bytes, r);
  if (aaHeader) {
    const size = r.u32(28);
    const data = bytes.subarray(32, 32 + size);
    specId = { ...parseSpecId(data, 32), signature: "" };
    algorithms = specId.algorithms;
    events.push({
      index: 0,
      offset: 0,
      size: 32 + size,
      mrIndex: 0,
      type: EV_NO_ACTION,
      typeName: eventTypeName(EV_NO_ACTION),
      digests: [{ algorithmId: TPM_ALG_SHA1, algorithm: "sha1", digest: bytes.subarray(8, 28) }],
      data,
      specId,
    });
    off = 32 + size;
  } else if (headerLooksLikeSpecId) {
    const size = r.u32(28);
    r.need(32, size, "specId", 0);
    const data = bytes.subarray(32, 32 + size);
    specId = parseSpecId(data, 32);
    algorithms = specId.algorithms;
    events.push({
      index: 0,
      offset: 0,
      size: 32 + size,
      mrIndex: r.u32(0),
      type: EV_NO_ACTION,
      typeName: eventTypeName(EV_NO_ACTION),
      digests: [{ algorithmId: TPM_ALG_SHA1, algorithm: "sha1", digest: bytes.subarray(8, 28) }],
      data,
      specId,
    });
    off = 32 + size;
  } else if (quirks.has("missing-spec-id")) {
    algorithms = TDX_DEFAULT_ALGORITHMS;
    quirksApplied.push({
      quirk: "missing-spec-id",
      offset: 0,
      detail: "no Spec ID Event03 header; assumed SHA-384 (48-byte) digests",
    });
  } else {
    throw new TdxError("EVENTLOG_NO_SPEC_ID", "the log does not start with a Spec ID Event03 header", {
      offset: 0,
      field: "specId",
      hint:
        "this is not a TCG crypto-agile log, or its header was stripped; for a header-less TDX log pass " +
        "--quirk missing-spec-id (library: quirks: ['missing-spec-id'])",
    });
  }
  const sizeOf = new Map(algorithms.map((a) => [a.algorithmId, a.digestSize]));

  let end: TcgLog["end"] = "end-of-buffer";
  while (off < bytes.length) {
    const index = events.length;
    const remaining = bytes.length - off;
    // End of log: an all-0xFF or all-0x00 header where the next record would start (or a padding tail
    // too short to hold one).
    if (isPadding(bytes, off, Math.min(bytes.length, off + 8))) {
      end = "padding";
      const garbage = onlyPaddingBytes(bytes, off);
      if (garbage >= 0) {
        if (!quirks.has("trailing-garbage")) {
          throw new TdxError(
            "EVENTLOG_TRAILING_DATA",
            `non-padding byte 0x${bytes[garbage]!.toString(16).padStart(2, "0")} after the end of the log (end at offset ${off})`,
            {
              offset: garbage,
              hint:
                "the area after the last event should be 0xFF/0x00 padding; if this firmware leaves stale data " +
                "there, pass --quirk trailing-garbage",
              data: { endOffset: off },
            },
          );
        }
        quirksApplied.push({
          quirk: "trailing-garbage",
          offset: garbage,
          detail: `ignored non-padding bytes after the end of the log at offset ${off}`,
        });
      }
      break;
    }
    if (remaining < 12) r.need(off, 12, "record header", index);
    const mrIndex = r.u32(off);
    const type = r.u32(off + 4);
    const count = r.u32(off + 8);
    if (count === 0 || count > algorithms.length) {
      throw new TdxError(
        "EVENTLOG_BAD_DIGEST_COUNT",
        `event ${index} declares ${count} digests; the log's Spec ID lists ${algorithms.length} algorithm(s)`,
        {
          offset: off + 8,
          field: "digestCount",
          hint: "the record is corrupt or the previous event's size was wrong; check the log with `eventlog show`",
          data: { event: index },
        },
      );
    }
    let p = off + 12;
    const digests: TcgDigest[] = [];
    for (let i = 0; i < count; i++) {
      r.need(p, 2, "digest algorithm", index);
      const algorithmId = r.u16(p);
      const size = sizeOf.get(algorithmId);
      if (size === undefined) {
        throw new TdxError(
          "EVENTLOG_UNKNOWN_ALGORITHM",
          `event ${index} has a digest of algorithm 0x${algorithmId.toString(16).padStart(4, "0")}, which the Spec ID does not declare`,
          {
            offset: p,
            field: "digests.algorithmId",
            hint: "the record is corrupt, or the Spec ID header does not belong to this log",
            data: { event: index },
          },
        );
      }
      if (digests.some((d) => d.algorithmId === algorithmId)) {
        throw new TdxError(
          "EVENTLOG_DUPLICATE_DIGEST",
          `event ${index} has two ${algorithmName(algorithmId)} digests`,
          {
            offset: p,
            field: "digests.algorithmId",
            hint: "the record is corrupt",
            data: { event: index },
          },
        );
      }
      r.need(p + 2, size, "digest", index);
      digests.push({
        algorithmId,
        algorithm: algorithmName(algorithmId),
        digest: bytes.subarray(p + 2, p + 2 + size),
      });
      p += 2 + size;
    }
    r.need(p, 4, "event size", index);
    const eventSize = r.u32(p);
    p += 4;
    let data: Uint8Array;
    let dataTruncated = false;
    if (p + eventSize > bytes.length) {
      if (!quirks.has("event-size-overrun")) {
        throw new TdxError(
          "EVENTLOG_TRUNCATED",
          `event ${index} declares ${eventSize} bytes of data at offset ${p}, but only ${bytes.length - p} remain`,
          {
            offset: p - 4,
            field: "eventSize",
            hint:
              "the log was cut short or the firmware wrote a wrong event size; read the whole log area, or pass " +
              "--quirk event-size-overrun to replay the last event from its (complete) digests",
            data: { event: index, eventSize, available: bytes.length - p },
          },
        );
      }
      data = bytes.subarray(p);
      dataTruncated = true;
      quirksApplied.push({
        quirk: "event-size-overrun",
        offset: p - 4,
        detail: `event ${index} declares ${eventSize} data bytes, ${bytes.length - p} present; data kept truncated`,
      });
    } else {
      data = bytes.subarray(p, p + eventSize);
    }
    const next = p + data.length;
    const ev: TcgEvent = {
      index,
      offset: off,
      size: next - off,
      mrIndex,
      type,
      typeName: eventTypeName(type),
      digests,
      data,
    };
    if (dataTruncated) ev.dataTruncated = true;
    events.push(ev);
    off = next;
  }
  return {
    format: "tcg",
    ...(aaHeader ? { header: "attestation-agent" as const } : {}),
    specId,
    algorithms,
    events,
    endOffset: events.length > 0 ? events[events.length - 1]!.offset + events[events.length - 1]!.size : 0,
    end,
    paddingLength:
      bytes.length -
      (events.length > 0 ? events[events.length - 1]!.offset + events[events.length - 1]!.size : 0),
    quirksApplied,
  };
}

/** The SHA-384 digest of a TCG event, or null when the event has no SHA-384 bank entry. */
export function sha384DigestOf(event: TcgEvent): Uint8Array | null {
  return event.digests.find((d) => d.algorithmId === TPM_ALG_SHA384)?.digest ?? null;
}
