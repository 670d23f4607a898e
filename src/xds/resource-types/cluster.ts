// xds/resource-types/: CDS — envoy.config.cluster.v3.Cluster (canonical) → ClusterConfig. Validates every field with
// its path; fields that change behaviour but meshlet does not implement are errors naming them. TLS files are read
// here, once, into PEM strings (a later file change needs a new CDS update, as with inline certificates).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Issues } from '../../common/validation.js';
import type { ValidationResult } from '../../common/validation.js';
import type { Canonical } from '../proto-json.js';
import type { Dependencies, ResourceType } from '../resource-type.js';
import { TypeUrl } from '../resource-type.js';
import type {
  ClusterConfig, CommonLbConfig, DiscoveryType, HealthCheckConfig, HealthCheckKind, HttpProtocolConfig, LbPolicy,
  OutlierDetectionConfig, SanMatcher, SlowStartConfig, ThresholdsConfig, TransportSocketMatch, UpstreamBindConfig, UpstreamTlsConfig,
} from '../../config/cluster.js';
import { rejectUnknownKeys, translateLoadAssignment } from './cluster-load-assignment.js';

/** Shared by every cluster without health checks / transport socket matches (10,000 empty arrays otherwise). */
const NONE: readonly never[] = Object.freeze([]);
const T_HTTP_OPTS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const T_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const T_RAW = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
const LB_EXT = 'type.googleapis.com/envoy.extensions.load_balancing_policies.';

function obj(v: unknown): Canonical {
  return v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Canonical) : {};
}
function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}
function num(v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? n : dflt;
}
function pct(v: unknown, dflt: number): number {
  return v === undefined ? dflt : num(obj(v).value, 0);
}

const CLUSTER_KEYS = new Set([
  'name', 'alt_stat_name', 'type', 'cluster_type', 'eds_cluster_config', 'connect_timeout', 'per_connection_buffer_limit_bytes',
  'lb_policy', 'load_assignment', 'health_checks', 'max_requests_per_connection', 'circuit_breakers', 'common_http_protocol_options',
  'http_protocol_options', 'http2_protocol_options', 'typed_extension_protocol_options', 'dns_refresh_rate', 'dns_failure_refresh_rate',
  'respect_dns_ttl', 'dns_lookup_family', 'outlier_detection', 'cleanup_interval', 'ring_hash_lb_config', 'maglev_lb_config',
  'original_dst_lb_config', 'least_request_lb_config', 'round_robin_lb_config', 'common_lb_config', 'transport_socket',
  'transport_socket_matches', 'metadata', 'upstream_connection_options', 'close_connections_on_host_health_failure',
  'ignore_health_on_host_removal', 'load_balancing_policy', 'track_cluster_stats', 'wait_for_warm_on_init', 'protocol_selection',
  'track_timeout_budgets', 'upstream_http_protocol_options', 'lrs_server', 'connection_pool_per_downstream_connection',
  'use_tcp_for_dns_lookups', 'dns_resolvers', 'dns_resolution_config', 'typed_dns_resolver_config', 'upstream_bind_config',
  'lb_subset_config', 'filters', 'upstream_config', 'preconnect_policy', 'lrs_report_endpoint_metrics',
]);
/** Set-but-not-implemented fields that change behaviour (rejected by name). */
const UNSUPPORTED_CLUSTER_FIELDS = [
  'dns_resolvers', 'dns_resolution_config', 'typed_dns_resolver_config', 'lb_subset_config', 'filters',
  'upstream_config', 'preconnect_policy', 'connection_pool_per_downstream_connection', 'lrs_server', 'use_tcp_for_dns_lookups',
];

function dataSource(ds: unknown, issues: Issues): string | null {
  const d = obj(ds);
  if (typeof d.filename === 'string') {
    try {
      return readFileSync(d.filename, 'utf8');
    } catch (e) {
      issues.error(`cannot read ${d.filename}: ${(e as Error).message}`, 'filename');
      return null;
    }
  }
  if (typeof d.inline_string === 'string') return d.inline_string;
  if (Buffer.isBuffer(d.inline_bytes)) return d.inline_bytes.toString('utf8');
  if (typeof d.environment_variable === 'string') {
    const v = process.env[d.environment_variable];
    if (v === undefined) issues.error(`environment variable ${d.environment_variable} is not set`, 'environment_variable');
    return v ?? null;
  }
  issues.error('data source must set filename, inline_string, inline_bytes or environment_variable');
  return null;
}

function stringMatcher(m: Canonical, issues: Issues): SanMatcher['match'] | null {
  const ignoreCase = m.ignore_case === true;
  if (typeof m.exact === 'string') return { kind: 'exact', value: m.exact, ignoreCase };
  if (typeof m.prefix === 'string') return { kind: 'prefix', value: m.prefix, ignoreCase };
  if (typeof m.suffix === 'string') return { kind: 'suffix', value: m.suffix, ignoreCase };
  if (typeof m.contains === 'string') return { kind: 'contains', value: m.contains, ignoreCase };
  if (m.safe_regex) return { kind: 'regex', regex: String(obj(m.safe_regex).regex ?? '') };
  issues.error('string matcher must set exact, prefix, suffix, contains or safe_regex');
  return null;
}

