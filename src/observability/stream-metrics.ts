// observability/: Envoy's per-HCM and per-cluster request stats fed from finished streams (HttpDeps.onStreamEnd).
// Stat objects are bound when config is applied (one per stat_prefix / cluster); per stream they are looked up by
// name once. Label style is Envoy's (envoy_cluster_name, class "2") or Istio's (cluster_name, class "2xx").
import type { Issues } from '../common/validation.js';
import { compileRegex } from '../common/regex.js';
import { Metrics, bindCounter, bindGauge, bindHistogram, zeroHistogram, type BoundCounter, type BoundHistogram, type StatDef } from './metrics.js';
import type { Gauge } from 'prom-client';
import { nextSlice } from '../common/next-slice.js';

export type LabelStyle = 'envoy' | 'istio';

/** Decides whether a concrete Envoy stat name (`cluster.foo.upstream_rq_200`) is kept. */
export type StatsInclusion = (statName: string) => boolean;

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * bootstrap `stats_config.stats_matcher`: inclusion_list / exclusion_list of StringMatchers (exact, prefix, suffix,
 * contains, safe_regex) or reject_all. Returns null when every stat is kept.
 */
export function compileStatsMatcher(statsConfig: Obj | null | undefined, issues: Issues): StatsInclusion | null {
  if (!statsConfig) return null;
  for (const k of Object.keys(statsConfig)) {
    if (k === 'stats_matcher' || k === 'use_all_default_tags') continue;
    if (k === 'stats_tags' || k === 'histogram_bucket_settings') issues.error(`${k} is not supported by meshlet`, k);
  }
  const m = statsConfig.stats_matcher;
  if (!isObj(m)) return null;
  const at = issues.at('stats_matcher');
  if (m.reject_all === true) return () => false;
  const listKey = m.inclusion_list !== undefined ? 'inclusion_list' : m.exclusion_list !== undefined ? 'exclusion_list' : null;
  if (!listKey) return null;
  const list = isObj(m[listKey]) && Array.isArray((m[listKey] as Obj).patterns) ? ((m[listKey] as Obj).patterns as unknown[]) : [];
  const tests: ((s: string) => boolean)[] = [];
  list.forEach((p, i) => {
    const pi = at.at(listKey).at('patterns').at(i);
    if (!isObj(p)) return pi.error('expected a StringMatcher');
    const ic = p.ignore_case === true;
    const norm = (s: string): string => (ic ? s.toLowerCase() : s);
    if (typeof p.exact === 'string') { const v = norm(p.exact); tests.push((s) => norm(s) === v); }
    else if (typeof p.prefix === 'string') { const v = norm(p.prefix); tests.push((s) => norm(s).startsWith(v)); }
    else if (typeof p.suffix === 'string') { const v = norm(p.suffix); tests.push((s) => norm(s).endsWith(v)); }
    else if (typeof p.contains === 'string') { const v = norm(p.contains); tests.push((s) => norm(s).includes(v)); }
    else if (isObj(p.safe_regex) && typeof p.safe_regex.regex === 'string') {
      const r = compileRegex(p.safe_regex.regex);
      if (!r.ok) return pi.error(r.error, 'safe_regex.regex');
      const re = r.regex;
      tests.push((s) => re.fullMatch(s));
    } else pi.error('unsupported StringMatcher');
  });
  const any = (s: string): boolean => tests.some((t) => t(s));
  return listKey === 'inclusion_list' ? any : (s) => !any(s);
}

/** Envoy label style unless the node metadata says Istio (ISTIO_VERSION present). */
export function labelStyleFor(nodeMetadata: Obj | undefined): LabelStyle {
  return nodeMetadata && nodeMetadata.ISTIO_VERSION !== undefined ? 'istio' : 'envoy';
}

const NOOP_COUNTER: BoundCounter = { inc: () => undefined };
const NOOP_HIST: BoundHistogram = { observe: () => undefined };

/** What stats read of a finished stream (a subset of http/ StreamInfo). */
export interface StreamStatsInput {
  readonly statPrefix: string;
  readonly durationMs: number;
  readonly responseCode: number;
  readonly responseFlags: readonly string[];
  readonly responseCodeDetails: string;
  readonly upstreamCluster: string;
  readonly upstreamHost: string;
  readonly attemptCount?: number;
  readonly upstreamServiceTimeMs?: number;
}

