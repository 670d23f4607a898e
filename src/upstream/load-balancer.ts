// upstream/: host selection for one cluster over its current PrioritySet: override host (session affinity) →
// priority (load + degraded + panic) → locality (locality-weighted EDF) → endpoint picker of the configured policy
// (round robin EDF, least request P2C, random, ring hash, maglev). Pickers are compiled once per host-set swap.
import type { LbPolicy, SlowStartConfig } from '../config/cluster.js';
import type { LbContext } from './types.js';
import type { UpstreamHost } from './upstream-host.js';
import { localityKey, type HostSetPerPriority, type LocalityGroup, type PrioritySet } from './priority-set.js';
import { xxHash64 } from './xxhash64.js';

export type RandomSource = () => number;

/** Earliest-deadline-first scheduler (Envoy's EdfScheduler): picks entries in proportion to their weight, smoothly. */
export class EdfScheduler<T> {
  private heap: { item: T; deadline: number; order: number; weight: number }[] = [];
  private now = 0;
  private seq = 0;

  add(item: T, weight: number): void {
    if (!(weight > 0)) return;
    this.push({ item, deadline: this.now + 1 / weight, order: this.seq++, weight });
  }

  get size(): number {
    return this.heap.length;
  }

  /** Picks the next item; `reweight` (if given) returns its new weight when re-inserted. */
  pick(reweight?: (item: T) => number): T | null {
    const top = this.popMin();
    if (!top) return null;
    this.now = top.deadline;
    const w = reweight ? reweight(top.item) : top.weight;
    if (w > 0) this.push({ item: top.item, deadline: this.now + 1 / w, order: this.seq++, weight: w });
    return top.item;
  }

