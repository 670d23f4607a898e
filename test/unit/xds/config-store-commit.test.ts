// Unit tests for the config store's sliced commit of a mesh-sized CDS/EDS update (ConfigStore.finishSteps /
// recomputeSteps / publishSteps): the chunked path commits over several event-loop turns yet publishes the same
// snapshot as the synchronous path, no snapshot ever holds part of an update, a NACK leaves everything as it was, and
// another type's commit landing between two slices of a commit leaves the same final state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigStore } from '../../../src/xds/config-store.js';
import { encodeAny } from '../../../src/xds/proto-json.js';
import { TypeUrl } from '../../../src/xds/resource-type.js';
import type { ConfigSnapshot } from '../../../src/config/snapshot.js';
import { testRegistry, clusterRes, endpointsRes } from '../../support/xds-server.js';
import { turnsDuring } from '../../support/event-loop-turns.js';

const node = { id: 'n', cluster: 'c', locality: {}, metadata: {} };
const mk = (warmingTimeoutMs = 0): ConfigStore => new ConfigStore({ registry: testRegistry(), ctx: { node }, warmingTimeoutMs });
const delta = (version: string) => ({ source: 'ads-delta' as const, version });
const N = 3000;

const clusters = (n: number, from = 0): { name: string; version: string; resource: { type_url: string; value: Uint8Array } }[] =>
  Array.from({ length: n }, (_, i) => ({ name: `c${from + i}`, version: '1', resource: encodeAny(clusterRes(`c${from + i}`, { eds: true })) }));
const endpoints = (n: number, port = 1): { name: string; version: string; resource: { type_url: string; value: Uint8Array } }[] =>
  Array.from({ length: n }, (_, i) => ({ name: `c${i}`, version: '1', resource: encodeAny(endpointsRes(`c${i}`, [port, port + 1])) }));

/** Names and versions/values of a snapshot, comparable across stores. */
function view(s: ConfigSnapshot): Record<string, unknown> {
  const m = (x: ReadonlyMap<string, { version: string; value: unknown }>): [string, string, unknown][] =>
    [...x].map(([k, e]): [string, string, unknown] => [k, e.version, e.value]).sort((p, q) => (p[0] < q[0] ? -1 : 1));
  return { clusters: m(s.clusters), endpoints: m(s.endpoints), listeners: m(s.listeners), routes: m(s.routes) };
}

test('a 3,000-cluster CDS then EDS commit is spread over turns and publishes what the synchronous path publishes', async () => {
  const a = mk(60_000);
  const b = mk(60_000);
  const seen: ConfigSnapshot[] = [];
  a.subscribe((s) => seen.push(s));
  const cds = await turnsDuring(a.applyDeltaAsync(TypeUrl.Cluster, clusters(N), [], delta('1')));
  assert.equal(cds.value.accepted, true);
  // EDS clusters warm until their endpoints arrive: accepted, wanted, not published.
  assert.equal(a.current().clusters.size, 0);
  assert.equal(a.wantedNames(TypeUrl.ClusterLoadAssignment).size, N);
  // Between turns: was the EDS update already accepted (its history entry recorded at the swap) while the snapshot
  // did not have it yet? Then the commit itself (recompute + publish) ran over several turns.
  let commitTurns = 0;
  let watching = true;
  const watch = (): void => {
    if (!watching) return;
    const accepted = a.history.entries(TypeUrl.ClusterLoadAssignment).some((e) => e.accepted);
    if (accepted && a.current().endpoints.size === 0) commitTurns++;
    setImmediate(watch);
  };
  setImmediate(watch);
  const eds = await turnsDuring(a.applyDeltaAsync(TypeUrl.ClusterLoadAssignment, endpoints(N), [], delta('1')));
  watching = false;
  assert.equal(eds.value.accepted, true);
  assert.ok(eds.turns > 2, `the EDS apply and commit yielded (${eds.turns} turns)`);
  assert.ok(commitTurns >= 1, 'the commit after the swap of the accepted map spanned event-loop turns');

  assert.equal(b.applyDelta(TypeUrl.Cluster, clusters(N), [], delta('1')).accepted, true);
  assert.equal(b.applyDelta(TypeUrl.ClusterLoadAssignment, endpoints(N), [], delta('1')).accepted, true);
  assert.deepEqual(view(a.current()), view(b.current()));
  assert.equal(a.current().clusters.size, N);
  assert.equal(a.current().endpoints.size, N);
  // Every published snapshot holds the whole update or none of it: the clusters arrive together with their endpoints.
  for (const s of seen) assert.ok(s.clusters.size === 0 || (s.clusters.size === N && s.endpoints.size === N), `partial snapshot: ${s.clusters.size} clusters, ${s.endpoints.size} endpoints`);
  a.close();
  b.close();
});

test('a NACKed 3,000-resource EDS update changes nothing (no snapshot, no wanted change, old endpoints kept)', async () => {
  const a = mk();
  assert.equal((await a.applyDeltaAsync(TypeUrl.Cluster, clusters(N), [], delta('1'))).accepted, true);
  assert.equal((await a.applyDeltaAsync(TypeUrl.ClusterLoadAssignment, endpoints(N), [], delta('1'))).accepted, true);
  const before = a.current();
  const seen: ConfigSnapshot[] = [];
  a.subscribe((s) => seen.push(s));
  const bad = endpoints(N, 7);
  bad[N - 1] = { name: `c${N - 1}`, version: '2', resource: { type_url: 'type.googleapis.com/not.a.Type', value: new Uint8Array([1]) } };
  const r = await a.applyDeltaAsync(TypeUrl.ClusterLoadAssignment, bad, [], delta('2'));
  assert.equal(r.accepted, false);
  assert.equal(seen.length, 0);
  assert.equal(a.current(), before);
  assert.equal(a.version(TypeUrl.ClusterLoadAssignment), '1');
  a.close();
});

