/**
 * What a quote request reports besides the bytes: which interface produced them, how many attempts it took
 * (and why the others failed), what was cut or cleaned up on the way, and whether `auto` had to fall back.
 */
import { TdxError } from "../errors.js";

/** One failed attempt that was retried. */
export interface QuoteRetry {
  attempt: number;
  code: string;
  errno?: string;
  /** How long we waited before the next attempt. */
  waitedMs: number;
}

/** `auto` tried configfs-tsm first and fell back to /dev/tdx_guest + QGS. */
export interface QuoteFallback {
  from: string;
  code: string;
  message: string;
}

export interface QuoteResult {
  quote: Uint8Array;
  /** The provider whose interface produced the quote ("configfs", "device", "legacy", "qgs", "sim"). */
  path: string;
  /** The interface in words, e.g. "configfs-tsm /sys/kernel/config/tsm/report" or "/dev/tdx_guest TDREPORT + QGS at vsock:2:4050". */
  via: string;
  attempts: number;
  retries: QuoteRetry[];
  /** Bytes dropped after the quote, leftover instances cleaned up or left, and the like. */
  warnings: string[];
  fallback?: QuoteFallback;
}

/** Timing hooks; tests pass a virtual clock so a 30-second kernel wait costs nothing. */
export interface GuestClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export const realClock: GuestClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Bounded retries of transient failures: `attempts` in all, waiting `backoffMs`, then twice that, ... */
export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, backoffMs: 1000 };

export function backoffFor(policy: RetryPolicy, attempt: number): number {
  return policy.backoffMs * 2 ** (attempt - 1);
}

/** A copy of `e` with `extra` merged into its data (TdxError fields are read-only). */
export function withData(e: TdxError, extra: Record<string, unknown>): TdxError {
  return new TdxError(e.code, e.message, {
    ...(e.field !== undefined ? { field: e.field } : {}),
    ...(e.offset !== undefined ? { offset: e.offset } : {}),
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
    cause: e.cause ?? e,
    data: { ...(e.data ?? {}), ...extra },
  });
}
