// Unit tests for priority load (overprovisioning factor, spill-over), locality-weighted splits and panic mode,
// using the examples from Envoy's load-balancing docs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrioritySet, computePriorityLoad, localityKey } from '../../../src/upstream/priority-set.js';
import { LoadBalancer } from '../../../src/upstream/load-balancer.js';
import type { UpstreamHost } from '../../../src/upstream/upstream-host.js';
import { mkHost, seeded } from './helpers.js';

function hostsWithHealth(n: number, healthy: number, priority: number, offset: number, locality = {}): UpstreamHost[] {
  return Array.from({ length: n }, (_, i) => mkHost(offset + i, { priority, locality, edsHealth: i < healthy ? 'HEALTHY' : 'UNHEALTHY' }));
}

function setOf(hosts: UpstreamHost[], opts: Partial<{ factor: number; panic: number; weights: Map<string, number> }> = {}): PrioritySet {
  return new PrioritySet(hosts, { overprovisioningFactor: opts.factor ?? 140, healthyPanicThreshold: opts.panic ?? 50, weightedPriorityHealth: false, localityWeights: opts.weights ?? new Map() });
}

test('priority load follows the overprovisioning factor (Envoy docs table: P0 healthy % → P0/P1 load)', () => {
  const cases: [number, number, number][] = [
    [100, 100, 0], [72, 100, 0], [71, 99, 1], [50, 70, 30], [25, 35, 65], [0, 0, 100],
  ];
  for (const [p0Healthy, l0, l1] of cases) {
    const set = setOf([...hostsWithHealth(100, p0Healthy, 0, 0), ...hostsWithHealth(100, 100, 1, 100)]);
    assert.deepEqual(set.load.healthy, [l0, l1], `P0 ${p0Healthy}% healthy`);
  }
});

test('three priorities spill over in order; load is normalised when total availability is below 100', () => {
  // P0 20 %, P1 20 %, P2 20 % healthy → health 28/28/28 = 84 total → 33/33/33 + rounding to P0.
  const set = setOf([...hostsWithHealth(10, 2, 0, 0), ...hostsWithHealth(10, 2, 1, 10), ...hostsWithHealth(10, 2, 2, 20)]);
  assert.deepEqual(set.load.healthy, [34, 33, 33]);
  assert.deepEqual(computePriorityLoad([0, 0], [0, 0], [3, 1]).healthy, [75, 25], 'total panic spreads by host count');
});

test('picks follow the computed priority split', () => {
  const hosts = [...hostsWithHealth(10, 5, 0, 0), ...hostsWithHealth(10, 10, 1, 10)];
  const set = setOf(hosts);
  assert.deepEqual(set.load.healthy, [70, 30]);
  const lb = new LoadBalancer(set, { policy: { kind: 'ROUND_ROBIN' }, localityWeighted: false, slowStart: null, overprovisioningFactor: 140, random: seeded(7), now: () => 0 });
  let p1 = 0;
  for (let i = 0; i < 10000; i++) if (lb.chooseHost({})!.priority === 1) p1++;
  assert.ok(Math.abs(p1 / 10000 - 0.3) < 0.02, String(p1));
});

test('locality-weighted LB: effective weight = weight × min(1, factor × healthy fraction)', () => {
  const a = { zone: 'a' };
  const b = { zone: 'b' };
  // zone a: weight 1, all healthy; zone b: weight 1, half healthy → 1 × 0.7 → split 1 : 0.7.
  const hosts = [...hostsWithHealth(4, 4, 0, 0, a), ...hostsWithHealth(4, 2, 0, 10, b)];
  const weights = new Map([[`0|${localityKey(a)}`, 1], [`0|${localityKey(b)}`, 1]]);
  const set = setOf(hosts, { weights });
  const lb = new LoadBalancer(set, { policy: { kind: 'ROUND_ROBIN' }, localityWeighted: true, slowStart: null, overprovisioningFactor: 140, random: seeded(3), now: () => 0 });
  let inA = 0;
  for (let i = 0; i < 1700; i++) {
    const h = lb.chooseHost({})!;
    assert.ok(h.healthy);
    if (h.locality.zone === 'a') inA++;
  }
  assert.ok(Math.abs(inA / 1700 - 1 / 1.7) < 0.01, String(inA));
});

test('panic mode: below the healthy panic threshold every host of the priority is used', () => {
  const notPanic = setOf(hostsWithHealth(4, 2, 0, 0));
  assert.equal(notPanic.priorities[0].panic, false, '50 % healthy is at the threshold, not below');
  const panic = setOf(hostsWithHealth(4, 1, 0, 0));
  assert.equal(panic.priorities[0].panic, true);
  const lb = new LoadBalancer(panic, { policy: { kind: 'ROUND_ROBIN' }, localityWeighted: false, slowStart: null, overprovisioningFactor: 140, random: seeded(1), now: () => 0 });
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) seen.add(lb.chooseHost({})!.key);
  assert.equal(seen.size, 4, 'unhealthy hosts also receive traffic in panic');
  const off = setOf(hostsWithHealth(4, 1, 0, 0), { panic: 0 });
  assert.equal(off.priorities[0].panic, false, 'threshold 0 disables panic');
  const lbOff = new LoadBalancer(off, { policy: { kind: 'ROUND_ROBIN' }, localityWeighted: false, slowStart: null, overprovisioningFactor: 140, random: seeded(1), now: () => 0 });
  for (let i = 0; i < 20; i++) assert.ok(lbOff.chooseHost({})!.healthy);
});

test('degraded hosts take load only when healthy availability is short', () => {
  const hosts = [
    ...Array.from({ length: 5 }, (_, i) => mkHost(i, { edsHealth: 'HEALTHY' })),
    ...Array.from({ length: 5 }, (_, i) => mkHost(10 + i, { edsHealth: 'DEGRADED' })),
  ];
  const set = setOf(hosts);
  assert.deepEqual(set.load.healthy, [70]);
  assert.deepEqual(set.load.degraded, [30]);
});
