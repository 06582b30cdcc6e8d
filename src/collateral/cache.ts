/**
 * Expiry-driven cache of collateral artifacts (one entry per TCB Info, QE Identity, CRL), in memory and
 * optionally in a directory so that a restarted process or an offline host keeps what it fetched.
 *
 * An entry is served as is while it is young (fetched less than `maxAgeSeconds` ago) and not yet inside its
 * refresh window before `nextUpdate`. Otherwise it is fetched again; if the fetch fails, or the answer does
 * not verify (`validate`), the old entry is kept and served while it is still valid (now < nextUpdate,
 * "stale but valid"). Concurrent callers of one key share a single fetch; after a failure the key backs
 * off (doubling, Retry-After honoured, a 404 remembered a while) and is not fetched again meanwhile.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { asTdxError, TdxError } from "../errors.js";

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
  /**
   * A still valid entry served while its refresh failed, was backing off, or took longer than
   * `refreshWaitMs` (the refresh goes on in the background).
   */
  staleServed: number;
  /** Callers that joined a fetch already in flight for the same key. */
  joined: number;
  /** Fetches that failed (every endpoint, or the answer was refused). */
  fetchErrors: number;
  /** Answers (fetched or read from the cache directory) refused because they did not verify. */
  rejected: number;
  /** Calls answered from a remembered failure without asking again (backoff, a remembered 404). */
  backoffRefused: number;
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
  /**
   * After a failed fetch of a key, do not ask again for this long (seconds), doubling with each further
   * failure up to `maxBackoffSeconds`; a Retry-After the service sent (429, 503) is honoured when longer
   * (up to an hour). Meanwhile a still valid entry is served at once, and without one the remembered
   * error is raised at once. Default 10.
   */
  backoffSeconds?: number;
  /** Longest backoff (seconds). Default 600. */
  maxBackoffSeconds?: number;
  /** How long a 404 (PCS_NOT_FOUND: an FMSPC the service does not know) is remembered (seconds). Default 300. */
  notFoundSeconds?: number;
  /**
   * When a still valid entry is due for a refresh, wait at most this long (ms) for the refresh; past it
   * the valid entry is served and the refresh finishes in the background. Default 1000.
   */
  refreshWaitMs?: number;
  /**
   * Checks an artifact before it is kept or served (a fetched answer or a file from the cache
   * directory); throws to refuse it. The service passes its trust gate (./trust.ts) here.
   */
  validate?: (a: Artifact) => void;
  /** Problems that do not fail a call (an unwritable cache directory, a refused answer). */
  onWarning?: (message: string) => void;
}

const DAY = 86_400;
const MIN_REFETCH_MS = 60_000;
const MAX_RETRY_AFTER_MS = 3_600_000;
/** Remembered failures kept at most (keys are chosen by verified quotes, but stay bounded anyway). */
const MAX_FAILURES = 4096;

/** A failed fetch, remembered: no new attempt before `retryAt`. */
interface Failure {
  count: number;
  retryAt: number;
  error: TdxError;
}

type FetchOutcome = { ok: true; artifact: Artifact } | { ok: false; error: TdxError };

export class CollateralCache {
  private readonly entries = new Map<string, Artifact>();
  private readonly inflight = new Map<string, Promise<FetchOutcome>>();
  private readonly loading = new Map<string, Promise<Artifact | undefined>>();
  private readonly failures = new Map<string, Failure>();
  private readonly dir: string | undefined;
  private readonly refreshAheadMs: number;
  private readonly maxAgeMs: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly notFoundMs: number;
  private readonly refreshWaitMs: number;
  private readonly validate: ((a: Artifact) => void) | undefined;
  private readonly onWarning: ((message: string) => void) | undefined;
  private readonly counters: CacheStats = {
    hits: 0,
    misses: 0,
    refreshes: 0,
    staleServed: 0,
    joined: 0,
    fetchErrors: 0,
    rejected: 0,
    backoffRefused: 0,
    diskLoads: 0,
    diskErrors: 0,
  };

