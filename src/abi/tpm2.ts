/**
 * TPM 2.0 structures that vTPM-based attestation needs, big-endian as the TPM marshals them (TCG TPM 2.0
 * Library, Part 2 "Structures": TPMS_ATTEST, TPMS_CLOCK_INFO, TPMS_QUOTE_INFO, TPML_PCR_SELECTION,
 * TPMT_SIGNATURE, TPMS_NV_PUBLIC, TPMT_PUBLIC for RSA and ECC keys). Pure and zero-copy: byte fields are
 * views into the caller's buffer. Parsers refuse truncated input, impossible sizes and (for the top-level
 * parsers) trailing bytes, with a TdxError naming the field and the byte offset.
 */
import { TdxError } from "../errors.js";
import { concatBytes } from "./bytes.js";
import type { FieldRange } from "./types.js";

/** TPM_GENERATED_VALUE: the magic a TPM puts in every TPMS_ATTEST it signs ("\xffTCG"). */
export const TPM_GENERATED_VALUE = 0xff544347;

/** TPM_ST values of TPMS_ATTEST.type and of command/response tags. */
export const TPM_ST = {
  NO_SESSIONS: 0x8001,
  SESSIONS: 0x8002,
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
  ATTEST_NV_DIGEST: 0x801c,
} as const;

/** TPM_ALG_ID values used here. */
export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CFB: 0x0043,
} as const;

const ALG_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TPM_ALG).map(([k, v]) => [v, k.toLowerCase()]),
);

/** "sha256", "rsassa", ... or "0x00ab" for an algorithm this file does not name. */
export function tpmAlgName(alg: number): string {
  return ALG_NAMES[alg] ?? `0x${alg.toString(16).padStart(4, "0")}`;
}

/** Digest size of a TPM hash algorithm, or null when it is not a hash this file knows. */
export function tpmDigestSize(alg: number): number | null {
  switch (alg) {
    case TPM_ALG.SHA1:
      return 20;
    case TPM_ALG.SHA256:
    case TPM_ALG.SM3_256:
      return 32;
    case TPM_ALG.SHA384:
      return 48;
    case TPM_ALG.SHA512:
      return 64;
    default:
      return null;
  }
}

const ST_NAMES: Record<number, string> = {
  32788: "ATTEST_NV",
  32789: "ATTEST_COMMAND_AUDIT",
  32790: "ATTEST_SESSION_AUDIT",
  32791: "ATTEST_CERTIFY",
  32792: "ATTEST_QUOTE",
  32793: "ATTEST_TIME",
  32794: "ATTEST_CREATION",
  32796: "ATTEST_NV_DIGEST",
};
export function tpmAttestTypeName(t: number): string {
  return ST_NAMES[t] ?? `0x${t.toString(16).padStart(4, "0")}`;
}

/** Big-endian readers (TPM structures are big-endian; the TDX/SGX ones little-endian). */
export function be16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}
export function be32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}
export function be64(b: Uint8Array, off: number): bigint {
  return (BigInt(be32(b, off)) << 32n) | BigInt(be32(b, off + 4));
}

/**
 * A cursor over big-endian TPM bytes. Every read checks the bounds and names the field; `base` is added to
 * offsets in errors (the position of this buffer inside the caller's input).
 */
