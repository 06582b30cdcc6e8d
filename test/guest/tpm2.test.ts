import { createHash, createPublicKey, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AZ_VTPM_AK_HANDLE,
  AZ_VTPM_HCL_REPORT_NV_INDEX,
  AZ_VTPM_REPORT_DATA_NV_INDEX,
  parseHclReport,
  parseHclVarData,
  parseTpmsAttest,
  pcrSelection,
  TPM_ALG,
  TPM_CC,
  TPM_PT,
  TPM_RC,
  TPM_RH,
  TPMA_NV,
  toHex,
} from "../../src/abi/index.js";
import { collectAzTdxVtpmEvidence, imdsTdQuote } from "../../src/guest/az-tdx-vtpm.js";
import {
  azureTpmQuote,
  hclReportWithReportData,
  marshalCommand,
  readHclReport,
  Tpm2Client,
  type Tpm2Transport,
  unmarshalResponse,
} from "../../src/guest/tpm2-commands.js";
import { Tpm2DeviceTransport } from "../../src/guest/tpm2-device.js";
import { createSimAzureParavisor, type SimAzureParavisor, type SimVtpm } from "../../src/sim/index.js";
import { verifyAzTdxVtpm } from "../../src/verify/index.js";
import { rejectionOf } from "../helpers/errors.js";

/** The simulated vTPM as a device: the bytes go through its command interface, and are counted. */
function simTransport(vtpm: SimVtpm): Tpm2Transport & { commands: number[] } {
  const commands: number[] = [];
  return {
    commands,
    transmit: async (cmd) => {
      commands.push(Buffer.from(cmd).readUInt32BE(6));
      return vtpm.execute(cmd);
    },
  };
}

const rc = (res: Uint8Array) => Buffer.from(res).readUInt32BE(6);

