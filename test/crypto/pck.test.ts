import { describe, expect, it } from "vitest";
import { parsePckExtensions, pckCaType, pckExtensionsOf } from "../../src/crypto/pck.js";
import { parseCertificate, pemToDers } from "../../src/crypto/x509.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

function pckPemFromQuote(quote: Uint8Array): string {
  const text = Buffer.from(quote).toString("latin1");
  const start = text.indexOf("-----BEGIN CERTIFICATE-----");
  return text
    .slice(start)
    .replace(/\0+$/, "")
    .replace(/[^\x20-\x7e\n\r]+$/, "");
}

describe.skipIf(!vectorsDir())(`PCK SGX extension (${VECTORS_SKIP_REASON})`, () => {
  const cases = loadCases();
  it.each(cases.map((c) => [c.name, c] as const))("%s: FMSPC matches Intel's decoded value", (_n, c) => {
    const ders = pemToDers(
      pckPemFromQuote(c.quote).split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----",
    );
    const leaf = ders[0]!;
    const ext = parsePckExtensions(leaf);
    expect(ext.fmspc).toBe(String(c.expected.quote.pck_fmspc));
    expect(ext.tcb.sgxTcbComponents).toHaveLength(16);
    expect(ext.ppid).toMatch(/^[0-9a-f]{32}$/);
    expect(ext.tcb.cpuSvn).toMatch(/^[0-9a-f]{32}$/);
    expect(pckExtensionsOf(parseCertificate(leaf))).toEqual(ext);
    const ca = pckCaType(leaf);
    expect(["platform", "processor"]).toContain(ca);
    if (ca === "platform") {
      expect(ext.platformInstanceId).toMatch(/^[0-9a-f]{32}$/);
      expect(ext.configuration).toBeDefined();
    } else expect(ext.platformInstanceId).toBeUndefined();
  });
});

describe.skipIf(!vectorsDir())("PCK extension detail", () => {
  it("decodes the b0c06f PCK exactly", () => {
    const c = loadCases().find((x) => x.name === "dcapqvl_tdx_v4_b0c06f_2025-06")!;
    const leaf = pemToDers(pckPemFromQuote(c.quote))[0]!;
    const ext = parsePckExtensions(leaf);
    expect(ext).toEqual({
      ppid: "811dca2a26b952e85bb6448b097ba4fd",
      tcb: {
        sgxTcbComponents: [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0],
        pceSvn: 11,
        cpuSvn: "03030202040100050000000000000000",
      },
      pceId: "0000",
      fmspc: "b0c06f000000",
      sgxType: "Scalable",
      sgxTypeValue: 1,
      platformInstanceId: "07828474603e7019dc930775ffe8cdd2",
      configuration: { dynamicPlatform: true, cachedKeys: true, smtEnabled: true },
    });
    expect(pckCaType(leaf)).toBe("platform");
  });

  it("refuses a certificate without the extension and a truncated extension", () => {
    const c = loadCases().find((x) => x.name === "dcapqvl_tdx_v4_b0c06f_2025-06")!;
    const ders = pemToDers(pckPemFromQuote(c.quote));
    const root = ders[2]!;
    expect(() => parsePckExtensions(root)).toThrowError(
      expect.objectContaining({ code: "PCK_EXTENSION_MALFORMED" }),
    );
    const ext = parseCertificate(ders[0]!).extensions.get("1.2.840.113741.1.13.1")!.value;
    expect(() => parsePckExtensions(ext.subarray(0, ext.length - 5))).toThrowError(
      expect.objectContaining({ code: "DER_MALFORMED" }),
    );
    expect(() => pckCaType(root)).toThrowError(expect.objectContaining({ code: "PCK_CA_UNKNOWN" }));
  });
});
