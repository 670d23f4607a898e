// End to end: one health view across `--concurrency 2` workers (issue 4 items 6-7 with issue 8's worker model).
// Active health checks run once for the process group (a backend sees one checker's rate, not two), a failing
// health endpoint takes the backend out of BOTH workers and /clusters shows /failed_active_hc; outlier detection
// counts failures across workers (consecutive_5xx: 5 ejects after ~5 failures in total, in both workers); a killed
// worker's replacement starts with the current health state (an unhealthy host that a fresh checker would call healthy
// on its first success stays unhealthy until the shared checker's healthy_threshold is met).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EchoUpstream } from '../support/upstreams.js';
import { httpBootstrap, staticCluster } from '../support/bootstrap-builders.js';
import { MeshletProcess, freePort, httpRequest, pollUntil } from '../support/meshlet-process.js';

/** Health check period while healthy (ms) and the unhealthy → healthy threshold (at UNHEALTHY_INTERVAL_S). */
const INTERVAL_S = 0.2;
const UNHEALTHY_INTERVAL_S = 0.5;
const HEALTHY_THRESHOLD = 24;

interface WorkersView {
  workers: { index: number; pid: number; state: string; generation: number; restarts: number; accepted?: number }[];
}

function bootstrap(port: number, svc: readonly number[], od: readonly number[]): Record<string, unknown> {
  return httpBootstrap({
    nodeId: 'worker-health', port,
    routes: [{ match: { prefix: '/od/' }, route: { cluster: 'od' } }, { match: { prefix: '/' }, route: { cluster: 'svc' } }],
    clusters: [
      staticCluster('svc', svc, {
        health_checks: [{
          timeout: '1s', interval: `${INTERVAL_S}s`, no_traffic_interval: `${INTERVAL_S}s`, unhealthy_interval: `${UNHEALTHY_INTERVAL_S}s`,
          unhealthy_threshold: 1, healthy_threshold: HEALTHY_THRESHOLD, http_health_check: { path: '/healthz' },
        }],
      }),
      staticCluster('od', od, {
        outlier_detection: {
          consecutive_5xx: 5, enforcing_consecutive_5xx: 100, consecutive_gateway_failure: 0, interval: '10s',
          base_ejection_time: '60s', max_ejection_percent: 100,
        },
      }),
    ],
  });
}

