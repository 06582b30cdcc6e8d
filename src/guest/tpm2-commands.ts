/**
 * Raw TPM 2.0 commands for vTPM attestation, without tpm2-tools or a TSS: marshalling of the commands and
 * unmarshalling of the responses (TCG TPM 2.0 Library Part 3 "Commands", with the structures of Part 2 from
 * src/abi/tpm2.ts), and a client over any transport that moves whole command/response buffers (the kernel's
 * /dev/tpmrm0, see tpm2-device.ts). Authorization is the password session TPM_RS_PW with an empty password, what
 * Azure's vTPM expects for owner-authorized NV access and for its attestation key (kinvolk/azure-cvm-tooling
 * `az-cvm-vtpm/src/vtpm/mod.rs` sets `AuthSession::Password`).
 *
 * Error codes (TdxError.code): GUEST_TPM_COMMAND_FAILED (the TPM answered with an error response code; `data.rc`,
 * `data.rcName`), GUEST_TPM_NV_INDEX_MISSING (the NV index is not defined), GUEST_TPM_RESPONSE_MALFORMED (a
 * response that does not parse), GUEST_TPM_ARGUMENT (a call the TPM could not accept, refused before sending),
 * GUEST_TPM_PCR_UNAVAILABLE (a selected PCR the TPM does not return).
 */
import { concatBytes } from "../abi/bytes.js";
import { AZ_VTPM_AK_HANDLE, AZ_VTPM_HCL_REPORT_NV_INDEX, AZ_VTPM_REPORT_DATA_NV_INDEX } from "../abi/hcl.js";
import {
  encodeNvPublic,
  pcrSelection,
  readNvPublic2b,
  readPcrSelectionList,
  readTpmtPublic,
  readTpmtSignature,
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
  TpmReader,
  type TpmsNvPublic,
  type TpmsPcrSelection,
  type TpmtPublic,
  type TpmtSignature,
  TpmWriter,
  tpmAlgName,
  tpmDigestSize,
  tpmRcName,
  tpmRcWith,
  writePcrSelectionList,
} from "../abi/tpm2.js";
import { TdxError } from "../errors.js";

const CC_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TPM_CC).map(([k, v]) => [v, `TPM2_${k}`]),
);

