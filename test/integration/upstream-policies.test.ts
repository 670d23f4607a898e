// Backend policies end to end over real sockets (issue 4): generated-cookie session affinity on ring hash and maglev
// that moves only when outlier detection ejects the backend, a backend answering 503 ejected (consecutive_5xx) and
// returning after base_ejection_time, circuit-breaker overflow answered 503 UO with a bounded pending queue, and
// /clusters showing host health flags, weights, active requests, connection counters and success rates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { EchoUpstream } from '../support/upstreams.js';
import { DataPlane, clusterFrom, httpListener, initDataPlane, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';
import { pollUntil } from '../support/meshlet-process.js';
import type { ClusterRuntime } from '../../src/upstream/upstream-cluster.js';

let dp: DataPlane;
let port = 0;
const ups: Record<string, EchoUpstream> = {};

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One request on its own connection (no agent), bounded in time. */
function get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const upstreamOf = (r: Reply): string => String(r.headers['x-upstream'] ?? `local ${r.status}`);

function runtime(name: string): ClusterRuntime {
  const c = dp.clusters.get(name);
  assert.ok(c, `cluster ${name}`);
  return c;
}

/** The `cluster::host::stat` value from the text /clusters output. */
function clusterStat(cluster: string, hostPort: number, stat: string): string | undefined {
  const prefix = `${cluster}::127.0.0.1:${hostPort}::${stat}::`;
  const line = dp.clusters.clustersText().split('\n').find((l) => l.startsWith(prefix));
  return line?.slice(prefix.length);
}

const OUTLIER_AFFINITY = { consecutive_5xx: 3, interval: '0.5s', base_ejection_time: '30s', max_ejection_percent: 100 };

before(async () => {
  await initDataPlane();
  for (const n of ['h1', 'h2', 'h3', 'x', 'y', 'slow', 'hcbad']) ups[n] = await EchoUpstream.start({ name: n });
  const three = [ups.h1.port, ups.h2.port, ups.h3.port];
  dp = new DataPlane();
  dp.setClusters([
    clusterFrom(staticCluster('ring', three, { lb_policy: 'RING_HASH', outlier_detection: OUTLIER_AFFINITY })),
    clusterFrom(staticCluster('mag', three, { lb_policy: 'MAGLEV', outlier_detection: OUTLIER_AFFINITY })),
    clusterFrom(staticCluster('xy', [ups.x.port, ups.y.port], {
      lb_policy: 'ROUND_ROBIN',
      outlier_detection: {
        consecutive_5xx: 3, interval: '0.5s', base_ejection_time: '1s', max_ejection_percent: 100,
        success_rate_minimum_hosts: 1, success_rate_request_volume: 3, enforcing_success_rate: 0,
      },
    })),
    clusterFrom(staticCluster('cb', [ups.slow.port], {
      circuit_breakers: { thresholds: [{ max_connections: 2, max_pending_requests: 2, max_requests: 100 }] },
    })),
    clusterFrom(staticCluster('hc', [ups.hcbad.port], {
      health_checks: [{ timeout: '1s', interval: '0.2s', no_traffic_interval: '0.2s', unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: { path: '/healthz' } }],
    })),
  ]);
  const affinity = [{ cookie: { name: 'sid', ttl: '3600s', path: '/' } }];
  dp.routes.tables.set('routes', routeTableFrom({
    name: 'routes',
    virtual_hosts: [{
      name: 'vh', domains: ['*'],
      routes: [
        { match: { prefix: '/ring' }, route: { cluster: 'ring', hash_policy: affinity } },
        { match: { prefix: '/mag' }, route: { cluster: 'mag', hash_policy: affinity } },
        { match: { prefix: '/xy' }, route: { cluster: 'xy' } },
        { match: { prefix: '/cb' }, route: { cluster: 'cb', timeout: '10s' } },
        { match: { prefix: '/hc' }, route: { cluster: 'hc' } },
      ],
    }],
  }));
  await dp.setListeners([listenerFrom(httpListener('ingress'))]);
  port = dp.port('ingress');
});

after(async () => {
  await dp.close();
  await Promise.all(Object.values(ups).map((u) => u.close()));
});

for (const [prefix, cluster] of [['/ring', 'ring'], ['/mag', 'mag']] as const) {
  test(`generated cookie affinity (${cluster}): set-cookie once, 100 requests stick to one backend, moves only on ejection`, async () => {
    // Different cookie values spread over the backends, so the cookie really drives the choice.
    const spread = new Set<string>();
    for (let i = 0; i < 30; i++) spread.add(upstreamOf(await get(prefix, { cookie: `sid=client-${i}` })));
    assert.ok(spread.size >= 2, `30 distinct cookies reached only ${[...spread].join(',')}`);

    const first = await get(prefix);
    assert.equal(first.status, 200);
    const sc = String(first.headers['set-cookie'] ?? '');
    const m = /^sid="([0-9a-f]{16})"; Max-Age=3600; Path=\/; HttpOnly$/.exec(sc);
    assert.ok(m, `generated cookie: ${sc}`);
    const cookie = `sid=${m[1]}`;
    const home = upstreamOf(first);

    const seen = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const r = await get(prefix, { cookie });
      assert.equal(r.status, 200);
      assert.equal(r.headers['set-cookie'], undefined, 'no new cookie when the client sends one');
      seen.set(upstreamOf(r), (seen.get(upstreamOf(r)) ?? 0) + 1);
    }
    assert.deepEqual([...seen], [[home, 100]], 'all 100 requests on the backend the generated cookie chose');

    // The home backend starts failing: after consecutive_5xx (3) it is ejected and the client moves, then sticks.
    const bad = ups[home];
    bad.behave = () => ({ status: 503 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await get(prefix, { cookie })).status);
      assert.deepEqual(statuses, [503, 503, 503], 'the failing home backend answers until ejected');
      assert.equal(clusterStat(cluster, bad.port, 'health_flags'), '/failed_outlier_check');
      const after = new Map<string, number>();
      for (let i = 0; i < 20; i++) {
        const r = await get(prefix, { cookie });
        assert.equal(r.status, 200);
        after.set(upstreamOf(r), (after.get(upstreamOf(r)) ?? 0) + 1);
      }
      assert.equal(after.size, 1, `after ejection the client sticks to one new backend: ${[...after]}`);
      assert.notEqual([...after.keys()][0], home);
    } finally {
      bad.behave = null;
    }
  });
}

