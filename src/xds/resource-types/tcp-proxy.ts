// xds/resource-types/: translates the envoy.filters.network.tcp_proxy typed_config (canonical TcpProxy) into the
// readonly TcpProxyConfig the TCP proxy runtime uses; behaviour-changing fields meshlet lacks are rejected by name.
import type { Issues } from '../../common/validation.js';
import type { Canonical } from '../proto-json.js';
import type { TcpProxyConfig, TcpProxyWeightedCluster } from '../../config/tcp-proxy.js';

export const TCP_PROXY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const SNI_CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.sni_cluster.v3.SniCluster';

/** Envoy's default TCP proxy idle timeout (1 hour). */
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 3_600_000;

const UNSUPPORTED: Readonly<Record<string, string>> = {
  on_demand: 'is not supported by meshlet (on-demand CDS)',
  metadata_match: 'is not supported by meshlet (subset load balancing)',
  tunneling_config: 'is not supported by meshlet (TCP over HTTP CONNECT/POST tunneling)',
  downstream_idle_timeout: 'is not supported by meshlet; use idle_timeout',
  upstream_idle_timeout: 'is not supported by meshlet; use idle_timeout',
  backoff_options: 'is not supported by meshlet (connect attempts are retried without backoff)',
  proxy_protocol_tlvs: 'is not supported by meshlet (PROXY protocol)',
  max_early_data_bytes: 'is not supported by meshlet (early data is never buffered before connect)',
};
const KNOWN = new Set([
  'stat_prefix', 'cluster', 'weighted_clusters', 'idle_timeout', 'access_log', 'max_connect_attempts', 'hash_policy',
  'max_downstream_connection_duration', 'access_log_flush_interval', 'flush_access_log_on_connected', 'access_log_options',
  ...Object.keys(UNSUPPORTED),
]);

function duration(v: unknown, issues: Issues, key: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    issues.error('must be a non-negative duration', key);
    return undefined;
  }
  return v;
}

/** Translates a canonical TcpProxy (without '@type'); never throws. */
export function translateTcpProxy(c: Canonical, issues: Issues): TcpProxyConfig {
  for (const k of Object.keys(c)) {
    if (k === '@type') continue;
    if (!KNOWN.has(k)) issues.error(`unknown field ${k}`, k);
    else if (UNSUPPORTED[k] !== undefined) issues.unsupported(k, UNSUPPORTED[k]);
  }
  const statPrefix = typeof c.stat_prefix === 'string' ? c.stat_prefix : '';
  if (statPrefix === '') issues.error('stat_prefix is required', 'stat_prefix');

  let cluster: string | null = null;
  let weightedClusters: TcpProxyWeightedCluster[] | null = null;
  let totalWeight = 0;
  if (c.cluster !== undefined && c.weighted_clusters !== undefined) {
    issues.error('only one of cluster and weighted_clusters may be set', 'cluster');
  }
  if (typeof c.cluster === 'string' && c.cluster !== '') {
    cluster = c.cluster;
  } else if (c.weighted_clusters !== undefined) {
    const wc = c.weighted_clusters as Canonical;
    const wi = issues.at('weighted_clusters');
    const list = Array.isArray(wc.clusters) ? (wc.clusters as Canonical[]) : [];
    if (list.length === 0) wi.error('at least one cluster is required', 'clusters');
    weightedClusters = [];
    list.forEach((cw, i) => {
      const ci = wi.at('clusters').at(i);
      if (cw.metadata_match !== undefined) ci.unsupported('metadata_match', 'is not supported by meshlet (subset load balancing)');
      const name = typeof cw.name === 'string' ? cw.name : '';
      const weight = typeof cw.weight === 'number' ? cw.weight : 0;
      if (name === '') ci.error('name is required', 'name');
      if (!Number.isInteger(weight) || weight < 1) ci.error('weight must be >= 1', 'weight');
      else if (name !== '') {
        weightedClusters!.push(Object.freeze({ name, weight }));
        totalWeight += weight;
      }
    });
  } else {
    issues.error('one of cluster or weighted_clusters is required', 'cluster');
  }

  const idleTimeoutMs = duration(c.idle_timeout, issues, 'idle_timeout') ?? DEFAULT_TCP_IDLE_TIMEOUT_MS;
  const maxDownstreamConnectionDurationMs = duration(c.max_downstream_connection_duration, issues, 'max_downstream_connection_duration') ?? 0;

  let maxConnectAttempts = 1;
  if (c.max_connect_attempts !== undefined) {
    const n = c.max_connect_attempts;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) issues.error('must be >= 1', 'max_connect_attempts');
    else maxConnectAttempts = n;
  }

  let hashPolicy: TcpProxyConfig['hashPolicy'] = null;
  if (c.hash_policy !== undefined) {
    const hp = c.hash_policy as Canonical[];
    if (!Array.isArray(hp) || hp.length > 1) issues.error('at most one hash policy is allowed', 'hash_policy');
    else if (hp.length === 1) {
      const hi = issues.at('hash_policy').at(0);
      if (hp[0].source_ip !== undefined) hashPolicy = { kind: 'source_ip' };
      else if (hp[0].filter_state !== undefined) hi.unsupported('filter_state', 'is not supported by meshlet (no filter state hashing)');
      else hi.error('one of source_ip or filter_state is required');
    }
  }

  const accessLog = Array.isArray(c.access_log) ? (c.access_log as Canonical[]).map((a) => Object.freeze({ ...a })) : [];
  const opts = (c.access_log_options ?? {}) as Canonical;
  if (c.access_log_options !== undefined && (c.access_log_flush_interval !== undefined || c.flush_access_log_on_connected !== undefined)) {
    issues.error('set either access_log_options or the deprecated access_log_flush_interval / flush_access_log_on_connected', 'access_log_options');
  }
  const accessLogFlushIntervalMs =
    duration(opts.access_log_flush_interval, issues.at('access_log_options'), 'access_log_flush_interval') ??
    duration(c.access_log_flush_interval, issues, 'access_log_flush_interval') ?? 0;
  const flushAccessLogOnConnected = opts.flush_access_log_on_connected === true || c.flush_access_log_on_connected === true;

  return Object.freeze({
    statPrefix,
    cluster,
    weightedClusters: weightedClusters ? Object.freeze(weightedClusters) : null,
    totalWeight,
    idleTimeoutMs,
    maxConnectAttempts,
    maxDownstreamConnectionDurationMs,
    hashPolicy,
    accessLog: Object.freeze(accessLog),
    accessLogFlushIntervalMs,
    flushAccessLogOnConnected,
  });
}

/** sni_cluster has no fields; anything set is an error. */
export function translateSniCluster(c: Canonical, issues: Issues): void {
  for (const k of Object.keys(c)) if (k !== '@type') issues.error(`unknown field ${k}`, k);
}