/** Moves one whole command to the TPM and returns its whole response. */
export interface Tpm2Transport {
  transmit(command: Uint8Array): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/**
 * A command buffer: header (tag, size, code), handles, then for `sessions` > 0 the authorization area with that
 * many password sessions (empty nonce, continueSession, empty password), then the parameters.
 */
export function marshalCommand(
  code: number,
  handles: readonly number[],
  params: Uint8Array,
  sessions = 0,
): Uint8Array {
  const body = new TpmWriter();
  for (const h of handles) body.u32(h);
  if (sessions > 0) {
    // TPMS_AUTH_COMMAND: sessionHandle, nonceCaller (empty), sessionAttributes (continueSession), hmac (empty).
    const one = new TpmWriter().u32(TPM_RS_PW).u16(0).u8(0x01).u16(0).finish();
    body.u32(one.length * sessions);
    for (let i = 0; i < sessions; i++) body.bytes(one);
  }
  body.bytes(params);
  const b = body.finish();
  return new TpmWriter()
    .u16(sessions > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS)
    .u32(10 + b.length)
    .u32(code)
    .bytes(b)
    .finish();
}

export interface Tpm2Response {
  rc: number;
  /** Handles the response returns (none of the commands here return one). */
  handles: number[];
  /** The response parameters. */
  params: Uint8Array;
}

function malformed(command: string, why: string, offset?: number): TdxError {
  return new TdxError(
    "GUEST_TPM_RESPONSE_MALFORMED",
    `the TPM's response to ${command} is malformed: ${why}`,
    {
      field: command,
      ...(offset !== undefined ? { offset } : {}),
      hint: "the device is not a TPM 2.0 resource manager, or the response was cut; use /dev/tpmrm0",
    },
  );
}

/**
 * Split a response: header, then (success only) the handles, the parameters (with their size when the command
 * had sessions) and the session area, which must hold `sessions` TPMS_AUTH_RESPONSE entries.
 */
export function unmarshalResponse(
  bytes: Uint8Array,
  command: string,
  handleCount: number,
  sessions: number,
): Tpm2Response {
  if (bytes.length < 10) throw malformed(command, `${bytes.length} bytes, a header has 10`, bytes.length);
  const r = new TpmReader(bytes, 0, bytes.length, 0, `${command} response`);
  const tag = r.u16("tag");
  const size = r.u32("responseSize");
  const rc = r.u32("responseCode");
  if (size !== bytes.length)
    throw malformed(command, `responseSize says ${size}, ${bytes.length} bytes came`, 2);
  if (tag !== TPM_ST.NO_SESSIONS && tag !== TPM_ST.SESSIONS) {
    throw malformed(command, `tag 0x${tag.toString(16)} is not TPM_ST_NO_SESSIONS or TPM_ST_SESSIONS`, 0);
  }
  if (rc !== TPM_RC.SUCCESS) {
    if (bytes.length !== 10) throw malformed(command, "an error response with a body", 10);
    return { rc, handles: [], params: new Uint8Array(0) };
  }
  try {
    const handles: number[] = [];
    for (let i = 0; i < handleCount; i++) handles.push(r.u32(`handle${i + 1}`));
    if (tag === TPM_ST.SESSIONS) {
      const n = r.u32("parameterSize");
      const params = r.bytes(n, "parameters");
      for (let i = 0; i < sessions; i++) {
        r.tpm2b(`session${i + 1}.nonceTPM`);
        r.u8(`session${i + 1}.sessionAttributes`);
        r.tpm2b(`session${i + 1}.hmac`);
      }
      r.done();
      return { rc, handles, params };
    }
    if (sessions > 0) throw malformed(command, "a command with sessions answered without them", 0);
    return { rc, handles, params: bytes.subarray(r.pos) };
  } catch (e) {
    if (e instanceof TdxError && e.code.startsWith("TPM2_")) throw malformed(command, e.message, e.offset);
    throw e;
  }
}

/** The parameters must be consumed exactly; anything else is a malformed response. */
function readParams<T>(command: string, params: Uint8Array, read: (r: TpmReader) => T): T {
  const r = new TpmReader(params, 0, params.length, 0, `${command} response parameters`);
  try {
    const v = read(r);
    r.done();
    return v;
  } catch (e) {
    if (e instanceof TdxError && e.code.startsWith("TPM2_")) throw malformed(command, e.message, e.offset);
    throw e;
  }
}

export interface NvPublicInfo {
  public: TpmsNvPublic;
  /** The index's TPM name: nameAlg || H(TPMS_NV_PUBLIC). */
  name: Uint8Array;
}

export interface PcrReadResult {
  updateCounter: number;
  /** The values in the order of the selection (bank by bank, PCRs ascending). */
  values: { bank: number; index: number; value: Uint8Array }[];
}

export interface TpmQuoteResult {
  /** The marshalled TPMS_ATTEST (TPM2B_ATTEST's contents). */
  attest: Uint8Array;
  signature: TpmtSignature;
}

export interface ReadPublicResult {
  public: TpmtPublic;
  /** The TPMT_PUBLIC bytes. */
  publicArea: Uint8Array;
  name: Uint8Array;
  qualifiedName: Uint8Array;
}

export interface Tpm2ClientOptions {
  /** Largest NV_Read / NV_Write chunk; default: the TPM's TPM_PT_NV_BUFFER_MAX (asked once), else 1024. */
  maxNvBuffer?: number;
}

/** TPM 2.0 commands over a transport. One command at a time: calls are queued. */
export class Tpm2Client {
  #queue: Promise<unknown> = Promise.resolve();
  #maxNvBuffer: number | undefined;

  constructor(
    readonly transport: Tpm2Transport,
    opts: Tpm2ClientOptions = {},
  ) {
    this.#maxNvBuffer = opts.maxNvBuffer;
  }

  /** Send one command, return its response parameters; a TPM error becomes a TdxError. */
  async command(
    code: number,
    handles: readonly number[],
    params: Uint8Array,
    sessions: number,
    ctx: { nvIndex?: number } = {},
  ): Promise<Uint8Array> {
    const name = CC_NAMES[code] ?? `TPM command 0x${code.toString(16)}`;
    const cmd = marshalCommand(code, handles, params, sessions);
    const run = this.#queue.then(() => this.transport.transmit(cmd));
    this.#queue = run.catch(() => {});
    const res = unmarshalResponse(await run, name, 0, sessions);
    if (res.rc !== TPM_RC.SUCCESS) throw tpmError(name, res.rc, handles, ctx);
    return res.params;
  }