export class TpmReader {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    start = 0,
    readonly end = b.length,
    readonly base = 0,
    readonly what = "TPM structure",
  ) {
    this.pos = start;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  need(n: number, field: string): void {
    if (this.pos + n > this.end) {
      throw new TdxError(
        "TPM2_TRUNCATED",
        `${this.what} ends inside ${field}: needs ${n} bytes at offset ${this.base + this.pos}, ${Math.max(0, this.end - this.pos)} left`,
        {
          field,
          offset: this.base + this.pos,
          hint: `the ${this.what} is cut short or a size field in it is corrupt; pass it whole`,
        },
      );
    }
  }
  u8(field: string): number {
    this.need(1, field);
    return this.b[this.pos++]!;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = be16(this.b, this.pos);
    this.pos += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = be32(this.b, this.pos);
    this.pos += 4;
    return v;
  }
  u64(field: string): bigint {
    this.need(8, field);
    const v = be64(this.b, this.pos);
    this.pos += 8;
    return v;
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A TPM2B: u16 size then that many bytes; `max` bounds the size as the structure's buffer does. */
  tpm2b(field: string, max = 0xffff): Uint8Array {
    const at = this.pos;
    const size = this.u16(`${field}.size`);
    if (size > max) {
      throw new TdxError("TPM2_SIZE_INVALID", `${field} declares ${size} bytes; at most ${max} fit`, {
        field: `${field}.size`,
        offset: this.base + at,
        hint: `the ${this.what} is corrupt`,
      });
    }
    return this.bytes(size, field);
  }
  /** Refuse bytes after the structure. */
  done(): void {
    if (this.pos !== this.end) {
      throw new TdxError(
        "TPM2_TRAILING_BYTES",
        `${this.end - this.pos} bytes follow the ${this.what} at offset ${this.base + this.pos}`,
        {
          field: this.what,
          offset: this.base + this.pos,
          hint: `pass exactly the ${this.what}, nothing after it`,
        },
      );
    }
  }
}

/** A growable big-endian writer for the encoders. */
export class TpmWriter {
  #parts: Uint8Array[] = [];
  u8(v: number): this {
    this.#parts.push(Uint8Array.of(v & 0xff));
    return this;
  }
  u16(v: number): this {
    this.#parts.push(Uint8Array.of((v >>> 8) & 0xff, v & 0xff));
    return this;
  }
  u32(v: number): this {
    this.#parts.push(Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
    return this;
  }
  u64(v: bigint): this {
    this.u32(Number((v >> 32n) & 0xffffffffn));
    return this.u32(Number(v & 0xffffffffn));
  }
  bytes(b: Uint8Array): this {
    this.#parts.push(b);
    return this;
  }
  tpm2b(b: Uint8Array, field = "TPM2B"): this {
    if (b.length > 0xffff) {
      throw new TdxError("ABI_FIELD_SIZE", `${field} is ${b.length} bytes; a TPM2B holds at most 65535`, {
        field,
        hint: "pass a shorter value",
      });
    }
    return this.u16(b.length).bytes(b);
  }
  finish(): Uint8Array {
    return concatBytes(...this.#parts);
  }
}

/** TPMS_PCR_SELECTION: one bank and a bitmap (bit i of byte i/8 = PCR i). */
export interface TpmsPcrSelection {
  hash: number;
  sizeofSelect: number;
  /** The bitmap (a view). */
  select: Uint8Array;
}

/** The PCR indices a selection selects, ascending. */
export function selectedPcrs(sel: Pick<TpmsPcrSelection, "select">): number[] {
  const out: number[] = [];
  for (let i = 0; i < sel.select.length * 8; i++) if (sel.select[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
}

/** A selection of `pcrs` in bank `hash`, with at least 3 bitmap bytes (PCR_SELECT_MIN for 24 PCRs). */
export function pcrSelection(hash: number, pcrs: readonly number[], sizeofSelect = 3): TpmsPcrSelection {
  const size = Math.max(sizeofSelect, ...pcrs.map((p) => (p >> 3) + 1));
  const select = new Uint8Array(size);
  for (const p of pcrs) {
    if (!Number.isInteger(p) || p < 0 || p > 255) {
      throw new TdxError("ABI_FIELD_SIZE", `PCR index ${p} is out of range`, {
        field: "pcrs",
        hint: "PCR indices are 0..23 on a PC-client TPM",
      });
    }
    select[p >> 3]! |= 1 << (p & 7);
  }
  return { hash, sizeofSelect: size, select };
}

/** Read a TPML_PCR_SELECTION (at most 16 banks, bitmaps of at most 32 bytes). */
export function readPcrSelectionList(r: TpmReader, field: string): TpmsPcrSelection[] {
  const at = r.pos;
  const count = r.u32(`${field}.count`);
  if (count > 16) {
    throw new TdxError("TPM2_SIZE_INVALID", `${field} lists ${count} banks; a TPM has at most 16`, {
      field: `${field}.count`,
      offset: r.base + at,
      hint: `the ${r.what} is corrupt`,
    });
  }
  const out: TpmsPcrSelection[] = [];
  for (let i = 0; i < count; i++) {
    const hash = r.u16(`${field}[${i}].hash`);
    const sAt = r.pos;
    const sizeofSelect = r.u8(`${field}[${i}].sizeofSelect`);
    if (sizeofSelect > 32) {
      throw new TdxError(
        "TPM2_SIZE_INVALID",
        `${field}[${i}].sizeofSelect is ${sizeofSelect}; a PCR bitmap has at most 32 bytes`,
        { field: `${field}[${i}].sizeofSelect`, offset: r.base + sAt, hint: `the ${r.what} is corrupt` },
      );
    }
    out.push({ hash, sizeofSelect, select: r.bytes(sizeofSelect, `${field}[${i}].pcrSelect`) });
  }
  return out;
}

export function writePcrSelectionList(w: TpmWriter, list: readonly TpmsPcrSelection[]): TpmWriter {
  w.u32(list.length);
  for (const s of list) {
    if (s.select.length !== s.sizeofSelect) {
      throw new TdxError("ABI_FIELD_SIZE", "a PCR selection's bitmap length differs from its sizeofSelect", {
        field: "pcrSelect",
        hint: "build selections with pcrSelection(hash, pcrs)",
      });
    }
    w.u16(s.hash).u8(s.sizeofSelect).bytes(s.select);
  }
  return w;
}

export interface TpmsClockInfo {
  /** Milliseconds the TPM has been powered (u64). */
  clock: bigint;
  resetCount: number;
  restartCount: number;
  /** TPMI_YES_NO: the clock has not gone backwards since it was last saved. */
  safe: number;
}

export interface TpmsQuoteInfo {
  pcrSelect: TpmsPcrSelection[];
  /** Digest of the selected PCR values, in ascending order per bank, with the signing key's hash. */
  pcrDigest: Uint8Array;
}

/** TPMS_ATTEST. Only quotes have their attested part decoded; other types keep it as bytes. */
export interface TpmsAttest {
  /** The buffer parsed (exactly the TPMS_ATTEST: what the key signed). */
  bytes: Uint8Array;
  magic: number;
  type: number;
  /** TPM2B_NAME of the signing key: nameAlg (u16) || digest of its public area. */
  qualifiedSigner: Uint8Array;
  /** TPM2B_DATA: the caller's qualifying data (the verifier's nonce). */
  extraData: Uint8Array;
  clockInfo: TpmsClockInfo;
  firmwareVersion: bigint;
  /** TPMS_QUOTE_INFO when type is ATTEST_QUOTE, else null. */
  quote: TpmsQuoteInfo | null;
  /** The attested union's bytes (all of it for non-quote types). */
  attested: Uint8Array;
  layout: FieldRange[];
}

/**
 * Parse a marshalled TPMS_ATTEST (the contents of TPM2B_ATTEST, without its size prefix: what
 * TPM2_Quote signs and what Trustee's evidence calls `message`). Structural only: the verifier checks
 * the magic and the type. Quote info must end the buffer exactly.
 */
export function parseTpmsAttest(bytes: Uint8Array): TpmsAttest {
  if (!(bytes instanceof Uint8Array)) {
    throw new TdxError("TPM2_NOT_BYTES", "a TPMS_ATTEST must be given as bytes (Uint8Array or Buffer)", {
      hint: "decode the hex of the TPM quote message first",
    });
  }
  const r = new TpmReader(bytes, 0, bytes.length, 0, "TPMS_ATTEST");
  const layout: FieldRange[] = [];
  const mark = (path: string, from: number) => layout.push({ path, offset: from, size: r.pos - from });
  let at = r.pos;
  const magic = r.u32("magic");
  mark("magic", at);
  at = r.pos;
  const type = r.u16("type");
  mark("type", at);
  at = r.pos;
  // TPM2B_NAME: a handle (4) or nameAlg||digest (at most 2 + 64).
  const qualifiedSigner = r.tpm2b("qualifiedSigner", 2 + 64);
  mark("qualifiedSigner", at);
  at = r.pos;
  // TPM2B_DATA: at most sizeof(TPMT_HA) = 2 + 64.
  const extraData = r.tpm2b("extraData", 2 + 64);
  mark("extraData", at);
  at = r.pos;
  const clockInfo: TpmsClockInfo = {
    clock: r.u64("clockInfo.clock"),
    resetCount: r.u32("clockInfo.resetCount"),
    restartCount: r.u32("clockInfo.restartCount"),
    safe: r.u8("clockInfo.safe"),
  };
  mark("clockInfo", at);
  at = r.pos;
  const firmwareVersion = r.u64("firmwareVersion");
  mark("firmwareVersion", at);
  const attestedAt = r.pos;
  let quote: TpmsQuoteInfo | null = null;
  if (type === TPM_ST.ATTEST_QUOTE) {
    const pcrSelect = readPcrSelectionList(r, "quote.pcrSelect");
    mark("quote.pcrSelect", attestedAt);
    at = r.pos;
    const pcrDigest = r.tpm2b("quote.pcrDigest", 64);
    mark("quote.pcrDigest", at);
    r.done();
    quote = { pcrSelect, pcrDigest };
  } else {
    r.pos = r.end;
    mark("attested", attestedAt);
  }
  return {
    bytes,
    magic,
    type,
    qualifiedSigner,
    extraData,
    clockInfo,
    firmwareVersion,
    quote,
    attested: bytes.subarray(attestedAt),
    layout,
  };
}

/** What `encodeTpmsAttest` needs (the simulated vTPM's TPM2_Quote). */
export interface TpmsAttestInput {
  magic?: number;
  type?: number;
  qualifiedSigner: Uint8Array;
  extraData: Uint8Array;
  clockInfo: TpmsClockInfo;
  firmwareVersion: bigint;
  /** For quotes. */
  quote?: TpmsQuoteInfo;
  /** For other types: the attested union's bytes. */
  attested?: Uint8Array;
}

export function encodeTpmsAttest(a: TpmsAttestInput): Uint8Array {
  const type = a.type ?? TPM_ST.ATTEST_QUOTE;
  const w = new TpmWriter()
    .u32(a.magic ?? TPM_GENERATED_VALUE)
    .u16(type)
    .tpm2b(a.qualifiedSigner, "qualifiedSigner")
    .tpm2b(a.extraData, "extraData")
    .u64(a.clockInfo.clock)
    .u32(a.clockInfo.resetCount)
    .u32(a.clockInfo.restartCount)
    .u8(a.clockInfo.safe)
    .u64(a.firmwareVersion);
  if (type === TPM_ST.ATTEST_QUOTE) {
    if (!a.quote) {
      throw new TdxError("ABI_FIELD_MISSING", "a quote TPMS_ATTEST needs `quote`", {
        field: "quote",
        hint: "give the PCR selection and the PCR digest",
      });
    }
    writePcrSelectionList(w, a.quote.pcrSelect).tpm2b(a.quote.pcrDigest, "quote.pcrDigest");
  } else {
    w.bytes(a.attested ?? new Uint8Array(0));
  }
  return w.finish();
}

/** TPMT_SIGNATURE. */
export type TpmtSignature =
  | { sigAlg: typeof TPM_ALG.RSASSA | typeof TPM_ALG.RSAPSS; hash: number; signature: Uint8Array }
  | {
      sigAlg: typeof TPM_ALG.ECDSA | typeof TPM_ALG.ECDAA | typeof TPM_ALG.SM2 | typeof TPM_ALG.ECSCHNORR;
      hash: number;
      r: Uint8Array;
      s: Uint8Array;
    }
  | { sigAlg: typeof TPM_ALG.HMAC; hash: number; digest: Uint8Array }
  | { sigAlg: typeof TPM_ALG.NULL };

/** Read a TPMT_SIGNATURE at the reader's position. */
export function readTpmtSignature(r: TpmReader, field = "signature"): TpmtSignature {
  const at = r.pos;
  const sigAlg = r.u16(`${field}.sigAlg`);
  switch (sigAlg) {
    case TPM_ALG.NULL:
      return { sigAlg };
    case TPM_ALG.RSASSA:
    case TPM_ALG.RSAPSS: {
      const hash = r.u16(`${field}.hash`);
      return { sigAlg, hash, signature: r.tpm2b(`${field}.sig`, 512) };
    }
    case TPM_ALG.ECDSA:
    case TPM_ALG.ECDAA:
    case TPM_ALG.SM2:
    case TPM_ALG.ECSCHNORR: {
      const hash = r.u16(`${field}.hash`);
      const sr = r.tpm2b(`${field}.signatureR`, 128);
      const ss = r.tpm2b(`${field}.signatureS`, 128);
      return { sigAlg, hash, r: sr, s: ss };
    }
    case TPM_ALG.HMAC: {
      const hash = r.u16(`${field}.hash`);
      const size = tpmDigestSize(hash);
      if (size === null) {
        throw new TdxError("TPM2_ALG_UNSUPPORTED", `HMAC signature with unknown hash ${tpmAlgName(hash)}`, {
          field: `${field}.hash`,
          offset: r.base + r.pos - 2,
          hint: "the signature is corrupt or uses a hash this version does not know",
        });
      }
      return { sigAlg, hash, digest: r.bytes(size, `${field}.digest`) };
    }
    default:
      throw new TdxError(
        "TPM2_ALG_UNSUPPORTED",
        `signature algorithm ${tpmAlgName(sigAlg)} is not RSASSA, RSAPSS, ECDSA, ECDAA, SM2, ECSCHNORR, HMAC or NULL`,
        {
          field: `${field}.sigAlg`,
          offset: r.base + at,
          hint: "the signature is corrupt or of a scheme a TPM does not produce",
        },
      );
  }
}

/** Parse a whole TPMT_SIGNATURE (nothing may follow it). */
export function parseTpmtSignature(bytes: Uint8Array): TpmtSignature {
  const r = new TpmReader(bytes, 0, bytes.length, 0, "TPMT_SIGNATURE");
  const s = readTpmtSignature(r);
  r.done();
  return s;
}

export function writeTpmtSignature(w: TpmWriter, s: TpmtSignature): TpmWriter {
  w.u16(s.sigAlg);
  if (s.sigAlg === TPM_ALG.NULL) return w;
  w.u16(s.hash);
  if ("signature" in s) return w.tpm2b(s.signature, "signature.sig");
  if ("digest" in s) return w.bytes(s.digest);
  return w.tpm2b(s.r, "signature.signatureR").tpm2b(s.s, "signature.signatureS");
}

export function encodeTpmtSignature(s: TpmtSignature): Uint8Array {
  return writeTpmtSignature(new TpmWriter(), s).finish();
}

/** TPMA_NV bits (Part 2, 13.4). */
export const TPMA_NV = {
  PPWRITE: 1 << 0,
  OWNERWRITE: 1 << 1,
  AUTHWRITE: 1 << 2,
  POLICYWRITE: 1 << 3,
  POLICY_DELETE: 1 << 10,
  WRITELOCKED: 1 << 11,
  WRITEALL: 1 << 12,
  WRITEDEFINE: 1 << 13,
  WRITE_STCLEAR: 1 << 14,
  GLOBALLOCK: 1 << 15,
  PPREAD: 1 << 16,
  OWNERREAD: 1 << 17,
  AUTHREAD: 1 << 18,
  POLICYREAD: 1 << 19,
  NO_DA: 1 << 25,
  ORDERLY: 1 << 26,
  CLEAR_STCLEAR: 1 << 27,
  READLOCKED: 1 << 28,
  WRITTEN: 1 << 29,
  PLATFORMCREATE: 1 << 30,
  READ_STCLEAR: 2 ** 31,
} as const;

/** TPMS_NV_PUBLIC. */
export interface TpmsNvPublic {
  nvIndex: number;
  nameAlg: number;
  /** TPMA_NV (u32). */
  attributes: number;
  authPolicy: Uint8Array;
  dataSize: number;
}

export function readNvPublic(r: TpmReader, field = "nvPublic"): TpmsNvPublic {
  return {
    nvIndex: r.u32(`${field}.nvIndex`),
    nameAlg: r.u16(`${field}.nameAlg`),
    attributes: r.u32(`${field}.attributes`),
    authPolicy: r.tpm2b(`${field}.authPolicy`, 64),
    dataSize: r.u16(`${field}.dataSize`),
  };
}

/** TPMS_NV_PUBLIC bytes (what an NV index's name hashes). */
export function encodeNvPublic(p: TpmsNvPublic): Uint8Array {
  return new TpmWriter()
    .u32(p.nvIndex)
    .u16(p.nameAlg)
    .u32(p.attributes >>> 0)
    .tpm2b(p.authPolicy, "authPolicy")
    .u16(p.dataSize)
    .finish();
}

/** A TPM2B_NV_PUBLIC: the size must match the TPMS_NV_PUBLIC inside exactly. */
export function readNvPublic2b(r: TpmReader, field = "nvPublic"): TpmsNvPublic {
  const inner = r.tpm2b(field);
  const sub = new TpmReader(inner, 0, inner.length, r.base + r.pos - inner.length, r.what);
  const p = readNvPublic(sub, field);
  sub.done();
  return p;
}

/** TPMA_OBJECT bits used by attestation keys (Part 2, 8.3). */
export const TPMA_OBJECT = {
  FIXEDTPM: 1 << 1,
  STCLEAR: 1 << 2,
  FIXEDPARENT: 1 << 4,
  SENSITIVEDATAORIGIN: 1 << 5,
  USERWITHAUTH: 1 << 6,
  ADMINWITHPOLICY: 1 << 7,
  NODA: 1 << 10,
  ENCRYPTEDDUPLICATION: 1 << 11,
  RESTRICTED: 1 << 16,
  DECRYPT: 1 << 17,
  SIGN_ENCRYPT: 1 << 18,
} as const;

/** TPMT_PUBLIC of an RSA or ECC key (the algorithm parameters a signing key carries). */
export type TpmtPublic = {
  nameAlg: number;
  objectAttributes: number;
  authPolicy: Uint8Array;
  /** TPMT_SYM_DEF_OBJECT: NULL for signing keys. */
  symmetric: { algorithm: number; keyBits?: number; mode?: number };
  /** TPMT_RSA_SCHEME / TPMT_ECC_SCHEME: scheme and its hash (absent for NULL). */
  scheme: { scheme: number; hashAlg?: number; count?: number };
} & (
  | {
      type: typeof TPM_ALG.RSA;
      keyBits: number;
      /** 0 means the default 65537. */
      exponent: number;
      /** The modulus, big-endian. */
      modulus: Uint8Array;
    }
  | {
      type: typeof TPM_ALG.ECC;
      curveId: number;
      kdf: { scheme: number; hashAlg?: number };
      x: Uint8Array;
      y: Uint8Array;
    }
);

function readSymDef(r: TpmReader, field: string): TpmtPublic["symmetric"] {
  const algorithm = r.u16(`${field}.algorithm`);
  if (algorithm === TPM_ALG.NULL) return { algorithm };
  return { algorithm, keyBits: r.u16(`${field}.keyBits`), mode: r.u16(`${field}.mode`) };
}

function readScheme(r: TpmReader, field: string): TpmtPublic["scheme"] {
  const scheme = r.u16(`${field}.scheme`);
  if (scheme === TPM_ALG.NULL) return { scheme };
  const hashAlg = r.u16(`${field}.hashAlg`);
  if (scheme === TPM_ALG.ECDAA) return { scheme, hashAlg, count: r.u16(`${field}.count`) };
  return { scheme, hashAlg };
}

/** Read a TPMT_PUBLIC (RSA or ECC keys only). */
export function readTpmtPublic(r: TpmReader, field = "publicArea"): TpmtPublic {
  const at = r.pos;
  const type = r.u16(`${field}.type`);
  if (type !== TPM_ALG.RSA && type !== TPM_ALG.ECC) {
    throw new TdxError("TPM2_ALG_UNSUPPORTED", `public area of type ${tpmAlgName(type)} is not RSA or ECC`, {
      field: `${field}.type`,
      offset: r.base + at,
      hint: "only RSA and ECC keys are decoded",
    });
  }
  const nameAlg = r.u16(`${field}.nameAlg`);
  const objectAttributes = r.u32(`${field}.objectAttributes`);
  const authPolicy = r.tpm2b(`${field}.authPolicy`, 64);
  const symmetric = readSymDef(r, `${field}.parameters.symmetric`);
  const scheme = readScheme(r, `${field}.parameters.scheme`);
  const common = { nameAlg, objectAttributes, authPolicy, symmetric, scheme };
  if (type === TPM_ALG.RSA) {
    const keyBits = r.u16(`${field}.parameters.keyBits`);
    const exponent = r.u32(`${field}.parameters.exponent`);
    const modulus = r.tpm2b(`${field}.unique.rsa`, 512);
    return { ...common, type, keyBits, exponent, modulus };
  }
  const curveId = r.u16(`${field}.parameters.curveID`);
  const kdfScheme = r.u16(`${field}.parameters.kdf.scheme`);
  const kdf =
    kdfScheme === TPM_ALG.NULL
      ? { scheme: kdfScheme }
      : { scheme: kdfScheme, hashAlg: r.u16(`${field}.parameters.kdf.hashAlg`) };
  const x = r.tpm2b(`${field}.unique.ecc.x`, 128);
  const y = r.tpm2b(`${field}.unique.ecc.y`, 128);
  return { ...common, type, curveId, kdf, x, y };
}

/** The TPMT_PUBLIC bytes (what the key's TPM name hashes). */
export function encodeTpmtPublic(p: TpmtPublic): Uint8Array {
  const w = new TpmWriter()
    .u16(p.type)
    .u16(p.nameAlg)
    .u32(p.objectAttributes >>> 0)
    .tpm2b(p.authPolicy, "authPolicy")
    .u16(p.symmetric.algorithm);
  if (p.symmetric.algorithm !== TPM_ALG.NULL) w.u16(p.symmetric.keyBits ?? 0).u16(p.symmetric.mode ?? 0);
  w.u16(p.scheme.scheme);
  if (p.scheme.scheme !== TPM_ALG.NULL) {
    w.u16(p.scheme.hashAlg ?? TPM_ALG.SHA256);
    if (p.scheme.scheme === TPM_ALG.ECDAA) w.u16(p.scheme.count ?? 0);
  }
  if (p.type === TPM_ALG.RSA) return w.u16(p.keyBits).u32(p.exponent).tpm2b(p.modulus, "modulus").finish();
  w.u16(p.curveId).u16(p.kdf.scheme);
  if (p.kdf.scheme !== TPM_ALG.NULL) w.u16(p.kdf.hashAlg ?? TPM_ALG.SHA256);
  return w.tpm2b(p.x, "x").tpm2b(p.y, "y").finish();
}

/** TPM_CC command codes of the commands vTPM attestation uses (Part 2, 6.5). */
export const TPM_CC = {
  NV_UndefineSpace: 0x00000122,
  NV_DefineSpace: 0x0000012a,
  NV_Write: 0x00000137,
  NV_Read: 0x0000014e,
  Quote: 0x00000158,
  NV_ReadPublic: 0x00000169,
  ReadPublic: 0x00000173,
  GetCapability: 0x0000017a,
  PCR_Read: 0x0000017e,
  PCR_Extend: 0x00000182,
} as const;

/** Permanent handles and the password session (Part 2, 7.4 and 7.5). */
export const TPM_RH = {
  OWNER: 0x40000001,
  NULL: 0x40000007,
  PLATFORM: 0x4000000c,
} as const;
export const TPM_RS_PW = 0x40000009;

/** TPM_CAP / TPM_PT values for GetCapability (Part 2, 6.12 and 6.13). */
export const TPM_CAP_TPM_PROPERTIES = 0x00000006;
export const TPM_PT = {
  MANUFACTURER: 0x00000105,
  INPUT_BUFFER: 0x0000010d,
  NV_BUFFER_MAX: 0x0000012c,
} as const;

/**
 * TPM_RC response codes (Part 2, 6.6). Format-one codes (bit 7 set) are combined with a handle, parameter or
 * session number: `code + TPM_RC_H/P/S + n * 0x100`, as `tpmRcWith` builds them.
 */
export const TPM_RC = {
  SUCCESS: 0x000,
  BAD_TAG: 0x01e,
  INITIALIZE: 0x100,
  FAILURE: 0x101,
  AUTH_MISSING: 0x125,
  COMMAND_SIZE: 0x142,
  COMMAND_CODE: 0x143,
  NV_RANGE: 0x146,
  NV_SIZE: 0x147,
  NV_LOCKED: 0x148,
  NV_AUTHORIZATION: 0x149,
  NV_UNINITIALIZED: 0x14a,
  NV_SPACE: 0x14b,
  NV_DEFINED: 0x14c,
  // Format one.
  ATTRIBUTES: 0x082,
  HASH: 0x083,
  VALUE: 0x084,
  HIERARCHY: 0x085,
  HANDLE: 0x08b,
  SCHEME: 0x092,
  SIZE: 0x095,
  INSUFFICIENT: 0x09a,
  BAD_AUTH: 0x0a2,
} as const;
export const TPM_RC_H = 0x000;
export const TPM_RC_P = 0x040;
export const TPM_RC_S = 0x800;

/** A format-one response code for handle/parameter/session `n` (1-based). */
export function tpmRcWith(code: number, where: "handle" | "parameter" | "session", n: number): number {
  const base = where === "handle" ? TPM_RC_H : where === "parameter" ? TPM_RC_P : TPM_RC_S;
  return code + base + (n << 8);
}

const RC_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TPM_RC).map(([k, v]) => [v, `TPM_RC_${k}`]),
);

/** "TPM_RC_HANDLE (handle 1)", "TPM_RC_NV_DEFINED", or the hex for codes this file does not name. */
export function tpmRcName(rc: number): string {
  if (rc & 0x080) {
    const code = rc & 0x0bf;
    const name = RC_NAMES[code] ?? `0x${code.toString(16).padStart(3, "0")}`;
    const [where, n] =
      rc & TPM_RC_P
        ? ["parameter", (rc >> 8) & 0xf]
        : rc & TPM_RC_S
          ? ["session", (rc >> 8) & 0x7]
          : ["handle", (rc >> 8) & 0x7];
    return n ? `${name} (${where} ${n})` : name;
  }
  return RC_NAMES[rc] ?? `0x${rc.toString(16).padStart(3, "0")}`;
}
