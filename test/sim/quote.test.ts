import { createHash, createPublicKey, verify } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { INTEL_QE_VENDOR_ID, parseQuote, pckCertChainOf, serializeQuote } from "../../src/abi/index.js";
import { p256PublicKey } from "../../src/crypto/index.js";
import { createSimPlatform, QE_AUTH_DATA, type SimPlatform } from "../../src/sim/index.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

let p15: SimPlatform;
let p10: SimPlatform;
beforeAll(async () => {
  p15 = await createSimPlatform();
  p10 = await createSimPlatform({ tdxModule: "1.0" });
});

const rd = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);

describe("simulated quotes", () => {
  it.each([
    ["TDX 1.5, v4", () => p15, 4, 2, 632],
    ["TDX 1.5, v5", () => p15, 5, 3, 702],
    ["TDX 1.0, v4", () => p10, 4, 2, 632],
    ["TDX 1.0, v5", () => p10, 5, 2, 638],
  ] as const)("%s parses, round-trips and carries the report", (_n, get, version, bodyType, signed) => {
    const p = get();
    const bytes = p.quote(rd, { version });
    const q = parseQuote(bytes);
    expect(q.header.version).toBe(version);
    expect(q.header.teeType).toBe(0x81);
    expect(q.header.attestationKeyType).toBe(2);
    expect(q.header.qeVendorId).toEqual(INTEL_QE_VENDOR_ID);
    expect(q.body.type).toBe(bodyType);
    expect(q.signedLength).toBe(signed);
    expect(q.trailing.length).toBe(0);
    expect(Buffer.from(serializeQuote(q))).toEqual(Buffer.from(bytes));
    if (q.body.kind === "sgx") throw new Error("unexpected SGX body");
    expect(q.body.report.reportData).toEqual(rd);
    expect(q.body.report.mrTd).toEqual(p.tdState.mrTd);
    expect(q.body.report.teeTcbSvn).toEqual(p.module.teeTcbSvn);
    if (bodyType === 3) expect(q.body.report.teeTcbSvn2).toEqual(p.module.teeTcbSvn);
  });

  it("v5 can be forced to a TD 1.0 body; v4 refuses a TD 1.5 body", () => {
    expect(parseQuote(p15.quote(rd, { version: 5, bodyType: 2 })).body.type).toBe(2);
    expect(() => p15.quote(rd, { version: 4, bodyType: 3 })).toThrow(
      expect.objectContaining({ code: "SIM_QUOTE_VERSION" }),
    );
  });

  it("without a version the QE picks v4 when TEE_TCB_SVN2 == TEE_TCB_SVN (TDQE determine_quote_version)", () => {
    expect(parseQuote(p15.quote(rd)).header.version).toBe(4);
    expect(parseQuote(p10.quote(rd)).header.version).toBe(4);
  });

  it("after a TD-preserving module update the QE quotes v5 / TD 1.5 only", async () => {
    const p = await createSimPlatform({ scenario: "td-relaunch-advised" });
    expect(p.module.teeTcbSvn[0]).not.toBe(p.module.teeTcbSvn2[0]);
    const q = parseQuote(p.quote(rd));
    expect([q.header.version, q.body.type]).toEqual([5, 3]);
    expect(() => p.quote(rd, { version: 4 })).toThrow(expect.objectContaining({ code: "SIM_QUOTE_VERSION" }));
    expect(() => p.quote(rd, { version: 5, bodyType: 2 })).toThrow(
      expect.objectContaining({ code: "SIM_QUOTE_VERSION" }),
    );
    await expect(
      createSimPlatform({ scenario: "td-relaunch-advised", tdxModule: "1.0" }),
    ).rejects.toMatchObject({
      code: "SIM_SCENARIO_NEEDS_TDX15",
    });
  });

  it("signatures and bindings hold as Intel's verifier checks them", () => {
    const bytes = p15.quote(rd, { version: 5 });
    const q = parseQuote(bytes);
    const sd = q.signatureData;
    const attKey = p256PublicKey(sd.attestationKey);
    expect(verify("sha256", q.signedBytes, { key: attKey, dsaEncoding: "ieee-p1363" }, sd.signature)).toBe(
      true,
    );
    const qe = sd.qeReportCertificationData!;
    expect(sd.certificationData?.type).toBe(6);
    expect(qe.certificationData.type).toBe(5);
    expect(qe.qeAuthData).toEqual(QE_AUTH_DATA);
    const binding = createHash("sha256").update(sd.attestationKey).update(qe.qeAuthData).digest();
    expect(Buffer.from(qe.qeReport.reportData.subarray(0, 32))).toEqual(binding);
    expect(qe.qeReport.reportData.subarray(32).every((b) => b === 0)).toBe(true);
    const pck = pckCertChainOf(q)!;
    expect(pck.length).toBe(3);
    expect(pck[0]?.trim()).toBe(p15.certs.pck.pem.trim());
    const pckKey = createPublicKey(p15.certs.pck.pem);
    expect(
      verify("sha256", qe.qeReportBytes, { key: pckKey, dsaEncoding: "ieee-p1363" }, qe.qeReportSignature),
    ).toBe(true);
    expect(Buffer.from(qe.qeReport.mrSigner).toString("hex").toUpperCase()).toBe(
      "DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5",
    );
    expect(qe.qeReport.isvProdId).toBe(2);
    expect(qe.qeReport.isvSvn).toBe(p15.tcb.qeIsvSvn);
    // PCK chain as Intel's QE writes it: NUL-terminated PEM.
    expect(qe.certificationData.data[qe.certificationData.data.length - 1]).toBe(0);
  });

  it("every quote has a fresh signature but the same attestation key", () => {
    const a = parseQuote(p15.quote(rd));
    const b = parseQuote(p15.quote(rd));
    expect(a.signatureData.attestationKey).toEqual(b.signatureData.attestationKey);
    expect(a.signatureData.signature).not.toEqual(b.signatureData.signature);
  });
});

describe.skipIf(!vectorsDir())("layout against a real TDX 1.5 quote v5", () => {
  it("every field sits where it sits in Intel's quote, up to the PEM chain", async () => {
    const real = loadCases().find((k) => k.name.includes("tdx_v5_90c06f_alibaba"));
    if (!real) throw new Error(VECTORS_SKIP_REASON);
    const theirs = parseQuote(real.quote);
    const ours = parseQuote(p15.quote(rd, { version: 5 }));
    const upToChain = (q: typeof ours) =>
      q.layout
        .filter((f) => !f.path.endsWith("certificationData.data") && !f.path.startsWith("trailing"))
        .map((f) => `${f.path}@${f.offset}+${f.size}`);
    expect(upToChain(ours)).toEqual(upToChain(theirs));
    expect(Buffer.from(ours.bytes.subarray(0, 12))).toEqual(Buffer.from(theirs.bytes.subarray(0, 12)));
    // Same QE identity values as Intel's production TD QE.
    const a = ours.signatureData.qeReportCertificationData!.qeReport;
    const b = theirs.signatureData.qeReportCertificationData!.qeReport;
    expect([a.mrSigner, a.isvProdId, a.attributes, a.miscSelect]).toEqual([
      b.mrSigner,
      b.isvProdId,
      b.attributes,
      b.miscSelect,
    ]);
    expect(ours.signatureData.qeReportCertificationData!.qeAuthData).toEqual(
      theirs.signatureData.qeReportCertificationData!.qeAuthData,
    );
  });
});
