// http/filters/fault: translates envoy.extensions.filters.http.fault.v3.HTTPFault (listener config and per-route
// override, same message) once into a readonly FaultConfig.
import type { Issues } from '../../../common/validation.js';
import type { HeaderMap, RequestHead } from '../../../common/headers.js';
import { asObj, compileFraction, compileHeaderMatcher, rejectUnknown } from '../common/matchers.js';

export const FAULT_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

export interface FaultPercent {
  /** Probability in [0,1]. */
  readonly fraction: number;
  /** Denominator of the configured FractionalPercent (header percentages use it too). */
  readonly denominator: number;
  readonly numerator: number;
}

export interface FaultDelayConfig {
  /** Fixed delay in ms, or null when the delay comes from x-envoy-fault-delay-request. */
  readonly fixedMs: number | null;
  readonly percent: FaultPercent;
}

export interface FaultAbortConfig {
  readonly httpStatus: number | null;
  readonly grpcStatus: number | null;
  /** Status from x-envoy-fault-abort-request / x-envoy-fault-abort-grpc-request. */
  readonly fromHeader: boolean;
  readonly percent: FaultPercent;
}

export interface FaultRateLimitConfig {
  /** KiB per second, or null when it comes from x-envoy-fault-throughput-response. */
  readonly kbps: number | null;
  readonly percent: FaultPercent;
}

export interface FaultConfig {
  readonly delay: FaultDelayConfig | null;
  readonly abort: FaultAbortConfig | null;
  readonly upstreamCluster: string;
  readonly headers: readonly ((h: HeaderMap, head?: RequestHead) => boolean)[];
  readonly downstreamNodes: ReadonlySet<string>;
  /** null = unlimited. */
  readonly maxActiveFaults: number | null;
  readonly responseRateLimit: FaultRateLimitConfig | null;
}

const DEN: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

function percent(raw: unknown, issues: Issues): FaultPercent {
  const o = asObj(raw);
  const fraction = compileFraction(raw, issues, 0);
  const denominator = DEN[typeof o?.denominator === 'string' ? o.denominator : 'HUNDRED'] ?? 100;
  return { fraction, denominator, numerator: Number(o?.numerator ?? 0) };
}

const RUNTIME_KEYS = ['delay_percent_runtime', 'abort_percent_runtime', 'delay_duration_runtime', 'abort_http_status_runtime',
  'max_active_faults_runtime', 'response_rate_limit_percent_runtime', 'abort_grpc_status_runtime'];

export function translateFault(raw: Readonly<Record<string, unknown>>, issues: Issues): FaultConfig {
  rejectUnknown(raw, ['delay', 'abort', 'upstream_cluster', 'headers', 'downstream_nodes', 'max_active_faults',
    'response_rate_limit', 'disable_downstream_cluster_stats', 'filter_metadata', ...RUNTIME_KEYS], issues);
  for (const k of RUNTIME_KEYS) {
    if (raw[k] !== undefined) issues.warn('meshlet has no runtime layer; the configured value is used', k);
  }
  let delay: FaultDelayConfig | null = null;
  const d = asObj(raw.delay);
  if (d) {
    const di = issues.at('delay');
    rejectUnknown(d, ['fixed_delay', 'header_delay', 'percentage'], di);
    if (typeof d.fixed_delay === 'number') {
      if (d.fixed_delay <= 0) di.error('fixed_delay must be greater than 0', 'fixed_delay');
      delay = { fixedMs: d.fixed_delay, percent: percent(d.percentage, di.at('percentage')) };
    } else if (d.header_delay !== undefined) {
      delay = { fixedMs: null, percent: percent(d.percentage, di.at('percentage')) };
    } else di.error('one of fixed_delay or header_delay is required');
  }
  let abort: FaultAbortConfig | null = null;
  const a = asObj(raw.abort);
  if (a) {
    const ai = issues.at('abort');
    rejectUnknown(a, ['http_status', 'grpc_status', 'header_abort', 'percentage'], ai);
    const p = percent(a.percentage, ai.at('percentage'));
    if (typeof a.http_status === 'number') {
      if (a.http_status < 200 || a.http_status >= 600) ai.error('http_status must be in [200, 600)', 'http_status');
      abort = { httpStatus: a.http_status, grpcStatus: null, fromHeader: false, percent: p };
    } else if (typeof a.grpc_status === 'number') {
      abort = { httpStatus: null, grpcStatus: a.grpc_status, fromHeader: false, percent: p };
    } else if (a.header_abort !== undefined) {
      abort = { httpStatus: null, grpcStatus: null, fromHeader: true, percent: p };
    } else ai.error('one of http_status, grpc_status or header_abort is required');
  }
  let responseRateLimit: FaultRateLimitConfig | null = null;
  const r = asObj(raw.response_rate_limit);
  if (r) {
    const ri = issues.at('response_rate_limit');
    rejectUnknown(r, ['fixed_limit', 'header_limit', 'percentage'], ri);
    const p = percent(r.percentage, ri.at('percentage'));
    const fl = asObj(r.fixed_limit);
    if (fl) {
      const kbps = Number(fl.limit_kbps ?? 0);
      if (!(kbps >= 1)) ri.at('fixed_limit').error('limit_kbps must be at least 1', 'limit_kbps');
      responseRateLimit = { kbps, percent: p };
    } else if (r.header_limit !== undefined) responseRateLimit = { kbps: null, percent: p };
    else ri.error('one of fixed_limit or header_limit is required');
  }
  const headers = Array.isArray(raw.headers) ? raw.headers.map((h, i) => compileHeaderMatcher(h, issues.at('headers').at(i))) : [];
  const nodes = Array.isArray(raw.downstream_nodes) ? raw.downstream_nodes.filter((n): n is string => typeof n === 'string') : [];
  return Object.freeze({
    delay, abort,
    upstreamCluster: typeof raw.upstream_cluster === 'string' ? raw.upstream_cluster : '',
    headers, downstreamNodes: new Set(nodes),
    maxActiveFaults: typeof raw.max_active_faults === 'number' ? raw.max_active_faults : null,
    responseRateLimit,
  });
}
