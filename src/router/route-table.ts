// router/: compiles a RouteConfig once per version into an immutable RouteTable and answers route() per request:
// vhost lookup (exact map, suffix then prefix wildcards longest first, '*'), pre-route checks, first-match route
// selection and the action (forward / redirect / direct response). Implements route-semantics.md sections A-K.
import type { HeaderMap, RequestHead } from '../common/headers.js';
import { appendHeader, firstHeader } from '../common/headers.js';
import { compileRegex, compileSubstitution, type CompiledRegex, type Substitution } from '../common/regex.js';
import type {
  ForwardActionConfig, HashPolicyConfig, MirrorPolicyConfig, PerFilterConfig, RetryPolicyConfig, RouteConfig, RouteEntryConfig,
  VirtualHostConfig, WeightedClusterEntryConfig,
} from '../config/route.js';
import { compileMutationLevel, type HeaderMutationLevel } from './header-mutation.js';
import { HeaderMatcher, parseQueryFirst, QueryParameterMatcher } from './matchers.js';
import type {
  ExplainStep, ForwardDecision, FormatContext, HashPolicy, LocalResponseDecision, MaxStreamDuration, MirrorPolicy, NoRouteDecision,
  RetryPolicy, RouteDecision, RouteExplanation, RouteLookupInput, RouteTable,
} from './types.js';
import { parseUriTemplate, parseUriTemplateRewrite, type UriTemplateRewrite } from './uri-template.js';

export interface RouteTableOptions {
  /** HCM suppress_envoy_headers: no x-envoy-original-path / x-envoy-original-host. */
  readonly suppressEnvoyHeaders?: boolean;
  /** Overrides config.vhostHeader: select the vhost by this request header instead of :authority. */
  readonly vhostHeader?: string;
  /** Live runtime lookups (layered runtime); absent → every key uses its default. */
  readonly runtime?: { getInteger(key: string, defaultValue: number): number };
  /**
   * Above this many routes in the table, a virtual host's routes compile on its first lookup (the domain index is
   * always built up front). Default LAZY_VHOST_ROUTE_THRESHOLD; 0 makes every table lazy, Infinity none.
   */
  readonly lazyThreshold?: number;
}

const EMPTY_MAP: ReadonlyMap<string, boolean> = new Map();
const NO_ROUTE_VHOST: NoRouteDecision = Object.freeze({ kind: 'none', reason: 'no_vhost' });
const NO_ROUTE: NoRouteDecision = Object.freeze({ kind: 'none', reason: 'no_route' });
const NO_SCHEME: NoRouteDecision = Object.freeze({ kind: 'none', reason: 'no_scheme' });

function mustRegex(pattern: string): CompiledRegex {
  const r = compileRegex(pattern);
  if (!r.ok) throw new Error(r.error);
  return r.regex;
}

function mustSub(re: CompiledRegex, sub: string): Substitution {
  const s = compileSubstitution(sub, re.groupCount);
  if (!s.ok) throw new Error(s.error);
  return s.substitution;
}

/** Path without ?query and #fragment. */
function pathOnlyOf(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 || c === 35) return path.slice(0, i);
  }
  return path;
}

/** Strips a trailing :port (IPv4/name or bracketed IPv6). Unbracketed IPv6 is left alone. */
export function stripPort(host: string): string {
  if (host.endsWith(']')) return host;
  const colon = host.lastIndexOf(':');
  if (colon < 0) return host;
  if (host.charCodeAt(0) === 91 /* [ */) {
    return host.charCodeAt(colon - 1) === 93 /* ] */ ? host.slice(0, colon) : host;
  }
  if (host.indexOf(':') !== colon) return host;
  return host.slice(0, colon);
}

/** Per-request scratch state (one small object per lookup). */
class RequestState {
  readonly pathOnly: string;
  private lower: string | undefined;
  private query: Map<string, string> | undefined;

  constructor(readonly input: RouteLookupInput, readonly head: RequestHead, ignorePathParams: boolean) {
    let p = pathOnlyOf(head.path);
    if (ignorePathParams) {
      const semi = p.indexOf(';');
      if (semi >= 0) p = p.slice(0, semi);
    }
    this.pathOnly = p;
  }

  get lowerPath(): string {
    return (this.lower ??= this.pathOnly.toLowerCase());
  }

  get params(): Map<string, string> {
    return (this.query ??= parseQueryFirst(this.head.path));
  }
}

