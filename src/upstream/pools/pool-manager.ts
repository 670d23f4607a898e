// upstream/pools/: owns every upstream connection pool, keyed by cluster + host + protocol + TLS context (the
// cluster config object, and per host the transport_socket_matches entry it selects). Pools of departed hosts drain.
import type { Host, UpstreamCluster } from '../types.js';
import { H1Pool } from './h1-pool.js';
import { H2Pool } from './h2-pool.js';
import { DEFAULT_POOL_OPTIONS } from './upstream-pool.js';
import type { PoolOptions, UpstreamPool, UpstreamTlsOptions } from './upstream-pool.js';
import type { ClusterConfig, UpstreamTlsConfig } from '../../config/cluster.js';
import { transportSocketForHost } from '../transport-socket-for-host.js';

/** node:tls-facing options of one UpstreamTlsContext. */
export function tlsOptionsFromConfig(t: UpstreamTlsConfig | null): UpstreamTlsOptions | null {
  return t ? {
    sni: t.sni,
    alpn: t.alpn,
    ca: t.trustedCa,
    sanMatchers: t.sanMatchers,
    certChain: t.certificateChain,
    privateKey: t.privateKey,
    minVersion: t.minVersion,
    maxVersion: t.maxVersion,
  } : null;
}

/** Pool settings from the cluster config (connect timeout, TLS context, HTTP protocol options, max_connections). */
export function poolOptionsFromCluster(cluster: UpstreamCluster): PoolOptions {
  const c = cluster.config as Partial<ClusterConfig>;
  const h = c.http;
  const tls = tlsOptionsFromConfig(c.tls ?? null);
  const d = DEFAULT_POOL_OPTIONS;
  // The default-priority max_connections circuit breaker bounds the sockets of each HTTP/1.1 host pool.
  const maxCx = c.circuitBreakers?.[0]?.maxConnections;
  return {
    connectTimeoutMs: c.connectTimeoutMs ?? d.connectTimeoutMs,
    ...(c.upstreamBind ? { localAddress: c.upstreamBind.sourceAddress } : {}),
    tls,
    maxRequestsPerConnection: h?.maxRequestsPerConnection ?? 0,
    idleTimeoutMs: h?.idleTimeoutMs ?? d.idleTimeoutMs,
    maxConnections: maxCx !== undefined && maxCx > 0 ? Math.min(maxCx, d.maxConnections) : d.maxConnections,
    h2: {
      maxConcurrentStreams: Math.min(h?.h2MaxConcurrentStreams ?? d.h2.maxConcurrentStreams, 2 ** 31 - 1),
      initialStreamWindowSize: Math.min(h?.h2InitialStreamWindowSize ?? d.h2.initialStreamWindowSize, 2 ** 31 - 1),
      initialConnectionWindowSize: Math.min(h?.h2InitialConnectionWindowSize ?? d.h2.initialConnectionWindowSize, 2 ** 31 - 1),
      keepaliveIntervalMs: h?.h2KeepaliveIntervalMs ?? 0,
      keepaliveTimeoutMs: h?.h2KeepaliveTimeoutMs || d.h2.keepaliveTimeoutMs,
    },
  };
}

interface HostPool {
  readonly hostKey: string;
  readonly pool: UpstreamPool;
}

interface ClusterPools {
  readonly config: object;
  readonly options: PoolOptions;
  /** Options per TLS context chosen by transport_socket_matches (keyed by UpstreamTlsConfig.key; '' = plaintext). */
  readonly tlsOptions: Map<string, PoolOptions>;
  readonly pools: Map<string, HostPool>;
  /** The same pools by Host object when the cluster has no transport_socket_matches: the per-request lookup without
   *  building and hashing a 'h1|tls|host' key string. Weak: a host object replaced by EDS leaves with its entry. */
  readonly byHost: WeakMap<Host, HostSlots>;
}

/** One host's plaintext/cluster-TLS pools, per protocol (null until made). */
interface HostSlots {
  h1: UpstreamPool | null;
  h2: UpstreamPool | null;
}

export class PoolManager {
  private readonly clusters = new Map<string, ClusterPools>();

  constructor(private readonly optionsFor: (cluster: UpstreamCluster) => PoolOptions = poolOptionsFromCluster) {}

  /** The pool for `host` of `cluster` speaking `protocol` over the host's TLS context (transport_socket_matches,
   *  else the cluster's transport_socket); created on first use. */
  get(cluster: UpstreamCluster, host: Host, protocol: 'http1' | 'http2'): UpstreamPool {
    let cp = this.clusters.get(cluster.name);
    if (!cp || cp.config !== cluster.config) {
      // New cluster config (possibly a new TLS context): old pools drain, new ones are keyed afresh.
      if (cp) for (const p of cp.pools.values()) void p.pool.drain();
      cp = { config: cluster.config, options: this.optionsFor(cluster), tlsOptions: new Map(), pools: new Map(), byHost: new WeakMap() };
      this.clusters.set(cluster.name, cp);
    }
    const cfg = cluster.config as Partial<ClusterConfig>;
    const matches = cfg.transportSocketMatches !== undefined && cfg.transportSocketMatches.length > 0;
    if (!matches) {
      const slots = cp.byHost.get(host);
      const fast = slots === undefined ? null : protocol === 'http2' ? slots.h2 : slots.h1;
      if (fast !== null && fast.state === 'ready') return fast;
    }
    let options = cp.options;
    let tlsKey = 'cluster';
    if (matches) {
      const t = transportSocketForHost(cluster.config, host);
      tlsKey = t ? t.key : '';
      let o = cp.tlsOptions.get(tlsKey);
      if (!o) {
        o = { ...cp.options, tls: tlsOptionsFromConfig(t) };
        cp.tlsOptions.set(tlsKey, o);
      }
      options = o;
    }
    const key = `${protocol === 'http2' ? 'h2' : 'h1'}|${tlsKey}|${host.key}`;
    const hp = cp.pools.get(key);
    let pool = hp?.pool;
    if (!pool || pool.state !== 'ready') {
      pool = protocol === 'http2'
        ? new H2Pool(host.address, host.port, options, host.pipe, host.stats)
        : new H1Pool(host.address, host.port, options, host.pipe, host.stats);
      cp.pools.set(key, { hostKey: host.key, pool });
    }
    if (!matches) {
      let slots = cp.byHost.get(host);
      if (!slots) {
        slots = { h1: null, h2: null };
        cp.byHost.set(host, slots);
      }
      if (protocol === 'http2') slots.h2 = pool;
      else slots.h1 = pool;
    }
    return pool;
  }

  /** Drains pools whose host is no longer in the cluster (call after host-set changes). */
  syncHosts(cluster: UpstreamCluster): void {
    const cp = this.clusters.get(cluster.name);
    if (!cp) return;
    const keep = new Set(cluster.hosts().map((h) => h.key));
    for (const [k, p] of cp.pools) {
      if (!keep.has(p.hostKey)) {
        cp.pools.delete(k);
        void p.pool.drain();
      }
    }
  }

  /** Drains every pool of a removed cluster. */
  removeCluster(name: string): Promise<void> {
    const cp = this.clusters.get(name);
    this.clusters.delete(name);
    if (!cp) return Promise.resolve();
    return Promise.all([...cp.pools.values()].map((p) => p.pool.drain())).then(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.clusters.values()].flatMap((c) => [...c.pools.values()].map((p) => p.pool));
    this.clusters.clear();
    await Promise.all(all.map((p) => p.destroy()));
  }
}
