// End to end: /clusters under `--concurrency 2` answers for the whole process group. Each worker counts the
// requests it carried; the primary asks every worker and sums per-host counters (rq_total, rq_success, rq_active,
// cx_total, …) in the text and JSON forms, while health flags, weights and outlier state come once (shared state).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EchoUpstream } from '../support/upstreams.js';
import { httpBootstrap, staticCluster } from '../support/bootstrap-builders.js';
import { MeshletProcess, freePort, httpRequest } from '../support/meshlet-process.js';

function bootstrap(port: number, ups: readonly number[]): Record<string, unknown> {
  return httpBootstrap({
    nodeId: 'clusters-workers', port,
    routes: [{ match: { prefix: '/od/' }, route: { cluster: 'od' } }, { match: { prefix: '/' }, route: { cluster: 'svc' } }],
    clusters: [
      staticCluster('svc', ups),
      // Outlier detection: this cluster's host state is the primary's shared state.
      staticCluster('od', ups, { outlier_detection: { consecutive_5xx: 5, interval: '10s', base_ejection_time: '60s' } }),
    ],
  });
}

interface WorkersView { workers: { index: number; accepted?: number }[] }
interface JsonStat { name: string; value?: string }
interface JsonClusters {
  cluster_statuses: { name: string; host_statuses: { address: { socket_address: { port_value: number } }; stats: JsonStat[]; weight: number }[] }[];
}

/** Sum of `stat` over the hosts of cluster `c` in /clusters text, and how many lines carried it. */
function textSum(text: string, c: string, stat: string): { sum: number; lines: number } {
  let sum = 0;
  let lines = 0;
  for (const l of text.split('\n')) {
    if (!l.startsWith(`${c}::127.0.0.1:`) || !l.includes(`::${stat}::`)) continue;
    lines++;
    sum += Number(l.slice(l.lastIndexOf('::') + 2));
  }
  return { sum, lines };
}

function jsonSum(j: JsonClusters, c: string, stat: string): number {
  const cl = j.cluster_statuses.find((x) => x.name === c);
  assert.ok(cl, `cluster ${c} in JSON`);
  return cl.host_statuses.reduce((s, h) => s + Number(h.stats.find((x) => x.name === stat)?.value ?? 0), 0);
}

describe('e2e --concurrency 2: /clusters sums every worker\'s host counters', { timeout: 120_000 }, () => {
  let a: EchoUpstream;
  let b: EchoUpstream;
  let m: MeshletProcess;
  let port: number;

  const accepted = async (): Promise<number[]> => (await m.adminJson<WorkersView>('/debug/workers')).workers.map((w) => w.accepted ?? 0);

  /** Requests in batches of 10, each on a fresh connection, until at least `min` were sent and both workers took some. */
  const load = async (path: string, min: number): Promise<number> => {
    const before = await accepted();
    let sent = 0;
    for (;;) {
      const rs = await Promise.all(Array.from({ length: 10 }, (_, j) => httpRequest(`http://127.0.0.1:${port}${path}${sent + j}`)));
      for (const r of rs) assert.equal(r.status, 200);
      sent += rs.length;
      const now = await accepted();
      const per = now.map((x, i) => x - (before[i] ?? 0));
      if (sent >= min && per.length === 2 && per.every((n) => n > 0)) {
        console.log(`# ${sent} requests to ${path}: connections per worker ${per.join(' / ')}`);
        return sent;
      }
      assert.ok(sent < min + 200, `both workers should take connections (per worker: ${per.join(' / ')})`);
    }
  };

  before(async () => {
    a = await EchoUpstream.start({ name: 'a' });
    b = await EchoUpstream.start({ name: 'b' });
    port = await freePort();
    m = await MeshletProcess.start({ bootstrap: bootstrap(port, [a.port, b.port]), args: ['--concurrency', '2', '--drain-time-s', '1'] });
    await m.waitState('LIVE', 30_000);
  });
  after(async () => {
    await m?.stop();
    await a?.close();
    await b?.close();
  });

  it('rq_total over a cluster\'s hosts is the number of requests both workers carried (text and JSON)', async () => {
    const n = await load('/svc/', 40);
    const text = (await m.admin('/clusters')).body;
    const total = textSum(text, 'svc', 'rq_total');
    assert.equal(total.lines, 2, 'one rq_total line per host, not one per worker');
    assert.equal(total.sum, n, `rq_total sums to the ${n} requests sent`);
    assert.equal(textSum(text, 'svc', 'rq_success').sum, n);
    assert.equal(textSum(text, 'svc', 'rq_active').sum, 0, 'nothing in flight');
    assert.ok(textSum(text, 'svc', 'cx_total').sum >= 2, 'upstream connections of both workers');
    assert.equal(textSum(text, 'svc', 'health_flags').lines, 2);
    assert.equal(text.split('\n').filter((l) => l.startsWith('svc::observability_name::')).length, 1, 'cluster lines once');
    const json = await m.adminJson<JsonClusters>('/clusters?format=json');
    assert.equal(json.cluster_statuses.filter((c) => c.name === 'svc').length, 1);
    assert.equal(json.cluster_statuses.find((c) => c.name === 'svc')!.host_statuses.length, 2, 'hosts merged by address');
    assert.equal(jsonSum(json, 'svc', 'rq_total'), n);
    assert.equal(jsonSum(json, 'svc', 'rq_success'), n);
  });

  it('a cluster with shared outlier state: counters summed, health flags and weights once', async () => {
    const n = await load('/od/', 20);
    const text = (await m.admin('/clusters')).body;
    assert.equal(textSum(text, 'od', 'rq_total').sum, n);
    const flags = text.split('\n').filter((l) => l.startsWith('od::127.0.0.1:') && l.includes('::health_flags::'));
    assert.deepEqual(flags.map((l) => l.slice(l.lastIndexOf('::') + 2)), ['healthy', 'healthy']);
    assert.deepEqual(textSum(text, 'od', 'weight'), { sum: 2, lines: 2 }, 'weights are not summed');
    assert.equal(text.split('\n').filter((l) => l === 'od::outlier::success_rate_average::-1').length, 1);
    const json = await m.adminJson<JsonClusters>('/clusters?format=json');
    assert.equal(jsonSum(json, 'od', 'rq_total'), n);
    assert.deepEqual(json.cluster_statuses.find((c) => c.name === 'od')!.host_statuses.map((h) => h.weight), [1, 1]);
  });
});
