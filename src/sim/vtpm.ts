/**
 * A simulated vTPM as Azure's paravisor exposes it to a confidential VM: PCR banks (SHA-1 and SHA-256, PCRs 0..23),
 * NV indices, a persistent RSA-2048 attestation key at 0x81000003, and the raw TPM 2.0 command interface
 * (`execute`: command bytes in, response bytes out, as /dev/tpmrm0 speaks them) for the commands vTPM
 * attestation uses: NV_DefineSpace, NV_UndefineSpace, NV_Write, NV_Read, NV_ReadPublic, PCR_Read, PCR_Extend,
 * Quote, ReadPublic and GetCapability (TPM_PT_NV_BUFFER_MAX, TPM_PT_MANUFACTURER). Marshalling follows the TCG TPM
 * 2.0 Library Part 3 "Commands"; authorization is the password session (TPM_RS_PW) with empty owner and index
 * passwords, as on Azure. Errors are TPM response codes, never exceptions.
 */
import { createHash, createPublicKey, type KeyObject, sign } from "node:crypto";
import { concatBytes } from "../abi/bytes.js";
import { AZ_VTPM_AK_HANDLE } from "../abi/hcl.js";
import {
  encodeNvPublic,
  encodeTpmsAttest,
  encodeTpmtPublic,
  readNvPublic2b,
  readPcrSelectionList,
  selectedPcrs,
  TPM_ALG,
  TPM_CAP_TPM_PROPERTIES,
  TPM_CC,
  TPM_PT,
  TPM_RC,
  TPM_RH,
  TPM_RS_PW,
  TPM_ST,
  TPMA_NV,
  TPMA_OBJECT,
  TpmReader,
  type TpmsNvPublic,
  type TpmsPcrSelection,
  type TpmtPublic,
  type TpmtSignature,
  TpmWriter,
  tpmDigestSize,
  tpmRcWith,
  writePcrSelectionList,
  writeTpmtSignature,
} from "../abi/tpm2.js";
import { newKeyPair } from "../crypto/keygen.js";
import { TdxError } from "../errors.js";

export const SIM_VTPM_PCR_COUNT = 24;
/** PC-client PCRs reset to all ones (the DRTM PCRs 17..22), as the Azure capture shows. */
const ONES_AT_RESET = new Set([17, 18, 19, 20, 21, 22]);
/** Microsoft's vTPM manufacturer id "MSFT". */
const MANUFACTURER_MSFT = 0x4d534654;

const HASH_NAMES: Record<number, string> = {
  [TPM_ALG.SHA1]: "sha1",
  [TPM_ALG.SHA256]: "sha256",
  [TPM_ALG.SHA384]: "sha384",
  [TPM_ALG.SHA512]: "sha512",
};

function hash(alg: number, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash(HASH_NAMES[alg]!);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** A TPM name: nameAlg (big-endian u16) || H(public area). */
export function tpmName(nameAlg: number, publicArea: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(nameAlg >> 8, nameAlg & 0xff), hash(nameAlg, publicArea));
}

/** A TPM error with its response code, raised inside a command and turned into the response. */
class TpmRc extends Error {
  constructor(readonly rc: number) {
    super(`TPM response code 0x${rc.toString(16)}`);
  }
}

interface NvIndex {
  pub: TpmsNvPublic;
  data: Uint8Array;
}

interface Session {
  attributes: number;
}

export interface SimVtpmOptions {
  /** The attestation key (RSA private key); default: a new RSA-2048 key. */
  attestationKey?: KeyObject;
  /** PCR banks (default SHA-1 and SHA-256, as Azure's vTPM). */
  pcrBanks?: number[];
  /** MAX_NV_BUFFER_SIZE: the most one NV_Read / NV_Write moves (default 1024). */
  maxNvBuffer?: number;
  /** TPMS_ATTEST.firmwareVersion (default the value of the Azure capture). */
  firmwareVersion?: bigint;
}

