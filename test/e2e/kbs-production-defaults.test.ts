import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newKeyPair } from "../../src/crypto/keygen.js";
import { openStore } from "../../src/kbs/store/index.js";
import { initSimPlatform } from "../../src/sim/index.js";
import { cliPath } from "../helpers/cli.js";
import { spawnBroker } from "../kbs/spawn-broker.js";

const TOKEN = "production-defaults-admin-token-01";
const clean = { TDX_ATTEST_KBS_KEK: "", TDX_ATTEST_KBS_ADMIN_TOKEN: "", TDX_ATTEST_MODE: "" };

/** What a production broker opens and refuses at start, probed as an outsider would (real processes, real HTTP). */
describe("production defaults of the key broker", () => {
  let dir: string;
  const file = (name: string, content: string | Uint8Array, mode = 0o600) => {
    const p = join(dir, name);
    writeFileSync(p, content, { mode });
    chmodSync(p, mode);
    return p;
  };
  const config = (extra: Record<string, unknown>) =>
    file(
      `config-${randomBytes(4).toString("hex")}.json`,
      JSON.stringify({
        dataDir: join(dir, `data-${randomBytes(4).toString("hex")}`),
        kek: { file: join(dir, "kek") },
        admin: { tokenFile: join(dir, "admin-token") },
        collateral: { urls: ["http://127.0.0.1:9"] },
        logLevel: "warn",
        ...extra,
      }),
    );
  /** The error a broker that refuses to start prints. */
  const refusal = async (args: string[], env: Record<string, string> = clean) => {
    try {
      const b = await spawnBroker(args, env);
      await b.stop("SIGKILL");
    } catch (e) {
      return (e as Error).message;
    }
    return "started";
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kbs-prod-defaults-"));
    file("kek", randomBytes(32));
    file("admin-token", `${TOKEN}\n`);
    await initSimPlatform(join(dir, "sim"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("opens neither the explorer nor /metrics in production unless configured; the Node version is never named there", async () => {
    const closed = await spawnBroker(["--config", config({})], clean);
    try {
      expect((await fetch(`${closed.url}/`)).status).toBe(404);
      expect((await fetch(`${closed.url}/metrics`)).status).toBe(404);
      const verify = await fetch(`${closed.url}/api/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ quote: "00" }),
      });
      expect(verify.status).toBe(404);
      expect((await fetch(`${closed.url}/livez`)).status).toBe(200);
    } finally {
      await closed.stop("SIGKILL");
    }
    const open = await spawnBroker(["--config", config({ explorer: true, metrics: true })], clean);
    try {
      expect((await fetch(`${open.url}/`)).status).toBe(200);
      const m = await (await fetch(`${open.url}/metrics`)).text();
      expect(m).toMatch(/kbs_collateral_cache_hits/);
      expect(m).not.toMatch(/nodejs_version_info/);
    } finally {
      await open.stop("SIGKILL");
    }
    // Development keeps both.
    const dev = await spawnBroker(["--data", join(dir, "dev"), "--sim-dir", join(dir, "sim")], clean);
    try {
      expect((await fetch(`${dev.url}/`)).status).toBe(200);
      expect(await (await fetch(`${dev.url}/metrics`)).text()).toMatch(/nodejs_version_info/);
    } finally {
      await dev.stop("SIGKILL");
    }
  });

  it("refuses secret files others can read, and weak key-encryption keys", async () => {
    file("kek-loose", randomBytes(32), 0o644);
    file("token-loose", `${TOKEN}\n`, 0o640);
    file("kek-zero", new Uint8Array(32), 0o600);
    const looseKek = await refusal(["--config", config({ kek: { file: join(dir, "kek-loose") } })]);
    expect(looseKek).toMatch(/KBS_SECRET_FILE_MODE/);
    expect(looseKek).toContain(join(dir, "kek-loose"));
    expect(looseKek).toMatch(/0644/);
    const looseToken = await refusal([
      "--config",
      config({ admin: { tokenFile: join(dir, "token-loose") } }),
    ]);
    expect(looseToken).toMatch(/KBS_SECRET_FILE_MODE/);
    expect(looseToken).toContain(join(dir, "token-loose"));
    expect(await refusal(["--config", config({ kek: { file: join(dir, "kek-zero") } })])).toMatch(
      /KBS_KEK_WEAK.*all 32 bytes are 0x00/,
    );
    // From the environment too.
    const viaEnv = config({ kek: undefined });
    expect(await refusal(["--config", viaEnv], { ...clean, TDX_ATTEST_KBS_KEK: "00".repeat(32) })).toMatch(
      /KBS_KEK_WEAK/,
    );
  });

  it("creates kbs.db (and its WAL) 0600 in a data directory that already existed with a loose mode", async () => {
    const data = join(dir, "loose-data");
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o755);
    const b = await spawnBroker(["--config", config({ dataDir: data })], clean);
    try {
      expect(b.stderr()).toMatch(/data directory .* is open to others \(mode 0755\)/);
      expect(statSync(join(data, "kbs.db")).mode & 0o777).toBe(0o600);
      expect(statSync(join(data, "kbs.db-wal")).mode & 0o777).toBe(0o600);
    } finally {
      await b.stop("SIGKILL");
    }
  });

  it("refuses admin public keys that can never verify, naming the file and why", async () => {
    const ed = newKeyPair({ type: "ed25519" });
    const cases: [string, string, RegExp][] = [
      ["private.pem", ed.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), /is a PRIVATE key/],
      [
        "rsa1024.pem",
        newKeyPair({ type: "rsa", modulusLength: 1024 })
          .publicKey.export({ type: "spki", format: "pem" })
          .toString(),
        /is RSA-1024: at least 2048 bits/,
      ],
      [
        "p521.pem",
        newKeyPair({ type: "ec", namedCurve: "P-521" })
          .publicKey.export({ type: "spki", format: "pem" })
          .toString(),
        /EC key on secp521r1/,
      ],
      ["not-pem.pem", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG admin@host\n", /is not a PEM public key/],
    ];
    for (const [name, pem, why] of cases) {
      const path = file(name, pem);
      const out = await refusal([
        "--config",
        config({ admin: { tokenFile: join(dir, "admin-token"), publicKeyFiles: [path] } }),
      ]);
      expect(out).toMatch(/KBS_CONFIG_INVALID/);
      expect(out).toContain(path);
      expect(out).toMatch(why);
      expect(out).not.toMatch(/KBS_INTERNAL|internal/i);
    }
  });

  it("stores an admin's JWT subject raw in the audit log and prints it with control characters escaped", async () => {
    const admin = newKeyPair({ type: "ec", namedCurve: "P-256" });
    const pub = file(
      "audit-admin.pub.pem",
      admin.publicKey.export({ type: "spki", format: "pem" }).toString(),
    );
    const data = join(dir, "audit-data");
    const env = { ...clean, TDX_ATTEST_KBS_ADMIN_TOKEN: TOKEN };
    const b = await spawnBroker(
      ["--data", data, "--sim-dir", join(dir, "sim"), "--admin-public-key", pub],
      env,
    );
    const evil = "mallory\u001b[2J\u001b[H\nfake\tline\u202e";
    try {
      const iat = Math.floor(Date.now() / 1000);
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: "ES256" })
        .setSubject(evil)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 60)
        .sign(admin.privateKey);
      const put = await fetch(`${b.url}/kbs/v0/resource/audit/evil/sub`, {
        method: "PUT",
        headers: { authorization: `Bearer ${jwt}`, "content-type": "application/octet-stream" },
        body: "x",
      });
      expect(put.status).toBe(200);
      const run = (args: string[]) =>
        promisify(execFile)(process.execPath, [cliPath, "kbs", ...args, "--kbs", b.url], {
          env: { ...process.env, ...env },
        });
      const human = (await run(["audit"])).stdout;
      const line = human.split("\n").find((l) => l.includes("resource put audit/evil/sub"))!;
      expect(line).toBeDefined();
      expect(line).not.toMatch(/[\u001b\u202e]/);
      expect(line).toContain("mallory\\x1b[2J\\x1b[H\\x0afake\\x09line\\u202e");
      expect(human.split("\n").some((l) => l.startsWith("fake"))).toBe(false);
      const json = JSON.parse((await run(["audit", "--json"])).stdout) as { actor: string | null }[];
      expect(json.some((e) => e.actor?.endsWith(`:${evil}`))).toBe(true);
    } finally {
      await b.stop("SIGKILL");
    }
    const store = await openStore(join(data, "kbs.db"));
    try {
      const rows = await store.listAudit({ limit: 1000 });
      expect(rows.some((r) => r.actor?.endsWith(`:${evil}`))).toBe(true);
    } finally {
      await store.close();
    }
  });
});
