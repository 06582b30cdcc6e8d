import { spawn } from "node:child_process";
import { createPublicKey, sign, verify } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { newKeyPair } from "../../src/crypto/keygen.js";
import { projectRoot } from "../helpers/vectors.js";

const KEYGEN_JS = join(projectRoot, "dist", "crypto", "keygen.js");
const NODE_MAJOR = Number(process.versions.node.split(".")[0]);

/**
 * A child process that makes EC keys and exports both as JWK, round after round, printing its round count every
 * 250 rounds. `plain` takes the keys from generateKeyPairSync as they come; `newKeyPair` from src/crypto/keygen.ts
 * (built). A small young generation and garbage of random size per round make collections start at varying
 * points, so some start inside an export while the job that made the key has just become unreachable.
 */
function loopScript(kind: "plain" | "newKeyPair", rounds: number): string {
  return `
import { generateKeyPairSync } from "node:crypto";
const { newKeyPair } = await import(${JSON.stringify(pathToFileURL(KEYGEN_JS).href)});
const make = ${JSON.stringify(kind)} === "plain"
  ? () => generateKeyPairSync("ec", { namedCurve: "P-256" })
  : () => newKeyPair({ type: "ec", namedCurve: "P-256" });
let sink = [];
for (let i = 1; i <= ${rounds}; i++) {
  const { privateKey, publicKey } = make();
  if (!privateKey.export({ format: "jwk" }).d || !publicKey.export({ format: "jwk" }).x) throw new Error("no JWK");
  sink = Array.from({ length: Math.floor(Math.random() * 50) }, (_, k) => ({ k }));
  if (i % 250 === 0) process.stdout.write(i + "\\n");
}
process.stdout.write("done " + sink.length + "\\n");
`;
}

interface LoopOutcome {
  outcome: "done" | "deadlocked" | "failed";
  rounds: number;
  detail: string;
}