  constructor(options: CollateralCacheOptions = {}) {
    this.dir = options.dir;
    this.refreshAheadMs = (options.refreshAheadSeconds ?? DAY) * 1000;
    this.maxAgeMs = (options.maxAgeSeconds ?? DAY) * 1000;
    this.backoffMs = (options.backoffSeconds ?? 10) * 1000;
    this.maxBackoffMs = Math.max(this.backoffMs, (options.maxBackoffSeconds ?? 600) * 1000);
    this.notFoundMs = (options.notFoundSeconds ?? 300) * 1000;
    this.refreshWaitMs = options.refreshWaitMs ?? 1000;
    this.validate = options.validate;
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

  /** Until when (unix ms) a key is not fetched again after failures, or undefined. */
  retryAt(key: string): number | undefined {
    return this.failures.get(key)?.retryAt;
  }

  /**
   * The artifact for `key` at time `now` (unix ms): cached when fresh, else fetched with `fetcher`
   * (one fetch in flight per key, none while the key backs off after a failure), else the cached one
   * while it is still valid. An answer that `validate` refuses never replaces anything.
   */
  async get(key: string, fetcher: () => Promise<Artifact>, now: number): Promise<Artifact> {
    let entry = this.entries.get(key);
    if (entry === undefined && this.dir !== undefined && !this.inflight.has(key))
      entry = await this.loadOnce(key);
    if (entry !== undefined && now < this.refreshAt(entry)) {
      this.counters.hits++;
      return entry;
    }
    const valid = entry !== undefined && now < entry.nextUpdate ? entry : undefined;
    let op = this.inflight.get(key);
    if (op) this.counters.joined++;
    else {
      const failure = this.failures.get(key);
      if (failure !== undefined && now < failure.retryAt) {
        if (valid) {
          this.counters.staleServed++;
          return valid;
        }
        this.counters.backoffRefused++;
        throw remembered(failure, key, now);
      }
      op = this.fetchAndStore(key, fetcher, now, entry);
      this.inflight.set(key, op);
      void op.finally(() => this.inflight.delete(key));
    }
    if (valid === undefined) {
      const out = await op;
      if (out.ok) return out.artifact;
      throw expiredNote(out.error, key, entry);
    }
    // A valid entry is at hand: wait for the refresh only so long, then serve what is valid.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = await Promise.race([
      op,
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), this.refreshWaitMs);
      }),
    ]);
    clearTimeout(timer);
    if (waited?.ok) return waited.artifact;
    this.counters.staleServed++;
    return valid;
  }

  /** Every entry in memory (for listings and tests). */
  snapshot(): Artifact[] {
    return [...this.entries.values()].map((a) => ({ ...a }));
  }

  /** One read of the cache directory per key at a time; a file that does not verify is ignored. */
  private loadOnce(key: string): Promise<Artifact | undefined> {
    let p = this.loading.get(key);
    if (!p) {
      p = this.readDisk(key).then((a) => {
        if (a === undefined) return undefined;
        try {
          this.validate?.(a);
        } catch (e) {
          this.counters.rejected++;
          this.onWarning?.(
            `ignoring the cached ${key} in ${this.dir}: ${e instanceof Error ? e.message : String(e)}`,
          );
          return undefined;
        }
        this.counters.diskLoads++;
        // A fetch may have stored a newer entry meanwhile.
        const current = this.entries.get(key);
        if (current !== undefined) return current;
        this.entries.set(key, a);
        return a;
      });
      this.loading.set(key, p);
      void p.finally(() => this.loading.delete(key));
    }
    return p;
  }

  /** Fetch, check, store; never rejects: the outcome says what happened (and failures are remembered). */
  private async fetchAndStore(
    key: string,
    fetcher: () => Promise<Artifact>,
    now: number,
    previous: Artifact | undefined,
  ): Promise<FetchOutcome> {
    if (previous === undefined) this.counters.misses++;
    else this.counters.refreshes++;
    let fresh: Artifact;
    try {
      // The cache owns time: an artifact counts as fetched at the caller's `now`.
      fresh = { ...(await fetcher()), fetchedAt: now };
      if (fresh.key !== key)
        throw new TdxError("COLLATERAL_FORMAT", `the fetch for ${key} returned ${fresh.key}`, {
          field: "key",
          hint: "report this: the fetcher and the cache key disagree",
        });
      this.validate?.(fresh);
    } catch (thrown) {
      this.counters.fetchErrors++;
      // A fetcher (or validator) of the caller's that throws something untyped still fails as a TdxError.
      const e = asTdxError(thrown, "COLLATERAL_FETCH_FAILED", `fetching ${key} failed`, {
        field: "fetcher",
        hint: "the collateral fetcher failed without a TdxError; check the fetcher passed to the cache",
      });
      if (e.code === "COLLATERAL_REJECTED") {
        // Counted and said: a service answering with collateral that does not verify is news.
        this.counters.rejected++;
        this.onWarning?.(
          `refused ${key}: ${e.message}${previous ? `; keeping the entry fetched at ${new Date(previous.fetchedAt).toISOString()}, valid until ${new Date(previous.nextUpdate).toISOString()}` : "; nothing cached for it"}`,
        );
      }
      this.remember(key, e, now);
      return { ok: false, error: e };
    }
    this.failures.delete(key);
    // Never replace a newer artifact with an older one (a lagging PCCS behind a fresher PCS), nor a
    // valid one with an answer that has already expired.
    if (previous !== undefined && previous.nextUpdate > fresh.nextUpdate && now < previous.nextUpdate) {
      const kept = { ...previous, fetchedAt: fresh.fetchedAt };
      this.entries.set(key, kept);
      await this.writeDisk(kept);
      return { ok: true, artifact: kept };
    }
    this.entries.set(key, fresh);
    await this.writeDisk(fresh);
    return { ok: true, artifact: fresh };
  }

  /** Remember a failure: no new attempt for the backoff (doubling), a Retry-After, or a 404's time. */
  private remember(key: string, error: TdxError, now: number): void {
    const count = (this.failures.get(key)?.count ?? 0) + 1;
    const te = error;
    let wait =
      te.code === "PCS_NOT_FOUND"
        ? this.notFoundMs
        : Math.min(this.maxBackoffMs, this.backoffMs * 2 ** Math.min(count - 1, 30));
    const retryAfter = te.data?.retryAfterSeconds;
    if (typeof retryAfter === "number" && Number.isFinite(retryAfter) && retryAfter > 0)
      wait = Math.max(wait, Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS));
    if (!this.failures.has(key) && this.failures.size >= MAX_FAILURES) {
      // Drop the one that ends first (the least useful to remember).
      let first: string | undefined;
      let at = Number.POSITIVE_INFINITY;
      for (const [k, f] of this.failures)
        if (f.retryAt < at) {
          at = f.retryAt;
          first = k;
        }
      if (first !== undefined) this.failures.delete(first);
    }
    this.failures.set(key, { count, retryAt: now + wait, error });
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

/** The remembered error of a key that backs off, saying until when it is not asked again. */
function remembered(f: Failure, key: string, now: number): TdxError {
  const e = f.error;
  const at = new Date(f.retryAt).toISOString();
  return new TdxError(e.code, `${e.message} (remembered: ${key} is not fetched again before ${at})`, {
    ...(e.field === undefined ? {} : { field: e.field }),
    hint: e.hint ?? "wait, or bring a collateral endpoint back",
    cause: e,
    data: {
      ...(e.data ?? {}),
      retryAt: at,
      retryAfterSeconds: Math.max(1, Math.ceil((f.retryAt - now) / 1000)),
    },
  });
}

/** A fetch error, saying that the cached entry (if any) has expired too. */
function expiredNote(e: TdxError, key: string, previous: Artifact | undefined): TdxError {
  if (previous === undefined) return e;
  return new TdxError(
    e.code,
    `${e.message}; the cached ${key} expired at ${new Date(previous.nextUpdate).toISOString()}`,
    {
      hint: e.hint ?? "bring a collateral endpoint back, or verify offline with --collateral",
      cause: e,
      ...(e.data === undefined ? {} : { data: e.data }),
    },
  );
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