interface HcmStats {
  readonly rqTotal: BoundCounter;
  readonly rqXx: readonly BoundCounter[];
  readonly rqCompleted: BoundCounter;
  readonly rqTime: BoundHistogram;
  readonly noRoute: BoundCounter;
}

interface ClusterStatsBound {
  readonly name: string;
  readonly rqTotal: BoundCounter;
  readonly rqXx: readonly BoundCounter[];
  /** upstream_rq_<code>, created lazily per new code and cached. */
  readonly byCode: Map<number, BoundCounter>;
  readonly rqCompleted: BoundCounter;
  readonly rqTime: BoundHistogram;
  readonly retry: BoundCounter;
  readonly timeout: BoundCounter;
  readonly pendingOverflow: BoundCounter;
  readonly noneHealthy: BoundCounter;
}

/** The cluster manager as the scrape-time gauges see it. */
export interface ClusterGaugeSource {
  names(): Iterable<string>;
  get(name: string): { hosts(): readonly { readonly healthFlags: ReadonlySet<string> }[]; readonly outlier: { readonly stats: { readonly ejectionsActive: number } } | null } | undefined;
}

export interface StreamMetricsOptions {
  readonly style?: LabelStyle;
  readonly include?: StatsInclusion | null;
  readonly clusters?: ClusterGaugeSource;
}

/** prom-client shows a child only once it has a value: bound stats start at 0, as Envoy's do. */
function zeroed(c: BoundCounter): BoundCounter {
  c.inc(0);
  return c;
}

function concrete(template: string, labels: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g, (_m, l: string) => labels[l] ?? '');
}

export class StreamMetrics {
  readonly style: LabelStyle;
  private readonly include: StatsInclusion | null;
  private readonly hcms = new Map<string, HcmStats>();
  private readonly clusters = new Map<string, ClusterStatsBound>();
  private readonly L: { cluster: string; code: string; cls: string; hcm: string };
  private readonly clsValue: (c: number) => string;

  constructor(private readonly metrics: Metrics, opts: StreamMetricsOptions = {}) {
    this.style = opts.style ?? 'envoy';
    this.include = opts.include ?? null;
    const istio = this.style === 'istio';
    this.L = istio
      ? { cluster: 'cluster_name', code: 'response_code', cls: 'response_code_class', hcm: 'http_conn_manager_prefix' }
      : { cluster: 'envoy_cluster_name', code: 'envoy_response_code', cls: 'envoy_response_code_class', hcm: 'envoy_http_conn_manager_prefix' };
    this.clsValue = istio ? (c) => `${c}xx` : (c) => String(c);
    if (opts.clusters) this.registerClusterGauges(opts.clusters);
  }

  private counter(def: StatDef, labels: Readonly<Record<string, string>>): BoundCounter {
    if (this.include && !this.include(concrete(def.stat, labels))) return NOOP_COUNTER;
    return zeroed(bindCounter(this.metrics.counter(def), labels));
  }

  private histogram(def: StatDef, labels: Readonly<Record<string, string>>): BoundHistogram {
    if (this.include && !this.include(concrete(def.stat, labels))) return NOOP_HIST;
    const h = this.metrics.histogram(def);
    zeroHistogram(h, labels); // Envoy shows a bound stat before its first sample
    return bindHistogram(h, labels);
  }

  /** The `_xx` family: Envoy `upstream_rq_{class}xx` (class "2"), Istio folded into `upstream_rq_{class}` ("2xx"). */
  private classDef(prefix: string, base: string, help: string): StatDef {
    const L = this.L;
    return this.style === 'istio'
      ? { stat: `${prefix}.${base}_{${L.code}}`, help, extraLabels: [L.cls] }
      : { stat: `${prefix}.${base}_{${L.cls}}xx`, help };
  }

  private codeDef(prefix: string, base: string, help: string): StatDef {
    const L = this.L;
    return this.style === 'istio' ? { stat: `${prefix}.${base}_{${L.code}}`, help, extraLabels: [L.cls] } : { stat: `${prefix}.${base}_{${L.code}}`, help };
  }

