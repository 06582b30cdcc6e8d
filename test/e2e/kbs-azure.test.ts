import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AzTdxVtpmEvidence,
  parseAzTdxVtpmEvidence,
  serializeAzTdxVtpmEvidence,
} from "../../src/abi/index.js";
import { azTdxVtpmEvidenceSha256 } from "../../src/attest/index.js";
import { runtimeDataDigest } from "../../src/kbs/az-tdx-vtpm.js";
import { expectedReportData } from "../../src/kbs/binding.js";
import {
  attestationMessage,
  azAttestationMessage,
  generateTeeKeyPair,
  KbsClient,
} from "../../src/kbs/index.js";
import { loadSimAzureParavisor, type SimAzureParavisor } from "../../src/sim/index.js";
import { runCli } from "../helpers/cli.js";
import { rejectionOf } from "../helpers/errors.js";
import { startTestPostgres, type TestPostgres } from "../kbs/postgres.js";
import { type SpawnedBroker, spawnBroker } from "../kbs/spawn-broker.js";
import { startSimBroker } from "./sim-broker.js";

/**
 * The key broker and an Azure TDX confidential VM (`sim init --platform azure`): get-resource sends az-tdx-vtpm
 * evidence (tee az-tdx-vtpm, the raw runtime-data digest as the vTPM quote's nonce), the broker verifies the whole
 * chain (TD quote, HCL report, AK, TPM quote, nonce, PCRs), puts the PCRs and the TD's measurements in the token,
 * and resource policies match PCRs. Over real HTTP, on SQLite and PostgreSQL.
 */

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.trim().split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
const annotated = (claims: Record<string, unknown>) =>
  (claims.submods as Record<string, Record<string, Record<string, unknown>>>).cpu0![
    "ear.veraison.annotated-evidence"
  ]!;
const noAdminEnv = { TDX_ATTEST_KBS_ADMIN_TOKEN: "", TDX_ATTEST_KBS_KEK: "" };

