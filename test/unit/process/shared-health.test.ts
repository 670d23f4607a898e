// Unit tests for --concurrency N shared health without processes: the follower's outcome batches (run-length, one
// message per window), the authority's single outlier detector fed by two followers (failures add up across workers),
// broadcasts applied by every follower cluster, a late worker that gets the full state before its hosts exist, and
// a host that leaves the authority's set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterRuntime } from '../../../src/upstream/upstream-cluster.js';
import type { ClusterConfig } from '../../../src/config/cluster.js';
import { clusterResourceType } from '../../../src/xds/resource-types/cluster.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { EMPTY_SNAPSHOT, type ConfigSnapshot } from '../../../src/config/snapshot.js';
import { SharedHealthFollower } from '../../../src/process/shared-health-follower.js';
import { SharedHealthAuthority } from '../../../src/process/shared-health-authority.js';
import type { WireHealthUpdate, WireOutcomeBatch } from '../../../src/process/shared-health-wire.js';

const node = { id: 'n', cluster: 'c', locality: {}, metadata: {} };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function odCluster(name: string, ports: readonly number[]): ClusterConfig {
  const r = clusterResourceType.translate(jsonToCanonical('envoy.config.cluster.v3.Cluster', {
    name, type: 'STATIC',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }] },
    outlier_detection: { consecutive_5xx: 5, consecutive_gateway_failure: 0, interval: '10s', base_ejection_time: '60s', max_ejection_percent: 100 },
  }), { node });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

function snapshotOf(c: ClusterConfig, generation = 1): ConfigSnapshot {
  return { ...EMPTY_SNAPSHOT, generation, clusters: new Map([[c.name, { name: c.name, version: String(generation), value: c, raw: {}, lastUpdated: 0, isStatic: true }]]) };
}

test('a follower batches outcomes as ordered runs per host, one message per window', async () => {
  const sent: WireOutcomeBatch[] = [];
  const f = new SharedHealthFollower({ send: (b) => sent.push(b), flushMs: 20 });
  for (const s of [503, 503, 503, 200, 200, 503]) f.report('c', 'h1:1', { kind: 'http', status: s });
  f.report('c', 'h2:1', { kind: 'connect_failure' });
  f.report('d', 'h3:1', { kind: 'timeout' });
  assert.equal(sent.length, 0, 'nothing is sent per request');
  await sleep(60);
  assert.deepEqual(sent, [[['c', [['h1:1', [503, 3, 200, 2, 503, 1]], ['h2:1', [1, 1]]]], ['d', [['h3:1', [2, 1]]]]]]);
  await sleep(40);
  assert.equal(sent.length, 1, 'no empty batches');
  f.close();
});

test('one outlier detector for all workers: 3 + 2 failures from two workers eject the host in both', async () => {
  const cfg = odCluster('svc', [1001, 1002]);
  const runtimes: ClusterRuntime[] = [];
  const followers: SharedHealthFollower[] = [];
  const updates: WireHealthUpdate[] = [];
  const authority = new SharedHealthAuthority({
    node,
    publish: (u) => {
      updates.push(u);
      followers.forEach((f, i) => f.apply(u, (name) => (name === 'svc' ? runtimes[i] : undefined)));
    },
  });
  try {
    await authority.apply(snapshotOf(cfg));
    for (let i = 0; i < 2; i++) {
      const f = new SharedHealthFollower({ send: (b) => authority.onOutcomes(b), flushMs: 10 });
      f.apply(authority.full(), () => undefined);
      followers.push(f);
      const rt = new ClusterRuntime(cfg, { healthFollower: f });
      rt.start();
      runtimes.push(rt);
    }
    const bad = (rt: ClusterRuntime) => rt.hosts().find((h) => h.port === 1001)!;
    // Worker 0 sees 3 failures of the bad host, worker 1 sees 2: neither reaches 5 on its own.
    for (let n = 0; n < 3; n++) runtimes[0].reportOutcome(bad(runtimes[0]), { kind: 'http', status: 503 });
    await sleep(40);
    assert.equal(authority.cluster('svc')!.outlier!.stats.ejectionsActive, 0, '3 failures do not eject');
    for (let n = 0; n < 2; n++) runtimes[1].reportOutcome(bad(runtimes[1]), { kind: 'http', status: 503 });
    await sleep(40);
    assert.equal(authority.cluster('svc')!.outlier!.stats.ejectionsTotal, 1, 'the 5th failure in total ejects');
    for (const rt of runtimes) {
      assert.ok(bad(rt).healthFlags.has('failed_outlier_check'), 'every worker applied the ejection');
      for (let n = 0; n < 20; n++) assert.equal(rt.chooseHost({})?.port, 1002, 'and routes around it');
      assert.equal(rt.outlier!.stats.ejectionsActive, 1);
    }
    // The follower's own detector never ran: the workers' clusters report, they do not decide.
    assert.ok(updates.every((u) => !u.full));

    // A worker started now gets the full state before its hosts exist: the host is ejected from the start.
    const late = new SharedHealthFollower({ send: (b) => authority.onOutcomes(b), flushMs: 10 });
    late.apply(authority.full(), () => undefined);
    const rt3 = new ClusterRuntime(cfg, { healthFollower: late });
    rt3.start();
    assert.ok(bad(rt3).healthFlags.has('failed_outlier_check'), 'late worker starts with the ejection');
    for (let n = 0; n < 20; n++) assert.equal(rt3.chooseHost({})?.port, 1002);
    late.close();

    // The cluster goes away at the authority: followers drop its state (a new cluster of that name starts clean).
    await authority.apply({ ...EMPTY_SNAPSHOT, generation: 2 });
    assert.equal(followers[0].state('svc', '127.0.0.1:1001'), undefined);
  } finally {
    authority.close();
    for (const f of followers) f.close();
    for (const rt of runtimes) rt.close();
  }
});

test('without a follower link a cluster keeps its own detector (single process: nothing changes)', () => {
  const cfg = odCluster('solo', [2001, 2002]);
  const rt = new ClusterRuntime(cfg);
  rt.start();
  try {
    const h = rt.hosts().find((x) => x.port === 2001)!;
    for (let n = 0; n < 5; n++) rt.reportOutcome(h, { kind: 'http', status: 503 });
    assert.ok(h.healthFlags.has('failed_outlier_check'), 'ejected locally and at once');
  } finally {
    rt.close();
  }
});
