import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  issuerChainFromHeaders,
  rawMemberText,
  readCollateral,
  readCrl,
  readIssuerChainHeader,
  readQeIdentityResponse,
  readTcbInfoResponse,
  splitPemCertificates,
} from "../../src/collateral/index.js";
import { TdxError } from "../../src/errors.js";
import { VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

const dir = vectorsDir();

function vectorCollateral(name: string) {
  return readCollateral(readFileSync(join(dir as string, "cases", name, "collateral.json"), "utf8"));
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof TdxError ? e.code : `not a TdxError: ${String(e)}`;
  }
  return undefined;
}

describe("rawMemberText", () => {
  it("returns the exact bytes of a member value, whitespace and key order kept", () => {
    const inner = '{ "b" : [1, {"x":"}\\"]"}],\n "a":"q" }';
    const text = `{"signature":"ab", "tcbInfo" :${inner} , "z":null}`;
    expect(JSON.parse(text)).toBeTruthy();
    expect(rawMemberText(text, "tcbInfo")).toBe(inner);
    expect(rawMemberText(text, "signature")).toBe('"ab"');
    expect(rawMemberText(text, "z")).toBe("null");
    expect(rawMemberText(text, "missing")).toBeNull();
  });
});

describe.skipIf(!dir)(`PCS response readers (vectors) ${dir ? "" : VECTORS_SKIP_REASON}`, () => {
  const c = dir ? vectorCollateral("dcapqvl_tdx_v4_b0c06f_2025-06") : null;
  const sigHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

  it("keeps the signed tcbInfo text byte for byte, wherever it sits in the response", () => {
    if (!c) return;
    const upper = sigHex(c.tcbInfoSignature).toUpperCase();
    for (const body of [
      `{"tcbInfo":${c.tcbInfo},"signature":"${sigHex(c.tcbInfoSignature)}"}`,
      `{ "signature" : "${upper}",\n  "tcbInfo":  ${c.tcbInfo}\n}`,
    ]) {
      const item = readTcbInfoResponse(body);
      expect(item.body).toBe(c.tcbInfo);
      expect(item.signature).toBe(sigHex(c.tcbInfoSignature));
      expect(item.fmspc).toBe("B0C06F000000");
      expect(item.id).toBe("TDX");
      expect(item.nextUpdate.toISOString()).toBe("2025-07-19T10:16:03.000Z");
    }
  });

  it("reads the QE identity response", () => {
    if (!c) return;
    const item = readQeIdentityResponse(
      `{"enclaveIdentity":${c.qeIdentity},"signature":"${sigHex(c.qeIdentitySignature)}"}`,
    );
    expect(item.body).toBe(c.qeIdentity);
    expect(item.id).toBe("TD_QE");
    expect(item.version).toBe(2);
  });

  it("rejects damaged TCB Info / QE Identity responses with COLLATERAL_FORMAT", () => {
    if (!c) return;
    const sig = sigHex(c.tcbInfoSignature);
    expect(codeOf(() => readTcbInfoResponse("not json"))).toBe("COLLATERAL_FORMAT");
    expect(codeOf(() => readTcbInfoResponse(`{"tcbInfo":${c.tcbInfo}}`))).toBe("COLLATERAL_FORMAT");
    expect(codeOf(() => readTcbInfoResponse(`{"tcbInfo":${c.tcbInfo},"signature":"${sig.slice(2)}"}`))).toBe(
      "COLLATERAL_FORMAT",
    );
    expect(codeOf(() => readTcbInfoResponse(`{"tcbInfo":[],"signature":"${sig}"}`))).toBe(
      "COLLATERAL_FORMAT",
    );
    const noDate = c.tcbInfo.replace(/"nextUpdate":"[^"]*",/, "");
    expect(codeOf(() => readTcbInfoResponse(`{"tcbInfo":${noDate},"signature":"${sig}"}`))).toBe(
      "COLLATERAL_FORMAT",
    );
    // With a duplicated key, the first (signed, verified) text is the one read.
    const dup = readTcbInfoResponse(`{"tcbInfo":${c.tcbInfo},"tcbInfo":{"fmspc":"X"},"signature":"${sig}"}`);
    expect(dup.body).toBe(c.tcbInfo);
    expect(dup.fmspc).toBe("B0C06F000000");
    expect(codeOf(() => readQeIdentityResponse(`{"tcbInfo":${c.tcbInfo},"signature":"${sig}"}`))).toBe(
      "COLLATERAL_FORMAT",
    );
  });

  it("reads CRLs as DER, PEM, hex of DER and hex of PEM (PCCS)", () => {
    if (!c) return;
    const der = c.pckCrl;
    const pemText = `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString("base64")}\n-----END X509 CRL-----\n`;
    const variants: (Uint8Array | string)[] = [
      der,
      pemText,
      new TextEncoder().encode(pemText),
      Buffer.from(der).toString("hex"),
      new TextEncoder().encode(Buffer.from(der).toString("hex")),
      Buffer.from(pemText, "utf8").toString("hex"),
    ];
    for (const v of variants) {
      const crl = readCrl(v);
      expect(Buffer.from(crl.der).equals(Buffer.from(der))).toBe(true);
      expect(crl.nextUpdate).not.toBeNull();
      expect(crl.thisUpdate.getTime()).toBeLessThan(crl.nextUpdate?.getTime() ?? 0);
    }
    expect(codeOf(() => readCrl("zz not a crl"))).toBe("COLLATERAL_FORMAT");
    expect(codeOf(() => readCrl(new Uint8Array([0x30, 0x03, 1, 2, 3])))).toBe("COLLATERAL_FORMAT");
  });

  it("decodes percent-encoded issuer-chain headers, v4 name before v3", () => {
    if (!c) return;
    const enc = encodeURIComponent(c.tcbInfoIssuerChain);
    expect(splitPemCertificates(readIssuerChainHeader(enc, "TCB-Info-Issuer-Chain", 2))).toEqual(
      splitPemCertificates(c.tcbInfoIssuerChain),
    );
    const v3 = new Headers({ "SGX-TCB-Info-Issuer-Chain": enc });
    expect(
      splitPemCertificates(
        issuerChainFromHeaders(v3, ["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"]),
      ),
    ).toHaveLength(2);
    expect(codeOf(() => issuerChainFromHeaders(new Headers(), ["TCB-Info-Issuer-Chain"]))).toBe(
      "COLLATERAL_FORMAT",
    );
    expect(codeOf(() => readIssuerChainHeader("%E0%A4%A", "X"))).toBe("COLLATERAL_FORMAT");
    const oneCert = encodeURIComponent(splitPemCertificates(c.tcbInfoIssuerChain)[0] ?? "");
    expect(codeOf(() => readIssuerChainHeader(oneCert, "X", 2))).toBe("COLLATERAL_FORMAT");
  });
});
