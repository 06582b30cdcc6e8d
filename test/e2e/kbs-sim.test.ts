import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseQuote, pckCertChainOf } from "../../src/abi/index.js";
import type { Quote } from "../../src/abi/types.js";
import { type CollateralProvider, TdxEvidenceVerifier } from "../../src/attest/index.js";
import type { Collateral } from "../../src/collateral/types.js";
import { emptyRuntimeLog, makeRuntimeLogEntry, serializeRuntimeLog } from "../../src/eventlog/index.js";
import { expectedReportData } from "../../src/kbs/binding.js";
import { attestationMessage, generateTeeKeyPair, KbsClient, type QuoteSource } from "../../src/kbs/client.js";
import { KeyEncryptionKey } from "../../src/kbs/kek.js";
import { KbsService } from "../../src/kbs/service.js";
import { openStore } from "../../src/kbs/store/index.js";
import { AdminAuth } from "../../src/server/admin-auth.js";
import { buildKbsApp } from "../../src/server/kbs-app.js";
import { DISK_UNLOCK_POLICY } from "../../src/server/serve.js";
import { SimCollateralProvider } from "../../src/sim/collateral-provider.js";
import { createSimPlatform, defaultTdDescription, type SimPlatform } from "../../src/sim/index.js";
import { rejectionOf, tdxErrorOf } from "../helpers/errors.js";

/** Collateral from whichever simulated platform issued the quote's PCK chain (one broker, two platforms). */
class SimPlatforms implements CollateralProvider {
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
    return this.#by.reduce(
      (a, b) => ({ hits: a.hits + b.provider.stats().hits, misses: a.misses + b.provider.stats().misses }),
      { hits: 0, misses: 0 },
    );
  }
}

const simSource = (p: SimPlatform): QuoteSource => ({ getQuote: async (rd) => ({ quote: p.quote(rd) }) });