  /** Binds the stats of one HTTP connection manager stat_prefix (idempotent). */
  bindHcm(statPrefix: string): HcmStats {
    let h = this.hcms.get(statPrefix);
    if (h) return h;
    const L = this.L;
    const p = `http.{${L.hcm}}`;
    const lb = Object.freeze({ [L.hcm]: statPrefix });
    const xx = this.classDef(p, 'downstream_rq', 'Downstream requests by response code class');
    const xxTemplate = this.style === 'istio' ? L.code : L.cls;
    h = {
      rqTotal: this.counter({ stat: `${p}.downstream_rq_total`, help: 'Total requests' }, lb),
      rqXx: [1, 2, 3, 4, 5].map((c) => this.counterFor(xx, { ...lb, [L.cls]: this.clsValue(c) }, xxTemplate, this.clsValue(c))),
      rqCompleted: this.counter({ stat: `${p}.downstream_rq_completed`, help: 'Total requests that resulted in a response' }, lb),
      rqTime: this.histogram({ stat: `${p}.downstream_rq_time`, help: 'Total time for request and response (ms)' }, lb),
      noRoute: this.counter({ stat: `${p}.no_route`, help: 'Requests that had no route' }, lb),
    };
    this.hcms.set(statPrefix, h);
    return h;
  }

  /** A counter whose inclusion is judged on the Envoy name with `templateLabel` = `value`. */
  private counterFor(def: StatDef, labels: Readonly<Record<string, string>>, templateLabel: string, value: string): BoundCounter {
    if (this.include && !this.include(concrete(def.stat, { ...labels, [templateLabel]: value }))) return NOOP_COUNTER;
    return zeroed(bindCounter(this.metrics.counter(def), labels));
  }

  /** Binds the stats of one cluster (idempotent). */
  bindCluster(name: string): ClusterStatsBound {
    let c = this.clusters.get(name);
    if (c) return c;
    const L = this.L;
    const p = `cluster.{${L.cluster}}`;
    // Frozen: the cluster's series keep this one label object instead of a copy each (metrics.ts keptLabels).
    const lb = Object.freeze({ [L.cluster]: name });
    const xx = this.classDef(p, 'upstream_rq', 'Upstream requests by response code class');
    const xxTemplate = this.style === 'istio' ? L.code : L.cls;
    c = {
      name,
      rqTotal: this.counter({ stat: `${p}.upstream_rq_total`, help: 'Total requests' }, lb),
      rqXx: [1, 2, 3, 4, 5].map((k) => this.counterFor(xx, { ...lb, [L.cls]: this.clsValue(k) }, xxTemplate, this.clsValue(k))),
      byCode: new Map(),
      rqCompleted: this.counter({ stat: `${p}.upstream_rq_completed`, help: 'Total upstream requests completed' }, lb),
      rqTime: this.histogram({ stat: `${p}.upstream_rq_time`, help: 'Request time (ms)' }, lb),
      retry: this.counter({ stat: `${p}.upstream_rq_retry`, help: 'Total request retries' }, lb),
      timeout: this.counter({ stat: `${p}.upstream_rq_timeout`, help: 'Total requests that timed out waiting for a response' }, lb),
      pendingOverflow: this.counter({ stat: `${p}.upstream_rq_pending_overflow`, help: 'Total requests that overflowed connection pool or requests circuit breaking and were failed' }, lb),
      noneHealthy: this.counter({ stat: `${p}.upstream_cx_none_healthy`, help: 'Total times connection not established due to no healthy hosts' }, lb),
    };
    this.clusters.set(name, c);
    return c;
  }

  private byCode(c: ClusterStatsBound, code: number): BoundCounter {
    let b = c.byCode.get(code);
    if (b) return b;
    const L = this.L;
    const def = this.codeDef(`cluster.{${L.cluster}}`, 'upstream_rq', 'Upstream requests by response code');
    b = this.counter(def, { [L.cluster]: c.name, [L.code]: String(code) });
    c.byCode.set(code, b);
    return b;
  }

  /** Binds stat_prefixes and clusters present in a new config; forgets the ones no longer there. */
  sync(hcmPrefixes: Iterable<string>, clusterNames: Iterable<string>): void {
    for (const n of this.retain(hcmPrefixes, clusterNames)) this.bindCluster(n);
  }

  /** Binds the HCM prefixes, forgets prefixes and clusters no longer there, supersedes a running syncAsync; returns the
   * clusters to bind. */
  private retain(hcmPrefixes: Iterable<string>, clusterNames: Iterable<string>): Set<string> {
    this.syncGeneration++;
    const hp = new Set(hcmPrefixes);
    for (const p of hp) this.bindHcm(p);
    for (const p of this.hcms.keys()) if (!hp.has(p)) this.hcms.delete(p);
    const cn = new Set(clusterNames);
    for (const n of this.clusters.keys()) if (!cn.has(n)) this.clusters.delete(n);
    return cn;
  }

