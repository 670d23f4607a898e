// Real requests through the data plane (listener → HCM → router → upstream) with the DataPathObserver the proxy uses
// as onStreamEnd: the access log file gets Envoy's default line for a success, a 404 NR, a 503 UH and a retried
// request (field by field), a JSON log gets the same streams, and the Prometheus text shows the matching counts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EchoUpstream } from '../support/upstreams.js';
import { DataPlane, ScriptedRouteTable, clusterFrom, forward, httpListener, listenerFrom, staticCluster } from '../support/data-plane.js';
import { ListenerManager } from '../../src/listener/listener-manager.js';
import { computeHash } from '../../src/router/hash-policy.js';
import { Metrics } from '../../src/observability/metrics.js';
import { DataPathObserver } from '../../src/observability/access-log/data-path-observer.js';
import type { RetryPolicy } from '../../src/router/types.js';
import type { StreamInfo } from '../../src/http/connection-manager.js';
import { parsePrometheusText, sampleValue } from '../unit/observability/prom-text-metrics.test.js';

const FILE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';

function retry(): RetryPolicy {
  return {
    retryOn: new Set(['5xx']), numRetries: 2, perTryTimeoutMs: 0, perTryIdleTimeoutMs: 0, retriableStatusCodes: new Set(),
    retriableHeaders: [], backoff: { baseIntervalMs: 5, maxIntervalMs: 10 }, avoidPreviousHosts: false, hostSelectionRetryMaxAttempts: 1,
  };
}

let dir: string;
let dp: DataPlane;
let lm: ListenerManager;
let up: EchoUpstream;
let observer: DataPathObserver;
let metrics: Metrics;
let port = 0;
let ended = 0;
const defaultLog = (): string => join(dir, 'access.log');
const jsonLog = (): string => join(dir, 'access.json');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshlet-obs-'));
  up = await EchoUpstream.start({ name: 'a' });
  dp = new DataPlane();
  dp.setClusters([clusterFrom(staticCluster('a', [up.port])), clusterFrom(staticCluster('empty', []))]);
  dp.routes.tables.set('routes', new ScriptedRouteTable('routes', [
    ['/ok', forward('a')],
    ['/retry', forward('a', { retryPolicy: retry() })],
    ['/uh', forward('empty')],
  ]));
  metrics = new Metrics();
  observer = new DataPathObserver({ metrics, clusters: dp.clusters });
  lm = new ListenerManager({
    routes: dp.routes, clusters: dp.clusters, pools: dp.pools, hashKey: computeHash,
    onStreamEnd: (s: StreamInfo) => {
      observer.onStreamEnd(s);
      ended++;
    },
  }, { drainTimeMs: 2000 });
  const listener = listenerFrom(httpListener('ingress', 'routes', {
    access_log: [
      { name: 'envoy.access_loggers.file', typed_config: { '@type': FILE, path: defaultLog() } },
      {
        name: 'envoy.access_loggers.file',
        typed_config: {
          '@type': FILE, path: jsonLog(),
          log_format: { json_format: { path: '%REQ(:PATH)%', code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', details: '%RESPONSE_CODE_DETAILS%', cluster: '%UPSTREAM_CLUSTER%', attempts: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%', route: '%ROUTE_NAME%' } },
        },
      },
    ],
  }));
  const res = await lm.apply([listener]);
  assert.ok(res.every((r) => r.ok), JSON.stringify(res));
  observer.apply([listener], ['a', 'empty']);
  port = lm.boundPort('ingress')!;
});

after(async () => {
  await lm.close();
  await observer.close();
  await dp.close();
  await up.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'user-agent': 'obs-test/1.0' } });
  return { status: r.status, body: await r.text() };
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), 'condition not reached within 2 s');
}

/** Envoy's default format, one capture group per field. */
const DEFAULT_LINE = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\] "(\S+) (\S+) (\S+)" (\d+) (\S+) (\d+) (\d+) (\d+) (\S+) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)"$/;

