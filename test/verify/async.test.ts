import { sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { readCollateral } from "../../src/collateral/json.js";
import type { Collateral } from "../../src/collateral/types.js";
import { sha256 } from "../../src/crypto/ecdsa.js";
import { createSimPlatform, SCENARIOS, type ScenarioName } from "../../src/sim/index.js";
import {
  type VerificationResult,
  Verifier,
  type VerifyOptions,
  verifyQuote,
  verifyQuoteAsync,
} from "../../src/verify/index.js";
import { loadCases, VECTORS_SKIP_REASON, vectorsDir } from "../helpers/vectors.js";

/**
 * `verifyAsync` is `verify` with the signature checks on the thread pool: on every real vector, every
 * simulated scenario and hundreds of tampered inputs it must give the same result, byte for byte of its
 * JSON (checks, values, error codes), and leave the same caches, both on fresh verifiers and on verifiers
 * reused across inputs.
 */

/** Results as JSON, byte arrays as hex (the parsed quote is part of a result). */
function json(r: VerificationResult): string {
  return JSON.stringify(r, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v));
}

/**
 * What was verified is remembered alike. Parse caches (certificates, chains, CRLs) may hold more after
 * verifyAsync: its first run goes on past a signature that turns out bad and parses what follows.
 */
function sameCaches(asyncVerifier: Verifier, syncVerifier: Verifier, label: string): void {
  const a = asyncVerifier.cacheSizes();
  const s = syncVerifier.cacheSizes();
  for (const k of ["verifiedSignatures", "signedTexts", "tcbInfos", "qeIdentities", "quoteTails"] as const) {
    expect(a[k], `${label}: ${k}`).toBe(s[k]);
  }
  for (const k of ["certificates", "chains", "crls", "attestationKeys"] as const) {
    expect(a[k], `${label}: ${k}`).toBeGreaterThanOrEqual(s[k]);
  }
}

/** One pair of verifiers reused across calls (caches warm up identically), plus fresh ones per call. */
function comparer() {
  const reusedSync = new Verifier();
  const reusedAsync = new Verifier();
  let compared = 0;
  return {
    async same(quote: Uint8Array, collateral: Collateral, options: VerifyOptions, label: string) {
      const freshSyncVerifier = new Verifier();
      const freshAsyncVerifier = new Verifier();
      const fresh = json(freshSyncVerifier.verify(quote, collateral, options));
      const freshAsync = json(await freshAsyncVerifier.verifyAsync(quote, collateral, options));
      expect(freshAsync, `${label}: fresh verifier`).toBe(fresh);
      // verifyAsync remembers what it verified once its thread-pool checks came back: the same as verify.
      sameCaches(freshAsyncVerifier, freshSyncVerifier, `${label}: fresh verifier caches`);
      const reused = json(reusedSync.verify(quote, collateral, options));
      const reusedA = json(await reusedAsync.verifyAsync(quote, collateral, options));
      expect(reusedA, `${label}: reused verifier`).toBe(reused);
      sameCaches(reusedAsync, reusedSync, `${label}: reused verifier caches`);
      compared++;
      return JSON.parse(fresh) as VerificationResult;
    },
    get compared() {
      return compared;
    },
  };
}

/** Deterministic sampling (a seeded LCG), so a failure names a reproducible input. */
function sampler(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function flipped(bytes: Uint8Array, at: number, mask: number): Uint8Array {
  const out = new Uint8Array(bytes);
  out[at]! ^= mask;
  return out;
}

function flipChar(text: string, at: number, mask: number): string {
  return text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ mask) + text.slice(at + 1);
}