describe("TPM 2.0 commands against the simulated Azure vTPM", () => {
  let pv: SimAzureParavisor;
  beforeAll(async () => {
    pv = await createSimAzureParavisor();
  });

  it("marshals commands byte for byte", () => {
    expect(
      toHex(marshalCommand(TPM_CC.NV_ReadPublic, [AZ_VTPM_HCL_REPORT_NV_INDEX], new Uint8Array(0))),
    ).toBe("80010000000e0000016901400001");
    // NV_Read, owner auth with one password session, size 16, offset 0.
    expect(
      toHex(marshalCommand(TPM_CC.NV_Read, [TPM_RH.OWNER, 0x01400001], Uint8Array.of(0, 16, 0, 0), 1)),
    ).toBe(
      "8002" +
        "00000023" +
        "0000014e" +
        "40000001" +
        "01400001" +
        "00000009" +
        "40000009" +
        "0000" +
        "01" +
        "0000" +
        "00100000",
    );
  });

  it("reads the HCL report in chunks of TPM_PT_NV_BUFFER_MAX", async () => {
    const t = simTransport(pv.vtpm);
    const tpm = new Tpm2Client(t);
    expect(await tpm.getProperty(TPM_PT.NV_BUFFER_MAX)).toBe(1024);
    expect(await tpm.getProperty(TPM_PT.MANUFACTURER)).toBe(0x4d534654);
    const info = await tpm.nvReadPublic(AZ_VTPM_HCL_REPORT_NV_INDEX);
    expect(info.public.dataSize).toBe(2600);
    expect(info.public.attributes & TPMA_NV.OWNERREAD).toBeTruthy();
    expect(toHex(info.name.subarray(0, 2))).toBe("000b");
    t.commands.length = 0;
    const hcl = await readHclReport(tpm);
    expect(toHex(hcl)).toBe(toHex(pv.hclReport()));
    // The NV buffer size is asked once, then the index is read in 1024-byte chunks.
    expect(t.commands).toEqual([
      TPM_CC.NV_ReadPublic,
      TPM_CC.GetCapability,
      TPM_CC.NV_Read,
      TPM_CC.NV_Read,
      TPM_CC.NV_Read,
    ]);
    t.commands.length = 0;
    await readHclReport(tpm);
    expect(t.commands).toEqual([TPM_CC.NV_ReadPublic, TPM_CC.NV_Read, TPM_CC.NV_Read, TPM_CC.NV_Read]);
    // A smaller NV buffer on the TPM: the client follows it.
    const small = await createSimAzureParavisor({ platform: pv.platform, vtpm: { maxNvBuffer: 512 } });
    const ts = simTransport(small.vtpm);
    expect((await readHclReport(new Tpm2Client(ts))).length).toBe(2600);
    expect(ts.commands.filter((c) => c === TPM_CC.NV_Read)).toHaveLength(6);
  });

  it("writes report data (define, redefine on another size) and reads the regenerated report", async () => {
    const t = simTransport(pv.vtpm);
    const tpm = new Tpm2Client(t);
    const sleeps: number[] = [];
    const sleep = async (ms: number) => void sleeps.push(ms);
    const nonce = createHash("sha384").update("runtime data").digest();
    const hcl = await hclReportWithReportData(tpm, nonce, { sleep });
    expect(sleeps).toEqual([3000]);
    const v = parseHclVarData(parseHclReport(hcl).variableData);
    expect(toHex(v.userData!.subarray(0, 48))).toBe(toHex(nonce));
    expect(v.userData!.subarray(48)).toEqual(new Uint8Array(16));
    expect((await tpm.nvReadPublic(AZ_VTPM_REPORT_DATA_NV_INDEX)).public.dataSize).toBe(48);
    t.commands.length = 0;
    await hclReportWithReportData(tpm, new Uint8Array(64).fill(7), { settleMs: 0 });
    expect(t.commands.slice(0, 4)).toEqual([
      TPM_CC.NV_ReadPublic,
      TPM_CC.NV_UndefineSpace,
      TPM_CC.NV_DefineSpace,
      TPM_CC.NV_Write,
    ]);
    t.commands.length = 0;
    const again = await hclReportWithReportData(tpm, new Uint8Array(64).fill(8), { settleMs: 0 });
    expect(t.commands.slice(0, 2)).toEqual([TPM_CC.NV_ReadPublic, TPM_CC.NV_Write]);
    expect(parseHclVarData(parseHclReport(again).variableData).userDataHex).toBe(
      "08".repeat(64).toUpperCase(),
    );
    expect((await rejectionOf(hclReportWithReportData(tpm, new Uint8Array(65)))).code).toBe(
      "GUEST_TPM_ARGUMENT",
    );
  });

  it("reads 24 PCRs in rounds of 8, extends one", async () => {
    const t = simTransport(pv.vtpm);
    const tpm = new Tpm2Client(t);
    const sel = [pcrSelection(TPM_ALG.SHA256, [...Array(24).keys()])];
    const before = await tpm.pcrRead(sel);
    expect(t.commands).toEqual([TPM_CC.PCR_Read, TPM_CC.PCR_Read, TPM_CC.PCR_Read]);
    expect(before.values.map((v) => toHex(v.value))).toEqual(
      [...Array(24).keys()].map((i) => toHex(pv.vtpm.pcr(i))),
    );
    const digest = createHash("sha256").update("event").digest();
    await tpm.pcrExtend(15, [{ bank: TPM_ALG.SHA256, digest }]);
    const after = await tpm.pcrRead([pcrSelection(TPM_ALG.SHA256, [15]), pcrSelection(TPM_ALG.SHA1, [15])]);
    expect(toHex(after.values[0]!.value)).toBe(
      createHash("sha256").update(before.values[15]!.value).update(digest).digest("hex"),
    );
    expect(after.values[1]!.value).toEqual(new Uint8Array(20)); // the SHA-1 bank was not extended
    expect(
      (await rejectionOf(tpm.pcrExtend(15, [{ bank: TPM_ALG.SHA256, digest: new Uint8Array(20) }]))).code,
    ).toBe("GUEST_TPM_ARGUMENT");
    const none = await rejectionOf(tpm.pcrRead([pcrSelection(TPM_ALG.SHA384, [0])]));
    expect(none.code).toBe("GUEST_TPM_PCR_UNAVAILABLE");
  });

  it("quotes with the AK: a TPMS_ATTEST signed RSASSA/SHA-256 by the key in the HCL var data", async () => {
    const tpm = new Tpm2Client(simTransport(pv.vtpm));
    const nonce = new TextEncoder().encode("challenge");
    const q = await azureTpmQuote(tpm, nonce);
    const a = parseTpmsAttest(q.message);
    expect(new TextDecoder().decode(a.extraData)).toBe("challenge");
    expect(q.pcrs).toHaveLength(24);
    expect(toHex(a.quote!.pcrDigest)).toBe(
      toHex(createHash("sha256").update(Buffer.concat(q.pcrs)).digest()),
    );
    const ak = parseHclVarData(parseHclReport(pv.hclReport()).variableData).akPub!;
    const key = createPublicKey({ key: { kty: "RSA", n: ak.n!, e: ak.e! }, format: "jwk" });
    expect(verify("sha256", q.message, key, q.signature)).toBe(true);
    const pub = await tpm.readPublic(AZ_VTPM_AK_HANDLE);
    expect(pub.public.type).toBe(TPM_ALG.RSA);
    expect(Buffer.from(pub.public.type === TPM_ALG.RSA ? pub.public.modulus : []).toString("base64url")).toBe(
      ak.n,
    );
    expect(toHex(pub.name)).toBe(toHex(a.qualifiedSigner));
    expect(toHex(pub.name)).toBe(`000b${createHash("sha256").update(pub.publicArea).digest("hex")}`);
    expect((await rejectionOf(tpm.quote(AZ_VTPM_AK_HANDLE, new Uint8Array(65), []))).code).toBe(
      "GUEST_TPM_ARGUMENT",
    );
  });

  it("maps TPM errors: a missing NV index, a platform index the owner cannot delete, no key at a handle", async () => {
    const tpm = new Tpm2Client(simTransport(pv.vtpm));
    const missing = await rejectionOf(tpm.nvReadPublic(0x01400999));
    expect(missing).toMatchObject({ code: "GUEST_TPM_NV_INDEX_MISSING", data: { rc: 0x18b } });
    const del = await rejectionOf(tpm.nvUndefineSpace(AZ_VTPM_HCL_REPORT_NV_INDEX));
    expect(del).toMatchObject({
      code: "GUEST_TPM_COMMAND_FAILED",
      data: { rcName: "TPM_RC_NV_AUTHORIZATION" },
    });
    const key = await rejectionOf(tpm.quote(0x81000099, new Uint8Array(4), []));
    expect(key).toMatchObject({
      code: "GUEST_TPM_COMMAND_FAILED",
      data: { rcName: "TPM_RC_HANDLE (handle 1)" },
    });
    expect(key.hint).toMatch(/0x81000003/);
    const big = await rejectionOf(
      new Tpm2Client(simTransport(pv.vtpm)).nvRead(AZ_VTPM_HCL_REPORT_NV_INDEX, 2000),
    );
    expect(big.data?.rcName).toBe("TPM_RC_VALUE (parameter 1)");
    const range = await rejectionOf(tpm.nvRead(AZ_VTPM_HCL_REPORT_NV_INDEX, 100, 2550));
    expect(range.data?.rcName).toBe("TPM_RC_NV_RANGE");
  });

  it("the simulated vTPM answers malformed commands with TPM response codes", () => {
    const v = pv.vtpm;
    const good = marshalCommand(TPM_CC.NV_ReadPublic, [AZ_VTPM_HCL_REPORT_NV_INDEX], new Uint8Array(0));
    expect(rc(v.execute(good))).toBe(0);
    const tag = good.slice();
    tag[1] = 0x05;
    expect(rc(v.execute(tag))).toBe(TPM_RC.BAD_TAG);
    expect(rc(v.execute(good.subarray(0, 12)))).toBe(TPM_RC.COMMAND_SIZE);
    expect(rc(v.execute(marshalCommand(0x199, [], new Uint8Array(0))))).toBe(TPM_RC.COMMAND_CODE);
    const noAuth = marshalCommand(
      TPM_CC.NV_Read,
      [TPM_RH.OWNER, AZ_VTPM_HCL_REPORT_NV_INDEX],
      Uint8Array.of(0, 1, 0, 0),
    );
    expect(rc(v.execute(noAuth))).toBe(TPM_RC.AUTH_MISSING);
    const cut = marshalCommand(TPM_CC.PCR_Read, [], Uint8Array.of(0, 0, 0, 1, 0));
    expect(rc(v.execute(cut)) & 0xbf).toBe(TPM_RC.INSUFFICIENT);
    expect(rc(v.execute(new Uint8Array(3)))).toBe(TPM_RC.COMMAND_SIZE);
  });

  it("refuses responses that do not parse", () => {
    const ok = Uint8Array.from(Buffer.from("80010000000a00000000", "hex"));
    expect(unmarshalResponse(ok, "x", 0, 0).rc).toBe(0);
    for (const hex of [
      "8001000000",
      "80010000000b00000000",
      "80050000000a00000000",
      "80010000000c0000000100ff",
    ]) {
      const e = (() => {
        try {
          unmarshalResponse(Uint8Array.from(Buffer.from(hex, "hex")), "x", 0, 0);
        } catch (err) {
          return err as { code: string };
        }
        return null;
      })();
      expect([hex, e?.code]).toEqual([hex, "GUEST_TPM_RESPONSE_MALFORMED"]);
    }
    // Success with sessions: the session area must be there.
    const noSession = Uint8Array.from(Buffer.from("80020000000e0000000000000000", "hex"));
    expect(() => unmarshalResponse(noSession, "x", 0, 1)).toThrow(
      expect.objectContaining({ code: "GUEST_TPM_RESPONSE_MALFORMED" }),
    );
  });

  it("collects az-tdx-vtpm evidence over the raw commands; it verifies, v2 and v1", async () => {
    const collateral = await pv.collateral();
    for (const version of [2, 1] as const) {
      const tpm = new Tpm2Client(simTransport(pv.vtpm));
      const nonce = createHash("sha384").update(`kbs runtime data ${version}`).digest();
      const ev = await collectAzTdxVtpmEvidence(tpm, nonce, {
        version,
        settleMs: 0,
        tdQuote: async (r) => pv.tdQuote(r),
      });
      const r = verifyAzTdxVtpm(ev, collateral, {
        now: Math.floor(Date.now() / 1000),
        nonce,
        trustAnchors: [pv.rootCaPem],
      });
      expect([version, r.error]).toEqual([version, null]);
      expect(r.checks.some((c) => c.name === "hcl.userData")).toBe(version === 2);
    }
  });

  describe("IMDS client", () => {
    let server: Server;
    let url: string;
    let fail = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => {
          body += c;
        });
        req.on("end", () => {
          if (fail || req.headers.metadata !== "true" || req.url !== "/acc/tdquote") {
            res.statusCode = fail || 400;
            res.end(fail === 200 ? "not json" : "bad request");
            return;
          }
          res.setHeader("content-type", "application/json");
          res.end(pv.imdsTdQuote(body));
        });
      });
      await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/acc/tdquote`;
    });
    afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

    it("posts the TDREPORT and decodes the quote", async () => {
      const td = pv.hclReport().slice(0x20, 0x420);
      const quote = await imdsTdQuote(td, { url });
      expect(Buffer.from(quote).readUInt16LE(0)).toBe(4);
      expect(toHex(quote.subarray(48 + 520, 48 + 584))).toBe(toHex(td.subarray(128, 192)));
      fail = 500;
      expect(await rejectionOf(imdsTdQuote(td, { url }))).toMatchObject({
        code: "GUEST_IMDS_ERROR",
        data: { status: 500 },
      });
      fail = 200;
      expect((await rejectionOf(imdsTdQuote(td, { url }))).code).toBe("GUEST_IMDS_ERROR");
      fail = 0;
      const closed = `http://127.0.0.1:1/acc/tdquote`;
      expect((await rejectionOf(imdsTdQuote(td, { url: closed, timeoutMs: 2000 }))).code).toBe(
        "GUEST_IMDS_UNREACHABLE",
      );
    });
  });
});

describe("TPM device transport", () => {
  it("a missing device is GUEST_TPM_MISSING; a file that answers nothing is a malformed response", async () => {
    const t = new Tpm2DeviceTransport("/nonexistent/tpmrm0");
    expect((await rejectionOf(t.transmit(new Uint8Array(10)))).code).toBe("GUEST_TPM_MISSING");
    const dir = mkdtempSync(join(tmpdir(), "tpm-"));
    try {
      const file = join(dir, "not-a-tpm");
      writeFileSync(file, "");
      const f = new Tpm2DeviceTransport(file);
      const e = await rejectionOf(new Tpm2Client(f).nvReadPublic(1));
      expect(e.code).toBe("GUEST_TPM_RESPONSE_MALFORMED");
      await f.close();
      await f.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