export type NvWriteListener = (index: number, data: Uint8Array) => void;

/** A simulated TPM 2.0 with the attestation subset Azure's vTPM offers. */
export class SimVtpm {
  readonly #nv = new Map<number, NvIndex>();
  readonly #pcrs = new Map<number, Uint8Array[]>();
  readonly #ak: KeyObject;
  readonly #akPublic: TpmtPublic;
  readonly #akPublicBytes: Uint8Array;
  readonly #akName: Uint8Array;
  readonly #listeners: NvWriteListener[] = [];
  readonly #maxNvBuffer: number;
  readonly #firmwareVersion: bigint;
  readonly #started = Date.now();
  #pcrUpdateCounter = 0;
  resetCount = 1;
  restartCount = 0;

  constructor(opts: SimVtpmOptions = {}) {
    this.#ak = opts.attestationKey ?? newKeyPair({ type: "rsa", modulusLength: 2048 }).privateKey;
    const jwk = createPublicKey(this.#ak).export({ format: "jwk" });
    if (jwk.kty !== "RSA" || typeof jwk.n !== "string") {
      throw new TdxError("SIM_VTPM_KEY", "the vTPM attestation key must be an RSA key", {
        field: "attestationKey",
        hint: "pass an RSA private key (Azure's AK is RSA-2048)",
      });
    }
    const modulus = Uint8Array.from(Buffer.from(jwk.n, "base64url"));
    // A restricted signing key with the RSASSA/SHA-256 scheme: TPM2_Quote's NULL scheme resolves to it.
    this.#akPublic = {
      type: TPM_ALG.RSA,
      nameAlg: TPM_ALG.SHA256,
      objectAttributes:
        TPMA_OBJECT.FIXEDTPM |
        TPMA_OBJECT.FIXEDPARENT |
        TPMA_OBJECT.SENSITIVEDATAORIGIN |
        TPMA_OBJECT.USERWITHAUTH |
        TPMA_OBJECT.NODA |
        TPMA_OBJECT.RESTRICTED |
        TPMA_OBJECT.SIGN_ENCRYPT,
      authPolicy: new Uint8Array(0),
      symmetric: { algorithm: TPM_ALG.NULL },
      scheme: { scheme: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 },
      keyBits: modulus.length * 8,
      exponent: 0,
      modulus,
    };
    this.#akPublicBytes = encodeTpmtPublic(this.#akPublic);
    this.#akName = tpmName(TPM_ALG.SHA256, this.#akPublicBytes);
    for (const bank of opts.pcrBanks ?? [TPM_ALG.SHA1, TPM_ALG.SHA256]) {
      const size = tpmDigestSize(bank);
      if (size === null || !HASH_NAMES[bank]) {
        throw new TdxError("SIM_VTPM_BANK", `PCR bank ${bank} is not a hash this simulator knows`, {
          field: "pcrBanks",
          hint: "use TPM_ALG.SHA1, SHA256, SHA384 or SHA512",
        });
      }
      this.#pcrs.set(
        bank,
        Array.from({ length: SIM_VTPM_PCR_COUNT }, (_, i) =>
          new Uint8Array(size).fill(ONES_AT_RESET.has(i) ? 0xff : 0),
        ),
      );
    }
    this.#maxNvBuffer = opts.maxNvBuffer ?? 1024;
    this.#firmwareVersion = opts.firmwareVersion ?? 0x2020031200120003n;
  }

  /** The AK public key as a JWK (what the paravisor writes into the HCL var data as HCLAkPub). */
  get akJwk(): { kty: "RSA"; n: string; e: string } {
    const jwk = createPublicKey(this.#ak).export({ format: "jwk" });
    return { kty: "RSA", n: jwk.n!, e: jwk.e! };
  }
  /** The AK's TPMT_PUBLIC bytes and TPM name. */
  get akPublicArea(): Uint8Array {
    return this.#akPublicBytes.slice();
  }
  get akName(): Uint8Array {
    return this.#akName.slice();
  }

  /** A PCR value (a copy). */
  pcr(index: number, bank: number = TPM_ALG.SHA256): Uint8Array {
    const v = this.#pcrs.get(bank)?.[index];
    if (!v) {
      throw new TdxError("SIM_VTPM_PCR", `no PCR ${index} in bank ${bank}`, {
        field: "index",
        hint: `PCRs are 0..${SIM_VTPM_PCR_COUNT - 1} in the SHA-1 and SHA-256 banks`,
      });
    }
    return v.slice();
  }

  /** TPM2_PCR_Extend of one bank: PCR = H(PCR || digest). */
  extendPcr(index: number, digest: Uint8Array, bank: number = TPM_ALG.SHA256): Uint8Array {
    const old = this.pcr(index, bank);
    if (digest.length !== old.length) {
      throw new TdxError(
        "SIM_VTPM_DIGEST_SIZE",
        `a ${old.length}-byte digest is needed, got ${digest.length}`,
        {
          field: "digest",
          hint: "extend a bank with a digest of its hash",
        },
      );
    }
    const next = hash(bank, old, digest);
    this.#pcrs.get(bank)![index] = next;
    this.#pcrUpdateCounter++;
    return next.slice();
  }

  /** Extend every bank with the hash of `event` (what firmware does for a measured event). */
  measure(index: number, event: Uint8Array): void {
    for (const bank of this.#pcrs.keys()) this.extendPcr(index, hash(bank, event), bank);
  }

  /** Platform-side definition (the paravisor's own indices): no authorization, replaces an existing one. */
  defineNvIndex(pub: TpmsNvPublic, data?: Uint8Array): void {
    const contents = new Uint8Array(pub.dataSize);
    if (data) contents.set(data.subarray(0, pub.dataSize));
    const attributes = data ? pub.attributes | TPMA_NV.WRITTEN : pub.attributes & ~TPMA_NV.WRITTEN;
    this.#nv.set(pub.nvIndex, { pub: { ...pub, attributes: attributes >>> 0 }, data: contents });
  }

  /** The NV index's public area and contents (copies), or null. */
  nvIndex(index: number): { pub: TpmsNvPublic; data: Uint8Array } | null {
    const nv = this.#nv.get(index);
    return nv ? { pub: { ...nv.pub }, data: nv.data.slice() } : null;
  }

  /** Called after every NV_Write (the paravisor regenerates its report when the guest writes report data). */
  onNvWrite(listener: NvWriteListener): void {
    this.#listeners.push(listener);
  }

  /** TPM2_Quote with the AK over a PCR selection: the marshalled TPMS_ATTEST and the RSASSA signature. */
  quote(
    qualifyingData: Uint8Array,
    select: readonly TpmsPcrSelection[],
  ): { attest: Uint8Array; signature: TpmtSignature } {
    const values: Uint8Array[] = [];
    for (const s of select) {
      const bank = this.#pcrs.get(s.hash);
      for (const i of selectedPcrs(s)) {
        const v = bank?.[i];
        if (v) values.push(v);
      }
    }
    const attest = encodeTpmsAttest({
      type: TPM_ST.ATTEST_QUOTE,
      qualifiedSigner: this.#akName,
      extraData: qualifyingData,
      clockInfo: {
        clock: BigInt(Date.now() - this.#started) + 354_000_000n,
        resetCount: this.resetCount,
        restartCount: this.restartCount,
        safe: 1,
      },
      firmwareVersion: this.#firmwareVersion,
      quote: { pcrSelect: [...select], pcrDigest: hash(TPM_ALG.SHA256, ...values) },
    });
    const sig = new Uint8Array(sign("sha256", attest, this.#ak));
    return { attest, signature: { sigAlg: TPM_ALG.RSASSA, hash: TPM_ALG.SHA256, signature: sig } };
  }

  /** Execute one marshalled TPM 2.0 command; always returns a response (errors as response codes). */
  execute(command: Uint8Array): Uint8Array {
    try {
      return this.#execute(command);
    } catch (e) {
      if (e instanceof TpmRc) return errorResponse(e.rc);
      if (e instanceof TdxError && e.code.startsWith("TPM2_")) {
        // A parameter area that does not parse: the TPM's TPM_RC_INSUFFICIENT / TPM_RC_SIZE.
        return errorResponse(tpmRcWith(TPM_RC.INSUFFICIENT, "parameter", 1));
      }
      throw e;
    }
  }

  #execute(cmd: Uint8Array): Uint8Array {
    if (cmd.length < 10) return errorResponse(TPM_RC.COMMAND_SIZE);
    const r = new TpmReader(cmd, 0, cmd.length, 0, "TPM command");
    const tag = r.u16("tag");
    const size = r.u32("commandSize");
    const cc = r.u32("commandCode");
    if (tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.SESSIONS) return errorResponse(TPM_RC.BAD_TAG);
    if (size !== cmd.length) return errorResponse(TPM_RC.COMMAND_SIZE);
    const spec = COMMANDS[cc];
    if (!spec) return errorResponse(TPM_RC.COMMAND_CODE);
    const handles: number[] = [];
    for (let i = 0; i < spec.handles; i++) handles.push(r.u32(`handle${i + 1}`));
    let sessions: Session[] = [];
    if (tag === TPM_ST.SESSIONS) sessions = readSessions(r);
    else if (spec.auth > 0) return errorResponse(TPM_RC.AUTH_MISSING);
    if (sessions.length < spec.auth) return errorResponse(TPM_RC.AUTH_MISSING);
    const out = this.#dispatch(cc, handles, r);
    if (r.remaining !== 0) return errorResponse(TPM_RC.COMMAND_SIZE);
    return successResponse(tag, out.handles ?? [], out.params, sessions);
  }

  #dispatch(cc: number, h: number[], r: TpmReader): { handles?: number[]; params: Uint8Array } {
    switch (cc) {
      case TPM_CC.NV_DefineSpace:
        return this.#nvDefineSpace(h[0]!, r);
      case TPM_CC.NV_UndefineSpace:
        return this.#nvUndefineSpace(h[0]!, h[1]!);
      case TPM_CC.NV_Write:
        return this.#nvWrite(h[0]!, h[1]!, r);
      case TPM_CC.NV_Read:
        return this.#nvRead(h[0]!, h[1]!, r);
      case TPM_CC.NV_ReadPublic:
        return this.#nvReadPublic(h[0]!);
      case TPM_CC.PCR_Read:
        return this.#pcrRead(r);
      case TPM_CC.PCR_Extend:
        return this.#pcrExtend(h[0]!, r);
      case TPM_CC.Quote:
        return this.#quote(h[0]!, r);
      case TPM_CC.ReadPublic:
        return this.#readPublic(h[0]!);
      default:
        return this.#getCapability(r);
    }
  }

  #index(handle: number, n: number): NvIndex {
    const nv = this.#nv.get(handle);
    if (!nv) throw new TpmRc(tpmRcWith(TPM_RC.HANDLE, "handle", n));
    return nv;
  }

  /** The NV authorization rules of Part 1 37.6 for owner or index authorization. */
  #nvAuth(auth: number, index: number, nv: NvIndex, write: boolean): void {
    if (auth === TPM_RH.OWNER) {
      if (!(nv.pub.attributes & (write ? TPMA_NV.OWNERWRITE : TPMA_NV.OWNERREAD)))
        throw new TpmRc(TPM_RC.NV_AUTHORIZATION);
    } else if (auth === index) {
      if (!(nv.pub.attributes & (write ? TPMA_NV.AUTHWRITE : TPMA_NV.AUTHREAD)))
        throw new TpmRc(TPM_RC.NV_AUTHORIZATION);
    } else {
      throw new TpmRc(tpmRcWith(TPM_RC.HANDLE, "handle", 1));
    }
  }

  #nvDefineSpace(auth: number, r: TpmReader): { params: Uint8Array } {
    if (auth !== TPM_RH.OWNER && auth !== TPM_RH.PLATFORM)
      throw new TpmRc(tpmRcWith(TPM_RC.HANDLE, "handle", 1));
    r.tpm2b("auth", 64);
    const pub = readNvPublic2b(r, "publicInfo");
    if (pub.nvIndex >>> 24 !== 0x01) throw new TpmRc(tpmRcWith(TPM_RC.VALUE, "parameter", 2));
    if (tpmDigestSize(pub.nameAlg) === null) throw new TpmRc(tpmRcWith(TPM_RC.HASH, "parameter", 2));
    if (pub.attributes & (TPMA_NV.WRITTEN | TPMA_NV.WRITELOCKED | TPMA_NV.READLOCKED))
      throw new TpmRc(tpmRcWith(TPM_RC.ATTRIBUTES, "parameter", 2));
    if (auth === TPM_RH.OWNER && pub.attributes & TPMA_NV.PLATFORMCREATE)
      throw new TpmRc(tpmRcWith(TPM_RC.ATTRIBUTES, "parameter", 2));
    if (pub.dataSize > 2048) throw new TpmRc(TPM_RC.NV_SIZE);
    if (this.#nv.has(pub.nvIndex)) throw new TpmRc(TPM_RC.NV_DEFINED);
    this.#nv.set(pub.nvIndex, { pub: { ...pub }, data: new Uint8Array(pub.dataSize) });
    return { params: new Uint8Array(0) };
  }

  #nvUndefineSpace(auth: number, index: number): { params: Uint8Array } {
    const nv = this.#index(index, 2);
    if (auth !== TPM_RH.OWNER && auth !== TPM_RH.PLATFORM)
      throw new TpmRc(tpmRcWith(TPM_RC.HANDLE, "handle", 1));
    // An index the platform created cannot be removed with owner authorization.
    if ((auth === TPM_RH.OWNER) === Boolean(nv.pub.attributes & TPMA_NV.PLATFORMCREATE))
      throw new TpmRc(TPM_RC.NV_AUTHORIZATION);
    this.#nv.delete(index);
    return { params: new Uint8Array(0) };
  }

  #nvWrite(auth: number, index: number, r: TpmReader): { params: Uint8Array } {
    const nv = this.#index(index, 2);
    this.#nvAuth(auth, index, nv, true);
    const data = r.tpm2b("data");
    const offset = r.u16("offset");
    if (data.length > this.#maxNvBuffer) throw new TpmRc(tpmRcWith(TPM_RC.VALUE, "parameter", 1));
    if (offset + data.length > nv.pub.dataSize) throw new TpmRc(TPM_RC.NV_RANGE);
    nv.data.set(data, offset);
    nv.pub.attributes = (nv.pub.attributes | TPMA_NV.WRITTEN) >>> 0;
    for (const l of this.#listeners) l(index, nv.data.slice());
    return { params: new Uint8Array(0) };
  }

  #nvRead(auth: number, index: number, r: TpmReader): { params: Uint8Array } {
    const nv = this.#index(index, 2);
    this.#nvAuth(auth, index, nv, false);
    const size = r.u16("size");
    const offset = r.u16("offset");
    if (size > this.#maxNvBuffer) throw new TpmRc(tpmRcWith(TPM_RC.VALUE, "parameter", 1));
    if (!(nv.pub.attributes & TPMA_NV.WRITTEN)) throw new TpmRc(TPM_RC.NV_UNINITIALIZED);
    if (offset + size > nv.pub.dataSize) throw new TpmRc(TPM_RC.NV_RANGE);
    return { params: new TpmWriter().tpm2b(nv.data.subarray(offset, offset + size)).finish() };
  }

  #nvReadPublic(index: number): { params: Uint8Array } {
    const nv = this.#index(index, 1);
    const pub = encodeNvPublic(nv.pub);
    return { params: new TpmWriter().tpm2b(pub).tpm2b(tpmName(nv.pub.nameAlg, pub)).finish() };
  }

  #pcrRead(r: TpmReader): { params: Uint8Array } {
    const select = readPcrSelectionList(r, "pcrSelectionIn");
    // A TPM returns at most 8 digests per call (TPML_DIGEST); pcrSelectionOut says which ones.
    const out: TpmsPcrSelection[] = [];
    const values: Uint8Array[] = [];
    for (const s of select) {
      const bank = this.#pcrs.get(s.hash);
      const bits = new Uint8Array(s.sizeofSelect);
      if (bank) {
        for (const i of selectedPcrs(s)) {
          if (values.length === 8 || i >= SIM_VTPM_PCR_COUNT) continue;
          bits[i >> 3]! |= 1 << (i & 7);
          values.push(bank[i]!);
        }
      }
      out.push({ hash: s.hash, sizeofSelect: s.sizeofSelect, select: bits });
    }
    const w = new TpmWriter().u32(this.#pcrUpdateCounter);
    writePcrSelectionList(w, out).u32(values.length);
    for (const v of values) w.tpm2b(v);
    return { params: w.finish() };
  }

  #pcrExtend(pcr: number, r: TpmReader): { params: Uint8Array } {
    if (pcr >= SIM_VTPM_PCR_COUNT) throw new TpmRc(tpmRcWith(TPM_RC.VALUE, "handle", 1));
    const count = r.u32("digests.count");
    const digests: [number, Uint8Array][] = [];
    for (let i = 0; i < count; i++) {
      const alg = r.u16(`digests[${i}].hashAlg`);
      const size = tpmDigestSize(alg);
      if (size === null) throw new TpmRc(tpmRcWith(TPM_RC.HASH, "parameter", 1));
      digests.push([alg, r.bytes(size, `digests[${i}].digest`)]);
    }
    for (const [alg, d] of digests) if (this.#pcrs.has(alg)) this.extendPcr(pcr, d, alg);
    return { params: new Uint8Array(0) };
  }

  #quote(signHandle: number, r: TpmReader): { params: Uint8Array } {
    if (signHandle !== AZ_VTPM_AK_HANDLE) throw new TpmRc(tpmRcWith(TPM_RC.HANDLE, "handle", 1));
    const sizeAt = r.pos;
    const qualifyingData = r.tpm2b("qualifyingData");
    if (qualifyingData.length > 64) {
      r.pos = sizeAt;
      throw new TpmRc(tpmRcWith(TPM_RC.SIZE, "parameter", 1));
    }
    const scheme = r.u16("inScheme.scheme");
    if (scheme !== TPM_ALG.NULL) {
      const h = r.u16("inScheme.hashAlg");
      // A restricted key signs only with its own scheme.
      if (scheme !== TPM_ALG.RSASSA || h !== TPM_ALG.SHA256)
        throw new TpmRc(tpmRcWith(TPM_RC.SCHEME, "parameter", 2));
    }
    const select = readPcrSelectionList(r, "PCRselect");
    const q = this.quote(qualifyingData, select);
    const w = new TpmWriter().tpm2b(q.attest);
    return { params: writeTpmtSignature(w, q.signature).finish() };
  }

  #readPublic(handle: number): { params: Uint8Array } {
    if (handle !== AZ_VTPM_AK_HANDLE) throw new TpmRc(tpmRcWith(TPM_RC.HANDLE, "handle", 1));
    return {
      params: new TpmWriter().tpm2b(this.#akPublicBytes).tpm2b(this.#akName).tpm2b(this.#akName).finish(),
    };
  }

  #getCapability(r: TpmReader): { params: Uint8Array } {
    const capability = r.u32("capability");
    const property = r.u32("property");
    const count = r.u32("propertyCount");
    if (capability !== TPM_CAP_TPM_PROPERTIES) throw new TpmRc(tpmRcWith(TPM_RC.VALUE, "parameter", 1));
    const all: [number, number][] = [
      [TPM_PT.MANUFACTURER, MANUFACTURER_MSFT],
      [TPM_PT.INPUT_BUFFER, 1024],
      [TPM_PT.NV_BUFFER_MAX, this.#maxNvBuffer],
    ];
    const from = all.filter(([p]) => p >= property);
    const some = from.slice(0, Math.max(0, count));
    const w = new TpmWriter()
      .u8(from.length > some.length ? 1 : 0)
      .u32(TPM_CAP_TPM_PROPERTIES)
      .u32(some.length);
    for (const [p, v] of some) w.u32(p).u32(v);
    return { params: w.finish() };
  }
}

