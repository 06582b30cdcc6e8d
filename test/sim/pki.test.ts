import { execFileSync } from "node:child_process";
import { createPublicKey, verify, X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Collateral } from "../../src/collateral/types.js";
import { parseCertificate, parseCrl, parsePckExtensions, pemToDers } from "../../src/crypto/index.js";
import {
  createSimPlatform,
  encodeSgxExtension,
  OID_SGX_EXTENSION,
  type SimPlatform,
} from "../../src/sim/index.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

function openssl(args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

let p: SimPlatform;
let c: Collateral;
let dir: string;

beforeAll(async () => {
  p = await createSimPlatform();
  c = await p.collateral();
  dir = mkdtempSync(join(tmpdir(), "sim-pki-"));
  writeFileSync(join(dir, "root.pem"), p.certs.root.pem);
  writeFileSync(join(dir, "platform-ca.pem"), p.certs.platformCa.pem);
  writeFileSync(join(dir, "pck.pem"), p.certs.pck.pem);
  writeFileSync(join(dir, "tcb.pem"), p.certs.tcbSigning.pem);
  writeFileSync(join(dir, "pck.crl"), c.pckCrl);
  writeFileSync(join(dir, "root.crl"), c.rootCaCrl);
});

describe("simulated PKI: read by node:crypto and openssl", () => {
  it("node:crypto X509Certificate reads every certificate and checks each signature", () => {
    const root = new X509Certificate(p.certs.root.pem);
    const pca = new X509Certificate(p.certs.platformCa.pem);
    const pck = new X509Certificate(p.certs.pck.pem);
    const tcb = new X509Certificate(p.certs.tcbSigning.pem);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(pca.verify(root.publicKey)).toBe(true);
    expect(tcb.verify(root.publicKey)).toBe(true);
    expect(pck.verify(pca.publicKey)).toBe(true);
    expect(pck.verify(root.publicKey)).toBe(false);
    expect(pck.checkIssued(pca)).toBe(true);
    expect(root.ca).toBe(true);
    expect(pck.ca).toBe(false);
    expect(pck.subject).toContain("CN=Intel SGX PCK Certificate");
  });

  it("openssl verifies the PCK and TCB Signing chains up to the simulated root", () => {
    const r = openssl([
      "verify",
      "-CAfile",
      join(dir, "root.pem"),
      "-untrusted",
      join(dir, "platform-ca.pem"),
      join(dir, "pck.pem"),
    ]);
    expect(r).toContain("pck.pem: OK");
    expect(openssl(["verify", "-CAfile", join(dir, "root.pem"), join(dir, "tcb.pem")])).toContain("OK");
  });

  it("openssl verifies the chain with both CRLs (CRL checking on)", () => {
    const bundle = join(dir, "crls.pem");
    const pem = (f: string) => openssl(["crl", "-inform", "DER", "-in", join(dir, f)]);
    writeFileSync(bundle, pem("root.crl") + pem("pck.crl"));
    const r = openssl([
      "verify",
      "-crl_check_all",
      "-CRLfile",
      bundle,
      "-CAfile",
      join(dir, "root.pem"),
      "-untrusted",
      join(dir, "platform-ca.pem"),
      join(dir, "pck.pem"),
    ]);
    expect(r).toContain("OK");
  });

  it("openssl reads the CRLs and checks their signatures against the issuers", () => {
    const pck = openssl([
      "crl",
      "-inform",
      "DER",
      "-in",
      join(dir, "pck.crl"),
      "-noout",
      "-text",
      "-CAfile",
      join(dir, "platform-ca.pem"),
    ]);
    expect(pck).toMatch(/Issuer: CN\s?=\s?Intel SGX PCK Platform CA/);
    expect(pck).toContain("X509v3 CRL Number");
    expect(pck).toContain("X509v3 Authority Key Identifier");
    const root = openssl([
      "crl",
      "-inform",
      "DER",
      "-in",
      join(dir, "root.crl"),
      "-noout",
      "-text",
      "-CAfile",
      join(dir, "root.pem"),
    ]);
    expect(root).toMatch(/Issuer: CN\s?=\s?Intel SGX Root CA/);
  });

  it("openssl x509 shows Intel's extensions and key usages", () => {
    const t = openssl(["x509", "-in", join(dir, "pck.pem"), "-noout", "-text"]);
    expect(t).toContain("Digital Signature, Non Repudiation");
    expect(t).toContain("CA:FALSE");
    expect(t).toContain("1.2.840.113741.1.13.1");
    expect(t).toContain("pckcrl?ca=platform&encoding=der");
    const r = openssl(["x509", "-in", join(dir, "root.pem"), "-noout", "-text"]);
    expect(r).toContain("Certificate Sign, CRL Sign");
    expect(r).toContain("CA:TRUE, pathlen:1");
  });

  it("the PCK extension carries the platform's TCB, FMSPC and platform-CA fields", () => {
    const ext = parsePckExtensions(p.certs.pck.der);
    expect(ext.fmspc).toBe("90c06f000000");
    expect(ext.pceId).toBe("0000");
    expect(ext.tcb.sgxTcbComponents).toEqual(p.tcb.sgxTcbComponents);
    expect(ext.tcb.pceSvn).toBe(p.tcb.pceSvn);
    expect(ext.sgxType).toBe("Scalable");
    expect(ext.platformInstanceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ext.configuration).toEqual({ dynamicPlatform: true, cachedKeys: true, smtEnabled: true });
  });

  it("a Processor-CA platform issues a 5-entry extension under the Processor CA", async () => {
    const q = await createSimPlatform({ pckCa: "processor" });
    const cert = parseCertificate(q.certs.pck.der);
    expect(cert.issuer.find((a) => a.oid === "2.5.4.3")?.value).toBe("Intel SGX PCK Processor CA");
    const ext = parsePckExtensions(q.certs.pck.der);
    expect(ext.sgxType).toBe("Standard");
    expect(ext.platformInstanceId).toBeUndefined();
    const crl = parseCrl((await q.collateral()).pckCrl);
    expect(crl.issuer.find((a) => a.oid === "2.5.4.3")?.value).toBe("Intel SGX PCK Processor CA");
  });
});

describe("signed collateral", () => {
  it("TCB Info and QE Identity signatures verify with the TCB Signing key over the exact text", () => {
    const key = createPublicKey(p.certs.tcbSigning.pem);
    const ok = (text: string, sig: Uint8Array) =>
      verify("sha256", Buffer.from(text, "utf8"), { key, dsaEncoding: "ieee-p1363" }, sig);
    expect(c.tcbInfoSignature.length).toBe(64);
    expect(ok(c.tcbInfo, c.tcbInfoSignature)).toBe(true);
    expect(ok(c.qeIdentity, c.qeIdentitySignature)).toBe(true);
    expect(ok(`${c.tcbInfo} `, c.tcbInfoSignature)).toBe(false);
  });

  it("openssl verifies the TCB Info and QE Identity signatures with the TCB Signing certificate's key", () => {
    const pub = join(dir, "tcb-pub.pem");
    writeFileSync(pub, openssl(["x509", "-in", join(dir, "tcb.pem"), "-noout", "-pubkey"]));
    // openssl wants an ECDSA-Sig-Value (DER SEQUENCE of r and s), Intel ships raw r||s.
    const derSig = (raw: Uint8Array) => {
      const int = (b: Uint8Array) => {
        let i = 0;
        while (i < b.length - 1 && b[i] === 0) i++;
        const v = b.subarray(i);
        const body = v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : Buffer.from(v);
        return Buffer.concat([Buffer.from([0x02, body.length]), body]);
      };
      const seq = Buffer.concat([int(raw.subarray(0, 32)), int(raw.subarray(32))]);
      return Buffer.concat([Buffer.from([0x30, seq.length]), seq]);
    };
    for (const [name, text, sig] of [
      ["tcb-info", c.tcbInfo, c.tcbInfoSignature],
      ["qe-identity", c.qeIdentity, c.qeIdentitySignature],
    ] as const) {
      writeFileSync(join(dir, `${name}.json`), text);
      writeFileSync(join(dir, `${name}.sig`), derSig(sig));
      const r = openssl([
        "dgst",
        "-sha256",
        "-verify",
        pub,
        "-signature",
        join(dir, `${name}.sig`),
        join(dir, `${name}.json`),
      ]);
      expect(r).toContain("Verified OK");
    }
  });

  it("is compact JSON with Intel's TD QE identity and upper-case hex", () => {
    expect(JSON.stringify(JSON.parse(c.tcbInfo))).toBe(c.tcbInfo);
    expect(JSON.stringify(JSON.parse(c.qeIdentity))).toBe(c.qeIdentity);
    const qe = JSON.parse(c.qeIdentity);
    expect(qe.id).toBe("TD_QE");
    expect(qe.version).toBe(2);
    expect(qe.mrsigner).toBe("DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5");
    expect(qe.isvprodid).toBe(2);
    const tcb = JSON.parse(c.tcbInfo);
    expect(tcb.id).toBe("TDX");
    expect(tcb.version).toBe(3);
    expect(tcb.fmspc).toBe("90C06F000000");
    expect(tcb.issueDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(tcb.tdxModuleIdentities.map((m: { id: string }) => m.id)).toEqual(["TDX_03", "TDX_01"]);
  });

  it("the chains in the collateral are PCK CA || root and TCB Signing || root", () => {
    expect(pemToDers(c.pckCrlIssuerChain ?? "").length).toBe(2);
    expect(c.pckCrlIssuerChain).toBe(p.certs.platformCa.pem + p.certs.root.pem);
    expect(c.tcbInfoIssuerChain).toBe(p.certs.tcbSigning.pem + p.certs.root.pem);
  });

  it("CRLs carry CRL Number and AKI of their issuer, and revoke this PCK only in revoked-pck", async () => {
    const pck = parseCrl(c.pckCrl);
    expect([...pck.extensions.keys()]).toEqual(["2.5.29.20", "2.5.29.35"]);
    // Two other platforms' PCKs are on the list (Intel's CRLs are never empty), ours is not.
    expect(pck.revoked.size).toBe(2);
    expect(pck.revoked.has(parseCertificate(p.certs.pck.der).serialHex)).toBe(false);
    const revoked = await createSimPlatform({ scenario: "revoked-pck" });
    const rc = parseCrl((await revoked.collateral()).pckCrl);
    expect(rc.revoked.has(parseCertificate(revoked.certs.pck.der).serialHex)).toBe(true);
  });
});

describe.skipIf(!vectorsDir())("byte-level shape against Intel's real certificates and collateral", () => {
  const real = () => {
    const cs = loadCases().filter((k) => k.name.includes("tdx_v5_90c06f_alibaba"));
    const k = cs[0];
    if (!k) throw new Error(VECTORS_SKIP_REASON);
    const text = Buffer.from(k.quote).toString("latin1");
    const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
    return { pems, collateral: JSON.parse(k.collateralText) as Record<string, string> };
  };

  it("subjects and issuers are byte-identical to Intel's, extensions in Intel's order and criticality", () => {
    const { pems } = real();
    const ours = [p.certs.pck, p.certs.platformCa, p.certs.root].map((x) => parseCertificate(x.der));
    const theirs = pems.map((x) => parseCertificate(pemToDers(x)[0]!));
    expect(theirs.length).toBe(3);
    for (let i = 0; i < 3; i++) {
      const a = ours[i]!;
      const b = theirs[i]!;
      expect(Buffer.from(a.subjectRaw).toString("hex")).toBe(Buffer.from(b.subjectRaw).toString("hex"));
      expect(Buffer.from(a.issuerRaw).toString("hex")).toBe(Buffer.from(b.issuerRaw).toString("hex"));
      const shape = (x: typeof a) => [...x.extensions.entries()].map(([o, e]) => `${o}:${e.critical}`);
      expect(shape(a)).toEqual(shape(b));
      for (const oid of ["2.5.29.15", "2.5.29.19", "2.5.29.31"]) {
        expect(Buffer.from(a.extensions.get(oid)!.value)).toEqual(Buffer.from(b.extensions.get(oid)!.value));
      }
      expect(a.serial.length).toBeGreaterThanOrEqual(20);
    }
  });

  it("the TCB Signing certificate has Intel's names and extension encodings", () => {
    const { collateral } = real();
    const theirs = parseCertificate(pemToDers(collateral.tcb_info_issuer_chain!)[0]!);
    const ours = parseCertificate(p.certs.tcbSigning.der);
    expect(Buffer.from(ours.subjectRaw)).toEqual(Buffer.from(theirs.subjectRaw));
    expect([...ours.extensions.entries()].map(([o, e]) => `${o}:${e.critical}`)).toEqual(
      [...theirs.extensions.entries()].map(([o, e]) => `${o}:${e.critical}`),
    );
    for (const oid of ["2.5.29.15", "2.5.29.19", "2.5.29.31"]) {
      expect(Buffer.from(ours.extensions.get(oid)!.value)).toEqual(
        Buffer.from(theirs.extensions.get(oid)!.value),
      );
    }
    // Intel's CAs and TCB Signing certificate use their serial number as subject key identifier.
    expect(Buffer.from(theirs.extensions.get("2.5.29.14")!.value).subarray(2).toString("hex")).toBe(
      theirs.serialHex,
    );
    expect(Buffer.from(ours.extensions.get("2.5.29.14")!.value).subarray(2).toString("hex")).toBe(
      ours.serialHex,
    );
  });

  it("re-encoding Intel's PCK extension values gives Intel's exact extension bytes", () => {
    const { pems } = real();
    const der = pemToDers(pems[0]!)[0]!;
    const ext = parsePckExtensions(der);
    const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
    const ours = encodeSgxExtension({
      ppid: hex(ext.ppid),
      sgxTcbComponents: ext.tcb.sgxTcbComponents,
      pceSvn: ext.tcb.pceSvn,
      cpuSvn: hex(ext.tcb.cpuSvn),
      pceId: hex(ext.pceId),
      fmspc: hex(ext.fmspc),
      sgxType: ["Standard", "Scalable", "ScalableWithIntegrity"].indexOf(ext.sgxType),
      platformInstanceId: hex(ext.platformInstanceId ?? ""),
      configuration: {
        dynamicPlatform: ext.configuration?.dynamicPlatform ?? false,
        cachedKeys: ext.configuration?.cachedKeys ?? false,
        smtEnabled: ext.configuration?.smtEnabled ?? false,
      },
    });
    const theirs = parseCertificate(der).extensions.get(OID_SGX_EXTENSION)!.value;
    expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(theirs).toString("hex"));
  });

  it("TCB Info and QE Identity have Intel's member order at every level", () => {
    const { collateral } = real();
    const keysDeep = (v: unknown): unknown =>
      Array.isArray(v)
        ? keysDeep(v[0])
        : v && typeof v === "object"
          ? Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, keysDeep(x)])
          : typeof v;
    expect(keysDeep(JSON.parse(c.qeIdentity))).toEqual(keysDeep(JSON.parse(collateral.qe_identity!)));
    const ours = JSON.parse(c.tcbInfo);
    const theirs = JSON.parse(collateral.tcb_info!);
    expect(Object.keys(ours)).toEqual(Object.keys(theirs));
    expect(keysDeep(ours.tdxModule)).toEqual(keysDeep(theirs.tdxModule));
    expect(keysDeep(ours.tdxModuleIdentities[0])).toEqual(keysDeep(theirs.tdxModuleIdentities[0]));
    expect(keysDeep(ours.tcbLevels[0])).toEqual(keysDeep(theirs.tcbLevels[0]));
    // The same component categories/types as Intel's data for this FMSPC.
    expect(ours.tcbLevels[0].tcb.sgxtcbcomponents.map((x: { svn: number }) => ({ ...x, svn: 0 }))).toEqual(
      theirs.tcbLevels[0].tcb.sgxtcbcomponents.map((x: { svn: number }) => ({ ...x, svn: 0 })),
    );
  });

  it("CRLs have the same extension layout as Intel's", () => {
    const { collateral } = real();
    const theirs = parseCrl(Uint8Array.from(Buffer.from(collateral.pck_crl!, "hex")));
    const ours = parseCrl(c.pckCrl);
    expect([...ours.extensions.entries()].map(([o, e]) => `${o}:${e.critical}`)).toEqual(
      [...theirs.extensions.entries()].map(([o, e]) => `${o}:${e.critical}`),
    );
    expect(ours.version).toBe(theirs.version);
    expect(Buffer.from(ours.issuerRaw)).toEqual(Buffer.from(theirs.issuerRaw));
  });
});
