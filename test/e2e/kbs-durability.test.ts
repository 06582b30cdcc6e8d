import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KbsClient } from "../../src/kbs/client.js";
import { initSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { startTestPostgres, type TestPostgres } from "../kbs/postgres.js";
import { type SpawnedBroker, spawnBroker } from "../kbs/spawn-broker.js";

const ADMIN = "durability-admin-token-0123456789";

/**
 * Kill -9 a broker while it writes secrets and audit rows, restart it on the same store, and check
 * that everything it acknowledged is still there.
 */
describe.each(["sqlite", "postgres"])("a broker killed with SIGKILL during writes (%s)", (backend) => {
  let dir: string;
  let pg: TestPostgres | undefined;
  let sim: SimPlatform;
  let broker: SpawnedBroker | undefined;
  const env = { TDX_ATTEST_KBS_KEK: randomBytes(32).toString("hex"), TDX_ATTEST_KBS_ADMIN_TOKEN: ADMIN };
  let args: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kbs-kill-"));
    sim = await initSimPlatform(join(dir, "sim"));
    if (backend === "postgres") pg = await startTestPostgres();
    args = ["--data", join(dir, "data"), "--sim-dir", join(dir, "sim"), ...(pg ? ["--db", pg.url] : [])];
  });
  afterAll(async () => {
    await broker?.stop("SIGKILL");
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("restarts with every acknowledged secret and audit row intact", async () => {
    broker = await spawnBroker(args, env);
    const url = broker.url;
    const acknowledgedPuts = new Map<string, string>();
    let acknowledgedReleases = 0;
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const path = `dur/w${w}/s${i}`;
        const value = randomBytes(24).toString("hex");
        try {
          const res = await fetch(`${url}/kbs/v0/resource/${path}`, {
            method: "PUT",
            headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/octet-stream" },
            body: value,
          });
          if (res.status === 200) acknowledgedPuts.set(path, value);
        } catch {
          return; // the broker is gone
        }
      }
    };
    const attester = async () => {
      const source = { getQuote: async (rd: Uint8Array) => ({ quote: sim.quote(rd) }) };
      while (!stop) {
        try {
          await new KbsClient({ url }).getResource("default/disk/key", source);
          acknowledgedReleases++;
        } catch {
          return;
        }
      }
    };
    const workers = [writer(0), writer(1), writer(2), attester()];
    while (acknowledgedPuts.size < 60 || acknowledgedReleases < 3)
      await new Promise((r) => setTimeout(r, 10));
    broker.proc.kill("SIGKILL");
    stop = true;
    await Promise.all(workers);
    await broker.stop("SIGKILL");

    broker = await spawnBroker(args, env);
    for (const [path, value] of acknowledgedPuts) {
      const res = await fetch(`${broker.url}/kbs/v0/admin/resource/${path}`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toBe(value);
    }
    const audit = (await (
      await fetch(`${broker.url}/kbs/v0/admin/audit?limit=10000`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      })
    ).json()) as {
      entries: {
        id: number;
        event: string;
        verdict: string;
        reason: string | null;
        resource: string | null;
      }[];
    };
    const putRows = new Set(
      audit.entries
        .filter((e) => e.event === "admin" && e.reason?.startsWith("resource put dur/"))
        .map((e) => e.resource),
    );
    for (const path of acknowledgedPuts.keys()) expect(putRows.has(path), path).toBe(true);
    const releases = audit.entries.filter((e) => e.event === "release" && e.verdict === "allowed");
    expect(releases.length).toBeGreaterThanOrEqual(acknowledgedReleases);
    const ids = audit.entries.map((e) => e.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    // And the restarted broker still works end to end.
    const { secret } = await new KbsClient({ url: broker.url }).getResource("default/disk/key", {
      getQuote: async (rd) => ({ quote: sim.quote(rd) }),
    });
    expect(secret.length).toBe(64);
  });
});
