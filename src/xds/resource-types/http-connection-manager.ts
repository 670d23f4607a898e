// xds/resource-types/: translates an HttpConnectionManager network filter (canonical form) into the readonly
// HttpConnectionManagerConfig the HTTP connection manager runs with. Called by the listener translator per filter.
import type { Issues } from '../../common/validation.js';
import type { Canonical } from '../proto-json.js';
import type { TranslateContext } from '../resource-type.js';
import type {
  CodecType, CustomTag, EscapedSlashesAction, HeadersWithUnderscoresAction, HttpConnectionManagerConfig, HttpFilterConfig,
  ServerHeaderTransformation, TracingCollector, TracingConfig,
} from '../../config/http-connection-manager.js';
import { FilterManager } from '../../http/filters/filter-manager.js';
import { builtinFilterRegistry } from '../../http/filters/filter-registry.js';
import type { RouteConfig } from '../../config/route.js';
import { translateRouteConfiguration } from './route-configuration.js';

export const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** Translates an inline route_config; supplied by the route slice (xds/resource-types/route-configuration.ts). */
export type InlineRouteTranslator = (raw: Canonical, issues: Issues, ctx: TranslateContext) => RouteConfig | null;

const defaultInlineRoutes: InlineRouteTranslator = (raw, issues) => translateRouteConfiguration(raw, issues);

/**
 * HTTP filter type URLs the filter framework knows. Filters of other types are an error unless is_optional.
 * Their configs are kept canonical; the framework (issue 6) translates them.
 */
export const KNOWN_HTTP_FILTER_TYPES: ReadonlySet<string> = new Set([
  'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors',
  'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  'type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth',
  'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  'type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor',
  'type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor',
  'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation',
  'type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck',
  'type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig',
  'type.googleapis.com/envoy.extensions.filters.http.set_metadata.v3.Config',
]);

const HCM_FIELDS = new Set([
  'codec_type', 'stat_prefix', 'rds', 'route_config', 'http_filters', 'add_user_agent', 'tracing',
  'common_http_protocol_options', 'http_protocol_options', 'http2_protocol_options', 'server_name',
  'server_header_transformation', 'max_request_headers_kb', 'stream_idle_timeout', 'request_timeout',
  'request_headers_timeout', 'drain_timeout', 'delayed_close_timeout', 'access_log', 'access_log_options',
  'use_remote_address', 'xff_num_trusted_hops', 'internal_address_config', 'skip_xff_append', 'via',
  'generate_request_id', 'preserve_external_request_id', 'always_set_request_id_in_response', 'upgrade_configs',
  'normalize_path', 'merge_slashes', 'path_with_escaped_slashes_action', 'request_id_extension', 'local_reply_config',
  'strip_matching_host_port', 'strip_any_host_port', 'stream_error_on_invalid_http_message', 'proxy_100_continue',
  'forward_client_cert_details', 'set_current_client_cert_details', 'represent_ipv4_remote_address_as_ipv4_mapped_ipv6',
  'strip_trailing_host_dot',
]);

function obj(v: unknown): Canonical | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? (v as Canonical) : undefined;
}

function num(v: unknown, dflt: number): number {
  return typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : dflt;
}

/** Rejects every set field not in `known`, naming it. */
export function rejectUnknownFields(raw: Canonical, known: ReadonlySet<string>, issues: Issues): void {
  for (const k of Object.keys(raw)) {
    if (k === '@type') continue;
    if (!known.has(k)) issues.unsupported(k);
  }
}

/** Filter deps used only to validate filter configs at LDS time (no factory of a validated config is used). */
const VALIDATION_DEPS = Object.freeze({ nodeId: '', nodeCluster: '', now: () => 0 });

