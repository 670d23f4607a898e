// Unit test for ConfigStore.nextSlice: updates of several types running at once (a mesh push brings CDS, EDS and RDS
// together) take turns — one slice per event-loop turn across all of them — instead of each running a slice in the
// same check phase (which held timers and I/O for the sum of their slices).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigStore } from '../../../src/xds/config-store.js';
import { encodeAny } from '../../../src/xds/proto-json.js';
import { TypeUrl, type ResourceType, type XdsTypeUrl } from '../../../src/xds/resource-type.js';
import { testRegistry, clusterRes, endpointsRes } from '../../support/xds-server.js';

const node = { id: 'n', cluster: 'c', locality: {}, metadata: {} };
const delta = (version: string) => ({ source: 'ads-delta' as const, version });
const N = 3000;

test('concurrent CDS and EDS updates never translate in the same event-loop turn, and both complete', async () => {
  let turn = 0;
  let on = true;
  const tick = (): void => {
    if (!on) return;
    turn++;
    setImmediate(tick);
  };
  /** type URLs translated per turn */
  const byTurn = new Map<number, Set<string>>();
  const registry = new Map<XdsTypeUrl, ResourceType<any>>();
  for (const [url, rt] of testRegistry()) {
    registry.set(url, {
      ...rt,
      translate(raw, ctx) {
        let s = byTurn.get(turn);
        if (!s) byTurn.set(turn, (s = new Set()));
        s.add(url);
        return rt.translate(raw, ctx);
      },
    });
  }
  const store = new ConfigStore({ registry, ctx: { node }, warmingTimeoutMs: 0 });
  const clusters = Array.from({ length: N }, (_, i) => ({ name: `c${i}`, version: '1', resource: encodeAny(clusterRes(`c${i}`, { eds: true })) }));
  const endpoints = Array.from({ length: N }, (_, i) => ({ name: `c${i}`, version: '1', resource: encodeAny(endpointsRes(`c${i}`, [1, 2])) }));
  setImmediate(tick);
  const startTurn = turn;
  const [cds, eds] = await Promise.all([
    store.applyDeltaAsync(TypeUrl.Cluster, clusters, [], delta('1')),
    store.applyDeltaAsync(TypeUrl.ClusterLoadAssignment, endpoints, [], delta('1')),
  ]);
  on = false;
  store.close();
  assert.equal(cds.accepted, true);
  assert.equal(eds.accepted, true);
  // The turn both were started in runs the first slice of each; after that, one type per turn.
  const later = [...byTurn].filter(([t]) => t !== startTurn);
  const typesSeen = new Set(later.flatMap(([, s]) => [...s]));
  assert.deepEqual([...typesSeen].sort(), [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment].sort(), 'both updates were sliced');
  assert.ok(later.length >= 4, `translation spread over several turns (${later.length})`);
  const shared = later.filter(([, s]) => s.size > 1).map(([t]) => t);
  assert.deepEqual(shared, [], 'turns in which both types translated');
});
