import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSimPlatform } from "../../src/sim/index.js";
import { INTEL_SGX_ROOT_CA_SHA256 } from "../../src/verify/index.js";
import { runCli } from "../helpers/cli.js";
import { type SpawnedBroker, spawnBroker } from "../kbs/spawn-broker.js";

describe("tdx-attest serve + get-resource + kbs (the disk-unlock story in development mode)", () => {
  let dir: string;
  let broker: SpawnedBroker;
  const noAdminEnv = { TDX_ATTEST_KBS_ADMIN_TOKEN: "", TDX_ATTEST_KBS_KEK: "" };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kbs-cli-"));
    broker = await spawnBroker(["--data", join(dir, "data")], noAdminEnv);
  });
  afterAll(async () => {
    await broker?.stop("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const admin = (args: string[], env: Record<string, string> = {}) =>
    runCli(
      ["kbs", ...args, "--kbs", broker.url, "--admin-token-file", join(dir, "data", "admin-token")],
      undefined,
      env,
    );

  it("says loudly that it runs on development defaults", () => {
    expect(broker.stderr()).toMatch(/DEVELOPMENT DEFAULT: trusting the SIMULATED platform root/);
    // Whose each root is, with its fingerprint: Intel's (so real quotes verify too) and the simulated one.
    const anchors = /trust anchors: (.*)/.exec(broker.stderr())?.[1] ?? "";
    expect(anchors).toContain(`Intel's SGX Root CA (sha256 ${INTEL_SGX_ROOT_CA_SHA256})`);
    expect(anchors).toMatch(
      /sha256 [0-9a-f]{64}; not Intel's SGX Root CA\) = the simulated platform's root \(.*root-ca\.pem\)/,
    );
    expect(broker.stderr()).toMatch(/seeded the demo resource default\/disk\/key/);
    expect(statSync(join(dir, "data", "kek")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "data", "admin-token")).mode & 0o777).toBe(0o600);
  });

  it("prints the demo disk key to stdout and writes it with --out mode 0600", () => {
    const sim = join(dir, "data", "sim");
    const r = runCli([
      "get-resource",
      "default/disk/key",
      "--kbs",
      broker.url,
      "--provider",
      "sim",
      "--sim-dir",
      sim,
    ]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{64}$/);
    const out = join(dir, "disk.key");
    const w = runCli([
      "get-resource",
      "default/disk/key",
      "--kbs",
      broker.url,
      "--provider",
      "sim",
      "--sim-dir",
      sim,
      "--out",
      out,
    ]);
    expect(w.status).toBe(0);
    expect(w.stdout).toBe("");
    expect(readFileSync(out, "utf8")).toBe(r.stdout);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const j = runCli([
      "get-resource",
      "default/disk/key",
      "--kbs",
      broker.url,
      "--provider",
      "sim",
      "--sim-state",
      sim,
      "--json",
    ]);
    expect(j.status).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect([Buffer.from(doc.secret, "base64").toString("utf8"), doc.size, doc.out]).toEqual([
      r.stdout,
      64,
      null,
    ]);
    expect(doc.token.split(".")).toHaveLength(3);
    const g = admin(["secret", "get", "default/disk/key"]);
    expect(g.stdout).toBe(r.stdout);
  });

  it("administers secrets and policies, and shows the audit log", () => {
    const f = join(dir, "s.bin");
    writeFileSync(f, Buffer.from([0, 1, 2, 3]));
    const pf = join(dir, "open.json");
    writeFileSync(pf, JSON.stringify({ allow: "all" }));
    expect(admin(["policy", "set", "open", "--file", pf]).stdout).toMatch(/stored resource policy open/);
    expect(admin(["secret", "put", "team/cfg/blob", "--file", f, "--policy", "open"]).stdout).toMatch(
      /stored team\/cfg\/blob \(4 bytes\)/,
    );
    expect(admin(["secret", "list"]).stdout).toMatch(/team\/cfg\/blob\t4 bytes\tpolicy open/);
    const pl = JSON.parse(admin(["policy", "list", "--json"]).stdout) as { kind: string; id: string }[];
    expect(pl.map((p) => `${p.kind}/${p.id}`)).toEqual(
      expect.arrayContaining([
        "attestation/default",
        "resource/default",
        "resource/disk-unlock",
        "resource/open",
      ]),
    );
    const audit = JSON.parse(admin(["audit", "--json", "--limit", "1000"]).stdout) as {
      event: string;
      verdict: string;
      resource: string | null;
    }[];
    expect(
      audit.filter(
        (e) => e.event === "release" && e.verdict === "allowed" && e.resource === "default/disk/key",
      ).length,
    ).toBe(3); // stdout, --out and --json above
    expect(admin(["secret", "delete", "team/cfg/blob"]).status).toBe(0);
  });

  it("refuses admin commands without the right credential", () => {
    const r = runCli(["kbs", "secret", "list", "--kbs", broker.url], undefined, {
      TDX_ATTEST_KBS_ADMIN_TOKEN: "not-the-token-at-all",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/KBS_ADMIN_UNAUTHENTICATED/);
  });

  it("reports a refused attestation with the broker's code and hint", () => {
    const r = runCli([
      "get-resource",
      "default/disk/nothing",
      "--kbs",
      broker.url,
      "--provider",
      "sim",
      "--sim-dir",
      join(dir, "data", "sim"),
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error KBS_RESOURCE_NOT_FOUND/);
    expect(r.stdout).toBe("");
  });

  it("finds the simulated platform through $TDX_SIM_STATE and names a wrong provider", () => {
    const r = runCli(
      ["get-resource", "default/disk/key", "--kbs", broker.url, "--provider", "sim"],
      undefined,
      {
        TDX_SIM_STATE: join(dir, "data", "sim"),
      },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{64}$/);
    const bad = runCli(["get-resource", "default/disk/key", "--kbs", broker.url, "--provider", "tpm"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/KBS_PROVIDER_INVALID/);
  });

  it("serves the quote explorer page, /healthz and /metrics next to the broker", async () => {
    const page = await fetch(`${broker.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await (await fetch(`${broker.url}/healthz`)).json()).toEqual({ status: "ok", db: "sqlite" });
    // The explorer's verify API uses the broker's anchors and collateral source (the simulated platform).
    const sim = await loadSimPlatform(join(dir, "data", "sim"));
    const quote = Buffer.from(sim.quote(new Uint8Array(64))).toString("hex");
    const verified = await fetch(`${broker.url}/api/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ quote }),
    });
    const v = (await verified.json()) as {
      ok: boolean;
      collateralSource: string;
      verification: { tcbStatus: string };
    };
    expect(v).toMatchObject({
      ok: true,
      collateralSource: "server",
      verification: { tcbStatus: "UpToDate" },
    });
    expect(await (await fetch(`${broker.url}/metrics`)).text()).toMatch(
      /kbs_attestations_total\{result="allowed"\} [2-9]/,
    );
  });

  it("drains and stops on SIGTERM", async () => {
    const b = await spawnBroker(["--data", join(dir, "data2")], noAdminEnv);
    expect(await b.stop("SIGTERM")).toBe(0);
    expect(b.stderr()).toMatch(/SIGTERM: draining in-flight requests[\s\S]*key broker stopped/);
  });
});