function translateHttpFilters(list: unknown, issues: Issues): { filters: HttpFilterConfig[]; router: HttpConnectionManagerConfig['router'] } {
  const filters: HttpFilterConfig[] = [];
  let router: HttpConnectionManagerConfig['router'] = { suppressEnvoyHeaders: false, startChildSpan: false };
  const arr = Array.isArray(list) ? list : [];
  if (arr.length === 0) {
    issues.error('at least one HTTP filter (envoy.filters.http.router) is required');
    return { filters, router };
  }
  let sawRouter = -1;
  arr.forEach((f: unknown, i: number) => {
    const fi = issues.at(i);
    const o = obj(f) ?? {};
    const name = typeof o.name === 'string' ? o.name : '';
    const tc = obj(o.typed_config);
    const typeUrl = tc && typeof tc['@type'] === 'string' ? (tc['@type'] as string) : '';
    const isOptional = o.is_optional === true;
    const disabled = o.disabled === true;
    const isRouter = typeUrl === ROUTER_TYPE_URL || (!typeUrl && name === 'envoy.filters.http.router');
    if (isRouter) {
      if (sawRouter >= 0) fi.error('the router filter appears more than once');
      sawRouter = i;
      if (tc) {
        const known = new Set(['@type', 'suppress_envoy_headers', 'start_child_span', 'dynamic_stats', 'upstream_log',
          'respect_expected_rq_timeout', 'suppress_grpc_request_failure_code_stats', 'strict_check_headers']);
        for (const k of Object.keys(tc)) if (!known.has(k)) fi.at('typed_config').unsupported(k);
        router = { suppressEnvoyHeaders: tc.suppress_envoy_headers === true, startChildSpan: tc.start_child_span === true };
      }
      return;
    }
    // Optional filters of types meshlet does not know are skipped, as Envoy does.
    if (typeUrl && KNOWN_HTTP_FILTER_TYPES.has(typeUrl)) filters.push(Object.freeze({ name, typeUrl, config: tc ?? null, isOptional, disabled }));
  });
  if (sawRouter < 0) issues.error('the last HTTP filter must be envoy.filters.http.router');
  // Names, router placement, unknown types and every filter's typed_config (translated by its filter type, errors
  // under http_filters[i].typed_config...) are checked by the filter manager itself, so an LDS update with a bad
  // filter config is NACKed with the same rules the data path runs with.
  FilterManager.build(arr, { registry: builtinFilterRegistry(), deps: VALIDATION_DEPS }, issues).close();
  return { filters, router };
}

const TRACING_FIELDS = new Set(['client_sampling', 'random_sampling', 'overall_sampling', 'verbose', 'max_path_tag_length',
  'custom_tags', 'provider', 'spawn_upstream_span']);
const OTEL_TYPE_URL = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';

function percent(v: unknown, issues: Issues, key: string): number {
  const p = obj(v);
  if (!p) return 100;
  const n = num(p.value, 0);
  if (!(n >= 0 && n <= 100)) issues.error('must be between 0 and 100', `${key}.value`);
  return Math.min(100, Math.max(0, n));
}

