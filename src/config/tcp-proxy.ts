// config/: internal, readonly form of envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy (filled in by
// xds/resource-types/tcp-proxy.ts; run by network/tcp-proxy/tcp-proxy.ts). All durations are milliseconds.

export interface TcpProxyWeightedCluster {
  readonly name: string;
  readonly weight: number;
}

export interface TcpProxyConfig {
  readonly statPrefix: string;
  /** Single target cluster; null when weightedClusters is used. */
  readonly cluster: string | null;
  /** weighted_clusters.clusters; null when `cluster` is used. */
  readonly weightedClusters: readonly TcpProxyWeightedCluster[] | null;
  readonly totalWeight: number;
  /** Idle timeout for both directions; 0 disables it. Envoy default 1 h. */
  readonly idleTimeoutMs: number;
  /** Upstream connect attempts (>= 1, default 1). */
  readonly maxConnectAttempts: number;
  /** max_downstream_connection_duration; 0 = unlimited. */
  readonly maxDownstreamConnectionDurationMs: number;
  /** hash_policy (at most one): consistent hashing on the downstream source IP. */
  readonly hashPolicy: { readonly kind: 'source_ip' } | null;
  /** access_log entries, canonical form, for the access-log slice to compile. */
  readonly accessLog: readonly Readonly<Record<string, unknown>>[];
  /** access_log_options.access_log_flush_interval (or the deprecated top-level field); 0 = only at close. */
  readonly accessLogFlushIntervalMs: number;
  readonly flushAccessLogOnConnected: boolean;
}
