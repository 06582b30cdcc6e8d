import { describe, expect, it } from "vitest";
import { parsePckExtensions } from "../../src/crypto/pck.js";
import { qvlPemCertificates } from "../../src/crypto/pem.js";
import { parseCrl, pemToDers, qvlNamesEqual } from "../../src/crypto/x509.js";
import { enumerated, integer, octetString, oid, sequence } from "../../src/sim/der.js";
import { createSimPlatform, encodeSgxExtension, type PckExtensionValues } from "../../src/sim/index.js";
import { INTEL_SGX_ROOT_CA_PEM } from "../../src/verify/intel-root.js";

/**
 * What Intel's QVL accepts in certificates, chains, CRLs and the PCK SGX extension, and what it refuses
 * (CertificateChain.cpp splitChain + PEM_read_bio_X509; PckParser.cpp str2X509Crl; X509/PckCertificate.cpp,
 * X509/Tcb.cpp; X509/DistinguishedName.cpp).
 */

const rootDer = pemToDers(INTEL_SGX_ROOT_CA_PEM)[0]!;
const body = INTEL_SGX_ROOT_CA_PEM.split("\n").slice(1, -2); // base64 lines
const BEGIN = "-----BEGIN CERTIFICATE-----";
const END = "-----END CERTIFICATE-----";

describe("PEM chains as QVL reads them", () => {
  it("tabs and spaces inside the base64 are whitespace to OpenSSL's decoder", () => {
    const tabbed = `${BEGIN}\n${body.map((l) => `\t${l.slice(0, 20)} ${l.slice(20)}\t`).join("\n")}\n${END}\n`;
    expect(qvlPemCertificates(tabbed)).toEqual([rootDer]);
    expect(() => pemToDers(tabbed)).toThrowError(expect.objectContaining({ code: "PEM_MALFORMED" }));
  });

  it("text before, between and after blocks is skipped (splitChain); the chain ends at a NUL", () => {
    const one = INTEL_SGX_ROOT_CA_PEM;
    expect(qvlPemCertificates(`subject=Intel\n${one}bag attributes\n${one}trailer`)).toEqual([
      rootDer,
      rootDer,
    ]);
    expect(qvlPemCertificates(`${one}\0${one}`)).toEqual([rootDer]);
  });

  it("a BEGIN with no END after it ends the chain (splitChain walks END markers)", () => {
    const one = INTEL_SGX_ROOT_CA_PEM;
    expect(qvlPemCertificates(`${one}${BEGIN}\nMIIB\n`)).toEqual([rootDer]);
    expect(() => qvlPemCertificates(`${BEGIN}\nMIIB\n`)).toThrowError(
      expect.objectContaining({ code: "PEM_MALFORMED" }),
    );
  });

  it("refuses what PEM_read_bio_X509 refuses", () => {
    const bad = [
      INTEL_SGX_ROOT_CA_PEM.replace("MIIC", "MI@C"),
      INTEL_SGX_ROOT_CA_PEM.replace(`${BEGIN}\n`, `${BEGIN}x\n`),
      INTEL_SGX_ROOT_CA_PEM.replace(`\n${END}`, END),
      INTEL_SGX_ROOT_CA_PEM.replace("qI=", "qI=A"),
      INTEL_SGX_ROOT_CA_PEM.replace(END, "-----END X509 CRL-----"),
      "no certificate here",
      `\0${INTEL_SGX_ROOT_CA_PEM}`,
    ];
    for (const pem of bad) {
      expect(() => qvlPemCertificates(pem), JSON.stringify(pem.slice(0, 40))).toThrowError(
        expect.objectContaining({ code: "PEM_MALFORMED" }),
      );
    }
  });
});

describe("CRLs with trailing bytes (PckParser.cpp str2X509Crl: d2i_X509_CRL_bio reads one CRL)", () => {
  it("accepts zero bytes after the DER (the C-string terminator) and refuses anything else", async () => {
    const p = await createSimPlatform({ now: new Date("2026-01-01T00:00:00Z") });
    const crl = (await p.collateral({ now: new Date("2026-01-01T00:00:00Z") })).pckCrl;
    const padded = new Uint8Array(crl.length + 3);
    padded.set(crl);
    const parsed = parseCrl(padded);
    expect(parsed.der).toEqual(crl);
    expect(parsed.tbs).toEqual(parseCrl(crl).tbs);
    const junk = Uint8Array.from([...crl, 0, 0x30, 0]);
    expect(() => parseCrl(junk)).toThrowError(expect.objectContaining({ code: "DER_MALFORMED" }));
  });
});

describe("names as QVL compares them (DistinguishedName::operator==)", () => {
  it("compares CN, C, O, L, ST only", () => {
    const a = [
      { oid: "2.5.4.3", value: "Intel SGX Root CA" },
      { oid: "2.5.4.10", value: "Intel Corporation" },
    ];
    const b = [...a, { oid: "2.5.4.11", value: "extra OU" }];
    const raw = (n: number) => Uint8Array.of(n);
    expect(
      qvlNamesEqual(
        raw(1),
        () => a,
        raw(2),
        () => b,
      ),
    ).toBe(true);
    expect(
      qvlNamesEqual(
        raw(1),
        () => a,
        raw(2),
        () => [a[0]!],
      ),
    ).toBe(false);
  });
});