describe.each(["sqlite", "postgres"] as const)(
  "tdx-attest serve + get-resource on a simulated Azure TD (%s)",
  (backend) => {
    let dir: string;
    let az: string;
    let pg: TestPostgres | undefined;
    let broker: SpawnedBroker;
    let pcr07: string;
    let mrTd: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "kbs-azure-cli-"));
      az = join(dir, "az");
      expect(runCli(["sim", "init", "--state", az, "--platform", "azure"]).status).toBe(0);
      const status = JSON.parse(runCli(["status", "--sim-state", az, "--json"]).stdout);
      pcr07 = status.pcrs.pcr07;
      mrTd = status.measurements.mrTd;
      expect(pcr07).toMatch(/^[0-9a-f]{64}$/);
      if (backend === "postgres") pg = await startTestPostgres();
      broker = await spawnBroker(
        ["--data", join(dir, "data"), "--sim-dir", az, ...(pg ? ["--db", pg.url] : [])],
        noAdminEnv,
      );
    }, 120_000);
    afterAll(async () => {
      await broker?.stop("SIGKILL");
      await pg?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const admin = (args: string[]) =>
      runCli(
        ["kbs", ...args, "--kbs", broker.url, "--admin-token-file", join(dir, "data", "admin-token")],
        undefined,
        noAdminEnv,
      );
    const getResource = (path: string, extra: string[] = []) =>
      runCli(["get-resource", path, "--kbs", broker.url, "--provider", "sim", "--sim-dir", az, ...extra]);

    it("releases the demo disk key to the Azure TD, with its PCRs and measurements in the token", () => {
      const tok = join(dir, "token.jwt");
      const r = getResource("default/disk/key", ["--token-out", tok]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^[0-9a-f]{64}$/);
      expect(admin(["secret", "get", "default/disk/key"]).stdout).toBe(r.stdout);
      const claims = claimsOf(readFileSync(tok, "utf8"));
      const ae = annotated(claims);
      const azc = ae["az-tdx-vtpm"] as { tpm: Record<string, string>; evidence_version: number };
      expect(azc.evidence_version).toBe(2);
      expect(Object.keys(azc.tpm)).toEqual(
        Array.from({ length: 24 }, (_, i) => `pcr${String(i).padStart(2, "0")}`),
      );
      expect(azc.tpm.pcr07).toBe(pcr07);
      // The TD's measurements as for a bare TD; report_data is the raw SHA-384 runtime-data digest (the TPM nonce).
      const tdx = ae.tdx as { quote: { body: Record<string, string> }; tcb_status: string };
      expect(tdx.quote.body.mr_td).toBe(mrTd);
      expect(tdx.tcb_status).toBe("UpToDate");
      expect(ae.report_data).toMatch(/^[0-9a-f]{96}$/);
      expect(ae.runtime_data_hash_algorithm).toBe("sha384");
      // No init-data: init_data is PCR 8 (zero, nothing bound), as Trustee reports it for az-tdx-vtpm.
      expect(ae.init_data).toBe(azc.tpm.pcr08);
      expect(claims.tdx_mrtd).toBe(mrTd);
    });

    it("a resource policy on a PCR releases to the TD whose PCR matches and refuses another value", () => {
      const allow = join(dir, "pcr-allow.json");
      writeFileSync(
        allow,
        JSON.stringify({
          rules: [
            { name: "attested", claim: "ear_status", in: ["affirming"] },
            { name: "secure-boot-policy", claim: "pcrs/pcr07", equals: pcr07 },
            { name: "golden-image", claim: "mr_td", in: [mrTd] },
          ],
        }),
      );
      const deny = join(dir, "pcr-deny.json");
      writeFileSync(
        deny,
        JSON.stringify({ rules: [{ name: "golden-pcr7", claim: "pcrs/pcr07", equals: "ab".repeat(32) }] }),
      );
      const secret = join(dir, "azure.key");
      writeFileSync(secret, "azure disk key");
      expect(admin(["policy", "set", "azure-pcr", "--file", allow]).status).toBe(0);
      expect(admin(["policy", "set", "azure-deny", "--file", deny]).status).toBe(0);
      expect(
        admin(["secret", "put", "default/disk/azure", "--file", secret, "--policy", "azure-pcr"]).status,
      ).toBe(0);
      expect(
        admin(["secret", "put", "default/disk/other", "--file", secret, "--policy", "azure-deny"]).status,
      ).toBe(0);
      const ok = getResource("default/disk/azure");
      expect([ok.status, ok.stdout, ok.stderr]).toEqual([0, "azure disk key", ""]);
      const no = getResource("default/disk/other");
      expect(no.status).toBe(2);
      expect(no.stdout).toBe("");
      expect(no.stderr).toMatch(/KBS_RESOURCE_POLICY_DENIED/);
      expect(no.stderr).toContain(`rule golden-pcr7: expected "${"ab".repeat(32)}", actual "${pcr07}"`);
      const audit = admin(["audit", "--resource", "default/disk/other", "--json"]);
      const rows = JSON.parse(audit.stdout) as { event: string; verdict: string }[];
      expect(rows.map((e) => [e.event, e.verdict])).toEqual([
        ["admin", "ok"],
        ["release", "denied"],
      ]);
    });

    it("--eventlog is refused on Azure before anything is sent (the evidence carries the PCRs)", () => {
      const log = join(dir, "log.bin");
      writeFileSync(log, Buffer.alloc(8, 0xff));
      const r = getResource("default/disk/key", ["--eventlog", log]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/KBS_EVENTLOG_UNSUPPORTED/);
    });
  },
);

