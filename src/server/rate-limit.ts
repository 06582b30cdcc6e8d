import { TdxError } from "../errors.js";

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
