import { describe, expect, it } from "vitest";
import {
  appraiseEvidence,
  PolicyCache,
  parseTdxEvidence,
  TdxEvidenceVerifier,
} from "../../src/attest/index.js";
import { PcsCollateralProvider } from "../../src/collateral/index.js";
import { DEFAULT_POLICY, readPolicy } from "../../src/policy/index.js";
import { createSimPlatform, SimCollateralProvider } from "../../src/sim/index.js";
import { rejectionOf } from "../helpers/errors.js";

describe("the evidence pipeline (src/attest)", async () => {
  const platform = await createSimPlatform();
  const verifier = new TdxEvidenceVerifier(new SimCollateralProvider(platform), {
    trustAnchors: [platform.rootCaPem],
  });

  it("parses once, verifies, and hands on the verifier's typed result", async () => {
    const quote = platform.quote(new Uint8Array(64).fill(1));
    const attested = await verifier.verify({ tee: "tdx", quote }, new Date());
    expect(attested.result.ok).toBe(true);
    expect(attested.result.tcbStatus).toBe("UpToDate");
    expect(attested.eventLog).toBeNull();
    const appraisal = appraiseEvidence(attested, DEFAULT_POLICY, new Date());
    expect(appraisal.allowed).toBe(true);
  });

  it("names the evidence by the bytes it verified: trailing bytes change neither the hash nor the verdict", async () => {
    const quote = platform.quote(new Uint8Array(64).fill(2));
    const padded = new Uint8Array(quote.length + 3065);
    padded.set(quote);
    padded.fill(0xaa, quote.length);
    const a = await verifier.verify({ tee: "tdx", quote }, new Date());
    const b = await verifier.verify({ tee: "tdx", quote: padded }, new Date());
    expect(b.result.ok).toBe(true);
    expect(b.trailingBytes).toBe(3065);
    expect(b.verifiedLength).toBe(quote.length);
    expect(b.evidenceSha256).toBe(a.evidenceSha256);
    expect(parseTdxEvidence({ tee: "tdx", quote }).evidenceSha256).toBe(a.evidenceSha256);
  });

  it("says when the collateral source fails (the relying party's problem, not the TD's)", async () => {
    const offline = new TdxEvidenceVerifier(
      new PcsCollateralProvider({
        urls: ["http://127.0.0.1:9/"],
        timeoutMs: 500,
        trustAnchors: [platform.rootCaPem],
      }),
      { trustAnchors: [platform.rootCaPem] },
    );
    const e = await rejectionOf(
      offline.verify({ tee: "tdx", quote: platform.quote(new Uint8Array(64)) }, new Date()),
    );
    expect(e.code).toBe("ATTEST_COLLATERAL_UNAVAILABLE");
  });

  it("parses a policy once per version, and again when it changes", () => {
    let parses = 0;
    const cache = new PolicyCache((text) => {
      parses++;
      return readPolicy(text);
    });
    const text = JSON.stringify({ acceptedTcbStatuses: ["UpToDate"] });
    for (let i = 0; i < 5; i++) cache.get("default", 1, text);
    expect(parses).toBe(1);
    cache.get("default", 2, JSON.stringify({ acceptedTcbStatuses: ["UpToDate", "OutOfDate"] }));
    expect(parses).toBe(2);
  });
});
