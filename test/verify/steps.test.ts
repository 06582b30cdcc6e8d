import { beforeAll, describe, expect, it } from "vitest";
import type { QeIdentity, QeTcbLevel } from "../../src/collateral/qe-identity.js";
import { parseTcbInfo, type TcbInfo, type TcbLevel } from "../../src/collateral/tcb-info.js";
import { cryptoBackend } from "../../src/crypto/backend.js";
import { pemToDers } from "../../src/crypto/x509.js";
import { trustAnchorsFor } from "../../src/verify/anchors.js";
import { VerifierCaches } from "../../src/verify/caches.js";
import type { StepContext } from "../../src/verify/context.js";
import { checkCrl } from "../../src/verify/crls.js";
import type { CertEntry } from "../../src/verify/entries.js";
import { pckChainRoles } from "../../src/verify/pck-chain.js";
import { compareQeReport, qeTcbLevel } from "../../src/verify/qe-identity-check.js";
import { checkCollateralShape, quoteBytesOf } from "../../src/verify/quote-checks.js";
import { emptyResult, Run, runToResult, Stop } from "../../src/verify/run.js";
import { syncBackend } from "../../src/verify/signatures.js";
import { tcbSigningChain } from "../../src/verify/signed-collateral.js";
import { checkTcbStatus, matchTcbLevels } from "../../src/verify/tcb-level.js";
import { moduleTcbLevel, seamAttributesMatch, tdxModuleIdentityFor } from "../../src/verify/tdx-module.js";
import { crl, type SimWorld, simWorld } from "../helpers/sim-differential.js";

/**
 * Each step of Intel's algorithm on its own (src/verify/*: the exported step functions), table-driven.
 * The expected values follow the QVL sources named in each step's module.
 */

let w: SimWorld;
let caches: VerifierCaches;
const entry = (pem: string): CertEntry => caches.certEntry(pemToDers(pem)[0]!);
const newCtx = (): StepContext => {
  const c = new VerifierCaches(64, cryptoBackend());
  caches = c;
  const run = new Run(
    Math.floor(w.now.getTime() / 1000),
    syncBackend((src) => c.keyFor(src), cryptoBackend()),
  );
  return { run, caches: c, anchors: trustAnchorsFor([w.p.rootCaPem], cryptoBackend()) };
};
/** The error code a step stops with, or null when it passes. */
const codeOf = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof Stop) return e.error.code;
    throw e;
  }
};

beforeAll(async () => {
  w = await simWorld();
  newCtx();
});

describe("pckChainRoles (CertificateChain.cpp: roles by name, 3 certificates, any order)", () => {
  it.each([
    ["pck, ca, root", [0, 1, 2], true],
    ["root, pck, ca", [2, 0, 1], true],
    ["ca, root, pck", [1, 2, 0], true],
    ["pck, ca", [0, 1], false],
    ["pck, root, root", [0, 2, 2], false],
    ["ca, ca, root (no PCK)", [1, 1, 2], false],
    ["pck, pck, root (no CA)", [0, 0, 2], false],
  ] as const)("%s", (_n, order, ok) => {
    const pems = [w.p.certs.pck.pem, w.p.certs.platformCa.pem, w.p.certs.root.pem];
    const chain = order.map((i) => entry(pems[i]!));
    const roles = pckChainRoles(chain);
    expect(roles !== null).toBe(ok);
    if (roles) {
      expect(roles.pck.cert.der).toEqual(entry(pems[0]!).cert.der);
      expect(roles.intermediate.cert.der).toEqual(entry(pems[1]!).cert.der);
      expect(roles.root.cert.der).toEqual(entry(pems[2]!).cert.der);
    }
  });
});

