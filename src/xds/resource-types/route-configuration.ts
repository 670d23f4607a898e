// xds/resource-types/: RDS. Validates one canonical envoy.config.route.v3.RouteConfiguration and translates it into
// config/route.ts RouteConfig (router/ compiles that into a RouteTable). Also used by the listener translator for an
// HCM's inline `route_config` and by `meshlet route-check`.
import { readFileSync } from 'node:fs';
import type { FieldError, Issues, ValidationResult } from '../../common/validation.js';
import { Issues as IssuesImpl } from '../../common/validation.js';
import { compileRegex, compileSubstitution } from '../../common/regex.js';
import { parseSubstitutionFormat } from '../../common/substitution-format.js';
import type {
  FractionConfig, HeaderMatcherConfig, QueryParameterMatcherConfig, RuntimeFractionConfig, StringMatcherConfig,
} from '../../config/matchers.js';
import type {
  AppendAction, DirectResponseActionConfig, ForwardActionConfig, HashPolicyConfig, HeaderMutationsConfig,
  HeaderValueOptionConfig, HostRewriteConfig, MirrorPolicyConfig, PathRewriteConfig, PerFilterConfig, RedirectActionConfig,
  RequireTls, RetryPolicyConfig, RouteActionConfig, RouteConfig, RouteEntryConfig, RouteMatchConfig, VirtualClusterConfig,
  VirtualHostConfig, WeightedClusterEntryConfig,
} from '../../config/route.js';
import { parseUriTemplate, parseUriTemplateRewrite } from '../../router/uri-template.js';
import type { Canonical } from '../proto-json.js';
import { TypeUrl } from '../resource-type.js';
import { runSlices, type SlicePath, type Slices } from '../resource-slices.js';
import type { SlicedResourceType } from '../sliced-resource-type.js';
import { validatePerFilterConfig } from '../../http/filters/filter-manager.js';
import { builtinFilterRegistry } from '../../http/filters/filter-registry.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const DEFAULT_MAX_DIRECT_RESPONSE_BODY = 4096;
const UINT32_MAX = 4294967295;

export interface RouteTranslateOptions {
  /** Base directory for direct_response `filename` bodies given as relative paths. */
  readonly baseDir?: string;
}

/** Reports every set field not in `handled` as unsupported (a behaviour-changing field meshlet does not implement). */
function onlyFields(o: Obj, handled: readonly string[], issues: Issues): void {
  for (const k of Object.keys(o)) if (!handled.includes(k)) issues.unsupported(k);
}

function denominatorOf(v: unknown): number {
  switch (v) {
    case 'TEN_THOUSAND': return 10000;
    case 'MILLION': return 1000000;
    default: return 100;
  }
}

export function translateFraction(o: Obj | undefined): FractionConfig {
  if (!o) return { numerator: 0, denominator: 100 };
  const denominator = denominatorOf(o.denominator);
  const n = typeof o.numerator === 'number' ? o.numerator : 0;
  return { numerator: Math.min(n, denominator), denominator };
}

function translateRuntimeFraction(o: Obj, issues: Issues): RuntimeFractionConfig {
  onlyFields(o, ['default_value', 'runtime_key'], issues);
  if (!isObj(o.default_value)) issues.error('default_value is required', 'default_value');
  return { runtimeKey: str(o.runtime_key) ?? '', defaultValue: translateFraction(isObj(o.default_value) ? o.default_value : undefined) };
}

function checkRegex(pattern: unknown, issues: Issues): string {
  if (typeof pattern !== 'string') {
    issues.error('regex is required');
    return '';
  }
  const r = compileRegex(pattern);
  if (!r.ok) issues.error(r.error);
  return pattern;
}

/** type.matcher.v3.RegexMatcher → pattern (google_re2 engine only). */
function translateRegexMatcher(o: unknown, issues: Issues): string {
  if (!isObj(o)) {
    issues.error('expected a RegexMatcher');
    return '';
  }
  onlyFields(o, ['regex', 'google_re2'], issues);
  return checkRegex(o.regex, issues.at('regex'));
}

export function translateStringMatcher(o: unknown, issues: Issues): StringMatcherConfig | undefined {
  if (!isObj(o)) {
    issues.error('expected a StringMatcher');
    return undefined;
  }
  onlyFields(o, ['exact', 'prefix', 'suffix', 'contains', 'safe_regex', 'ignore_case'], issues);
  const kinds = (['exact', 'prefix', 'suffix', 'contains', 'safe_regex'] as const).filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) {
    issues.error(kinds.length === 0 ? 'one of exact, prefix, suffix, contains or safe_regex is required' : `only one of ${kinds.join(', ')} may be set`);
    return undefined;
  }
  const kind = kinds[0];
  const ignoreCase = o.ignore_case === true;
  if (kind === 'safe_regex') return { kind, regex: translateRegexMatcher(o.safe_regex, issues.at('safe_regex')) };
  const value = str(o[kind]) ?? '';
  if (kind !== 'exact' && value === '') issues.error('must not be empty', kind);
  return { kind, value, ignoreCase };
}

const HEADER_SPECS = ['exact_match', 'safe_regex_match', 'range_match', 'present_match', 'prefix_match', 'suffix_match', 'contains_match', 'string_match'] as const;

