import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AZ_VTPM_HCL_REPORT_NV_INDEX,
  parseAzTdxVtpmEvidence,
  parseHclReport,
  parseHclVarData,
  parseTpmsAttest,
  serializeHclReport,
  TPM_ALG,
  TPM_CC,
  TPMA_NV,
  toHex,
} from "../../src/abi/index.js";
import type { Collateral } from "../../src/collateral/types.js";
import {
  type AzTdxVtpmProvider,
  type GuestClock,
  isAzTdxVtpmProvider,
  openProvider,
  probeGuest,
} from "../../src/guest/index.js";
import {
  createSimAzureParavisor,
  initSimAzureParavisor,
  initSimPlatform,
  loadSimAzureParavisor,
  SIM_AZURE_AK_FILE,
  SIM_AZURE_RECORD_FILE,
  type SimAzureParavisor,
  SimVtpm,
} from "../../src/sim/index.js";
import { verifyAzTdxVtpm } from "../../src/verify/index.js";
import { rejectionOf } from "../helpers/errors.js";
import { FakeAzureTd } from "./fake-azure.js";

const tmp = () => mkdtempSync(join(tmpdir(), "tdx-azure-"));
const noSim = join(tmpdir(), "tdx-attest-no-sim-here");
const now = () => Math.floor(Date.now() / 1000);

function virtualClock(): GuestClock & { sleeps: number[] } {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}

let pv: SimAzureParavisor;
let collateral: Collateral;
beforeAll(async () => {
  pv = await createSimAzureParavisor();
  collateral = await pv.collateral();
});

