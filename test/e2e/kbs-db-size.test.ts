import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { TdxEvidenceVerifier } from "../../src/attest/index.js";
import { KbsClient } from "../../src/kbs/client.js";
import { KeyEncryptionKey } from "../../src/kbs/kek.js";
import { KbsService } from "../../src/kbs/service.js";
import { openStore } from "../../src/kbs/store/index.js";
import { AdminAuth } from "../../src/server/admin-auth.js";
import { buildKbsApp } from "../../src/server/kbs-app.js";
import { createSimPlatform, SimCollateralProvider } from "../../src/sim/index.js";
import { startTestPostgres } from "../kbs/postgres.js";

/** Target: at most this many bytes of lasting database growth per attestation (auth + attest + resource). */
const BUDGET = 1024;
const N = 200;

/**
 * Lasting growth: what stays once expired sessions and the nonces' day of retention are purged, with the
 * database compacted (SQLite VACUUM, PostgreSQL VACUUM FULL) so that free space is not counted. Measured
 * over real HTTP with the DCAP verifier and the simulated platform; the number is printed.
 */
describe.each(["sqlite", "postgres"] as const)("database growth per attestation (%s)", (backend) => {
  it(`stays under ${BUDGET} bytes per attestation once sessions are purged`, async () => {
    const platform = await createSimPlatform();
    const dir = mkdtempSync(join(tmpdir(), "kbs-size-"));
    const pgdb = backend === "postgres" ? await startTestPostgres() : undefined;
    const url = pgdb ? pgdb.url : join(dir, "kbs.db");
    let shift = 0;
    const store = await openStore(url);
    const service = await KbsService.create({
      store,
      kek: new KeyEncryptionKey(new Uint8Array(32).fill(1)),
      verifier: new TdxEvidenceVerifier(new SimCollateralProvider(platform), {
        trustAnchors: [platform.rootCaPem],
      }),
      clock: () => new Date(Date.now() + shift),
    });
    await service.putResource("default/disk/key", new Uint8Array(32).fill(7));
    const { app } = await buildKbsApp({
      service,
      adminAuth: new AdminAuth({ tokens: ["x".repeat(20)] }),
      authRateLimit: { max: 0, windowSeconds: 60 },
      attestRateLimit: { max: 0, windowSeconds: 60 },
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const size = async (): Promise<number> => {
      if (pgdb) {
        const c = new pg.Client({ connectionString: pgdb.url });
        await c.connect();
        try {
          await c.query("VACUUM FULL");
          const r = await c.query(
            "SELECT sum(pg_total_relation_size(c.oid))::bigint AS s FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'",
          );
          return Number(r.rows[0].s);
        } finally {
          await c.end();
        }
      }
      const db = new Database(url);
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.exec("VACUUM");
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.close();
      return statSync(url).size;
    };
    try {
      // One attestation first, so that the claim set this TD shares with the rest is in the baseline.
      const source = { getQuote: async (rd: Uint8Array) => ({ quote: platform.quote(rd) }) };
      await new KbsClient({ url: base }).getResource("default/disk/key", source);
      const before = await size();
      for (let i = 0; i < N; i++) await new KbsClient({ url: base }).getResource("default/disk/key", source);
      const live = await size();
      shift = 3 * 24 * 3600 * 1000;
      await store.purgeExpired(Date.now() + shift);
      const after = await size();
      const perAttestation = (after - before) / N;
      console.log(
        `${backend}: ${perAttestation.toFixed(0)} bytes of lasting growth per attestation ` +
          `(${((live - before) / N).toFixed(0)} while the sessions live; N=${N}, budget ${BUDGET})`,
      );
      expect(perAttestation).toBeLessThanOrEqual(BUDGET);
    } finally {
      await app.close();
      await store.close();
      await pgdb?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
