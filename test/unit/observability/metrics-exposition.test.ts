// Metrics' bound series (observability/metrics.ts SeriesIndex, shared frozen label objects): what /stats/prometheus and
// /stats show for a sample registry is byte-identical to what the build before the compact series index showed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Metrics, bindCounter, bindHistogram, zeroHistogram } from '../../../src/observability/metrics.js';
import { StreamMetrics, type StreamStatsInput } from '../../../src/observability/stream-metrics.js';

const s = (o: Partial<StreamStatsInput> = {}): StreamStatsInput => ({
  statPrefix: 'ingress', durationMs: 3, responseCode: 200, responseFlags: [], responseCodeDetails: 'via_upstream',
  upstreamCluster: 'a', upstreamHost: 'h', attemptCount: 1, upstreamServiceTimeMs: 2, ...o,
});

/** Both label styles: bound clusters (one with Istio's `|` name), traffic, a scrape, more traffic incl. a cluster bound
 * by its first stream, a counter bound with its labels in two orders plus a direct prom-client inc, and a histogram
 * fed bound and directly; then the Prometheus text and /stats (all and usedonly). */
async function sample(): Promise<string> {
  const out: string[] = [];
  for (const style of ['envoy', 'istio'] as const) {
    const metrics = new Metrics();
    const m = new StreamMetrics(metrics, { style });
    m.sync(['ingress', 'egress'], ['a', 'b|9080||x.svc', 'c']);
    m.onStream(s());
    m.onStream(s({ upstreamCluster: 'c', responseCode: 503, attemptCount: 2 }));
    out.push(await metrics.prometheusText());
    m.onStream(s({ upstreamCluster: 'new', responseCode: 404 }));
    m.onStream(s({ statPrefix: 'egress', responseFlags: ['UT'], responseCodeDetails: 'x' }));
    const c = metrics.counter({ stat: 'x.{a}.{b}.y', help: 'h' });
    bindCounter(c, { b: '1', a: '2' }).inc(3);
    bindCounter(c, { a: '2', b: '1' }).inc();
    bindCounter(c, { a: '2' }).inc(5);
    c.inc({ a: '9', b: '9' }, 2);
    const h = metrics.histogram({ stat: 'z.{a}.t', help: 'h' });
    bindHistogram(h, { a: 'q' }).observe(7);
    h.observe({ a: 'r' }, 1);
    out.push(await metrics.prometheusText(), await metrics.statsText(), await metrics.statsText({ usedOnly: true }));
  }
  return out.join('\n----\n');
}

test('exposition and /stats of a sample registry are identical to the per-series-key implementation', async () => {
  const text = await sample();
  // sha256 and line count of sample() as printed by the build of 20057cc (per-series key strings, label copies).
  assert.equal(text.split('\n').length, 1211);
  assert.equal(createHash('sha256').update(text).digest('hex'), '2f7b74720df21e89876bfc6f8099c94f557b305d25bf2d14edcc3f773b7eaf63');
  // Readable spot checks of the same text: every bound cluster shows at 0, in bind order, the same labels bound in two
  // orders are one series.
  assert.match(text, /envoy_cluster_upstream_rq_total\{envoy_cluster_name="a"\} 1\nenvoy_cluster_upstream_rq_total\{envoy_cluster_name="b\|9080\|\|x.svc"\} 0\nenvoy_cluster_upstream_rq_total\{envoy_cluster_name="c"\} 2\n/);
  assert.match(text, /envoy_x_y\{a="9",b="9"\} 2\nenvoy_x_y\{b="1",a="2"\} 4\nenvoy_x_y\{a="2"\} 5\n/, 'labels in the first bind\'s order');
  assert.match(text, /cluster\.b\|9080\|\|x\.svc\.upstream_rq_2xx: 0\n/);
});

test('binding a label the metric does not declare still throws, and equal label sets share one child', () => {
  const metrics = new Metrics();
  const c = metrics.counter({ stat: 'p.{a}.q', help: 'h' });
  assert.throws(() => bindCounter(c, { nope: '1' }), /Added label "nope" is not included in initial labelset/);
  assert.equal(bindCounter(c, { a: 'x' }), bindCounter(c, Object.freeze({ a: 'x' })));
  assert.notEqual(bindCounter(c, { a: 'x' }), bindCounter(c, { a: 'y' }));
  const h = metrics.histogram({ stat: 'p.{a}.{b}.t', help: 'h' });
  assert.equal(bindHistogram(h, { a: '1', b: '2' }), bindHistogram(h, { b: '2', a: '1' }));
  assert.notEqual(bindHistogram(h, { a: '1', b: '2' }), bindHistogram(h, { a: '1' }));
  assert.notEqual(bindHistogram(h, { a: '1' }), bindHistogram(h, { b: '1' }));
});

test('a zeroed histogram series counts samples from its bound child and from prom-client\'s own observe alike', async () => {
  const metrics = new Metrics();
  const h = metrics.histogram({ stat: 'w.{a}.t', help: 'h' });
  zeroHistogram(h, { a: 'x' });
  zeroHistogram(h, { a: 'y' });
  let text = await metrics.prometheusText();
  assert.match(text, /envoy_w_t_bucket\{le="0.5",a="x"\} 0\n/);
  assert.match(text, /envoy_w_t_count\{a="y"\} 0\n/);
  h.observe({ a: 'x' }, 7);
  bindHistogram(h, { a: 'x' }).observe(0.7);
  bindHistogram(h, { a: 'x' }).observe(4000);
  text = await metrics.prometheusText();
  const bucket = (le: string): string | undefined => new RegExp(`envoy_w_t_bucket\\{le="${le}",a="x"\\} (\\d+)\n`).exec(text)?.[1];
  assert.deepEqual(['0.5', '1', '5', '10', '2500', '5000', '\\+Inf'].map(bucket), ['0', '1', '1', '2', '2', '3', '3']);
  assert.match(text, /envoy_w_t_sum\{a="x"\} 4007.7\n/);
  assert.match(text, /envoy_w_t_count\{a="y"\} 0\n/, 'the other series stays at zero');
  assert.match(text, /envoy_w_t_bucket\{le="\+Inf",a="y"\} 0\n/);
});
