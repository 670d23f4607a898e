// Outlier detection of upstream resets after response headers (mid-body), over real sockets through the HTTP data
// path. Envoy's router puts the response code at headers and, when the stream is then reset, LocalOriginConnectFailed
// (Router::Filter::onUpstreamReset) — a 503-equivalent without split_external_local_origin_errors, a local-origin
// failure with it. Each stream's connection success (onPoolReady) precedes its headers, so with the split a reset
// after a response only follows a reset local-origin count.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataPlane, clusterFrom, httpListener, initDataPlane, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';
import { pollUntil } from '../support/meshlet-process.js';

let dp: DataPlane;
let port = 0;
const servers: http.Server[] = [];

/** A backend that answers `status` with content-length 100, sends 7 bytes of body, then resets the connection. */
async function midBodyResetBackend(status: number): Promise<number> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-length': '100' });
    res.write('partial');
    setTimeout(() => res.socket?.destroy(), 20);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

interface Reply { status: number; complete: boolean }

/** One request on its own connection; resolves when the response ends or is cut (bounded in time). */
function get(path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      res.on('data', () => {});
      res.on('error', () => {});
      res.on('close', () => resolve({ status: res.statusCode ?? 0, complete: res.complete }));
    });
    req.on('timeout', () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function hostStat(cluster: string, stat: string): string | undefined {
  const line = dp.clusters.clustersText().split('\n').find((l) => l.startsWith(`${cluster}::127.0.0.1:`) && l.includes(`::${stat}::`));
  return line?.slice(line.lastIndexOf('::') + 2);
}

function enforced(cluster: string): Record<string, number> {
  const od = dp.clusters.get(cluster)?.outlier;
  assert.ok(od, `cluster ${cluster} has outlier detection`);
  return od.stats.ejectionsEnforced;
}

const BASE = { interval: '0.2s', base_ejection_time: '30s', max_ejection_percent: 100, enforcing_success_rate: 0 };

before(async () => {
  await initDataPlane();
  const p500 = await midBodyResetBackend(500);
  const p200 = await midBodyResetBackend(200);
  const p200b = await midBodyResetBackend(200);
  const p200c = await midBodyResetBackend(200);
  const p200d = await midBodyResetBackend(200);
  dp = new DataPlane();
  dp.setClusters([
    // 500 at headers + the reset: two 5xx per request, so consecutive_5xx 6 trips on the third request.
    clusterFrom(staticCluster('late5xx', [p500], { outlier_detection: { ...BASE, consecutive_5xx: 6 } })),
    // 200 at headers + the reset: the 200 breaks every run of 5xx (no consecutive ejection), but half the results
    // are failures, which failure_percentage sees at the next interval.
    clusterFrom(staticCluster('late200', [p200], {
      outlier_detection: {
        ...BASE, consecutive_5xx: 5, enforcing_failure_percentage: 100, failure_percentage_threshold: 40,
        failure_percentage_minimum_hosts: 1, failure_percentage_request_volume: 10,
      },
    })),
    clusterFrom(staticCluster('late200c', [p200b], { outlier_detection: { ...BASE, consecutive_5xx: 5 } })),
    // Split: the reset is a local-origin failure right after the stream's connection success.
    clusterFrom(staticCluster('split1', [p200c], { outlier_detection: { ...BASE, split_external_local_origin_errors: true, consecutive_local_origin_failure: 1 } })),
    clusterFrom(staticCluster('split2', [p200d], { outlier_detection: { ...BASE, split_external_local_origin_errors: true, consecutive_local_origin_failure: 2 } })),
  ]);
  dp.routes.tables.set('routes', routeTableFrom({
    name: 'routes',
    virtual_hosts: [{
      name: 'vh', domains: ['*'],
      routes: ['late5xx', 'late200', 'late200c', 'split1', 'split2'].map((c) => ({ match: { prefix: `/${c}/` }, route: { cluster: c } })),
    }],
  }));
  await dp.setListeners([listenerFrom(httpListener('ingress'))]);
  port = dp.port('ingress');
});

after(async () => {
  await dp.close();
  await Promise.all(servers.map((s) => new Promise((r) => {
    s.closeAllConnections();
    s.close(r);
  })));
});

test('5xx headers then a mid-body reset count twice toward consecutive_5xx (Envoy: the code, then LocalOriginConnectFailed as 503)', async () => {
  for (let i = 0; i < 2; i++) {
    const r = await get('/late5xx/');
    assert.deepEqual(r, { status: 500, complete: false }, 'the client sees the headers, then the cut');
  }
  assert.equal(hostStat('late5xx', 'health_flags'), 'healthy', '4 consecutive 5xx after 2 requests');
  await get('/late5xx/');
  assert.equal(hostStat('late5xx', 'health_flags'), '/failed_outlier_check', 'the 6th consecutive 5xx ejects (3 requests)');
  assert.equal(enforced('late5xx').consecutive_5xx, 1);
  assert.equal(hostStat('late5xx', 'rq_total'), '3', 'a late reset is not a second request');
  assert.equal(hostStat('late5xx', 'rq_error'), '3');
});

test('200 headers then a mid-body reset: no consecutive_5xx run (the 200 resets it, as in Envoy), failure_percentage sees 50 % failures', async () => {
  for (let i = 0; i < 6; i++) assert.deepEqual(await get('/late200c/'), { status: 200, complete: false });
  assert.equal(hostStat('late200c', 'health_flags'), 'healthy', 'consecutive_5xx 5 is never reached: 200, 503, 200, 503, ...');
  assert.equal(enforced('late200c').consecutive_5xx, 0);
  for (let i = 0; i < 6; i++) await get('/late200/');
  assert.equal(hostStat('late200', 'rq_total'), '6');
  assert.equal(hostStat('late200', 'rq_success'), '6', 'headers were a success for the host stats (Envoy rq_success)');
  // 12 results (6 × 200, 6 × reset) ≥ request volume 10, 50 % failed ≥ threshold 40: ejected at an interval.
  await pollUntil('late200 ejected by failure_percentage', async () => hostStat('late200', 'health_flags') === '/failed_outlier_check', 10_000, 50);
  assert.equal(enforced('late200').failure_percentage, 1);
});

test('split_external_local_origin_errors: a mid-body reset is a local-origin failure after the stream\'s connection success', async () => {
  assert.deepEqual(await get('/split1/'), { status: 200, complete: false });
  assert.equal(hostStat('split1', 'health_flags'), '/failed_outlier_check', 'consecutive_local_origin_failure 1: one late reset ejects');
  assert.equal(enforced('split1').consecutive_local_origin_failure, 1);
  // Every stream starts with a connection success, so late resets never make a run of 2 local-origin failures.
  for (let i = 0; i < 5; i++) await get('/split2/');
  assert.equal(hostStat('split2', 'health_flags'), 'healthy');
  assert.equal(enforced('split2').consecutive_local_origin_failure, 0);
});