  async close(): Promise<void> {
    await this.transport.close?.();
  }

  /** TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES) for one property; null when the TPM does not report it. */
  async getProperty(property: number): Promise<number | null> {
    const params = new TpmWriter().u32(TPM_CAP_TPM_PROPERTIES).u32(property).u32(1).finish();
    const out = await this.command(TPM_CC.GetCapability, [], params, 0);
    return readParams("TPM2_GetCapability", out, (r) => {
      r.u8("moreData");
      const cap = r.u32("capabilityData.capability");
      if (cap !== TPM_CAP_TPM_PROPERTIES)
        throw malformed("TPM2_GetCapability", `capability ${cap} came back`);
      const count = r.u32("tpmProperties.count");
      let found: number | null = null;
      for (let i = 0; i < count; i++) {
        const p = r.u32(`tpmProperties[${i}].property`);
        const v = r.u32(`tpmProperties[${i}].value`);
        if (p === property) found = v;
      }
      return found;
    });
  }

  /** The NV chunk size: the option, else TPM_PT_NV_BUFFER_MAX, else 1024. */
  async maxNvBuffer(): Promise<number> {
    if (this.#maxNvBuffer === undefined) {
      let v: number | null = null;
      try {
        v = await this.getProperty(TPM_PT.NV_BUFFER_MAX);
      } catch (e) {
        if (!(e instanceof TdxError && e.code === "GUEST_TPM_COMMAND_FAILED")) throw e;
      }
      this.#maxNvBuffer = v && v > 0 ? v : 1024;
    }
    return this.#maxNvBuffer;
  }

  /** TPM2_NV_ReadPublic. */
  async nvReadPublic(index: number): Promise<NvPublicInfo> {
    const out = await this.command(TPM_CC.NV_ReadPublic, [index], new Uint8Array(0), 0, { nvIndex: index });
    return readParams("TPM2_NV_ReadPublic", out, (r) => ({
      public: readNvPublic2b(r, "nvPublic"),
      name: r.tpm2b("nvName").slice(),
    }));
  }

  /** TPM2_NV_Read of one chunk (at most the NV buffer size), with owner (default) or index authorization. */
  async nvRead(index: number, size: number, offset = 0, auth: number = TPM_RH.OWNER): Promise<Uint8Array> {
    checkU16(size, "size");
    checkU16(offset, "offset");
    const params = new TpmWriter().u16(size).u16(offset).finish();
    const out = await this.command(TPM_CC.NV_Read, [auth, index], params, 1, { nvIndex: index });
    const data = readParams("TPM2_NV_Read", out, (r) => r.tpm2b("data").slice());
    if (data.length !== size) throw malformed("TPM2_NV_Read", `${data.length} bytes came for ${size} asked`);
    return data;
  }

  /** The whole NV index, read in chunks (what tss-esapi's `nv::read_full` does). */
  async nvReadAll(index: number, auth: number = TPM_RH.OWNER): Promise<Uint8Array> {
    const { public: pub } = await this.nvReadPublic(index);
    const chunk = await this.maxNvBuffer();
    const parts: Uint8Array[] = [];
    for (let off = 0; off < pub.dataSize; off += chunk) {
      parts.push(await this.nvRead(index, Math.min(chunk, pub.dataSize - off), off, auth));
    }
    return concatBytes(...parts);
  }

  /** TPM2_NV_Write in chunks, with owner (default) or index authorization. */
  async nvWrite(index: number, data: Uint8Array, offset = 0, auth: number = TPM_RH.OWNER): Promise<void> {
    checkU16(offset + data.length, "offset + size");
    const chunk = await this.maxNvBuffer();
    let off = 0;
    do {
      const part = data.subarray(off, Math.min(data.length, off + chunk));
      const params = new TpmWriter()
        .tpm2b(part)
        .u16(offset + off)
        .finish();
      await this.command(TPM_CC.NV_Write, [auth, index], params, 1, { nvIndex: index });
      off += chunk;
    } while (off < data.length);
  }