function compileRetry(c: RetryPolicyConfig | undefined): RetryPolicy | null {
  if (!c) return null;
  return Object.freeze({
    retryOn: new Set(c.retryOn),
    numRetries: c.numRetries,
    perTryTimeoutMs: c.perTryTimeoutMs,
    perTryIdleTimeoutMs: c.perTryIdleTimeoutMs,
    retriableStatusCodes: new Set(c.retriableStatusCodes),
    retriableHeaders: c.retriableHeaders.map((h) => {
      const m = new HeaderMatcher(h);
      return (headers: HeaderMap): boolean => m.matchHeaders(headers);
    }),
    backoff: { baseIntervalMs: c.baseIntervalMs, maxIntervalMs: c.maxIntervalMs },
    avoidPreviousHosts: c.avoidPreviousHosts,
    hostSelectionRetryMaxAttempts: c.hostSelectionRetryMaxAttempts,
  });
}

function compileMirrors(list: readonly MirrorPolicyConfig[]): readonly MirrorPolicy[] {
  return Object.freeze(list.map((m) => Object.freeze({
    cluster: m.cluster,
    ...(m.clusterHeader ? { clusterHeader: m.clusterHeader } : {}),
    numerator: m.fraction.numerator,
    denominator: m.fraction.denominator,
    disableShadowHostSuffixAppend: m.disableShadowHostSuffixAppend,
  })));
}

/** Tables with more routes than this compile each virtual host on its first lookup instead of all up front. */
export const LAZY_VHOST_ROUTE_THRESHOLD = 2000;

/** Compilation work that yields between slices (one route each) and returns T when done. */
export type CompileSteps<T> = Generator<void, T, void>;

class CompiledVhost {
  readonly level: HeaderMutationLevel | null;
  readonly virtualClusters: readonly { readonly name: string; readonly matchers: readonly HeaderMatcher[] }[];
  private compiled: CompiledRoute[] | null = null;

  constructor(readonly config: VirtualHostConfig, readonly index: number, readonly table: CompiledTable) {
    this.level = compileMutationLevel(config.mutations);
    this.virtualClusters = config.virtualClusters.length === 0 ? [] : config.virtualClusters.map((v) => ({ name: v.name, matchers: v.headers.map((h) => new HeaderMatcher(h)) }));
  }

  /** Compiles the routes now, yielding after each (the table is not visible to lookups until all are done). */
  *compileSteps(): CompileSteps<void> {
    const out: CompiledRoute[] = [];
    const rs = this.config.routes;
    for (let i = 0; i < rs.length; i++) {
      out.push(new CompiledRoute(rs[i], i, this));
      yield;
    }
    this.compiled = out;
  }

  /** The compiled routes (compiled on first use for a lazily compiled table; the config was validated already). */
  get routes(): CompiledRoute[] {
    return this.compiled ?? (this.compiled = this.compileRoutes());
  }

  get isCompiled(): boolean {
    return this.compiled !== null;
  }

  private compileRoutes(): CompiledRoute[] {
    return this.config.routes.map((r, i) => new CompiledRoute(r, i, this));
  }

  virtualClusterFor(head: RequestHead): string {
    const vcs = this.virtualClusters;
    if (vcs.length === 0) return '';
    for (let i = 0; i < vcs.length; i++) {
      const ms = vcs[i].matchers;
      let ok = true;
      for (let j = 0; j < ms.length && ok; j++) ok = ms[j].matchRequest(head);
      if (ok) return vcs[i].name;
    }
    return 'other';
  }

  perFilter(name: string): Readonly<Record<string, unknown>> | undefined {
    return this.config.typedPerFilterConfig[name] ?? this.table.config.typedPerFilterConfig[name];
  }
}

class WeightedEntry {
  readonly level: HeaderMutationLevel | null;
  readonly runtimeKey: string | undefined;
  /** Reusable decision when the entry names its cluster and the vhost has no virtual clusters. */
  decision: ForwardDecisionImpl | null = null;

  constructor(readonly config: WeightedClusterEntryConfig, prefix: string | undefined) {
    this.level = compileMutationLevel(config.mutations);
    this.runtimeKey = prefix && config.name ? `${prefix}.${config.name}` : undefined;
  }
}

const enum PathKind { Prefix, Path, Regex, Separated, Template }

/**
 * The literal text every full match of `pattern` must start with ('' when unknown), so a path that cannot match is
 * rejected without calling into the regex engine. Conservative: only plain characters after an optional '^', none
 * when the pattern has an alternation anywhere, and a character followed by a quantifier is not required.
 */
