// Tests: bound counters/histograms count locally and show at scrape time exactly what prom-client itself would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { Metrics, bindCounter, bindHistogram } from '../../../src/observability/metrics.js';

test('bound counter: increments show at every scrape, cumulative, one series per label set', async () => {
  const m = new Metrics();
  const c = m.counter({ stat: 'cluster.{envoy_cluster_name}.upstream_rq_total', help: 'x' });
  const a1 = bindCounter(c, { envoy_cluster_name: 'a' });
  const a2 = bindCounter(c, { envoy_cluster_name: 'a' });
  const b = bindCounter(c, { envoy_cluster_name: 'b' });
  const unused = bindCounter(c, { envoy_cluster_name: 'never' });
  void unused;
  a1.inc();
  a2.inc(2);
  b.inc(0);
  let text = await m.prometheusText();
  assert.match(text, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="a"\} 3\n/);
  assert.match(text, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="b"\} 0\n/);
  assert.doesNotMatch(text, /never/);
  a1.inc(4);
  text = await m.prometheusText();
  assert.match(text, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="a"\} 7\n/);
  const stats = await m.stats();
  assert.deepEqual(stats.filter((s) => s.name.startsWith('cluster.')), [
    { name: 'cluster.a.upstream_rq_total', value: 7 },
    { name: 'cluster.b.upstream_rq_total', value: 0 },
  ]);
  assert.throws(() => bindCounter(c, { bogus: 'x' }), /bogus/);
});

test('bound histogram: buckets, sum and count equal a plain prom-client histogram fed the same samples', async () => {
  const m = new Metrics();
  const h = m.histogram({ stat: 'http.{envoy_http_conn_manager_prefix}.downstream_rq_time', help: 'x' });
  const ref = new Registry();
  const plain = new Histogram({ name: 'envoy_http_downstream_rq_time', help: 'x', labelNames: ['envoy_http_conn_manager_prefix'], buckets: [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000], registers: [ref] });
  const bound = bindHistogram(h, { envoy_http_conn_manager_prefix: 'in' });
  const samples = [0, 0.5, 0.7, 1, 3, 10, 10.01, 99, 4000000, 7, 250];
  const first = samples.slice(0, 5);
  for (const v of first) { bound.observe(v); plain.observe({ envoy_http_conn_manager_prefix: 'in' }, v); }
  assert.equal(await m.prometheusText(), await ref.metrics());
  for (const v of samples.slice(5)) { bound.observe(v); plain.observe({ envoy_http_conn_manager_prefix: 'in' }, v); }
  assert.equal(await m.prometheusText(), await ref.metrics());
  assert.deepEqual(await m.registry.getMetricsAsJSON(), await ref.getMetricsAsJSON());
});