function translateTls(tc: Canonical, issues: Issues): UpstreamTlsConfig {
  rejectUnknownKeys(tc, new Set(['common_tls_context', 'sni', 'allow_renegotiation', 'max_session_keys', 'enforce_rsa_key_usage']), issues);
  const c = obj(tc.common_tls_context);
  const ci = issues.at('common_tls_context');
  rejectUnknownKeys(c, new Set(['tls_params', 'tls_certificates', 'validation_context', 'combined_validation_context', 'alpn_protocols']), ci);
  let chain: string | null = null;
  let key: string | null = null;
  const certs = arr(c.tls_certificates);
  if (certs.length > 1) ci.error('only one tls_certificates entry is supported', 'tls_certificates');
  certs.slice(0, 1).forEach((raw, i) => {
    const cert = obj(raw);
    const ii = ci.at('tls_certificates').at(i);
    rejectUnknownKeys(cert, new Set(['certificate_chain', 'private_key']), ii);
    if (!cert.certificate_chain) ii.error('certificate_chain is required', 'certificate_chain');
    else chain = dataSource(cert.certificate_chain, ii.at('certificate_chain'));
    if (!cert.private_key) ii.error('private_key is required', 'private_key');
    else key = dataSource(cert.private_key, ii.at('private_key'));
  });
  let vc = obj(c.validation_context);
  let vi = ci.at('validation_context');
  if (c.combined_validation_context) {
    const cv = obj(c.combined_validation_context);
    vi = ci.at('combined_validation_context');
    if (cv.validation_context_sds_secret_config) vi.unsupported('validation_context_sds_secret_config');
    vc = obj(cv.default_validation_context);
    vi = vi.at('default_validation_context');
  }
  rejectUnknownKeys(vc, new Set(['trusted_ca', 'match_typed_subject_alt_names', 'match_subject_alt_names']), vi);
  const trustedCa = vc.trusted_ca ? dataSource(vc.trusted_ca, vi.at('trusted_ca')) : null;
  const sanMatchers: SanMatcher[] = [];
  arr(vc.match_typed_subject_alt_names).forEach((raw, i) => {
    const m = obj(raw);
    const mi = vi.at('match_typed_subject_alt_names').at(i);
    const sanType = String(m.san_type ?? 'SAN_TYPE_UNSPECIFIED');
    if (sanType === 'SAN_TYPE_UNSPECIFIED') mi.error('san_type is required', 'san_type');
    const match = stringMatcher(obj(m.matcher), mi.at('matcher'));
    if (match) sanMatchers.push({ sanType, match });
  });
  arr(vc.match_subject_alt_names).forEach((raw, i) => {
    const match = stringMatcher(obj(raw), vi.at('match_subject_alt_names').at(i));
    if (match) sanMatchers.push({ sanType: 'ANY', match });
  });
  if (sanMatchers.length && !trustedCa) vi.error('subject alt name matching requires trusted_ca');
  const params = obj(c.tls_params);
  const pi = ci.at('tls_params');
  rejectUnknownKeys(params, new Set(['tls_minimum_protocol_version', 'tls_maximum_protocol_version', 'cipher_suites', 'ecdh_curves']), pi);
  // Envoy enum names → node:tls names (minVersion / maxVersion).
  const NODE_TLS: Record<string, string> = { TLSv1_0: 'TLSv1', TLSv1_1: 'TLSv1.1', TLSv1_2: 'TLSv1.2', TLSv1_3: 'TLSv1.3' };
  const ver = (v: unknown): string | null => (v === undefined || v === 'TLS_AUTO' ? null : NODE_TLS[String(v)] ?? null);
  const alpn = arr(c.alpn_protocols).map(String);
  const sni = typeof tc.sni === 'string' ? tc.sni : '';
  const value = {
    sni,
    alpn: Object.freeze(alpn),
    trustedCa,
    sanMatchers: Object.freeze(sanMatchers),
    certificateChain: chain as string | null,
    privateKey: key as string | null,
    minVersion: ver(params.tls_minimum_protocol_version),
    maxVersion: ver(params.tls_maximum_protocol_version),
    cipherSuites: Object.freeze(arr(params.cipher_suites).map(String)),
    allowRenegotiation: tc.allow_renegotiation === true,
  };
  const keyStr = JSON.stringify(value);
  return Object.freeze({ ...value, key: keyStr });
}

function translateTransportSocket(ts: Canonical, issues: Issues): UpstreamTlsConfig | null {
  const tc = obj(ts.typed_config);
  const url = tc['@type'];
  if (url === undefined || url === T_RAW) return null;
  if (url !== T_TLS) {
    issues.error(`unsupported transport socket ${String(url)}`, 'typed_config');
    return null;
  }
  const { '@type': _t, ...rest } = tc;
  return translateTls(rest, issues.at('typed_config'));
}

function translateSlowStart(s: Canonical, issues: Issues): SlowStartConfig {
  const windowMs = num(s.slow_start_window, 0);
  if (!(windowMs > 0)) issues.error('slow_start_window must be greater than 0', 'slow_start_window');
  const aggression = num(obj(s.aggression).default_value, 1);
  if (!(aggression > 0)) issues.error('aggression must be greater than 0', 'aggression');
  return { windowMs, aggression, minWeightPercent: pct(s.min_weight_percent, 10) };
}

