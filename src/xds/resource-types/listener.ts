// xds/resource-types/: LDS translator. Canonical envoy.config.listener.v3.Listener → readonly ListenerConfig, with
// every problem reported at its field path. HCM filters go through http-connection-manager.ts; filter_chain_match
// and tcp_proxy through the L4 slice's translators (wired in filterChainMatchTranslator / tcpProxyTranslator).
import { readFileSync } from 'node:fs';
import { Issues } from '../../common/validation.js';
import type { ValidationResult } from '../../common/validation.js';
import type { Canonical } from '../proto-json.js';
import { TypeUrl } from '../resource-type.js';
import type { ResourceType, TranslateContext } from '../resource-type.js';
import type {
  DownstreamTlsConfig, FilterChainConfig, ListenerConfig, ListenerFilterConfig, ListenerFilterKind, NetworkFilterConfig,
  SocketAddress, TlsCertificate,
} from '../../config/listener.js';
import { HCM_TYPE_URL, rejectUnknownFields, translateHttpConnectionManager } from './http-connection-manager.js';
import { checkFilterChainMatchesUnique, rejectFilterChainMatcher, translateFilterChainMatch } from './filter-chain-match.js';
import { translateSniCluster, translateTcpProxy } from './tcp-proxy.js';
import type { FilterChainMatch } from '../../config/filter-chain-match.js';
import type { TcpProxyConfig } from '../../config/tcp-proxy.js';
import type { InlineRouteTranslator } from './http-connection-manager.js';

const TCP_PROXY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const SNI_CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.sni_cluster.v3.SniCluster';
const DOWNSTREAM_TLS_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const RAW_BUFFER_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';

const LISTENER_FILTERS: Record<string, ListenerFilterKind> = {
  'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst': 'original_dst',
  'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': 'tls_inspector',
  'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector': 'http_inspector',
};
const LISTENER_FILTER_NAMES: Record<string, ListenerFilterKind> = {
  'envoy.filters.listener.original_dst': 'original_dst',
  'envoy.filters.listener.tls_inspector': 'tls_inspector',
  'envoy.filters.listener.http_inspector': 'http_inspector',
};

const LISTENER_FIELDS = new Set([
  'name', 'address', 'stat_prefix', 'filter_chains', 'use_original_dst', 'default_filter_chain',
  'per_connection_buffer_limit_bytes', 'metadata', 'drain_type', 'listener_filters', 'listener_filters_timeout',
  'continue_on_listener_filters_timeout', 'traffic_direction', 'connection_balance_config', 'bind_to_port',
  'tcp_backlog_size', 'reuse_port', 'enable_reuse_port', 'ignore_global_conn_limit', 'transparent', 'freebind',
  'access_log', 'socket_options', 'filter_chain_matcher',
]);

/** The L4 slice's filter_chain_match translator; `null` result = match everything. */
export type FilterChainMatchTranslator = (raw: Canonical | undefined, issues: Issues) => FilterChainMatch;
/** The L4 slice's tcp_proxy translator. */
export type TcpProxyTranslator = (raw: Canonical, issues: Issues, ctx: TranslateContext) => TcpProxyConfig;

export interface ListenerTranslators {
  readonly filterChainMatch?: FilterChainMatchTranslator;
  readonly tcpProxy?: TcpProxyTranslator;
  readonly inlineRoutes?: InlineRouteTranslator;
  readonly sniCluster?: (raw: Canonical, issues: Issues) => void;
  /** Reports overlapping filter_chain_match rules (issues at filter_chains). */
  readonly checkUnique?: (matches: readonly FilterChainMatch[], issues: Issues) => void;
}

function obj(v: unknown): Canonical | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Canonical) : undefined;
}

/** Reads an envoy.config.core.v3.DataSource (filename | inline_string | inline_bytes) into a string. */
export function readDataSource(ds: unknown, issues: Issues): string | null {
  const o = obj(ds);
  if (!o) {
    issues.error('a data source (filename, inline_string or inline_bytes) is required');
    return null;
  }
  if (typeof o.filename === 'string') {
    try {
      return readFileSync(o.filename, 'utf8');
    } catch (e) {
      issues.error(`cannot read ${o.filename}: ${(e as Error).message}`, 'filename');
      return null;
    }
  }
  if (typeof o.inline_string === 'string') return o.inline_string;
  if (Buffer.isBuffer(o.inline_bytes)) return o.inline_bytes.toString('utf8');
  if (o.environment_variable !== undefined) {
    const v = process.env[String(o.environment_variable)];
    if (v === undefined) issues.error(`environment variable ${String(o.environment_variable)} is not set`, 'environment_variable');
    return v ?? null;
  }
  issues.error('a data source (filename, inline_string or inline_bytes) is required');
  return null;
}