  /** TPM2_NV_DefineSpace under the owner hierarchy with an empty index password. */
  async nvDefineSpace(pub: TpmsNvPublic, auth: number = TPM_RH.OWNER): Promise<void> {
    const params = new TpmWriter().u16(0).tpm2b(encodeNvPublic(pub), "publicInfo").finish();
    await this.command(TPM_CC.NV_DefineSpace, [auth], params, 1, { nvIndex: pub.nvIndex });
  }

  /** TPM2_NV_UndefineSpace with owner authorization. */
  async nvUndefineSpace(index: number, auth: number = TPM_RH.OWNER): Promise<void> {
    await this.command(TPM_CC.NV_UndefineSpace, [auth, index], new Uint8Array(0), 1, { nvIndex: index });
  }

  /**
   * TPM2_PCR_Read of a selection, repeated until every selected PCR came back (a TPM returns at most 8 digests
   * per call and says which in pcrSelectionOut).
   */
  async pcrRead(selection: readonly TpmsPcrSelection[]): Promise<PcrReadResult> {
    const want = selection.flatMap((s) => selectedPcrs(s).map((index) => ({ bank: s.hash, index })));
    const got = new Map<string, Uint8Array>();
    let updateCounter = 0;
    for (;;) {
      const remaining = selection.map((s) =>
        pcrSelection(
          s.hash,
          selectedPcrs(s).filter((i) => !got.has(`${s.hash}:${i}`)),
          s.sizeofSelect,
        ),
      );
      if (remaining.every((s) => selectedPcrs(s).length === 0)) break;
      const out = await this.command(
        TPM_CC.PCR_Read,
        [],
        writePcrSelectionList(new TpmWriter(), remaining).finish(),
        0,
      );
      const { counter, slots, digests } = readParams("TPM2_PCR_Read", out, (r) => {
        const counter = r.u32("pcrUpdateCounter");
        const sel = readPcrSelectionList(r, "pcrSelectionOut");
        const n = r.u32("pcrValues.count");
        const digests: Uint8Array[] = [];
        for (let i = 0; i < n; i++) digests.push(r.tpm2b(`pcrValues[${i}]`, 64).slice());
        return {
          counter,
          slots: sel.flatMap((s) => selectedPcrs(s).map((index) => ({ bank: s.hash, index }))),
          digests,
        };
      });
      if (slots.length !== digests.length) {
        throw malformed("TPM2_PCR_Read", `${slots.length} PCRs selected out, ${digests.length} values`);
      }
      if (got.size > 0 && counter !== updateCounter) {
        // A PCR changed between two reads: start over, so that all values are of one moment.
        got.clear();
        updateCounter = counter;
        continue;
      }
      updateCounter = counter;
      if (digests.length === 0) {
        const missing = remaining.flatMap((s) => selectedPcrs(s).map((i) => `${tpmAlgName(s.hash)}:${i}`));
        throw new TdxError("GUEST_TPM_PCR_UNAVAILABLE", `the TPM does not return PCR ${missing.join(", ")}`, {
          field: "selection",
          hint: "the bank or PCR is not implemented by this TPM; select the SHA-256 bank, PCRs 0..23",
          data: { missing },
        });
      }
      slots.forEach((s, i) => {
        if (digests[i]!.length !== tpmDigestSize(s.bank)) {
          throw malformed(
            "TPM2_PCR_Read",
            `PCR ${s.index} of ${tpmAlgName(s.bank)} has ${digests[i]!.length} bytes`,
          );
        }
        got.set(`${s.bank}:${s.index}`, digests[i]!);
      });
    }
    return {
      updateCounter,
      values: want.map((w) => ({ ...w, value: got.get(`${w.bank}:${w.index}`)! })),
    };
  }

