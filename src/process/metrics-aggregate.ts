// process/: the primary's /stats/prometheus with --concurrency N: its own registry (server, xDS) plus every worker's
// registry JSON, merged with prom-client's AggregatorRegistry. Counters and histograms are summed; gauges are summed
// when they count things in flight per process (active connections/requests, pending, open), otherwise (membership,
// limits, states, timestamps: the same in every worker) the maximum is taken so N workers do not show N× the hosts.
// A gauge that declares its merge (StatDef.acrossWorkers → prom-client `aggregator`) keeps it.
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

const PER_PROCESS_GAUGE = /(_active|_pending|_open|_buffered|_connections)(_|$)/;

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Prometheus text of the merged registries (primary first). */
export function aggregatePrometheus(all: readonly unknown[]): Promise<string> {
  const fixed = all.map((list) => (list as MetricsJson).map((m) => {
    if ((m.type as unknown as string) !== 'gauge') return { ...m, aggregator: 'sum' as const };
    // prom-client's default is 'sum': anything else was declared by the gauge itself.
    if (m.aggregator !== undefined && (m.aggregator as string) !== 'sum') return m;
    return { ...m, aggregator: PER_PROCESS_GAUGE.test(m.name) ? 'sum' as const : 'max' as const };
  }));
  return AggregatorRegistry.aggregate(fixed as never).metrics();
}