  private less(a: { deadline: number; order: number }, b: { deadline: number; order: number }): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  private push(e: { item: T; deadline: number; order: number; weight: number }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private popMin(): { item: T; deadline: number; order: number; weight: number } | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

interface Picker {
  pick(ctx: LbContext, random: RandomSource): UpstreamHost | null;
}

/** Slow start: weight × max(min_weight_percent, (t / window)^(1/aggression)) while a host is younger than the window. */
export function slowStartFactor(ss: SlowStartConfig | null, host: UpstreamHost, now: number): number {
  if (!ss) return 1;
  const age = now - host.createdAt;
  if (age >= ss.windowMs || age < 0) return 1;
  const f = Math.pow(Math.max(age, 1) / ss.windowMs, 1 / ss.aggression);
  return Math.max(ss.minWeightPercent / 100, f);
}

class RoundRobinPicker implements Picker {
  private readonly equal: boolean;
  private index: number;
  private edf: EdfScheduler<UpstreamHost> | null = null;
  private builtAt = 0;
  private readonly slowStartActive: boolean;

  constructor(private readonly hosts: readonly UpstreamHost[], private readonly slowStart: SlowStartConfig | null, private readonly now: () => number, random: RandomSource) {
    const t = now();
    this.slowStartActive = slowStart !== null && hosts.some((h) => t - h.createdAt < slowStart.windowMs);
    this.equal = !this.slowStartActive && hosts.every((h) => h.weight === hosts[0].weight);
    this.index = Math.floor(random() * hosts.length);
    if (!this.equal) this.build();
  }

  private build(): void {
    const t = this.now();
    this.builtAt = t;
    const edf = new EdfScheduler<UpstreamHost>();
    for (const h of this.hosts) edf.add(h, h.weight * slowStartFactor(this.slowStart, h, t));
    this.edf = edf;
  }

  pick(): UpstreamHost | null {
    const n = this.hosts.length;
    if (n === 0) return null;
    if (this.equal) return this.hosts[this.index++ % n];
    // While hosts are warming up, weights change with time: rebuild at most every 1/20 of the window.
    if (this.slowStartActive && this.now() - this.builtAt > this.slowStart!.windowMs / 20) this.build();
    return this.edf!.pick();
  }
}

class LeastRequestPicker implements Picker {
  private readonly equal: boolean;
  private readonly edf: EdfScheduler<UpstreamHost> | null = null;

  constructor(private readonly hosts: readonly UpstreamHost[], private readonly choiceCount: number, private readonly bias: number,
    private readonly slowStart: SlowStartConfig | null, private readonly now: () => number) {
    const t = now();
    const ssActive = slowStart !== null && hosts.some((h) => t - h.createdAt < slowStart.windowMs);
    this.equal = !ssActive && hosts.every((h) => h.weight === hosts[0].weight);
    if (!this.equal) {
      const edf = new EdfScheduler<UpstreamHost>();
      for (const h of hosts) edf.add(h, this.effectiveWeight(h));
      this.edf = edf;
    }
  }

  private effectiveWeight(h: UpstreamHost): number {
    const w = h.weight * slowStartFactor(this.slowStart, h, this.now());
    return this.bias === 0 ? w : w / Math.pow(h.activeRequests + 1, this.bias);
  }

  pick(_ctx: LbContext, random: RandomSource): UpstreamHost | null {
    const hosts = this.hosts;
    const n = hosts.length;
    if (n === 0) return null;
    if (!this.equal) return this.edf!.pick((h) => this.effectiveWeight(h));
    // Power of N choices: the candidate with the fewest active requests wins.
    let best: UpstreamHost | null = null;
    for (let i = 0; i < this.choiceCount; i++) {
      const c = hosts[Math.floor(random() * n)];
      if (best === null || c.activeRequests < best.activeRequests) best = c;
    }
    return best;
  }
}

class RandomPicker implements Picker {
  constructor(private readonly hosts: readonly UpstreamHost[]) {}
  pick(_ctx: LbContext, random: RandomSource): UpstreamHost | null {
    const n = this.hosts.length;
    return n === 0 ? null : this.hosts[Math.floor(random() * n)];
  }
}

function randomHash(random: RandomSource): bigint {
  return (BigInt(Math.floor(random() * 0x100000000)) << 32n) | BigInt(Math.floor(random() * 0x100000000));
}

/** Envoy's RingHashLoadBalancer::Ring: xxHash64("key_i") points per host, scaled so the lightest host gets whole hashes. */
export class RingHashPicker implements Picker {
  private readonly hashes: BigUint64Array;
  private readonly ringHosts: UpstreamHost[];

  constructor(hosts: readonly UpstreamHost[], minRingSize: number, maxRingSize: number, useHostname: boolean) {
    const entries: { hash: bigint; host: UpstreamHost }[] = [];
    if (hosts.length > 0) {
      const total = hosts.reduce((s, h) => s + h.weight, 0);
      const normalized = hosts.map((h) => h.weight / total);
      const minW = Math.min(...normalized);
      const scale = Math.min(Math.ceil(minW * minRingSize) / minW, maxRingSize);
      let current = 0;
      let target = 0;
      hosts.forEach((h, idx) => {
        const key = useHostname && h.hostname ? h.hostname : h.hashKey;
        target += scale * normalized[idx];
        let i = 0;
        while (current < target) {
          entries.push({ hash: xxHash64(`${key}_${i}`), host: h });
          i++;
          current++;
        }
      });
      entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    }
    this.hashes = BigUint64Array.from(entries.map((e) => e.hash));
    this.ringHosts = entries.map((e) => e.host);
  }

  get size(): number {
    return this.hashes.length;
  }

  /** First ring entry with hash >= h, wrapping to the first entry. */
  lookup(h: bigint): UpstreamHost | null {
    const a = this.hashes;
    if (a.length === 0) return null;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return this.ringHosts[lo === a.length ? 0 : lo];
  }

  pick(ctx: LbContext, random: RandomSource): UpstreamHost | null {
    return this.lookup(ctx.hash ?? randomHash(random));
  }
}

/** Envoy's MaglevTable: offset = xxHash64(key) % M, skip = xxHash64(key, 1) % (M-1) + 1, weighted fill rounds. */
export class MaglevPicker implements Picker {
  private readonly table: UpstreamHost[];
  private readonly size: bigint;

  constructor(hosts: readonly UpstreamHost[], tableSize: number, useHostname: boolean) {
    this.size = BigInt(tableSize);
    const table = new Array<UpstreamHost>(hosts.length ? tableSize : 0);
    if (hosts.length > 0) {
      const total = hosts.reduce((s, h) => s + h.weight, 0);
      const entries = hosts.map((h) => {
        const key = useHostname && h.hostname ? h.hostname : h.hashKey;
        return {
          host: h,
          offset: Number(xxHash64(key) % this.size),
          skip: Number(xxHash64(key, 1n) % (this.size - 1n)) + 1,
          weight: h.weight / total,
          target: 0,
          next: 0,
        };
      });
      const maxW = Math.max(...entries.map((e) => e.weight));
      let filled = 0;
      for (let iteration = 1; filled < tableSize; iteration++) {
        for (let i = 0; i < entries.length && filled < tableSize; i++) {
          const e = entries[i];
          if (iteration * e.weight < e.target) continue;
          e.target += maxW;
          let c = (e.offset + e.skip * e.next) % tableSize;
          while (table[c] !== undefined) {
            e.next++;
            c = (e.offset + e.skip * e.next) % tableSize;
          }
          table[c] = e.host;
          e.next++;
          filled++;
        }
      }
    }
    this.table = table;
  }

  lookup(h: bigint): UpstreamHost | null {
    if (this.table.length === 0) return null;
    return this.table[Number(h % this.size)];
  }

  pick(ctx: LbContext, random: RandomSource): UpstreamHost | null {
    return this.lookup(ctx.hash ?? randomHash(random));
  }
}

/** Zone-aware routing inputs (Envoy needs the local cluster: cluster_manager.local_cluster_name). */
export interface ZoneAwareInput {
  /** localityKey() of this proxy's own locality (node.locality). */
  readonly localLocality: string;
  /** Healthy host count per localityKey() in the local cluster. */
  readonly localCounts: ReadonlyMap<string, number>;
  readonly routingEnabledPercent: number;
  readonly minClusterSize: number;
}

/** Envoy's locality routing state for priority 0: all-local, or local share + residual capacity of the others. */
interface ZoneRouting {
  readonly localIndex: number;
  /** 0..10000: share of picks kept local (10000 = all). */
  readonly localPercentToRoute: number;
  /** Cumulative residual capacity per locality index (for the non-local share). */
  readonly residual: readonly number[];
}

export function computeZoneRouting(ps: HostSetPerPriority, z: ZoneAwareInput): ZoneRouting | null {
  const upstreamTotal = ps.healthy.length;
  if (upstreamTotal < z.minClusterSize || upstreamTotal === 0) return null;
  let localTotal = 0;
  for (const n of z.localCounts.values()) localTotal += n;
  if (localTotal === 0) return null;
  const localIndex = ps.localities.findIndex((g) => localityKey(g.locality) === z.localLocality);
  if (localIndex < 0) return null;
  const upPct = ps.localities.map((g) => Math.floor((g.healthy.length * 10000) / upstreamTotal));
  const locPct = ps.localities.map((g) => Math.floor(((z.localCounts.get(localityKey(g.locality)) ?? 0) * 10000) / localTotal));
  if (locPct[localIndex] === 0) return null;
  if (upPct[localIndex] >= locPct[localIndex]) return { localIndex, localPercentToRoute: 10000, residual: [] };
  const residual: number[] = [];
  let acc = 0;
  for (let i = 0; i < upPct.length; i++) {
    if (i !== localIndex && upPct[i] > locPct[i]) acc += upPct[i] - locPct[i];
    residual.push(acc);
  }
  return { localIndex, localPercentToRoute: Math.floor((upPct[localIndex] * 10000) / locPct[localIndex]), residual };
}

export interface LoadBalancerOptions {
  readonly zoneAware?: ZoneAwareInput | null;
  readonly policy: LbPolicy;
  readonly localityWeighted: boolean;
  readonly slowStart: SlowStartConfig | null;
  readonly overprovisioningFactor: number;
  readonly random: RandomSource;
  readonly now: () => number;
}

/** One cluster's balancer over one PrioritySet (rebuilt when the set is swapped). */
export class LoadBalancer {
  private readonly pickers = new Map<number, Picker>();
  private readonly localitySchedulers = new Map<string, EdfScheduler<number> | null>();
  private zone: ZoneRouting | null | undefined;

  constructor(readonly set: PrioritySet, private readonly opts: LoadBalancerOptions) {}

  chooseHost(ctx: LbContext): UpstreamHost | null {
    if (ctx.overrideHostKey !== undefined) {
      const h = this.set.byKey.get(ctx.overrideHostKey);
      if (h && h.healthy) return h;
    }
    const prev = ctx.previousHosts;
    // Envoy retries host selection when the pick is a previous host (retry_host_predicate); bounded attempts.
    const attempts = prev && prev.length ? 4 : 1;
    let host: UpstreamHost | null = null;
    for (let a = 0; a < attempts; a++) {
      host = this.pickOnce(ctx, a);
      if (!host || !prev || !prev.includes(host)) return host;
    }
    // Still a previous host: take any other available host of the same priority, if there is one.
    const ps = this.set.priorities[host!.priority];
    const pool = ps.healthy.length ? ps.healthy : ps.hosts;
    const start = Math.floor(this.opts.random() * pool.length);
    for (let i = 0; i < pool.length; i++) {
      const h = pool[(start + i) % pool.length];
      if (!prev!.includes(h)) return h;
    }
    return host;
  }

  private pickOnce(ctx: LbContext, attempt: number): UpstreamHost | null {
    const set = this.set;
    if (set.priorities.length === 0) return null;
    const hashed = ctx.hash !== undefined && attempt === 0 && (this.opts.policy.kind === 'RING_HASH' || this.opts.policy.kind === 'MAGLEV');
    const v = hashed ? Number(ctx.hash! % 100n) : Math.floor(this.opts.random() * 100);
    const { priority, degraded } = set.choosePriority(v);
    const ps = set.priorities[priority];
    let source: 'a' | 'h' | 'd';
    let hosts: readonly UpstreamHost[];
    let locIdx = -1;
    if (ps.panic || set.totalPanic) {
      source = 'a';
      hosts = ps.hosts;
    } else {
      source = degraded ? 'd' : 'h';
      hosts = degraded ? ps.degraded : ps.healthy;
      if (this.opts.localityWeighted) {
        locIdx = this.chooseLocality(ps, source);
        if (locIdx < 0) return null;
        const g = ps.localities[locIdx];
        hosts = degraded ? g.degraded : g.healthy;
      } else if (priority === 0 && !degraded && this.opts.zoneAware) {
        locIdx = this.chooseZone(ps);
        if (locIdx >= 0 && ps.localities[locIdx].healthy.length > 0) hosts = ps.localities[locIdx].healthy;
        else locIdx = -1;
      }
    }
    if (hosts.length === 0) return null;
    const key = (priority * 3 + (source === 'a' ? 0 : source === 'h' ? 1 : 2)) * 65536 + locIdx + 1; // numeric: no per-pick string
    let picker = this.pickers.get(key);
    if (!picker) {
      picker = this.makePicker(hosts);
      this.pickers.set(key, picker);
    }
    return picker.pick(attempt === 0 ? ctx : { ...ctx, hash: undefined }, this.opts.random);
  }

  /** Envoy's zone-aware routing: keep the local share local, send the rest by other localities' residual capacity. */
  private chooseZone(ps: HostSetPerPriority): number {
    const z = this.opts.zoneAware!;
    if (this.zone === undefined) this.zone = computeZoneRouting(ps, z);
    const zr = this.zone;
    if (!zr) return -1;
    if (this.opts.random() * 100 >= z.routingEnabledPercent) return -1;
    if (zr.localPercentToRoute >= 10000 || this.opts.random() * 10000 < zr.localPercentToRoute) return zr.localIndex;
    const total = zr.residual[zr.residual.length - 1] ?? 0;
    if (total === 0) return -1;
    const v = this.opts.random() * total;
    for (let i = 0; i < zr.residual.length; i++) if (v < zr.residual[i]) return i;
    return -1;
  }

  /** Envoy: effective locality weight = weight × min(1, factor × healthy / total); EDF over localities. */
  private chooseLocality(ps: HostSetPerPriority, source: 'h' | 'd'): number {
    const key = `${ps.priority}|${source}`;
    let edf = this.localitySchedulers.get(key);
    if (edf === undefined) {
      edf = new EdfScheduler<number>();
      ps.localities.forEach((g: LocalityGroup, i: number) => {
        const avail = (source === 'd' ? g.degraded : g.healthy).length;
        const eff = g.hosts.length ? g.weight * Math.min(1, (this.opts.overprovisioningFactor / 100) * (avail / g.hosts.length)) : 0;
        edf!.add(i, eff);
      });
      if (edf.size === 0) edf = null;
      this.localitySchedulers.set(key, edf);
    }
    return edf ? (edf.pick() ?? -1) : -1;
  }

  private makePicker(hosts: readonly UpstreamHost[]): Picker {
    const p = this.opts.policy;
    switch (p.kind) {
      case 'LEAST_REQUEST':
        return new LeastRequestPicker(hosts, p.choiceCount, p.activeRequestBias, this.opts.slowStart, this.opts.now);
      case 'RANDOM':
        return new RandomPicker(hosts);
      case 'RING_HASH':
        return new RingHashPicker(hosts, p.minRingSize, p.maxRingSize, p.useHostnameForHashing);
      case 'MAGLEV':
        return new MaglevPicker(hosts, p.tableSize, p.useHostnameForHashing);
      default:
        return new RoundRobinPicker(hosts, this.opts.slowStart, this.opts.now, this.opts.random);
    }
  }
}
