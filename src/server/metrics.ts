import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CollateralProviderStats } from "../collateral/provider.js";
import type { SqlDbStats } from "../kbs/store/index.js";

/** The broker's Prometheus metrics, on a registry of its own (several brokers may share a process in tests). */
export class KbsMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly authTotal: Counter<"result">;
  readonly attestTotal: Counter<"result">;
  readonly verdictTotal: Counter<"verdict" | "code">;
  readonly attestDuration: Histogram<"result">;
  readonly resourceTotal: Counter<"result">;

  constructor(
    opts: {
      cacheStats?: () => CollateralProviderStats;
      storeStats?: () => SqlDbStats | undefined;
      defaultMetrics?: boolean;
      nodeVersion?: boolean;
    } = {},
  ) {
    const registers = [this.registry];
    if (opts.defaultMetrics) {
      collectDefaultMetrics({ register: this.registry, prefix: "tdx_attest_" });
      if (opts.nodeVersion === false) this.registry.removeSingleMetric("tdx_attest_nodejs_version_info");
    }
    this.httpDuration = new Histogram({
      name: "kbs_http_request_duration_seconds",
      help: "HTTP request latency by route",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.authTotal = new Counter({
      name: "kbs_auth_total",
      help: "Challenges requested (/auth)",
      labelNames: ["result"],
      registers,
    });
    this.attestTotal = new Counter({
      name: "kbs_attestations_total",
      help: "Attestations by outcome (allowed, denied, error)",
      labelNames: ["result"],
      registers,
    });
    this.verdictTotal = new Counter({
      name: "kbs_verdicts_total",
      help: "Attestation and release verdicts by stable code",
      labelNames: ["verdict", "code"],
      registers,
    });
    this.attestDuration = new Histogram({
      name: "kbs_attestation_duration_seconds",
      help: "Time to verify and appraise evidence (/attest)",
      labelNames: ["result"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.resourceTotal = new Counter({
      name: "kbs_resource_requests_total",
      help: "Resource requests by outcome (released, denied, error)",
      labelNames: ["result"],
      registers,
    });
    const stats = opts.cacheStats;
    new Gauge({
      name: "kbs_collateral_cache_hits",
      help: "Collateral served from the cache without a fetch, since start",
      registers,
      collect() {
        this.set(stats?.().hits ?? 0);
      },
    });
    new Gauge({
      name: "kbs_collateral_cache_misses",
      help: "Collateral fetches made (no entry, or a due one), since start",
      registers,
      collect() {
        this.set(stats?.().misses ?? 0);
      },
    });
    // Counters read from the provider at scrape time (monotonic since start).
    const counter = (name: string, help: string, read: (s: CollateralProviderStats) => number | undefined) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          const s = stats?.();
          this.reset();
          this.inc(s ? (read(s) ?? 0) : 0);
        },
      });
    const db = opts.storeStats;
    const dbCounter = (name: string, help: string, read: (s: SqlDbStats) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          const s = db?.();
          this.reset();
          this.inc(s ? read(s) : 0);
        },
      });
    dbCounter(
      "kbs_db_statements_total",
      "Database statements sent (PostgreSQL: round trips)",
      (s) => s.statements,
    );
    dbCounter(
      "kbs_db_commits_total",
      "Database commits (SQLite: group commits of one or more writes)",
      (s) => s.commits,
    );
    dbCounter(
      "kbs_db_writes_total",
      "Writes committed (SQLite: the writes its group commits held)",
      (s) => s.writes,
    );
    dbCounter("kbs_db_fsyncs_total", "fsyncs of the SQLite WAL made by the group commit", (s) => s.fsyncs);
    counter(
      "kbs_collateral_stale_served_total",
      "Valid but due collateral served because its refresh failed, was backing off or was slow",
      (s) => s.staleServed,
    );
    counter(
      "kbs_collateral_refresh_failures_total",
      "Collateral fetches that failed (every endpoint down or erroring, or the answer refused)",
      (s) => s.refreshFailures,
    );
    counter(
      "kbs_collateral_rejected_total",
      "Collateral answers refused because they did not verify (signature, issuer chain, platform)",
      (s) => s.rejected,
    );
    counter(
      "kbs_collateral_backoff_refused_total",
      "Calls answered from a remembered collateral failure (backoff, a remembered 404) without a request",
      (s) => s.backoffRefused,
    );
  }
}
