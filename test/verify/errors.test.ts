import { describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { readCollateral } from "../../src/collateral/json.js";
import type { Collateral } from "../../src/collateral/types.js";
import { signText } from "../../src/sim/collateral.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { issueCrl, type SimKey } from "../../src/sim/pki.js";
import { INTEL_SGX_ROOT_CA_PEM, Verifier, verifyQuote } from "../../src/verify/index.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

/**
 * Each way a quote can be untrustworthy has its own error code. Real Intel data covers what it can
 * express; the rest uses the simulated PKI (its private keys let the test issue CRLs Intel never would).
 */

const now = new Date("2026-11-20T12:00:00Z");

interface SimKeys {
  root: SimKey;
  platformCa: SimKey;
  processorCa: SimKey;
  tcbSigning: SimKey;
}

async function sim(scenario = "up-to-date") {
  const p = await createSimPlatform({ scenario, now });
  const quote = p.quote(new Uint8Array(64).fill(7), { version: 4 });
  const bundle = await p.collateralBundle({ now });
  // The platform keeps its CA keys private; the test needs them to sign CRLs with unusual contents.
  const keys = (p as unknown as { keys: SimKeys }).keys;
  const verifier = new Verifier({ trustAnchors: [p.rootCaPem] });
  return { p, quote, bundle, collateral: bundle.collateral, keys, verifier };
}

function rootCrl(p: SimPlatform, keys: SimKeys, revoked: Uint8Array[], thisUpdate = now) {
  return issueCrl({
    issuer: p.certs.root,
    issuerKey: keys.root,
    thisUpdate: new Date(thisUpdate.getTime() - 3600_000),
    nextUpdate: new Date(thisUpdate.getTime() + 30 * 86400_000),
    revokedSerials: revoked,
  });
}

describe("error codes (simulated PKI)", () => {
  it("the simulated quote verifies with its root and is refused under Intel's (UNTRUSTED_ROOT)", async () => {
    const { quote, collateral, verifier, p } = await sim();
    expect(verifier.verify(quote, collateral, { now }).ok).toBe(true);
    const r = new Verifier().verify(quote, collateral, { now });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("UNTRUSTED_ROOT");
    // The simulated root carries Intel's name: the message says whose it is not, with both fingerprints,
    // and the hint names the command-line flag.
    expect(r.error?.message).toMatch(
      /ends in CN=Intel SGX Root CA.* \(sha256 [0-9a-f]{64}; not Intel's SGX Root CA\), which is not a trusted root \(trusted: Intel's SGX Root CA \(sha256 44a0196b/,
    );
    expect(r.error?.hint).toMatch(/--trust-root FILE/);
    expect(r.checks.at(-1)).toMatchObject({ name: "pckChain.root", passed: false });
    expect(verifyQuote(quote, collateral, { now, trustAnchors: [p.rootCaPem] }).ok).toBe(true);
  });

  it("revoked PCK certificate: PCK_REVOKED", async () => {
    const { quote, collateral, verifier } = await sim("revoked-pck");
    const r = verifier.verify(quote, collateral, { now });
    expect(r.error?.code).toBe("PCK_REVOKED");
    expect(r.tcbStatus).toBeNull();
  });

  it("revoked intermediate CA: INTERMEDIATE_CA_REVOKED", async () => {
    const { p, quote, collateral, keys, verifier } = await sim();
    const crl = await rootCrl(p, keys, [p.certs.platformCa.serial]);
    const r = verifier.verify(quote, { ...collateral, rootCaCrl: crl }, { now });
    expect(r.error?.code).toBe("INTERMEDIATE_CA_REVOKED");
  });

  it("revoked TCB signing certificate: TCB_SIGNING_CERT_REVOKED", async () => {
    const { p, quote, collateral, keys, verifier } = await sim();
    const crl = await rootCrl(p, keys, [p.certs.tcbSigning.serial]);
    const r = verifier.verify(quote, { ...collateral, rootCaCrl: crl }, { now });
    expect(r.error?.code).toBe("TCB_SIGNING_CERT_REVOKED");
  });

  it("PCK CRL from the other CA: CRL_UNKNOWN_ISSUER", async () => {
    const { quote, bundle, collateral, verifier } = await sim();
    const r = verifier.verify(quote, { ...collateral, pckCrl: bundle.pckCrl.processor }, { now });
    expect(r.error?.code).toBe("CRL_UNKNOWN_ISSUER");
  });

  it("CRL naming the right issuer but signed by another key: CRL_SIGNATURE_INVALID", async () => {
    const { p, quote, collateral, keys, verifier } = await sim();
    const forged = await issueCrl({
      issuer: p.certs.platformCa,
      issuerKey: keys.processorCa,
      thisUpdate: new Date(now.getTime() - 3600_000),
      nextUpdate: new Date(now.getTime() + 86400_000),
      revokedSerials: [],
    });
    const r = verifier.verify(quote, { ...collateral, pckCrl: forged }, { now });
    expect(r.error?.code).toBe("CRL_SIGNATURE_INVALID");
  });

  it("CRL issued after the verification time: expired collateral as Intel reports it (SGX_CRL_EXPIRED), verdict kept", async () => {
    const { p, quote, collateral, keys, verifier } = await sim();
    const future = await rootCrl(p, keys, [], new Date(now.getTime() + 7 * 86400_000));
    const r = verifier.verify(quote, { ...collateral, rootCaCrl: future }, { now });
    expect(r.ok).toBe(true);
    expect(r.tcbStatus).toBe("UpToDate");
    expect(r.collateralExpired).toBe(true);
    expect(r.expiredItems).toEqual(["rootCaCrl.thisUpdate"]);
  });

  it("TCB Info / QE Identity signed by the wrong key: *_SIGNATURE_INVALID", async () => {
    const { quote, collateral, keys, verifier } = await sim();
    const badTcb = { ...collateral, tcbInfoSignature: signText(collateral.tcbInfo, keys.root) };
    expect(verifier.verify(quote, badTcb, { now }).error?.code).toBe("TCB_INFO_SIGNATURE_INVALID");
    const badQe = { ...collateral, qeIdentitySignature: signText(collateral.qeIdentity, keys.root) };
    expect(verifier.verify(quote, badQe, { now }).error?.code).toBe("QE_IDENTITY_SIGNATURE_INVALID");
  });

  it("TDX module identity missing from TCB Info: TDX_MODULE_MISMATCH", async () => {
    const { quote, collateral, keys, verifier } = await sim();
    const info = JSON.parse(collateral.tcbInfo) as Record<string, unknown>;
    delete info.tdxModuleIdentities;
    const text = JSON.stringify(info);
    const c: Collateral = { ...collateral, tcbInfo: text, tcbInfoSignature: signText(text, keys.tcbSigning) };
    const r = verifier.verify(quote, c, { now });
    expect(r.error?.code).toBe("TDX_MODULE_MISMATCH");
  });

  it("TCB Info with the wrong FMSPC: TCB_INFO_MISMATCH", async () => {
    const { quote, collateral, keys, verifier } = await sim();
    const text = collateral.tcbInfo.replace(/"fmspc":"[0-9A-Fa-f]+"/, '"fmspc":"00906ED50000"');
    expect(text).not.toBe(collateral.tcbInfo);
    const c: Collateral = { ...collateral, tcbInfo: text, tcbInfoSignature: signText(text, keys.tcbSigning) };
    expect(verifier.verify(quote, c, { now }).error?.code).toBe("TCB_INFO_MISMATCH");
  });

  it("QE identity with another MRSIGNER: QE_IDENTITY_MISMATCH", async () => {
    const { quote, collateral, keys, verifier } = await sim();
    const text = collateral.qeIdentity.replace(
      /"mrsigner":"[0-9A-Fa-f]{64}"/,
      `"mrsigner":"${"AB".repeat(32)}"`,
    );
    const c: Collateral = {
      ...collateral,
      qeIdentity: text,
      qeIdentitySignature: signText(text, keys.tcbSigning),
    };
    expect(verifier.verify(quote, c, { now }).error?.code).toBe("QE_IDENTITY_MISMATCH");
  });

  it("a QE older than every QE identity level: Intel checks the quote signature first, then TCB_NOT_SUPPORTED", async () => {
    const { quote, collateral, keys, verifier } = await sim();
    const text = collateral.qeIdentity.replace(/"isvsvn":\d+/g, '"isvsvn":200');
    const c: Collateral = {
      ...collateral,
      qeIdentity: text,
      qeIdentitySignature: signText(text, keys.tcbSigning),
    };
    const r = verifier.verify(quote, c, { now });
    expect(r.error?.code).toBe("QE_TCB_LEVEL_NOT_FOUND");
    expect(r.qeIdentityStatus).toBe("NotSupported");
    expect(r.checks.find((x) => x.name === "quote.signature")?.passed).toBe(true);
    const badSig = new Uint8Array(quote);
    const sigAt = parseQuote(quote).signatureDataOffset;
    badSig[sigAt + 3]! ^= 1;
    expect(verifier.verify(badSig, c, { now }).error?.code).toBe("QUOTE_SIGNATURE_INVALID");
  });

  it("a TCB Info signed over its pretty-printed bytes fails: Intel checks the compact form only", async () => {
    const { quote, collateral, keys, verifier } = await sim();
    const pretty = JSON.stringify(JSON.parse(collateral.tcbInfo), null, 2);
    const c = { ...collateral, tcbInfo: pretty, tcbInfoSignature: signText(pretty, keys.tcbSigning) };
    expect(verifier.verify(quote, c, { now }).error?.code).toBe("TCB_INFO_SIGNATURE_INVALID");
  });

  it("a duplicate member inserted before a signed one breaks the signature (it is part of what QVL signs)", async () => {
    const { quote, collateral, verifier } = await sim();
    const forged = collateral.tcbInfo.replace('"fmspc":', '"tcbType":5,"fmspc":');
    const r = verifier.verify(quote, { ...collateral, tcbInfo: forged }, { now });
    expect(r.ok).toBe(false);
    expect(["TCB_INFO_SIGNATURE_INVALID", "TCB_INFO_MALFORMED"]).toContain(r.error?.code);
    const dupStatus = collateral.tcbInfo.replace('"tcbLevels":[{', '"tcbLevels":[{"tcbStatus":"UpToDate",');
    expect(verifier.verify(quote, { ...collateral, tcbInfo: dupStatus }, { now }).error?.code).toBe(
      "TCB_INFO_SIGNATURE_INVALID",
    );
  });

  it("trust anchors that are not self-signed roots are refused up front", async () => {
    const { p } = await sim();
    expect(() => new Verifier({ trustAnchors: [p.certs.platformCa.pem] })).toThrowError(
      expect.objectContaining({ code: "TRUST_ANCHOR_INVALID" }),
    );
    expect(() => new Verifier({ trustAnchors: ["not a pem"] })).toThrowError(
      expect.objectContaining({ code: "TRUST_ANCHOR_INVALID" }),
    );
  });

  it("bad inputs come back as results with their own codes", async () => {
    const { quote, collateral, verifier } = await sim();
    expect(verifier.verify(new Uint8Array(10), collateral, { now }).error?.code).toMatch(/^QUOTE_/);
    const partial = { ...collateral, pckCrl: "00" } as unknown as Collateral;
    expect(verifier.verify(quote, partial, { now }).error?.code).toBe("COLLATERAL_MALFORMED");
  });

  it("a parsed Quote is judged by its bytes, not by fields edited after parsing", async () => {
    const { quote, collateral, verifier } = await sim();
    const parsed = parseQuote(quote);
    const forged = {
      ...parsed,
      body: { ...parsed.body, report: { ...parsed.body.report, reportData: new Uint8Array(64).fill(9) } },
    };
    const r = verifier.verify(forged as typeof parsed, collateral, { now });
    expect(r.ok).toBe(true);
    expect(r.quote?.body.report.reportData).toEqual(new Uint8Array(64).fill(7));
  });

  it("caches serve new quotes of a known platform, and never an edited collateral object", async () => {
    const { p, quote, collateral, verifier } = await sim();
    const first = verifier.verify(quote, collateral, { now });
    const second = verifier.verify(p.quote(new Uint8Array(64).fill(8), { version: 4 }), collateral, { now });
    expect(first.ok && second.ok).toBe(true);
    expect(second.checks.map((c) => c.name)).toEqual(first.checks.map((c) => c.name));
    // Editing the same object in place must not be hidden by the per-object memo.
    collateral.tcbInfoSignature[5]! ^= 1;
    expect(verifier.verify(quote, collateral, { now }).error?.code).toBe("TCB_INFO_SIGNATURE_INVALID");
    collateral.tcbInfoSignature[5]! ^= 1;
    expect(verifier.verify(quote, collateral, { now }).ok).toBe(true);
    // A later time past nextUpdate flags expiry on the cached path too.
    const late = verifier.verify(quote, collateral, { now: new Date(now.getTime() + 60 * 86400_000) });
    expect(late.collateralExpired).toBe(true);
    expect(late.ok).toBe(true);
  });

  it("time is required and never read from the clock", async () => {
    const { quote, collateral, verifier } = await sim();
    const r = verifier.verify(quote, collateral, {} as unknown as { now: number });
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("VERIFY_TIME_INVALID");
  });
});

describe.skipIf(!vectorsDir())(`error codes (real Intel data; ${VECTORS_SKIP_REASON})`, () => {
  const byName = (n: string) => loadCases().find((c) => c.name === n)!;

  it("a real Intel quote under another root: UNTRUSTED_ROOT", async () => {
    const { p } = await sim();
    const c = byName("dcapqvl_tdx_v4_b0c06f_2025-06");
    const r = new Verifier({ trustAnchors: [p.rootCaPem] }).verify(
      c.quote,
      readCollateral(c.collateralText),
      {
        now: c.expected.at,
      },
    );
    expect(r.error?.code).toBe("UNTRUSTED_ROOT");
    expect(
      new Verifier({ trustAnchors: [INTEL_SGX_ROOT_CA_PEM] }).verify(
        c.quote,
        readCollateral(c.collateralText),
        { now: c.expected.at },
      ).ok,
    ).toBe(true);
  });

  it("the Processor-CA PCK CRL for a Platform-CA PCK: CRL_UNKNOWN_ISSUER (Intel SGX_CRL_UNKNOWN_ISSUER)", () => {
    const c = byName("dcapqvl_histeadf882_tdx_v4_b0c06f_WRONGCOLLATERAL");
    const r = new Verifier().verify(c.quote, readCollateral(c.collateralText), { now: c.expected.at });
    expect(r.error?.code).toBe("CRL_UNKNOWN_ISSUER");
    expect(r.error?.hint).toMatch(/ca=platform/);
  });

  it("before the PCK CRL's thisUpdate: collateralExpired (Intel's CrlStore::expired), the TCB status still computed", () => {
    const c = byName("dcapqvl_tdx_v4_b0c06f_2025-06");
    // Root CA CRL thisUpdate 2025-03-20, PCK CRL thisUpdate 2025-06-19.
    const r = new Verifier().verify(c.quote, readCollateral(c.collateralText), {
      now: new Date("2025-06-01T00:00:00Z"),
    });
    expect(r.ok).toBe(true);
    expect(r.tcbStatus).toBe(c.expected.expect.tcbStatus);
    expect(r.collateralExpired).toBe(true);
    expect(r.expiredItems).toContain("pckCrl.thisUpdate");
    expect(r.checks.at(-1)).toMatchObject({ name: "collateral.validity", passed: false, nonFatal: true });
  });

  it("a TDX quote with another platform's TCB Info: TCB_INFO_MISMATCH; with the SGX QE identity: QE_IDENTITY_MISMATCH", () => {
    const tdx = byName("dcapqvl_tdx_v4_b0c06f_2025-06");
    const other = readCollateral(byName("automata_tdx_v4_00806f05_2025-06").collateralText);
    const sgx = readCollateral(byName("dcapqvl_sgx_v3_00a06711_2025-06").collateralText);
    const own = readCollateral(tdx.collateralText);
    const v = new Verifier();
    const at = tdx.expected.at;
    const wrongFmspc = v.verify(
      tdx.quote,
      { ...own, tcbInfo: other.tcbInfo, tcbInfoSignature: other.tcbInfoSignature },
      { now: at },
    );
    expect(wrongFmspc.error?.code).toBe("TCB_INFO_MISMATCH");
    const sgxQe = v.verify(
      tdx.quote,
      { ...own, qeIdentity: sgx.qeIdentity, qeIdentitySignature: sgx.qeIdentitySignature },
      { now: at },
    );
    expect(sgxQe.error?.code).toBe("QE_IDENTITY_MISMATCH");
  });

  it("re-indented TCB Info / QE Identity still verify (Intel signs and checks the compact form)", () => {
    const c = byName("dcapqvl_tdx_v4_b0c06f_2025-06");
    const col = readCollateral(c.collateralText);
    const pretty = {
      ...col,
      tcbInfo: JSON.stringify(JSON.parse(col.tcbInfo), null, 2),
      qeIdentity: JSON.stringify(JSON.parse(col.qeIdentity), null, 1),
    };
    const r = new Verifier().verify(c.quote, pretty, { now: c.expected.at });
    expect(r.ok).toBe(true);
    expect(r.tcbStatus).toBe("UpToDate");
    const edited = { ...pretty, tcbInfo: pretty.tcbInfo.replace('"UpToDate"', '"OutOfDate"') };
    expect(new Verifier().verify(c.quote, edited, { now: c.expected.at }).error?.code).toBe(
      "TCB_INFO_SIGNATURE_INVALID",
    );
  });

  it("issuer chains are accepted in either order (Intel reads their roles from the certificates)", () => {
    const c = byName("dcapqvl_tdx_v4_b0c06f_2025-06");
    const col = readCollateral(c.collateralText);
    const flip = (pem: string) => {
      const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g)!;
      return [...blocks].reverse().join("");
    };
    const reversed = {
      ...col,
      pckCrlIssuerChain: flip(col.pckCrlIssuerChain!),
      tcbInfoIssuerChain: flip(col.tcbInfoIssuerChain),
      qeIdentityIssuerChain: flip(col.qeIdentityIssuerChain!),
    };
    expect(reversed.tcbInfoIssuerChain).not.toBe(col.tcbInfoIssuerChain);
    expect(new Verifier().verify(c.quote, reversed, { now: c.expected.at }).ok).toBe(true);
  });

  it("without pck_crl_issuer_chain / qe_identity_issuer_chain the verdict is Intel's (QVL reads neither)", () => {
    const c = byName("dcapqvl_tdx_v4_b0c06f_2025-06");
    const { pckCrlIssuerChain: _p, qeIdentityIssuerChain: _q, ...rest } = readCollateral(c.collateralText);
    const r = new Verifier().verify(c.quote, rest, { now: c.expected.at });
    expect([r.ok, r.tcbStatus]).toEqual([true, c.expected.expect.tcbStatus]);
    expect(r.checks.map((x) => x.name)).not.toContain("pckCrlIssuerChain.matchesPckChain");
    const json = JSON.parse(c.collateralText) as Record<string, unknown>;
    delete json.pck_crl_issuer_chain;
    json.qe_identity_issuer_chain = "";
    expect(
      new Verifier().verify(c.quote, readCollateral(JSON.stringify(json)), { now: c.expected.at }).ok,
    ).toBe(true);
  });

  it("issuer chains that disagree with the ones Intel uses: named non-fatal checks, not a refusal", () => {
    const c = byName("dcapqvl_tdx_v4_b0c06f_2025-06");
    const col = readCollateral(c.collateralText);
    const other = readCollateral(byName("dcapqvl_sgx_v3_00a06711_2025-06").collateralText);
    const swapped = {
      ...col,
      pckCrlIssuerChain: col.tcbInfoIssuerChain,
      qeIdentityIssuerChain: "not a chain",
    };
    const r = new Verifier().verify(c.quote, swapped, { now: c.expected.at });
    expect([r.ok, r.tcbStatus]).toEqual([true, c.expected.expect.tcbStatus]);
    expect(r.checks.find((x) => x.name === "pckCrlIssuerChain.matchesPckChain")).toMatchObject({
      passed: false,
      nonFatal: true,
    });
    expect(r.checks.find((x) => x.name === "qeIdentity.issuerChain.matchesTcbChain")).toMatchObject({
      passed: false,
      nonFatal: true,
    });
    const agreeing = new Verifier().verify(
      c.quote,
      { ...col, qeIdentityIssuerChain: other.tcbInfoIssuerChain },
      {
        now: c.expected.at,
      },
    );
    expect(agreeing.checks.find((x) => x.name === "qeIdentity.issuerChain.matchesTcbChain")?.passed).toBe(
      true,
    );
  });

  it("collateral expiry is a flag with the earliest expiry, not a failure", () => {
    const c = byName("dcapqvl_tdx_v4_b0c06f_2025-07_EXPIRED");
    const r = new Verifier().verify(c.quote, readCollateral(c.collateralText), { now: c.expected.at });
    expect(r.ok).toBe(true);
    expect(r.collateralExpired).toBe(true);
    expect(r.expiredItems).toContain("pckCrl.nextUpdate");
    expect(r.earliestExpiry).toMatchObject({ item: "pckCrl.nextUpdate", iso: "2025-07-19T10:00:35Z" });
  });
});