describe.each(["sqlite", "postgres"] as const)(
  "the key broker refuses az-tdx-vtpm evidence that is not this session's or not intact (%s)",
  (backend) => {
    let dir: string;
    let pv: SimAzureParavisor;
    let broker: Awaited<ReturnType<typeof startSimBroker>>;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "kbs-azure-"));
      const az = join(dir, "az");
      expect(runCli(["sim", "init", "--state", az, "--platform", "azure"]).status).toBe(0);
      pv = await loadSimAzureParavisor(az);
      broker = await startSimBroker(backend, [pv.platform]);
      await broker.service.putResource("default/disk/key", new TextEncoder().encode("k"));
      await broker.service.putPolicy(
        "resource",
        "pcr-deny",
        JSON.stringify({ rules: [{ name: "golden-pcr7", claim: "pcrs/pcr07", equals: "00".repeat(32) }] }),
      );
      await broker.service.putResource("default/disk/pcr", new TextEncoder().encode("p"), {
        policyId: "pcr-deny",
      });
    }, 120_000);
    afterAll(async () => {
      await broker?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** A new session of tee az-tdx-vtpm with a fresh key: its nonce and the digest the evidence must bind. */
    async function session() {
      const client = new KbsClient({ url: broker.url });
      const { nonce, hashAlgorithm } = await client.auth("az-tdx-vtpm");
      const key = generateTeeKeyPair();
      return { client, nonce, key, digest: runtimeDataDigest(nonce, key.publicJwk, "", hashAlgorithm) };
    }

    it("accepts Trustee's v0, v1 and v2 shapes and names the version in the token", async () => {
      for (const version of [0, 1, 2] as const) {
        const s = await session();
        const json = pv.evidenceJson({ nonce: s.digest, version });
        if (version === 0) expect(JSON.parse(json)).not.toHaveProperty("version");
        const token = await s.client.attestRaw(azAttestationMessage(s.nonce, s.key.publicJwk, json));
        const ae = annotated(claimsOf(token));
        expect((ae["az-tdx-vtpm"] as { evidence_version: number }).evidence_version).toBe(version);
        expect(ae.report_data).toBe(Buffer.from(s.digest).toString("hex"));
        expect(await s.client.resourceRaw("default/disk/key")).toHaveProperty("ciphertext");
      }
    });

    it("also takes the evidence as JSON text and the bare (non-composite) tee-evidence", async () => {
      const s = await session();
      const json = pv.evidenceJson({ nonce: s.digest });
      const msg = azAttestationMessage(s.nonce, s.key.publicJwk, json);
      const token = await s.client.attestRaw({ ...msg, "tee-evidence": json });
      expect(annotated(claimsOf(token))["az-tdx-vtpm"]).toBeDefined();
      const t = await session();
      const asText = azAttestationMessage(t.nonce, t.key.publicJwk, pv.evidenceJson({ nonce: t.digest }));
      (asText["tee-evidence"] as Record<string, unknown>).primary_evidence = pv.evidenceJson({
        nonce: t.digest,
      });
      expect(await t.client.attestRaw(asText)).toMatch(/^ey/);
    });

    it("refuses a wrong nonce (runtime-data.nonce is not the session's)", async () => {
      const s = await session();
      const other = Buffer.alloc(32, 7).toString("base64");
      const digest = runtimeDataDigest(other, s.key.publicJwk, "", "sha384");
      const msg = azAttestationMessage(other, s.key.publicJwk, pv.evidenceJson({ nonce: digest }));
      expect((await rejectionOf(s.client.attestRaw(msg))).code).toBe("KBS_NONCE_MISMATCH");
    });

    it("refuses the evidence of another session (its TPM nonce binds that session's runtime data)", async () => {
      const a = await session();
      const json = pv.evidenceJson({ nonce: a.digest });
      const b = await session();
      const e = await rejectionOf(b.client.attestRaw(azAttestationMessage(b.nonce, b.key.publicJwk, json)));
      expect(e.code).toBe("KBS_REPORTDATA_MISMATCH");
      // The broker's field comes back as the error's own field (one shape from the throw to the client).
      expect(e.field).toBe("tpm_quote.message.extraData");
      expect(e.data).toMatchObject({
        status: 401,
        expected: Buffer.from(b.digest).toString("hex"),
        actual: Buffer.from(a.digest).toString("hex"),
      });
      // A second attempt on B, even with B's own evidence: one attempt per challenge.
      const own = pv.evidenceJson({ nonce: b.digest });
      expect(
        (await rejectionOf(b.client.attestRaw(azAttestationMessage(b.nonce, b.key.publicJwk, own)))).code,
      ).toBe("KBS_NONCE_REPLAYED");
    });

    it("refuses v2 evidence whose HCL user-data is another session's (the TPM nonce alone is not enough)", async () => {
      const a = await session();
      const b = await session();
      const json = pv.evidenceJson({ nonce: b.digest, userData: a.digest });
      const e = await rejectionOf(b.client.attestRaw(azAttestationMessage(b.nonce, b.key.publicJwk, json)));
      expect(e.code).toBe("KBS_REPORTDATA_MISMATCH");
      expect(e.field).toBe("hcl_report.user-data");
    });

    it("refuses binding to another key: the digest covers tee-pubkey", async () => {
      const s = await session();
      const mallory = generateTeeKeyPair();
      const msg = azAttestationMessage(s.nonce, mallory.publicJwk, pv.evidenceJson({ nonce: s.digest }));
      expect((await rejectionOf(s.client.attestRaw(msg))).code).toBe("KBS_REPORTDATA_MISMATCH");
    });

    it("refuses a padded digest: the TPM nonce is the raw runtime-data digest, as Trustee binds it", async () => {
      const s = await session();
      const padded = expectedReportData(s.nonce, s.key.publicJwk, "", "sha384");
      const msg = azAttestationMessage(s.nonce, s.key.publicJwk, pv.evidenceJson({ nonce: padded }));
      expect((await rejectionOf(s.client.attestRaw(msg))).code).toBe("KBS_REPORTDATA_MISMATCH");
    });

    it("refuses a tampered PCR (KBS_EVIDENCE_REJECTED naming AZ_PCR_DIGEST_MISMATCH)", async () => {
      const s = await session();
      const ev: AzTdxVtpmEvidence = pv.evidence({ nonce: s.digest });
      ev.tpmQuote.pcrs[7] = new Uint8Array(32).fill(0xab);
      const msg = azAttestationMessage(s.nonce, s.key.publicJwk, serializeAzTdxVtpmEvidence(ev));
      const e = await rejectionOf(s.client.attestRaw(msg));
      expect(e.code).toBe("KBS_EVIDENCE_REJECTED");
      expect(e.data?.problems).toMatchObject([{ code: "AZ_PCR_DIGEST_MISMATCH" }]);
      // The refusal is audited under the evidence's name (its verified bytes' hash).
      const audit = await broker.service.audit({});
      const row = audit.filter((r) => r.event === "attest").at(-1)!;
      expect(row.verdict).toBe("denied");
      expect(row.reason).toMatch(/^KBS_EVIDENCE_REJECTED: .*AZ_PCR_DIGEST_MISMATCH/);
      expect(row.evidenceSha256).toMatch(/^[0-9a-f]{64}$/);
    });

    it("refuses a PCR resource policy that does not match, naming the PCR", async () => {
      const s = await session();
      await s.client.attestRaw(
        azAttestationMessage(s.nonce, s.key.publicJwk, pv.evidenceJson({ nonce: s.digest })),
      );
      const e = await rejectionOf(s.client.resourceRaw("default/disk/pcr"));
      expect(e.code).toBe("KBS_RESOURCE_POLICY_DENIED");
      expect(e.data?.denials).toEqual([
        {
          rule: "golden-pcr7",
          expected: "00".repeat(32),
          actual: Buffer.from(pv.vtpm.pcr(7)).toString("hex"),
          message: expect.stringContaining("pcrs/pcr07"),
        },
      ]);
    });

    it("checks init-data against PCR 8 (SHA-256 document, one extend), as Trustee does on Azure", async () => {
      const toml = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = "x"\n';
      const digest = createHash("sha256").update(toml).digest();
      const fresh = await loadSimAzureParavisor(join(dir, "az"));
      fresh.vtpm.extendPcr(8, digest);
      const s = await session();
      const good = azAttestationMessage(
        s.nonce,
        s.key.publicJwk,
        fresh.evidenceJson({ nonce: s.digest }),
        toml,
      );
      const ae = annotated(claimsOf(await s.client.attestRaw(good)));
      expect(ae.init_data).toBe(digest.toString("hex"));
      expect(ae.init_data_claims).toEqual({ "aa.toml": "x" });
      // Another document, or the right one against a TD that bound none: KBS_INIT_DATA_MISMATCH.
      const t = await session();
      const other = toml.replace('"x"', '"y"');
      const bad = azAttestationMessage(
        t.nonce,
        t.key.publicJwk,
        fresh.evidenceJson({ nonce: t.digest }),
        other,
      );
      const e = await rejectionOf(t.client.attestRaw(bad));
      expect(e.code).toBe("KBS_INIT_DATA_MISMATCH");
      expect(e.data).toMatchObject({
        algorithm: "sha256",
        actual: Buffer.from(fresh.vtpm.pcr(8)).toString("hex"),
      });
      const u = await session();
      const unbound = azAttestationMessage(
        u.nonce,
        u.key.publicJwk,
        pv.evidenceJson({ nonce: u.digest }),
        toml,
      );
      expect((await rejectionOf(u.client.attestRaw(unbound))).code).toBe("KBS_INIT_DATA_MISMATCH");
    });

    it("keeps the tees apart: TDX evidence on an Azure session and Azure evidence on a TDX session are invalid", async () => {
      const s = await session();
      const quote = pv.platform.quote(expectedReportData(s.nonce, s.key.publicJwk, ""));
      const e = await rejectionOf(s.client.attestRaw(attestationMessage(s.nonce, s.key.publicJwk, quote)));
      expect(e.code).toBe("KBS_EVIDENCE_INVALID");
      expect(e.message).toMatch(/not az-tdx-vtpm evidence: AZ_EVIDENCE_UNKNOWN_FIELD/);
      const tdx = new KbsClient({ url: broker.url });
      const { nonce } = await tdx.auth();
      const key = generateTeeKeyPair();
      const json = pv.evidenceJson({ nonce: runtimeDataDigest(nonce, key.publicJwk, "", "sha384") });
      const f = await rejectionOf(tdx.attestRaw(azAttestationMessage(nonce, key.publicJwk, json)));
      expect(f.code).toBe("KBS_EVIDENCE_INVALID");
    });

    it("refuses evidence that is not az-tdx-vtpm JSON, and a tee it does not know", async () => {
      const s = await session();
      const msg = azAttestationMessage(s.nonce, s.key.publicJwk, JSON.stringify({ version: 3 }));
      const e = await rejectionOf(s.client.attestRaw(msg));
      expect(e.code).toBe("KBS_EVIDENCE_INVALID");
      expect(e.message).toMatch(/AZ_EVIDENCE_VERSION_UNSUPPORTED/);
      const c = new KbsClient({ url: broker.url });
      const u = await rejectionOf(c.auth("az-snp-vtpm"));
      expect(u.code).toBe("KBS_TEE_UNSUPPORTED");
      expect(u.hint).toMatch(/"tdx" \(Intel TDX guests\) or "az-tdx-vtpm" \(Azure TDX confidential VMs\)/);
    });

    it("the evidence's name ignores HCL padding and TD quote trailing bytes", async () => {
      const s = await session();
      const ev = pv.evidence({ nonce: s.digest });
      const token = await s.client.attestRaw(
        azAttestationMessage(s.nonce, s.key.publicJwk, serializeAzTdxVtpmEvidence(ev)),
      );
      const t = await session();
      const ev2 = pv.evidence({ nonce: t.digest });
      const padded: AzTdxVtpmEvidence = {
        ...ev2,
        hclReport: Uint8Array.from([...ev2.hclReport, ...new Uint8Array(64)]),
        tdQuote: Uint8Array.from([...ev2.tdQuote, ...new Uint8Array(16)]),
      };
      const ae2 = annotated(
        claimsOf(
          await t.client.attestRaw(
            azAttestationMessage(t.nonce, t.key.publicJwk, serializeAzTdxVtpmEvidence(padded)),
          ),
        ),
      );
      // The simulated TD quote has no trailing bytes of its own: its whole length is what verification covers.
      const same = parseAzTdxVtpmEvidence(serializeAzTdxVtpmEvidence(ev2));
      expect(ae2.evidence_sha256).toBe(azTdxVtpmEvidenceSha256(same, same.tdQuote.length));
      expect(annotated(claimsOf(token)).evidence_sha256).not.toBe(ae2.evidence_sha256);
    });
  },
);
