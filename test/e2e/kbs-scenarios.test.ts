import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TdxEvidenceVerifier } from "../../src/attest/index.js";
import { isTdxError } from "../../src/errors.js";
import { KbsClient } from "../../src/kbs/client.js";
import { KeyEncryptionKey } from "../../src/kbs/kek.js";
import { KbsService } from "../../src/kbs/service.js";
import { type KbsStore, openStore } from "../../src/kbs/store/index.js";
import { buildKbsApp } from "../../src/server/kbs-app.js";
import { SimCollateralProvider } from "../../src/sim/collateral-provider.js";
import { createSimPlatform, expectationFor, SCENARIOS, type ScenarioName } from "../../src/sim/index.js";

/**
 * Every simulated platform state through the broker with the default policies: only an up-to-date
 * platform with current collateral gets the key; the others are refused with the reason Intel's
 * verdict gives (verification failure) or the default attestation policy gives (TCB status, expiry).
 */
describe("the default policies against every simulated platform scenario", () => {
  let dir: string;
  let store: KbsStore;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kbs-scen-"));
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(SCENARIOS.map((s) => [s]))("%s", async (scenario: ScenarioName) => {
    const platform = await createSimPlatform({ scenario });
    store = await openStore(join(dir, `${scenario}.db`));
    const verifier = new TdxEvidenceVerifier(new SimCollateralProvider(platform), {
      trustAnchors: [platform.rootCaPem],
    });
    const service = await KbsService.create({
      store,
      kek: new KeyEncryptionKey(new Uint8Array(32).fill(9)),
      verifier,
    });
    await service.putResource("default/disk/key", new TextEncoder().encode("k"));
    const { app } = await buildKbsApp({ service });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const a = app.server.address();
    const url = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
    try {
      const expected = expectationFor(scenario);
      let code = "OK";
      let denials: { rule: string }[] = [];
      try {
        await new KbsClient({ url }).getResource("default/disk/key", {
          getQuote: async (rd) => ({ quote: platform.quote(rd) }),
        });
      } catch (e) {
        if (!isTdxError(e)) throw e;
        code = e.code;
        denials = (e.data?.denials as { rule: string }[] | undefined) ?? [];
      }
      // A revoked TCB level is Intel's terminal verdict: the verifier refuses, before any policy.
      if (expected.error !== null || expected.tcbStatus === "Revoked") {
        expect(code).toBe("KBS_EVIDENCE_REJECTED");
      } else if (expected.tcbStatus === "UpToDate" && !expected.collateralExpired) {
        expect(code).toBe("OK");
      } else {
        expect(code).toBe("KBS_ATTESTATION_POLICY_DENIED");
        const rules = denials.map((d) => d.rule);
        if (expected.collateralExpired) expect(rules.join(" ")).toMatch(/collateral|Expired/i);
        if (expected.tcbStatus !== "UpToDate") expect(rules).toContain("acceptedTcbStatuses");
      }
    } finally {
      await app.close();
      await store.close();
    }
  });
});
