// bench/micro/: cost of one load-balancer pick per policy and host count (printed, not asserted).
// Usage: node dist/bench/micro/lb-pick.js [--picks N]
import { pathToFileURL } from 'node:url';
import { LoadBalancer } from '../../src/upstream/load-balancer.js';
import { PrioritySet } from '../../src/upstream/priority-set.js';
import { UpstreamHost } from '../../src/upstream/upstream-host.js';
import { xxHash64 } from '../../src/upstream/xxhash64.js';
import type { LbPolicy } from '../../src/config/cluster.js';

export interface LbPickResult {
  readonly policy: string;
  readonly hosts: number;
  readonly nsPerPick: number;
  readonly buildMs: number;
}

function hosts(n: number, weighted: boolean): UpstreamHost[] {
  return Array.from({ length: n }, (_, i) => new UpstreamHost({
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 80, hostname: '', weight: weighted ? 1 + (i % 5) : 1,
    priority: 0, locality: {}, metadata: {}, edsHealth: 'HEALTHY', createdAt: 0,
  }));
}

export function runLbPickBench(picks = 200_000): LbPickResult[] {
  const policies: [string, LbPolicy, boolean][] = [
    ['round_robin', { kind: 'ROUND_ROBIN' }, false],
    ['round_robin_weighted', { kind: 'ROUND_ROBIN' }, true],
    ['least_request', { kind: 'LEAST_REQUEST', choiceCount: 2, activeRequestBias: 1 }, false],
    ['random', { kind: 'RANDOM' }, false],
    ['ring_hash', { kind: 'RING_HASH', minRingSize: 1024, maxRingSize: 8388608, useHostnameForHashing: false }, false],
    ['maglev', { kind: 'MAGLEV', tableSize: 65537, useHostnameForHashing: false }, false],
  ];
  const keys = Array.from({ length: 1024 }, (_, i) => xxHash64(`key-${i}`));
  const out: LbPickResult[] = [];
  for (const n of [10, 100, 1000]) {
    for (const [name, policy, weighted] of policies) {
      const t0 = process.hrtime.bigint();
      const set = new PrioritySet(hosts(n, weighted), { overprovisioningFactor: 140, healthyPanicThreshold: 50, weightedPriorityHealth: false, localityWeights: new Map() });
      const lb = new LoadBalancer(set, { policy, localityWeighted: false, slowStart: null, overprovisioningFactor: 140, random: Math.random, now: Date.now });
      lb.chooseHost({ hash: keys[0] }); // builds the picker (ring / table)
      const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const hashed = policy.kind === 'RING_HASH' || policy.kind === 'MAGLEV';
      for (let i = 0; i < 10_000; i++) lb.chooseHost(hashed ? { hash: keys[i & 1023] } : {});
      const t1 = process.hrtime.bigint();
      for (let i = 0; i < picks; i++) lb.chooseHost(hashed ? { hash: keys[i & 1023] } : {});
      const ns = Number(process.hrtime.bigint() - t1) / picks;
      out.push({ policy: name, hosts: n, nsPerPick: Math.round(ns), buildMs: Math.round(buildMs * 10) / 10 });
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--picks');
  const picks = i > 0 ? Number(process.argv[i + 1]) : 200_000;
  console.log('policy                 hosts   ns/pick   build ms');
  for (const r of runLbPickBench(picks)) console.log(`${r.policy.padEnd(22)} ${String(r.hosts).padStart(5)} ${String(r.nsPerPick).padStart(9)} ${String(r.buildMs).padStart(10)}`);
}