/** Translates HCM `tracing` (OpenTelemetry provider only). Environment custom tags are read here, once. */
export function translateTracing(raw: Canonical, issues: Issues, env: NodeJS.ProcessEnv = process.env): TracingConfig {
  rejectUnknownFields(raw, TRACING_FIELDS, issues);
  if (raw.verbose === true) issues.unsupported('verbose');
  const customTags: CustomTag[] = [];
  (Array.isArray(raw.custom_tags) ? raw.custom_tags : []).forEach((t: unknown, i: number) => {
    const ti = issues.at('custom_tags').at(i);
    const o = obj(t) ?? {};
    const tag = typeof o.tag === 'string' ? o.tag : '';
    if (!tag) ti.error('tag is required', 'tag');
    const lit = obj(o.literal);
    const hdr = obj(o.request_header);
    const envTag = obj(o.environment);
    if (lit) customTags.push({ tag, kind: 'literal', value: String(lit.value ?? ''), defaultValue: '' });
    else if (hdr) {
      const name = typeof hdr.name === 'string' ? hdr.name.toLowerCase() : '';
      if (!name) ti.at('request_header').error('name is required', 'name');
      customTags.push({ tag, kind: 'request_header', value: name, defaultValue: String(hdr.default_value ?? '') });
    } else if (envTag) {
      const name = typeof envTag.name === 'string' ? envTag.name : '';
      if (!name) ti.at('environment').error('name is required', 'name');
      const v = env[name] ?? String(envTag.default_value ?? '');
      if (v) customTags.push({ tag, kind: 'literal', value: v, defaultValue: '' });
    } else if (o.metadata !== undefined) ti.unsupported('metadata');
    else ti.error('one of literal, environment or request_header is required');
  });
  let collector: TracingCollector | null = null;
  let serviceName = 'unknown_service:envoy';
  let exportTimeoutMs = 5000;
  const provider = obj(raw.provider);
  if (provider) {
    const pi = issues.at('provider');
    const tc = obj(provider.typed_config);
    if (!tc || tc['@type'] !== OTEL_TYPE_URL) {
      pi.error(`unsupported tracer ${String(tc?.['@type'] ?? provider.name ?? '(none)')}; only envoy.tracers.opentelemetry is supported`, 'typed_config');
    } else {
      const ti = pi.at('typed_config');
      rejectUnknownFields(tc, new Set(['grpc_service', 'http_service', 'service_name', 'resource_detectors', 'sampler']), ti);
      if (tc.http_service !== undefined) ti.unsupported('http_service', 'is not supported (use grpc_service: OTLP/gRPC)');
      if (Array.isArray(tc.resource_detectors) && tc.resource_detectors.length > 0) ti.unsupported('resource_detectors');
      if (tc.sampler !== undefined) ti.unsupported('sampler');
      if (typeof tc.service_name === 'string' && tc.service_name) serviceName = tc.service_name;
      const gs = obj(tc.grpc_service);
      if (gs) {
        const gi = ti.at('grpc_service');
        if (gs.timeout !== undefined) exportTimeoutMs = num(gs.timeout, 5000);
        const eg = obj(gs.envoy_grpc);
        const gg = obj(gs.google_grpc);
        if (eg) {
          const cluster = typeof eg.cluster_name === 'string' ? eg.cluster_name : '';
          if (!cluster) gi.at('envoy_grpc').error('cluster_name is required', 'cluster_name');
          collector = { kind: 'cluster', cluster };
        } else if (gg) {
          const target = typeof gg.target_uri === 'string' ? gg.target_uri : '';
          if (!target) gi.at('google_grpc').error('target_uri is required', 'target_uri');
          if (gg.channel_credentials !== undefined) gi.at('google_grpc').unsupported('channel_credentials');
          collector = { kind: 'target', target };
        } else gi.error('one of envoy_grpc or google_grpc is required');
      } else if (tc.http_service === undefined) ti.error('grpc_service is required', 'grpc_service');
    }
  }
  return Object.freeze({
    collector,
    serviceName,
    clientSampling: percent(raw.client_sampling, issues, 'client_sampling'),
    randomSampling: percent(raw.random_sampling, issues, 'random_sampling'),
    overallSampling: percent(raw.overall_sampling, issues, 'overall_sampling'),
    customTags: Object.freeze(customTags),
    spawnUpstreamSpan: raw.spawn_upstream_span === true,
    maxPathTagLength: num(raw.max_path_tag_length, 256),
    exportTimeoutMs,
  });
}

const CODECS = new Set(['AUTO', 'HTTP1', 'HTTP2']);

