// upstream/: the immutable host set of a cluster, grouped by priority and locality, with Envoy's priority-load
// computation (overprovisioning factor, spill-over to lower priorities, degraded hosts, total panic) and per-priority
// panic mode. Rebuilt whole on every membership or health change and swapped by reference.
import type { Locality } from '../config/node.js';
import type { UpstreamHost } from './upstream-host.js';

export interface LocalityGroup {
  readonly locality: Locality;
  /** Locality load_balancing_weight (0 when unset). */
  readonly weight: number;
  readonly hosts: readonly UpstreamHost[];
  readonly healthy: readonly UpstreamHost[];
  readonly degraded: readonly UpstreamHost[];
}

export interface HostSetPerPriority {
  readonly priority: number;
  readonly hosts: readonly UpstreamHost[];
  readonly healthy: readonly UpstreamHost[];
  readonly degraded: readonly UpstreamHost[];
  readonly localities: readonly LocalityGroup[];
  /** Health and degraded availability in percent, after the overprovisioning factor, capped at 100. */
  readonly health: number;
  readonly degradedHealth: number;
  readonly panic: boolean;
}

export interface PriorityLoad {
  /** Percent of traffic per priority sent to healthy hosts (sums with degraded to 100 unless all empty). */
  readonly healthy: readonly number[];
  readonly degraded: readonly number[];
}

export interface PrioritySetOptions {
  readonly overprovisioningFactor: number;
  readonly healthyPanicThreshold: number;
  readonly weightedPriorityHealth: boolean;
  readonly localityWeights: ReadonlyMap<string, number>;
}

export function localityKey(l: Locality): string {
  return `${l.region ?? ''}/${l.zone ?? ''}/${l.sub_zone ?? ''}`;
}

/** Envoy's LoadBalancerBase::distributeLoad. */
function distributeLoad(load: number[], availability: readonly number[], total: number, normalizedTotal: number): [number, number] {
  let first = -1;
  for (let i = 0; i < availability.length; i++) {
    if (first < 0 && availability[i] > 0) first = i;
    load[i] = Math.min(total, Math.floor((availability[i] * 100) / normalizedTotal));
    total -= load[i];
  }
  return [first, total];
}

/**
 * Envoy's priority load: each priority's availability is min(100, factor × healthy/total); load goes to the highest
 * priorities first, normalised by total availability (capped at 100); rounding leftovers go to the first available.
 * When nothing is available at all ("total panic") load is spread by host count.
 */
export function computePriorityLoad(health: readonly number[], degraded: readonly number[], hostCounts: readonly number[]): PriorityLoad {
  const n = health.length;
  const healthy = new Array<number>(n).fill(0);
  const deg = new Array<number>(n).fill(0);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += health[i] + degraded[i];
  const normalizedTotal = Math.min(100, sum);
  if (normalizedTotal === 0) {
    const total = hostCounts.reduce((a, b) => a + b, 0);
    if (total === 0) return { healthy, degraded: deg };
    let remaining = 100;
    let first = -1;
    for (let i = 0; i < n; i++) {
      healthy[i] = Math.floor((hostCounts[i] * 100) / total);
      remaining -= healthy[i];
      if (first < 0 && hostCounts[i] > 0) first = i;
    }
    healthy[first] += remaining;
    return { healthy, degraded: deg };
  }
  const [firstHealthy, rest] = distributeLoad(healthy, health, 100, normalizedTotal);
  const [firstDegraded, remaining] = distributeLoad(deg, degraded, rest, normalizedTotal);
  if (remaining !== 0) {
    if (firstHealthy !== -1) healthy[firstHealthy] += remaining;
    else if (firstDegraded !== -1) deg[firstDegraded] += remaining;
  }
  return { healthy, degraded: deg };
}

export class PrioritySet {
  readonly priorities: readonly HostSetPerPriority[];
  readonly load: PriorityLoad;
  /** Every priority is in panic (no availability anywhere). */
  readonly totalPanic: boolean;
  readonly all: readonly UpstreamHost[];
  readonly byKey: ReadonlyMap<string, UpstreamHost>;

  constructor(hosts: readonly UpstreamHost[], readonly options: PrioritySetOptions) {
    this.all = hosts;
    const byKey = new Map<string, UpstreamHost>();
    let maxP = -1;
    for (const h of hosts) {
      byKey.set(h.key, h);
      if (h.priority > maxP) maxP = h.priority;
    }
    this.byKey = byKey;
    const factor = options.overprovisioningFactor;
    const prios: HostSetPerPriority[] = [];
    for (let p = 0; p <= maxP; p++) {
      const ph = hosts.filter((h) => h.priority === p);
      const healthy = ph.filter((h) => h.healthy && !h.degraded);
      const degraded = ph.filter((h) => h.degraded);
      const groups = new Map<string, { locality: Locality; hosts: UpstreamHost[] }>();
      for (const h of ph) {
        const k = localityKey(h.locality);
        let g = groups.get(k);
        if (!g) groups.set(k, (g = { locality: h.locality, hosts: [] }));
        g.hosts.push(h);
      }
      const localities: LocalityGroup[] = [...groups.entries()].map(([k, g]) => ({
        locality: g.locality,
        weight: options.localityWeights.get(`${p}|${k}`) ?? 0,
        hosts: g.hosts,
        healthy: g.hosts.filter((h) => h.healthy && !h.degraded),
        degraded: g.hosts.filter((h) => h.degraded),
      }));
      let health = 0;
      let degradedHealth = 0;
      if (ph.length > 0) {
        const w = (list: readonly UpstreamHost[]): number => (options.weightedPriorityHealth ? list.reduce((s, h) => s + h.weight, 0) : list.length);
        const total = w(ph);
        health = Math.min(100, Math.floor((factor * w(healthy)) / total));
        degradedHealth = Math.min(100, Math.floor((factor * w(degraded)) / total));
      }
      // Envoy: a priority is in panic when (healthy + degraded) / hosts < threshold.
      const panic = ph.length > 0 && options.healthyPanicThreshold > 0
        && ((healthy.length + degraded.length) * 100) / ph.length < options.healthyPanicThreshold;
      prios.push({ priority: p, hosts: ph, healthy, degraded, localities, health, degradedHealth, panic });
    }
    this.priorities = prios;
    this.load = computePriorityLoad(prios.map((p) => p.health), prios.map((p) => p.degradedHealth), prios.map((p) => p.hosts.length));
    this.totalPanic = prios.length > 0 && prios.every((p) => p.health + p.degradedHealth === 0);
  }

  /**
   * Chooses the priority and whether the degraded hosts serve, from a value in [0, 100) (Envoy's chooseHostSet:
   * healthy loads first, then degraded loads, in priority order).
   */
  choosePriority(v100: number): { priority: number; degraded: boolean } {
    const { healthy, degraded } = this.load;
    let acc = 0;
    for (let i = 0; i < healthy.length; i++) {
      acc += healthy[i];
      if (v100 < acc) return { priority: i, degraded: false };
    }
    for (let i = 0; i < degraded.length; i++) {
      acc += degraded[i];
      if (v100 < acc) return { priority: i, degraded: true };
    }
    return { priority: 0, degraded: false };
  }
}