/** How many handles each command takes and how many of them need an authorization session. */
const COMMANDS: Record<number, { handles: number; auth: number }> = {
  [TPM_CC.NV_DefineSpace]: { handles: 1, auth: 1 },
  [TPM_CC.NV_UndefineSpace]: { handles: 2, auth: 1 },
  [TPM_CC.NV_Write]: { handles: 2, auth: 1 },
  [TPM_CC.NV_Read]: { handles: 2, auth: 1 },
  [TPM_CC.NV_ReadPublic]: { handles: 1, auth: 0 },
  [TPM_CC.PCR_Read]: { handles: 0, auth: 0 },
  [TPM_CC.PCR_Extend]: { handles: 1, auth: 1 },
  [TPM_CC.Quote]: { handles: 1, auth: 1 },
  [TPM_CC.ReadPublic]: { handles: 1, auth: 0 },
  [TPM_CC.GetCapability]: { handles: 0, auth: 0 },
};

/** The authorization area: password sessions with an empty password only (Azure's owner auth is empty). */
function readSessions(r: TpmReader): Session[] {
  const size = r.u32("authorizationSize");
  const end = r.pos + size;
  if (end > r.end) throw new TpmRc(TPM_RC.COMMAND_SIZE);
  const out: Session[] = [];
  while (r.pos < end) {
    const n = out.length + 1;
    const handle = r.u32("sessionHandle");
    const nonce = r.tpm2b("nonceCaller");
    const attributes = r.u8("sessionAttributes");
    const hmac = r.tpm2b("hmac");
    if (handle !== TPM_RS_PW || nonce.length !== 0) throw new TpmRc(tpmRcWith(TPM_RC.VALUE, "session", n));
    if (hmac.length !== 0) throw new TpmRc(tpmRcWith(TPM_RC.BAD_AUTH, "session", n));
    out.push({ attributes });
  }
  if (r.pos !== end || out.length === 0 || out.length > 3) throw new TpmRc(TPM_RC.AUTH_MISSING);
  return out;
}

function errorResponse(rc: number): Uint8Array {
  return new TpmWriter().u16(TPM_ST.NO_SESSIONS).u32(10).u32(rc).finish();
}

function successResponse(
  tag: number,
  handles: number[],
  params: Uint8Array,
  sessions: Session[],
): Uint8Array {
  const body = new TpmWriter();
  for (const h of handles) body.u32(h);
  if (tag === TPM_ST.SESSIONS) {
    body.u32(params.length).bytes(params);
    // Password sessions answer with an empty nonce, continueSession echoed, an empty hmac.
    for (const s of sessions)
      body
        .u16(0)
        .u8(s.attributes & 0x01)
        .u16(0);
  } else {
    body.bytes(params);
  }
  const b = body.finish();
  return new TpmWriter()
    .u16(tag)
    .u32(10 + b.length)
    .u32(TPM_RC.SUCCESS)
    .bytes(b)
    .finish();
}
