// http/filters/ext-authz: translates envoy.extensions.filters.http.ext_authz.v3.ExtAuthz / ExtAuthzPerRoute once:
// the HTTP or gRPC authorization service, header allow-lists (ListStringMatcher) both ways, failure handling and
// request-body buffering.
import { Issues } from '../../../common/validation.js';
import { asObj, compileRuntimeFraction, compileStringMatcher, rejectUnknown } from '../common/matchers.js';
import type { StringPredicate } from '../common/matchers.js';
import { httpStatusCode } from '../common/http-status.js';

export const EXT_AUTHZ_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const EXT_AUTHZ_PER_ROUTE_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute';

/** A compiled ListStringMatcher; null = not configured. */
export type ListMatcher = ((name: string) => boolean) | null;

export interface BodySettings {
  readonly maxRequestBytes: number;
  readonly allowPartialMessage: boolean;
  readonly packAsBytes: boolean;
}

export interface HttpAuthService {
  readonly kind: 'http';
  readonly uri: string;
  readonly cluster: string;
  readonly timeoutMs: number;
  readonly pathPrefix: string;
  readonly allowedHeaders: ListMatcher;
  readonly headersToAdd: readonly (readonly [string, string])[];
  readonly allowedUpstreamHeaders: ListMatcher;
  readonly allowedUpstreamHeadersToAppend: ListMatcher;
  readonly allowedClientHeaders: ListMatcher;
  readonly allowedClientHeadersOnSuccess: ListMatcher;
}

export interface GrpcAuthService {
  readonly kind: 'grpc';
  readonly cluster: string;
  readonly authority: string;
  readonly timeoutMs: number;
  readonly initialMetadata: readonly (readonly [string, string])[];
}

export interface ExtAuthzConfig {
  readonly service: HttpAuthService | GrpcAuthService;
  readonly failureModeAllow: boolean;
  readonly failureModeAllowHeaderAdd: boolean;
  readonly statusOnError: number;
  readonly withRequestBody: BodySettings | null;
  readonly filterEnabled: number;
  /** Top-level allowed_headers / disallowed_headers (which request headers the check sees). */
  readonly allowedHeaders: ListMatcher;
  readonly disallowedHeaders: ListMatcher;
}

export interface ExtAuthzPerRoute {
  readonly disabled: boolean;
  readonly contextExtensions: Readonly<Record<string, string>>;
  readonly disableRequestBodyBuffering: boolean;
  readonly withRequestBody: BodySettings | null;
}

export function compileListMatcher(raw: unknown, issues: Issues): ListMatcher {
  const o = asObj(raw);
  if (!o) return null;
  rejectUnknown(o, ['patterns'], issues);
  const ps: StringPredicate[] = (Array.isArray(o.patterns) ? o.patterns : []).map((p, i) => compileStringMatcher(p, issues.at('patterns').at(i)));
  return (name) => ps.some((p) => p(name));
}

function bodySettings(raw: unknown, issues: Issues): BodySettings | null {
  const o = asObj(raw);
  if (!o) return null;
  rejectUnknown(o, ['max_request_bytes', 'allow_partial_message', 'pack_as_bytes'], issues);
  const max = Number(o.max_request_bytes ?? 0);
  if (!(max > 0)) issues.error('max_request_bytes must be greater than 0', 'max_request_bytes');
  return { maxRequestBytes: max, allowPartialMessage: o.allow_partial_message === true, packAsBytes: o.pack_as_bytes === true };
}

function headerPairs(raw: unknown, issues: Issues): [string, string][] {
  return (Array.isArray(raw) ? raw : []).map((h, i) => {
    const o = asObj(h) ?? {};
    rejectUnknown(o, ['key', 'value', 'raw_value'], issues.at(i));
    const key = typeof o.key === 'string' ? o.key.toLowerCase() : '';
    if (!key) issues.at(i).error('key is required', 'key');
    return [key, typeof o.value === 'string' ? o.value : Buffer.isBuffer(o.raw_value) ? o.raw_value.toString('latin1') : ''];
  });
}

function httpService(raw: unknown, issues: Issues): HttpAuthService {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['server_uri', 'path_prefix', 'authorization_request', 'authorization_response'], issues);
  const su = asObj(o.server_uri) ?? {};
  const si = issues.at('server_uri');
  if (!asObj(o.server_uri)) issues.error('server_uri is required', 'server_uri');
  rejectUnknown(su, ['uri', 'cluster', 'timeout'], si);
  const uri = typeof su.uri === 'string' ? su.uri : '';
  if (!uri) si.error('uri is required', 'uri');
  const cluster = typeof su.cluster === 'string' ? su.cluster : '';
  if (!cluster) si.error('cluster is required', 'cluster');
  if (typeof su.timeout !== 'number') si.error('timeout is required', 'timeout');
  const prefix = typeof o.path_prefix === 'string' ? o.path_prefix : '';
  if (prefix && !prefix.startsWith('/')) issues.error('path_prefix must start with /', 'path_prefix');
  const rq = asObj(o.authorization_request) ?? {};
  const rqi = issues.at('authorization_request');
  rejectUnknown(rq, ['allowed_headers', 'headers_to_add'], rqi);
  const rs = asObj(o.authorization_response) ?? {};
  const rsi = issues.at('authorization_response');
  rejectUnknown(rs, ['allowed_upstream_headers', 'allowed_upstream_headers_to_append', 'allowed_client_headers', 'allowed_client_headers_on_success', 'dynamic_metadata_from_headers'], rsi);
  if (rs.dynamic_metadata_from_headers !== undefined) rsi.unsupported('dynamic_metadata_from_headers');
  return {
    kind: 'http', uri, cluster, timeoutMs: typeof su.timeout === 'number' ? su.timeout : 200, pathPrefix: prefix,
    allowedHeaders: compileListMatcher(rq.allowed_headers, rqi.at('allowed_headers')),
    headersToAdd: headerPairs(rq.headers_to_add, rqi.at('headers_to_add')),
    allowedUpstreamHeaders: compileListMatcher(rs.allowed_upstream_headers, rsi.at('allowed_upstream_headers')),
    allowedUpstreamHeadersToAppend: compileListMatcher(rs.allowed_upstream_headers_to_append, rsi.at('allowed_upstream_headers_to_append')),
    allowedClientHeaders: compileListMatcher(rs.allowed_client_headers, rsi.at('allowed_client_headers')),
    allowedClientHeadersOnSuccess: compileListMatcher(rs.allowed_client_headers_on_success, rsi.at('allowed_client_headers_on_success')),
  };
}