function translateLbExtension(tc: Canonical, issues: Issues): { policy: LbPolicy; slowStart?: SlowStartConfig; localityWeighted?: boolean } | null {
  const url = String(tc['@type'] ?? '');
  if (!url.startsWith(LB_EXT)) return null;
  const kind = url.slice(LB_EXT.length).split('.')[0];
  const localityCfg = obj(tc.locality_lb_config);
  const localityWeighted = tc.locality_weighted_lb_config !== undefined || localityCfg.locality_weighted_lb_config !== undefined;
  const slowStart = tc.slow_start_config ? translateSlowStart(obj(tc.slow_start_config), issues.at('slow_start_config')) : undefined;
  switch (kind) {
    case 'round_robin':
      return { policy: { kind: 'ROUND_ROBIN' }, slowStart, localityWeighted };
    case 'random':
      return { policy: { kind: 'RANDOM' }, localityWeighted };
    case 'least_request': {
      if (tc.selection_method === 'FULL_SCAN' || tc.enable_full_scan === true) issues.unsupported('selection_method');
      return {
        policy: { kind: 'LEAST_REQUEST', choiceCount: num(tc.choice_count, 2), activeRequestBias: num(obj(tc.active_request_bias).default_value, 1) },
        slowStart, localityWeighted,
      };
    }
    case 'ring_hash': {
      if (tc.hash_function === 'MURMUR_HASH_2') issues.unsupported('hash_function', 'MURMUR_HASH_2 is not supported by meshlet');
      if (tc.hash_balance_factor !== undefined) issues.unsupported('hash_balance_factor');
      const ch = obj(tc.consistent_hashing_lb_config);
      return {
        policy: { kind: 'RING_HASH', minRingSize: num(tc.minimum_ring_size, 1024), maxRingSize: num(tc.maximum_ring_size, 8388608), useHostnameForHashing: tc.use_hostname_for_hashing === true || ch.use_hostname_for_hashing === true },
        localityWeighted,
      };
    }
    case 'maglev': {
      const ch = obj(tc.consistent_hashing_lb_config);
      return { policy: { kind: 'MAGLEV', tableSize: num(tc.table_size, 65537), useHostnameForHashing: ch.use_hostname_for_hashing === true }, localityWeighted };
    }
    case 'cluster_provided':
      return { policy: { kind: 'CLUSTER_PROVIDED' } };
    case 'wrr_locality': {
      // wrr_locality wraps an endpoint picking policy and turns on locality-weighted LB.
      const inner = arr(obj(tc.endpoint_picking_policy).policies);
      for (let i = 0; i < inner.length; i++) {
        const t = translateLbExtension(obj(obj(obj(inner[i]).typed_extension_config).typed_config), issues.at('endpoint_picking_policy').at('policies').at(i));
        if (t) return { ...t, localityWeighted: true };
      }
      issues.error('no supported endpoint_picking_policy', 'endpoint_picking_policy');
      return { policy: { kind: 'ROUND_ROBIN' }, localityWeighted: true };
    }
    default:
      return null;
  }
}

function translateLegacyLb(c: Canonical, issues: Issues): LbPolicy {
  const p = c.lb_policy === undefined ? 'ROUND_ROBIN' : String(c.lb_policy);
  switch (p) {
    case 'ROUND_ROBIN':
      return { kind: 'ROUND_ROBIN' };
    case 'RANDOM':
      return { kind: 'RANDOM' };
    case 'LEAST_REQUEST': {
      const l = obj(c.least_request_lb_config);
      const choiceCount = num(l.choice_count, 2);
      if (choiceCount < 2) issues.at('least_request_lb_config').error('choice_count must be at least 2', 'choice_count');
      return { kind: 'LEAST_REQUEST', choiceCount, activeRequestBias: num(obj(l.active_request_bias).default_value, 1) };
    }
    case 'RING_HASH': {
      const r = obj(c.ring_hash_lb_config);
      const ri = issues.at('ring_hash_lb_config');
      if (r.hash_function === 'MURMUR_HASH_2') ri.unsupported('hash_function', 'MURMUR_HASH_2 is not supported by meshlet');
      const minRingSize = num(r.minimum_ring_size, 1024);
      const maxRingSize = num(r.maximum_ring_size, 8388608);
      if (minRingSize > maxRingSize) ri.error('minimum_ring_size must not exceed maximum_ring_size', 'minimum_ring_size');
      if (maxRingSize > 8388608) ri.error('maximum_ring_size must not exceed 8M', 'maximum_ring_size');
      const ch = obj(obj(c.common_lb_config).consistent_hashing_lb_config);
      return { kind: 'RING_HASH', minRingSize, maxRingSize, useHostnameForHashing: ch.use_hostname_for_hashing === true };
    }
    case 'MAGLEV': {
      const tableSize = num(obj(c.maglev_lb_config).table_size, 65537);
      if (!isPrime(tableSize)) issues.at('maglev_lb_config').error('table_size must be a prime number', 'table_size');
      const ch = obj(obj(c.common_lb_config).consistent_hashing_lb_config);
      return { kind: 'MAGLEV', tableSize, useHostnameForHashing: ch.use_hostname_for_hashing === true };
    }
    case 'CLUSTER_PROVIDED':
      return { kind: 'CLUSTER_PROVIDED' };
    default:
      issues.error(`lb_policy ${p} is not supported by meshlet`, 'lb_policy');
      return { kind: 'ROUND_ROBIN' };
  }
}

function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  for (let i = 2; i * i <= n; i++) if (n % i === 0) return false;
  return true;
}

const DEFAULT_THRESHOLDS = (priority: 'DEFAULT' | 'HIGH'): ThresholdsConfig => ({
  priority, maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3, retryBudget: null,
});

