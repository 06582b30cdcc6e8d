import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pckCertChainOf } from "../../src/abi/index.js";
import type { Quote } from "../../src/abi/types.js";
import { type CollateralProvider, TdxEvidenceVerifier } from "../../src/attest/index.js";
import type { Collateral } from "../../src/collateral/types.js";
import type { QuoteSource } from "../../src/kbs/client.js";
import { KeyEncryptionKey } from "../../src/kbs/kek.js";
import { KbsService } from "../../src/kbs/service.js";
import { openStore } from "../../src/kbs/store/index.js";
import { AdminAuth } from "../../src/server/admin-auth.js";
import { buildKbsApp, type KbsAppOptions } from "../../src/server/kbs-app.js";
import { SimCollateralProvider, type SimPlatform } from "../../src/sim/index.js";
import { startTestPostgres, type TestPostgres } from "../kbs/postgres.js";

export const SIM_ADMIN = "sim-broker-admin-token-0123456789";

/** Collateral from whichever simulated platform issued the quote's PCK chain (one broker, several platforms). */
export class SimPlatforms implements CollateralProvider {
  readonly description = "simulated platforms";
  readonly #by: { root: string; provider: SimCollateralProvider }[];
  constructor(platforms: SimPlatform[]) {
    this.#by = platforms.map((p) => ({ root: p.rootCaPem.trim(), provider: new SimCollateralProvider(p) }));
  }
  forQuote(quote: Quote, now: Date): Promise<Collateral> {
    const root = pckCertChainOf(quote)?.at(-1)?.trim();
    const hit = this.#by.find((b) => b.root === root);
    if (!hit) throw new Error("no simulated platform issued this quote");
    return hit.provider.forQuote(quote, now);
  }
  stats() {
    return { hits: 0, misses: 0 };
  }
}

export const simSource = (p: SimPlatform): QuoteSource => ({
  getQuote: async (rd) => ({ quote: p.quote(rd) }),
});

/** A broker over real HTTP with the DCAP verifier trusting the given simulated platforms, on SQLite or PostgreSQL. */
export async function startSimBroker(
  backend: "sqlite" | "postgres",
  platforms: SimPlatform[],
  opts: { clock?: () => Date; app?: Partial<KbsAppOptions> } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "kbs-simbroker-"));
  let pg: TestPostgres | undefined;
  if (backend === "postgres") pg = await startTestPostgres();
  const dbUrl = pg ? pg.url : join(dir, "kbs.db");
  const store = await openStore(dbUrl);
  const service = await KbsService.create({
    store,
    kek: new KeyEncryptionKey(new Uint8Array(32).fill(1)),
    verifier: new TdxEvidenceVerifier(new SimPlatforms(platforms), {
      trustAnchors: platforms.map((p) => p.rootCaPem),
    }),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const { app } = await buildKbsApp({
    service,
    adminAuth: new AdminAuth({ tokens: [SIM_ADMIN] }),
    authRateLimit: { max: 0, windowSeconds: 60 },
    ...opts.app,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const a = app.server.address();
  const url = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
  return {
    url,
    dbUrl,
    service,
    store,
    app,
    async close() {
      await app.close();
      await store.close();
      await pg?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