describe("az-tdx-vtpm provider on a fake Azure TDX VM (simulated paravisor behind /dev/tpmrm0)", () => {
  it("status finds it (the HCL report is TDX) and auto picks it, even with the tdx_guest CPU flag", async () => {
    const az = new FakeAzureTd(tmp(), pv, { cpuFlag: true });
    const s = await probeGuest({ ...az.options, simState: noSim });
    const row = s.providers.find((p) => p.name === "az-tdx-vtpm")!;
    expect(row).toMatchObject({ tee: "az-tdx-vtpm", available: true });
    expect(row.reason).toMatch(/tpmrm0 NV 0x01400001 holds a TDX HCL report: an Azure TDX confidential VM/);
    expect(s.tdEvidence[0]).toMatch(/Azure HCL report, type TDX/);
    expect(s.tdEvidence).toContain(`${az.paths.cpuinfo} flag tdx_guest`);
    expect(s.auto.chosen).toBe("az-tdx-vtpm");
    expect(s.providers.map((p) => [p.name, p.available])).toEqual([
      ["configfs", false],
      ["device", false],
      ["legacy", false],
      ["az-tdx-vtpm", true],
      ["qgs", false],
      ["sim", false],
    ]);
    // Status only reads (no report data written, IMDS not contacted), and closes the device.
    expect(az.commands).not.toContain(TPM_CC.NV_Write);
    expect(az.imdsRequests).toHaveLength(0);
    expect(az.opens).toBe(az.closes);
    const p = await openProvider("auto", { ...az.options, simState: noSim });
    expect(p.name).toBe("az-tdx-vtpm");
    expect(p.describe()).toMatchObject({ tee: "az-tdx-vtpm", simulated: false });
    expect(p.describe().quote).toMatch(/IMDS http:\/\/169\.254\.169\.254\/acc\/tdquote/);
  });

  it("collects v2 evidence over the device and IMDS that verifies with the nonce and the simulated root", async () => {
    const az = new FakeAzureTd(tmp(), pv);
    const clock = virtualClock();
    const p = await openProvider("az-tdx-vtpm", { ...az.options, clock });
    if (!isAzTdxVtpmProvider(p)) throw new Error("expected the Azure provider");
    const nonce = new TextEncoder().encode("challenge from the relying party");
    const r = await p.getAzTdxVtpmEvidence(nonce);
    // kinvolk waits 3 s after writing the report data for the paravisor's new report (virtual here).
    expect(clock.sleeps).toEqual([3000]);
    expect(az.commands).toContain(TPM_CC.NV_Write);
    expect(az.commands).toContain(TPM_CC.Quote);
    expect(az.opens).toBe(1);
    expect(az.closes).toBe(1);
    expect(az.imdsRequests).toEqual([
      { url: "http://169.254.169.254/acc/tdquote", headers: expect.objectContaining({ metadata: "true" }) },
    ]);
    expect(r.tee).toBe("az-tdx-vtpm");
    expect(toHex(r.reportData)).toBe(toHex(nonce));
    expect(r.via.hclReport).toMatch(/after writing the report data to NV 0x01400002/);
    const parsed = parseAzTdxVtpmEvidence(r.json);
    expect(parsed.version).toBe(2);
    const varData = parseHclVarData(parseHclReport(parsed.hclReport).variableData);
    expect(toHex(varData.userData!.subarray(0, nonce.length))).toBe(toHex(nonce));
    expect(toHex(parseTpmsAttest(parsed.tpmQuote.message).extraData)).toBe(toHex(nonce));
    const v = verifyAzTdxVtpm(r.json, collateral, { now: now(), nonce, trustAnchors: [pv.rootCaPem] });
    expect(v.error).toBeNull();
    expect(v.ok).toBe(true);
    // Another nonce is refused: the evidence is bound to this one.
    const other = verifyAzTdxVtpm(r.json, collateral, {
      now: now(),
      nonce: "x",
      trustAnchors: [pv.rootCaPem],
    });
    expect(other.ok).toBe(false);
  });

  it("v1 and v0 evidence read the report as it is (no write, no wait) and verify", async () => {
    for (const version of [1, 0] as const) {
      const az = new FakeAzureTd(tmp(), pv);
      const clock = virtualClock();
      const p = (await openProvider("az-tdx-vtpm", { ...az.options, clock })) as AzTdxVtpmProvider;
      const nonce = new Uint8Array(48).fill(version + 1);
      const r = await p.getAzTdxVtpmEvidence(nonce, { version });
      expect(clock.sleeps).toEqual([]);
      expect(az.commands).not.toContain(TPM_CC.NV_Write);
      expect(r.evidence.version).toBe(version);
      const v = verifyAzTdxVtpm(r.json, collateral, { now: now(), nonce, trustAnchors: [pv.rootCaPem] });
      expect([version, v.error]).toEqual([version, null]);
    }
  });

  it("reads the TD's measurements from the HCL report and the PCRs; refuses what the paravisor owns", async () => {
    const az = new FakeAzureTd(tmp(), pv);
    const p = (await openProvider("az-tdx-vtpm", az.options)) as AzTdxVtpmProvider;
    const m = await p.readMeasurements();
    expect(toHex(m.mrTd)).toBe(toHex(pv.platform.tdState.mrTd));
    expect(m.rtmr.map(toHex)).toEqual(pv.platform.tdState.rtmr.map(toHex));
    const pcrs = await p.readPcrs();
    expect(pcrs.map(toHex)).toEqual([...Array(24).keys()].map((i) => toHex(pv.vtpm.pcr(i, TPM_ALG.SHA256))));
    for (const e of [
      await rejectionOf(p.getQuote(new Uint8Array(64))),
      await rejectionOf(p.getQuoteResult(new Uint8Array(64))),
      await rejectionOf(p.getTdReport(new Uint8Array(64))),
    ]) {
      expect(e.code).toBe("GUEST_REPORTDATA_OWNED_BY_PARAVISOR");
      expect(e.hint).toMatch(/tdx-attest evidence --tee az-tdx-vtpm/);
    }
    const ext = await rejectionOf(p.extendRtmr(3, new Uint8Array(48)));
    expect(ext.code).toBe("GUEST_EXTEND_UNSUPPORTED");
    expect(ext.hint).toMatch(/PCR/);
    for (const bad of [new Uint8Array(0), new Uint8Array(65)])
      expect((await rejectionOf(p.getAzTdxVtpmEvidence(bad))).code).toBe("GUEST_REPORT_DATA_SIZE");
    expect(az.opens).toBe(az.closes);
  });

  it("uses /dev/tpm0 when there is no resource manager node", async () => {
    const az = new FakeAzureTd(tmp(), pv, { device: "tpm0" });
    const s = await probeGuest({ ...az.options, simState: noSim });
    expect(s.auto.chosen).toBe("az-tdx-vtpm");
    expect(s.auto.reason).toContain(az.paths.tpm);
    const p = (await openProvider("auto", { ...az.options, simState: noSim })) as AzTdxVtpmProvider;
    expect(p.describe().report).toContain(az.paths.tpm);
  });

  it("says why it is unavailable: no TPM, permission denied, a TPM without an HCL report, an SEV-SNP report", async () => {
    const plain = tmp();
    const none = await probeGuest({ root: plain, simState: noSim });
    expect(none.providers.find((p) => p.name === "az-tdx-vtpm")!.reason).toMatch(/no TPM device/);
    expect((await rejectionOf(openProvider("az-tdx-vtpm", { root: plain }))).code).toBe("GUEST_TPM_MISSING");

    const denied = new FakeAzureTd(tmp(), pv, { cpuFlag: true });
    denied.openErrno = "EACCES";
    const s = await probeGuest({ ...denied.options, simState: noSim });
    expect(s.providers.find((p) => p.name === "az-tdx-vtpm")).toMatchObject({
      available: false,
      reason: expect.stringMatching(/EACCES.*run as root or join the group/),
    });
    // The CPU flag says TD: auto refuses rather than falling back, and says why.
    const unusable = await rejectionOf(openProvider("auto", { ...denied.options, simState: noSim }));
    expect(unusable.code).toBe("GUEST_TD_UNUSABLE");
    const p = (await openProvider("az-tdx-vtpm", denied.options)) as AzTdxVtpmProvider;
    expect((await rejectionOf(p.getAzTdxVtpmEvidence(new Uint8Array(8)))).code).toBe(
      "GUEST_PERMISSION_DENIED",
    );

    const bare = new FakeAzureTd(tmp(), { vtpm: new SimVtpm() });
    const b = await probeGuest({ ...bare.options, simState: noSim });
    expect(b.providers.find((x) => x.name === "az-tdx-vtpm")!.reason).toMatch(
      /has no HCL report at NV 0x01400001: a TPM, but not an Azure confidential VM's vTPM/,
    );
    expect(b.auto.chosen).toBeNull();
    expect(b.tdEvidence).toEqual([]);

    const snpTpm = new SimVtpm();
    const snp = serializeHclReport({
      hwReport: new Uint8Array(1184),
      reportType: 2,
      variableData: new TextEncoder().encode('{"keys":[]}'),
      totalSize: 2600,
    });
    snpTpm.defineNvIndex(
      {
        nvIndex: AZ_VTPM_HCL_REPORT_NV_INDEX,
        nameAlg: TPM_ALG.SHA256,
        attributes: TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.PLATFORMCREATE,
        authPolicy: new Uint8Array(0),
        dataSize: snp.length,
      },
      snp,
    );
    const snpVm = new FakeAzureTd(tmp(), { vtpm: snpTpm });
    const sn = await probeGuest({ ...snpVm.options, simState: noSim });
    expect(sn.providers.find((x) => x.name === "az-tdx-vtpm")!.reason).toMatch(/type SNP.*not a TDX one/);
    const forced = (await openProvider("az-tdx-vtpm", snpVm.options)) as AzTdxVtpmProvider;
    expect((await rejectionOf(forced.getAzTdxVtpmEvidence(new Uint8Array(8)))).code).toBe(
      "GUEST_NOT_AZURE_TDX",
    );
    expect((await rejectionOf(forced.readMeasurements())).code).toBe("GUEST_NOT_AZURE_TDX");
  });

  it("IMDS failures are coded: unreachable, HTTP error", async () => {
    const az = new FakeAzureTd(tmp(), pv);
    const p = (await openProvider("az-tdx-vtpm", {
      ...az.options,
      azureReportWaitMs: 0,
    })) as AzTdxVtpmProvider;
    az.imds = "down";
    expect((await rejectionOf(p.getAzTdxVtpmEvidence(new Uint8Array(8)))).code).toBe(
      "GUEST_IMDS_UNREACHABLE",
    );
    az.imds = 500;
    expect(await rejectionOf(p.getAzTdxVtpmEvidence(new Uint8Array(8)))).toMatchObject({
      code: "GUEST_IMDS_ERROR",
      data: { status: 500 },
    });
    // The device is closed after every operation, failed ones included.
    expect(az.opens).toBe(az.closes);
  });
});