export function regexLiteralPrefix(pattern: string): string {
  if (pattern.includes('|')) return '';
  let i = pattern.charCodeAt(0) === 94 /* ^ */ ? 1 : 0;
  const start = i;
  while (i < pattern.length && /[A-Za-z0-9/_-]/.test(pattern[i])) i++;
  let end = i;
  const next = pattern[i];
  if (end > start && (next === '*' || next === '+' || next === '?' || next === '{')) end--;
  return pattern.slice(start, end);
}

class CompiledRoute {
  readonly name: string;
  private readonly pathKind: PathKind;
  private readonly value: string;
  private readonly caseSensitive: boolean;
  private readonly regex: CompiledRegex | null;
  /** Literal start of every path the regex can match ('' = none known): checked before the regex engine runs. */
  private readonly regexPrefix: string;
  private readonly templateVars: readonly string[];
  private readonly headers: readonly HeaderMatcher[] | null;
  private readonly query: readonly QueryParameterMatcher[] | null;
  private readonly grpc: boolean;
  readonly level: HeaderMutationLevel | null;
  /** Request-side levels in application order (route/vhost/config or reversed); weighted entry levels come first. */
  readonly requestLevels: readonly HeaderMutationLevel[];
  readonly responseLevels: readonly HeaderMutationLevel[];
  readonly forward: ForwardActionConfig | null;
  readonly weighted: readonly WeightedEntry[] | null;
  readonly weightTotal: number;
  readonly retry: RetryPolicy | null;
  readonly hashPolicies: readonly HashPolicy[];
  readonly mirrors: readonly MirrorPolicy[];
  readonly upgrades: ReadonlyMap<string, boolean>;
  readonly maxStreamDuration: MaxStreamDuration | null;
  private readonly rewriteRegex: CompiledRegex | null;
  private readonly rewriteSub: Substitution | null;
  private readonly rewriteTemplate: UriTemplateRewrite | null;
  private readonly hostRegex: CompiledRegex | null;
  private readonly hostSub: Substitution | null;
  /** Reusable decision for a fixed cluster when the vhost has no virtual clusters (zero allocation per request). */
  private fixedDecision: ForwardDecisionImpl | null = null;

  constructor(readonly config: RouteEntryConfig, readonly index: number, readonly vhost: CompiledVhost) {
    const m = config.match;
    this.name = config.name;
    this.caseSensitive = m.caseSensitive;
    this.regex = null;
    this.regexPrefix = '';
    this.templateVars = [];
    switch (m.kind) {
      case 'prefix': this.pathKind = PathKind.Prefix; break;
      case 'path': this.pathKind = PathKind.Path; break;
      case 'path_separated_prefix': this.pathKind = PathKind.Separated; break;
      case 'safe_regex':
        this.pathKind = PathKind.Regex;
        this.regex = mustRegex(m.value);
        this.regexPrefix = regexLiteralPrefix(m.value);
        break;
      case 'uri_template': {
        this.pathKind = PathKind.Template;
        const t = parseUriTemplate(m.value);
        if (!t.ok) throw new Error(t.error);
        this.regex = mustRegex(t.template.regex);
        this.templateVars = t.template.variables;
        break;
      }
    }
    this.value = m.caseSensitive || this.pathKind === PathKind.Regex ? m.value : m.value.toLowerCase();
    this.headers = m.headers.length ? m.headers.map((h) => new HeaderMatcher(h)) : null;
    this.query = m.queryParameters.length ? m.queryParameters.map((q) => new QueryParameterMatcher(q)) : null;
    this.grpc = m.grpc;
    this.level = compileMutationLevel(config.mutations);
    const table = vhost.table;
    const levels = [this.level, vhost.level, table.level].filter((l): l is HeaderMutationLevel => l !== null);
    if (table.config.mostSpecificHeaderMutationsWins) levels.reverse();
    this.requestLevels = levels.filter((l) => l.hasRequest);
    this.responseLevels = levels.filter((l) => l.hasResponse);

    const a = config.action;
    this.forward = a.kind === 'route' ? a : null;
    let rr: CompiledRegex | null = null;
    let rs: Substitution | null = null;
    let rt: UriTemplateRewrite | null = null;
    let hr: CompiledRegex | null = null;
    let hs: Substitution | null = null;
    if (a.kind === 'route') {
      if (a.pathRewrite?.kind === 'regex') {
        rr = mustRegex(a.pathRewrite.pattern);
        rs = mustSub(rr, a.pathRewrite.substitution);
      } else if (a.pathRewrite?.kind === 'uri_template') {
        const r = parseUriTemplateRewrite(a.pathRewrite.template);
        if (!r.ok) throw new Error(r.error);
        rt = r.rewrite;
      }
      if (a.hostRewrite?.kind === 'path_regex') {
        hr = mustRegex(a.hostRewrite.pattern);
        hs = mustSub(hr, a.hostRewrite.substitution);
      }
    } else if (a.kind === 'redirect' && a.regexRewrite) {
      rr = mustRegex(a.regexRewrite.pattern);
      rs = mustSub(rr, a.regexRewrite.substitution);
    }
    this.rewriteRegex = rr;
    this.rewriteSub = rs;
    this.rewriteTemplate = rt;
    this.hostRegex = hr;
    this.hostSub = hs;
    const f = this.forward;
    this.weighted = f?.weightedClusters ? f.weightedClusters.clusters.map((c) => new WeightedEntry(c, f.weightedClusters!.runtimeKeyPrefix)) : null;
    this.weightTotal = this.weighted ? this.weighted.reduce((s, e) => s + e.config.weight, 0) : 0;
    this.retry = compileRetry(f?.retryPolicy);
    this.hashPolicies = Object.freeze((f?.hashPolicies ?? []).map((h: HashPolicyConfig) => Object.freeze({ ...h })));
    this.mirrors = compileMirrors(f ? [...f.requestMirrorPolicies, ...(f.requestMirrorPolicies.length ? [] : table.config.requestMirrorPolicies)] : []);
    this.upgrades = f && Object.keys(f.upgrades).length ? new Map(Object.entries(f.upgrades)) : EMPTY_MAP;
    this.maxStreamDuration = f?.maxStreamDuration ? Object.freeze({ ...f.maxStreamDuration }) : null;
  }

