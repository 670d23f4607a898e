// Unit tests for the --concurrency N /stats/prometheus merge: counters summed, per-process gauges summed, shared
// state (membership, outlier ejections now decided once in the primary) taken as the maximum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregatePrometheus } from '../../../src/process/metrics-aggregate.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { StreamMetrics } from '../../../src/observability/stream-metrics.js';

const worker = (rqActive: number, ejected: number, total: number) => [
  { name: 'envoy_cluster_upstream_rq_total', help: 'h', type: 'counter', aggregator: 'sum', values: [{ value: total, labels: { cluster_name: 'a' } }] },
  { name: 'envoy_cluster_upstream_rq_active', help: 'h', type: 'gauge', aggregator: 'sum', values: [{ value: rqActive, labels: { cluster_name: 'a' } }] },
  // As StreamMetrics declares it (acrossWorkers: 'max'; checked below against the real registry).
  { name: 'envoy_cluster_outlier_detection_ejections_active', help: 'h', type: 'gauge', aggregator: 'max', values: [{ value: ejected, labels: { cluster_name: 'a' } }] },
  { name: 'envoy_cluster_membership_total', help: 'h', type: 'gauge', aggregator: 'sum', values: [{ value: 3, labels: { cluster_name: 'a' } }] },
];

const value = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  assert.ok(line, `${name} present`);
  return Number(line.split(' ').pop());
};

test('two workers: counters and in-flight gauges add up, shared state is not doubled', async () => {
  const text = await aggregatePrometheus([worker(2, 1, 10), worker(5, 1, 7)]);
  assert.equal(value(text, 'envoy_cluster_upstream_rq_total'), 17);
  assert.equal(value(text, 'envoy_cluster_upstream_rq_active'), 7);
  assert.equal(value(text, 'envoy_cluster_outlier_detection_ejections_active'), 1, 'one ejection held by both workers');
  assert.equal(value(text, 'envoy_cluster_membership_total'), 3, 'hosts are not counted once per worker');
});

test('the outlier ejections gauge a worker registry exports declares its max merge', async () => {
  const metrics = new Metrics();
  new StreamMetrics(metrics, { clusters: { names: () => [][Symbol.iterator](), get: () => undefined } });
  const json = await metrics.registry.getMetricsAsJSON();
  assert.equal(json.find((m) => m.name === 'envoy_cluster_outlier_detection_ejections_active')?.aggregator, 'max');
  assert.equal(json.find((m) => m.name === 'envoy_cluster_membership_total')?.aggregator, 'sum', 'others keep the default (merged by name)');
});
