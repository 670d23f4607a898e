// observability/access-log: compiles config.accesslog.v3.AccessLogFilter once into a predicate over AccessLogRecord
// (status code, duration, not health check, traceable, runtime fraction, and/or, header, response flag).
import type { Issues } from '../../common/validation.js';
import { HeaderMatcher } from '../../router/matchers.js';
import { translateHeaderMatcher } from '../../xds/resource-types/route-configuration.js';
import type { AccessLogRecord } from './access-log-record.js';
import { joinedHeader } from '../../common/headers.js';

export type AccessLogPredicate = (r: AccessLogRecord) => boolean;

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

const FILTER_KINDS = ['status_code_filter', 'duration_filter', 'not_health_check_filter', 'traceable_filter', 'runtime_filter', 'and_filter', 'or_filter', 'header_filter', 'response_flag_filter'];
const UNSUPPORTED_KINDS = ['grpc_status_filter', 'extension_filter', 'metadata_filter', 'log_type_filter'];

/** Short response flags Envoy accepts in response_flag_filter.flags. */
const KNOWN_FLAGS = new Set([
  'LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'NR', 'DI', 'FI', 'RL', 'UAEX', 'RLSE', 'DC', 'URX', 'SI', 'IH', 'DPE', 'UMSDR',
  'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF', 'DO', 'DR',
]);

function comparison(c: unknown, issues: Issues): ((v: number) => boolean) | null {
  if (!isObj(c)) {
    issues.error('comparison is required', 'comparison');
    return null;
  }
  const op = (c.op as string | undefined) ?? 'EQ';
  const value = isObj(c.value) ? c.value : {};
  if (value.runtime_key !== undefined && value.runtime_key !== '') issues.warn('runtime is not supported: default_value is used', 'comparison.value.runtime_key');
  const n = typeof value.default_value === 'number' ? value.default_value : 0;
  switch (op) {
    case 'EQ': return (v) => v === n;
    case 'GE': return (v) => v >= n;
    case 'LE': return (v) => v <= n;
    default:
      issues.error(`unknown comparison op ${String(op)}`, 'comparison.op');
      return null;
  }
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

/** FNV-1a over the request id: the same id always gets the same runtime_filter decision (Envoy uses the UUID). */
function stableBucket(id: string, mod: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % mod;
}

export interface FilterDeps {
  readonly random?: () => number;
}

/** Compiles one AccessLogFilter; null (with errors in `issues`) when invalid. */
export function compileAccessLogFilter(f: unknown, issues: Issues, deps: FilterDeps = {}): AccessLogPredicate | null {
  if (!isObj(f)) {
    issues.error('expected an AccessLogFilter');
    return null;
  }
  const keys = Object.keys(f);
  for (const k of keys) {
    if (UNSUPPORTED_KINDS.includes(k)) issues.error(`access log filter ${k} is not supported by meshlet`, k);
    else if (!FILTER_KINDS.includes(k)) issues.error(`unknown access log filter ${k}`, k);
  }
  const kind = keys.find((k) => FILTER_KINDS.includes(k));
  if (!kind) {
    if (keys.length === 0) issues.error('an AccessLogFilter needs one filter');
    return null;
  }
  const at = issues.at(kind);
  const body = isObj(f[kind]) ? (f[kind] as Obj) : {};
  const random = deps.random ?? Math.random;
  switch (kind) {
    case 'status_code_filter': {
      const cmp = comparison(body.comparison, at);
      return cmp && ((r) => cmp(r.responseCode));
    }
    case 'duration_filter': {
      const cmp = comparison(body.comparison, at);
      return cmp && ((r) => cmp(r.durationMs));
    }
    case 'not_health_check_filter':
      // meshlet has no health_check HTTP filter, so no stream is a health check it answered itself.
      return (r) => r.requestHeaders?.['x-envoy-internal-health-check'] === undefined;
    case 'traceable_filter':
      return (r) => r.traceId !== undefined;
    case 'runtime_filter': {
      const ps = isObj(body.percent_sampled) ? body.percent_sampled : null;
      const num = ps ? Number(ps.numerator ?? 0) : 0;
      const den = ps ? DENOMINATORS[(ps.denominator as string | undefined) ?? 'HUNDRED'] : 100;
      if (!ps) at.warn('percent_sampled unset: the runtime default 0 % is used', 'percent_sampled');
      if (den === undefined) {
        at.error('unknown denominator', 'percent_sampled.denominator');
        return null;
      }
      const independent = body.use_independent_randomness === true;
      return (r) => {
        const rid = independent || !r.requestHeaders ? undefined : joinedHeader(r.requestHeaders, 'x-request-id');
        const bucket = rid ? stableBucket(rid, den) : Math.floor(random() * den);
        return bucket < num;
      };
    }
    case 'and_filter':
    case 'or_filter': {
      const list = Array.isArray(body.filters) ? body.filters : [];
      if (list.length < 2) at.error('needs at least two filters', 'filters');
      const preds: AccessLogPredicate[] = [];
      list.forEach((x, i) => {
        const p = compileAccessLogFilter(x, at.at('filters').at(i), deps);
        if (p) preds.push(p);
      });
      if (preds.length !== list.length) return null;
      return kind === 'and_filter' ? (r) => preds.every((p) => p(r)) : (r) => preds.some((p) => p(r));
    }
    case 'header_filter': {
      if (!isObj(body.header)) {
        at.error('header is required', 'header');
        return null;
      }
      const before = issues.errorCount;
      const cfg = translateHeaderMatcher(body.header, at.at('header'));
      if (issues.errorCount > before) return null;
      const m = new HeaderMatcher(cfg);
      return (r) => (r.requestHead ? m.matchRequest(r.requestHead) : false);
    }
    case 'response_flag_filter': {
      const flags = Array.isArray(body.flags) ? (body.flags as string[]) : [];
      flags.forEach((fl, i) => {
        if (!KNOWN_FLAGS.has(fl)) at.error(`unknown response flag ${JSON.stringify(fl)}`, `flags[${i}]`);
      });
      if (flags.length === 0) return (r) => r.responseFlags.length > 0;
      const want = new Set(flags);
      return (r) => r.responseFlags.some((x) => want.has(x));
    }
    default:
      return null;
  }
}