export function translateHeaderMatcher(o: Obj, issues: Issues): HeaderMatcherConfig {
  onlyFields(o, ['name', ...HEADER_SPECS, 'invert_match', 'treat_missing_header_as_empty'], issues);
  const name = (str(o.name) ?? '').toLowerCase();
  if (!name) issues.error('name is required', 'name');
  const set = HEADER_SPECS.filter((k) => o[k] !== undefined);
  if (set.length > 1) issues.error(`only one of ${set.join(', ')} may be set`);
  const base = { name, invert: o.invert_match === true, treatMissingAsEmpty: o.treat_missing_header_as_empty === true };
  const k = set[0];
  switch (k) {
    case undefined:
      return { ...base, spec: { kind: 'present', present: true } };
    case 'present_match':
      return { ...base, spec: { kind: 'present', present: o.present_match === true } };
    case 'exact_match': {
      const v = str(o.exact_match) ?? '';
      // Deprecated exact_match "" matches any value of a present header (bullet 33).
      if (v === '') return { ...base, spec: { kind: 'present', present: true } };
      return { ...base, spec: { kind: 'string', field: 'exact_match', matcher: { kind: 'exact', value: v, ignoreCase: false } } };
    }
    case 'prefix_match':
    case 'suffix_match':
    case 'contains_match': {
      const v = str(o[k]) ?? '';
      if (v === '') issues.error('must not be empty', k);
      const kind = k === 'prefix_match' ? 'prefix' : k === 'suffix_match' ? 'suffix' : 'contains';
      return { ...base, spec: { kind: 'string', field: k, matcher: { kind, value: v, ignoreCase: false } } };
    }
    case 'safe_regex_match':
      return { ...base, spec: { kind: 'string', field: k, matcher: { kind: 'safe_regex', regex: translateRegexMatcher(o.safe_regex_match, issues.at(k)) } } };
    case 'string_match': {
      const m = translateStringMatcher(o.string_match, issues.at('string_match'));
      const field = `string_match.${m?.kind ?? 'exact'}`;
      return { ...base, spec: { kind: 'string', field, matcher: m ?? { kind: 'exact', value: '', ignoreCase: false } } };
    }
    case 'range_match': {
      const r = isObj(o.range_match) ? o.range_match : {};
      const start = String(r.start ?? 0);
      const end = String(r.end ?? 0);
      if (BigInt(start) >= BigInt(end)) issues.error(`range start ${start} must be less than end ${end}`, 'range_match');
      return { ...base, spec: { kind: 'range', start, end } };
    }
  }
}

export function translateQueryParameterMatcher(o: Obj, issues: Issues): QueryParameterMatcherConfig {
  onlyFields(o, ['name', 'string_match', 'present_match'], issues);
  const name = str(o.name) ?? '';
  if (!name) issues.error('name is required', 'name');
  if (o.string_match !== undefined && o.present_match !== undefined) issues.error('only one of string_match, present_match may be set');
  if (o.string_match !== undefined) {
    const m = translateStringMatcher(o.string_match, issues.at('string_match'));
    return { name, spec: m ? { kind: 'string', matcher: m } : { kind: 'present', present: true } };
  }
  return { name, spec: { kind: 'present', present: o.present_match === undefined ? true : o.present_match === true } };
}

const BAD_CHARS = /[\0\r\n]/;

function checkNoControl(v: string | undefined, issues: Issues, key: string): void {
  if (v !== undefined && BAD_CHARS.test(v)) issues.error('must not contain NUL, CR or LF', key);
}

function isForbiddenMutationHeader(name: string): boolean {
  return name.startsWith(':') || name === 'host';
}

function translateHeaderValueOptions(v: unknown, issues: Issues): HeaderValueOptionConfig[] {
  return list(v).map((o, i) => {
    const is = issues.at(i);
    onlyFields(o, ['header', 'append', 'append_action', 'keep_empty_value'], is);
    const h = isObj(o.header) ? o.header : {};
    onlyFields(h, ['key', 'value', 'raw_value'], is.at('header'));
    const name = (str(h.key) ?? '').toLowerCase();
    if (!name) is.error('key is required', 'header.key');
    else if (isForbiddenMutationHeader(name)) is.error(`":"-prefixed or host headers may not be modified (${name})`, 'header.key');
    const value = str(h.value) ?? (Buffer.isBuffer(h.raw_value) ? h.raw_value.toString('latin1') : '');
    checkNoControl(value, is, 'header.value');
    const f = parseSubstitutionFormat(value);
    if (!f.ok) is.error(f.error, 'header.value');
    let action = (str(o.append_action) ?? 'APPEND_IF_EXISTS_OR_ADD') as AppendAction;
    if (o.append !== undefined) {
      if (o.append_action !== undefined && o.append_action !== 'APPEND_IF_EXISTS_OR_ADD') {
        is.error('append and append_action are mutually exclusive; use append_action only');
      }
      action = o.append === true ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD';
    }
    return { name, value, action, keepEmptyValue: o.keep_empty_value === true };
  });
}

function translateHeadersToRemove(v: unknown, issues: Issues): string[] {
  const out: string[] = [];
  (Array.isArray(v) ? v : []).forEach((n: unknown, i) => {
    const name = String(n).toLowerCase();
    if (!name) issues.error('must not be empty', i);
    else if (isForbiddenMutationHeader(name)) issues.error(`":"-prefixed or host headers may not be removed (${name})`, i);
    out.push(name);
  });
  return out;
}

export const EMPTY_MUTATIONS: HeaderMutationsConfig = Object.freeze({
  requestHeadersToAdd: [], requestHeadersToRemove: [], responseHeadersToAdd: [], responseHeadersToRemove: [],
});

export function translateHeaderMutations(o: Obj, issues: Issues): HeaderMutationsConfig {
  if (!o.request_headers_to_add && !o.request_headers_to_remove && !o.response_headers_to_add && !o.response_headers_to_remove) return EMPTY_MUTATIONS;
  return {
    requestHeadersToAdd: translateHeaderValueOptions(o.request_headers_to_add, issues.at('request_headers_to_add')),
    requestHeadersToRemove: translateHeadersToRemove(o.request_headers_to_remove, issues.at('request_headers_to_remove')),
    responseHeadersToAdd: translateHeaderValueOptions(o.response_headers_to_add, issues.at('response_headers_to_add')),
    responseHeadersToRemove: translateHeadersToRemove(o.response_headers_to_remove, issues.at('response_headers_to_remove')),
  };
}