test('a CDS commit and an EDS commit interleaved slice by slice end in the state of applying them one after the other', async () => {
  const a = mk();
  const b = mk();
  // Half the clusters first (with their endpoints), then the other half and new endpoints for all, concurrently.
  for (const s of [a, b]) {
    assert.equal(s.applyDelta(TypeUrl.Cluster, clusters(N / 2), [], delta('1')).accepted, true);
    assert.equal(s.applyDelta(TypeUrl.ClusterLoadAssignment, endpoints(N / 2), [], delta('1')).accepted, true);
  }
  const seen: ConfigSnapshot[] = [];
  a.subscribe((s) => seen.push(s));
  const [rc, re] = await Promise.all([
    a.applyDeltaAsync(TypeUrl.Cluster, clusters(N / 2, N / 2), [], delta('2')),
    a.applyDeltaAsync(TypeUrl.ClusterLoadAssignment, endpoints(N, 9), [], delta('2')),
  ]);
  assert.equal(rc.accepted && re.accepted, true);
  assert.equal(b.applyDelta(TypeUrl.Cluster, clusters(N / 2, N / 2), [], delta('2')).accepted, true);
  assert.equal(b.applyDelta(TypeUrl.ClusterLoadAssignment, endpoints(N, 9), [], delta('2')).accepted, true);
  assert.deepEqual(view(a.current()), view(b.current()));
  assert.equal(a.current().clusters.size, N);
  assert.equal(a.current().endpoints.size, N);
  assert.ok(seen.length >= 1);
  // No snapshot mixes an endpoints map that is part old and part new.
  for (const s of seen) {
    const ports = new Set([...s.endpoints.values()].filter((e) => Number(e.name.slice(1)) < N / 2).map((e) => JSON.stringify(e.raw).includes('"port_value":9')));
    assert.ok(ports.size <= 1, 'a snapshot held old and new endpoints of one update');
  }
  a.close();
  b.close();
});

test('wire resources are compared by their bytes: the same bytes again change nothing, one changed resource is the only change', async () => {
  const a = mk();
  assert.equal((await a.applyDeltaAsync(TypeUrl.Cluster, clusters(N), [], delta('1'))).accepted, true);
  assert.equal((await a.applyDeltaAsync(TypeUrl.ClusterLoadAssignment, endpoints(N), [], delta('1'))).accepted, true);
  const before = a.current();
  const seen: ConfigSnapshot[] = [];
  a.subscribe((s) => seen.push(s));
  assert.equal((await a.applyDeltaAsync(TypeUrl.ClusterLoadAssignment, endpoints(N), [], delta('2'))).accepted, true);
  assert.equal(seen.length, 0, 'identical bytes: nothing published');
  assert.equal(a.current(), before);
  const next = endpoints(N);
  next[17] = { name: 'c17', version: '3', resource: encodeAny(endpointsRes('c17', [5, 6])) };
  assert.equal((await a.applyDeltaAsync(TypeUrl.ClusterLoadAssignment, next, [], delta('3'))).accepted, true);
  assert.equal(seen.length, 1);
  const h = a.history.entries(TypeUrl.ClusterLoadAssignment).at(-1)!;
  assert.deepEqual(h.changed, ['c17']);
  assert.notEqual(a.current().endpoints.get('c17'), before.endpoints.get('c17'));
  assert.equal(a.current().endpoints.get('c18'), before.endpoints.get('c18'));
  a.close();
});

test('EDS from the wire: entry.raw (decoded on first read from the kept bytes) equals the canonical form, frozen and stable', async () => {
  const a = mk();
  const b = mk();
  for (const s of [a, b]) assert.equal(s.applyDelta(TypeUrl.Cluster, clusters(3), [], delta('1')).accepted, true);
  assert.equal((await a.applyDeltaAsync(TypeUrl.ClusterLoadAssignment, endpoints(3), [], delta('1'))).accepted, true);
  // b gets the same resources in canonical form (no wire bytes): its raw is the eagerly kept canonical object.
  const canonical = [0, 1, 2].map((i) => ({ name: `c${i}`, version: '1', resource: endpointsRes(`c${i}`, [1, 2]) }));
  assert.equal(b.applyDelta(TypeUrl.ClusterLoadAssignment, canonical, [], delta('1')).accepted, true);
  const ea = a.current().endpoints.get('c1')!;
  const eb = b.current().endpoints.get('c1')!;
  assert.deepEqual(ea.value, eb.value);
  assert.deepEqual(ea.raw, eb.raw);
  assert.equal(ea.raw, ea.raw, 'decoded once');
  assert.ok(Object.isFrozen(ea.raw));
  assert.ok(Object.isFrozen(ea));
  assert.deepEqual(JSON.parse(JSON.stringify(ea)).raw, JSON.parse(JSON.stringify(eb)).raw, 'serialises like an eager entry');
  a.close();
  b.close();
});
