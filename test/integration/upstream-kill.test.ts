// Killing one of three backends under a steady open-loop 300 rps (issue 4 acceptance): with retries
// (connect-failure,reset,refused-stream,5xx; 2 retries) and outlier detection (consecutive_gateway_failure 3,
// interval 1 s) at most 0.5 % of requests fail overall and none that start 2 s after the kill. Bounded to ~8 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { EchoUpstream } from '../support/upstreams.js';
import { DataPlane, clusterFrom, httpListener, initDataPlane, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';

const RPS = 300;
const KILL_AT_MS = 2000;
const RUN_MS = 6500;

interface Sample { readonly startMs: number; readonly ok: boolean; readonly what: string }

test('3 backends at a steady 300 rps, one killed: <= 0.5 % errors overall and none from 2 s after the kill', async (t) => {
  await initDataPlane();
  const backends = await Promise.all(['b1', 'b2', 'b3'].map((name) => EchoUpstream.start({ name })));
  const dp = new DataPlane();
  const client = { pool: null as Pool | null };
  try {
    dp.setClusters([clusterFrom(staticCluster('svc', backends.map((b) => b.port), {
      lb_policy: 'ROUND_ROBIN',
      outlier_detection: {
        consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100, consecutive_5xx: 5,
        interval: '1s', base_ejection_time: '30s', max_ejection_percent: 100,
      },
    }))]);
    dp.routes.tables.set('routes', routeTableFrom({
      name: 'routes',
      virtual_hosts: [{
        name: 'vh', domains: ['*'],
        routes: [{
          match: { prefix: '/' },
          route: {
            cluster: 'svc', timeout: '5s',
            retry_policy: { retry_on: 'connect-failure,reset,refused-stream,5xx', num_retries: 2, retry_back_off: { base_interval: '0.01s', max_interval: '0.05s' } },
          },
        }],
      }],
    }));
    await dp.setListeners([listenerFrom(httpListener('ingress'))]);
    const pool = new Pool(`http://127.0.0.1:${dp.port('ingress')}`, { connections: 128, headersTimeout: 10_000, bodyTimeout: 10_000 });
    client.pool = pool;

    const samples: Sample[] = [];
    const inflight = new Set<Promise<void>>();
    const t0 = performance.now();
    const fire = (): void => {
      const startMs = performance.now() - t0;
      const p = pool.request({ method: 'GET', path: `/item/${samples.length + inflight.size}` })
        .then(async (r) => {
          const body = await r.body.text();
          samples.push({ startMs, ok: r.statusCode === 200, what: r.statusCode === 200 ? 'ok' : `${r.statusCode} ${body.slice(0, 60)}` });
        }, (e: Error) => {
          samples.push({ startMs, ok: false, what: `error ${e.message}` });
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    };

    // Open loop: every tick sends whatever the schedule says is due, whatever the responses are doing.
    let sent = 0;
    let killed = false;
    let killMs = 0;
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const now = performance.now() - t0;
        if (!killed && now >= KILL_AT_MS) {
          killed = true;
          killMs = now;
          void backends[1].close();
        }
        if (now >= RUN_MS) {
          clearInterval(tick);
          resolve();
          return;
        }
        const due = Math.floor((now * RPS) / 1000);
        while (sent < due) {
          fire();
          sent++;
        }
      }, 5);
    });
    await Promise.race([Promise.all(inflight), new Promise((r) => setTimeout(r, 6000).unref())]);

    const total = samples.length;
    const errors = samples.filter((s) => !s.ok);
    const late = errors.filter((s) => s.startMs >= killMs + 2000);
    const durS = RUN_MS / 1000;
    const byBackend = new Map<string, number>();
    for (const b of backends) byBackend.set(b.opts.name, b.requests.length);
    const msg = `sent ${sent} in ${durS}s (${(sent / durS).toFixed(0)} rps), answered ${total}, errors ${errors.length} `
      + `(${((100 * errors.length) / Math.max(1, total)).toFixed(2)} %), errors starting >= 2 s after the kill ${late.length}; `
      + `backend requests ${[...byBackend].map(([k, v]) => `${k}=${v}`).join(' ')}; kill at ${killMs.toFixed(0)} ms`;
    t.diagnostic(msg);
    if (errors.length) t.diagnostic(`error kinds: ${[...new Set(errors.map((e) => e.what))].slice(0, 5).join(' | ')}`);

    assert.equal(total, sent, 'every request was answered or failed within the bound');
    assert.ok(sent >= RPS * durS * 0.9, `the generator kept its rate (${sent})`);
    assert.ok(errors.length <= total * 0.005, `errors ${errors.length} of ${total} exceed 0.5 %`);
    assert.equal(late.length, 0, 'no errors from 2 s after the kill');
    const host = dp.clusters.get('svc')?.hosts().find((h) => h.port === backends[1].port);
    assert.ok(host?.healthFlags.has('failed_outlier_check'), 'the killed backend is ejected by outlier detection');
    assert.ok(backends[0].requests.length > 0 && backends[2].requests.length > 0);
  } finally {
    await client.pool?.close().catch(() => undefined);
    await dp.close();
    await Promise.all(backends.map((b) => b.close().catch(() => undefined)));
  }
});