describe("tcbSigningChain (TCBSigningChain.cpp)", () => {
  it.each([
    ["signer, root", () => [w.p.certs.tcbSigning.pem, w.p.certs.root.pem], null],
    ["root, signer", () => [w.p.certs.root.pem, w.p.certs.tcbSigning.pem], null],
    ["signer only", () => [w.p.certs.tcbSigning.pem], "ISSUER_CHAIN_INVALID"],
    [
      "three certificates",
      () => [w.p.certs.tcbSigning.pem, w.p.certs.root.pem, w.p.certs.platformCa.pem],
      "ISSUER_CHAIN_INVALID",
    ],
    ["Platform CA as signer", () => [w.p.certs.platformCa.pem, w.p.certs.root.pem], "ISSUER_CHAIN_INVALID"],
  ] as const)("%s", async (_n, pems, code) => {
    const ctx = newCtx();
    const rootCrl = caches.crl(w.collateral.rootCaCrl);
    const pckRoot = entry(w.p.certs.root.pem);
    expect(
      codeOf(() => tcbSigningChain(ctx, "tcbInfo.issuerChain", pems().map(entry), rootCrl, pckRoot)),
    ).toBe(code);
  });

  it("a trusted root other than the PCK chain's", async () => {
    const other = await simWorld();
    const ctx = {
      ...newCtx(),
      anchors: trustAnchorsFor([w.p.rootCaPem, other.p.rootCaPem], cryptoBackend()),
    };
    const rootCrl = caches.crl(w.collateral.rootCaCrl);
    const chain = [w.p.certs.tcbSigning.pem, w.p.certs.root.pem].map(entry);
    const otherRoot = entry(other.p.certs.root.pem);
    expect(codeOf(() => tcbSigningChain(ctx, "tcbInfo.issuerChain", chain, rootCrl, otherRoot))).toBe(
      "UNTRUSTED_ROOT",
    );
  });

  it("an untrusted root", async () => {
    const ctx = { ...newCtx(), anchors: trustAnchorsFor(undefined, cryptoBackend()) };
    const rootCrl = caches.crl(w.collateral.rootCaCrl);
    const chain = [w.p.certs.tcbSigning.pem, w.p.certs.root.pem].map(entry);
    expect(codeOf(() => tcbSigningChain(ctx, "tcbInfo.issuerChain", chain, rootCrl, chain[1]!))).toBe(
      "UNTRUSTED_ROOT",
    );
  });
});

describe("checkCrl (PckCrlVerifier.cpp, CrlStore.cpp): failures are fatal, the window is an expiry finding", () => {
  const H = 3600_000;
  it.each([
    ["current", { thisUpdate: -H, nextUpdate: 30 * 24 * H }, null, []],
    ["issued after now", { thisUpdate: H, nextUpdate: 30 * 24 * H }, null, ["pckCrl.thisUpdate"]],
    ["past nextUpdate", { thisUpdate: -48 * H, nextUpdate: -H }, null, ["pckCrl.nextUpdate"]],
  ] as const)("%s", async (_n, t, code, expired) => {
    const der = await crl(w, "platform", {
      thisUpdate: new Date(w.now.getTime() + t.thisUpdate),
      nextUpdate: new Date(w.now.getTime() + t.nextUpdate),
    });
    const ctx = newCtx();
    const issuer = entry(w.p.certs.platformCa.pem);
    expect(codeOf(() => checkCrl(ctx, "pckCrl", { snapshot: w.collateral }, "pckCrl", der, issuer))).toBe(
      code,
    );
    const now = ctx.run.now;
    const out = ctx.run.expiries
      .filter((e) => (e.kind === "from" ? now < e.at : now > e.at))
      .map((e) => e.item);
    expect(out).toEqual(expired);
  });

  it("another issuer", () => {
    const ctx = newCtx();
    const issuer = entry(w.p.certs.platformCa.pem);
    expect(
      codeOf(() =>
        checkCrl(ctx, "pckCrl", { snapshot: w.collateral }, "pckCrl", w.pckCrls.processor, issuer),
      ),
    ).toBe("CRL_UNKNOWN_ISSUER");
  });
});

describe("runToResult (the validity windows judged at now)", () => {
  it.each([
    ["inside every window", 100, [], false],
    ["past an until", 201, ["a"], true],
    ["at an until (Intel: now > until)", 200, [], false],
    ["before a from", 49, ["b"], true],
    ["at a from (Intel: now >= from)", 50, [], false],
  ] as const)("%s", (_n, now, expired, flag) => {
    const r = runToResult(
      now,
      syncBackend(() => {
        throw new Error("no signatures here");
      }, cryptoBackend()),
      (run) => {
        run.expires("a", 200);
        run.validFrom("b", 50);
      },
    );
    expect(r.expiredItems).toEqual(expired);
    expect(r.collateralExpired).toBe(flag);
    expect(r.ok).toBe(true);
  });
});

