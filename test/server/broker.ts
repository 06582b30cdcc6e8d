import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EvidenceVerifier } from "../../src/attest/index.js";
import { KeyEncryptionKey } from "../../src/kbs/kek.js";
import { KbsService } from "../../src/kbs/service.js";
import { openStore } from "../../src/kbs/store/index.js";
import { AdminAuth } from "../../src/server/admin-auth.js";
import { buildKbsApp } from "../../src/server/kbs-app.js";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

/** A broker on 127.0.0.1:0 with a SQLite store in a temporary directory. */
export async function startTestBroker(opts: {
  verifier: EvidenceVerifier;
  clock?: () => Date;
  dbUrl?: string;
  authRateLimit?: { max: number; windowSeconds: number };
  attestRateLimit?: { max: number; windowSeconds: number };
  adminPublicKeys?: string[];
  adminJwtMaxLifetimeSeconds?: number;
  timeouts?: { requestSeconds?: number; headersSeconds?: number };
}) {
  const dir = mkdtempSync(join(tmpdir(), "kbs-broker-"));
  const store = await openStore(opts.dbUrl ?? join(dir, "kbs.db"));
  const service = await KbsService.create({
    store,
    kek: new KeyEncryptionKey(new Uint8Array(32).fill(3)),
    verifier: opts.verifier,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const { app, metrics } = await buildKbsApp({
    service,
    adminAuth: new AdminAuth({
      tokens: [ADMIN_TOKEN],
      publicKeys: opts.adminPublicKeys ?? [],
      ...(opts.adminJwtMaxLifetimeSeconds ? { maxJwtLifetimeSeconds: opts.adminJwtMaxLifetimeSeconds } : {}),
    }),
    ...(opts.authRateLimit ? { authRateLimit: opts.authRateLimit } : {}),
    ...(opts.attestRateLimit ? { attestRateLimit: opts.attestRateLimit } : {}),
    ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  return {
    url,
    service,
    app,
    metrics,
    store,
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function admin(
  url: string,
  method: string,
  path: string,
  body?: string | Uint8Array,
  token = ADMIN_TOKEN,
) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined)
    headers["content-type"] = typeof body === "string" ? "application/json" : "application/octet-stream";
  const payload = typeof body === "string" || body === undefined ? body : Buffer.from(body);
  return fetch(`${url}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
}
