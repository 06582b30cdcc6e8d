import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KbsClient } from "../../src/kbs/client.js";
import { createSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { cliPath } from "../helpers/cli.js";
import { SIM_ADMIN, simSource, startSimBroker } from "./sim-broker.js";

describe.each(["sqlite", "postgres"] as const)("audit retention: export, then prune (%s)", (backend) => {
  let platform: SimPlatform;
  let broker: Awaited<ReturnType<typeof startSimBroker>>;
  let dir: string;
  let shift = 0;
  const DAY = 24 * 3600 * 1000;

  beforeAll(async () => {
    platform = await createSimPlatform();
    broker = await startSimBroker(backend, [platform], { clock: () => new Date(Date.now() + shift) });
    await broker.service.putResource("default/disk/key", new Uint8Array([9]));
    dir = mkdtempSync(join(tmpdir(), "kbs-audit-"));
    writeFileSync(join(dir, "admin-token"), SIM_ADMIN);
  });
  afterAll(async () => {
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Asynchronous: the broker answers from this very process.
  const cli = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          cliPath,
          "kbs",
          "audit",
          ...args,
          "--kbs",
          broker.url,
          "--admin-token-file",
          join(dir, "admin-token"),
        ],
        (err, stdout, stderr) =>
          resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it("exports every row with each claim set once, prunes the old ones (audited), keeps the rest", async () => {
    for (let i = 0; i < 3; i++)
      await new KbsClient({ url: broker.url }).getResource("default/disk/key", simSource(platform));
    shift = 2 * DAY;
    await new KbsClient({ url: broker.url }).getResource("default/disk/key", simSource(platform));
    const all = await broker.store.listAudit({ limit: 10_000 });

    const out = join(dir, "audit.jsonl");
    const exp = await cli(["export", "--out", out]);
    expect(exp.stderr).toBe("");
    expect(exp.status).toBe(0);
    const lines = readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const audits = lines.filter((l) => l.kind === "audit");
    const sets = lines.filter((l) => l.kind === "claims");
    expect(audits.map((a) => a.id)).toEqual(all.map((a) => a.id));
    // Four attestations of one TD on one platform share one claim set: written once.
    expect(sets).toHaveLength(1);
    const firstRef = lines.findIndex((l) => l.kind === "audit" && l.claimsRef === sets[0]!.digest);
    expect(lines.findIndex((l) => l.kind === "claims")).toBeLessThan(firstRef);
    expect((sets[0]!.claims as { submods: object }).submods).toBeDefined();

    const tooRecent = await cli(["prune", "--before", new Date(Date.now() + shift).toISOString()]);
    expect(tooRecent.status).not.toBe(0);
    expect(tooRecent.stderr).toMatch(/KBS_AUDIT_PRUNE_INVALID/);

    const cutoff = new Date(Date.now() + shift - 3600_000).toISOString();
    const old = all.filter((a) => a.at < Date.parse(cutoff));
    const prune = await cli(["prune", "--before", cutoff, "--json"]);
    expect(prune.status).toBe(0);
    expect(JSON.parse(prune.stdout)).toEqual({ pruned: old.length, before: cutoff });
    const left = await broker.store.listAudit({ limit: 10_000 });
    expect(left.every((a) => a.at >= Date.parse(cutoff))).toBe(true);
    expect(left.filter((a) => all.some((b) => b.id === a.id)).length).toBe(all.length - old.length);
    expect(left.at(-1)).toMatchObject({
      event: "admin",
      reason: expect.stringMatching(/^audit prune before/),
    });
    // The claim set the newer rows still reference stays.
    expect(await broker.store.getClaimSet(String(sets[0]!.digest))).toBeDefined();
    await expect(broker.store.db.query("DELETE FROM audit_log WHERE id = $1", [left[0]!.id])).rejects.toThrow(
      /append-only/,
    );
  });
});