describe("matchTcbLevels (TcbLevelCheck.cpp matchTcbLevels)", () => {
  const level = (sgx0: number, pce: number, tdx2: number, status = "UpToDate"): TcbLevel => ({
    sgxComponents: [sgx0, ...new Array(15).fill(0)],
    pceSvn: pce,
    tdxComponents: [5, 0, tdx2, ...new Array(13).fill(0)],
    tcbDate: "2024-01-01T00:00:00Z",
    tcbStatus: status,
    advisoryIds: [],
  });
  const levels = [level(3, 13, 3, "A"), level(3, 13, 2, "B"), level(2, 13, 3, "C"), level(2, 5, 0, "D")];
  const pck = (sgx0: number, pce: number) => ({
    sgxTcbComponents: [sgx0, ...new Array(15).fill(0)],
    pceSvn: pce,
  });
  const svn = (s0: number, s1: number, s2: number) => Uint8Array.from([s0, s1, s2, ...new Array(13).fill(0)]);
  it.each([
    ["SGX: the first reached", pck(3, 13), null, "A", null],
    ["SGX: PCESVN below", pck(3, 12), null, "D", null],
    ["SGX: none", pck(1, 13), null, null, null],
    ["TDX: top", pck(3, 13), svn(6, 1, 3), "A", "A"],
    ["TDX: microcode 2 -> next level, SGX level stays the first", pck(3, 13), svn(6, 1, 2), "A", "B"],
    ["TDX: byte 0 skipped when [1] > 0", pck(3, 13), svn(0, 1, 3), "A", "A"],
    ["TDX: byte 0 compared when [1] = 0", pck(3, 13), svn(4, 0, 3), "A", null],
    ["TDX: microcode 0 -> only D", pck(3, 13), svn(6, 1, 0), "A", "D"],
  ] as const)("%s", (_n, p, tee, sgx, tdx) => {
    const r = matchTcbLevels(levels, p, tee);
    expect([r.sgxLevel?.tcbStatus ?? null, r.tdxLevel?.tcbStatus ?? null]).toEqual([sgx, tdx]);
  });
});

describe("checkTcbStatus (checkTcbLevel with Intel's merge tables)", () => {
  let info: TcbInfo;
  beforeAll(() => {
    info = parseTcbInfo(w.collateral.tcbInfo);
  });
  const tdxQuote = (s0: number) => ({
    teeType: "TDX" as const,
    quoteVersion: 4,
    bodyType: 2,
    teeTcbSvn: Uint8Array.from([s0, 1, 3, ...new Array(13).fill(0)]),
    teeTcbSvn2: null,
  });
  const pck = { sgxTcbComponents: [3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], pceSvn: 13, cpuSvn: "" };
  it.each([
    ["all current", 6, "UpToDate", "UpToDate", null],
    ["module SVN 4 (OutOfDate)", 4, "UpToDate", "OutOfDate", null],
    ["QE OutOfDate", 6, "OutOfDate", "OutOfDate", null],
    ["QE Revoked", 6, "Revoked", "Revoked", "TCB_REVOKED"],
    ["QE not supported", 6, "NotSupported", null, "QE_TCB_LEVEL_NOT_FOUND"],
    ["module SVN 1 (no level)", 1, "UpToDate", null, "TDX_MODULE_TCB_LEVEL_NOT_FOUND"],
  ] as const)("%s", (_n, s0, qe, final, code) => {
    const run = newCtx().run;
    const result = emptyResult(run.now, run.checks);
    const got = codeOf(() =>
      checkTcbStatus(run, tdxQuote(s0), pck, info, info.tdxModuleIdentities![1]!, qe, result),
    );
    expect([result.tcbStatus, got]).toEqual([final, code]);
  });
});

describe("TDX module identity and level (QuoteVerifier.cpp 4.1.2.4.11, TdxModuleCheck.cpp)", () => {
  let info: TcbInfo;
  beforeAll(() => {
    info = parseTcbInfo(w.collateral.tcbInfo);
  });
  const q = (v: number, s0: number, s1: number) => ({
    quoteVersion: v,
    teeTcbSvn: Uint8Array.from([s0, s1, 3, 0]),
  });
  it.each([
    ["v4, major 1", q(4, 6, 1), "TDX_01", { kind: "level", isvSvn: 6 }],
    ["v4, major 3", q(4, 6, 3), "TDX_03", { kind: "level", isvSvn: 3 }],
    ["v4, major 0", q(4, 6, 0), "tdxModule", { kind: "notChecked" }],
    ["v4, major 2", q(4, 6, 2), null, { kind: "missing" }],
    ["v4, major 1, SVN 3", q(4, 3, 1), "TDX_01", { kind: "level", isvSvn: 2 }],
    ["v4, major 1, SVN 1", q(4, 1, 1), "TDX_01", { kind: "noLevel" }],
    ["v3, major 0: checked (only v4+ skips)", q(3, 6, 0), "tdxModule", { kind: "missing" }],
  ] as const)("%s", (_n, quote, identity, level) => {
    const found = tdxModuleIdentityFor(info, quote);
    expect("missing" in found ? null : found.name).toBe(identity);
    const m = moduleTcbLevel(info, quote);
    expect(m.kind).toBe(level.kind);
    if (m.kind === "level" && "isvSvn" in level) expect(m.level.isvSvn).toBe(level.isvSvn);
  });

  it.each([
    [[0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], true],
    [[1, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0], false],
    [[0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 2], false],
  ])("SEAMATTRIBUTES %j vs %j: %s", (seam, expected, ok) => {
    expect(seamAttributesMatch(Uint8Array.from(seam), Uint8Array.from(expected))).toBe(ok);
  });
});