describe("the PCK SGX extension as QVL reads it (PckCertificate::setMembers, Tcb::Tcb)", () => {
  const sgx = (suffix: string) => oid(`1.2.840.113741.1.13.1.${suffix}`);
  const values: PckExtensionValues = {
    ppid: new Uint8Array(16).fill(1),
    sgxTcbComponents: [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
    pceSvn: 13,
    cpuSvn: new Uint8Array(16).fill(3),
    pceId: new Uint8Array(2),
    fmspc: Uint8Array.from([0x90, 0xc0, 0x6f, 0, 0, 0]),
    sgxType: 1,
    platformInstanceId: new Uint8Array(16).fill(9),
    configuration: { dynamicPlatform: true, cachedKeys: true, smtEnabled: false },
  };
  /** The extension's entries, to recombine. */
  const entries = (v: PckExtensionValues): Uint8Array[] => {
    const der = encodeSgxExtension(v);
    const out: Uint8Array[] = [];
    let p = der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2;
    while (p < der.length) {
      const len = der[p + 1]! & 0x80 ? (der[p + 2]! << 8) | der[p + 3]! : der[p + 1]!;
      const hdr = der[p + 1]! & 0x80 ? 2 + (der[p + 1]! & 0x7f) : 2;
      out.push(der.subarray(p, p + hdr + len));
      p += hdr + len;
    }
    return out;
  };

  it("7 entries (Platform CA) and 5 (Processor CA) are read", () => {
    const platform = parsePckExtensions(encodeSgxExtension(values));
    expect(platform.platformInstanceId).toBe("09".repeat(16));
    expect(platform.configuration).toEqual({ dynamicPlatform: true, cachedKeys: true, smtEnabled: false });
    const { platformInstanceId: _p, configuration: _c, ...processor } = values;
    expect(parsePckExtensions(encodeSgxExtension({ ...processor, sgxType: 0 })).sgxType).toBe("Standard");
  });

  it("refuses 6 entries (a Platform-CA PCK without PlatformInstanceID or Configuration)", () => {
    const e = entries(values);
    for (const drop of [5, 6]) {
      const six = sequence(...e.filter((_x, i) => i !== drop));
      expect(() => parsePckExtensions(six)).toThrowError(
        expect.objectContaining({ code: "PCK_EXTENSION_MALFORMED", field: "sgxExtension" }),
      );
    }
    expect(() => parsePckExtensions(sequence(...e, e[6]!))).toThrowError(
      expect.objectContaining({ code: "PCK_EXTENSION_MALFORMED" }),
    );
  });

  it("counts entries it does not know and ignores them; a later duplicate replaces an earlier one", () => {
    const e = entries(values);
    const unknown = sequence(sgx("9"), octetString(new Uint8Array(1)));
    expect(parsePckExtensions(sequence(...e.slice(0, 5), unknown, unknown)).fmspc).toBe("90c06f000000");
    const otherFmspc = sequence(sgx("4"), octetString(Uint8Array.from([0, 0x90, 0x6e, 0xd5, 0, 0])));
    expect(parsePckExtensions(sequence(...e.slice(0, 5), otherFmspc, unknown)).fmspc).toBe("00906ed50000");
    // Still 5 or 7 entries, and every required one present.
    expect(() => parsePckExtensions(sequence(...e.slice(0, 4), unknown))).toThrowError(
      expect.objectContaining({ code: "PCK_EXTENSION_MALFORMED", field: "sgxType" }),
    );
  });

  it("the TCB holds exactly 18 entries; SVNs are uint8_t, PCESVN uint32_t, SGX type any ENUMERATED", () => {
    const e = entries(values);
    const tcbItems = (pcesvn: Uint8Array, comp0: Uint8Array, extra: Uint8Array[] = []) =>
      sequence(
        sgx("2"),
        sequence(
          sequence(sgx("2.1"), comp0),
          ...values.sgxTcbComponents.slice(1).map((v, i) => sequence(sgx(`2.${i + 2}`), integer(v))),
          sequence(sgx("2.17"), pcesvn),
          sequence(sgx("2.18"), octetString(values.cpuSvn)),
          ...extra,
        ),
      );
    const withTcb = (t: Uint8Array, type = e[4]!) => sequence(e[0]!, t, e[2]!, e[3]!, type, e[5]!, e[6]!);
    const wide = parsePckExtensions(withTcb(tcbItems(integer(70000), integer(258))));
    expect(wide.tcb.pceSvn).toBe(70000);
    expect(wide.tcb.sgxTcbComponents[0]).toBe(2);
    const odd = parsePckExtensions(
      withTcb(tcbItems(integer(13), integer(3)), sequence(sgx("5"), enumerated(7))),
    );
    expect([odd.sgxType, odd.sgxTypeValue]).toEqual(["Unknown", 7]);
    expect(() =>
      parsePckExtensions(withTcb(tcbItems(integer(13), integer(3), [sequence(sgx("2.19"), integer(1))]))),
    ).toThrowError(expect.objectContaining({ code: "PCK_EXTENSION_MALFORMED", field: "tcb" }));
  });
});