/** Where the child's main thread sleeps in the kernel (Linux), e.g. futex_do_wait; "" where unknown. */
function wchan(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/wchan`, "utf8");
  } catch {
    return "";
  }
}

/**
 * Run the loop. "deadlocked": no progress for `stallMs` with the main thread asleep in a futex wait (where
 * /proc says; elsewhere the stall alone), then killed; a child that is merely slow (a loaded machine) is
 * waited for up to `hardMs`.
 */
function runLoop(kind: "plain" | "newKeyPair", rounds: number, stallMs = 8_000, hardMs = 150_000) {
  if (!existsSync(KEYGEN_JS))
    throw new Error(`${KEYGEN_JS} is missing: run "npm run build" first (npm test does)`);
  return new Promise<LoopOutcome>((resolve) => {
    const child = spawn(
      process.execPath,
      ["--max-semi-space-size=1", "--input-type=module", "-e", loopScript(kind, rounds)],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    let lastProgress = Date.now();
    let verdict: LoopOutcome["outcome"] | null = null;
    const started = Date.now();
    const count = () =>
      Number(
        out
          .trim()
          .split("\n")
          .filter((l) => /^\d+$/.test(l))
          .at(-1) ?? 0,
      );
    child.stdout.on("data", (d) => {
      out += d;
      lastProgress = Date.now();
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const watch = setInterval(() => {
      const stalled = Date.now() - lastProgress > stallMs;
      const where = child.pid ? wchan(child.pid) : "";
      if (stalled && (where === "" || where.includes("futex"))) verdict = "deadlocked";
      else if (Date.now() - started > hardMs) verdict = "failed";
      else return;
      err += `\n[killed after ${Date.now() - started} ms, ${Date.now() - lastProgress} ms without progress, main thread in ${where || "?"}]`;
      child.kill("SIGKILL");
      clearInterval(watch);
    }, 500);
    child.on("close", (code) => {
      clearInterval(watch);
      const done = code === 0 && /^done /m.test(out);
      resolve({
        outcome: verdict ?? (done ? "done" : "failed"),
        rounds: count(),
        detail: `exit ${code}${err}`,
      });
    });
  });
}

describe("newKeyPair", () => {
  it("makes working RSA, EC and Ed25519 key pairs whose public half is the private key's", () => {
    const rsa = newKeyPair({ type: "rsa", modulusLength: 2048 });
    expect(rsa.privateKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const ec = newKeyPair({ type: "ec", namedCurve: "P-256" });
    expect(ec.privateKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const ed = newKeyPair({ type: "ed25519" });
    expect(ed.privateKey.asymmetricKeyType).toBe("ed25519");
    for (const [{ privateKey, publicKey }, hash] of [
      [rsa, "sha256"],
      [ec, "sha256"],
      [ed, null],
    ] as const) {
      expect(privateKey.type).toBe("private");
      expect(publicKey.equals(createPublicKey(privateKey))).toBe(true);
      const sig = sign(hash, Buffer.from("message"), privateKey);
      expect(verify(hash, Buffer.from("message"), publicKey, sig)).toBe(true);
      expect(verify(hash, Buffer.from("massage"), publicKey, sig)).toBe(false);
    }
  });

  it("makes EC keys on every JWK curve (by JWK or OpenSSL name), d at full length even when it starts with zero bytes", () => {
    for (const [name, openssl, bytes] of [
      ["P-256", "prime256v1", 32],
      ["prime256v1", "prime256v1", 32],
      ["secp256r1", "prime256v1", 32],
      ["P-384", "secp384r1", 48],
      ["P-521", "secp521r1", 66],
    ] as const) {
      const { privateKey, publicKey } = newKeyPair({ type: "ec", namedCurve: name });
      expect(privateKey.asymmetricKeyDetails?.namedCurve, name).toBe(openssl);
      expect(publicKey.equals(createPublicKey(privateKey)), name).toBe(true);
      expect(Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url").length, name).toBe(bytes);
      const sig = sign("sha256", Buffer.from("message"), privateKey);
      expect(verify("sha256", Buffer.from("message"), publicKey, sig), name).toBe(true);
    }
    // One key in 256 has a private scalar whose first byte is zero (ECDH drops it): 3,000 keys meet ~12.
    let shortScalars = 0;
    for (let i = 0; i < 3000; i++) {
      const { privateKey, publicKey } = newKeyPair({ type: "ec", namedCurve: "P-256" });
      const d = Buffer.from(privateKey.export({ format: "jwk" }).d!, "base64url");
      if (d[0] === 0) {
        shortScalars++;
        expect(publicKey.equals(createPublicKey(privateKey))).toBe(true);
        const sig = sign("sha256", Buffer.from("m"), privateKey);
        expect(verify("sha256", Buffer.from("m"), publicKey, sig)).toBe(true);
      }
    }
    expect(shortScalars).toBeGreaterThan(0);
    // A curve JWK does not name still works (the PKCS#8 path).
    expect(
      newKeyPair({ type: "ec", namedCurve: "secp256k1" }).privateKey.asymmetricKeyDetails?.namedCurve,
    ).toBe("secp256k1");
  });

  // The control: the loop does catch the deadlock on Node 20 (where CI runs), so the next test means something.
  it.runIf(NODE_MAJOR === 20)(
    "the loop catches Node 20's deadlock: a key fresh from generateKeyPairSync, exported as JWK while the GC collects its job",
    async () => {
      const r = await runLoop("plain", 40_000);
      expect(r.outcome, `rounds ${r.rounds}; ${r.detail}`).toBe("deadlocked");
    },
    180_000,
  );

  it("its keys never deadlock in the same loop (10,000 rounds)", async () => {
    const r = await runLoop("newKeyPair", 10_000);
    expect(r.outcome, `rounds ${r.rounds}; ${r.detail}`).toBe("done");
  }, 180_000);
});

describe("the project makes keys only through newKeyPair", () => {
  it("has no generateKeyPairSync / generateKeyPair call in src, test or bench but keygen.ts and this test", () => {
    const calls: string[] = [];
    for (const dir of ["src", "test", "bench", "scripts"]) {
      for (const name of readdirSync(join(projectRoot, dir), { recursive: true, encoding: "utf8" })) {
        const file = join(projectRoot, dir, name);
        if (!/\.(ts|mjs|js)$/.test(name) || /(^|\/)keygen(\.test)?\.ts$/.test(name)) continue;
        const text = readFileSync(file, "utf8");
        for (const m of text.matchAll(/\bgenerateKeyPair(Sync)?\(\s*["'`]/g)) {
          calls.push(`${relative(projectRoot, file)}:${text.slice(0, m.index).split("\n").length}`);
        }
      }
    }
    expect(calls).toEqual([]);
  });
});
