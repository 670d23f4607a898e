// http/filters/local-ratelimit: translates envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
// (listener config and per-route override, same message) once into a readonly LocalRateLimitConfig.
import type { Issues } from '../../../common/validation.js';
import { asObj, compileHeaderValueOption, compileRuntimeFraction, rejectUnknown } from '../common/matchers.js';
import type { HeaderToAdd } from '../common/matchers.js';
import { httpStatusCode } from '../common/http-status.js';

export const LOCAL_RATELIMIT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';

export interface TokenBucketConfig {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

export interface LocalRateLimitConfig {
  readonly statPrefix: string;
  readonly status: number;
  /** null: no bucket configured, the filter never limits. */
  readonly tokenBucket: TokenBucketConfig | null;
  readonly filterEnabled: number;
  readonly filterEnforced: number;
  readonly requestHeadersToAddWhenNotEnforced: readonly HeaderToAdd[];
  readonly responseHeadersToAdd: readonly HeaderToAdd[];
  readonly xRateLimitHeaders: boolean;
  /** gRPC status for limited gRPC requests: RESOURCE_EXHAUSTED (8) or UNAVAILABLE (14). */
  readonly grpcStatus: number;
}

export function translateTokenBucket(raw: unknown, issues: Issues): TokenBucketConfig | null {
  const o = asObj(raw);
  if (!o) return null;
  rejectUnknown(o, ['max_tokens', 'tokens_per_fill', 'fill_interval'], issues);
  const maxTokens = Number(o.max_tokens ?? 0);
  if (!(maxTokens > 0)) issues.error('max_tokens must be greater than 0', 'max_tokens');
  const tokensPerFill = o.tokens_per_fill === undefined ? 1 : Number(o.tokens_per_fill);
  if (!(tokensPerFill > 0)) issues.error('tokens_per_fill must be greater than 0', 'tokens_per_fill');
  const fillIntervalMs = typeof o.fill_interval === 'number' ? o.fill_interval : 0;
  if (o.fill_interval === undefined) issues.error('fill_interval is required', 'fill_interval');
  else if (fillIntervalMs < 50) issues.error('fill_interval must be at least 50ms', 'fill_interval');
  return { maxTokens, tokensPerFill, fillIntervalMs };
}

export function translateLocalRateLimit(raw: Readonly<Record<string, unknown>>, issues: Issues): LocalRateLimitConfig {
  rejectUnknown(raw, ['stat_prefix', 'status', 'token_bucket', 'filter_enabled', 'filter_enforced',
    'request_headers_to_add_when_not_enforced', 'response_headers_to_add', 'enable_x_ratelimit_headers',
    'always_consume_default_token_bucket', 'rate_limited_as_resource_exhausted', 'descriptors', 'stage',
    'local_rate_limit_per_downstream_connection', 'local_cluster_rate_limit', 'vh_rate_limits'], issues);
  const statPrefix = typeof raw.stat_prefix === 'string' ? raw.stat_prefix : '';
  if (!statPrefix) issues.error('stat_prefix is required', 'stat_prefix');
  // Descriptors need the route's rate_limits actions to produce descriptor entries; not implemented yet.
  if (Array.isArray(raw.descriptors) && raw.descriptors.length > 0) issues.unsupported('descriptors', 'is not supported by meshlet yet (route rate_limits actions)');
  if (raw.stage !== undefined && raw.stage !== 0) issues.unsupported('stage');
  if (raw.local_rate_limit_per_downstream_connection === true) issues.unsupported('local_rate_limit_per_downstream_connection');
  if (raw.local_cluster_rate_limit !== undefined) issues.unsupported('local_cluster_rate_limit');
  if (raw.vh_rate_limits !== undefined) issues.unsupported('vh_rate_limits');
  let status = 429;
  const st = asObj(raw.status);
  if (st) {
    const code = httpStatusCode(st.code);
    if (code === null || code < 400) issues.at('status').error(`invalid status code ${String(st.code)}`, 'code');
    else status = code;
  }
  const hv = (key: string): HeaderToAdd[] => {
    const l = Array.isArray(raw[key]) ? (raw[key] as unknown[]) : [];
    return l.map((h, i) => compileHeaderValueOption(h, issues.at(key).at(i))).filter((h): h is HeaderToAdd => h !== null);
  };
  const x = raw.enable_x_ratelimit_headers;
  if (x !== undefined && x !== 'OFF' && x !== 'DRAFT_VERSION_03') issues.error(`unknown value ${String(x)}`, 'enable_x_ratelimit_headers');
  return Object.freeze({
    statPrefix,
    status,
    tokenBucket: translateTokenBucket(raw.token_bucket, issues.at('token_bucket')),
    // Envoy: both default to 0 % when unset ("for safety").
    filterEnabled: compileRuntimeFraction(raw.filter_enabled, issues.at('filter_enabled'), 0),
    filterEnforced: compileRuntimeFraction(raw.filter_enforced, issues.at('filter_enforced'), 0),
    requestHeadersToAddWhenNotEnforced: hv('request_headers_to_add_when_not_enforced'),
    responseHeadersToAdd: hv('response_headers_to_add'),
    xRateLimitHeaders: x === 'DRAFT_VERSION_03',
    grpcStatus: raw.rate_limited_as_resource_exhausted === true ? 8 : 14,
  });
}