  /** 0 when every condition holds; otherwise a code naming the first failing one (see failureText). */
  check(rs: RequestState): number {
    const m = this.config.match;
    if (m.runtimeFraction && !this.vhost.table.runtimeEnabled(m.runtimeFraction.runtimeKey, m.runtimeFraction.defaultValue.numerator, m.runtimeFraction.defaultValue.denominator, rs.input)) return 1;
    if (this.grpc && !isGrpc(rs.head)) return 2;
    const hs = this.headers;
    if (hs !== null) for (let i = 0; i < hs.length; i++) if (!hs[i].matchRequest(rs.head)) return 100 + i;
    const qs = this.query;
    if (qs !== null) {
      const params = rs.params;
      for (let i = 0; i < qs.length; i++) if (!qs[i].match(params)) return 1000 + i;
    }
    return this.matchPath(rs) ? 0 : 3;
  }

  private matchPath(rs: RequestState): boolean {
    const v = this.value;
    switch (this.pathKind) {
      case PathKind.Prefix: return (this.caseSensitive ? rs.pathOnly : rs.lowerPath).startsWith(v);
      case PathKind.Path: return (this.caseSensitive ? rs.pathOnly : rs.lowerPath) === v;
      case PathKind.Separated: {
        const p = this.caseSensitive ? rs.pathOnly : rs.lowerPath;
        return p.startsWith(v) && (p.length === v.length || p.charCodeAt(v.length) === 47);
      }
      default: {
        const pre = this.regexPrefix;
        if (pre !== '' && !rs.pathOnly.startsWith(pre)) return false;
        return this.regex!.fullMatch(rs.pathOnly);
      }
    }
  }

  failureText(code: number, rs: RequestState): string {
    if (code === 1) return `runtime_fraction ${this.config.match.runtimeFraction!.runtimeKey || '(no key)'} not enabled`;
    if (code === 2) return `not gRPC (content-type ${JSON.stringify(firstHeader(rs.head.headers, 'content-type') ?? null)})`;
    if (code === 3) return `path ${JSON.stringify(rs.pathOnly)} does not match`;
    if (code >= 1000) return `${this.query![code - 1000].describe()} not satisfied`;
    const h = this.headers![code - 100];
    return `${h.describe()} not satisfied (value ${JSON.stringify(firstHeader(rs.head.headers, h.name) ?? null)})`;
  }

  describe(): string {
    const m = this.config.match;
    const kind = m.kind === 'uri_template' ? 'path_template' : m.kind;
    return `${kind} ${JSON.stringify(m.value)}${m.caseSensitive ? '' : ' (case-insensitive)'}`;
  }

  /** Rewrites the matched part of `path` with `replacement` (bullet 45). */
  rewritePrefix(path: string, replacement: string): string {
    if (this.pathKind === PathKind.Prefix || this.pathKind === PathKind.Separated) return replacement + path.slice(this.config.match.value.length);
    return replacement + path.slice(pathOnlyOf(path).length);
  }