/** The `health_flags` of host 127.0.0.1:port in cluster `c` from /clusters text (undefined if absent). */
function healthFlags(text: string, c: string, port: number): string | undefined {
  const prefix = `${c}::127.0.0.1:${port}::health_flags::`;
  return text.split('\n').find((l) => l.startsWith(prefix))?.slice(prefix.length);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('e2e --concurrency 2: one health view across workers', { timeout: 120_000 }, () => {
  let a: EchoUpstream;
  let b: EchoUpstream;
  let bad: EchoUpstream;
  let good: EchoUpstream;
  let m: MeshletProcess;
  let port: number;
  let aFailing = false;

  const hcCount = (u: EchoUpstream): number => u.requests.filter((r) => r.path === '/healthz').length;
  const accepted = async (): Promise<number[]> => (await m.adminJson<WorkersView>('/debug/workers')).workers.map((w) => w.accepted ?? 0);
  const clusters = async (): Promise<string> => (await m.admin('/clusters')).body;

  /** `n` requests, each on its own connection (so the kernel spreads them over both workers); the x-upstream of each. */
  const spread = async (path: string, n: number): Promise<{ upstreams: string[]; perWorker: number[] }> => {
    const before = await accepted();
    const upstreams: string[] = [];
    for (let i = 0; i < n; i += 10) {
      const rs = await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => httpRequest(`http://127.0.0.1:${port}${path}${i + j}`)));
      for (const r of rs) upstreams.push(`${r.status} ${String(r.headers['x-upstream'] ?? '-')}`);
    }
    const after = await accepted();
    return { upstreams, perWorker: after.map((x, i) => x - (before[i] ?? 0)) };
  };

  before(async () => {
    a = await EchoUpstream.start({ name: 'a' });
    b = await EchoUpstream.start({ name: 'b' });
    bad = await EchoUpstream.start({ name: 'bad' });
    good = await EchoUpstream.start({ name: 'good' });
    a.behave = (r) => (r.path === '/healthz' && aFailing ? { status: 503 } : undefined);
    bad.behave = () => ({ status: 503 });
    port = await freePort();
    m = await MeshletProcess.start({ bootstrap: bootstrap(port, [a.port, b.port], [bad.port, good.port]), args: ['--concurrency', '2', '--drain-time-s', '1'] });
    await m.waitState('LIVE', 30_000);
    await pollUntil('both svc hosts healthy', async () => {
      const t = await clusters();
      return healthFlags(t, 'svc', a.port) === 'healthy' && healthFlags(t, 'svc', b.port) === 'healthy';
    }, 15_000, 100);
  });
  after(async () => {
    await m?.stop();
    await a?.close();
    await b?.close();
    await bad?.close();
    await good?.close();
  });

  it('a backend sees the health-check rate of one checker, not one per worker', async () => {
    const windowMs = 4000;
    const n0 = hcCount(a);
    await sleep(windowMs);
    const n = hcCount(a) - n0;
    const oneChecker = windowMs / (INTERVAL_S * 1000);
    console.log(`# health checks seen by one backend in ${windowMs} ms: ${n} (one checker at ${INTERVAL_S}s: ~${oneChecker}, two: ~${2 * oneChecker})`);
    assert.ok(n >= oneChecker * 0.3, `health checks still run (${n})`);
    assert.ok(n <= oneChecker * 1.4, `one checker's rate, not two (${n} checks vs ~${oneChecker} for one checker)`);
  });

  it('a failing health endpoint takes the backend out of both workers; /clusters shows /failed_active_hc', async () => {
    aFailing = true;
    await pollUntil('a failed_active_hc in /clusters', async () => healthFlags(await clusters(), 'svc', a.port) === '/failed_active_hc', 10_000, 50);
    assert.equal(healthFlags(await clusters(), 'svc', b.port), 'healthy');
    // Each worker must have applied it too: give the broadcast a moment, then spread requests over both workers.
    await sleep(300);
    const aBefore = a.requests.length - hcCount(a);
    const { upstreams, perWorker } = await spread('/hc/', 80);
    console.log(`# connections per worker: ${perWorker.join(', ')}`);
    assert.ok(perWorker.every((x) => x > 0), `both workers served (${perWorker.join(', ')})`);
    assert.deepEqual([...new Set(upstreams)], ['200 b'], 'every request went to the healthy backend');
    assert.equal(a.requests.length - hcCount(a), aBefore, 'the unhealthy backend got no traffic from any worker');
  });

  it('outlier detection counts failures across workers: consecutive_5xx 5 ejects after ~5 failures, in both workers', async () => {
    let sent = 0;
    const w0 = await accepted();
    // One request at a time on fresh connections; after each 503 wait longer than the 100 ms outcome batch window,
    // so the single detector has seen every failure before the next request (no race in the count).
    while (bad.requests.length < 30 && sent < 200) {
      const r = await httpRequest(`http://127.0.0.1:${port}/od/${sent++}`);
      if (r.status === 503) {
        await sleep(250);
        if (healthFlags(await clusters(), 'od', bad.port) === '/failed_outlier_check') break;
      }
    }
    const w1 = await accepted();
    const failures = bad.requests.length;
    console.log(`# requests sent ${sent}, failures seen by the bad backend before ejection: ${failures}, connections per worker ${w1.map((x, i) => x - (w0[i] ?? 0)).join(', ')}`);
    assert.equal(healthFlags(await clusters(), 'od', bad.port), '/failed_outlier_check', '/clusters shows the ejection');
    assert.ok(failures >= 5 && failures <= 6, `ejected after ~5 failures in total across both workers (got ${failures})`);
    await sleep(300);
    const { upstreams, perWorker } = await spread('/od/after/', 80);
    assert.ok(perWorker.every((x) => x > 0), `both workers served (${perWorker.join(', ')})`);
    assert.deepEqual([...new Set(upstreams)], ['200 good'], 'both workers route around the ejected host');
    assert.equal(bad.requests.length, failures, 'the ejected backend got nothing more');
  });

  it('a killed worker\'s replacement starts with the current health state; the host recovers in both later', async () => {
    // The backend passes its health check again. A fresh checker would call it healthy on its first success; the
    // shared one needs healthy_threshold successes (~HEALTHY_THRESHOLD × unhealthy_interval), so it stays unhealthy
    // meanwhile — also in a worker started now.
    aFailing = false;
    const recoveredAt = Date.now();
    const w0 = await m.adminJson<WorkersView>('/debug/workers');
    const victim = w0.workers[0];
    process.kill(victim.pid, 'SIGKILL');
    await pollUntil('worker 0 replaced and applied the config', async () => {
      const w = await m.adminJson<WorkersView>('/debug/workers');
      const x = w.workers[0];
      return x.pid !== victim.pid && x.state === 'running' && x.generation >= w0.workers[1].generation;
    }, 15_000, 50);
    // /clusters is answered by the first running worker: the replacement.
    const text = await clusters();
    const { upstreams, perWorker } = await spread('/restart/', 60);
    const elapsed = Date.now() - recoveredAt;
    console.log(`# replacement checked ${elapsed} ms after the backend recovered; connections per worker ${perWorker.join(', ')}`);
    assert.ok(elapsed < HEALTHY_THRESHOLD * UNHEALTHY_INTERVAL_S * 1000, `checked before the shared checker could call it healthy (${elapsed} ms)`);
    assert.equal(healthFlags(text, 'svc', a.port), '/failed_active_hc', 'the replacement knows the host is unhealthy');
    assert.ok(perWorker[0] > 0, `the replacement served requests (${perWorker.join(', ')})`);
    assert.deepEqual([...new Set(upstreams)], ['200 b'], 'no worker sends traffic to the unhealthy host');

    await pollUntil('a healthy again in /clusters', async () => healthFlags(await clusters(), 'svc', a.port) === 'healthy', 30_000, 200);
    await sleep(300);
    const back = await spread('/back/', 60);
    assert.ok(back.upstreams.includes('200 a') && back.upstreams.includes('200 b'), `traffic reaches the recovered backend again (${[...new Set(back.upstreams)].join(', ')})`);
  });
});