describe.skipIf(!vectorsDir())(`verifyAsync equals verify on real quotes (${VECTORS_SKIP_REASON})`, () => {
  const cases = loadCases();

  it("every vector case, fresh and reused verifiers, at its time and around it", async () => {
    const cmp = comparer();
    for (const c of cases) {
      const collateral = readCollateral(c.collateralText);
      for (const now of [c.expected.at, c.expected.at + 400 * 86400, 0]) {
        await cmp.same(c.quote, collateral, { now }, `${c.name} at ${now}`);
      }
      // Again, once everything is cached by both reused verifiers.
      await cmp.same(c.quote, collateral, { now: c.expected.at }, `${c.name} warm`);
    }
    expect(cmp.compared).toBe(cases.length * 4);
  });

  it("hundreds of tampered quotes and collaterals", async () => {
    const cmp = comparer();
    const codes = new Set<string>();
    for (const c of cases) {
      const now = c.expected.at;
      const collateral = readCollateral(c.collateralText);
      const q = parseQuote(c.quote);
      const off = (b: Uint8Array) => b.byteOffset - q.bytes.byteOffset;
      const qe = q.signatureData.qeReportCertificationData;
      const pick = sampler(c.quote.length ^ c.name.length);
      const regions: [number, number][] = [
        [0, q.signedLength],
        [q.signatureDataOffset, q.signatureDataOffset + 128],
      ];
      if (qe) {
        regions.push([off(qe.qeReportBytes), off(qe.qeReportBytes) + 384 + 64]);
        const chain = qe.certificationData.data;
        regions.push([off(chain), off(chain) + chain.length]);
      }
      for (const [start, end] of regions) {
        for (let k = 0; k < 4; k++) {
          const at = start + pick(end - start);
          const mask = 1 + pick(255);
          const r = await cmp.same(
            flipped(c.quote, at, mask),
            collateral,
            { now },
            `${c.name} quote @${at}^${mask}`,
          );
          if (r.error) codes.add(r.error.code);
        }
      }
      for (const field of ["tcbInfo", "qeIdentity", "tcbInfoIssuerChain", "pckCrlIssuerChain"] as const) {
        for (let k = 0; k < 3; k++) {
          const text = collateral[field] ?? "";
          const at = pick(text.length);
          const changed = { ...collateral, [field]: flipChar(text, at, 1 + pick(3)) };
          const r = await cmp.same(c.quote, changed, { now }, `${c.name} ${field} @${at}`);
          if (r.error) codes.add(r.error.code);
        }
      }
      for (const field of ["rootCaCrl", "pckCrl", "tcbInfoSignature", "qeIdentitySignature"] as const) {
        for (let k = 0; k < 3; k++) {
          const bytes = collateral[field];
          const at = pick(bytes.length);
          const changed = { ...collateral, [field]: flipped(bytes, at, 1 + pick(255)) };
          const r = await cmp.same(c.quote, changed, { now }, `${c.name} ${field} @${at}`);
          if (r.error) codes.add(r.error.code);
        }
      }
      // Wrong-length signatures: raw r||s of 63 and 65 bytes, and a DER signature cut short.
      for (const sig of [collateral.tcbInfoSignature.subarray(0, 63), new Uint8Array(65)]) {
        const r = await cmp.same(
          c.quote,
          { ...collateral, qeIdentitySignature: sig },
          { now },
          `${c.name} qeIdentity sig ${sig.length} bytes`,
        );
        // (Cases Intel rejects may stop before the QE Identity signature.)
        if (c.expected.expect.error === null) expect(r.error?.code).toBe("QE_IDENTITY_SIGNATURE_INVALID");
      }
      const cut = {
        ...collateral,
        rootCaCrl: collateral.rootCaCrl.subarray(0, collateral.rootCaCrl.length - 1),
      };
      const r = await cmp.same(c.quote, cut, { now }, `${c.name} root CRL cut`);
      expect(r.ok).toBe(false);
    }
    expect(cmp.compared).toBeGreaterThan(300);
    // The mutations reached the signature checks, not only the parsers.
    for (const code of [
      "QUOTE_SIGNATURE_INVALID",
      "QE_REPORT_SIGNATURE_INVALID",
      "TCB_INFO_SIGNATURE_INVALID",
    ]) {
      expect(codes).toContain(code);
    }
  });
});

