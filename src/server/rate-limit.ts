import { createHash } from "node:crypto";
import { TdxError } from "../errors.js";
import type { RequestContext } from "../kbs/service.js";

/**
 * A fixed-window request limit per client address, enough to blunt nonce flooding of /auth (each
 * challenge costs a database row). In-process: with several brokers each enforces its own window.
 */
export class RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    /** What is limited, for the message ("/auth", "/attest"). */
    readonly what = "/auth",
  ) {}

  /** Count one request from `key` at `now` (ms); throws KBS_RATE_LIMITED past the limit. */
  hit(key: string, now: number): void {
    if (this.max <= 0) return;
    let w = this.#windows.get(key);
    if (!w || w.resetAt <= now) {
      if (this.#windows.size > 100_000) this.#sweep(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.#windows.set(key, w);
    }
    w.count++;
    if (w.count > this.max) {
      const retryAfterSeconds = Math.max(1, Math.ceil((w.resetAt - now) / 1000));
      throw new TdxError(
        "KBS_RATE_LIMITED",
        `too many ${this.what} requests from ${key}: ${this.max} per ${this.windowMs / 1000} s`,
        {
          hint: `wait ${retryAfterSeconds} s before starting another attestation`,
          data: { retryAfterSeconds },
        },
      );
    }
  }

  #sweep(now: number) {
    for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k);
  }
}

/** One limit: at most `max` requests per `windowSeconds`; 0 disables it. */
export interface RateLimit {
  max: number;
  windowSeconds: number;
}

/** What the shared limiter needs of the store (src/kbs/store KbsStore.hitRateLimits). */
export interface RateLimitStore {
  hitRateLimits(
    hits: { key: string; windowMs: number }[],
    now: number,
  ): Promise<{ count: number; resetAt: number }[]>;
}

/**
 * Request limits kept in the broker's database, so that brokers behind one load balancer share a
 * client's budget and a restart does not reset it: fixed windows aligned to the epoch, counted with
 * one upsert per key (several keys in one commit). Keys are hashed, so what a client sends (a cookie)
 * never grows a row past 32 hex digits.
 */
export class SharedRateLimiter {
  constructor(readonly store: RateLimitStore) {}

  /** Count one request against each (name, key, limit); throws KBS_RATE_LIMITED when one is past its limit. */
  async hit(checks: { what: string; key: string; limit: RateLimit }[], now: number): Promise<void> {
    const limits = this.prepare(checks, now);
    if (limits) limits.check(await this.store.hitRateLimits(limits.hits, now));
  }

  /**
   * The same, for a write of the request's own to count (the broker's session insert and nonce consumption
   * do, in the same statement): the hits to count and the check that throws KBS_RATE_LIMITED on their counts.
   * undefined when no limit is on.
   */
  prepare(checks: { what: string; key: string; limit: RateLimit }[], now: number): RequestContext["limits"] {
    const active = checks.filter((c) => c.limit.max > 0);
    if (active.length === 0) return undefined;
    return {
      hits: active.map((c) => ({
        key: limitKey(c.what, c.key),
        windowMs: c.limit.windowSeconds * 1000,
        max: c.limit.max,
      })),
      now,
      check: (counts) =>
        active.forEach((c, i) => {
          const r = counts[i]!;
          if (r.count <= c.limit.max) return;
          const retryAfterSeconds = Math.max(1, Math.ceil((r.resetAt - now) / 1000));
          throw new TdxError(
            "KBS_RATE_LIMITED",
            `too many ${c.what} requests${c.key.startsWith("session:") ? " on this session" : " from this address"}: ${c.limit.max} per ${c.limit.windowSeconds} s`,
            {
              hint: `wait ${retryAfterSeconds} s before starting another attestation`,
              data: { retryAfterSeconds },
            },
          );
        }),
    };
  }
}

function limitKey(what: string, key: string): string {
  return `${what}:${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
}
