// Unit tests for the config store: atomic validation, duplicates, static resources, warming, publication only on
// real change, wanted RDS/EDS names, rejection records and history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigStore } from '../../../src/xds/config-store.js';
import { encodeAny } from '../../../src/xds/proto-json.js';
import { TypeUrl } from '../../../src/xds/resource-type.js';
import type { ConfigSnapshot } from '../../../src/config/snapshot.js';
import { testRegistry, listenerRes, routeRes, clusterRes, endpointsRes } from '../../support/xds-server.js';

const node = { id: 'n', cluster: 'c', locality: {}, metadata: {} };
const mk = (warmingTimeoutMs = 0): ConfigStore => new ConfigStore({ registry: testRegistry(), ctx: { node }, warmingTimeoutMs });
const sotw = (version: string) => ({ source: 'ads-sotw' as const, version, nonce: `n-${version}` });

test('a SotW update is validated atomically: one bad resource rejects all, with field paths', () => {
  const store = mk();
  assert.equal(store.applySotw(TypeUrl.Listener, [listenerRes('a', 1)], sotw('1')).accepted, true);
  const bad = listenerRes('b', 2);
  delete bad.address;
  const r = store.applySotw(TypeUrl.Listener, [listenerRes('c', 3), bad, listenerRes('c', 4)], sotw('2'));
  assert.equal(r.accepted, false);
  if (r.accepted) return;
  assert.deepEqual(r.errors.map((e) => e.path), ['resources[1].address', 'resources[2]']);
  assert.match(r.errors[1].message, /duplicate resource name "c"/);
  assert.match(r.message, /LDS update \(version "2"\) rejected/);
  assert.deepEqual([...store.current().listeners.keys()], ['a']);
  assert.equal(store.version(TypeUrl.Listener), '1');
  const rej = store.rejected(TypeUrl.Listener)!;
  assert.equal(rej.version, '2');
  assert.equal(rej.nonce, 'n-2');
  assert.deepEqual(rej.failed.map((f) => f.name), ['b', 'c']);
  assert.deepEqual(store.stats(TypeUrl.Listener), { ...store.stats(TypeUrl.Listener), update_attempt: 2, update_success: 1, update_rejected: 1 });
  const hist = store.history.entries(TypeUrl.Listener);
  assert.deepEqual(hist.map((h) => h.accepted), [true, false]);
  assert.deepEqual(hist[0].added, ['a']);
});

test('binary Anys are decoded; an unknown or mismatched type is an error naming the resource', () => {
  const store = mk();
  const ok = store.applySotw(TypeUrl.Cluster, [encodeAny(clusterRes('x'))], sotw('1'));
  assert.equal(ok.accepted, true);
  assert.equal(store.current().clusters.get('x')!.version, '1');
  const r = store.applySotw(TypeUrl.Cluster, [{ type_url: 'type.googleapis.com/not.a.Type', value: new Uint8Array() }, encodeAny(listenerRes('l', 1))], sotw('2'));
  assert.equal(r.accepted, false);
  if (!r.accepted) {
    assert.equal(r.errors[0].path, 'resources[0]');
    assert.match(r.errors[0].message, /unknown type/);
    assert.equal(r.errors[1].path, 'resources[1].@type');
  }
});

test('snapshots are frozen, swapped by reference, and published only on real change', () => {
  const store = mk();
  const seen: ConfigSnapshot[] = [];
  store.subscribe((s) => seen.push(s));
  store.applySotw(TypeUrl.Cluster, [clusterRes('a'), clusterRes('b')], sotw('1'));
  assert.equal(seen.length, 1);
  const s1 = store.current();
  assert.equal(s1.generation, 1);
  assert.ok(Object.isFrozen(s1));
  assert.ok(Object.isFrozen(s1.clusters.get('a')!.raw));
  // Same content under a new version: no new snapshot, same entry objects.
  store.applySotw(TypeUrl.Cluster, [clusterRes('b'), clusterRes('a')], sotw('2'));
  assert.equal(seen.length, 1);
  assert.equal(store.current(), s1);
  assert.equal(store.version(TypeUrl.Cluster), '2');
  // One change: new snapshot; the unchanged entry is the same object (consumers can diff by identity).
  store.applySotw(TypeUrl.Cluster, [clusterRes('a'), clusterRes('b', { connectTimeoutMs: 5 })], sotw('3'));
  assert.equal(seen.length, 2);
  const s3 = store.current();
  assert.equal(s3.generation, 2);
  assert.equal(s3.clusters.get('a'), s1.clusters.get('a'));
  assert.notEqual(s3.clusters.get('b'), s1.clusters.get('b'));
  assert.equal(s1.clusters.get('b')!.raw.connect_timeout, 1000, 'old snapshot untouched');
  const h = store.history.entries(TypeUrl.Cluster);
  assert.deepEqual(h[2].changed, ['b']);
  assert.equal(h[1].pushToEffectMs, null);
  assert.equal(typeof h[2].pushToEffectMs, 'number');
});

