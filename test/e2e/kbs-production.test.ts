import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTdxError } from "../../src/errors.js";
import { KbsClient } from "../../src/kbs/client.js";
import { buildPcsServer } from "../../src/server/pcs.js";
import { initSimPlatform, type SimPlatform } from "../../src/sim/index.js";
import { spawnBroker } from "../kbs/spawn-broker.js";

/** Production mode: config file, KEK and admin token files, collateral from a PCS URL through the cache. */
describe("tdx-attest serve --config (production mode)", () => {
  let dir: string;
  let sim: SimPlatform;
  let pcs: FastifyInstance;
  let pcsUrl: string;
  const token = randomBytes(24).toString("base64url");
  const cleanEnv = { TDX_ATTEST_KBS_KEK: "", TDX_ATTEST_KBS_ADMIN_TOKEN: "", TDX_ATTEST_MODE: "" };

  const config = (extra: Record<string, unknown>) => {
    const file = join(dir, `config-${randomBytes(4).toString("hex")}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: join(dir, "data"),
        kek: { file: join(dir, "kek") },
        admin: { tokenFile: join(dir, "admin-token") },
        collateral: { urls: [pcsUrl], cacheDir: join(dir, "cache") },
        logLevel: "warn",
        ...extra,
      }),
    );
    return file;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kbs-prod-"));
    sim = await initSimPlatform(join(dir, "sim"));
    pcs = buildPcsServer({ platform: sim });
    await pcs.listen({ host: "127.0.0.1", port: 0 });
    pcsUrl = `http://127.0.0.1:${(pcs.server.address() as AddressInfo).port}`;
    writeFileSync(join(dir, "kek"), randomBytes(32), { mode: 0o600 });
    writeFileSync(join(dir, "admin-token"), `${token}\n`, { mode: 0o600 });
    writeFileSync(join(dir, "sim-root.pem"), sim.rootCaPem);
  });
  afterAll(async () => {
    await pcs?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to start without a key-encryption key", async () => {
    const file = config({ kek: { file: join(dir, "no-such-kek") } });
    await expect(spawnBroker(["--config", file], cleanEnv)).rejects.toThrow(/KBS_KEK_MISSING/);
  });

  it("releases a secret with collateral fetched from the PCS and cached, trusting only the configured root", async () => {
    const broker = await spawnBroker(
      ["--config", config({ trustAnchors: [join(dir, "sim-root.pem")], metrics: true })],
      cleanEnv,
    );
    try {
      expect(broker.stderr()).not.toMatch(/DEVELOPMENT DEFAULT/);
      expect(broker.stderr()).toMatch(/key broker \(production\)/);
      expect(existsSync(join(dir, "data", "sim"))).toBe(false);
      const put = await fetch(`${broker.url}/kbs/v0/resource/prod/disk/key`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
        body: "production disk key",
      });
      expect(put.status).toBe(200);
      const source = { getQuote: async (rd: Uint8Array) => ({ quote: sim.quote(rd) }) };
      for (let i = 0; i < 2; i++) {
        const { secret } = await new KbsClient({ url: broker.url }).getResource("prod/disk/key", source);
        expect(new TextDecoder().decode(secret)).toBe("production disk key");
      }
      const metrics = await (await fetch(`${broker.url}/metrics`)).text();
      expect(Number(/kbs_collateral_cache_hits (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
      expect(Number(/kbs_collateral_cache_misses (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
      // No development admin token was made up.
      expect(existsSync(join(dir, "data", "admin-token"))).toBe(false);
    } finally {
      expect(await broker.stop("SIGTERM")).toBe(0);
    }
  });

  it("trusts only Intel's root by default: a simulated quote is refused", async () => {
    const broker = await spawnBroker(["--config", config({})], cleanEnv);
    try {
      const source = { getQuote: async (rd: Uint8Array) => ({ quote: sim.quote(rd) }) };
      let code = "";
      try {
        await new KbsClient({ url: broker.url }).getResource("prod/disk/key", source);
      } catch (e) {
        if (isTdxError(e)) code = e.code;
      }
      expect(code).toBe("KBS_EVIDENCE_REJECTED");
    } finally {
      await broker.stop("SIGKILL");
    }
  });
});