function translateCircuitBreakers(cb: Canonical, issues: Issues): { thresholds: [ThresholdsConfig, ThresholdsConfig]; trackRemaining: boolean } {
  rejectUnknownKeys(cb, new Set(['thresholds', 'per_host_thresholds']), issues);
  if (cb.per_host_thresholds !== undefined) issues.unsupported('per_host_thresholds');
  const out: [ThresholdsConfig, ThresholdsConfig] = [DEFAULT_THRESHOLDS('DEFAULT'), DEFAULT_THRESHOLDS('HIGH')];
  let trackRemaining = false;
  const seen = new Set<string>();
  arr(cb.thresholds).forEach((raw, i) => {
    const t = obj(raw);
    const ti = issues.at('thresholds').at(i);
    rejectUnknownKeys(t, new Set(['priority', 'max_connections', 'max_pending_requests', 'max_requests', 'max_retries', 'retry_budget', 'track_remaining', 'max_connection_pools']), ti);
    if (t.max_connection_pools !== undefined) ti.unsupported('max_connection_pools');
    const priority = t.priority === 'HIGH' ? 'HIGH' : 'DEFAULT';
    if (seen.has(priority)) ti.error(`duplicate thresholds for priority ${priority}`, 'priority');
    seen.add(priority);
    if (t.track_remaining === true) trackRemaining = true;
    let retryBudget: ThresholdsConfig['retryBudget'] = null;
    if (t.retry_budget !== undefined) {
      const rb = obj(t.retry_budget);
      retryBudget = { budgetPercent: pct(rb.budget_percent, 20), minRetryConcurrency: num(rb.min_retry_concurrency, 3) };
    }
    out[priority === 'HIGH' ? 1 : 0] = {
      priority,
      maxConnections: num(t.max_connections, 1024),
      maxPendingRequests: num(t.max_pending_requests, 1024),
      maxRequests: num(t.max_requests, 1024),
      maxRetries: num(t.max_retries, 3),
      retryBudget,
    };
  });
  return { thresholds: out, trackRemaining };
}

function translateOutlier(o: Canonical, issues: Issues): OutlierDetectionConfig {
  if (o.monitors !== undefined) issues.unsupported('monitors');
  if (o.always_eject_one_host !== undefined && o.always_eject_one_host !== false) issues.unsupported('always_eject_one_host');
  const percentFields = ['max_ejection_percent', 'enforcing_consecutive_5xx', 'enforcing_success_rate', 'enforcing_consecutive_gateway_failure',
    'enforcing_consecutive_local_origin_failure', 'enforcing_local_origin_success_rate', 'failure_percentage_threshold',
    'enforcing_failure_percentage', 'enforcing_failure_percentage_local_origin'];
  for (const f of percentFields) if (o[f] !== undefined && Number(o[f]) > 100) issues.error('must be at most 100', f);
  const intervalMs = num(o.interval, 10000);
  if (!(intervalMs > 0)) issues.error('interval must be greater than 0', 'interval');
  const baseEjectionTimeMs = num(o.base_ejection_time, 30000);
  const maxEjectionTimeMs = num(o.max_ejection_time, Math.max(300000, baseEjectionTimeMs));
  if (o.max_ejection_time !== undefined && maxEjectionTimeMs < baseEjectionTimeMs) issues.error('max_ejection_time must not be below base_ejection_time', 'max_ejection_time');
  return Object.freeze({
    consecutive5xx: num(o.consecutive_5xx, 5),
    consecutiveGatewayFailure: num(o.consecutive_gateway_failure, 5),
    consecutiveLocalOriginFailure: num(o.consecutive_local_origin_failure, 5),
    intervalMs,
    baseEjectionTimeMs,
    maxEjectionTimeMs,
    maxEjectionPercent: num(o.max_ejection_percent, 10),
    enforcingConsecutive5xx: num(o.enforcing_consecutive_5xx, 100),
    enforcingConsecutiveGatewayFailure: num(o.enforcing_consecutive_gateway_failure, 0),
    enforcingConsecutiveLocalOriginFailure: num(o.enforcing_consecutive_local_origin_failure, 100),
    enforcingSuccessRate: num(o.enforcing_success_rate, 100),
    enforcingLocalOriginSuccessRate: num(o.enforcing_local_origin_success_rate, 100),
    enforcingFailurePercentage: num(o.enforcing_failure_percentage, 0),
    enforcingFailurePercentageLocalOrigin: num(o.enforcing_failure_percentage_local_origin, 0),
    successRateMinimumHosts: num(o.success_rate_minimum_hosts, 5),
    successRateRequestVolume: num(o.success_rate_request_volume, 100),
    successRateStdevFactor: num(o.success_rate_stdev_factor, 1900),
    failurePercentageThreshold: num(o.failure_percentage_threshold, 85),
    failurePercentageMinimumHosts: num(o.failure_percentage_minimum_hosts, 5),
    failurePercentageRequestVolume: num(o.failure_percentage_request_volume, 50),
    splitExternalLocalOriginErrors: o.split_external_local_origin_errors === true,
    maxEjectionTimeJitterMs: num(o.max_ejection_time_jitter, 0),
    successfulActiveHealthCheckUnejectHost: o.successful_active_health_check_uneject_host !== false,
  });
}

function payload(p: unknown, issues: Issues): Buffer | null {
  const o = obj(p);
  if (typeof o.text === 'string') {
    if (!/^([0-9a-fA-F]{2})*$/.test(o.text)) {
      issues.error('text must be hex-encoded', 'text');
      return null;
    }
    return Buffer.from(o.text, 'hex');
  }
  if (Buffer.isBuffer(o.binary)) return o.binary;
  issues.error('payload must set text or binary');
  return null;
}

