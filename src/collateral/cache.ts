/**
 * Expiry-driven cache of collateral artifacts (one entry per TCB Info, QE Identity, CRL), in memory and
 * optionally in a directory so that a restarted process or an offline host keeps what it fetched.
 *
 * An entry is served as is while it is young (fetched less than `maxAgeSeconds` ago) and not yet inside its
 * refresh window before `nextUpdate`. Otherwise it is fetched again; if every endpoint fails and the old
 * entry is still valid (now < nextUpdate) the old entry is served ("stale but valid"). Concurrent callers of
 * one key share a single fetch.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { TdxError } from "../errors.js";

/** One fetched collateral artifact, serialisable as JSON. */
export interface Artifact {
  /** Cache key, e.g. `tdx/tcb/B0C06F000000/standard`. */
  key: string;
  kind: "tcbInfo" | "qeIdentity" | "pckCrl" | "rootCaCrl";
  /** TCB Info / QE Identity: the whole response text. CRLs: lowercase hex of the DER. */
  body: string;
  /** PEM issuer chain from the response header (null for the root CA CRL, which the root itself signs). */
  issuerChain: string | null;
  /** Unix milliseconds when it was fetched. */
  fetchedAt: number;
  /** Unix milliseconds after which it is no longer valid (its nextUpdate). */
  nextUpdate: number;
  /** The URL it came from. */
  source: string;
}

export interface CacheStats {
  /** Served from memory or disk without a fetch. */
  hits: number;
  /** No entry at all: fetched. */
  misses: number;
  /** An entry existed but was due (refresh window, age or expiry): fetched again. */
  refreshes: number;
  /** A refresh failed on every endpoint and the old, still valid entry was served. */
  staleServed: number;
  /** Callers that joined a fetch already in flight for the same key. */
  joined: number;
  /** Fetches that failed (every endpoint). */
  fetchErrors: number;
  /** Entries loaded from the cache directory. */
  diskLoads: number;
  /** Unreadable, damaged or unwritable files in the cache directory (ignored, memory only). */
  diskErrors: number;
}

export interface CollateralCacheOptions {
  /** Directory for the on-disk copy; memory only when absent. */
  dir?: string;
  /**
   * Refresh this long before nextUpdate (seconds). Capped at half of the entry's remaining lifetime when
   * fetched, so short-lived collateral is not refetched on every call. Default 1 day.
   */
  refreshAheadSeconds?: number;
  /**
   * Refetch an entry older than this even if its nextUpdate is far away: Intel publishes new TCB data
   * (TCB recoveries, new advisories) before the old data expires. Default 1 day.
   */
  maxAgeSeconds?: number;
  /** Problems that do not fail a call (an unwritable cache directory). */
  onWarning?: (message: string) => void;
}

const DAY = 86_400;
const MIN_REFETCH_MS = 60_000;

export class CollateralCache {
  private readonly entries = new Map<string, Artifact>();
  private readonly inflight = new Map<string, Promise<Artifact>>();
  private readonly dir: string | undefined;
  private readonly refreshAheadMs: number;
  private readonly maxAgeMs: number;
  private readonly onWarning: ((message: string) => void) | undefined;
  private readonly counters: CacheStats = {
    hits: 0,
    misses: 0,
    refreshes: 0,
    staleServed: 0,
    joined: 0,
    fetchErrors: 0,
    diskLoads: 0,
    diskErrors: 0,
  };

  constructor(options: CollateralCacheOptions = {}) {
    this.dir = options.dir;
    this.refreshAheadMs = (options.refreshAheadSeconds ?? DAY) * 1000;
    this.maxAgeMs = (options.maxAgeSeconds ?? DAY) * 1000;
    this.onWarning = options.onWarning;
  }

  /** A copy of the counters. */
  stats(): CacheStats {
    return { ...this.counters };
  }

  /**
   * When an entry falls due for a refetch (unix ms). Never sooner than a minute after it was fetched: a
   * service that hands out already-expired data is not asked again for every artifact of every call.
   */
  refreshAt(a: Artifact): number {
    const lifetime = Math.max(0, a.nextUpdate - a.fetchedAt);
    const ahead = Math.min(this.refreshAheadMs, lifetime / 2);
    const due = Math.min(a.nextUpdate - ahead, a.fetchedAt + this.maxAgeMs);
    return Math.max(due, a.fetchedAt + Math.min(MIN_REFETCH_MS, this.maxAgeMs));
  }

  /**
   * The artifact for `key` at time `now` (unix ms): cached when fresh, else fetched with `fetcher`
   * (one fetch in flight per key), else the cached one while it is still valid.
   */
  async get(key: string, fetcher: () => Promise<Artifact>, now: number): Promise<Artifact> {
    const running = this.inflight.get(key);
    if (running) {
      this.counters.joined++;
      return running;
    }
    let entry = this.entries.get(key);
    if (entry === undefined && this.dir !== undefined) {
      // Load synchronously with respect to the in-flight map: register the whole operation first.
      const op = this.loadThenGet(key, fetcher, now);
      this.inflight.set(key, op);
      try {
        return await op;
      } finally {
        this.inflight.delete(key);
      }
    }
    if (entry !== undefined && now < this.refreshAt(entry)) {
      this.counters.hits++;
      return entry;
    }
    const op = this.fetchAndStore(key, fetcher, now, entry);
    this.inflight.set(key, op);
    try {
      entry = await op;
      return entry;
    } finally {
      this.inflight.delete(key);
    }
  }