test('a backend that starts answering 503 is ejected (consecutive_5xx) and returns after base_ejection_time', async () => {
  const { x, y } = ups;
  x.behave = () => ({ status: 503 });
  let fails = 0;
  try {
    for (let i = 0; i < 12; i++) if ((await get('/xy')).status === 503) fails++;
    assert.equal(fails, 3, 'exactly consecutive_5xx failures reach the client before x is ejected');
    assert.equal(clusterStat('xy', x.port, 'health_flags'), '/failed_outlier_check');
    assert.equal(clusterStat('xy', y.port, 'health_flags'), 'healthy');
    const dist = new Map<string, number>();
    for (let i = 0; i < 10; i++) {
      const r = await get('/xy');
      dist.set(upstreamOf(r), (dist.get(upstreamOf(r)) ?? 0) + 1);
    }
    assert.deepEqual([...dist], [['y', 10]], 'while ejected, all traffic goes to y');
  } finally {
    x.behave = null;
  }
  // base_ejection_time 1 s, checked every interval (0.5 s): x comes back and takes traffic again.
  await pollUntil('x un-ejected', async () => clusterStat('xy', x.port, 'health_flags') === 'healthy', 10_000, 100);
  const dist = new Map<string, number>();
  for (let i = 0; i < 10; i++) {
    const r = await get('/xy');
    assert.equal(r.status, 200);
    dist.set(upstreamOf(r), (dist.get(upstreamOf(r)) ?? 0) + 1);
  }
  assert.ok((dist.get('x') ?? 0) >= 4, `x takes its round-robin share again: ${[...dist]}`);
  const stats = runtime('xy').outlier?.stats;
  assert.ok(stats && stats.ejectionsTotal >= 1);
});