  /** regex_rewrite (bullet 47): replace-all over the path without query; '' result leaves the path unchanged. */
  rewriteRegexPath(path: string): string {
    const only = pathOnlyOf(path);
    const out = this.rewriteRegex!.replaceAll(only, this.rewriteSub!);
    return out === '' ? path : out + path.slice(only.length);
  }

  private rewriteTemplatePath(path: string): string {
    const only = pathOnlyOf(path);
    const m = this.regex!;
    // Re-run the template with captures: RE2 full match via a search on the anchored pattern.
    const groups = execTemplate(m, only);
    if (groups === null) return path;
    let out = '';
    for (const p of this.rewriteTemplate!) {
      if ('literal' in p) out += p.literal;
      else {
        const i = this.templateVars.indexOf(p.variable);
        out += i >= 0 ? (groups[i + 1] ?? '') : '';
      }
    }
    return out + path.slice(only.length);
  }

  /** New :path for a forwarding route, or undefined when the route does not rewrite. */
  rewrittenPath(path: string): string | undefined {
    const pr = this.forward?.pathRewrite;
    if (!pr) return undefined;
    if (pr.kind === 'prefix') return this.rewritePrefix(path, pr.value);
    if (pr.kind === 'regex') return this.rewriteRegexPath(path);
    return this.rewriteTemplatePath(path);
  }

  rewrittenHost(head: RequestHead): string | undefined {
    const hr = this.forward?.hostRewrite;
    if (!hr) return undefined;
    switch (hr.kind) {
      case 'literal': return hr.value;
      case 'header': return firstHeader(head.headers, hr.header) || undefined;
      case 'path_regex': return this.hostRegex!.replaceAll(pathOnlyOf(head.path), this.hostSub!) || undefined;
      default: return undefined;
    }
  }

  /** The forwarding decision for this request (cluster resolution, weighted pick). */
  decide(rs: RequestState): ForwardDecisionImpl {
    const f = this.forward!;
    const reuse = this.vhost.virtualClusters.length === 0;
    if (this.weighted) {
      const e = this.pickWeighted(rs);
      if (e.config.name !== undefined) {
        if (reuse) return (e.decision ??= new ForwardDecisionImpl(this, e.config.name, e, ''));
        return new ForwardDecisionImpl(this, e.config.name, e, this.vhost.virtualClusterFor(rs.head));
      }
      return new ForwardDecisionImpl(this, firstHeader(rs.head.headers, e.config.clusterHeader!) ?? '', e, this.vhost.virtualClusterFor(rs.head));
    }
    if (f.clusterHeader !== undefined) {
      return new ForwardDecisionImpl(this, firstHeader(rs.head.headers, f.clusterHeader) ?? '', null, this.vhost.virtualClusterFor(rs.head));
    }
    if (reuse) return (this.fixedDecision ??= new ForwardDecisionImpl(this, f.cluster ?? '', null, ''));
    return new ForwardDecisionImpl(this, f.cluster ?? '', null, this.vhost.virtualClusterFor(rs.head));
  }

  private pickWeighted(rs: RequestState): WeightedEntry {
    const entries = this.weighted!;
    const wc = this.forward!.weightedClusters!;
    let random = rs.input.randomValue;
    if (wc.headerName !== undefined) {
      const v = rs.head.headers[wc.headerName];
      if (typeof v === 'string' && /^\d+$/.test(v)) random = Number(v);
    }
    const runtime = this.vhost.table.options.runtime;
    let total = this.weightTotal;
    let weights: number[] | null = null;
    if (runtime && wc.runtimeKeyPrefix !== undefined && rs.input.runtimeMode !== 'check-tool') {
      weights = entries.map((e) => (e.runtimeKey ? runtime.getInteger(e.runtimeKey, e.config.weight) : e.config.weight));
      total = weights.reduce((s, w) => s + w, 0);
    }
    if (total <= 0) return entries[0];
    const selected = random % total;
    let end = 0;
    for (let i = 0; i < entries.length; i++) {
      end += weights ? weights[i] : entries[i].config.weight;
      if (selected < end) return entries[i];
    }
    return entries[entries.length - 1];
  }