function translateHealthCheck(h: Canonical, issues: Issues, clusterName: string): HealthCheckConfig | null {
  for (const f of ['alt_port', 'custom_health_check', 'event_log_path', 'event_logger', 'event_service', 'tls_options', 'transport_socket_match_criteria']) {
    if (h[f] !== undefined) issues.unsupported(f);
  }
  const timeoutMs = num(h.timeout, 0);
  const intervalMs = num(h.interval, 0);
  if (!(timeoutMs > 0)) issues.error('timeout is required and must be greater than 0', 'timeout');
  if (!(intervalMs > 0)) issues.error('interval is required and must be greater than 0', 'interval');
  if (h.unhealthy_threshold === undefined) issues.error('unhealthy_threshold is required', 'unhealthy_threshold');
  if (h.healthy_threshold === undefined) issues.error('healthy_threshold is required', 'healthy_threshold');
  let check: HealthCheckKind | null = null;
  if (h.http_health_check) {
    const x = obj(h.http_health_check);
    const xi = issues.at('http_health_check');
    for (const f of ['send', 'receive', 'retriable_statuses', 'service_name_matcher', 'response_buffer_size']) if (x[f] !== undefined) xi.unsupported(f);
    const path = typeof x.path === 'string' ? x.path : '';
    if (!path) xi.error('path is required', 'path');
    const expected: [number, number][] = [];
    arr(x.expected_statuses).forEach((r, i) => {
      const rr = obj(r);
      const s = num(rr.start, 0);
      const e = num(rr.end, 0);
      if (s < 100 || e > 600 || s >= e) xi.at('expected_statuses').error('range must be within [100, 600) and start < end', i);
      expected.push([s, e]);
    });
    const codec = x.codec_client_type === undefined || x.codec_client_type === 'HTTP1' ? 'http1' : x.codec_client_type === 'HTTP2' ? 'http2' : null;
    if (!codec) xi.error(`codec_client_type ${String(x.codec_client_type)} is not supported`, 'codec_client_type');
    const method = x.method === undefined || x.method === 'METHOD_UNSPECIFIED' ? 'GET' : String(x.method);
    if (method === 'CONNECT') xi.error('method CONNECT is not allowed', 'method');
    const headers = arr(x.request_headers_to_add).map((raw) => {
      const hv = obj(raw);
      const hdr = obj(hv.header);
      return { name: String(hdr.key ?? '').toLowerCase(), value: String(hdr.value ?? ''), append: hv.append_action === 'APPEND_IF_EXISTS_OR_ADD' || hv.append === true };
    });
    check = {
      kind: 'http', path, host: typeof x.host === 'string' ? x.host : '', expectedStatuses: expected.length ? expected : [[200, 201]],
      requestHeadersToAdd: headers, requestHeadersToRemove: arr(x.request_headers_to_remove).map((s) => String(s).toLowerCase()),
      codec: codec ?? 'http1', method,
    };
  } else if (h.tcp_health_check) {
    const x = obj(h.tcp_health_check);
    const xi = issues.at('tcp_health_check');
    if (x.proxy_protocol_config !== undefined) xi.unsupported('proxy_protocol_config');
    const send = x.send ? payload(x.send, xi.at('send')) : null;
    const receive: Buffer[] = [];
    arr(x.receive).forEach((r, i) => {
      const b = payload(r, xi.at('receive').at(i));
      if (b) receive.push(b);
    });
    check = { kind: 'tcp', send, receive };
  } else if (h.grpc_health_check) {
    const x = obj(h.grpc_health_check);
    if (x.initial_metadata !== undefined) issues.at('grpc_health_check').unsupported('initial_metadata');
    check = { kind: 'grpc', serviceName: typeof x.service_name === 'string' ? x.service_name : '', authority: typeof x.authority === 'string' ? x.authority : clusterName };
  } else {
    issues.error('health check must set http_health_check, tcp_health_check or grpc_health_check');
  }
  if (!check) return null;
  return Object.freeze({
    timeoutMs,
    intervalMs,
    initialJitterMs: num(h.initial_jitter, 0),
    intervalJitterMs: num(h.interval_jitter, 0),
    intervalJitterPercent: num(h.interval_jitter_percent, 0),
    unhealthyThreshold: num(h.unhealthy_threshold, 1),
    healthyThreshold: num(h.healthy_threshold, 1),
    noTrafficIntervalMs: num(h.no_traffic_interval, 60000),
    noTrafficHealthyIntervalMs: num(h.no_traffic_healthy_interval, num(h.no_traffic_interval, 60000)),
    unhealthyIntervalMs: num(h.unhealthy_interval, intervalMs),
    unhealthyEdgeIntervalMs: num(h.unhealthy_edge_interval, num(h.unhealthy_interval, intervalMs)),
    healthyEdgeIntervalMs: num(h.healthy_edge_interval, intervalMs),
    reuseConnection: h.reuse_connection !== false,
    alwaysLogHealthCheckFailures: h.always_log_health_check_failures === true,
    check,
  });
}