  /** TPM2_PCR_Extend of PCR `index` with one digest per bank. */
  async pcrExtend(index: number, digests: readonly { bank: number; digest: Uint8Array }[]): Promise<void> {
    const w = new TpmWriter().u32(digests.length);
    for (const d of digests) {
      if (d.digest.length !== tpmDigestSize(d.bank)) {
        throw new TdxError(
          "GUEST_TPM_ARGUMENT",
          `a ${tpmAlgName(d.bank)} digest has ${tpmDigestSize(d.bank) ?? "?"} bytes, got ${d.digest.length}`,
          { field: "digest", hint: "extend each bank with a digest of its own hash" },
        );
      }
      w.u16(d.bank).bytes(d.digest);
    }
    await this.command(TPM_CC.PCR_Extend, [index], w.finish(), 1);
  }

  /** TPM2_Quote with `signHandle` over `selection`, the key's own scheme (inScheme TPM_ALG_NULL). */
  async quote(
    signHandle: number,
    qualifyingData: Uint8Array,
    selection: readonly TpmsPcrSelection[],
  ): Promise<TpmQuoteResult> {
    if (qualifyingData.length > 64) {
      throw new TdxError(
        "GUEST_TPM_ARGUMENT",
        `qualifying data is ${qualifyingData.length} bytes; at most 64`,
        {
          field: "nonce",
          hint: "pass a nonce (or its digest) of at most 64 bytes",
        },
      );
    }
    const w = new TpmWriter().tpm2b(qualifyingData).u16(TPM_ALG.NULL);
    const out = await this.command(
      TPM_CC.Quote,
      [signHandle],
      writePcrSelectionList(w, selection).finish(),
      1,
    );
    return readParams("TPM2_Quote", out, (r) => ({
      attest: r.tpm2b("quoted").slice(),
      signature: readTpmtSignature(r, "signature"),
    }));
  }

  /** TPM2_ReadPublic of a loaded or persistent key. */
  async readPublic(handle: number): Promise<ReadPublicResult> {
    const out = await this.command(TPM_CC.ReadPublic, [handle], new Uint8Array(0), 0);
    return readParams("TPM2_ReadPublic", out, (r) => {
      const publicArea = r.tpm2b("outPublic").slice();
      const sub = new TpmReader(publicArea, 0, publicArea.length, 2, "TPM2_ReadPublic outPublic");
      const pub = readTpmtPublic(sub, "outPublic");
      sub.done();
      return {
        public: pub,
        publicArea,
        name: r.tpm2b("name").slice(),
        qualifiedName: r.tpm2b("qualifiedName").slice(),
      };
    });
  }
}

function checkU16(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new TdxError("GUEST_TPM_ARGUMENT", `${field} ${v} does not fit an NV index (0..65535)`, {
      field,
      hint: "NV indices hold at most 65535 bytes",
    });
  }
}

function tpmError(
  command: string,
  rc: number,
  handles: readonly number[],
  ctx: { nvIndex?: number },
): TdxError {
  const rcName = tpmRcName(rc);
  const data = { rc, rcName, command };
  // TPM_RC_HANDLE on the handle that is the NV index: the index is not defined.
  if (ctx.nvIndex !== undefined && (rc & 0xbf) === TPM_RC.HANDLE && !(rc & 0x840)) {
    const n = (rc >> 8) & 7;
    if (handles[n - 1] === ctx.nvIndex) {
      return new TdxError(
        "GUEST_TPM_NV_INDEX_MISSING",
        `${command}: NV index 0x${ctx.nvIndex.toString(16).padStart(8, "0")} is not defined`,
        {
          field: "nvIndex",
          hint:
            ctx.nvIndex === AZ_VTPM_HCL_REPORT_NV_INDEX
              ? "no HCL report in this vTPM: this is not an Azure confidential VM (or its paravisor is too old)"
              : "define the index first (TPM2_NV_DefineSpace)",
          data: { ...data, nvIndex: ctx.nvIndex },
        },
      );
    }
  }
  return new TdxError("GUEST_TPM_COMMAND_FAILED", `${command} failed: ${rcName} (0x${rc.toString(16)})`, {
    field: command,
    hint:
      rc === TPM_RC.NV_AUTHORIZATION || (rc & 0xbf) === TPM_RC.BAD_AUTH
        ? "the owner or index password is not empty on this TPM, or the index does not allow this access"
        : rc === tpmRcWith(TPM_RC.HANDLE, "handle", 1) && command === "TPM2_Quote"
          ? "no attestation key at that handle (Azure's is the persistent key 0x81000003)"
          : "see the TPM 2.0 response code in data.rcName",
    data,
  });
}