describe("the QE report against its identity (EnclaveReportVerifier.cpp)", () => {
  const identity = (over: Partial<QeIdentity> = {}): QeIdentity => ({
    id: "TD_QE",
    version: 2,
    issueDate: 0,
    nextUpdate: 0,
    issueDateText: "",
    nextUpdateText: "",
    tcbEvaluationDataNumber: 0,
    miscselect: new Uint8Array(4),
    miscselectMask: new Uint8Array(4).fill(0xff),
    attributes: Uint8Array.from([0x11, ...new Array(15).fill(0)]),
    attributesMask: Uint8Array.from([0xfb, ...new Array(7).fill(0xff), ...new Array(8).fill(0)]),
    mrSigner: new Uint8Array(32).fill(0xaa),
    isvProdId: 2,
    tcbLevels: [],
    ...over,
  });
  const report = (edit: (r: Uint8Array) => void = () => {}) => {
    const r = new Uint8Array(384);
    r[48] = 0x15;
    r.fill(0xaa, 128, 160);
    r[256] = 2;
    edit(r);
    return r;
  };
  it.each([
    ["Intel's QE", report(), []],
    ["MISCSELECT bit", report((r) => (r[16] = 1)), ["miscselect"]],
    ["DEBUG attribute", report((r) => (r[48] = 0x17)), ["attributes"]],
    ["masked-out attribute bit", report((r) => (r[48] = 0x15 | 0x04)), []],
    ["XFRM bits (mask 0)", report((r) => (r[56] = 0xe7)), []],
    ["another MRSIGNER", report((r) => (r[128] = 0)), ["mrSigner"]],
    ["ISVPRODID 1", report((r) => (r[256] = 1)), ["isvProdId"]],
  ] as const)("%s", (_n, r, mismatches) => {
    expect(
      compareQeReport(identity(), r)
        .filter((c) => !c.equal)
        .map((c) => c.field),
    ).toEqual(mismatches);
  });

  const lv = (isvSvn: number, tcbStatus: QeTcbLevel["tcbStatus"]): QeTcbLevel => ({
    isvSvn,
    tcbDate: "2024-01-01T00:00:00Z",
    tcbStatus,
    advisoryIds: [],
  });
  it.each([
    [
      "first at or below, JSON order",
      [lv(8, "UpToDate"), lv(4, "OutOfDate"), lv(6, "Revoked")],
      7,
      "OutOfDate",
    ],
    ["not sorted: the first that fits wins", [lv(2, "Revoked"), lv(6, "UpToDate")], 7, "Revoked"],
    ["none", [lv(8, "UpToDate")], 7, null],
  ] as const)("qeTcbLevel: %s", (_n, levels, isvSvn, status) => {
    expect(qeTcbLevel([...levels], isvSvn)?.tcbStatus ?? null).toBe(status);
  });
});

describe("step 1 helpers", () => {
  it.each([
    ["bytes", new Uint8Array(3), 3],
    ["a parsed quote's bytes", { bytes: new Uint8Array(5) }, 5],
    ["a string", "quote", null],
    ["null", null, null],
  ] as const)("quoteBytesOf(%s)", (_n, input, len) => {
    expect(quoteBytesOf(input)?.length ?? null).toBe(len);
  });

  it.each([
    ["complete", () => w.collateral, null],
    [
      "without the optional chains",
      () => ({ ...w.collateral, pckCrlIssuerChain: undefined, qeIdentityIssuerChain: undefined }),
      null,
    ],
    [
      "a chain that is not text",
      () => ({ ...w.collateral, qeIdentityIssuerChain: 5 }),
      "COLLATERAL_MALFORMED",
    ],
    ["no TCB Info", () => ({ ...w.collateral, tcbInfo: undefined }), "COLLATERAL_MALFORMED"],
    ["a CRL as hex text", () => ({ ...w.collateral, pckCrl: "00" }), "COLLATERAL_MALFORMED"],
  ] as const)("checkCollateralShape: %s", (_n, c, code) => {
    const run = newCtx().run;
    expect(codeOf(() => checkCollateralShape(run, c() as never))).toBe(code);
  });
});
