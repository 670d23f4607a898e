// upstream/pools/: owns every upstream connection pool, keyed by cluster + host + protocol (+ the cluster's TLS
// context, which belongs to the cluster config object). Pools of hosts that left their cluster are drained.
import type { Host, UpstreamCluster } from '../types.js';
import { H1Pool } from './h1-pool.js';
import { H2Pool } from './h2-pool.js';
import { DEFAULT_POOL_OPTIONS } from './upstream-pool.js';
import type { PoolOptions, UpstreamPool, UpstreamTlsOptions } from './upstream-pool.js';
import type { ClusterConfig } from '../../config/cluster.js';

/** Pool settings from the cluster config (connect timeout, TLS context, HTTP protocol options). */
export function poolOptionsFromCluster(cluster: UpstreamCluster): PoolOptions {
  const c = cluster.config as Partial<ClusterConfig>;
  const h = c.http;
  const t = c.tls ?? null;
  const tls: UpstreamTlsOptions | null = t ? {
    sni: t.sni,
    alpn: t.alpn,
    ca: t.trustedCa,
    sanMatchers: t.sanMatchers,
    certChain: t.certificateChain,
    privateKey: t.privateKey,
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
  } : null;
  const d = DEFAULT_POOL_OPTIONS;
  return {
    connectTimeoutMs: c.connectTimeoutMs ?? d.connectTimeoutMs,
    tls,
    maxRequestsPerConnection: h?.maxRequestsPerConnection ?? 0,
    idleTimeoutMs: h?.idleTimeoutMs ?? d.idleTimeoutMs,
    maxConnections: d.maxConnections,
    h2: {
      maxConcurrentStreams: Math.min(h?.h2MaxConcurrentStreams ?? d.h2.maxConcurrentStreams, 2 ** 31 - 1),
      initialStreamWindowSize: Math.min(h?.h2InitialStreamWindowSize ?? d.h2.initialStreamWindowSize, 2 ** 31 - 1),
      initialConnectionWindowSize: Math.min(h?.h2InitialConnectionWindowSize ?? d.h2.initialConnectionWindowSize, 2 ** 31 - 1),
      keepaliveIntervalMs: h?.h2KeepaliveIntervalMs ?? 0,
      keepaliveTimeoutMs: h?.h2KeepaliveTimeoutMs || d.h2.keepaliveTimeoutMs,
    },
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