function translateAddress(raw: unknown, issues: Issues): SocketAddress {
  const a = obj(raw);
  if (!a) {
    issues.error('address is required');
    return { address: '', port: 0 };
  }
  if (a.pipe) {
    const p = obj(a.pipe) ?? {};
    if (typeof p.path !== 'string' || !p.path) issues.at('pipe').error('path is required', 'path');
    return { address: '', port: 0, pipe: String(p.path ?? '') };
  }
  const sa = obj(a.socket_address);
  if (!sa) {
    issues.error('socket_address or pipe is required');
    return { address: '', port: 0 };
  }
  const si = issues.at('socket_address');
  if (sa.protocol !== undefined && sa.protocol !== 'TCP') si.error(`protocol ${String(sa.protocol)} is not supported (TCP only)`, 'protocol');
  if (sa.named_port !== undefined) si.unsupported('named_port');
  if (sa.resolver_name !== undefined) si.unsupported('resolver_name');
  const address = typeof sa.address === 'string' ? sa.address : '';
  if (!address) si.error('address is required', 'address');
  const port = typeof sa.port_value === 'number' ? sa.port_value : 0;
  if (port < 0 || port > 65535) si.error(`port_value ${port} is out of range`, 'port_value');
  return { address, port };
}

/** DownstreamTlsContext → DownstreamTlsConfig (certificates read now, from files or inline). */
export function translateDownstreamTls(tc: Canonical, issues: Issues): DownstreamTlsConfig | null {
  rejectUnknownFields(tc, new Set(['common_tls_context', 'require_client_certificate', 'require_sni',
    'disable_stateless_session_resumption', 'session_timeout', 'full_scan_certs_on_sni_mismatch']), issues);
  if (tc.require_sni === true) issues.unsupported('require_sni');
  const common = obj(tc.common_tls_context) ?? {};
  const ci = issues.at('common_tls_context');
  rejectUnknownFields(common, new Set(['tls_params', 'tls_certificates', 'validation_context', 'alpn_protocols']), ci);
  const certificates: TlsCertificate[] = [];
  (Array.isArray(common.tls_certificates) ? common.tls_certificates : []).forEach((c: unknown, i: number) => {
    const co = obj(c) ?? {};
    const cii = ci.at('tls_certificates').at(i);
    const chain = readDataSource(co.certificate_chain, cii.at('certificate_chain'));
    const key = readDataSource(co.private_key, cii.at('private_key'));
    if (chain !== null && key !== null) certificates.push({ certChain: chain, privateKey: key });
  });
  if (certificates.length === 0 && !ci.hasErrors) ci.error('at least one tls_certificates entry is required', 'tls_certificates');
  const params = obj(common.tls_params) ?? {};
  const vc = obj(common.validation_context);
  let trustedCa: string | null = null;
  const sans: string[] = [];
  if (vc) {
    const vi = ci.at('validation_context');
    rejectUnknownFields(vc, new Set(['trusted_ca', 'match_subject_alt_names', 'match_typed_subject_alt_names']), vi);
    if (vc.trusted_ca !== undefined) trustedCa = readDataSource(vc.trusted_ca, vi.at('trusted_ca'));
    const addSan = (m: unknown): void => {
      const mo = obj(m) ?? {};
      if (typeof mo.exact === 'string') sans.push(mo.exact.toLowerCase());
      else vi.error('only exact subject alt name matchers are supported');
    };
    (Array.isArray(vc.match_subject_alt_names) ? vc.match_subject_alt_names : []).forEach(addSan);
    (Array.isArray(vc.match_typed_subject_alt_names) ? vc.match_typed_subject_alt_names : []).forEach((m: unknown) => addSan(obj(m)?.matcher));
  }
  const requireClient = tc.require_client_certificate === true;
  if (requireClient && !trustedCa) issues.error('require_client_certificate needs common_tls_context.validation_context.trusted_ca');
  const ver = (v: unknown): string | null => {
    switch (v) {
      case 'TLSv1_2': return 'TLSv1.2';
      case 'TLSv1_3': return 'TLSv1.3';
      case 'TLSv1_0': return 'TLSv1';
      case 'TLSv1_1': return 'TLSv1.1';
      default: return null;
    }
  };
  return Object.freeze({
    certificates: Object.freeze(certificates),
    alpn: Object.freeze(Array.isArray(common.alpn_protocols) ? (common.alpn_protocols as string[]) : []),
    requireClientCertificate: requireClient,
    trustedCa,
    matchSubjectAltNames: Object.freeze(sans),
    minVersion: ver(params.tls_minimum_protocol_version),
    maxVersion: ver(params.tls_maximum_protocol_version),
    cipherSuites: Object.freeze(Array.isArray(params.cipher_suites) ? (params.cipher_suites as string[]) : []),
  });
}