  /** Location for a redirect action (bullets 54-58), computed from the request as received. */
  redirectLocation(head: RequestHead): string {
    const a = this.config.action;
    if (a.kind !== 'redirect') return requestUrl(head);
    const scheme = a.scheme ?? head.scheme;
    const port = a.port !== undefined ? `:${a.port}` : '';
    const host = a.host ?? processRequestHost(head, scheme, port);
    let path: string;
    if (a.path !== undefined) {
      if (a.path.includes('?')) return `${scheme}://${host}${port}${a.path}`;
      const q = head.path.indexOf('?');
      path = q >= 0 ? a.path + head.path.slice(q) : a.path;
    } else if (a.prefixRewrite !== undefined) path = this.rewritePrefix(head.path, a.prefixRewrite);
    else if (a.regexRewrite) path = this.rewriteRegexPath(head.path);
    else path = head.path;
    if (a.stripQuery) {
      const q = path.indexOf('?');
      if (q >= 0) path = path.slice(0, q);
    }
    return `${scheme}://${host}${port}${path}`;
  }
}

function execTemplate(re: CompiledRegex, path: string): (string | undefined)[] | null {
  return re.fullMatchGroups(path);
}

function isGrpc(head: RequestHead): boolean {
  const ct = firstHeader(head.headers, 'content-type');
  return ct !== undefined && (ct === 'application/grpc' || ct.startsWith('application/grpc+'));
}

function requestUrl(head: RequestHead): string {
  return `${head.scheme}://${head.authority}${head.path}`;
}

/** Envoy processRequestHost: drop the request's port for port_redirect, or a default port when the scheme changes. */
function processRequestHost(head: RequestHead, newScheme: string, newPort: string): string {
  const host = head.authority;
  if (!host) return host;
  let end: number;
  if (host.charCodeAt(0) === 91) {
    end = host.lastIndexOf(']:');
    if (end >= 0) end += 1;
  } else end = host.lastIndexOf(':');
  if (end < 0) return host;
  const port = host.slice(end);
  const proto = firstHeader(head.headers, 'x-forwarded-proto') ?? head.scheme;
  let remove = newPort !== '';
  if (newScheme !== proto) {
    remove ||= proto === 'https' && port === ':443';
    remove ||= proto === 'http' && port === ':80';
  }
  return remove ? host.slice(0, end) : host;
}

class ForwardDecisionImpl implements ForwardDecision {
  readonly kind = 'forward' as const;

  constructor(private readonly route: CompiledRoute, readonly cluster: string, private readonly entry: WeightedEntry | null, readonly virtualClusterName: string) {}

  get clusterNotFoundStatus(): number { return this.route.forward!.clusterNotFoundStatus; }
  get vhostName(): string { return this.route.vhost.config.name; }
  get routeName(): string { return this.route.name; }
  get routeIndex(): number { return this.route.index; }
  get timeoutMs(): number { return this.route.forward!.timeoutMs; }
  get idleTimeoutMs(): number { return this.route.forward!.idleTimeoutMs ?? -1; }
  get retryPolicy(): RetryPolicy | null { return this.route.retry; }
  get hashPolicies(): readonly HashPolicy[] { return this.route.hashPolicies; }
  get mirrorPolicies(): readonly MirrorPolicy[] { return this.route.mirrors; }
  get maxStreamDuration(): MaxStreamDuration | null { return this.route.maxStreamDuration; }
  get upgrades(): ReadonlyMap<string, boolean> { return this.route.upgrades; }
  get autoHostRewrite(): boolean { return this.route.forward!.hostRewrite?.kind === 'auto'; }
  get includeAttemptCount(): boolean { return this.route.vhost.config.includeRequestAttemptCount; }
  get includeAttemptCountInResponse(): boolean { return this.route.vhost.config.includeAttemptCountInResponse; }
  get decorator(): { readonly operation: string; readonly propagate: boolean } | null { return this.route.config.decorator ?? null; }

  perFilterConfig(filterName: string): Readonly<Record<string, unknown>> | undefined {
    const e = this.entry?.config.typedPerFilterConfig[filterName];
    if (e) return e;
    return (this.route.config.typedPerFilterConfig as PerFilterConfig)[filterName] ?? this.route.vhost.perFilter(filterName);
  }

  virtualClusterFor(head: RequestHead): string {
    return this.route.vhost.virtualClusterFor(head);
  }

  finalizeRequest(head: RequestHead, ctx: FormatContext): void {
    const route = this.route;
    const e = this.entry;
    if (e !== null) {
      e.level?.applyRequest(head, ctx);
      if (e.config.hostRewriteLiteral) head.authority = e.config.hostRewriteLiteral;
    }
    const levels = route.requestLevels;
    for (let i = 0; i < levels.length; i++) levels[i].applyRequest(head, ctx);
    const keep = !route.vhost.table.options.suppressEnvoyHeaders;
    const newHost = route.rewrittenHost(head);
    if (newHost !== undefined) {
      const old = head.authority;
      if (old) {
        if (route.forward!.appendXForwardedHost) {
          const xfh = head.headers['x-forwarded-host'];
          const cur = typeof xfh === 'string' ? xfh : xfh?.join(',');
          if (cur === undefined || cur === '') head.headers['x-forwarded-host'] = old;
          else if (cur.slice(cur.lastIndexOf(',') + 1).trim() !== old) head.headers['x-forwarded-host'] = `${cur},${old}`;
        }
        if (keep) head.headers['x-envoy-original-host'] = old;
      }
      head.authority = newHost;
    }
    const newPath = route.rewrittenPath(head.path);
    if (newPath !== undefined) {
      if (keep) head.headers['x-envoy-original-path'] = head.path;
      head.path = newPath;
    }
  }