test('access log lines and stats for a success, a 404 NR, a 503 UH and a retried request', async () => {
  assert.equal((await get('/ok')).status, 200);
  assert.equal((await get('/nothing-here')).status, 404);
  assert.equal((await get('/uh')).status, 503);
  up.failNext(1, 503);
  assert.equal((await get('/retry')).status, 200);
  await waitFor(() => ended === 4);
  await observer.writers.close();

  const lines = readFileSync(defaultLog(), 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 4);
  const byPath = new Map<string, RegExpExecArray>();
  for (const l of lines) {
    const m = DEFAULT_LINE.exec(l);
    assert.ok(m, `not Envoy's default format: ${l}`);
    byPath.set(m[3], m);
    assert.ok(Math.abs(Date.parse(m[1]) - Date.now()) < 60_000);
    assert.equal(m[2], 'GET');
    assert.equal(m[4], 'HTTP/1.1');
    assert.equal(m[7], '0'); // bytes received (no body)
    assert.equal(m[11], '-'); // x-forwarded-for (use_remote_address false)
    assert.equal(m[12], 'obs-test/1.0');
    assert.match(m[13], /^[0-9a-f-]{36}$/); // x-request-id generated by the HCM
    assert.equal(m[14], `127.0.0.1:${port}`);
  }
  const ok = byPath.get('/ok')!;
  assert.deepEqual([ok[5], ok[6], ok[15]], ['200', '-', `127.0.0.1:${up.port}`]);
  assert.ok(Number(ok[8]) > 0); // bytes sent: the echo body
  assert.match(ok[10], /^\d+$/); // x-envoy-upstream-service-time
  const nr = byPath.get('/nothing-here')!;
  assert.deepEqual([nr[5], nr[6], nr[10], nr[15]], ['404', 'NR', '-', '-']);
  const uh = byPath.get('/uh')!;
  assert.deepEqual([uh[5], uh[6], uh[10], uh[15]], ['503', 'UH', '-', '-']);
  assert.ok(Number(uh[8]) > 0); // "no healthy upstream"
  const rt = byPath.get('/retry')!;
  assert.deepEqual([rt[5], rt[6], rt[15]], ['200', '-', `127.0.0.1:${up.port}`]);

  const json = readFileSync(jsonLog(), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  const j = new Map(json.map((x) => [x.path, x]));
  assert.deepEqual(j.get('/ok'), { path: '/ok', code: '200', flags: '-', details: 'via_upstream', cluster: 'a', attempts: '1', route: 'r' });
  assert.deepEqual(j.get('/nothing-here'), { path: '/nothing-here', code: '404', flags: 'NR', details: 'route_not_found', cluster: '-', attempts: '0', route: '-' });
  assert.equal(j.get('/uh')?.details, 'no_healthy_upstream');
  assert.equal(j.get('/uh')?.cluster, 'empty');
  assert.equal(j.get('/retry')?.attempts, '2');

  const f = parsePrometheusText(await metrics.prometheusText());
  const hcm = { envoy_http_conn_manager_prefix: 'ingress' };
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_total', hcm), 4);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '2' }), 2);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '4' }), 1);
  assert.equal(sampleValue(f, 'envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '5' }), 1);
  assert.equal(sampleValue(f, 'envoy_http_no_route', hcm), 1);
  const a = { envoy_cluster_name: 'a' };
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_total', a), 3);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_retry', a), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq', { ...a, envoy_response_code: '200' }), 2);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_rq_time_count', a), 2);
  assert.equal(sampleValue(f, 'envoy_cluster_upstream_cx_none_healthy', { envoy_cluster_name: 'empty' }), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_membership_total', a), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_membership_healthy', a), 1);
  assert.equal(sampleValue(f, 'envoy_cluster_membership_total', { envoy_cluster_name: 'empty' }), 0);
});