function translateHttpOptions(c: Canonical, issues: Issues): HttpProtocolConfig {
  let protocol: HttpProtocolConfig['protocol'] = c.http2_protocol_options !== undefined ? 'http2' : 'http1';
  let common = obj(c.common_http_protocol_options);
  let h2 = obj(c.http2_protocol_options);
  let h2Path = issues.at('http2_protocol_options');
  if (c.max_requests_per_connection !== undefined && common.max_requests_per_connection === undefined) {
    common = { ...common, max_requests_per_connection: c.max_requests_per_connection };
  }
  const teo = obj(c.typed_extension_protocol_options);
  for (const [k, v] of Object.entries(teo)) {
    const ki = issues.at('typed_extension_protocol_options').at(k);
    const o = obj(v);
    if (o['@type'] !== T_HTTP_OPTS) {
      ki.error(`unsupported protocol options type ${String(o['@type'])}`);
      continue;
    }
    if (o.http_filters !== undefined) ki.unsupported('http_filters');
    if (o.header_validation_config !== undefined) ki.unsupported('header_validation_config');
    if (o.common_http_protocol_options) common = obj(o.common_http_protocol_options);
    if (o.explicit_http_config) {
      const e = obj(o.explicit_http_config);
      if (e.http2_protocol_options !== undefined) {
        protocol = 'http2';
        h2 = obj(e.http2_protocol_options);
        h2Path = ki.at('explicit_http_config').at('http2_protocol_options');
      } else if (e.http3_protocol_options !== undefined) ki.at('explicit_http_config').unsupported('http3_protocol_options');
      else protocol = 'http1';
    } else if (o.auto_config) {
      const a = obj(o.auto_config);
      if (a.http3_protocol_options !== undefined) ki.at('auto_config').unsupported('http3_protocol_options');
      protocol = 'auto';
      if (a.http2_protocol_options) h2 = obj(a.http2_protocol_options);
    } else if (o.use_downstream_protocol_config) {
      const d = obj(o.use_downstream_protocol_config);
      if (d.http3_protocol_options !== undefined) ki.at('use_downstream_protocol_config').unsupported('http3_protocol_options');
      protocol = 'downstream';
      if (d.http2_protocol_options) h2 = obj(d.http2_protocol_options);
    } else {
      ki.error('one of explicit_http_config, auto_config or use_downstream_protocol_config is required');
    }
  }
  const ci = issues.at('common_http_protocol_options');
  if (common.headers_with_underscores_action !== undefined && common.headers_with_underscores_action !== 'ALLOW') ci.unsupported('headers_with_underscores_action');
  for (const f of ['allow_connect', 'allow_metadata', 'custom_settings_parameters']) if (h2[f] !== undefined && h2[f] !== false) h2Path.unsupported(f);
  const ka = obj(h2.connection_keepalive);
  return Object.freeze({
    protocol,
    idleTimeoutMs: num(common.idle_timeout, 3600000),
    maxRequestsPerConnection: num(common.max_requests_per_connection, 0),
    maxHeadersCount: num(common.max_headers_count, 100),
    maxConnectionDurationMs: num(common.max_connection_duration, 0),
    maxStreamDurationMs: num(common.max_stream_duration, 0),
    h2MaxConcurrentStreams: num(h2.max_concurrent_streams, 2147483647),
    h2InitialStreamWindowSize: num(h2.initial_stream_window_size, 268435456),
    h2InitialConnectionWindowSize: num(h2.initial_connection_window_size, 268435456),
    h2KeepaliveIntervalMs: num(ka.interval, 0),
    h2KeepaliveTimeoutMs: num(ka.timeout, 0),
  });
}

/** envoy.config.core.v3.BindConfig → the source address upstream sockets bind to (any port). */
function translateBindConfig(b: Canonical, issues: Issues): UpstreamBindConfig | null {
  rejectUnknownKeys(b, new Set(['source_address', 'freebind', 'socket_options', 'extra_source_addresses', 'additional_source_addresses', 'local_address_selector']), issues);
  if (b.freebind === true) issues.unsupported('freebind', 'is not supported by meshlet (Node.js cannot set IP_FREEBIND)');
  if (arr(b.socket_options).length) issues.unsupported('socket_options');
  if (arr(b.extra_source_addresses).length) issues.unsupported('extra_source_addresses');
  if (arr(b.additional_source_addresses).length) issues.unsupported('additional_source_addresses');
  if (b.local_address_selector !== undefined) issues.unsupported('local_address_selector');
  if (b.source_address === undefined) {
    issues.error('source_address is required', 'source_address');
    return null;
  }
  const sa = obj(b.source_address);
  const si = issues.at('source_address');
  rejectUnknownKeys(sa, new Set(['address', 'port_value', 'protocol', 'ipv4_compat', 'resolver_name', 'named_port']), si);
  if (sa.protocol !== undefined && sa.protocol !== 'TCP') si.error(`protocol ${String(sa.protocol)} is not supported (TCP only)`, 'protocol');
  if (sa.resolver_name !== undefined) si.unsupported('resolver_name');
  if (sa.named_port !== undefined) si.unsupported('named_port');
  // A fixed source port would allow one upstream connection per host at a time; meshlet always lets the kernel pick.
  if (num(sa.port_value, 0) !== 0) si.unsupported('port_value', 'is not supported by meshlet: a fixed source port (use 0, any port)');
  const address = typeof sa.address === 'string' ? sa.address : '';
  if (isIP(address) === 0) {
    si.error(`address must be an IP address, got ${JSON.stringify(address)}`, 'address');
    return null;
  }
  return Object.freeze({ sourceAddress: address });
}