function translateFilterChain(raw: unknown, issues: Issues, ctx: TranslateContext, tr: ListenerTranslators): FilterChainConfig | null {
  const fc = obj(raw) ?? {};
  rejectUnknownFields(fc, new Set(['filter_chain_match', 'filters', 'transport_socket', 'name', 'metadata',
    'transport_socket_connect_timeout']), issues);
  const matchRaw = obj(fc.filter_chain_match) ?? null;
  const match = (tr.filterChainMatch ?? translateFilterChainMatch)(matchRaw ?? undefined, issues.at('filter_chain_match'));
  const filters: NetworkFilterConfig[] = [];
  const list = Array.isArray(fc.filters) ? fc.filters : [];
  if (list.length === 0) issues.error('at least one network filter is required', 'filters');
  list.forEach((f: unknown, i: number) => {
    const fi = issues.at('filters').at(i);
    const fo = obj(f) ?? {};
    const name = typeof fo.name === 'string' ? fo.name : '';
    const tc = obj(fo.typed_config);
    const type = tc && typeof tc['@type'] === 'string' ? tc['@type'] : '';
    if (fo.config_discovery !== undefined) fi.unsupported('config_discovery');
    if (type === HCM_TYPE_URL || (!type && name === 'envoy.filters.network.http_connection_manager')) {
      if (!tc) {
        fi.error('typed_config is required for the HTTP connection manager', 'typed_config');
        return;
      }
      const hcm = translateHttpConnectionManager(tc, fi.at('typed_config'), ctx, tr.inlineRoutes);
      if (hcm) filters.push({ kind: 'http_connection_manager', name, config: hcm });
      if (i !== list.length - 1) fi.error('the HTTP connection manager must be the last network filter');
    } else if (type === TCP_PROXY_TYPE_URL) {
      const cfg = (tr.tcpProxy ?? translateTcpProxy)(tc as Canonical, fi.at('typed_config'), ctx);
      filters.push({ kind: 'tcp_proxy', name, config: cfg });
      if (i !== list.length - 1) fi.error('tcp_proxy must be the last network filter');
    } else if (type === SNI_CLUSTER_TYPE_URL) {
      if (tr.sniCluster) tr.sniCluster(tc as Canonical, fi.at('typed_config'));
      filters.push({ kind: 'sni_cluster', name });
    } else {
      fi.error(`unknown network filter type ${type || '(none)'} (filter ${name || '(unnamed)'})`, 'typed_config');
    }
  });
  let tls: DownstreamTlsConfig | null = null;
  const ts = obj(fc.transport_socket);
  if (ts) {
    const tsi = issues.at('transport_socket');
    const ttc = obj(ts.typed_config);
    const type = ttc && typeof ttc['@type'] === 'string' ? ttc['@type'] : '';
    if (type === DOWNSTREAM_TLS_TYPE_URL) tls = translateDownstreamTls(ttc as Canonical, tsi.at('typed_config'));
    else if (type !== RAW_BUFFER_TYPE_URL) tsi.error(`unsupported transport socket ${type || String(ts.name ?? '')}`, 'typed_config');
  }
  return Object.freeze({
    name: typeof fc.name === 'string' ? fc.name : '',
    match,
    matchRaw,
    filters: Object.freeze(filters),
    tls,
  });
}

function translateListenerFilters(list: unknown, issues: Issues): ListenerFilterConfig[] {
  const out: ListenerFilterConfig[] = [];
  (Array.isArray(list) ? list : []).forEach((f: unknown, i: number) => {
    const fi = issues.at(i);
    const fo = obj(f) ?? {};
    const name = typeof fo.name === 'string' ? fo.name : '';
    const tc = obj(fo.typed_config);
    const type = tc && typeof tc['@type'] === 'string' ? tc['@type'] : '';
    const kind = LISTENER_FILTERS[type] ?? (type ? undefined : LISTENER_FILTER_NAMES[name]);
    if (fo.filter_disabled !== undefined) fi.unsupported('filter_disabled');
    if (!kind) {
      // Envoy has no is_optional on listener filters; an unknown one changes behaviour, so it is an error.
      fi.error(`unknown listener filter ${type || name || '(unnamed)'}`);
      return;
    }
    out.push({ name, kind });
  });
  return out;
}

