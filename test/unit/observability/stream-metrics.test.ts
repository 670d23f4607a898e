// Request stats from finished streams: Envoy label style (class "2", envoy_* labels), Istio style (class "2xx", the
// _xx suffix folded, istio_requests_total with workload labels), stats_matcher inclusion, scrape-time cluster gauges;
// checked through the Prometheus text a scraper would read and the /stats dotted names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Issues } from '../../../src/common/validation.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { StreamMetrics, compileStatsMatcher, labelStyleFor, type ClusterGaugeSource, type StreamStatsInput } from '../../../src/observability/stream-metrics.js';
import { IstioMetrics, serviceFromCluster } from '../../../src/observability/istio-metrics.js';
import { parsePrometheusText, sampleValue } from './prom-text-metrics.test.js';

function s(over: Partial<StreamStatsInput> = {}): StreamStatsInput {
  return {
    statPrefix: 'ingress', durationMs: 3, responseCode: 200, responseFlags: [], responseCodeDetails: 'via_upstream',
    upstreamCluster: 'backend', upstreamHost: '127.0.0.1:1', attemptCount: 1, upstreamServiceTimeMs: 2, ...over,
  };
}

const gauges: ClusterGaugeSource = {
  names: () => ['backend'][Symbol.iterator](),
  get: () => ({
    hosts: () => [{ healthFlags: new Set() }, { healthFlags: new Set(['failed_outlier_check']) }, { healthFlags: new Set() }],
    outlier: { stats: { ejectionsActive: 1 } },
  }),
};

/** 2 × 200, 1 × 503 after a retry (2 attempts), 1 × 404 NR, 1 × 503 UH, 1 × 504 UT. */
function traffic(m: StreamMetrics): void {
  m.onStream(s());
  m.onStream(s());
  m.onStream(s({ responseCode: 503, attemptCount: 2, responseFlags: ['URX'] }));
  m.onStream(s({ responseCode: 404, responseFlags: ['NR'], responseCodeDetails: 'route_not_found', upstreamCluster: '', upstreamHost: '', attemptCount: 0 }));
  m.onStream(s({ responseCode: 503, responseFlags: ['UH'], responseCodeDetails: 'no_healthy_upstream', upstreamHost: '', attemptCount: 0 }));
  m.onStream(s({ responseCode: 504, responseFlags: ['UT'], responseCodeDetails: 'upstream_response_timeout' }));
}

test('Envoy label style: HCM and cluster series with correct counts after a known sequence', async () => {
  const metrics = new Metrics();
  const m = new StreamMetrics(metrics, { clusters: gauges });
  m.sync(['ingress'], ['backend', 'idle']);
  traffic(m);
  const text = await metrics.prometheusText();
  const f = parsePrometheusText(text);
  const hcm = { envoy_http_conn_manager_prefix: 'ingress' };
  const cl = { envoy_cluster_name: 'backend' };
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_total', hcm), 6);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '2' }), 2);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '5' }), 3);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '4' }), 1);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_completed', hcm), 6);
  assert.equal(sampleValue(f, 'envoy_http_no_route', hcm), 1);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_time_count', hcm), 6);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_time_bucket', { ...hcm, le: '5' }), 6);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_total', cl), 5);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_retry', cl), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq', { ...cl, envoy_response_code: '200' }), 2);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq', { ...cl, envoy_response_code: '503' }), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq', { ...cl, envoy_response_code: '504' }), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_xx', { ...cl, envoy_response_code_class: '5' }), 2);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_xx', { ...cl, envoy_response_code_class: '2' }), 2);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_completed', cl), 4);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_timeout', cl), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_cx_none_healthy', cl), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_time_count', cl), 4);
  assert.equal(sampleValue(f, 'envoy_cluster_membership_total', cl), 3);
  assert.equal(sampleValue(f, 'envoy_cluster_membership_healthy', cl), 2);
  assert.equal(sampleValue(f, 'envoy_cluster_outlier_detection_ejections_active', cl), 1);
  // Bound at config time: a cluster without traffic still shows its zero series.
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: 'idle' }), 0);
  // /stats shows Envoy's dotted names.
  const stats = await metrics.statsText();
  assert.match(stats, /^cluster\.backend\.upstream_rq_200: 2$/m);
  assert.match(stats, /^cluster\.backend\.upstream_rq_5xx: 2$/m);
  assert.match(stats, /^http\.ingress\.downstream_rq_4xx: 1$/m);
});