  /**
   * sync() for mesh-sized configs: binds the clusters in slices of at most `sliceMs` with a macrotask between them,
   * so binding 10,000 clusters' series (≈ 0.6 s in one block) never stalls the data path; a stream of a cluster not
   * bound yet binds it itself. A newer call supersedes a running one (it stops at its next slice boundary).
   */
  async syncAsync(hcmPrefixes: Iterable<string>, clusterNames: Iterable<string>, sliceMs = 8): Promise<void> {
    const cn = this.retain(hcmPrefixes, clusterNames);
    const gen = this.syncGeneration;
    let t0 = performance.now();
    let i = 0;
    for (const n of cn) {
      if (this.clusters.has(n)) continue;
      this.bindCluster(n);
      if ((++i & 15) === 0 && performance.now() - t0 >= sliceMs) {
        await nextSlice();
        if (gen !== this.syncGeneration) return;
        t0 = performance.now();
      }
    }
  }

  private syncGeneration = 0;

  /** Records one finished HTTP stream. */
  onStream(s: StreamStatsInput): void {
    const h = this.hcms.get(s.statPrefix) ?? this.bindHcm(s.statPrefix);
    h.rqTotal.inc();
    const code = s.responseCode;
    const cls = Math.floor(code / 100);
    if (cls >= 1 && cls <= 5) {
      h.rqXx[cls - 1].inc();
      h.rqCompleted.inc();
    }
    h.rqTime.observe(s.durationMs);
    const flags = s.responseFlags;
    if (flags.includes('NR')) h.noRoute.inc();
    if (!s.upstreamCluster) return;
    const c = this.clusters.get(s.upstreamCluster) ?? this.bindCluster(s.upstreamCluster);
    const attempts = s.attemptCount ?? (s.upstreamHost ? 1 : 0);
    if (attempts > 0) c.rqTotal.inc(attempts);
    if (attempts > 1) c.retry.inc(attempts - 1);
    if (flags.includes('UH')) c.noneHealthy.inc();
    if (flags.includes('UO')) c.pendingOverflow.inc();
    const timedOut = flags.includes('UT');
    if (timedOut) c.timeout.inc();
    // Upstream-answered (or upstream-timed-out, which Envoy charges as 504) requests count by code.
    if (s.responseCodeDetails === 'via_upstream' || timedOut) {
      const uc = timedOut ? 504 : code;
      this.byCode(c, uc).inc();
      const k = Math.floor(uc / 100);
      if (k >= 1 && k <= 5) c.rqXx[k - 1].inc();
      c.rqCompleted.inc();
      c.rqTime.observe(s.upstreamServiceTimeMs !== undefined && s.upstreamServiceTimeMs >= 0 ? s.upstreamServiceTimeMs : s.durationMs);
    }
  }

  private registerClusterGauges(src: ClusterGaugeSource): void {
    const L = this.L;
    const inc = this.include;
    const keep = (stat: string, name: string): boolean => !inc || inc(concrete(stat, { [L.cluster]: name }));
    const gauge = (stat: string, help: string, value: (c: NonNullable<ReturnType<ClusterGaugeSource['get']>>) => number, acrossWorkers?: 'max'): void => {
      this.metrics.gauge({ stat, help, ...(acrossWorkers ? { acrossWorkers } : {}) }, (g: Gauge<string>) => {
        g.reset();
        for (const name of src.names()) {
          const c = src.get(name);
          if (!c || !keep(stat, name)) continue;
          bindGauge(g, { [L.cluster]: name }).set(value(c));
        }
      });
    };
    const p = `cluster.{${L.cluster}}`;
    gauge(`${p}.membership_total`, 'Current cluster membership total', (c) => c.hosts().length);
    gauge(`${p}.membership_healthy`, 'Current cluster healthy total', (c) => c.hosts().filter((h) => h.healthFlags.size === 0).length);
    // With --concurrency N the primary's single outlier detector ejects a host in every worker at once (shared health).
    gauge(`${p}.outlier_detection.ejections_active`, 'Number of currently ejected hosts', (c) => c.outlier?.stats.ejectionsActive ?? 0, 'max');
  }
}
