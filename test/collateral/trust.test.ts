import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Artifact } from "../../src/collateral/cache.js";
import { CollateralCache, CollateralTrust } from "../../src/collateral/index.js";
import { INTEL_SGX_ROOT_CA_PEM as COLLATERAL_COPY } from "../../src/collateral/trust.js";
import { TdxError } from "../../src/errors.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { INTEL_SGX_ROOT_CA_PEM } from "../../src/verify/index.js";

function code(f: () => void): string {
  try {
    f();
  } catch (e) {
    return e instanceof TdxError ? e.code : `not a TdxError: ${String(e)}`;
  }
  return "accepted";
}

describe("the collateral fetcher's trust gate", () => {
  let sim: SimPlatform;
  let other: SimPlatform;
  let artifacts: Record<string, Artifact>;
  const dirs: string[] = [];

  beforeAll(async () => {
    sim = await createSimPlatform();
    other = await createSimPlatform();
    const b = await sim.collateralBundle();
    const hex = (d: Uint8Array) => Buffer.from(d).toString("hex");
    const base = { fetchedAt: 0, nextUpdate: b.nextUpdate.getTime(), source: "test" };
    artifacts = {
      tcb: {
        ...base,
        key: `tdx/tcb/${b.fmspc}/standard`,
        kind: "tcbInfo",
        body: b.tcbInfoResponse,
        issuerChain: b.tcbInfoIssuerChain,
      },
      qe: {
        ...base,
        key: "tdx/qe-identity/standard",
        kind: "qeIdentity",
        body: b.qeIdentityResponse,
        issuerChain: b.qeIdentityIssuerChain,
      },
      pckCrl: {
        ...base,
        key: "pckcrl/platform",
        kind: "pckCrl",
        body: hex(b.pckCrl.platform),
        issuerChain: b.pckCrlIssuerChain.platform,
      },
      rootCrl: { ...base, key: "rootcacrl", kind: "rootCaCrl", body: hex(b.rootCaCrl), issuerChain: null },
    };
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("holds the same Intel root as the verifier", () => {
    expect(COLLATERAL_COPY).toBe(INTEL_SGX_ROOT_CA_PEM);
  });

  it("accepts the genuine artifacts under their root and refuses them under Intel's", () => {
    const trust = new CollateralTrust([sim.rootCaPem]);
    for (const a of Object.values(artifacts)) expect(code(() => trust.checkArtifact(a))).toBe("accepted");
    const intel = new CollateralTrust();
    for (const a of Object.values(artifacts))
      expect(code(() => intel.checkArtifact(a))).toBe("COLLATERAL_REJECTED");
  });

  it("refuses a broken signature, another platform's FMSPC, another TEE, a chain of another PKI", async () => {
    const trust = new CollateralTrust([sim.rootCaPem]);
    const tcb = artifacts.tcb!;
    const flipped = tcb.body.replace(
      /"signature":"(.)/,
      (_m, c: string) => `"signature":"${c === "0" ? "1" : "0"}`,
    );
    expect(code(() => trust.checkArtifact({ ...tcb, body: flipped }))).toBe("COLLATERAL_REJECTED");
    expect(code(() => trust.checkArtifact({ ...tcb, key: "tdx/tcb/00806F050000/standard" }))).toBe(
      "COLLATERAL_REJECTED",
    );
    expect(code(() => trust.checkArtifact({ ...tcb, key: tcb.key.replace("tdx/", "sgx/") }))).toBe(
      "COLLATERAL_REJECTED",
    );
    const foreign = await other.collateralBundle();
    expect(
      code(() =>
        trust.checkArtifact({
          ...tcb,
          body: foreign.tcbInfoResponse,
          issuerChain: foreign.tcbInfoIssuerChain,
        }),
      ),
    ).toBe("COLLATERAL_REJECTED");
    // A genuine body with the chain swapped: the signer does not match.
    expect(code(() => trust.checkArtifact({ ...tcb, issuerChain: foreign.tcbInfoIssuerChain }))).toBe(
      "COLLATERAL_REJECTED",
    );
    const hex = Buffer.from(foreign.rootCaCrl).toString("hex");
    expect(code(() => trust.checkArtifact({ ...artifacts.rootCrl!, body: hex }))).toBe("COLLATERAL_REJECTED");
    const pck = Buffer.from(foreign.pckCrl.platform).toString("hex");
    expect(code(() => trust.checkArtifact({ ...artifacts.pckCrl!, body: pck }))).toBe("COLLATERAL_REJECTED");
  });

  it("checks the PCK chain of a quote before anything is fetched for it", () => {
    const trust = new CollateralTrust([sim.rootCaPem]);
    const chainOf = (p: SimPlatform) => [p.certs.pck.pem, p.certs.platformCa.pem, p.certs.root.pem];
    expect(code(() => trust.checkPckChain(chainOf(sim)))).toBe("accepted");
    expect(code(() => trust.checkPckChain(chainOf(other)))).toBe("QUOTE_PCK_CHAIN_UNTRUSTED");
    // The right root, a CA it did not sign.
    expect(
      code(() => trust.checkPckChain([other.certs.pck.pem, other.certs.platformCa.pem, sim.certs.root.pem])),
    ).toBe("QUOTE_PCK_CHAIN_UNTRUSTED");
    expect(code(() => trust.checkPckChain([sim.certs.pck.pem, sim.certs.root.pem]))).toBe(
      "QUOTE_PCK_CHAIN_UNTRUSTED",
    );
  });

  it("ignores a cache file that does not verify, and says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trust-cache-"));
    dirs.push(dir);
    const trust = new CollateralTrust([sim.rootCaPem]);
    const tcb = artifacts.tcb!;
    const bad = {
      ...tcb,
      body: tcb.body.replace(/"signature":"(.)/, (_m, c: string) => `"signature":"${c === "0" ? "1" : "0"}`),
    };
    writeFileSync(join(dir, CollateralCache.fileName(tcb.key)), JSON.stringify(bad));
    const warnings: string[] = [];
    const cache = new CollateralCache({
      dir,
      validate: (a) => trust.checkArtifact(a),
      onWarning: (w) => warnings.push(w),
    });
    let fetched = 0;
    const got = await cache.get(
      tcb.key,
      async () => {
        fetched++;
        return tcb;
      },
      Date.now(),
    );
    expect(got.body).toBe(tcb.body);
    expect(fetched).toBe(1);
    expect(cache.stats().rejected).toBe(1);
    expect(warnings[0]).toMatch(/ignoring the cached .* signature/);
  });
});