test('circuit breaker overflow: 503 UO promptly, pending bounded by max_pending_requests, nothing queued unbounded', async () => {
  const slow = ups.slow;
  slow.behave = () => ({ delayMs: 400 });
  const cb = runtime('cb').breakerObjects()[0];
  let maxPending = 0;
  let maxRequests = 0;
  const sampler = setInterval(() => {
    maxPending = Math.max(maxPending, cb.active.pending);
    maxRequests = Math.max(maxRequests, cb.active.requests);
  }, 1);
  const origAcquire = cb.tryAcquire.bind(cb);
  cb.tryAcquire = (kind) => {
    const ok = origAcquire(kind);
    maxPending = Math.max(maxPending, cb.active.pending);
    return ok;
  };
  const order: number[] = [];
  try {
    const streamsBefore = dp.streams.length;
    const replies = await Promise.all(Array.from({ length: 20 }, () => get('/cb').then((r) => {
      order.push(r.status);
      return r;
    })));
    const ok = replies.filter((r) => r.status === 200);
    const uo = replies.filter((r) => r.status === 503);
    assert.equal(ok.length + uo.length, 20, `statuses: ${replies.map((r) => r.status)}`);
    assert.ok(uo.length >= 16, `at most max_connections + max_pending_requests (4) admitted; UO=${uo.length}`);
    for (const r of uo) assert.equal(r.headers['x-envoy-overloaded'], 'true');
    const flags = dp.streams.slice(streamsBefore).filter((s) => s.responseCode === 503).map((s) => s.responseFlags);
    assert.ok(flags.length === uo.length && flags.every((f) => f.includes('UO')), `response flags ${flags}`);
    // Promptly: every overflow answer arrived before the first admitted request (400 ms backend) finished.
    assert.deepEqual(order.slice(0, uo.length), uo.map(() => 503), `answer order ${order}`);
    assert.ok(maxPending <= 2, `pending peaked at ${maxPending}`);
    assert.ok(maxRequests <= 4, `active requests peaked at ${maxRequests}`);
    assert.ok(cb.stats.overflow.pending >= 16, `upstream_rq_pending_overflow ${cb.stats.overflow.pending}`);
    assert.equal(cb.active.pending, 0, 'no pending slot leaked');
    assert.equal(cb.active.requests, 0, 'no request slot leaked');
    // The backend never saw more connections than max_connections at once.
    assert.ok(Number(clusterStat('cb', slow.port, 'cx_total')) <= 2, `cx_total ${clusterStat('cb', slow.port, 'cx_total')}`);
  } finally {
    clearInterval(sampler);
    slow.behave = null;
    cb.tryAcquire = origAcquire;
  }
});

test('/clusters shows health flags, weights, active requests, connection counters and success rate after traffic', async () => {
  const { x, y, hcbad } = ups;
  hcbad.behave = (req) => (req.path === '/healthz' ? { status: 503 } : undefined);
  try {
    await pollUntil('active HC fails hcbad', async () => clusterStat('hc', hcbad.port, 'health_flags') === '/failed_active_hc', 10_000, 50);
  } finally {
    hcbad.behave = null;
  }
  await pollUntil('active HC passes again', async () => clusterStat('hc', hcbad.port, 'health_flags') === 'healthy', 10_000, 50);

  for (let i = 0; i < 10; i++) assert.equal((await get('/xy')).status, 200);
  // Success rate is computed each outlier interval (0.5 s) once a host has success_rate_request_volume requests.
  await pollUntil('success_rate for y', async () => clusterStat('xy', y.port, 'success_rate') === '100', 10_000, 100);
  assert.equal(clusterStat('xy', x.port, 'weight'), '1');
  assert.ok(Number(clusterStat('xy', y.port, 'cx_total')) >= 1, 'cx_total counted by the pool');
  assert.ok(Number(clusterStat('xy', y.port, 'rq_total')) >= 10);
  assert.ok(Number(clusterStat('xy', x.port, 'rq_error')) >= 3, 'the 503s of the ejection test count as errors');

  // rq_active while a request is in flight.
  y.behave = () => ({ delayMs: 500 });
  x.behave = () => ({ delayMs: 500 });
  try {
    const inflight = get('/xy');
    const active = await pollUntil('rq_active 1', async () => {
      const a = Number(clusterStat('xy', x.port, 'rq_active')) + Number(clusterStat('xy', y.port, 'rq_active'));
      return a === 1 ? a : undefined;
    }, 5000, 5);
    assert.equal(active, 1);
    assert.equal((await inflight).status, 200);
  } finally {
    x.behave = null;
    y.behave = null;
  }
  assert.equal(Number(clusterStat('xy', x.port, 'rq_active')) + Number(clusterStat('xy', y.port, 'rq_active')), 0);
  assert.ok(Number(clusterStat('xy', y.port, 'cx_active')) >= 0);
});