describe("key broker end to end with the simulated TDX platform and the DCAP verifier", () => {
  let platform: SimPlatform;
  let debugPlatform: SimPlatform;
  let loggedPlatform: SimPlatform;
  let runtimeLog: string;
  let dir: string;
  let url: string;
  let close: () => Promise<void>;
  let shift = 0;
  const clock = () => new Date(Date.now() + shift);
  const ADMIN = "e2e-admin-token-0123456789";
  const DISK_KEY = "0f".repeat(32);

  beforeAll(async () => {
    platform = await createSimPlatform();
    debugPlatform = await createSimPlatform({
      td: { ...defaultTdDescription(), attributes: "0x0000000010000001" },
    });
    // A TD that measured two runtime events into RTMR3 and keeps their log.
    loggedPlatform = await createSimPlatform();
    const log = emptyRuntimeLog();
    for (const [i, data] of ["container image sha256:00ff", "config v7"].entries()) {
      const entry = makeRuntimeLogEntry({ rtmr: 3, event: `app.event${i}`, data }, i, new Date());
      loggedPlatform.extendRtmr(3, Uint8Array.from(Buffer.from(entry.digest, "hex")));
      log.events.push(entry);
    }
    runtimeLog = serializeRuntimeLog(log);
    dir = mkdtempSync(join(tmpdir(), "kbs-e2e-"));
    const store = await openStore(join(dir, "kbs.db"));
    const verifier = new TdxEvidenceVerifier(new SimPlatforms([platform, debugPlatform, loggedPlatform]), {
      trustAnchors: [platform.rootCaPem, debugPlatform.rootCaPem, loggedPlatform.rootCaPem],
    });
    const service = await KbsService.create({
      store,
      kek: new KeyEncryptionKey(new Uint8Array(32).fill(1)),
      verifier,
      clock,
    });
    await service.putPolicy("resource", "disk-unlock", JSON.stringify(DISK_UNLOCK_POLICY));
    await service.putResource("default/disk/key", new TextEncoder().encode(DISK_KEY), {
      policyId: "disk-unlock",
    });
    await service.putPolicy(
      "resource",
      "golden",
      JSON.stringify({ rules: [{ name: "golden-mrtd", claim: "mr_td", in: ["ab".repeat(48)] }] }),
    );
    await service.putResource("default/disk/golden", new Uint8Array([7]), { policyId: "golden" });
    const { app } = await buildKbsApp({ service, adminAuth: new AdminAuth({ tokens: [ADMIN] }) });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const a = app.server.address();
    url = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
    close = async () => {
      await app.close();
      await store.close();
    };
  });
  afterAll(async () => {
    await close?.();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("releases the disk key to a verified TD, with the quote's measurements in the token", async () => {
    const { secret, token } = await new KbsClient({ url }).getResource(
      "default/disk/key",
      simSource(platform),
    );
    expect(new TextDecoder().decode(secret)).toBe(DISK_KEY);
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as Record<
      string,
      unknown
    >;
    expect(claims.tdx_mrtd).toBe(Buffer.from(platform.tdState.mrTd).toString("hex"));
    expect(claims.attester_tcb_status).toBe("UpToDate");
  });

  it("refuses a wrong nonce", async () => {
    const client = new KbsClient({ url });
    await client.auth();
    const key = generateTeeKeyPair();
    const nonce = Buffer.alloc(32, 5).toString("base64");
    const quote = platform.quote(expectedReportData(nonce, key.publicJwk, ""));
    expect((await rejectionOf(client.attestRaw(attestationMessage(nonce, key.publicJwk, quote)))).code).toBe(
      "KBS_NONCE_MISMATCH",
    );
  });

  it("answers the same evidence sent twice with the session's token, and refuses it on another session", async () => {
    const client = new KbsClient({ url });
    const { nonce } = await client.auth();
    const key = generateTeeKeyPair();
    const msg = attestationMessage(
      nonce,
      key.publicJwk,
      platform.quote(expectedReportData(nonce, key.publicJwk, "")),
    );
    const token = await client.attestRaw(msg);
    expect(await client.attestRaw(msg)).toMatch(/^ey/);
    expect(
      JSON.parse(Buffer.from((await client.attestRaw(msg)).split(".")[1]!, "base64url").toString()).jti,
    ).toBe(JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).jti);
    // The same evidence on a new session: its nonce is not that session's.
    const fresh = new KbsClient({ url });
    await fresh.auth();
    expect((await rejectionOf(fresh.attestRaw(msg))).code).toBe("KBS_NONCE_MISMATCH");
  });

  it("refuses an expired session", async () => {
    const client = new KbsClient({ url });
    const { nonce } = await client.auth();
    const key = generateTeeKeyPair();
    const msg = attestationMessage(
      nonce,
      key.publicJwk,
      platform.quote(expectedReportData(nonce, key.publicJwk, "")),
    );
    shift = 6 * 60 * 1000;
    try {
      expect((await rejectionOf(client.attestRaw(msg))).code).toBe("KBS_SESSION_EXPIRED");
    } finally {
      shift = 0;
    }
  });

  it("refuses a tampered quote (MRTD changed after signing)", async () => {
    const source: QuoteSource = {
      getQuote: async (rd) => {
        const quote = Uint8Array.from(platform.quote(rd));
        const at = parseQuote(quote).layout.find((f) => f.path === "body.mrTd")!;
        quote[at.offset]! ^= 0xff;
        return { quote };
      },
    };
    const e = await rejectionOf(new KbsClient({ url }).getResource("default/disk/key", source));
    expect(e.code).toBe("KBS_EVIDENCE_REJECTED");
    expect(e.data?.status).toBe(401);
  });

  it("a quote cut short keeps its shape to the client: the parser's field and offset in KBS_EVIDENCE_REJECTED", async () => {
    const client = new KbsClient({ url });
    const { nonce } = await client.auth();
    const key = generateTeeKeyPair();
    const quote = platform.quote(expectedReportData(nonce, key.publicJwk, "")).slice(0, 100);
    const parser = tdxErrorOf(() => parseQuote(quote));
    expect(parser.code).toBe("QUOTE_TRUNCATED");
    const e = await rejectionOf(client.attestRaw(attestationMessage(nonce, key.publicJwk, quote)));
    expect(e.code).toBe("KBS_EVIDENCE_REJECTED");
    expect(e.message).toMatch(/QUOTE_TRUNCATED/);
    expect([e.field, e.offset, e.hint]).toEqual([parser.field, parser.offset, parser.hint]);
    expect(e.data?.status).toBe(401);
  });

  it("refuses REPORTDATA that binds another tee-pubkey", async () => {
    const other = generateTeeKeyPair();
    const client = new KbsClient({ url });
    const { nonce } = await client.auth();
    const key = generateTeeKeyPair();
    const quote = platform.quote(expectedReportData(nonce, other.publicJwk, ""));
    const e = await rejectionOf(client.attestRaw(attestationMessage(nonce, key.publicJwk, quote)));
    expect(e.code).toBe("KBS_REPORTDATA_MISMATCH");
  });

  it("explains a policy denial: rule, expected, actual", async () => {
    const e = await rejectionOf(
      new KbsClient({ url }).getResource("default/disk/golden", simSource(platform)),
    );
    expect(e.code).toBe("KBS_RESOURCE_POLICY_DENIED");
    expect(e.data?.denials).toEqual([
      expect.objectContaining({
        rule: "golden-mrtd",
        expected: ["ab".repeat(48)],
        actual: Buffer.from(platform.tdState.mrTd).toString("hex"),
      }),
    ]);
  });

  it("answers 404 for an unknown resource", async () => {
    const e = await rejectionOf(
      new KbsClient({ url }).getResource("default/disk/missing", simSource(platform)),
    );
    expect(e.code).toBe("KBS_RESOURCE_NOT_FOUND");
    expect(e.data?.status).toBe(404);
  });

  it("refuses an unauthenticated admin call", async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer not-the-admin-token" }];
    for (const headers of attempts) {
      const res = await fetch(`${url}/kbs/v0/admin/resource/default/disk/key`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toMatch(/problem\+json/);
      expect(((await res.json()) as Record<string, unknown>).code).toBe("KBS_ADMIN_UNAUTHENTICATED");
    }
  });

  it("refuses a debug TD under the default attestation policy", async () => {
    const e = await rejectionOf(
      new KbsClient({ url }).getResource("default/disk/key", simSource(debugPlatform)),
    );
    expect(e.code).toBe("KBS_ATTESTATION_POLICY_DENIED");
    const denials = e.data?.denials as { rule: string; actual: unknown }[];
    expect(denials.some((d) => /debug|forbiddenTdAttributes/i.test(d.rule))).toBe(true);
  });

  it("replays an event log sent with the evidence and records the result in the token", async () => {
    const source: QuoteSource = {
      getQuote: async (rd) => ({
        quote: loggedPlatform.quote(rd),
        ccEventlog: new TextEncoder().encode(runtimeLog),
      }),
    };
    const { token } = await new KbsClient({ url }).getResource("default/disk/key", source);
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as {
      submods: { cpu0: Record<string, { tdx: { event_log: unknown } }> };
    };
    expect(claims.submods.cpu0["ear.veraison.annotated-evidence"]!.tdx.event_log).toMatchObject({
      replayed: true,
      matches: true,
      events: 2,
    });
  });

  it("refuses an event log that does not replay to the quote's RTMRs", async () => {
    const forged = runtimeLog.replace("config v7", "config v8");
    const source: QuoteSource = {
      getQuote: async (rd) => ({
        quote: loggedPlatform.quote(rd),
        ccEventlog: new TextEncoder().encode(forged),
      }),
    };
    const e = await rejectionOf(new KbsClient({ url }).getResource("default/disk/key", source));
    expect(e.code).toBe("KBS_EVENTLOG_MISMATCH");
  });

  it("counts collateral cache hits on /metrics", async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const hits = Number(/kbs_collateral_cache_hits (\d+)/.exec(text)?.[1]);
    expect(hits).toBeGreaterThan(0);
  });
});
