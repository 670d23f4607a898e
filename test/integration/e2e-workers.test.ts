// End to end: `--concurrency 2` on the real process (issue 8 item 2). One xDS stream in the primary feeds both
// workers; traffic is served by both (per-worker accepted connections from /debug/workers + worker status);
// a route change over xDS reaches every worker; a killed worker is replaced (with the current config) and traffic
// continues; /stats/prometheus sums the workers' request counters; envoy_server_concurrency is 2; readiness LIVE
// only once every worker applied the config.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestXdsServer } from '../support/xds-server.js';
import { EchoUpstream } from '../support/upstreams.js';
import {
  MeshletProcess, adsBootstrap, e2eCluster, e2eEndpoints, e2eListener, e2eRoutes, freePort, httpRequest, pollUntil, T,
} from '../support/meshlet-process.js';

interface WorkersView {
  concurrency: number;
  workers: { index: number; pid: number; state: string; generation: number; restarts: number }[];
}

function promSum(text: string, name: string, labelMatch: RegExp = /.*/): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name && labelMatch.test(m[2] ?? '')) sum += Number(m[3]);
  }
  return sum;
}

describe('e2e --concurrency 2 workers', { timeout: 120_000 }, () => {
  let xds: TestXdsServer;
  let a: EchoUpstream;
  let b: EchoUpstream;
  let m: MeshletProcess;
  let port: number;

  before(async () => {
    xds = await TestXdsServer.start();
    a = await EchoUpstream.start({ name: 'a' });
    b = await EchoUpstream.start({ name: 'b' });
    port = await freePort();
    xds.setResources(T.Cluster, [e2eCluster('a'), e2eCluster('b')]);
    xds.setResources(T.Endpoints, [e2eEndpoints('a', [a.port]), e2eEndpoints('b', [b.port])]);
    xds.setResources(T.Route, [e2eRoutes('r', 'a')]);
    xds.setResources(T.Listener, [e2eListener('l', port, 'r')]);
    m = await MeshletProcess.start({ bootstrap: adsBootstrap({ xdsPort: xds.port }), args: ['--concurrency', '2', '--drain-time-s', '2'] });
    await m.waitState('LIVE', 20_000);
  });
  after(async () => {
    await m?.stop();
    await xds?.stop();
    await a?.close();
    await b?.close();
  });

  it('LIVE only after both workers applied the config; one xDS stream; concurrency gauge is 2', async () => {
    const w = await m.adminJson<WorkersView>('/debug/workers');
    assert.equal(w.concurrency, 2);
    assert.equal(w.workers.length, 2);
    for (const x of w.workers) {
      assert.equal(x.state, 'running');
      assert.ok(x.generation >= 1, `worker ${x.index} applied a generation`);
      assert.notEqual(x.pid, m.pid, 'workers are separate processes');
    }
    assert.equal(await m.promValue('envoy_server_concurrency'), 2);
    assert.equal(xds.openStreams, 1, 'one ADS stream for the whole pod (the primary), not one per worker');
  });

  it('traffic is served by both workers and the aggregated metrics sum them', async () => {
    const before = promSum((await m.admin('/stats/prometheus')).body, 'envoy_http_downstream_rq_total');
    const n = 200;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => httpRequest(`http://127.0.0.1:${port}/w/${i}`)));
    for (const r of replies) assert.equal(r.status, 200);
    // Each worker reports its own accepted connections through the admin's listener view per worker.
    const perWorker = await m.adminJson<{ workers: { index: number; accepted?: number }[] }>('/debug/workers');
    const accepted = perWorker.workers.map((x) => x.accepted ?? 0);
    console.log(`# accepted connections per worker: ${accepted.join(', ')}`);
    assert.ok(accepted.every((x) => x > 0), `both workers accepted connections: ${accepted.join(', ')}`);
    const after = promSum((await m.admin('/stats/prometheus')).body, 'envoy_http_downstream_rq_total');
    assert.equal(after - before, n, 'the primary sums both workers\' request counters');
  });

  it('a route change pushed over xDS reaches every worker', async () => {
    xds.setResources(T.Route, [e2eRoutes('r', 'b')]);
    let round = 0;
    await pollUntil('route to b on every connection', async () => {
      const tag = `/rc/${round++}/`;
      const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => httpRequest(`http://127.0.0.1:${port}${tag}${i}`)));
      return rs.every((r) => r.status === 200) && b.requests.filter((q) => q.path.startsWith(tag)).length === 40;
    }, 10_000, 100);
    const w = await m.adminJson<WorkersView>('/debug/workers');
    assert.equal(new Set(w.workers.map((x) => x.generation)).size, 1, 'both workers on the same generation');
  });

  it('a killed worker is replaced with the current config and traffic continues', async () => {
    const w0 = await m.adminJson<WorkersView>('/debug/workers');
    const victim = w0.workers[0];
    process.kill(victim.pid, 'SIGKILL');
    let failures = 0;
    const replaced = await pollUntil('worker replaced', async () => {
      const r = await httpRequest(`http://127.0.0.1:${port}/k`).catch(() => null);
      if (!r || r.status !== 200) failures++;
      const w = await m.adminJson<WorkersView>('/debug/workers');
      const x = w.workers[victim.index];
      return x.pid !== victim.pid && x.state === 'running' && x.generation === w0.workers[1].generation ? x : null;
    }, 15_000, 50);
    assert.equal(replaced.restarts, 1);
    // Connections the dying worker held may fail; new ones after the replacement must all succeed.
    console.log(`# requests failed while a worker was down: ${failures}`);
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => httpRequest(`http://127.0.0.1:${port}/after/${i}`)));
    for (const r of rs) assert.equal(r.status, 200);
    assert.equal((await m.admin('/ready')).status, 200);
  });

  it('SIGTERM stops the primary and both workers', async () => {
    const w = await m.adminJson<WorkersView>('/debug/workers');
    m.signal('SIGTERM');
    const exit = await m.waitExit(15_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    for (const x of w.workers) {
      let alive = true;
      try {
        process.kill(x.pid, 0);
      } catch {
        alive = false;
      }
      assert.equal(alive, false, `worker ${x.pid} exited`);
    }
  });
});
