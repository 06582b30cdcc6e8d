import { describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { readCollateral } from "../../src/collateral/json.js";
import type { Collateral } from "../../src/collateral/types.js";
import { Verifier } from "../../src/verify/index.js";
import { loadCases, VECTORS_SKIP_REASON, type VectorCase, vectorsDir } from "../helpers/vectors.js";

/**
 * Tamper matrix: any change to a signed or checked byte must make verification fail (the issuer chains
 * Intel never reads only fail their own non-fatal check). One real TDX quote
 * gets every byte of every region flipped; every real quote gets sampled bytes of every region, of its PCK
 * chain, and of the collateral (TCB Info and QE Identity text and signatures, issuer chains, CRLs).
 * Verifiers are reused on purpose (their caches must never turn a changed input into a cached success),
 * and the untampered input is verified again afterwards to show nothing was poisoned.
 */

interface Region {
  name: string;
  start: number;
  end: number;
}

function regionsOf(quoteBytes: Uint8Array): Region[] {
  const q = parseQuote(quoteBytes);
  const off = (b: Uint8Array) => b.byteOffset - q.bytes.byteOffset;
  const qe = q.signatureData.qeReportCertificationData!;
  const sig = q.signatureDataOffset;
  const chain = qe.certificationData.data;
  return [
    { name: "header", start: 0, end: 48 },
    { name: "body", start: 48, end: q.signedLength },
    { name: "quote signature", start: sig, end: sig + 64 },
    { name: "attestation key", start: sig + 64, end: sig + 128 },
    { name: "QE report", start: off(qe.qeReportBytes), end: off(qe.qeReportBytes) + 384 },
    { name: "QE report signature", start: off(qe.qeReportSignature), end: off(qe.qeReportSignature) + 64 },
    { name: "QE auth data", start: off(qe.qeAuthData), end: off(qe.qeAuthData) + qe.qeAuthData.length },
    { name: "PCK chain", start: off(chain), end: off(chain) + chain.length },
  ];
}

/** Deterministic sampling (a seeded LCG), so a failure names a reproducible offset. */
function sampler(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function flipped(bytes: Uint8Array, at: number, mask = 0xff): Uint8Array {
  const out = new Uint8Array(bytes);
  out[at]! ^= mask;
  return out;
}

function flipChar(text: string, at: number, mask: number): string {
  return text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ mask) + text.slice(at + 1);
}

/** Positions of base64 characters inside PEM blocks (line breaks between certificates carry no data). */
function base64Positions(pem: string): number[] {
  const out: number[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (const m of pem.matchAll(re)) {
    const start = m.index + "-----BEGIN CERTIFICATE-----".length;
    for (let i = 0; i < m[1]!.length; i++) if (/[A-Za-z0-9+/=]/.test(m[1]![i]!)) out.push(start + i);
  }
  return out;
}

const SAMPLES = 6;

function baselineOk(c: VectorCase): boolean {
  return c.expected.expect.error === null;
}

describe.skipIf(!vectorsDir())(`tamper matrix (${VECTORS_SKIP_REASON})`, () => {
  const cases = loadCases();

  it("every byte of every region of one real TDX quote", () => {
    const c = cases.find((x) => x.name === "dcapqvl_tdx_v4_b0c06f_2025-06")!;
    const collateral = readCollateral(c.collateralText);
    const now = c.expected.at;
    const v = new Verifier();
    expect(v.verify(c.quote, collateral, { now }).ok).toBe(true);
    const survivors: string[] = [];
    const codes = new Map<string, Set<string>>();
    for (const r of regionsOf(c.quote).filter((x) => x.name !== "PCK chain")) {
      const seen = new Set<string>();
      codes.set(r.name, seen);
      for (let i = r.start; i < r.end; i++) {
        const res = v.verify(flipped(c.quote, i), collateral, { now });
        if (res.ok) survivors.push(`${r.name} @${i}`);
        else seen.add(res.error!.code);
        expect(res.error?.code).not.toBe("VERIFY_INTERNAL");
      }
    }
    expect(survivors).toEqual([]);
    // Each region is caught by the check that guards it.
    expect([...codes.get("quote signature")!]).toEqual(["QUOTE_SIGNATURE_INVALID"]);
    expect([...codes.get("QE report signature")!]).toEqual(["QE_REPORT_SIGNATURE_INVALID"]);
    expect([...codes.get("QE report")!]).toEqual(["QE_REPORT_SIGNATURE_INVALID"]);
    expect([...codes.get("QE auth data")!]).toEqual(["QE_REPORT_DATA_MISMATCH"]);
    expect([...codes.get("attestation key")!]).toEqual(["QE_REPORT_DATA_MISMATCH"]);
    expect(codes.get("body")).toContain("QUOTE_SIGNATURE_INVALID");
    // The caches were not poisoned by 1,200 failures.
    const again = v.verify(c.quote, collateral, { now });
    expect(again.ok).toBe(true);
    expect(again.tcbStatus).toBe(c.expected.expect.tcbStatus);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s: sampled bytes of quote and collateral", (_n, c) => {
    const now = c.expected.at;
    const collateral = readCollateral(c.collateralText);
    const v = new Verifier();
    const base = v.verify(c.quote, collateral, { now });
    expect(base.ok).toBe(baselineOk(c));
    const pick = sampler(c.quote.length);
    const survivors: string[] = [];
    const internal: string[] = [];
    const check = (label: string, quote: Uint8Array, col: Collateral) => {
      // A quote Intel rejects must stay rejected; an accepted one must now be rejected, with a real reason.
      const r = v.verify(quote, col, { now });
      if (r.ok) survivors.push(label);
      else if (r.error?.code === "VERIFY_INTERNAL") internal.push(`${label}: ${r.error.message}`);
    };

    for (const r of regionsOf(c.quote)) {
      for (let k = 0; k < SAMPLES; k++) {
        const at = r.start + pick(r.end - r.start);
        const mask = 1 + pick(255);
        check(`${r.name} @${at}^${mask}`, flipped(c.quote, at, mask), collateral);
      }
    }
    const texts: (keyof Collateral)[] = ["tcbInfo", "qeIdentity", "tcbInfoIssuerChain"];
    for (const field of texts) {
      const text = collateral[field] as string;
      const positions = field.endsWith("Chain") ? base64Positions(text) : null;
      for (let k = 0; k < SAMPLES; k++) {
        const at = positions ? positions[pick(positions.length)]! : pick(text.length);
        const mask = 1 + pick(positions ? 31 : 127);
        check(`${field} @${at}^${mask}`, c.quote, { ...collateral, [field]: flipChar(text, at, mask) });
      }
    }
    const binaries: (keyof Collateral)[] = ["tcbInfoSignature", "qeIdentitySignature", "rootCaCrl", "pckCrl"];
    for (const field of binaries) {
      const bytes = collateral[field] as Uint8Array;
      for (let k = 0; k < SAMPLES; k++) {
        const at = pick(bytes.length);
        const mask = 1 + pick(255);
        check(`${field} @${at}^${mask}`, c.quote, { ...collateral, [field]: flipped(bytes, at, mask) });
      }
    }
    // The chains Intel never reads (QVL checks the PCK CRL against the quote's chain and the QE Identity with
    // the TCB Info issuer chain): a changed one changes no verdict, and its own check says it disagrees.
    const unread = [
      ["pckCrlIssuerChain", "pckCrlIssuerChain.matchesPckChain"],
      ["qeIdentityIssuerChain", "qeIdentity.issuerChain.matchesTcbChain"],
    ] as const;
    for (const [field, checkName] of unread) {
      const text = collateral[field]!;
      const positions = base64Positions(text);
      for (let k = 0; k < SAMPLES; k++) {
        const at = positions[pick(positions.length)]!;
        const r = v.verify(c.quote, { ...collateral, [field]: flipChar(text, at, 1 + pick(31)) }, { now });
        expect({ ok: r.ok, tcbStatus: r.tcbStatus }, `${field} @${at}`).toEqual({
          ok: base.ok,
          tcbStatus: base.tcbStatus,
        });
        const named = r.checks.find((x) => x.name === checkName);
        if (named) expect(named, `${field} @${at}`).toMatchObject({ passed: false, nonFatal: true });
        else expect(r.ok, `${field} @${at}: failed before the check`).toBe(false);
      }
    }
    expect(survivors).toEqual([]);
    expect(internal).toEqual([]);
    const again = v.verify(c.quote, collateral, { now });
    expect({ ok: again.ok, tcbStatus: again.tcbStatus }).toEqual({ ok: base.ok, tcbStatus: base.tcbStatus });
  });
});