describe("verifyAsync equals verify on simulated platforms", () => {
  const now = new Date("2026-11-26T12:00:00Z");

  it.each(SCENARIOS.map((s) => [s] as const))("scenario %s", async (scenario: ScenarioName) => {
    const p = await createSimPlatform({ scenario, now });
    const collateral = await p.collateral({ now });
    const cmp = comparer();
    for (const version of [4, 5] as const) {
      let quote: Uint8Array;
      try {
        quote = p.quote(new Uint8Array(64).fill(0x5a), { version });
      } catch {
        continue; // a version this scenario's QE does not emit (sim-scenarios tests that)
      }
      const anchored = { now, trustAnchors: [p.rootCaPem] };
      const a = json(verifyQuote(quote, collateral, anchored));
      expect(json(await verifyQuoteAsync(quote, collateral, anchored))).toBe(a);
      // Intel's root only: refused the same way.
      expect(json(await verifyQuoteAsync(quote, collateral, { now }))).toBe(
        json(verifyQuote(quote, collateral, { now })),
      );
      const anchors = { trustAnchors: [p.rootCaPem] };
      const sync = new Verifier(anchors).verify(quote, collateral, { now });
      const async = await new Verifier(anchors).verifyAsync(quote, collateral, { now });
      expect(json(async)).toBe(json(sync));
      await cmp.same(quote, collateral, { now }, `${scenario} v${version} (Intel root)`);
    }
  });

  it("an attestation key off the curve fails with the sync path's INVALID_PUBLIC_KEY", async () => {
    const p = await createSimPlatform({ now });
    const collateral = await p.collateral({ now });
    const quote = new Uint8Array(p.quote(new Uint8Array(64), { version: 4 }));
    // Views into `quote`: writing them rewrites the quote.
    const q = parseQuote(quote);
    const qe = q.signatureData.qeReportCertificationData!;
    const key = q.signatureData.attestationKey;
    key[63]! ^= 1; // y + 1: off the curve
    // Bind the bad key in the QE report and re-sign it with the PCK key, so the import is reached.
    qe.qeReportBytes.set(sha256(key, qe.qeAuthData), 320);
    const pckKey = (p as unknown as { keys: { pck: { privateKey: import("node:crypto").KeyObject } } }).keys
      .pck.privateKey;
    qe.qeReportSignature.set(sign("sha256", qe.qeReportBytes, { key: pckKey, dsaEncoding: "ieee-p1363" }));
    const v = { trustAnchors: [p.rootCaPem] };
    const sync = new Verifier(v).verify(quote, collateral, { now });
    const async = await new Verifier(v).verifyAsync(quote, collateral, { now });
    expect(sync.error).toMatchObject({ code: "INVALID_PUBLIC_KEY", field: "attestationKey" });
    expect(sync.checks.at(-1)).toMatchObject({ name: "quote.signature", passed: false });
    expect(json(async)).toBe(json(sync));
  });

  it("a verifyAsync that verified leaves the instance warm; one that failed caches nothing unverified", async () => {
    const p = await createSimPlatform({ now });
    const collateral = await p.collateral({ now });
    const quote = new Uint8Array(p.quote(new Uint8Array(64), { version: 4 }));
    const v = new Verifier({ trustAnchors: [p.rootCaPem] });
    expect(Object.values(v.cacheSizes()).every((n) => n === 0)).toBe(true);
    expect((await v.verifyAsync(quote, collateral, { now })).ok).toBe(true);
    const warm = v.cacheSizes();
    // Remembered as verified: the PCK CA and TCB Signing certificates (by the root), the PCK certificate,
    // the 2 CRLs, the QE report signature and its report data binding; TCB Info and QE Identity with their
    // text. The quote signature is checked on every call.
    expect(warm).toMatchObject({ verifiedSignatures: 7, signedTexts: 2, quoteTails: 1, attestationKeys: 1 });
    expect((await v.verifyAsync(quote, collateral, { now })).ok).toBe(true);
    expect(v.cacheSizes()).toEqual(warm);
    v.clearCaches();
    expect(Object.values(v.cacheSizes()).every((n) => n === 0)).toBe(true);

    // The quote signature fails: everything before it was verified and is remembered, as by verify.
    const bad = flipped(quote, 100, 1);
    const fresh = new Verifier({ trustAnchors: [p.rootCaPem] });
    expect((await fresh.verifyAsync(bad, collateral, { now })).error?.code).toBe("QUOTE_SIGNATURE_INVALID");
    expect(fresh.cacheSizes()).toMatchObject({ verifiedSignatures: 7, signedTexts: 2, quoteTails: 0 });
  });

  it("a quote changed by the caller while verifyAsync runs is judged as it is at the end", async () => {
    const p = await createSimPlatform({ now });
    const collateral = await p.collateral({ now });
    const quote = new Uint8Array(p.quote(new Uint8Array(64), { version: 4 }));
    const v = { trustAnchors: [p.rootCaPem] };
    const pending = new Verifier(v).verifyAsync(quote, collateral, { now });
    // Once the signature jobs are under way (over the old bytes), change the body.
    await new Promise((resolve) => setImmediate(resolve));
    quote[100]! ^= 1;
    const async = await pending;
    expect(async.error?.code).toBe("QUOTE_SIGNATURE_INVALID");
    expect(json(async)).toBe(json(new Verifier(v).verify(quote, collateral, { now })));
  });

  it("bad options and inputs resolve (never reject) with the sync result", async () => {
    const p = await createSimPlatform({ now });
    const collateral = await p.collateral({ now });
    const quote = p.quote(new Uint8Array(64), { version: 4 });
    const inputs: [unknown, unknown, unknown][] = [
      [quote, collateral, { now: Number.NaN }],
      [quote, collateral, undefined],
      [new Uint8Array(10), collateral, { now }],
      [quote, {}, { now }],
      [quote, null, { now }],
      [{ bytes: 5 }, collateral, { now }],
    ];
    for (const [qq, cc, oo] of inputs) {
      const sync = new Verifier().verify(qq as Uint8Array, cc as Collateral, oo as VerifyOptions);
      const async = await new Verifier().verifyAsync(qq as Uint8Array, cc as Collateral, oo as VerifyOptions);
      expect(json(async)).toBe(json(sync));
      expect(sync.ok).toBe(false);
    }
    const badAnchor = { now, trustAnchors: ["not a certificate"] };
    expect(json(await verifyQuoteAsync(quote, collateral, badAnchor))).toBe(
      json(verifyQuote(quote, collateral, badAnchor)),
    );
  });
});
