// test support (L4): a tiny static ClusterManagerView implementing src/upstream/types.ts — STATIC clusters with a
// fixed host list (round robin, skipping previous hosts), and an ORIGINAL_DST passthrough cluster that connects to
// the connection's original destination. Records outcomes so tests can assert outlier-detection reporting.
import type { ClusterConfig } from '../../../src/config/cluster.js';
import type { CircuitBreakers, ClusterManagerView, Host, HostOutcome, LbContext, ResourceKind, UpstreamCluster } from '../../../src/upstream/types.js';

export interface StaticClusterSpec {
  readonly name: string;
  /** 'ip:port' hosts; omit for ORIGINAL_DST. */
  readonly hosts?: readonly string[];
  readonly originalDst?: boolean;
  readonly connectTimeoutMs?: number;
  readonly maxConnections?: number;
}

function makeHost(key: string): Host {
  const i = key.lastIndexOf(':');
  const address = key.slice(0, i).replace(/^\[|\]$/g, '');
  return { key, address, port: Number(key.slice(i + 1)), hostname: '', weight: 1, priority: 0, locality: {}, metadata: {}, healthFlags: new Set(), activeRequests: 0 };
}

class Breakers implements CircuitBreakers {
  active = 0;
  constructor(private readonly max: number) {}
  tryAcquire(kind: ResourceKind): boolean {
    if (kind !== 'connections') return true;
    if (this.active >= this.max) return false;
    this.active++;
    return true;
  }
  release(kind: ResourceKind): void { if (kind === 'connections') this.active--; }
  remaining(kind: ResourceKind): number { return kind === 'connections' ? this.max - this.active : Infinity; }
}

export class StaticCluster implements UpstreamCluster {
  readonly config: ClusterConfig;
  readonly protocol = 'auto' as const;
  readonly outcomes: Array<{ host: string; outcome: HostOutcome }> = [];
  readonly breaker: Breakers;
  private readonly list: Host[];
  private next = 0;
  constructor(readonly spec: StaticClusterSpec) {
    this.config = { name: spec.name, type: spec.originalDst ? 'ORIGINAL_DST' : 'STATIC', connectTimeoutMs: spec.connectTimeoutMs ?? 2000 } as unknown as ClusterConfig;
    this.list = (spec.hosts ?? []).map(makeHost);
    this.breaker = new Breakers(spec.maxConnections ?? 1024);
  }
  get name(): string { return this.spec.name; }
  chooseHost(ctx: LbContext): Host | null {
    if (this.spec.originalDst) return ctx.originalDestination ? makeHost(ctx.originalDestination) : null;
    for (let i = 0; i < this.list.length; i++) {
      const h = this.list[(this.next + i) % this.list.length];
      if (ctx.previousHosts?.some((p) => p.key === h.key)) continue;
      this.next = (this.next + i + 1) % this.list.length;
      return h;
    }
    return null;
  }
  hosts(): readonly Host[] { return this.list; }
  breakers(): CircuitBreakers { return this.breaker; }
  reportOutcome(host: Host, outcome: HostOutcome): void { this.outcomes.push({ host: host.key, outcome }); }
  shouldDrop(): boolean { return false; }
}

export class StaticClusters implements ClusterManagerView {
  readonly map = new Map<string, StaticCluster>();
  constructor(specs: readonly StaticClusterSpec[]) {
    for (const s of specs) this.map.set(s.name, new StaticCluster(s));
  }
  get(name: string): StaticCluster | undefined { return this.map.get(name); }
  names(): IterableIterator<string> { return this.map.keys(); }
}
