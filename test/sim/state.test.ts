import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseQuote } from "../../src/abi/index.js";
import { initSimPlatform, loadSimPlatform, type SimPlatform } from "../../src/sim/index.js";

let dir: string;
let created: SimPlatform;
beforeAll(async () => {
  dir = join(mkdtempSync(join(tmpdir(), "sim-state-")), "platform");
  created = await initSimPlatform(dir, { scenario: "out-of-date" });
});

describe("state directory", () => {
  it("holds PKCS#8 keys with mode 0600, certificates, the TD and root-ca.pem", () => {
    const files = readdirSync(dir).sort();
    expect(files).toEqual(
      [
        "attestation.key",
        "pck.key",
        "pck.pem",
        "platform-ca.key",
        "platform-ca.pem",
        "platform-secret.bin",
        "platform.json",
        "processor-ca.key",
        "processor-ca.pem",
        "root-ca.key",
        "root-ca.pem",
        "tcb-signing.key",
        "tcb-signing.pem",
        "td.json",
      ].sort(),
    );
    for (const f of files.filter((x) => x.endsWith(".key") || x.endsWith(".bin"))) {
      expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    }
    expect(readFileSync(join(dir, "pck.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(readFileSync(join(dir, "root-ca.pem"), "utf8")).toBe(created.rootCaPem);
    expect(files.some((f) => f.includes(".tmp"))).toBe(false);
  });

  it("a loaded platform keeps its identity: same root, PCK, attestation key, MAC key", async () => {
    const loaded = await loadSimPlatform(dir);
    expect(loaded.scenario).toBe("out-of-date");
    expect(loaded.rootCaPem).toBe(created.rootCaPem);
    expect(loaded.pckCertChainPem).toBe(created.pckCertChainPem);
    // A report taken by the first instance is accepted by the reloaded QE (same platform secret).
    const q = parseQuote(loaded.quoteFromTdReport(created.report(new Uint8Array(64))));
    const q0 = parseQuote(created.quote(new Uint8Array(64)));
    expect(q.signatureData.attestationKey).toEqual(q0.signatureData.attestationKey);
    expect(q.header.userData).toEqual(q0.header.userData);
  });

  it("RTMR extends persist across loads", async () => {
    const a = await loadSimPlatform(dir);
    const d = new Uint8Array(createHash("sha384").update("x").digest());
    const v = a.extendRtmr(1, d);
    const b = await loadSimPlatform(dir);
    expect(b.tdState.rtmr[1]).toEqual(v);
  });

  it("refuses to overwrite an existing platform and reports a missing one", async () => {
    await expect(initSimPlatform(dir)).rejects.toMatchObject({ code: "SIM_STATE_EXISTS" });
    await expect(loadSimPlatform(join(dir, "nope"))).rejects.toMatchObject({ code: "SIM_STATE_MISSING" });
  });

  it("reports a damaged state directory as SIM_STATE_INVALID", async () => {
    const bad = join(mkdtempSync(join(tmpdir(), "sim-bad-")), "p");
    await initSimPlatform(bad);
    writeFileSync(join(bad, "pck.key"), "not a key");
    await expect(loadSimPlatform(bad)).rejects.toMatchObject({ code: "SIM_KEY_INVALID" });
    writeFileSync(join(bad, "platform.json"), "{");
    await expect(loadSimPlatform(bad)).rejects.toMatchObject({ code: "SIM_STATE_INVALID" });
    expect(existsSync(join(bad, "root-ca.pem"))).toBe(true);
  });

  it("refuses unknown scenarios and impossible combinations", async () => {
    const d = join(mkdtempSync(join(tmpdir(), "sim-x-")), "p");
    await expect(initSimPlatform(d, { scenario: "nope" })).rejects.toMatchObject({
      code: "SIM_UNKNOWN_SCENARIO",
    });
    await expect(
      initSimPlatform(d, { scenario: "tdx-module-out-of-date", tdxModule: "1.0" }),
    ).rejects.toMatchObject({
      code: "SIM_SCENARIO_NEEDS_TDX15",
    });
    expect(existsSync(d)).toBe(false);
  });
});
