import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAzTdxVtpmEvidence, serializeAzTdxVtpmEvidence } from "../../src/abi/index.js";
import { createSimAzureParavisor } from "../../src/sim/index.js";
import { AZ_SKIP_REASON, azVectors } from "../helpers/az-vectors.js";
import { runCli, runCliInProcess } from "../helpers/cli.js";

const az = azVectors();

describe.skipIf(!az)(
  `tdx-attest verify --tee az-tdx-vtpm on the real Azure capture (${AZ_SKIP_REASON})`,
  () => {
    let dir: string;
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "verify-az-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const base = () => [
      "--tee",
      "az-tdx-vtpm",
      "--collateral",
      file("collateral.json", az!.collateralText),
      "--at",
      String(az!.at),
      "--json",
    ];

    it.each(["evidenceV0", "evidenceV1"] as const)(
      "%s: verified, refused by the default policy (OutOfDate): exit 1",
      async (v) => {
        const r = await runCliInProcess([
          "verify",
          file(`${v}.json`, az![v]),
          ...base(),
          "--nonce",
          "challenge",
        ]);
        expect(r.code).toBe(1);
        const j = JSON.parse(r.out);
        expect(j).toMatchObject({
          ok: false,
          verified: true,
          tcbStatus: "OutOfDate",
          error: null,
          tee: "az-tdx-vtpm",
          evidenceVersion: v === "evidenceV0" ? 0 : 1,
          nonce: "6368616c6c656e6765",
        });
        expect(Object.keys(j.pcrs)).toHaveLength(24);
        expect(j.pcrs.pcr00).toBe("782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273");
        expect(j.checks.every((c: { passed: boolean; nonFatal?: boolean }) => c.passed || c.nonFatal)).toBe(
          true,
        );
        expect(j.checks.map((c: { name: string }) => c.name)).toContain("tpm.pcrDigest");
        expect(j.policy.denials[0].rule).toBe("acceptedTcbStatuses");
      },
    );

    it("a policy that accepts OutOfDate: exit 0; --nonce-hex works as --nonce", async () => {
      const policy = file(
        "policy.json",
        JSON.stringify({ version: 1, acceptedTcbStatuses: ["UpToDate", "OutOfDate"] }),
      );
      const r = await runCliInProcess([
        "verify",
        file("ev.json", az!.evidenceV1),
        ...base(),
        "--nonce-hex",
        "6368616c6c656e6765",
        "--policy",
        policy,
      ]);
      expect([r.code, JSON.parse(r.out).ok]).toEqual([0, true]);
    });

    it("invalid evidence: exit 2 with the check's code", async () => {
      const ev = parseAzTdxVtpmEvidence(az!.evidenceV1);
      ev.hclReport[0x880]! += 1;
      const bad = file("bad.json", serializeAzTdxVtpmEvidence(ev));
      const cases: [string[], string][] = [
        [[file("ev.json", az!.evidenceV1), ...base(), "--nonce", "wrong"], "AZ_NONCE_MISMATCH"],
        [[file("ev.json", az!.evidenceV1), ...base()], "AZ_NONCE_MISSING"],
        [[bad, ...base(), "--nonce", "challenge"], "AZ_VAR_DATA_HASH_MISMATCH"],
        [[file("junk.json", '{"version":9}'), ...base(), "--nonce", "x"], "AZ_EVIDENCE_VERSION_UNSUPPORTED"],
      ];
      for (const [args, code] of cases) {
        const r = await runCliInProcess(["verify", ...args]);
        const j = JSON.parse(r.out);
        expect([r.code, j.ok, j.error.code]).toEqual([2, false, code]);
        expect(j.error.hint).toBeTruthy();
      }
    });

    it("human output: the verdict, the checks, the PCRs", () => {
      const r = runCli([
        "verify",
        file("ev.json", az!.evidenceV1),
        ...base().slice(0, -1),
        "--nonce",
        "challenge",
      ]);
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/^REFUSED: TCB OutOfDate/);
      expect(r.stdout).toContain("ok   tpm.nonce");
      expect(r.stdout).toContain("PCRs (covered by the verified TPM quote):");
      expect(r.stdout).toContain("  pcr11 " + "0".repeat(64));
    });

    it("usage errors: an unknown --tee, a nonce for a plain quote, both nonce flags", async () => {
      const ev = file("ev.json", az!.evidenceV1);
      for (const args of [
        ["--tee", "sev", "--collateral", "x"],
        ["--nonce", "n", "--collateral", "x"],
        [
          "--tee",
          "az-tdx-vtpm",
          "--nonce",
          "a",
          "--nonce-hex",
          "00",
          "--collateral",
          file("c.json", az!.collateralText),
        ],
        ["--tee", "az-tdx-vtpm", "--nonce-hex", "0g", "--collateral", file("c.json", az!.collateralText)],
      ]) {
        const r = await runCliInProcess(["verify", ev, ...args]);
        expect([args.join(" "), r.code]).toEqual([args.join(" "), 2]);
        expect(r.err).toMatch(/USAGE/);
      }
    });

    it("decode shows the three parts of the evidence", () => {
      const r = runCli(["decode", "--json", file("ev.json", az!.evidenceV1)]);
      expect(r.status).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({ encoding: "json", kind: "az-tdx-vtpm", version: 1 });
      expect(j.hcl_report.request_data.report_type_name).toBe("TDX");
      expect(j.td_quote.header.version).toBe(4);
      expect(j.tpm_quote.message.extra_data_text).toBe("challenge");
      const h = runCli(["decode", join(az!.dir, "hcl-report.bin")]);
      expect(h.stdout).toMatch(/^Azure HCL report, 2600 bytes, binary input/);
      expect(h.stdout).toContain("kid: HCLAkPub");
    });
  },
);

describe("tdx-attest verify --tee az-tdx-vtpm on simulated evidence", () => {
  it("is trusted with --trust-root of the simulator only", async () => {
    const pv = await createSimAzureParavisor();
    const dir = mkdtempSync(join(tmpdir(), "verify-az-sim-"));
    try {
      const ev = join(dir, "ev.json");
      writeFileSync(ev, pv.evidenceJson({ nonce: "sim nonce" }));
      const coll = join(dir, "coll.json");
      writeFileSync(coll, await pv.platform.collateralJson());
      const root = join(dir, "root.pem");
      writeFileSync(root, pv.rootCaPem);
      const args = [
        "verify",
        ev,
        "--tee",
        "az-tdx-vtpm",
        "--collateral",
        coll,
        "--nonce",
        "sim nonce",
        "--json",
      ];
      const ok = await runCliInProcess([...args, "--trust-root", root]);
      expect([ok.code, JSON.parse(ok.out).tcbStatus, JSON.parse(ok.out).evidenceVersion]).toEqual([
        0,
        "UpToDate",
        2,
      ]);
      const untrusted = await runCliInProcess(args);
      expect([untrusted.code, JSON.parse(untrusted.out).error.code]).toEqual([2, "UNTRUSTED_ROOT"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