test('static resources cannot be replaced or removed by xDS, and survive SotW absence', () => {
  const store = mk();
  assert.equal(store.addStatic(TypeUrl.Cluster, [clusterRes('xds-grpc')]).accepted, true);
  assert.equal(store.current().clusters.get('xds-grpc')!.isStatic, true);
  assert.equal(store.current().clusters.get('xds-grpc')!.version, 'static');
  const r = store.applySotw(TypeUrl.Cluster, [clusterRes('xds-grpc', { connectTimeoutMs: 3 })], sotw('1'));
  assert.equal(r.accepted, false);
  store.applySotw(TypeUrl.Cluster, [clusterRes('dyn')], sotw('2'));
  store.applySotw(TypeUrl.Cluster, [], sotw('3'));
  assert.deepEqual([...store.current().clusters.keys()], ['xds-grpc']);
  const d = store.applyDelta(TypeUrl.Cluster, [], ['xds-grpc'], { source: 'ads-delta', version: '4' });
  assert.equal(d.accepted, false);
  assert.equal(store.readiness().cdsApplied, true);
});

test('warming: listener and cluster wait for RDS/EDS; wanted names follow accepted parents', () => {
  const store = mk();
  const wantedEvents: string[] = [];
  store.onWantedNamesChange((t, names) => wantedEvents.push(`${t === TypeUrl.RouteConfiguration ? 'RDS' : 'EDS'}:${[...names].sort().join(',')}`));
  store.applySotw(TypeUrl.Cluster, [clusterRes('c', { eds: true })], sotw('1'));
  assert.equal(store.current().clusters.size, 0);
  assert.deepEqual([...store.wantedNames(TypeUrl.ClusterLoadAssignment)], ['c']);
  assert.deepEqual(store.readiness().warmingClusters, ['c']);
  store.applySotw(TypeUrl.ClusterLoadAssignment, [endpointsRes('c', [1]), endpointsRes('unwanted', [2])], sotw('e1'));
  assert.equal(store.current().clusters.has('c'), true);
  assert.deepEqual([...store.current().endpoints.keys()], ['c'], 'unreferenced endpoints are not kept');

  store.applySotw(TypeUrl.Listener, [listenerRes('l', 1, 'r')], sotw('l1'));
  assert.equal(store.current().listeners.size, 0);
  store.applySotw(TypeUrl.RouteConfiguration, [routeRes('r')], sotw('r1'));
  assert.equal(store.current().listeners.has('l'), true);
  // Delta: the route config is removed → it does not exist; a listener moved to it still publishes.
  store.applySotw(TypeUrl.Listener, [listenerRes('l', 1, 'r2')], sotw('l2'));
  assert.deepEqual((store.current().listeners.get('l')!.value as any).routeConfigs, ['r']);
  assert.deepEqual([...store.wantedNames(TypeUrl.RouteConfiguration)].sort(), ['r', 'r2']);
  store.applyDelta(TypeUrl.RouteConfiguration, [], ['r2'], { source: 'ads-delta', version: '' });
  assert.deepEqual((store.current().listeners.get('l')!.value as any).routeConfigs, ['r2']);
  assert.deepEqual([...store.wantedNames(TypeUrl.RouteConfiguration)], ['r2']);
  assert.equal(store.current().routes.size, 0);
  assert.deepEqual(wantedEvents, ['EDS:c', 'RDS:r', 'RDS:r,r2', 'RDS:r2']);
});

test('warming timeout publishes a listener without its route config', async () => {
  const store = mk(50);
  store.applySotw(TypeUrl.Listener, [listenerRes('l', 1, 'r')], sotw('1'));
  assert.equal(store.current().listeners.size, 0);
  // The store's warming timer is unref'd (it must not keep a proxy alive); the guard timer keeps this test's loop up.
  await new Promise<void>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('listener never published')), 5000);
    const unsub = store.subscribe((s) => {
      if (s.listeners.has('l')) {
        unsub();
        clearTimeout(guard);
        resolve();
      }
    });
  });
  store.close();
});

test('Delta: per-resource versions, removal, name mismatch rejected', () => {
  const store = mk();
  const put = (name: string, version: string, port: number) => ({ name, version, resource: listenerRes(name, port) });
  assert.equal(store.applyDelta(TypeUrl.Listener, [put('a', 'va', 1), put('b', 'vb', 2)], [], { source: 'ads-delta', version: 's1' }).accepted, true);
  assert.deepEqual(store.resourceVersions(TypeUrl.Listener), { a: 'va', b: 'vb' });
  store.applyDelta(TypeUrl.Listener, [put('b', 'vb2', 3)], ['a'], { source: 'ads-delta', version: 's2' });
  assert.deepEqual(store.resourceVersions(TypeUrl.Listener), { b: 'vb2' });
  assert.deepEqual([...store.current().listeners.keys()], ['b']);
  const r = store.applyDelta(TypeUrl.Listener, [{ name: 'x', version: '1', resource: listenerRes('y', 1) }], [], { source: 'ads-delta', version: 's3' });
  assert.equal(r.accepted, false);
  assert.deepEqual(store.history.entries(TypeUrl.Listener)[1].removed, ['a']);
});