  finalizeResponse(headers: HeaderMap, ctx: FormatContext): void {
    this.entry?.level?.applyResponse(headers, ctx, ctx.requestHead);
    const levels = this.route.responseLevels;
    for (let i = 0; i < levels.length; i++) levels[i].applyResponse(headers, ctx, ctx.requestHead);
  }
}

class LocalDecisionImpl implements LocalResponseDecision {
  constructor(
    readonly kind: 'redirect' | 'direct',
    readonly status: number,
    readonly location: string,
    readonly body: Buffer | null,
    readonly vhostName: string,
    readonly routeName: string,
    readonly routeIndex: number,
    private readonly levels: readonly HeaderMutationLevel[],
  ) {}

  finalizeResponse(headers: HeaderMap, ctx: FormatContext): void {
    if (this.body !== null && this.body.length > 0) {
      appendHeader(headers, 'content-length', String(this.body.length));
      appendHeader(headers, 'content-type', 'text/plain');
    }
    for (let i = 0; i < this.levels.length; i++) this.levels[i].applyResponse(headers, ctx, ctx.requestHead);
  }
}

/** Suffix/prefix wildcard buckets, one Map per wildcard length, longest first. */
type Buckets = readonly (readonly [number, Map<string, CompiledVhost>])[];

function buckets(m: Map<number, Map<string, CompiledVhost>>): Buckets {
  return [...m.entries()].sort((a, b) => b[0] - a[0]);
}

class CompiledTable implements RouteTable {
  readonly name: string;
  readonly level: HeaderMutationLevel | null;
  private readonly vhosts: CompiledVhost[] = [];
  private readonly exact = new Map<string, CompiledVhost>();
  private suffixes: Buckets = [];
  private prefixes: Buckets = [];
  private defaultVhost: CompiledVhost | null = null;
  private onlyDefault = false;
  private readonly vhostHeader: string | undefined;

  /** An empty table: build() fills it; nobody sees it before build() has returned it. */
  constructor(readonly config: RouteConfig, readonly options: RouteTableOptions) {
    this.name = config.name;
    this.level = compileMutationLevel(config.mutations);
    this.vhostHeader = (options.vhostHeader ?? config.vhostHeader)?.toLowerCase();
  }

  /** Compiles every virtual host (and its routes unless lazy), yielding after each route, then indexes domains. */
  *build(): CompileSteps<RouteTable> {
    const config = this.config;
    let total = 0;
    for (const v of config.virtualHosts) total += v.routes.length;
    const lazy = (this.options.lazyThreshold ?? LAZY_VHOST_ROUTE_THRESHOLD) < total;
    for (let i = 0; i < config.virtualHosts.length; i++) {
      const vh = new CompiledVhost(config.virtualHosts[i], i, this);
      this.vhosts.push(vh);
      if (!lazy) yield* vh.compileSteps();
      yield;
    }
    this.indexDomains();
    return this;
  }

  private indexDomains(): void {
    const suf = new Map<number, Map<string, CompiledVhost>>();
    const pre = new Map<number, Map<string, CompiledVhost>>();
    for (const vh of this.vhosts) {
      for (const d of vh.config.domains) {
        if (d === '*') {
          this.defaultVhost ??= vh;
        } else if (d.startsWith('*')) {
          const s = d.slice(1);
          let m = suf.get(s.length);
          if (!m) suf.set(s.length, (m = new Map()));
          if (!m.has(s)) m.set(s, vh);
        } else if (d.endsWith('*')) {
          const p = d.slice(0, -1);
          let m = pre.get(p.length);
          if (!m) pre.set(p.length, (m = new Map()));
          if (!m.has(p)) m.set(p, vh);
        } else if (!this.exact.has(d)) this.exact.set(d, vh);
      }
    }
    this.suffixes = buckets(suf);
    this.prefixes = buckets(pre);
    this.onlyDefault = this.defaultVhost !== null && this.exact.size === 0 && suf.size === 0 && pre.size === 0;
  }

