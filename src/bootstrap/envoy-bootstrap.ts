// bootstrap/: interprets a canonical envoy.config.bootstrap.v3.Bootstrap into BootstrapConfig: node (+ CLI
// overrides), admin address, static resources (left canonical), ADS / LDS / CDS config sources, and the blocks other
// subsystems read (stats_config, tracing, runtime, LRS, overload manager). Every problem goes to `issues`.
import { isAbsolute, resolve } from 'node:path';
import { isIP } from 'node:net';
import type { Issues } from '../common/validation.js';
import type { NodeInfo, Locality } from '../config/node.js';
import {
  DEFAULT_ADMIN_ADDRESS,
  DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
  type AdminAddress,
  type AdsConfig,
  type BootstrapConfig,
  type CallCredentials,
  type Canonical,
  type ChannelCredentials,
  type ConfigSourceConfig,
  type DataSourceRef,
  type XdsServerConfig,
} from './bootstrap-config.js';

export interface NodeOverrides {
  readonly serviceNode?: string;
  readonly serviceCluster?: string;
  readonly serviceZone?: string;
}

export interface InterpretContext {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly overrides: NodeOverrides;
  readonly sourcePath?: string;
  readonly unknownFields: readonly string[];
}

const obj = (v: unknown): Canonical | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Canonical) : undefined);
const arr = (v: unknown): Canonical[] => (Array.isArray(v) ? (v as Canonical[]) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Top-level Bootstrap fields meshlet accepts without acting on them yet (reported as warnings, not errors). */
const ACCEPTED_NOT_IMPLEMENTED = [
  'bootstrap_extensions', 'watchdog', 'watchdogs', 'hds_config', 'flags_path', 'stats_flush_interval', 'stats_flush_on_admin',
  'stats_server_version_override', 'use_tcp_for_dns_lookups', 'dns_resolution_config', 'typed_dns_resolver_config',
  'default_socket_interface', 'inline_headers', 'perf_tracing_file_path', 'default_regex_engine', 'xds_delegate_extension',
  'xds_config_tracker_extension', 'listener_manager', 'application_log_config', 'grpc_async_client_manager_config',
  'fatal_actions', 'certificate_provider_instances', 'node_context_params', 'header_prefix', 'enable_dispatcher_stats',
  'config_sources', 'default_config_source', 'memory_allocator_manager',
];

/** Converts the canonical node plus CLI overrides into NodeInfo (metadata kept verbatim, except GENERATOR: grpc). */
export function nodeFromCanonical(node: Canonical | undefined, overrides: NodeOverrides, warnings: string[]): NodeInfo {
  const n = node ?? {};
  const loc = obj(n.locality) ?? {};
  const locality: Locality = {
    ...(str(loc.region) ? { region: str(loc.region) } : {}),
    ...(str(loc.zone) ? { zone: str(loc.zone) } : {}),
    ...(str(loc.sub_zone) ? { sub_zone: str(loc.sub_zone) } : {}),
    ...(overrides.serviceZone ? { zone: overrides.serviceZone } : {}),
  };
  let metadata = obj(n.metadata) ?? {};
  if (metadata.GENERATOR === 'grpc') {
    // A proxy must never ask Istio for proxyless-gRPC config (conventions §1.2).
    const { GENERATOR: _g, ...rest } = metadata;
    metadata = rest;
    warnings.push('node.metadata.GENERATOR "grpc" removed: it asks the control plane for proxyless gRPC config, not proxy config');
  }
  return Object.freeze({
    id: overrides.serviceNode ?? str(n.id) ?? '',
    cluster: overrides.serviceCluster ?? str(n.cluster) ?? '',
    locality: Object.freeze(locality),
    metadata: Object.freeze(metadata),
  });
}

function adminAddress(admin: Canonical | undefined, issues: Issues, cwd: string): AdminAddress | null {
  if (!admin) return DEFAULT_ADMIN_ADDRESS;
  const addr = obj(admin.address);
  if (!addr) return null; // Envoy: an admin block without address runs no admin listener.
  const sa = obj(addr.socket_address);
  const pipe = obj(addr.pipe);
  if (sa) {
    if (sa.named_port !== undefined) issues.at('address').at('socket_address').unsupported('named_port');
    if (sa.protocol !== undefined && sa.protocol !== 'TCP') issues.at('address').at('socket_address').error('the admin listener must be TCP', 'protocol');
    const address = str(sa.address) ?? '';
    if (!address) issues.at('address').at('socket_address').error('address is required', 'address');
    else if (!isIP(address)) issues.at('address').at('socket_address').error(`"${address}" is not an IP address`, 'address');
    const port = typeof sa.port_value === 'number' ? sa.port_value : 0;
    if (port > 65535) issues.at('address').at('socket_address').error(`port ${port} is out of range`, 'port_value');
    return { kind: 'socket', address, port };
  }
  if (pipe && str(pipe.path)) return { kind: 'pipe', path: resolvePath(str(pipe.path)!, cwd) };
  issues.at('address').error('expected socket_address or pipe');
  return null;
}

function resolvePath(p: string, cwd: string): string {
  return isAbsolute(p) ? p : resolve(cwd, p);
}

function dataSource(ds: Canonical | undefined, issues: Issues, env: InterpretContext['env'], cwd: string): DataSourceRef | undefined {
  if (!ds) return undefined;
  if (str(ds.filename)) return { filename: resolvePath(str(ds.filename)!, cwd) };
  if (typeof ds.inline_string === 'string') return { inline: Buffer.from(ds.inline_string) };
  if (Buffer.isBuffer(ds.inline_bytes)) return { inline: ds.inline_bytes };
  if (str(ds.environment_variable)) {
    const v = env[str(ds.environment_variable)!];
    if (v === undefined) {
      issues.error(`environment variable ${str(ds.environment_variable)} is not set`, 'environment_variable');
      return undefined;
    }
    return { inline: Buffer.from(v) };
  }
  issues.error('expected filename, inline_string, inline_bytes or environment_variable');
  return undefined;
}

function parseInitialFetchTimeout(cs: Canonical): number {
  return typeof cs.initial_fetch_timeout === 'number' ? cs.initial_fetch_timeout : DEFAULT_INITIAL_FETCH_TIMEOUT_MS;
}

function checkApiVersion(v: unknown, issues: Issues, key: string): void {
  if (v === 'V2') issues.error('xDS v2 is not supported (removed in Envoy 1.18); use V3', key);
}

/** lds_config / cds_config (ConfigSource). */
export function parseConfigSource(cs: Canonical, issues: Issues, cwd: string, hasAds: boolean): ConfigSourceConfig | null {
  checkApiVersion(cs.resource_api_version, issues, 'resource_api_version');
  const initialFetchTimeoutMs = parseInitialFetchTimeout(cs);
  if (cs.authorities !== undefined) issues.unsupported('authorities', 'is not supported by meshlet (xdstp:// federation)');
  if (obj(cs.ads)) {
    if (!hasAds) issues.error('uses ads but dynamic_resources.ads_config is not set', 'ads');
    return { kind: 'ads', initialFetchTimeoutMs };
  }
  const pcs = obj(cs.path_config_source);
  if (pcs) {
    const p = str(pcs.path);
    if (!p) {
      issues.at('path_config_source').error('path is required', 'path');
      return null;
    }
    const wd = obj(pcs.watched_directory);
    return {
      kind: 'path',
      path: resolvePath(p, cwd),
      ...(wd && str(wd.path) ? { watchedDirectory: resolvePath(str(wd.path)!, cwd) } : {}),
      initialFetchTimeoutMs,
    };
  }
  if (str(cs.path)) return { kind: 'path', path: resolvePath(str(cs.path)!, cwd), initialFetchTimeoutMs };
  if (obj(cs.api_config_source)) {
    issues.unsupported('api_config_source', 'is not supported by meshlet (use ads with dynamic_resources.ads_config, or path_config_source)');
    return null;
  }
  if (obj(cs.self)) {
    issues.unsupported('self', 'is not supported by meshlet (use ads)');
    return null;
  }
  issues.error('expected one of ads, path_config_source or path');
  return null;
}

function hasHttp2(cluster: Canonical): boolean {
  if (cluster.http2_protocol_options !== undefined || cluster.grpc_protocol_options !== undefined) return true;
  const opts = obj(cluster.typed_extension_protocol_options);
  const hpo = opts && obj(opts['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']);
  if (!hpo) return false;
  const explicit = obj(hpo.explicit_http_config);
  return Boolean((explicit && explicit.http2_protocol_options !== undefined) || hpo.use_downstream_protocol_config !== undefined || hpo.auto_config !== undefined);
}

function grpcTargetForAddress(address: Canonical, clusterType: string, issues: Issues, cwd: string): string | null {
  const sa = obj(address.socket_address);
  if (sa) {
    const host = str(sa.address) ?? '';
    const port = typeof sa.port_value === 'number' ? sa.port_value : undefined;
    if (!host) { issues.at('socket_address').error('address is required', 'address'); return null; }
    if (port === undefined) { issues.at('socket_address').error('port_value is required', 'port_value'); return null; }
    const family = isIP(host);
    if (family === 4 && clusterType !== 'STRICT_DNS' && clusterType !== 'LOGICAL_DNS') return `ipv4:${host}:${port}`;
    if (family === 6 && clusterType !== 'STRICT_DNS' && clusterType !== 'LOGICAL_DNS') return `ipv6:[${host}]:${port}`;
    if (family === 0 && clusterType === 'STATIC') {
      issues.at('socket_address').error(`"${host}" is not an IP address (a STATIC cluster needs IPs; use STRICT_DNS for names)`, 'address');
      return null;
    }
    return family === 6 ? `dns:[${host}]:${port}` : `dns:${host}:${port}`;
  }
  const pipe = obj(address.pipe);
  if (pipe && str(pipe.path)) {
    const p = str(pipe.path)!;
    if (p.startsWith('@')) return `unix-abstract:${p.slice(1)}`;
    return `unix:${resolvePath(p, cwd)}`;
  }
  issues.error('expected socket_address or pipe');
  return null;
}

function tlsFromTransportSocket(ts: Canonical, issues: Issues, ctx: InterpretContext): ChannelCredentials {
  const typed = obj(ts.typed_config);
  const type = str(typed?.['@type']) ?? '';
  if (!typed || type.endsWith('raw_buffer.v3.RawBuffer')) return { kind: 'insecure' };
  if (!type.endsWith('tls.v3.UpstreamTlsContext')) {
    issues.at('typed_config').error(`transport socket ${type || '(none)'} is not supported for the xDS connection`);
    return { kind: 'insecure' };
  }
  const common = obj(typed.common_tls_context) ?? {};
  const ti = issues.at('typed_config').at('common_tls_context');
  if (common.tls_certificate_sds_secret_configs !== undefined) ti.unsupported('tls_certificate_sds_secret_configs', 'is not supported for the xDS connection (use tls_certificates)');
  if (common.validation_context_sds_secret_config !== undefined) ti.unsupported('validation_context_sds_secret_config', 'is not supported for the xDS connection (use validation_context)');
  const vc = obj(common.validation_context) ?? obj(obj(common.combined_validation_context)?.default_validation_context);
  const cert = arr(common.tls_certificates)[0];
  const rootCerts = vc ? dataSource(obj(vc.trusted_ca), ti.at('validation_context').at('trusted_ca'), ctx.env, ctx.cwd) : undefined;
  const certChain = cert ? dataSource(obj(cert.certificate_chain), ti.at('tls_certificates').at(0).at('certificate_chain'), ctx.env, ctx.cwd) : undefined;
  const privateKey = cert ? dataSource(obj(cert.private_key), ti.at('tls_certificates').at(0).at('private_key'), ctx.env, ctx.cwd) : undefined;
  return {
    kind: 'tls',
    ...(rootCerts ? { rootCerts } : {}),
    ...(certChain ? { certChain } : {}),
    ...(privateKey ? { privateKey } : {}),
    ...(str(typed.sni) ? { serverName: str(typed.sni) } : {}),
  };
}

function envoyGrpcServer(eg: Canonical, issues: Issues, root: Issues, clusters: readonly Canonical[], ctx: InterpretContext, warnings: string[]): XdsServerConfig | null {
  const name = str(eg.cluster_name);
  if (!name) { issues.error('cluster_name is required', 'cluster_name'); return null; }
  const idx = clusters.findIndex((c) => c.name === name);
  if (idx < 0) { issues.error(`cluster "${name}" is not defined in static_resources.clusters`, 'cluster_name'); return null; }
  const cluster = clusters[idx];
  const ci = issues.at('cluster_name');
  const type = str(cluster.type) ?? (cluster.cluster_type !== undefined ? 'CUSTOM' : 'STATIC');
  if (type !== 'STATIC' && type !== 'STRICT_DNS' && type !== 'LOGICAL_DNS') {
    ci.error(`cluster "${name}" is ${type}; the xDS cluster must be STATIC, STRICT_DNS or LOGICAL_DNS`);
    return null;
  }
  let address: Canonical | undefined;
  let at = -1;
  const eps = arr(obj(cluster.load_assignment)?.endpoints);
  for (let i = 0; i < eps.length && !address; i++) {
    const lbs = arr(eps[i].lb_endpoints);
    for (let j = 0; j < lbs.length && !address; j++) {
      const a = obj(obj(lbs[j].endpoint)?.address);
      if (a) { address = a; at = i * 1000 + j; }
    }
  }
  if (!address) {
    ci.error(`cluster "${name}" has no endpoint (static_resources.clusters[${idx}].load_assignment)`);
    return null;
  }
  const clusterIssues = root.at('static_resources').at('clusters').at(idx);
  const epIssues = clusterIssues.at('load_assignment').at('endpoints').at(Math.floor(at / 1000)).at('lb_endpoints').at(at % 1000).at('endpoint').at('address');
  const target = grpcTargetForAddress(address, type, epIssues, ctx.cwd);
  if (!target) return null;
  if (!hasHttp2(cluster)) warnings.push(`static_resources.clusters[${idx}] "${name}" is used for xDS but does not enable HTTP/2; meshlet speaks gRPC (HTTP/2) to it anyway`);
  const ts = obj(cluster.transport_socket);
  const credentials = ts ? tlsFromTransportSocket(ts, clusterIssues.at('transport_socket'), ctx) : { kind: 'insecure' as const };
  const keepalive = obj(obj(cluster.upstream_connection_options)?.tcp_keepalive);
  return {
    target,
    credentials,
    callCredentials: [],
    channelArgs: {},
    clusterName: name,
    ...(typeof keepalive?.keepalive_time === 'number' ? { tcpKeepaliveTimeS: keepalive.keepalive_time } : {}),
    ...(typeof cluster.connect_timeout === 'number' ? { connectTimeoutMs: cluster.connect_timeout } : {}),
    serverFeatures: [],
    initialMetadata: [],
  };
}

function googleGrpcServer(gg: Canonical, issues: Issues, ctx: InterpretContext): XdsServerConfig | null {
  const target = str(gg.target_uri);
  if (!target) { issues.error('target_uri is required', 'target_uri'); return null; }
  let credentials: ChannelCredentials = { kind: 'insecure' };
  const cc = obj(gg.channel_credentials);
  if (cc) {
    const ssl = obj(cc.ssl_credentials);
    const ci = issues.at('channel_credentials');
    if (ssl) {
      const rootCerts = dataSource(obj(ssl.root_certs), ci.at('ssl_credentials').at('root_certs'), ctx.env, ctx.cwd);
      const certChain = dataSource(obj(ssl.cert_chain), ci.at('ssl_credentials').at('cert_chain'), ctx.env, ctx.cwd);
      const privateKey = dataSource(obj(ssl.private_key), ci.at('ssl_credentials').at('private_key'), ctx.env, ctx.cwd);
      credentials = { kind: 'tls', ...(rootCerts ? { rootCerts } : {}), ...(certChain ? { certChain } : {}), ...(privateKey ? { privateKey } : {}) };
    } else if (obj(cc.google_default)) credentials = { kind: 'google_default' };
    else if (obj(cc.local_credentials)) credentials = { kind: 'insecure' };
  }
  const callCredentials: CallCredentials[] = [];
  arr(gg.call_credentials).forEach((c, i) => {
    if (obj(c.google_compute_engine)) callCredentials.push({ kind: 'google_compute_engine' });
    else if (str(c.access_token)) callCredentials.push({ kind: 'access_token', token: str(c.access_token)! });
    else {
      const kind = Object.keys(c)[0] ?? '(empty)';
      issues.at('call_credentials').at(i).unsupported(kind, 'is not a call credential meshlet supports (google_compute_engine, access_token)');
    }
  });
  const channelArgs: Record<string, string | number> = {};
  const args = obj(obj(gg.channel_args)?.args) ?? {};
  for (const [k, v] of Object.entries(args)) {
    const val = obj(v) ?? {};
    if (typeof val.int_value === 'number') channelArgs[k] = val.int_value;
    else if (typeof val.int_value === 'string') channelArgs[k] = Number(val.int_value);
    else if (typeof val.string_value === 'string') channelArgs[k] = val.string_value;
  }
  return {
    target,
    credentials,
    callCredentials,
    channelArgs,
    ...(str(gg.stat_prefix) ? { statPrefix: str(gg.stat_prefix) } : {}),
    serverFeatures: [],
    initialMetadata: [],
  };
}

function parseAdsConfig(ads: Canonical, issues: Issues, root: Issues, clusters: readonly Canonical[], ctx: InterpretContext, warnings: string[]): AdsConfig | null {
  const apiType = str(ads.api_type) ?? 'UNSUPPORTED_REST_LEGACY';
  let type: AdsConfig['apiType'] = 'GRPC';
  if (apiType === 'GRPC' || apiType === 'AGGREGATED_GRPC') type = 'GRPC';
  else if (apiType === 'DELTA_GRPC' || apiType === 'AGGREGATED_DELTA_GRPC') type = 'DELTA_GRPC';
  else issues.error(`api_type ${apiType} is not supported for ADS (use GRPC or DELTA_GRPC)`, 'api_type');
  checkApiVersion(ads.transport_api_version, issues, 'transport_api_version');
  if (ads.rate_limit_settings !== undefined) issues.unsupported('rate_limit_settings');
  if (ads.config_validators !== undefined) issues.unsupported('config_validators');
  const services = arr(ads.grpc_services);
  if (services.length === 0) { issues.error('at least one grpc_services entry is required', 'grpc_services'); return null; }
  const servers: XdsServerConfig[] = [];
  services.forEach((s, i) => {
    const si = issues.at('grpc_services').at(i);
    let server: XdsServerConfig | null = null;
    if (obj(s.envoy_grpc)) server = envoyGrpcServer(obj(s.envoy_grpc)!, si.at('envoy_grpc'), root, clusters, ctx, warnings);
    else if (obj(s.google_grpc)) server = googleGrpcServer(obj(s.google_grpc)!, si.at('google_grpc'), ctx);
    else si.error('expected envoy_grpc or google_grpc');
    if (!server) return;
    const md = arr(s.initial_metadata).map((h) => ({ key: String(h.key ?? ''), value: String(h.value ?? '') }));
    servers.push({
      ...server,
      ...(typeof s.timeout === 'number' ? { timeoutMs: s.timeout } : {}),
      initialMetadata: md,
    });
  });
  if (servers.length === 0) return null;
  return { apiType: type, setNodeOnFirstMessageOnly: ads.set_node_on_first_message_only === true, servers };
}

function checkUniqueNames(list: readonly Canonical[], issues: Issues, what: string, required: boolean): void {
  const seen = new Map<string, number>();
  list.forEach((r, i) => {
    const name = str(r.name) ?? '';
    if (!name) {
      if (required) issues.at(i).error(`${what} name is required`, 'name');
      return;
    }
    const prev = seen.get(name);
    if (prev !== undefined) issues.at(i).error(`duplicate ${what} name "${name}" (also at [${prev}])`, 'name');
    else seen.set(name, i);
  });
}

/**
 * Envoy names an unnamed static listener itself (a UUID); Istio's bootstrap relies on that for its 15090/15021
 * listeners. meshlet names them after their address (`0.0.0.0_15090`, Istio's own naming style) so the name is
 * stable across restarts; a clash with another listener gets a `#n` suffix.
 */
function nameStaticListeners(list: Canonical[]): Canonical[] {
  const taken = new Set(list.map((l) => str(l.name)).filter((n): n is string => Boolean(n)));
  return list.map((l, i) => {
    if (str(l.name)) return l;
    const addr = obj(l.address);
    const sa = obj(addr?.socket_address);
    const pipe = obj(addr?.pipe);
    let base = sa ? `${str(sa.address) ?? ''}_${typeof sa.port_value === 'number' ? sa.port_value : 0}` : pipe ? `pipe:${str(pipe.path) ?? ''}` : `static_listener_${i}`;
    if (taken.has(base)) {
      let n = 2;
      while (taken.has(`${base}#${n}`)) n++;
      base = `${base}#${n}`;
    }
    taken.add(base);
    return { ...l, name: base };
  });
}

/** Interprets a canonical Envoy bootstrap; problems go to `issues` (the result is only meaningful without errors). */
export function interpretEnvoyBootstrap(raw: Canonical, issues: Issues, ctx: InterpretContext): BootstrapConfig {
  const warnings: string[] = [];
  const node = nodeFromCanonical(obj(raw.node), ctx.overrides, warnings);
  const admin = adminAddress(obj(raw.admin), issues.at('admin'), ctx.cwd);

  const sr = obj(raw.static_resources) ?? {};
  const listeners = nameStaticListeners(arr(sr.listeners));
  const clusters = arr(sr.clusters);
  const secrets = arr(sr.secrets);
  checkUniqueNames(clusters, issues.at('static_resources').at('clusters'), 'cluster', true);
  checkUniqueNames(listeners, issues.at('static_resources').at('listeners'), 'listener', false);

  const dr = obj(raw.dynamic_resources) ?? {};
  const di = issues.at('dynamic_resources');
  const adsRaw = obj(dr.ads_config);
  const ads = adsRaw ? parseAdsConfig(adsRaw, di.at('ads_config'), issues, clusters, ctx, warnings) : null;
  const lds = obj(dr.lds_config) ? parseConfigSource(obj(dr.lds_config)!, di.at('lds_config'), ctx.cwd, Boolean(adsRaw)) : null;
  const cds = obj(dr.cds_config) ? parseConfigSource(obj(dr.cds_config)!, di.at('cds_config'), ctx.cwd, Boolean(adsRaw)) : null;
  if (dr.lds_resources_locator !== undefined) di.unsupported('lds_resources_locator', 'is not supported by meshlet (xdstp://)');
  if (dr.cds_resources_locator !== undefined) di.unsupported('cds_resources_locator', 'is not supported by meshlet (xdstp://)');

  for (const key of ACCEPTED_NOT_IMPLEMENTED) {
    if (raw[key] !== undefined) warnings.push(`${key} is accepted but not implemented by meshlet`);
  }
  const cm = obj(raw.cluster_manager) ?? {};
  if (obj(cm.load_stats_config)) warnings.push('cluster_manager.load_stats_config (LRS) is accepted but load reports are not sent yet');
  if (obj(raw.overload_manager)) warnings.push('overload_manager is accepted; meshlet applies its own overload protection');

  return Object.freeze({
    dialect: 'envoy' as const,
    ...(ctx.sourcePath ? { sourcePath: ctx.sourcePath } : {}),
    node,
    admin,
    staticResources: Object.freeze({ listeners: Object.freeze(listeners), clusters: Object.freeze(clusters), secrets: Object.freeze(secrets) }),
    dynamicResources: Object.freeze({ ads, lds, cds }),
    statsConfig: obj(raw.stats_config) ?? null,
    statsSinks: arr(raw.stats_sinks),
    tracing: obj(raw.tracing) ?? null,
    layeredRuntime: obj(raw.layered_runtime) ?? null,
    loadStatsConfig: obj(cm.load_stats_config) ?? null,
    overloadManager: obj(raw.overload_manager) ?? null,
    raw,
    unknownFields: Object.freeze([...ctx.unknownFields]),
    warnings: Object.freeze(warnings),
  });
}