/** typed_per_filter_config: each entry must be a per-route config of a filter meshlet implements (or an optional
 *  FilterConfig), validated by the filter's own translator now so a bad override NACKs the RDS update, as Envoy does. */
function translatePerFilterConfig(v: unknown, issues: Issues): PerFilterConfig {
  if (!isObj(v)) return {};
  const registry = builtinFilterRegistry();
  for (const [name, entry] of Object.entries(v)) {
    if (isObj(entry)) validatePerFilterConfig(registry, entry, issues.at('typed_per_filter_config').at(name));
  }
  return v as PerFilterConfig;
}

const PREVIOUS_HOSTS = ['envoy.retry_host_predicates.previous_hosts', 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate'];

export function translateRetryPolicy(o: Obj, issues: Issues): RetryPolicyConfig {
  onlyFields(o, ['retry_on', 'num_retries', 'per_try_timeout', 'per_try_idle_timeout', 'retry_host_predicate', 'host_selection_retry_max_attempts', 'retriable_status_codes', 'retry_back_off', 'retriable_headers'], issues);
  const retryOn = (str(o.retry_on) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const known = new Set(['5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);
  for (const t of retryOn) if (!known.has(t)) issues.error(`unknown retry_on condition ${JSON.stringify(t)}`, 'retry_on');
  let avoidPreviousHosts = false;
  list(o.retry_host_predicate).forEach((p, i) => {
    const type = str(p.name) ?? '';
    const url = isObj(p.typed_config) ? str(p.typed_config['@type']) ?? '' : '';
    if (PREVIOUS_HOSTS.includes(url) || (!url && PREVIOUS_HOSTS.includes(type))) avoidPreviousHosts = true;
    else issues.at('retry_host_predicate').at(i).error(`retry host predicate ${url || type} is not supported by meshlet (only previous_hosts)`);
  });
  const bo = isObj(o.retry_back_off) ? o.retry_back_off : undefined;
  const base = typeof bo?.base_interval === 'number' ? bo.base_interval : 25;
  const max = typeof bo?.max_interval === 'number' ? bo.max_interval : base * 10;
  if (bo && bo.base_interval === undefined) issues.error('base_interval is required', 'retry_back_off.base_interval');
  if (max < base) issues.error('max_interval must be greater than or equal to base_interval', 'retry_back_off.max_interval');
  return {
    retryOn,
    numRetries: typeof o.num_retries === 'number' ? o.num_retries : 1,
    perTryTimeoutMs: typeof o.per_try_timeout === 'number' ? o.per_try_timeout : 0,
    perTryIdleTimeoutMs: typeof o.per_try_idle_timeout === 'number' ? o.per_try_idle_timeout : 0,
    retriableStatusCodes: (Array.isArray(o.retriable_status_codes) ? o.retriable_status_codes : []).map(Number),
    retriableHeaders: list(o.retriable_headers).map((h, i) => translateHeaderMatcher(h, issues.at('retriable_headers').at(i))),
    baseIntervalMs: base,
    maxIntervalMs: max,
    avoidPreviousHosts,
    hostSelectionRetryMaxAttempts: typeof o.host_selection_retry_max_attempts === 'number' ? o.host_selection_retry_max_attempts : 1,
  };
}

export function translateHashPolicies(v: unknown, issues: Issues): HashPolicyConfig[] {
  const out: HashPolicyConfig[] = [];
  list(v).forEach((o, i) => {
    const is = issues.at(i);
    onlyFields(o, ['header', 'cookie', 'connection_properties', 'query_parameter', 'filter_state', 'terminal'], is);
    const terminal = o.terminal === true;
    if (isObj(o.header)) {
      onlyFields(o.header, ['header_name'], is.at('header'));
      const headerName = (str(o.header.header_name) ?? '').toLowerCase();
      if (!headerName) is.error('header_name is required', 'header.header_name');
      out.push({ kind: 'header', headerName, terminal });
    } else if (isObj(o.cookie)) {
      onlyFields(o.cookie, ['name', 'ttl', 'path'], is.at('cookie'));
      const name = str(o.cookie.name) ?? '';
      if (!name) is.error('name is required', 'cookie.name');
      out.push({ kind: 'cookie', name, terminal, ...(typeof o.cookie.ttl === 'number' ? { ttlMs: o.cookie.ttl } : {}), ...(o.cookie.path !== undefined ? { path: String(o.cookie.path) } : {}) });
    } else if (isObj(o.connection_properties)) {
      if (o.connection_properties.source_ip === true) out.push({ kind: 'source_ip', terminal });
    } else if (isObj(o.query_parameter)) {
      const name = str(o.query_parameter.name) ?? '';
      if (!name) is.error('name is required', 'query_parameter.name');
      out.push({ kind: 'query_parameter', name, terminal });
    } else if (isObj(o.filter_state)) {
      out.push({ kind: 'filter_state', key: str(o.filter_state.key) ?? '', terminal });
    } else {
      is.error('one of header, cookie, connection_properties, query_parameter or filter_state is required');
    }
  });
  return out;
}

export function translateMirrorPolicies(v: unknown, issues: Issues): MirrorPolicyConfig[] {
  return list(v).map((o, i) => {
    const is = issues.at(i);
    onlyFields(o, ['cluster', 'cluster_header', 'runtime_fraction', 'disable_shadow_host_suffix_append'], is);
    const cluster = str(o.cluster) ?? '';
    const clusterHeader = str(o.cluster_header);
    if (!cluster === (clusterHeader === undefined)) is.error('exactly one of cluster or cluster_header is required');
    const rf = isObj(o.runtime_fraction) ? translateRuntimeFraction(o.runtime_fraction, is.at('runtime_fraction')) : undefined;
    return {
      cluster,
      ...(clusterHeader !== undefined ? { clusterHeader: clusterHeader.toLowerCase() } : {}),
      fraction: rf ? rf.defaultValue : { numerator: 100, denominator: 100 },
      ...(rf?.runtimeKey ? { runtimeKey: rf.runtimeKey } : {}),
      disableShadowHostSuffixAppend: o.disable_shadow_host_suffix_append === true,
    };
  });
}

const PATH_SPECIFIERS = ['prefix', 'path', 'safe_regex', 'path_separated_prefix', 'path_match_policy', 'connect_matcher'] as const;
const URI_TEMPLATE_MATCH = 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig';
const URI_TEMPLATE_REWRITE = 'type.googleapis.com/envoy.extensions.path.rewrite.uri_template.v3.UriTemplateRewriteConfig';

function translateRouteMatch(o: Obj, issues: Issues): RouteMatchConfig {
  onlyFields(o, [...PATH_SPECIFIERS, 'case_sensitive', 'runtime_fraction', 'headers', 'query_parameters', 'grpc'], issues);
  const set = PATH_SPECIFIERS.filter((k) => o[k] !== undefined);
  let kind: RouteMatchConfig['kind'] = 'prefix';
  let value = '';
  if (set.length !== 1) {
    issues.error(set.length === 0 ? 'one of prefix, path, safe_regex, path_separated_prefix or path_match_policy is required' : `only one path specifier may be set, got ${set.join(', ')}`);
  } else {
    const k = set[0];
    if (k === 'connect_matcher') issues.unsupported('connect_matcher');
    else if (k === 'safe_regex') {
      kind = 'safe_regex';
      value = translateRegexMatcher(o.safe_regex, issues.at('safe_regex'));
    } else if (k === 'path_match_policy') {
      kind = 'uri_template';
      const p = isObj(o.path_match_policy) ? o.path_match_policy : {};
      const tc = isObj(p.typed_config) ? p.typed_config : {};
      if (tc['@type'] !== URI_TEMPLATE_MATCH) issues.error(`path_match_policy ${String(tc['@type'] ?? '')} is not supported by meshlet (only UriTemplateMatchConfig)`, 'path_match_policy');
      value = str(tc.path_template) ?? '';
      const t = parseUriTemplate(value);
      if (!t.ok) issues.error(t.error, 'path_match_policy.typed_config.path_template');
    } else {
      kind = k;
      value = str(o[k]) ?? '';
      if (k === 'path_separated_prefix') {
        if (value.endsWith('/') || value.includes('?') || value.includes('#') || value.length < 1) {
          issues.error('path_separated_prefix must not end with "/" nor contain "?" or "#"', k);
        }
      }
    }
  }
  if (o.grpc !== undefined && isObj(o.grpc) && Object.keys(o.grpc).length) onlyFields(o.grpc, [], issues.at('grpc'));
  return {
    kind,
    value,
    caseSensitive: o.case_sensitive !== false,
    headers: list(o.headers).map((h, i) => translateHeaderMatcher(h, issues.at('headers').at(i))),
    queryParameters: list(o.query_parameters).map((q, i) => translateQueryParameterMatcher(q, issues.at('query_parameters').at(i))),
    grpc: o.grpc !== undefined,
    ...(isObj(o.runtime_fraction) ? { runtimeFraction: translateRuntimeFraction(o.runtime_fraction, issues.at('runtime_fraction')) } : {}),
  };
}

function translateRegexRewrite(o: unknown, issues: Issues): { pattern: string; substitution: string } {
  const r = isObj(o) ? o : {};
  onlyFields(r, ['pattern', 'substitution'], issues);
  const pattern = translateRegexMatcher(r.pattern, issues.at('pattern'));
  const substitution = str(r.substitution) ?? '';
  const c = compileRegex(pattern);
  if (c.ok) {
    const s = compileSubstitution(substitution, c.regex.groupCount);
    if (!s.ok) issues.error(s.error, 'substitution');
  }
  return { pattern, substitution };
}

function translateWeightedClusters(o: Obj, issues: Issues): ForwardActionConfig['weightedClusters'] {
  onlyFields(o, ['clusters', 'total_weight', 'runtime_key_prefix', 'header_name'], issues);
  let total = 0;
  const clusters: WeightedClusterEntryConfig[] = list(o.clusters).map((c, i) => {
    const is = issues.at('clusters').at(i);
    onlyFields(c, ['name', 'cluster_header', 'weight', 'request_headers_to_add', 'request_headers_to_remove', 'response_headers_to_add', 'response_headers_to_remove', 'typed_per_filter_config', 'host_rewrite_literal', 'metadata_match'], is);
    if (c.metadata_match !== undefined) is.unsupported('metadata_match');
    const name = str(c.name);
    const clusterHeader = str(c.cluster_header);
    if ((name === undefined || name === '') === (clusterHeader === undefined || clusterHeader === '')) is.error('exactly one of name or cluster_header is required');
    const weight = typeof c.weight === 'number' ? c.weight : 0;
    total += weight;
    const host = str(c.host_rewrite_literal);
    checkNoControl(host, is, 'host_rewrite_literal');
    return {
      ...(name ? { name } : {}),
      ...(clusterHeader ? { clusterHeader: clusterHeader.toLowerCase() } : {}),
      weight,
      mutations: translateHeaderMutations(c, is),
      ...(host ? { hostRewriteLiteral: host } : {}),
      typedPerFilterConfig: translatePerFilterConfig(c.typed_per_filter_config, is),
    };
  });
  if (clusters.length === 0) issues.error('at least one cluster is required', 'clusters');
  else if (total === 0) issues.error('sum of weights cannot be zero', 'clusters');
  else if (total > UINT32_MAX) issues.error(`sum of weights ${total} exceeds uint32 max`, 'clusters');
  const headerName = str(o.header_name);
  return {
    clusters,
    ...(o.runtime_key_prefix ? { runtimeKeyPrefix: String(o.runtime_key_prefix) } : {}),
    ...(headerName ? { headerName: headerName.toLowerCase() } : {}),
  };
}

const ROUTE_ACTION_FIELDS = ['cluster', 'cluster_header', 'weighted_clusters', 'cluster_not_found_response_code', 'prefix_rewrite', 'regex_rewrite', 'path_rewrite_policy',
  'host_rewrite_literal', 'auto_host_rewrite', 'host_rewrite_header', 'host_rewrite_path_regex', 'append_x_forwarded_host', 'timeout', 'idle_timeout', 'retry_policy',
  'request_mirror_policies', 'hash_policy', 'upgrade_configs', 'max_stream_duration', 'max_grpc_timeout', 'grpc_timeout_offset', 'priority'];

function translateForward(o: Obj, vh: VhostDefaults, matchKind: RouteMatchConfig['kind'], issues: Issues): ForwardActionConfig {
  onlyFields(o, ROUTE_ACTION_FIELDS, issues);
  const specs = (['cluster', 'cluster_header', 'weighted_clusters'] as const).filter((k) => o[k] !== undefined);
  if (specs.length !== 1) issues.error(specs.length === 0 ? 'one of cluster, cluster_header or weighted_clusters is required' : `only one of ${specs.join(', ')} may be set`);
  if (o.priority !== undefined && o.priority !== 'DEFAULT') issues.unsupported('priority');
  const rewrites = (['prefix_rewrite', 'regex_rewrite', 'path_rewrite_policy'] as const).filter((k) => o[k] !== undefined);
  if (rewrites.length > 1) issues.error(`only one of prefix_rewrite, regex_rewrite or path_rewrite_policy may be set, got ${rewrites.join(', ')}`);
  let pathRewrite: PathRewriteConfig | undefined;
  if (o.prefix_rewrite !== undefined) {
    const v = String(o.prefix_rewrite);
    checkNoControl(v, issues, 'prefix_rewrite');
    if (matchKind === 'uri_template') issues.error('prefix_rewrite cannot be used with a path_match_policy', 'prefix_rewrite');
    pathRewrite = { kind: 'prefix', value: v };
  } else if (o.regex_rewrite !== undefined) {
    const r = translateRegexRewrite(o.regex_rewrite, issues.at('regex_rewrite'));
    pathRewrite = { kind: 'regex', pattern: r.pattern, substitution: r.substitution };
  } else if (o.path_rewrite_policy !== undefined) {
    const p = isObj(o.path_rewrite_policy) ? o.path_rewrite_policy : {};
    const tc = isObj(p.typed_config) ? p.typed_config : {};
    if (tc['@type'] !== URI_TEMPLATE_REWRITE) issues.error(`path_rewrite_policy ${String(tc['@type'] ?? '')} is not supported by meshlet (only UriTemplateRewriteConfig)`, 'path_rewrite_policy');
    const template = str(tc.path_template_rewrite) ?? '';
    if (matchKind !== 'uri_template') issues.error('path_rewrite_policy requires a path_match_policy URI template match', 'path_rewrite_policy');
    const r = parseUriTemplateRewrite(template);
    if (!r.ok) issues.error(r.error, 'path_rewrite_policy.typed_config.path_template_rewrite');
    pathRewrite = { kind: 'uri_template', template };
  }
  const hosts = (['host_rewrite_literal', 'auto_host_rewrite', 'host_rewrite_header', 'host_rewrite_path_regex'] as const).filter((k) => o[k] !== undefined && o[k] !== false);
  if (hosts.length > 1) issues.error(`only one of ${hosts.join(', ')} may be set`);
  let hostRewrite: HostRewriteConfig | undefined;
  if (o.host_rewrite_literal !== undefined) {
    const v = String(o.host_rewrite_literal);
    checkNoControl(v, issues, 'host_rewrite_literal');
    hostRewrite = { kind: 'literal', value: v };
  } else if (o.host_rewrite_header !== undefined) {
    hostRewrite = { kind: 'header', header: String(o.host_rewrite_header).toLowerCase() };
  } else if (o.host_rewrite_path_regex !== undefined) {
    const r = translateRegexRewrite(o.host_rewrite_path_regex, issues.at('host_rewrite_path_regex'));
    hostRewrite = { kind: 'path_regex', pattern: r.pattern, substitution: r.substitution };
  } else if (o.auto_host_rewrite === true) {
    hostRewrite = { kind: 'auto' };
  }
  let clusterNotFoundStatus = 503;
  if (o.cluster_not_found_response_code === 'NOT_FOUND') clusterNotFoundStatus = 404;
  else if (o.cluster_not_found_response_code === 'INTERNAL_SERVER_ERROR') clusterNotFoundStatus = 500;
  const upgrades: Record<string, boolean> = {};
  list(o.upgrade_configs).forEach((u, i) => {
    const is = issues.at('upgrade_configs').at(i);
    onlyFields(u, ['upgrade_type', 'enabled'], is);
    const t = (str(u.upgrade_type) ?? '').toLowerCase();
    if (!t) is.error('upgrade_type is required', 'upgrade_type');
    upgrades[t] = u.enabled !== false;
  });
  let maxStreamDuration: ForwardActionConfig['maxStreamDuration'];
  if (isObj(o.max_stream_duration)) {
    const m = o.max_stream_duration;
    maxStreamDuration = {
      ...(typeof m.max_stream_duration === 'number' ? { maxStreamDurationMs: m.max_stream_duration } : {}),
      ...(typeof m.grpc_timeout_header_max === 'number' ? { grpcTimeoutHeaderMaxMs: m.grpc_timeout_header_max } : {}),
      ...(typeof m.grpc_timeout_header_offset === 'number' ? { grpcTimeoutHeaderOffsetMs: m.grpc_timeout_header_offset } : {}),
    };
  } else if (typeof o.max_grpc_timeout === 'number' || typeof o.grpc_timeout_offset === 'number') {
    maxStreamDuration = {
      ...(typeof o.max_grpc_timeout === 'number' ? { grpcTimeoutHeaderMaxMs: o.max_grpc_timeout } : {}),
      ...(typeof o.grpc_timeout_offset === 'number' ? { grpcTimeoutHeaderOffsetMs: o.grpc_timeout_offset } : {}),
    };
  }
  const retryPolicy = isObj(o.retry_policy) ? translateRetryPolicy(o.retry_policy, issues.at('retry_policy')) : vh.retryPolicy;
  const hashPolicies = o.hash_policy !== undefined ? translateHashPolicies(o.hash_policy, issues.at('hash_policy')) : vh.hashPolicies;
  const mirrors = o.request_mirror_policies !== undefined ? translateMirrorPolicies(o.request_mirror_policies, issues.at('request_mirror_policies')) : vh.mirrors;
  const clusterHeader = str(o.cluster_header);
  return {
    kind: 'route',
    ...(o.cluster !== undefined ? { cluster: String(o.cluster) } : {}),
    ...(clusterHeader !== undefined ? { clusterHeader: clusterHeader.toLowerCase() } : {}),
    ...(isObj(o.weighted_clusters) ? { weightedClusters: translateWeightedClusters(o.weighted_clusters, issues.at('weighted_clusters')) } : {}),
    clusterNotFoundStatus,
    ...(pathRewrite ? { pathRewrite } : {}),
    ...(hostRewrite ? { hostRewrite } : {}),
    appendXForwardedHost: o.append_x_forwarded_host === true,
    timeoutMs: typeof o.timeout === 'number' ? o.timeout : 15000,
    ...(typeof o.idle_timeout === 'number' ? { idleTimeoutMs: o.idle_timeout } : {}),
    ...(retryPolicy ? { retryPolicy } : {}),
    requestMirrorPolicies: mirrors,
    hashPolicies,
    upgrades,
    ...(maxStreamDuration ? { maxStreamDuration } : {}),
  };
}

const REDIRECT_CODES: Record<string, number> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };

function translateRedirect(o: Obj, issues: Issues): RedirectActionConfig {
  onlyFields(o, ['https_redirect', 'scheme_redirect', 'host_redirect', 'port_redirect', 'path_redirect', 'prefix_rewrite', 'regex_rewrite', 'response_code', 'strip_query'], issues);
  const schemes = (['https_redirect', 'scheme_redirect'] as const).filter((k) => o[k] !== undefined && o[k] !== false);
  if (schemes.length > 1) issues.error('only one of https_redirect or scheme_redirect may be set');
  const paths = (['path_redirect', 'prefix_rewrite', 'regex_rewrite'] as const).filter((k) => o[k] !== undefined);
  if (paths.length > 1) issues.error(`only one of path_redirect, prefix_rewrite or regex_rewrite may be set, got ${paths.join(', ')}`);
  for (const k of ['host_redirect', 'path_redirect', 'prefix_rewrite', 'scheme_redirect'] as const) checkNoControl(str(o[k]), issues, k);
  let path = str(o.path_redirect);
  if (path !== undefined && !path.startsWith('/')) path = '/' + path;
  const code = str(o.response_code) ?? 'MOVED_PERMANENTLY';
  const status = REDIRECT_CODES[code.toUpperCase()];
  if (status === undefined) issues.error(`unknown redirect response code ${code}`, 'response_code');
  const scheme = o.https_redirect === true ? 'https' : str(o.scheme_redirect)?.toLowerCase();
  return {
    kind: 'redirect',
    ...(scheme ? { scheme } : {}),
    ...(o.host_redirect ? { host: String(o.host_redirect) } : {}),
    ...(typeof o.port_redirect === 'number' && o.port_redirect > 0 ? { port: o.port_redirect } : {}),
    ...(path !== undefined ? { path } : {}),
    ...(o.prefix_rewrite !== undefined ? { prefixRewrite: String(o.prefix_rewrite) } : {}),
    ...(o.regex_rewrite !== undefined ? { regexRewrite: translateRegexRewrite(o.regex_rewrite, issues.at('regex_rewrite')) } : {}),
    status: status ?? 301,
    stripQuery: o.strip_query === true,
  };
}

function translateDirectResponse(o: Obj, maxBody: number, opts: RouteTranslateOptions, issues: Issues): DirectResponseActionConfig {
  onlyFields(o, ['status', 'body'], issues);
  const status = typeof o.status === 'number' ? o.status : 0;
  if (status < 200 || status >= 600) issues.error('status must be in [200, 600)', 'status');
  let body: Buffer | undefined;
  if (isObj(o.body)) {
    const b = o.body;
    const is = issues.at('body');
    onlyFields(b, ['inline_string', 'inline_bytes', 'filename'], is);
    if (b.inline_string !== undefined) body = Buffer.from(String(b.inline_string));
    else if (Buffer.isBuffer(b.inline_bytes)) body = b.inline_bytes;
    else if (b.filename !== undefined) {
      const f = String(b.filename);
      try {
        body = readFileSync(opts.baseDir && !f.startsWith('/') ? `${opts.baseDir}/${f}` : f);
      } catch (e) {
        is.error(`cannot read ${f}: ${(e as Error).message}`, 'filename');
      }
    } else if (b.environment_variable !== undefined) is.unsupported('environment_variable');
    if (body && body.length > maxBody) is.error(`response body size is ${body.length} bytes; maximum is ${maxBody}`);
  }
  return { kind: 'direct_response', status, ...(body && body.length ? { body } : {}) };
}

interface VhostDefaults {
  readonly retryPolicy?: RetryPolicyConfig;
  readonly hashPolicies: readonly HashPolicyConfig[];
  readonly mirrors: readonly MirrorPolicyConfig[];
}

function translateRoute(o: Obj, vh: VhostDefaults, maxBody: number, opts: RouteTranslateOptions, issues: Issues): RouteEntryConfig {
  onlyFields(o, ['name', 'match', 'route', 'redirect', 'direct_response', 'metadata', 'decorator', 'typed_per_filter_config',
    'request_headers_to_add', 'request_headers_to_remove', 'response_headers_to_add', 'response_headers_to_remove'], issues);
  const match = translateRouteMatch(isObj(o.match) ? o.match : {}, issues.at('match'));
  if (!isObj(o.match)) issues.error('match is required', 'match');
  const actions = (['route', 'redirect', 'direct_response'] as const).filter((k) => o[k] !== undefined);
  let action: RouteActionConfig;
  if (actions.length !== 1) {
    issues.error(actions.length === 0 ? 'one of route, redirect or direct_response is required' : `only one of ${actions.join(', ')} may be set`);
  }
  if (isObj(o.redirect) && actions[0] === 'redirect') action = translateRedirect(o.redirect, issues.at('redirect'));
  else if (isObj(o.direct_response) && actions[0] === 'direct_response') action = translateDirectResponse(o.direct_response, maxBody, opts, issues.at('direct_response'));
  else action = translateForward(isObj(o.route) ? o.route : {}, vh, match.kind, issues.at('route'));
  const dec = isObj(o.decorator) ? o.decorator : undefined;
  if (dec && !str(dec.operation)) issues.error('operation is required', 'decorator.operation');
  return {
    name: str(o.name) ?? '',
    match,
    action,
    mutations: translateHeaderMutations(o, issues),
    ...(dec ? { decorator: { operation: String(dec.operation ?? ''), propagate: dec.propagate !== false } } : {}),
    typedPerFilterConfig: translatePerFilterConfig(o.typed_per_filter_config, issues),
  };
}

/** One virtual host, yielding after each route (a huge virtual host is sliced too). */
function* translateVirtualHostSteps(o: Obj, maxBody: number, opts: RouteTranslateOptions, issues: Issues): Slices<VirtualHostConfig> {
  onlyFields(o, ['name', 'domains', 'routes', 'require_tls', 'virtual_clusters', 'request_headers_to_add', 'request_headers_to_remove', 'response_headers_to_add',
    'response_headers_to_remove', 'typed_per_filter_config', 'retry_policy', 'hash_policy', 'request_mirror_policies', 'metadata',
    'include_request_attempt_count', 'include_attempt_count_in_response'], issues);
  const name = str(o.name) ?? '';
  if (!name) issues.error('name is required', 'name');
  const domains = (Array.isArray(o.domains) ? o.domains : []).map((d: unknown) => String(d).toLowerCase());
  if (domains.length === 0) issues.error('at least one domain is required', 'domains');
  domains.forEach((d, i) => {
    if (!d) issues.at('domains').error('domain must not be empty', i);
    checkNoControl(d, issues.at('domains'), String(i));
  });
  const retryPolicy = isObj(o.retry_policy) ? translateRetryPolicy(o.retry_policy, issues.at('retry_policy')) : undefined;
  const hashPolicies = translateHashPolicies(o.hash_policy, issues.at('hash_policy'));
  const mirrors = translateMirrorPolicies(o.request_mirror_policies, issues.at('request_mirror_policies'));
  const defaults: VhostDefaults = { ...(retryPolicy ? { retryPolicy } : {}), hashPolicies, mirrors };
  const requireTls = (str(o.require_tls) ?? 'NONE') as RequireTls;
  const virtualClusters: VirtualClusterConfig[] = list(o.virtual_clusters).map((v, i) => {
    const is = issues.at('virtual_clusters').at(i);
    onlyFields(v, ['name', 'headers'], is);
    if (!str(v.name)) is.error('name is required', 'name');
    return { name: str(v.name) ?? '', headers: list(v.headers).map((h, j) => translateHeaderMatcher(h, is.at('headers').at(j))) };
  });
  // Field order of errors as before: routes, then the virtual host's mutations and per-filter configs.
  const routes: RouteEntryConfig[] = [];
  const rawRoutes = list(o.routes);
  const routeIssues = issues.at('routes');
  for (let i = 0; i < rawRoutes.length; i++) {
    routes.push(translateRoute(rawRoutes[i], defaults, maxBody, opts, routeIssues.at(i)));
    yield;
  }
  return {
    name,
    domains,
    routes,
    requireTls,
    virtualClusters,
    mutations: translateHeaderMutations(o, issues),
    typedPerFilterConfig: translatePerFilterConfig(o.typed_per_filter_config, issues),
    ...(retryPolicy ? { retryPolicy } : {}),
    hashPolicies,
    requestMirrorPolicies: mirrors,
    includeRequestAttemptCount: o.include_request_attempt_count === true,
    includeAttemptCountInResponse: o.include_attempt_count_in_response === true,
  };
}

/** Validates and translates a canonical RouteConfiguration; errors go to `issues` with field paths (never throws). */
export function translateRouteConfiguration(c: Canonical, issues: Issues, opts: RouteTranslateOptions = {}): RouteConfig {
  return runSlices(translateRouteConfigurationSteps(c, issues, opts));
}

/** Where a RouteConfiguration is cut into slices for decoding, hashing, freezing and translating. */
export const ROUTE_CONFIGURATION_SLICES: SlicePath = ['virtual_hosts', 'routes'];

/**
 * translateRouteConfiguration in slices: yields after every route (so after every virtual host too), for the config
 * store's chunked apply. The one implementation: the synchronous translator runs it to the end. Nothing outside
 * `issues` and the returned value is touched, so stopping half-way leaves no trace.
 */
export function* translateRouteConfigurationSteps(c: Canonical, issues: Issues, opts: RouteTranslateOptions = {}): Slices<RouteConfig> {
  onlyFields(c, ['name', 'virtual_hosts', 'internal_only_headers', 'response_headers_to_add', 'response_headers_to_remove', 'request_headers_to_add',
    'request_headers_to_remove', 'most_specific_header_mutations_wins', 'validate_clusters', 'max_direct_response_body_size_bytes', 'request_mirror_policies',
    'ignore_port_in_host_matching', 'ignore_path_parameters_in_path_matching', 'typed_per_filter_config', 'metadata'], issues);
  const internalOnlyHeaders = (Array.isArray(c.internal_only_headers) ? c.internal_only_headers : []).map((h: unknown) => String(h).toLowerCase());
  const maxBody = typeof c.max_direct_response_body_size_bytes === 'number' ? c.max_direct_response_body_size_bytes : DEFAULT_MAX_DIRECT_RESPONSE_BODY;
  const vhosts: VirtualHostConfig[] = [];
  const rawVhosts = list(c.virtual_hosts);
  const vhIssues = issues.at('virtual_hosts');
  for (let i = 0; i < rawVhosts.length; i++) {
    vhosts.push(yield* translateVirtualHostSteps(rawVhosts[i], maxBody, opts, vhIssues.at(i)));
    yield;
  }
  // Domain uniqueness (case-insensitive) and a single '*' across the whole configuration (bullets 2, 3).
  const seen = new Map<string, string>();
  vhosts.forEach((vh, i) => {
    vh.domains.forEach((d, j) => {
      const prev = seen.get(d);
      if (prev !== undefined) {
        issues.at('virtual_hosts').at(i).at('domains').error(d === '*'
          ? `only a single wildcard domain is permitted in route ${str(c.name) ?? ''} (also in virtual host ${prev})`
          : `only unique values for domains are permitted: duplicate entry of domain ${d} (also in virtual host ${prev})`, j);
      } else seen.set(d, vh.name);
    });
  });
  const referenced = new Set<string>();
  for (const vh of vhosts) {
    for (const m of vh.requestMirrorPolicies) if (m.cluster) referenced.add(m.cluster);
    for (const r of vh.routes) {
      if (r.action.kind !== 'route') continue;
      if (r.action.cluster) referenced.add(r.action.cluster);
      for (const w of r.action.weightedClusters?.clusters ?? []) if (w.name) referenced.add(w.name);
      for (const m of r.action.requestMirrorPolicies) if (m.cluster) referenced.add(m.cluster);
    }
  }
  const mirrors = translateMirrorPolicies(c.request_mirror_policies, issues.at('request_mirror_policies'));
  for (const m of mirrors) if (m.cluster) referenced.add(m.cluster);
  return {
    name: str(c.name) ?? '',
    virtualHosts: vhosts,
    mutations: translateHeaderMutations(c, issues),
    mostSpecificHeaderMutationsWins: c.most_specific_header_mutations_wins === true,
    ignorePortInHostMatching: c.ignore_port_in_host_matching === true,
    ignorePathParametersInPathMatching: c.ignore_path_parameters_in_path_matching === true,
    typedPerFilterConfig: translatePerFilterConfig(c.typed_per_filter_config, issues),
    requestMirrorPolicies: mirrors,
    internalOnlyHeaders,
    referencedClusters: [...referenced],
  };
}

/** For the listener translator (HCM inline `route_config`): the RouteConfig, or null when it has errors. */
export function translateInlineRouteConfiguration(raw: Canonical, issues: Issues, _ctx?: unknown): RouteConfig | null {
  const before = issues.errorCount;
  const value = translateRouteConfiguration(raw, issues);
  return issues.errorCount > before ? null : value;
}

/**
 * validate_clusters (a cross-resource check: the caller knows the cluster set): one error per cluster the route
 * table names (route cluster, weighted clusters, request mirror policies at route, virtual host and table level)
 * that `known` does not have, with its field path. Envoy defaults the field to false for RDS and to true for static
 * / inline route tables: the caller passes that default as `defaultOn`. cluster_header routes are not checked.
 */
export function unknownClusterErrors(raw: Canonical, known: (cluster: string) => boolean, defaultOn = false): FieldError[] {
  const on = typeof raw.validate_clusters === 'boolean' ? raw.validate_clusters : defaultOn;
  if (!on) return [];
  const out: FieldError[] = [];
  const check = (v: unknown, path: string, what: string): void => {
    if (typeof v === 'string' && v !== '' && !known(v)) out.push({ path, message: `route: unknown ${what}cluster '${v}' (validate_clusters)` });
  };
  const mirrors = (v: unknown, path: string): void => {
    list(v).forEach((m, i) => check(m.cluster, `${path}.request_mirror_policies[${i}].cluster`, 'request mirror policy '));
  };
  list(raw.virtual_hosts).forEach((vh, i) => {
    const vp = `virtual_hosts[${i}]`;
    mirrors(vh.request_mirror_policies, vp);
    list(vh.routes).forEach((r, j) => {
      const a = r.route as Canonical | undefined;
      if (!a || typeof a !== 'object') return;
      const rp = `${vp}.routes[${j}].route`;
      check(a.cluster, `${rp}.cluster`, '');
      const wc = a.weighted_clusters as Canonical | undefined;
      if (wc && typeof wc === 'object') list(wc.clusters).forEach((w, k) => check(w.name, `${rp}.weighted_clusters.clusters[${k}].name`, 'weighted '));
      mirrors(a.request_mirror_policies, rp);
    });
  });
  list(raw.request_mirror_policies).forEach((m, i) => check(m.cluster, `request_mirror_policies[${i}].cluster`, 'request mirror policy '));
  return out;
}

function* translateRdsResource(resource: Canonical): Slices<ValidationResult<RouteConfig>> {
  const issues = new IssuesImpl();
  const value = yield* translateRouteConfigurationSteps(resource, issues);
  return issues.result(value);
}

export const routeConfigurationResourceType: SlicedResourceType<RouteConfig> = {
  typeUrl: TypeUrl.RouteConfiguration,
  messageName: 'envoy.config.route.v3.RouteConfiguration',
  name: (r) => str(r.name) ?? '',
  translate: (resource) => runSlices(translateRdsResource(resource)),
  slicePath: ROUTE_CONFIGURATION_SLICES,
  translateSteps: (resource) => translateRdsResource(resource),
  dependencies: () => ({}),
};