/** Translates a canonical Listener. Never throws. */
export function translateListener(raw: Canonical, ctx: TranslateContext, tr: ListenerTranslators = defaultTranslators): ValidationResult<ListenerConfig> {
  const issues = new Issues();
  rejectFilterChainMatcher(raw, issues);
  rejectUnknownFields(raw, LISTENER_FIELDS, issues);
  const name = typeof raw.name === 'string' ? raw.name : '';
  if (!name) issues.error('name is required', 'name');
  const address = translateAddress(raw.address, issues.at('address'));
  const chains: FilterChainConfig[] = [];
  (Array.isArray(raw.filter_chains) ? raw.filter_chains : []).forEach((fc: unknown, i: number) => {
    const c = translateFilterChain(fc, issues.at('filter_chains').at(i), ctx, tr);
    if (c) chains.push(c);
  });
  if (tr.checkUnique && chains.length > 1) tr.checkUnique(chains.map((c) => c.match), issues.at('filter_chains'));
  const def = raw.default_filter_chain !== undefined ? translateFilterChain(raw.default_filter_chain, issues.at('default_filter_chain'), ctx, tr) : null;
  if (chains.length === 0 && !def) issues.error('at least one filter chain (or default_filter_chain) is required', 'filter_chains');
  const listenerFilters = translateListenerFilters(raw.listener_filters, issues.at('listener_filters'));
  const cb = obj(raw.connection_balance_config);
  if (cb && !cb.exact_balance) issues.at('connection_balance_config').error('only exact_balance is supported');
  if (raw.transparent === true) issues.unsupported('transparent', 'is not supported (IP_TRANSPARENT is unavailable in Node.js)');
  if (raw.freebind === true) issues.unsupported('freebind');
  if (Array.isArray(raw.socket_options) && raw.socket_options.length > 0) issues.unsupported('socket_options');
  const value: ListenerConfig = Object.freeze({
    name,
    address,
    filterChains: Object.freeze(chains),
    defaultFilterChain: def,
    listenerFilters: Object.freeze(listenerFilters),
    useOriginalDst: raw.use_original_dst === true,
    bindToPort: raw.bind_to_port !== false,
    trafficDirection: (raw.traffic_direction as ListenerConfig['trafficDirection'] | undefined) ?? 'UNSPECIFIED',
    perConnectionBufferLimitBytes: typeof raw.per_connection_buffer_limit_bytes === 'number' ? raw.per_connection_buffer_limit_bytes : 1_048_576,
    exactBalance: !!cb?.exact_balance,
    drainType: (raw.drain_type as ListenerConfig['drainType'] | undefined) ?? 'DEFAULT',
    listenerFiltersTimeoutMs: typeof raw.listener_filters_timeout === 'number' ? raw.listener_filters_timeout : 15_000,
    continueOnListenerFiltersTimeout: raw.continue_on_listener_filters_timeout === true,
  });
  return issues.result(value);
}

/** Translators of the other slices, filled in as they land. */
const defaultTranslators: ListenerTranslators = {
  filterChainMatch: (raw, issues) => translateFilterChainMatch(raw, issues),
  tcpProxy: (raw, issues) => translateTcpProxy(raw, issues),
  sniCluster: (raw, issues) => translateSniCluster(raw, issues),
  checkUnique: (matches, issues) => checkFilterChainMatchesUnique(matches, issues),
};

/** RDS names a listener needs before it can serve (HCMs using rds). */
export function listenerRouteNames(l: ListenerConfig): string[] {
  const names = new Set<string>();
  const visit = (c: FilterChainConfig | null): void => {
    if (!c) return;
    for (const f of c.filters) if (f.kind === 'http_connection_manager' && f.config.rdsName) names.add(f.config.rdsName);
  };
  l.filterChains.forEach(visit);
  visit(l.defaultFilterChain);
  return [...names];
}

export const listenerResourceType: ResourceType<ListenerConfig> = {
  typeUrl: TypeUrl.Listener,
  messageName: 'envoy.config.listener.v3.Listener',
  name: (r) => (typeof r.name === 'string' ? r.name : ''),
  translate: (r, ctx) => translateListener(r, ctx),
  dependencies: (v) => ({ routeConfigs: listenerRouteNames(v) }),
};