/** The Azure vTPM steps of the attester (guest-components `az_tdx_vtpm`, kinvolk `az-cvm-vtpm` `vtpm`). */
export interface AzureVtpmOptions {
  /** Wait after writing report data, so that the paravisor regenerates the report (kinvolk sleeps 3 s). */
  settleMs?: number;
  /** For tests: how to wait. */
  sleep?: (ms: number) => Promise<void>;
}

/** The HCL report as NV index 0x01400001 holds it now (owner authorization, whole index). */
export function readHclReport(tpm: Tpm2Client): Promise<Uint8Array> {
  return tpm.nvReadAll(AZ_VTPM_HCL_REPORT_NV_INDEX);
}

/**
 * Write report data to NV index 0x01400002 (define it owner-read/owner-write, SHA-256 name, exactly the data's
 * size; redefine it when its size differs), as kinvolk's `get_report_with_report_data` does, then wait for the
 * paravisor and read the HCL report.
 */
export async function hclReportWithReportData(
  tpm: Tpm2Client,
  reportData: Uint8Array,
  opts: AzureVtpmOptions = {},
): Promise<Uint8Array> {
  if (reportData.length === 0 || reportData.length > 64) {
    throw new TdxError("GUEST_TPM_ARGUMENT", `report data is ${reportData.length} bytes; 1 to 64 fit`, {
      field: "reportData",
      hint: "pass the report data (a nonce or its digest) of at most 64 bytes",
    });
  }
  const index = AZ_VTPM_REPORT_DATA_NV_INDEX;
  let defined: TpmsNvPublic | null = null;
  try {
    defined = (await tpm.nvReadPublic(index)).public;
  } catch (e) {
    if (!(e instanceof TdxError && e.code === "GUEST_TPM_NV_INDEX_MISSING")) throw e;
  }
  if (defined && defined.dataSize !== reportData.length) {
    await tpm.nvUndefineSpace(index);
    defined = null;
  }
  if (!defined) {
    await tpm.nvDefineSpace({
      nvIndex: index,
      nameAlg: TPM_ALG.SHA256,
      attributes: TPMA_NV.OWNERREAD | TPMA_NV.OWNERWRITE,
      authPolicy: new Uint8Array(0),
      dataSize: reportData.length,
    });
  }
  await tpm.nvWrite(index, reportData);
  const ms = opts.settleMs ?? 3000;
  if (ms > 0) await (opts.sleep ?? ((t) => new Promise((res) => setTimeout(res, t))))(ms);
  return readHclReport(tpm);
}

/** What az-tdx-vtpm evidence carries of the TPM quote. */
export interface AzureTpmQuote {
  /** The bare RSASSA signature (the TPMT_SIGNATURE wrapper dropped, as Trustee's evidence has it). */
  signature: Uint8Array;
  message: Uint8Array;
  pcrs: Uint8Array[];
}

/**
 * TPM2_Quote with the AK (0x81000003) over the SHA-256 bank, PCRs 0..23, with the nonce, then TPM2_PCR_Read of
 * the same PCRs (kinvolk `get_quote`). Refuses a signature that is not RSASSA/SHA-256.
 */
export async function azureTpmQuote(
  tpm: Tpm2Client,
  nonce: Uint8Array,
  akHandle: number = AZ_VTPM_AK_HANDLE,
): Promise<AzureTpmQuote> {
  const selection = [pcrSelection(TPM_ALG.SHA256, [...Array(24).keys()])];
  const q = await tpm.quote(akHandle, nonce, selection);
  if (q.signature.sigAlg !== TPM_ALG.RSASSA || q.signature.hash !== TPM_ALG.SHA256) {
    throw new TdxError(
      "GUEST_TPM_RESPONSE_MALFORMED",
      `the attestation key signed with ${tpmAlgName(q.signature.sigAlg)}, not RSASSA/SHA-256`,
      {
        field: "TPM2_Quote",
        hint: "az-tdx-vtpm evidence needs the RSA attestation key of Azure's vTPM (0x81000003)",
      },
    );
  }
  const pcrs = await tpm.pcrRead(selection);
  return { signature: q.signature.signature, message: q.attest, pcrs: pcrs.values.map((v) => v.value) };
}
