import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { TdxError } from "../errors.js";

/** The environment variable that may hold the key-encryption key (64 hex digits or base64 of 32 bytes). */
export const KEK_ENV = "TDX_ATTEST_KBS_KEK";

/** A sealed secret: AES-256-GCM under the KEK, bound by AAD to what it is (e.g. the resource path). */
export interface SealedBlob {
  kekId: string;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/**
 * The key-encryption key that protects resources (and the token signing key) at rest. Its id is a
 * short hash of the key so a broker started with the wrong KEK says so instead of failing to decrypt.
 */
export class KeyEncryptionKey {
  readonly id: string;
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32)
      throw new TdxError("KBS_KEK_INVALID", `the key-encryption key is ${key.length} bytes, expected 32`, {
        hint: "generate one with: head -c 32 /dev/urandom > kek && chmod 600 kek",
      });
    this.#key = Buffer.from(key);
    this.id = createHash("sha256").update("tdx-attest kek id").update(this.#key).digest("hex").slice(0, 16);
  }

  /**
   * Why this key is weak, or null: all bytes equal (an all-zero placeholder) or so few distinct byte
   * values that it cannot be random (32 random bytes have about 30; fewer than 12 happens by chance
   * with probability below 10^-24). The broker refuses a weak KEK in production.
   */
  weakness(): string | null {
    const distinct = new Set(this.#key).size;
    if (distinct === 1) return `all 32 bytes are 0x${this.#key[0]!.toString(16).padStart(2, "0")}`;
    if (distinct < 12) return `only ${distinct} distinct byte values: not random`;
    return null;
  }

  seal(plaintext: Uint8Array, aad: string): SealedBlob {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { kekId: this.id, iv, ciphertext, tag: cipher.getAuthTag() };
  }

  open(blob: SealedBlob, aad: string): Buffer {
    if (blob.kekId !== this.id)
      throw new TdxError(
        "KBS_KEK_MISMATCH",
        `this secret was sealed under key-encryption key ${blob.kekId}, the broker runs with ${this.id}`,
        { hint: "start the broker with the key-encryption key the store was created with" },
      );
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, blob.iv);
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(blob.tag);
      return Buffer.concat([decipher.update(blob.ciphertext), decipher.final()]);
    } catch (e) {
      throw new TdxError("KBS_SEALED_DATA_CORRUPT", `the sealed value for ${aad} failed authentication`, {
        cause: e,
        hint: "the database row was altered or belongs to another record; restore it from a backup",
      });
    }
  }
}

/** Parse a KEK given as 32 raw bytes, 64 hex digits or base64 (file contents may end with a newline). */
export function parseKek(material: Uint8Array | string, source: string): KeyEncryptionKey {
  const buf = typeof material === "string" ? Buffer.from(material, "utf8") : Buffer.from(material);
  if (buf.length === 32) return new KeyEncryptionKey(buf);
  const text = buf.toString("utf8").trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return new KeyEncryptionKey(Buffer.from(text, "hex"));
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const b = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (b.length === 32) return new KeyEncryptionKey(b);
  }
  throw new TdxError("KBS_KEK_INVALID", `the key-encryption key from ${source} is not 32 bytes`, {
    hint: "give 32 raw bytes, 64 hex digits or base64 of 32 bytes",
  });
}

/**
 * Load the KEK: an explicit file wins, then the environment. With `createIfMissingAt` (development
 * only) a fresh key is written there with mode 0600; `created` tells the caller to say so loudly.
 */
export function loadKek(opts: { file?: string; env?: NodeJS.ProcessEnv; createIfMissingAt?: string }): {
  kek: KeyEncryptionKey;
  source: string;
  created: boolean;
} {
  const env = opts.env ?? process.env;
  if (opts.file) {
    if (!existsSync(opts.file))
      throw new TdxError("KBS_KEK_MISSING", `key-encryption key file ${opts.file} does not exist`, {
        hint: "create it with: head -c 32 /dev/urandom > FILE && chmod 600 FILE",
      });
    return { kek: parseKek(readFileSync(opts.file), opts.file), source: opts.file, created: false };
  }
  const fromEnv = env[KEK_ENV];
  if (fromEnv) return { kek: parseKek(fromEnv, `$${KEK_ENV}`), source: `$${KEK_ENV}`, created: false };
  if (opts.createIfMissingAt) {
    const path = opts.createIfMissingAt;
    if (existsSync(path)) return { kek: parseKek(readFileSync(path), path), source: path, created: false };
    mkdirSync(dirname(path), { recursive: true });
    const key = randomBytes(32);
    writeFileSync(path, key.toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
    return { kek: new KeyEncryptionKey(key), source: path, created: true };
  }
  throw new TdxError("KBS_KEK_MISSING", "no key-encryption key was configured", {
    hint: `set kek.file in the config, pass --kek-file, or set ${KEK_ENV}`,
  });
}
