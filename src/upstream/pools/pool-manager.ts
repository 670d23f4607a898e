// upstream/pools/: owns every upstream connection pool, keyed by cluster + host + protocol (+ the cluster's TLS
// context, which belongs to the cluster config object). Pools of hosts that left their cluster are drained.
import type { Host, UpstreamCluster } from '../types.js';
import { H1Pool } from './h1-pool.js';
import { H2Pool } from './h2-pool.js';
import { DEFAULT_POOL_OPTIONS } from './upstream-pool.js';
import type { PoolOptions, UpstreamPool, UpstreamTlsOptions } from './upstream-pool.js';

/** Reads pool settings from a cluster config (fields the cluster slice provides; defaults otherwise). */
export function poolOptionsFromCluster(cluster: UpstreamCluster): PoolOptions {
  const c = cluster.config as unknown as Record<string, unknown>;
  const n = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const h2 = (c.http2 ?? c.http2Options ?? {}) as Record<string, unknown>;
  const tls = (c.tls ?? c.upstreamTls ?? null) as UpstreamTlsOptions | null;
  return {
    connectTimeoutMs: n(c.connectTimeoutMs, 5000),
    tls: tls && typeof tls === 'object' ? normaliseTls(tls) : null,
    maxRequestsPerConnection: n(c.maxRequestsPerConnection, 0),
    idleTimeoutMs: n(c.idleTimeoutMs, 3_600_000),
    maxConnections: DEFAULT_POOL_OPTIONS.maxConnections,
    h2: {
      maxConcurrentStreams: n(h2.maxConcurrentStreams, DEFAULT_POOL_OPTIONS.h2.maxConcurrentStreams),
      initialStreamWindowSize: n(h2.initialStreamWindowSize, DEFAULT_POOL_OPTIONS.h2.initialStreamWindowSize),
      initialConnectionWindowSize: n(h2.initialConnectionWindowSize, DEFAULT_POOL_OPTIONS.h2.initialConnectionWindowSize),
      keepaliveIntervalMs: n(h2.keepaliveIntervalMs, 0),
      keepaliveTimeoutMs: n(h2.keepaliveTimeoutMs, 20_000),
    },
  };
}

function normaliseTls(t: Partial<UpstreamTlsOptions>): UpstreamTlsOptions {
  return {
    sni: t.sni ?? '',
    alpn: t.alpn ?? [],
    ca: t.ca ?? null,
    matchSubjectAltNames: t.matchSubjectAltNames ?? [],
    certChain: t.certChain ?? null,
    privateKey: t.privateKey ?? null,
    minVersion: t.minVersion ?? null,
    maxVersion: t.maxVersion ?? null,
  };
}

interface ClusterPools {
  readonly config: object;
  readonly options: PoolOptions;
  readonly pools: Map<string, UpstreamPool>;
}

export class PoolManager {
  private readonly clusters = new Map<string, ClusterPools>();

  constructor(private readonly optionsFor: (cluster: UpstreamCluster) => PoolOptions = poolOptionsFromCluster) {}

  /** The pool for `host` of `cluster` speaking `protocol`; created on first use. */
  get(cluster: UpstreamCluster, host: Host, protocol: 'http1' | 'http2'): UpstreamPool {
    let cp = this.clusters.get(cluster.name);
    if (!cp || cp.config !== cluster.config) {
      // New cluster config (possibly a new TLS context): old pools drain, new ones are keyed afresh.
      if (cp) for (const p of cp.pools.values()) void p.drain();
      cp = { config: cluster.config, options: this.optionsFor(cluster), pools: new Map() };
      this.clusters.set(cluster.name, cp);
    }
    const key = protocol === 'http2' ? `h2|${host.key}` : `h1|${host.key}`;
    let pool = cp.pools.get(key);
    if (!pool || pool.state !== 'ready') {
      pool = protocol === 'http2' ? new H2Pool(host.address, host.port, cp.options, host.pipe) : new H1Pool(host.address, host.port, cp.options, host.pipe);
      cp.pools.set(key, pool);
    }
    return pool;
  }

  /** Drains pools whose host is no longer in the cluster (call after host-set changes). */
  syncHosts(cluster: UpstreamCluster): void {
    const cp = this.clusters.get(cluster.name);
    if (!cp) return;
    const keep = new Set(cluster.hosts().map((h) => h.key));
    for (const [k, p] of cp.pools) {
      if (!keep.has(k.slice(3))) {
        cp.pools.delete(k);
        void p.drain();
      }
    }
  }

  /** Drains every pool of a removed cluster. */
  removeCluster(name: string): Promise<void> {
    const cp = this.clusters.get(name);
    this.clusters.delete(name);
    if (!cp) return Promise.resolve();
    return Promise.all([...cp.pools.values()].map((p) => p.drain())).then(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.clusters.values()].flatMap((c) => [...c.pools.values()]);
    this.clusters.clear();
    await Promise.all(all.map((p) => p.destroy()));
  }
}