describe("sim provider on a simulated Azure TD state (sim init --platform azure)", () => {
  it("status and auto name it; its evidence verifies with the state's root CA and collateral", async () => {
    const dir = tmp();
    const platform = await initSimPlatform(dir);
    await initSimAzureParavisor(dir, { platform });
    const plain = tmp();
    const s = await probeGuest({ root: plain, simState: dir });
    expect(s.providers.find((p) => p.name === "sim")).toMatchObject({
      tee: "az-tdx-vtpm",
      available: true,
      reason: expect.stringMatching(/simulated Azure TDX confidential VM/),
    });
    expect(s.auto.chosen).toBe("sim");
    expect(s.auto.reason).toMatch(/not a TD; using the simulated Azure TDX confidential VM at /);
    const p = await openProvider("auto", { root: plain, simState: dir });
    if (!isAzTdxVtpmProvider(p)) throw new Error("expected the Azure provider over the simulated paravisor");
    expect(p.name).toBe("sim");
    expect(p.describe()).toMatchObject({ tee: "az-tdx-vtpm", simulated: true });
    const r = await p.getAzTdxVtpmEvidence(new TextEncoder().encode("challenge"));
    const root = readFileSync(join(dir, "root-ca.pem"), "utf8");
    const v = verifyAzTdxVtpm(r.json, await platform.collateral(), {
      now: now(),
      nonce: "challenge",
      trustAnchors: [root],
    });
    expect(v.error).toBeNull();
    // Nothing but the simulated root makes it pass: Intel's root is the default.
    expect(verifyAzTdxVtpm(r.json, await platform.collateral(), { now: now(), nonce: "challenge" }).ok).toBe(
      false,
    );
    expect((await rejectionOf(p.getQuote(new Uint8Array(64)))).code).toBe(
      "GUEST_REPORTDATA_OWNED_BY_PARAVISOR",
    );
  });

  it("keeps the AK and the VM's identity across loads; refuses a second init and a damaged state", async () => {
    const dir = tmp();
    await initSimPlatform(dir);
    const a = await initSimAzureParavisor(dir);
    const b = await loadSimAzureParavisor(dir);
    const akOf = (x: SimAzureParavisor) =>
      parseHclVarData(parseHclReport(x.hclReport()).variableData).akPub!.n;
    expect(akOf(b)).toBe(akOf(a));
    expect(b.vmUniqueId).toBe(a.vmUniqueId);
    expect(b.ekJwk).toEqual(a.ekJwk);
    expect(readFileSync(join(dir, SIM_AZURE_AK_FILE), "utf8")).toMatch(/BEGIN PRIVATE KEY/);
    expect((await rejectionOf(initSimAzureParavisor(dir))).code).toBe("SIM_STATE_EXISTS");
    writeFileSync(join(dir, SIM_AZURE_RECORD_FILE), "{not json");
    expect((await rejectionOf(loadSimAzureParavisor(dir))).code).toBe("SIM_STATE_INVALID");
    writeFileSync(join(dir, SIM_AZURE_RECORD_FILE), JSON.stringify({ format: "other" }));
    expect((await rejectionOf(loadSimAzureParavisor(dir))).code).toBe("SIM_STATE_INVALID");
    const tdxOnly = tmp();
    await initSimPlatform(tdxOnly);
    expect((await rejectionOf(loadSimAzureParavisor(tdxOnly))).code).toBe("SIM_STATE_MISSING");
    // A plain TDX state stays a TDX sim.
    expect((await openProvider("sim", { simState: tdxOnly })).describe().tee).toBe("tdx");
  });
});
