import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readCollateral } from "../../src/collateral/json.js";
import { parsePckExtensions } from "../../src/crypto/pck.js";
import { parseCertificate, parseCrl, pemToDers, serialToHex } from "../../src/crypto/x509.js";
import { isTdxError } from "../../src/errors.js";
import { INTEL_SGX_ROOT_CA_PEM } from "../../src/verify/intel-root.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

/** Parsers of untrusted bytes: either a value or a TdxError, never anything else. */
function onlyTdxErrors(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    return isTdxError(e);
  }
}

describe("X.509 parsing", () => {
  const root = pemToDers(INTEL_SGX_ROOT_CA_PEM)[0]!;

  it("reads Intel's root CA", () => {
    const c = parseCertificate(root);
    expect(c.serialHex).toBe("22650cd65a9d3489f383b49552bf501b392706ac");
    expect(c.subject.map((a) => a.value)).toEqual([
      "Intel SGX Root CA",
      "Intel Corporation",
      "Santa Clara",
      "CA",
      "US",
    ]);
    expect(c.notBefore).toBe(Date.UTC(2018, 4, 21, 10, 45, 10) / 1000);
    expect(c.notAfter).toBe(Date.UTC(2049, 11, 31, 23, 59, 59) / 1000);
    expect(Buffer.from(c.publicKey).toString("hex")).toBe(
      "040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394",
    );
    expect(Buffer.from(c.issuerRaw).equals(Buffer.from(c.subjectRaw))).toBe(true);
  });

  it("serial hex ignores the sign byte", () => {
    expect(serialToHex(Uint8Array.from([0x00, 0x95, 0x6f]))).toBe("956f");
    expect(serialToHex(Uint8Array.from([0x00]))).toBe("00");
  });

  it("PEM is strict: corrupt base64, stray text and non-canonical padding are refused", () => {
    const pem = INTEL_SGX_ROOT_CA_PEM;
    expect(() => pemToDers(pem.replace("MIIC", "MI@C"))).toThrowError(
      expect.objectContaining({ code: "PEM_MALFORMED" }),
    );
    expect(() => pemToDers(`junk\n${pem}`)).toThrowError(expect.objectContaining({ code: "PEM_MALFORMED" }));
    expect(() => pemToDers(pem.replace("qI=", "qJ="))).toThrowError(
      expect.objectContaining({ code: "PEM_MALFORMED" }),
    );
    expect(() => pemToDers(`${pem}\0`, "chain", true)).not.toThrow();
    expect(() => pemToDers(`${pem}\u000b`, "chain", true)).toThrowError(
      expect.objectContaining({ code: "PEM_MALFORMED" }),
    );
    expect(() => pemToDers("")).toThrowError(expect.objectContaining({ code: "PEM_MALFORMED" }));
  });

  it("mutated certificates give a value or a TdxError, never another exception", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(root.length - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat(root.length),
        (flips, cut) => {
          const b = new Uint8Array(root);
          for (const [at, mask] of flips) b[at]! ^= mask;
          return (
            onlyTdxErrors(() => parseCertificate(b)) &&
            onlyTdxErrors(() => parseCertificate(b.subarray(0, cut)))
          );
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyTdxErrors(() => parseCertificate(b))),
    );
  });
});

describe.skipIf(!vectorsDir())(`CRLs and PCK extensions of the vectors (${VECTORS_SKIP_REASON})`, () => {
  // describe.skipIf still runs this body when skipped: read the vector only when it is there.
  const c = loadCases().find((x) => x.name === "dcapqvl_tdx_v4_b0c06f_2025-06")!;
  const col = vectorsDir()
    ? readCollateral(c.collateralText)
    : (undefined as unknown as ReturnType<typeof readCollateral>);

  it("reads the PCK CRL and finds revoked serials by value", () => {
    const crl = parseCrl(col.pckCrl);
    expect(crl.revokedCount).toBeGreaterThan(0);
    const first = [...crl.revoked.values()][0]!;
    const serial = Uint8Array.from(
      Buffer.from(first.serialHex.length % 2 ? `0${first.serialHex}` : first.serialHex, "hex"),
    );
    expect(crl.findRevoked(serial)?.serialHex).toBe(first.serialHex);
    expect(crl.findRevoked(Uint8Array.from([0, ...serial]))?.serialHex).toBe(first.serialHex);
    expect(crl.findRevoked(Uint8Array.from([1, 2, 3]))).toBeUndefined();
    expect(crl.nextUpdate! > crl.thisUpdate).toBe(true);
  });

  it("mutated CRLs and PCK extensions give a value or a TdxError", () => {
    const crlDer = col.pckCrl;
    const leaf = pemToDers(
      Buffer.from(c.quote)
        .toString("latin1")
        .slice(Buffer.from(c.quote).toString("latin1").indexOf("-----BEGIN"))
        .replace(/\0+$/, "")
        .replace(/[^\n-~]+$/, ""),
    )[0]!;
    fc.assert(
      fc.property(
        fc.nat(crlDer.length - 1),
        fc.integer({ min: 1, max: 255 }),
        fc.nat(leaf.length - 1),
        (at, mask, at2) => {
          const b = new Uint8Array(crlDer);
          b[at]! ^= mask;
          const l = new Uint8Array(leaf);
          l[at2]! ^= mask;
          return (
            onlyTdxErrors(() => parseCrl(b).findRevoked(Uint8Array.from([1]))) &&
            onlyTdxErrors(() => parsePckExtensions(l))
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