/** Translates one HttpConnectionManager (canonical, '@type' optional). Never throws; errors go to `issues`. */
export function translateHttpConnectionManager(
  raw: Canonical, issues: Issues, ctx: TranslateContext, inlineRoutes?: InlineRouteTranslator,
): HttpConnectionManagerConfig | null {
  rejectUnknownFields(raw, HCM_FIELDS, issues);
  const codec = (raw.codec_type as string | undefined) ?? 'AUTO';
  if (!CODECS.has(codec)) issues.error(`codec_type ${codec} is not supported (AUTO, HTTP1, HTTP2)`, 'codec_type');
  const statPrefix = typeof raw.stat_prefix === 'string' ? raw.stat_prefix : '';
  if (!statPrefix) issues.error('stat_prefix is required', 'stat_prefix');

  let rdsName = '';
  let routeConfig: RouteConfig | null = null;
  const rds = obj(raw.rds);
  const inline = obj(raw.route_config);
  if (rds && inline) issues.error('exactly one of rds and route_config may be set');
  if (!rds && !inline) issues.error('one of rds or route_config is required');
  if (rds) {
    const ri = issues.at('rds');
    rdsName = typeof rds.route_config_name === 'string' ? rds.route_config_name : '';
    if (!rdsName) ri.error('route_config_name is required', 'route_config_name');
    const cs = obj(rds.config_source);
    if (!cs) ri.error('config_source is required', 'config_source');
    else if (!cs.ads && !cs.self) ri.at('config_source').error('only ads (or self) config sources are supported for RDS');
  }
  if (inline) {
    routeConfig = (inlineRoutes ?? defaultInlineRoutes)(inline, issues.at('route_config'), ctx);
  }

  const { filters, router } = translateHttpFilters(raw.http_filters, issues.at('http_filters'));

  const common = obj(raw.common_http_protocol_options) ?? {};
  const ci = issues.at('common_http_protocol_options');
  rejectUnknownFields(common, new Set(['idle_timeout', 'max_connection_duration', 'max_headers_count', 'max_stream_duration',
    'headers_with_underscores_action', 'max_requests_per_connection', 'max_response_headers_kb']), ci);
  const underscores = (common.headers_with_underscores_action as string | undefined) ?? 'ALLOW';

  const h1 = obj(raw.http_protocol_options) ?? {};
  rejectUnknownFields(h1, new Set(['accept_http_10', 'default_host_for_http_10', 'header_key_format',
    'enable_trailers', 'allow_chunked_length', 'override_stream_error_on_invalid_http_message',
    'send_fully_qualified_url', 'allow_custom_methods']), issues.at('http_protocol_options'));
  if (h1.header_key_format !== undefined) issues.at('http_protocol_options').unsupported('header_key_format');
  if (h1.allow_chunked_length === true) issues.at('http_protocol_options').unsupported('allow_chunked_length', 'is refused (request smuggling)');

  const h2 = obj(raw.http2_protocol_options) ?? {};
  rejectUnknownFields(h2, new Set(['max_concurrent_streams', 'initial_stream_window_size', 'initial_connection_window_size',
    'hpack_table_size', 'allow_connect', 'max_outbound_frames', 'max_outbound_control_frames',
    'max_consecutive_inbound_frames_with_empty_payload', 'max_inbound_priority_frames_per_stream',
    'max_inbound_window_update_frames_per_data_frame_sent', 'stream_error_on_invalid_http_messaging',
    'override_stream_error_on_invalid_http_message', 'connection_keepalive']), issues.at('http2_protocol_options'));

  const upgrades = new Map<string, boolean>();
  (Array.isArray(raw.upgrade_configs) ? raw.upgrade_configs : []).forEach((u: unknown, i: number) => {
    const uo = obj(u) ?? {};
    const ui = issues.at('upgrade_configs').at(i);
    if (typeof uo.upgrade_type !== 'string' || !uo.upgrade_type) ui.error('upgrade_type is required', 'upgrade_type');
    else upgrades.set(uo.upgrade_type.toLowerCase(), uo.enabled !== false);
    if (Array.isArray(uo.filters) && uo.filters.length > 0) ui.unsupported('filters');
  });

  const iac = obj(raw.internal_address_config) ?? {};
  const cidrs: (readonly [string, number])[] = [];
  (Array.isArray(iac.cidr_ranges) ? iac.cidr_ranges : []).forEach((c: unknown) => {
    const co = obj(c) ?? {};
    cidrs.push([String(co.address_prefix ?? ''), num(co.prefix_len, 32)] as const);
  });

  if (raw.forward_client_cert_details !== undefined && raw.forward_client_cert_details !== 'SANITIZE') {
    issues.unsupported('forward_client_cert_details', `${String(raw.forward_client_cert_details)} is not supported (only SANITIZE)`);
  }
  if (raw.set_current_client_cert_details !== undefined) issues.unsupported('set_current_client_cert_details');
  if (raw.proxy_100_continue === true) issues.unsupported('proxy_100_continue');
  const rid = obj(raw.request_id_extension);
  if (rid) {
    const tc = obj(rid.typed_config);
    if (!tc || tc['@type'] !== 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig') {
      issues.at('request_id_extension').error('only envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig is supported', 'typed_config');
    }
  }
  const lrc = obj(raw.local_reply_config);
  if (lrc && ((Array.isArray(lrc.mappers) && lrc.mappers.length > 0) || lrc.body_format !== undefined)) {
    issues.at('local_reply_config').unsupported(Array.isArray(lrc.mappers) && lrc.mappers.length > 0 ? 'mappers' : 'body_format');
  }
  const tr = obj(raw.tracing);
  const tracing = tr ? translateTracing(tr, issues.at('tracing')) : null;
  const escaped = (raw.path_with_escaped_slashes_action as string | undefined) ?? 'KEEP_UNCHANGED';
  const sht = (raw.server_header_transformation as string | undefined) ?? 'OVERWRITE';

  if (issues.hasErrors) return null;
  return Object.freeze({
    statPrefix,
    codecType: codec as CodecType,
    rdsName,
    routeConfig,
    httpFilters: Object.freeze(filters),
    useRemoteAddress: raw.use_remote_address === true,
    xffNumTrustedHops: num(raw.xff_num_trusted_hops, 0),
    skipXffAppend: raw.skip_xff_append === true,
    via: typeof raw.via === 'string' ? raw.via : '',
    generateRequestId: raw.generate_request_id !== false,
    preserveExternalRequestId: raw.preserve_external_request_id === true,
    alwaysSetRequestIdInResponse: raw.always_set_request_id_in_response === true,
    serverName: typeof raw.server_name === 'string' && raw.server_name ? raw.server_name : 'envoy',
    serverHeaderTransformation: sht as ServerHeaderTransformation,
    streamIdleTimeoutMs: num(raw.stream_idle_timeout, 300_000),
    requestTimeoutMs: num(raw.request_timeout, 0),
    requestHeadersTimeoutMs: num(raw.request_headers_timeout, 0),
    drainTimeoutMs: num(raw.drain_timeout, 5000),
    delayedCloseTimeoutMs: num(raw.delayed_close_timeout, 1000),
    idleTimeoutMs: num(common.idle_timeout, 3_600_000),
    maxConnectionDurationMs: num(common.max_connection_duration, 0),
    maxStreamDurationMs: num(common.max_stream_duration, 0),
    maxRequestHeadersKb: num(raw.max_request_headers_kb, 60),
    maxHeadersCount: num(common.max_headers_count, 100),
    maxRequestsPerConnection: num(common.max_requests_per_connection, 0),
    headersWithUnderscoresAction: underscores as HeadersWithUnderscoresAction,
    acceptHttp10: h1.accept_http_10 === true,
    http2: Object.freeze({
      maxConcurrentStreams: num(h2.max_concurrent_streams, 100),
      initialStreamWindowSize: num(h2.initial_stream_window_size, 65_535),
      initialConnectionWindowSize: num(h2.initial_connection_window_size, 1_048_576),
    }),
    upgrades,
    normalizePath: raw.normalize_path === true,
    mergeSlashes: raw.merge_slashes === true,
    pathWithEscapedSlashesAction: escaped as EscapedSlashesAction,
    stripMatchingHostPort: raw.strip_matching_host_port === true,
    stripAnyHostPort: raw.strip_any_host_port === true,
    internalAddressConfig: Object.freeze({ unixSockets: iac.unix_sockets === true, cidrRanges: Object.freeze(cidrs) }),
    accessLog: Object.freeze(Array.isArray(raw.access_log) ? (raw.access_log as Canonical[]) : []),
    tracing,
    localReplyConfig: lrc ?? null,
    router: Object.freeze(router),
  });
}
