import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** The broker's Prometheus metrics, on a registry of its own (several brokers may share a process in tests). */
export class KbsMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly authTotal: Counter<"result">;
  readonly attestTotal: Counter<"result">;
  readonly verdictTotal: Counter<"verdict" | "code">;
  readonly attestDuration: Histogram<"result">;
  readonly resourceTotal: Counter<"result">;

  constructor(opts: { cacheStats?: () => { hits: number; misses: number }; defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: "tdx_attest_" });
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
      help: "Collateral cache hits since start",
      registers,
      collect() {
        this.set(stats?.().hits ?? 0);
      },
    });
    new Gauge({
      name: "kbs_collateral_cache_misses",
      help: "Collateral cache misses (fetches) since start",
      registers,
      collect() {
        this.set(stats?.().misses ?? 0);
      },
    });
  }
}