function grpcService(raw: unknown, issues: Issues): GrpcAuthService {
  const o = asObj(raw) ?? {};
  rejectUnknown(o, ['envoy_grpc', 'google_grpc', 'timeout', 'initial_metadata', 'retry_policy'], issues);
  if (o.google_grpc !== undefined) issues.unsupported('google_grpc', 'is not supported by meshlet (use envoy_grpc)');
  if (o.retry_policy !== undefined) issues.unsupported('retry_policy');
  const eg = asObj(o.envoy_grpc) ?? {};
  rejectUnknown(eg, ['cluster_name', 'authority', 'retry_policy', 'max_receive_message_length', 'skip_envoy_headers'], issues.at('envoy_grpc'));
  for (const k of ['retry_policy', 'max_receive_message_length', 'skip_envoy_headers']) if (eg[k] !== undefined) issues.at('envoy_grpc').unsupported(k);
  const cluster = typeof eg.cluster_name === 'string' ? eg.cluster_name : '';
  if (!cluster && o.google_grpc === undefined) issues.error('envoy_grpc.cluster_name is required', 'envoy_grpc');
  return {
    kind: 'grpc', cluster, authority: typeof eg.authority === 'string' ? eg.authority : cluster,
    timeoutMs: typeof o.timeout === 'number' ? o.timeout : 200,
    initialMetadata: headerPairs(o.initial_metadata, issues.at('initial_metadata')),
  };
}

const REJECT_IF_SET = ['metadata_context_namespaces', 'typed_metadata_context_namespaces', 'route_metadata_context_namespaces',
  'route_typed_metadata_context_namespaces', 'filter_enabled_metadata', 'deny_at_disable', 'include_peer_certificate',
  'bootstrap_metadata_labels_key', 'include_tls_session', 'encode_raw_headers', 'decoder_header_mutation_rules', 'validate_mutations', 'clear_route_cache'];

export function translateExtAuthz(raw: Readonly<Record<string, unknown>>, issues: Issues): ExtAuthzConfig {
  rejectUnknown(raw, ['grpc_service', 'http_service', 'transport_api_version', 'failure_mode_allow', 'failure_mode_allow_header_add',
    'with_request_body', 'status_on_error', 'filter_enabled', 'stat_prefix', 'allowed_headers', 'disallowed_headers',
    'charge_cluster_response_stats', 'enable_dynamic_metadata_ingestion', ...REJECT_IF_SET], issues);
  for (const k of REJECT_IF_SET) {
    const v = raw[k];
    if (v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0)) issues.unsupported(k);
  }
  if (raw.transport_api_version !== undefined && raw.transport_api_version !== 'V3') issues.error('only V3 is supported', 'transport_api_version');
  let service: HttpAuthService | GrpcAuthService;
  if (raw.http_service !== undefined && raw.grpc_service !== undefined) issues.error('only one of grpc_service and http_service may be set');
  if (raw.http_service !== undefined) service = httpService(raw.http_service, issues.at('http_service'));
  else if (raw.grpc_service !== undefined) service = grpcService(raw.grpc_service, issues.at('grpc_service'));
  else {
    issues.error('one of grpc_service or http_service is required');
    service = grpcService({}, new Issues());
  }
  let statusOnError = 403;
  const se = asObj(raw.status_on_error);
  if (se) {
    const c = httpStatusCode(se.code);
    if (c === null) issues.at('status_on_error').error(`invalid status code ${String(se.code)}`, 'code');
    else statusOnError = c;
  }
  return Object.freeze({
    service,
    failureModeAllow: raw.failure_mode_allow === true,
    failureModeAllowHeaderAdd: raw.failure_mode_allow_header_add === true,
    statusOnError,
    withRequestBody: bodySettings(raw.with_request_body, issues.at('with_request_body')),
    filterEnabled: compileRuntimeFraction(raw.filter_enabled, issues.at('filter_enabled'), 1),
    allowedHeaders: compileListMatcher(raw.allowed_headers, issues.at('allowed_headers')),
    disallowedHeaders: compileListMatcher(raw.disallowed_headers, issues.at('disallowed_headers')),
  });
}

export function translateExtAuthzPerRoute(raw: Readonly<Record<string, unknown>>, issues: Issues): ExtAuthzPerRoute {
  rejectUnknown(raw, ['disabled', 'check_settings'], issues);
  const cs = asObj(raw.check_settings) ?? {};
  const ci = issues.at('check_settings');
  rejectUnknown(cs, ['context_extensions', 'disable_request_body_buffering', 'with_request_body'], ci);
  const ext: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObj(cs.context_extensions) ?? {})) if (typeof v === 'string') ext[k] = v;
  return Object.freeze({
    disabled: raw.disabled === true,
    contextExtensions: ext,
    disableRequestBodyBuffering: cs.disable_request_body_buffering === true,
    withRequestBody: bodySettings(cs.with_request_body, ci.at('with_request_body')),
  });
}