test('Istio label style: class "2xx" folded into upstream_rq, istio_requests_total with workload labels', async () => {
  const meta = { ISTIO_VERSION: '1.22.0', NAME: 'reviews-v1-abc', NAMESPACE: 'default', WORKLOAD_NAME: 'reviews-v1', CLUSTER_ID: 'Kubernetes', LABELS: { app: 'reviews', version: 'v1' } };
  assert.equal(labelStyleFor(meta), 'istio');
  assert.equal(labelStyleFor({}), 'envoy');
  const metrics = new Metrics();
  const m = new StreamMetrics(metrics, { style: 'istio' });
  const istio = new IstioMetrics(metrics, meta);
  const cluster = 'outbound|9080||ratings.default.svc.cluster.local';
  m.sync(['outbound_0.0.0.0_9080', 'inbound_0.0.0.0_9080'], [cluster, 'inbound|9080||']);
  istio.sync(new Map([['outbound_0.0.0.0_9080', 'OUTBOUND'], ['inbound_0.0.0.0_9080', 'INBOUND']]));
  for (const x of [
    s({ statPrefix: 'outbound_0.0.0.0_9080', upstreamCluster: cluster }),
    s({ statPrefix: 'outbound_0.0.0.0_9080', upstreamCluster: cluster }),
    s({ statPrefix: 'outbound_0.0.0.0_9080', upstreamCluster: cluster, responseCode: 503, responseFlags: ['UH'], responseCodeDetails: 'no_healthy_upstream', upstreamHost: '', attemptCount: 0 }),
    s({ statPrefix: 'inbound_0.0.0.0_9080', upstreamCluster: 'inbound|9080||' }),
  ]) {
    m.onStream(x);
    istio.onStream(x);
  }
  const f = parsePrometheusText(await metrics.prometheusText());
  const cl = { cluster_name: cluster };
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq', { ...cl, response_code: '200' }), 2);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq', { ...cl, response_code_class: '2xx' }), 2);
  assert.equal(f.get('envoy_cluster_upstream_rq_xx'), undefined);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq', { http_conn_manager_prefix: 'outbound_0.0.0.0_9080', response_code_class: '5xx' }), 1);
  assert.equal(sampleValue(f, 'istio_requests_total', { reporter: 'source', response_code: '200', destination_service: 'ratings.default.svc.cluster.local' }), 2);
  assert.equal(sampleValue(f, 'istio_requests_total', { reporter: 'source', response_code: '503', response_flags: 'UH', source_workload: 'reviews-v1', source_app: 'reviews', destination_workload: 'unknown' }), 1);
  assert.equal(sampleValue(f, 'istio_requests_total', { reporter: 'destination', destination_workload: 'reviews-v1', destination_app: 'reviews', source_workload: 'unknown', connection_security_policy: 'none' }), 1);
  assert.equal(sampleValue(f, 'istio_request_duration_milliseconds_count', { reporter: 'source', response_code: '200' }), 2);
  const stats = await metrics.statsText();
  assert.match(stats, /^cluster\.outbound\|9080\|\|ratings\.default\.svc\.cluster\.local\.upstream_rq_2xx: 2$/m);
  assert.deepEqual(serviceFromCluster(cluster), { fqdn: 'ratings.default.svc.cluster.local', name: 'ratings', namespace: 'default' });
});

test('stats_matcher inclusion_list keeps only matching stat names (prefix, suffix, exact, safe_regex)', async () => {
  const issues = new Issues('stats_config');
  const include = compileStatsMatcher({
    stats_matcher: { inclusion_list: { patterns: [{ prefix: 'cluster.keep.' }, { suffix: 'downstream_rq_total' }, { exact: 'http.ingress.no_route' }, { safe_regex: { regex: 'cluster\\..*\\.upstream_rq_5xx' } }] } },
  }, issues);
  assert.deepEqual(issues.allErrors(), []);
  const metrics = new Metrics();
  const m = new StreamMetrics(metrics, { include });
  m.sync(['ingress'], ['keep', 'drop']);
  m.onStream(s({ upstreamCluster: 'keep' }));
  m.onStream(s({ upstreamCluster: 'drop', responseCode: 503 }));
  m.onStream(s({ upstreamCluster: 'drop' }));
  const f = parsePrometheusText(await metrics.prometheusText());
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: 'keep' }), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: 'drop' }), undefined);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_xx', { envoy_cluster_name: 'drop', envoy_response_code_class: '5' }), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_xx', { envoy_cluster_name: 'drop', envoy_response_code_class: '2' }), undefined);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_total', { envoy_http_conn_manager_prefix: 'ingress' }), 3);
  assert.equal(sampleValue(f, 'envoy_http_no_route', { envoy_http_conn_manager_prefix: 'ingress' }), 0);
  assert.equal(f.get('envoy_http_downstream_rq_completed'), undefined);

  const bad = new Issues('stats_config');
  compileStatsMatcher({ stats_matcher: { inclusion_list: { patterns: [{ safe_regex: { regex: '(' } }] } } }, bad);
  assert.match(bad.allErrors()[0]?.path ?? '', /stats_config\.stats_matcher\.inclusion_list\.patterns\[0\]/);
});

test('syncAsync binds 3,000 clusters over several macrotasks (every series present at 0); a newer call supersedes it', async () => {
  const metrics = new Metrics();
  const m = new StreamMetrics(metrics, {});
  const names = Array.from({ length: 3000 }, (_, i) => `c${i}`);
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    if (!counting) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await m.syncAsync(['ingress'], names, 1);
  counting = false;
  assert.ok(turns >= 2, `other work ran in between (${turns} turns)`);
  const f = parsePrometheusText(await metrics.prometheusText());
  for (const n of ['c0', 'c1500', 'c2999']) assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: n }), 0, n);

  // Superseded: the first call stops at a slice boundary, the second binds its own set; nothing of the first is lost.
  const metrics2 = new Metrics();
  const m2 = new StreamMetrics(metrics2, {});
  const first = m2.syncAsync([], names, 0);
  const second = m2.syncAsync([], ['only'], 0);
  await Promise.all([first, second]);
  m2.onStream(s({ upstreamCluster: 'late' })); // a stream of a cluster not bound yet binds it itself
  const f2 = parsePrometheusText(await metrics2.prometheusText());
  assert.equal(sampleValue(f2, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: 'only' }), 0);
  assert.equal(sampleValue(f2, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: 'late' }), 1);
  assert.equal(sampleValue(f2, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: 'c2999' }), undefined, 'the superseded call stopped early');
});