  /** Every entry in memory (for listings and tests). */
  snapshot(): Artifact[] {
    return [...this.entries.values()].map((a) => ({ ...a }));
  }

  private async loadThenGet(key: string, fetcher: () => Promise<Artifact>, now: number): Promise<Artifact> {
    const fromDisk = await this.readDisk(key);
    if (fromDisk !== undefined) {
      this.entries.set(key, fromDisk);
      if (now < this.refreshAt(fromDisk)) {
        this.counters.hits++;
        return fromDisk;
      }
    }
    return this.fetchAndStore(key, fetcher, now, fromDisk);
  }

  private async fetchAndStore(
    key: string,
    fetcher: () => Promise<Artifact>,
    now: number,
    previous: Artifact | undefined,
  ): Promise<Artifact> {
    if (previous === undefined) this.counters.misses++;
    else this.counters.refreshes++;
    let fresh: Artifact;
    try {
      // The cache owns time: an artifact counts as fetched at the caller's `now`.
      fresh = { ...(await fetcher()), fetchedAt: now };
    } catch (e) {
      this.counters.fetchErrors++;
      if (previous !== undefined && now < previous.nextUpdate) {
        this.counters.staleServed++;
        return previous;
      }
      if (previous !== undefined && e instanceof TdxError) {
        throw new TdxError(
          e.code,
          `${e.message}; the cached ${key} expired at ${new Date(previous.nextUpdate).toISOString()}`,
          {
            hint: e.hint ?? "bring a collateral endpoint back, or verify offline with --collateral",
            cause: e,
            ...(e.data === undefined ? {} : { data: e.data }),
          },
        );
      }
      throw e;
    }
    if (fresh.key !== key) throw new Error(`fetcher for ${key} returned ${fresh.key}`);
    // Never replace a newer artifact with an older one (a lagging PCCS behind a fresher PCS).
    if (previous !== undefined && previous.nextUpdate > fresh.nextUpdate && now < previous.nextUpdate) {
      const kept = { ...previous, fetchedAt: fresh.fetchedAt };
      this.entries.set(key, kept);
      await this.writeDisk(kept);
      return kept;
    }
    this.entries.set(key, fresh);
    await this.writeDisk(fresh);
    return fresh;
  }

  /** File name of a key inside the cache directory. */
  static fileName(key: string): string {
    return `${key.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`;
  }

  private async readDisk(key: string): Promise<Artifact | undefined> {
    if (this.dir === undefined) return undefined;
    let text: string;
    try {
      text = await readFile(join(this.dir, CollateralCache.fileName(key)), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") this.counters.diskErrors++;
      return undefined;
    }
    const a = parseArtifactFile(text);
    if (a === undefined || a.key !== key) {
      this.counters.diskErrors++;
      return undefined;
    }
    this.counters.diskLoads++;
    return a;
  }

  /**
   * Write temp file, fsync, rename: readers see the old file or the new one, never half of one. A failed
   * write does not fail the caller (the fetched artifact is good and kept in memory): it is counted and
   * reported through `onWarning`, so a full or read-only disk cannot stop attestation.
   */
  private async writeDisk(a: Artifact): Promise<void> {
    if (this.dir === undefined) return;
    const target = join(this.dir, CollateralCache.fileName(a.key));
    const temp = `${target}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      const fh = await open(temp, "wx", 0o644);
      try {
        await fh.writeFile(`${JSON.stringify(a)}\n`, "utf8");
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, target);
    } catch (e) {
      await unlink(temp).catch(() => {});
      this.counters.diskErrors++;
      const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
      this.onWarning?.(
        `cannot write the collateral cache file ${target} (${code}); keeping it in memory only`,
      );
    }
  }
}

function parseArtifactFile(text: string): Artifact | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const kinds = ["tcbInfo", "qeIdentity", "pckCrl", "rootCaCrl"];
  if (
    typeof o.key !== "string" ||
    typeof o.kind !== "string" ||
    !kinds.includes(o.kind) ||
    typeof o.body !== "string" ||
    !(o.issuerChain === null || typeof o.issuerChain === "string") ||
    typeof o.fetchedAt !== "number" ||
    typeof o.nextUpdate !== "number" ||
    typeof o.source !== "string"
  )
    return undefined;
  return {
    key: o.key,
    kind: o.kind as Artifact["kind"],
    body: o.body,
    issuerChain: o.issuerChain as string | null,
    fetchedAt: o.fetchedAt,
    nextUpdate: o.nextUpdate,
    source: o.source,
  };
}