  runtimeEnabled(key: string, numerator: number, denominator: number, input: RouteLookupInput): boolean {
    const r = input.randomValue;
    if (input.runtimeMode === 'check-tool') {
      // router_check_tool: only the case's runtime key is enabled; numerator 0 counts as 1 (route-check-format.md §4.3).
      return input.runtimeKey === key && r % denominator < (numerator === 0 ? 1 : numerator);
    }
    const n = this.options.runtime && key ? this.options.runtime.getInteger(key, numerator) : numerator;
    return r % denominator < n;
  }

  private findVhost(head: RequestHead): CompiledVhost | null {
    if (this.onlyDefault) return this.defaultVhost;
    const raw = this.vhostHeader !== undefined ? firstHeader(head.headers, this.vhostHeader) : head.authority;
    if (!raw) return null;
    let host = raw.toLowerCase();
    if (this.config.ignorePortInHostMatching) host = stripPort(host);
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    const len = host.length;
    for (const [l, m] of this.suffixes) {
      if (l >= len) continue;
      const v = m.get(host.slice(len - l));
      if (v !== undefined) return v;
    }
    for (const [l, m] of this.prefixes) {
      if (l >= len) continue;
      const v = m.get(host.slice(0, l));
      if (v !== undefined) return v;
    }
    return this.defaultVhost;
  }

  route(input: RouteLookupInput): RouteDecision {
    return this.resolve(input, null);
  }

  /** Virtual hosts whose routes are compiled so far (all of them unless the table is lazy). */
  compiledVhostCount(): number {
    let n = 0;
    for (const v of this.vhosts) if (v.isCompiled) n++;
    return n;
  }

  explain(input: RouteLookupInput): RouteExplanation {
    const steps: ExplainStep[] = [];
    const decision = this.resolve(input, steps);
    return { decision, steps };
  }

  private resolve(input: RouteLookupInput, steps: ExplainStep[] | null): RouteDecision {
    const head = input.head;
    const vh = this.findVhost(head);
    if (vh === null) {
      steps?.push({ level: 'vhost', name: '', index: -1, matched: false, match: `host ${JSON.stringify(head.authority)}`, reason: 'no virtual host domain matches and there is no "*"' });
      return NO_ROUTE_VHOST;
    }
    steps?.push({ level: 'vhost', name: vh.config.name, index: vh.index, matched: true, match: `domains [${vh.config.domains.join(', ')}]` });
    if (!head.scheme) return NO_SCHEME;
    const tls = vh.config.requireTls;
    if (tls !== 'NONE' && head.scheme !== 'https' && !(tls === 'EXTERNAL_ONLY' && firstHeader(head.headers, 'x-envoy-internal') === 'true')) {
      steps?.push({ level: 'vhost', name: vh.config.name, index: vh.index, matched: true, match: `require_tls ${tls}`, reason: 'request is not TLS: redirect to https' });
      return new LocalDecisionImpl('redirect', 301, `https://${head.authority}${head.path}`, null, vh.config.name, '', -1, []);
    }
    const rs = new RequestState(input, head, this.config.ignorePathParametersInPathMatching);
    const routes = vh.routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i];
      const code = r.check(rs);
      if (code !== 0) {
        steps?.push({ level: 'route', name: r.name, index: i, matched: false, match: r.describe(), reason: r.failureText(code, rs) });
        continue;
      }
      steps?.push({ level: 'route', name: r.name, index: i, matched: true, match: r.describe() });
      const a = r.config.action;
      if (a.kind === 'route') return r.decide(rs);
      if (a.kind === 'redirect') return new LocalDecisionImpl('redirect', a.status, r.redirectLocation(head), null, vh.config.name, r.name, i, r.responseLevels);
      return new LocalDecisionImpl('direct', a.status, requestUrl(head), a.body ?? null, vh.config.name, r.name, i, r.responseLevels);
    }
    return NO_ROUTE;
  }
}

/** Compiles a translated RouteConfig (already validated) into the immutable lookup structure. */
export function compileRouteTable(config: RouteConfig, opts: RouteTableOptions = {}): RouteTable {
  const steps = compileRouteTableSteps(config, opts);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * compileRouteTable in slices (one route per slice): the same table, built aside and returned only when complete,
 * so a caller that swaps tables by reference never exposes a half-compiled one. The one implementation:
 * compileRouteTable runs it to the end.
 */
export function compileRouteTableSteps(config: RouteConfig, opts: RouteTableOptions = {}): CompileSteps<RouteTable> {
  return new CompiledTable(config, opts).build();
}
