import type { QueryOptions, Row, SqlDb, SqlValue } from "./sql.js";

// Rate-limit windows in the store: fixed windows aligned to the epoch, one row per key, counted by an upsert
// (alone, see KbsStore.hitRateLimits, or in the statement of the write the limits guard).

/**
 * A request counted against a limit in the same statement (PostgreSQL) or commit (SQLite) as the write the
 * limit guards, which happens only when every count is within its `max` (see createSession, consumeSession).
 */
export interface LimitHit {
  key: string;
  windowMs: number;
  max: number;
}

/** The hits of one request and the time (ms) it counts at. */
export interface LimitsAt {
  hits: LimitHit[];
  now: number;
}

/** A limit's count in its current window, and when that window ends (ms). */
export interface LimitCount {
  count: number;
  resetAt: number;
}

/** A window to count in: a key without a limit (counting alone) or a LimitHit (the write it guards needs `max`). */
type Countable = Pick<LimitHit, "key" | "windowMs">;

/** The hits' fixed windows at one time, and how to read the counts back from rows. */
export interface LimitWindows<H extends Countable = Countable> {
  list: { hit: H; key: string; start: number; end: number }[];
  /** Every key once: one upsert can count them all (PostgreSQL refuses to update a row twice in one). */
  distinct: boolean;
  counts: (rows: Row[]) => LimitCount[];
}

/** Each hit's fixed window (aligned to the epoch) at `now`. */
export function limitWindows<H extends Countable>(hits: readonly H[], now: number): LimitWindows<H> {
  const list = hits.map((hit) => {
    const start = Math.floor(now / hit.windowMs) * hit.windowMs;
    return { hit, key: hit.key, start, end: start + hit.windowMs };
  });
  return {
    list,
    distinct: new Set(list.map((w) => w.key)).size === list.length,
    counts: (rows) => {
      const counted = new Map<string, LimitCount>();
      for (const r of rows)
        counted.set(String(r.key), { count: Number(r.count), resetAt: Number(r.expires_at) });
      return list.map((w) => counted.get(w.key) ?? { count: 1, resetAt: w.end });
    },
  };
}

/** Every count within the max of the hit at its place. */
export function withinLimits(counts: LimitCount[], hits: LimitHit[]): boolean {
  return counts.every((c, i) => c.count <= hits[i]!.max);
}

/**
 * Count one request in each window. Several brokers share the windows (a client gets one budget, not one
 * per broker); a broker whose clock lags never reopens a newer window.
 */
export function rateLimitUpsert(max: "GREATEST" | "MAX", values: string): string {
  return `INSERT INTO rate_limits (key, window_start, expires_at, count) VALUES ${values}
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.count + 1 ELSE 1 END,
           window_start = ${max}(rate_limits.window_start, excluded.window_start),
           expires_at = ${max}(rate_limits.expires_at, excluded.expires_at)
         RETURNING key, count, expires_at`;
}

/** `n` rows of (key, window start, window end, 1) whose parameters start after $offset. */
export function limitValues(n: number, offset: number): string {
  return Array.from({ length: n }, (_, i) => {
    const p = offset + 3 * i;
    return `($${p + 1}, $${p + 2}, $${p + 3}, 1)`;
  }).join(", ");
}

/** PostgreSQL: one row, `within`, true when no count of `rl` is past its limit (pairs (key, max) after $offset). */
export function limitsWithin(n: number, offset: number): string {
  const pairs = Array.from(
    { length: n },
    (_, i) => `($${offset + 2 * i + 1}::text, $${offset + 2 * i + 2}::bigint)`,
  );
  return `SELECT NOT EXISTS (SELECT 1 FROM rl JOIN (VALUES ${pairs.join(", ")}) AS m(key, max) ON m.key = rl.key
    WHERE rl.count > m.max) AS within`;
}

/** (key, window start, window end) of each window: the parameters of limitValues. */
function windowParams(list: LimitWindows["list"]): SqlValue[] {
  return list.flatMap((w) => [w.key, w.start, w.end]);
}

/** The parameters of limitValues then limitsWithin. */
export function limitParams(list: LimitWindows<LimitHit>["list"]): SqlValue[] {
  return [...windowParams(list), ...list.flatMap((w) => [w.key, w.hit.max])];
}

/** Count the windows on `db` (a transaction when a key repeats): one statement when every key is distinct. */
export async function upsertLimits(
  db: SqlDb,
  windows: LimitWindows,
  opts?: QueryOptions,
): Promise<LimitCount[]> {
  const max = db.dialect === "postgres" ? "GREATEST" : "MAX";
  if (windows.distinct) {
    const { rows } = await db.query(
      rateLimitUpsert(max, limitValues(windows.list.length, 0)),
      windowParams(windows.list),
      opts,
    );
    return windows.counts(rows);
  }
  const rows: Row[] = [];
  for (const w of windows.list)
    rows.push(...(await db.query(rateLimitUpsert(max, limitValues(1, 0)), windowParams([w]))).rows);
  return windows.counts(rows);
}