/** Translates a canonical Cluster into ClusterConfig, collecting every problem under `issues`. */
export function translateCluster(c: Canonical, issues: Issues): ClusterConfig {
  rejectUnknownKeys(c, CLUSTER_KEYS, issues);
  for (const f of UNSUPPORTED_CLUSTER_FIELDS) if (c[f] !== undefined) issues.unsupported(f);
  if (c.protocol_selection === 'USE_DOWNSTREAM_PROTOCOL') issues.unsupported('protocol_selection');
  if (c.upstream_http_protocol_options !== undefined) issues.unsupported('upstream_http_protocol_options');
  if (c.close_connections_on_host_health_failure === true) issues.unsupported('close_connections_on_host_health_failure');
  // Soft differences (refresh timing only): accepted with a warning rather than NACKing Istio's DNS clusters.
  if (c.respect_dns_ttl === true) issues.warn('DNS TTLs are not read; hosts are re-resolved every dns_refresh_rate', 'respect_dns_ttl');
  if (c.dns_failure_refresh_rate !== undefined) issues.warn('failed resolutions are retried at dns_refresh_rate', 'dns_failure_refresh_rate');
  if (c.http_protocol_options !== undefined && Object.keys(obj(c.http_protocol_options)).length) issues.unsupported('http_protocol_options');
  const name = typeof c.name === 'string' ? c.name : '';
  if (!name) issues.error('name is required', 'name');
  let type: DiscoveryType = 'STATIC';
  if (c.cluster_type !== undefined) {
    const ct = obj(c.cluster_type);
    issues.at('cluster_type').error(`custom cluster type ${String(ct.name ?? obj(ct.typed_config)['@type'] ?? '')} (e.g. aggregate) is not supported by meshlet`);
  } else if (c.type !== undefined) {
    const t = String(c.type);
    if (['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'].includes(t)) type = t as DiscoveryType;
    else issues.error(`cluster type ${t} is not supported`, 'type');
  }
  let edsServiceName = '';
  if (type === 'EDS') {
    const e = obj(c.eds_cluster_config);
    const ei = issues.at('eds_cluster_config');
    edsServiceName = typeof e.service_name === 'string' && e.service_name ? e.service_name : name;
    const cs = obj(e.eds_config);
    if (cs.path !== undefined || cs.path_config_source !== undefined) {
      // Filesystem EDS is served by the xDS layer like ADS; accepted.
    } else if (cs.api_config_source !== undefined) {
      ei.at('eds_config').unsupported('api_config_source', 'api_config_source (non-ADS EDS) is not supported by meshlet; use ads');
    } else if (e.eds_config !== undefined && cs.ads === undefined && cs.self === undefined) {
      ei.at('eds_config').error('eds_config must be ads (or self / path_config_source)');
    }
    if (c.load_assignment !== undefined) issues.warn('load_assignment is ignored for EDS clusters', 'load_assignment');
  } else if (c.eds_cluster_config !== undefined) {
    issues.error('eds_cluster_config is only valid for EDS clusters', 'eds_cluster_config');
  }

  // Load balancing policy: the typed-extension list wins (first supported entry), else the legacy enum.
  let lbPolicy: LbPolicy = { kind: 'ROUND_ROBIN' };
  let extSlowStart: SlowStartConfig | undefined;
  let extLocalityWeighted = false;
  if (c.load_balancing_policy !== undefined) {
    const li = issues.at('load_balancing_policy');
    if (c.lb_policy !== undefined && c.lb_policy !== 'LOAD_BALANCING_POLICY_CONFIG') li.error('cannot be combined with lb_policy');
    const policies = arr(obj(c.load_balancing_policy).policies);
    let found = false;
    for (let i = 0; i < policies.length && !found; i++) {
      const tec = obj(obj(policies[i]).typed_extension_config);
      const t = translateLbExtension(obj(tec.typed_config), li.at('policies').at(i).at('typed_extension_config').at('typed_config'));
      if (t) {
        found = true;
        lbPolicy = t.policy;
        extSlowStart = t.slowStart;
        extLocalityWeighted = t.localityWeighted === true;
      }
    }
    if (!found) li.error('no supported load balancing policy in policies', 'policies');
  } else {
    lbPolicy = translateLegacyLb(c, issues);
  }
  if (type === 'ORIGINAL_DST' && lbPolicy.kind !== 'CLUSTER_PROVIDED') issues.error('ORIGINAL_DST clusters require lb_policy CLUSTER_PROVIDED', 'lb_policy');
  if (type !== 'ORIGINAL_DST' && lbPolicy.kind === 'CLUSTER_PROVIDED') issues.error('CLUSTER_PROVIDED is only valid for ORIGINAL_DST clusters', 'lb_policy');

  const clb = obj(c.common_lb_config);
  const clbi = issues.at('common_lb_config');
  rejectUnknownKeys(clb, new Set(['healthy_panic_threshold', 'zone_aware_lb_config', 'locality_weighted_lb_config', 'update_merge_window',
    'ignore_new_hosts_until_first_hc', 'close_connections_on_host_set_change', 'consistent_hashing_lb_config', 'override_host_status']), clbi);
  for (const f of ['ignore_new_hosts_until_first_hc', 'close_connections_on_host_set_change']) if (clb[f] === true) clbi.unsupported(f);
  if (clb.override_host_status !== undefined) clbi.unsupported('override_host_status');
  if (obj(clb.consistent_hashing_lb_config).hash_balance_factor !== undefined) clbi.at('consistent_hashing_lb_config').unsupported('hash_balance_factor');
  const za = obj(clb.zone_aware_lb_config);
  const slowStartRaw = c.round_robin_lb_config ? obj(obj(c.round_robin_lb_config).slow_start_config) : c.least_request_lb_config ? obj(obj(c.least_request_lb_config).slow_start_config) : {};
  let slowStart: SlowStartConfig | null = extSlowStart ?? null;
  if (!slowStart && Object.keys(slowStartRaw).length) {
    slowStart = translateSlowStart(slowStartRaw, issues.at(c.round_robin_lb_config ? 'round_robin_lb_config' : 'least_request_lb_config').at('slow_start_config'));
  }
  const healthyPanicThreshold = pct(clb.healthy_panic_threshold, 50);
  if (healthyPanicThreshold < 0 || healthyPanicThreshold > 100) clbi.error('must be within [0, 100]', 'healthy_panic_threshold');
  const commonLb: CommonLbConfig = Object.freeze({
    healthyPanicThreshold,
    localityWeighted: clb.locality_weighted_lb_config !== undefined || extLocalityWeighted,
    zoneAware: { routingEnabledPercent: pct(za.routing_enabled, 100), minClusterSize: num(za.min_cluster_size, 6), failTrafficOnPanic: za.fail_traffic_on_panic === true },
    slowStart,
  });
  if (clb.locality_weighted_lb_config !== undefined && clb.zone_aware_lb_config !== undefined) clbi.error('zone_aware_lb_config and locality_weighted_lb_config are mutually exclusive');

  const connectTimeoutMs = num(c.connect_timeout, 5000);
  if (!(connectTimeoutMs > 0)) issues.error('connect_timeout must be greater than 0', 'connect_timeout');

  const { thresholds, trackRemaining } = c.circuit_breakers !== undefined
    ? translateCircuitBreakers(obj(c.circuit_breakers), issues.at('circuit_breakers'))
    : { thresholds: [DEFAULT_THRESHOLDS('DEFAULT'), DEFAULT_THRESHOLDS('HIGH')] as [ThresholdsConfig, ThresholdsConfig], trackRemaining: false };

  const outlierDetection = c.outlier_detection !== undefined ? translateOutlier(obj(c.outlier_detection), issues.at('outlier_detection')) : null;
  const healthChecks: HealthCheckConfig[] = [];
  arr(c.health_checks).forEach((h, i) => {
    const t = translateHealthCheck(obj(h), issues.at('health_checks').at(i), name);
    if (t) healthChecks.push(t);
  });
  if (healthChecks.length > 1) issues.error('at most one health check per cluster is supported by meshlet', 'health_checks');

  let tls: UpstreamTlsConfig | null = null;
  if (c.transport_socket !== undefined) tls = translateTransportSocket(obj(c.transport_socket), issues.at('transport_socket'));
  const transportSocketMatches: TransportSocketMatch[] = [];
  arr(c.transport_socket_matches).forEach((raw, i) => {
    const m = obj(raw);
    const mi = issues.at('transport_socket_matches').at(i);
    rejectUnknownKeys(m, new Set(['name', 'match', 'transport_socket']), mi);
    const t = m.transport_socket !== undefined ? translateTransportSocket(obj(m.transport_socket), mi.at('transport_socket')) : null;
    transportSocketMatches.push(Object.freeze({ name: String(m.name ?? ''), match: Object.freeze({ ...obj(m.match) }), tls: t }));
  });

  let loadAssignment = null;
  if (type === 'STATIC' || type === 'STRICT_DNS' || type === 'LOGICAL_DNS') {
    if (c.load_assignment === undefined) {
      issues.error(`load_assignment is required for ${type} clusters`, 'load_assignment');
    } else {
      loadAssignment = translateLoadAssignment(obj(c.load_assignment), issues.at('load_assignment'), { allowHostnames: type !== 'STATIC' });
      if (type === 'LOGICAL_DNS') {
        const n = loadAssignment.localities.reduce((s, l) => s + l.endpoints.length, 0);
        if (n !== 1) issues.error('LOGICAL_DNS clusters must have exactly one endpoint', 'load_assignment');
      }
    }
  } else if (type === 'ORIGINAL_DST' && c.load_assignment !== undefined) {
    issues.error('ORIGINAL_DST clusters must not have load_assignment', 'load_assignment');
  }

  const uco = obj(c.upstream_connection_options);
  const ucoi = issues.at('upstream_connection_options');
  rejectUnknownKeys(uco, new Set(['tcp_keepalive', 'set_local_interface_name_on_upstream_connections', 'happy_eyeballs_config']), ucoi);
  if (uco.happy_eyeballs_config !== undefined) ucoi.unsupported('happy_eyeballs_config');
  const ka = uco.tcp_keepalive !== undefined ? obj(uco.tcp_keepalive) : null;

  const od = obj(c.original_dst_lb_config);
  const odi = issues.at('original_dst_lb_config');
  if (od.upstream_port_override !== undefined) odi.unsupported('upstream_port_override');
  if (od.metadata_key !== undefined) odi.unsupported('metadata_key');
  const dnsLookupFamily = (c.dns_lookup_family === undefined ? 'AUTO' : String(c.dns_lookup_family)) as ClusterConfig['dnsLookupFamily'];

  return Object.freeze({
    name,
    type,
    edsServiceName,
    connectTimeoutMs,
    perConnectionBufferLimitBytes: num(c.per_connection_buffer_limit_bytes, 1048576),
    tcpKeepalive: ka ? { probes: num(ka.keepalive_probes, 9), timeSeconds: num(ka.keepalive_time, 7200), intervalSeconds: num(ka.keepalive_interval, 75) } : null,
    http: translateHttpOptions(c, issues),
    lbPolicy: Object.freeze(lbPolicy),
    commonLb,
    circuitBreakers: Object.freeze(thresholds) as readonly [ThresholdsConfig, ThresholdsConfig],
    trackRemaining,
    outlierDetection,
    healthChecks: healthChecks.length > 0 ? Object.freeze(healthChecks) : NONE,
    tls,
    transportSocketMatches: transportSocketMatches.length > 0 ? Object.freeze(transportSocketMatches) : NONE,
    loadAssignment,
    dnsRefreshRateMs: num(c.dns_refresh_rate, 5000),
    dnsLookupFamily,
    respectDnsTtl: c.respect_dns_ttl === true,
    originalDst: type === 'ORIGINAL_DST'
      ? { cleanupIntervalMs: num(c.cleanup_interval, 5000), useHttpHeader: od.use_http_header === true, httpHeaderName: typeof od.http_header_name === 'string' && od.http_header_name ? od.http_header_name.toLowerCase() : 'x-envoy-original-dst-host' }
      : null,
    ignoreHealthOnHostRemoval: c.ignore_health_on_host_removal === true,
    closeConnectionsOnHostHealthFailure: c.close_connections_on_host_health_failure === true,
    metadata: Object.freeze({ ...obj(obj(c.metadata).filter_metadata) }),
    altStatName: typeof c.alt_stat_name === 'string' ? c.alt_stat_name : '',
    upstreamBind: c.upstream_bind_config !== undefined ? translateBindConfig(obj(c.upstream_bind_config), issues.at('upstream_bind_config')) : null,
  });
}

export const clusterResourceType: ResourceType<ClusterConfig> = {
  typeUrl: TypeUrl.Cluster,
  messageName: 'envoy.config.cluster.v3.Cluster',
  name(resource: Canonical): string {
    return typeof resource.name === 'string' ? resource.name : '';
  },
  translate(resource: Canonical): ValidationResult<ClusterConfig> {
    const issues = new Issues();
    const value = translateCluster(resource, issues);
    return issues.result(value);
  },
  dependencies(value: ClusterConfig): Dependencies {
    return value.type === 'EDS' ? { endpoints: [value.edsServiceName] } : {};
  },
};
