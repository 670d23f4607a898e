// observability/: the one metrics registry (prom-client) and helpers that create Envoy-named series. A stat is
// declared by its Envoy name with tag segments in braces — `cluster.{envoy_cluster_name}.upstream_rq_total` — which
// gives the Prometheus series `envoy_cluster_upstream_rq_total{envoy_cluster_name="…"}` for /stats/prometheus and
// the dotted name `cluster.<name>.upstream_rq_total` for /stats. Children are bound at config time (bind*()), never
// looked up per request.
import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Histogram, Registry, type CounterConfiguration } from 'prom-client';

/** Envoy's default histogram buckets (ms). */
export const ENVOY_BUCKETS_MS: readonly number[] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

export interface StatDef {
  /** Envoy stat name; `{label}` segments become Prometheus labels (tag extraction). */
  readonly stat: string;
  readonly help: string;
  /** Labels some children carry instead of a template label (Istio folds `_xx` into `upstream_rq{response_code_class}`). */
  readonly extraLabels?: readonly string[];
  /**
   * How `--concurrency N` merges this gauge over the workers (process/metrics-aggregate.ts); unset: by its name.
   * 'max' for state every worker holds alike (e.g. ejections decided once in the primary).
   */
  readonly acrossWorkers?: 'sum' | 'max';
}

interface ParsedStat {
  readonly promName: string;
  readonly labels: string[];
  readonly template: string;
}

/**
 * `cluster.{envoy_cluster_name}.upstream_rq_total` → `envoy_cluster_upstream_rq_total` + [envoy_cluster_name]. A tag
 * may also sit inside a segment, as Envoy's tag extraction pulls it out of `upstream_rq_200` / `upstream_rq_2xx`:
 * `upstream_rq_{envoy_response_code}` → `upstream_rq`, `upstream_rq_{envoy_response_code_class}xx` → `upstream_rq_xx`.
 */
export function parseStatName(stat: string, extraLabels: readonly string[] = []): ParsedStat {
  const labels: string[] = [];
  const stripped = stat
    .split('.')
    .map((seg) => {
      const m = /^\{([a-zA-Z_][a-zA-Z0-9_]*)\}$/.exec(seg);
      if (m) {
        labels.push(m[1]);
        return null;
      }
      return seg
        .replace(/\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g, (_x, l: string) => {
          labels.push(l);
          return '';
        })
        .replace(/__+/g, '_')
        .replace(/_$/, '');
    })
    .filter((seg): seg is string => seg !== null)
    .join('.');
  for (const l of extraLabels) if (!labels.includes(l)) labels.push(l);
  return { promName: `envoy_${stripped.replace(/[^a-zA-Z0-9_]/g, '_')}`, labels, template: stat };
}

export type LabelValues = Readonly<Record<string, string>>;

/** A counter child bound to fixed labels. */
export interface BoundCounter {
  inc(n?: number): void;
}
export interface BoundGauge {
  set(v: number): void;
  inc(n?: number): void;
  dec(n?: number): void;
}
export interface BoundHistogram {
  observe(v: number): void;
}

export interface StatsQuery {
  /** Keep only stats whose Envoy name this accepts (`?filter=` regex). */
  readonly filter?: (name: string) => boolean;
  /** `?usedonly`: skip counters/gauges that are zero and histograms without samples. */
  readonly usedOnly?: boolean;
}

export interface StatValue {
  readonly name: string;
  readonly value: number | string;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly templates = new Map<string, ParsedStat>();

  private declare(def: StatDef): ParsedStat {
    const p = parseStatName(def.stat, def.extraLabels);
    const prev = this.templates.get(p.promName);
    if (prev && prev.template !== def.stat) throw new Error(`metric ${p.promName} already declared as ${prev.template}`);
    this.templates.set(p.promName, p);
    return p;
  }

  /** Declares (or returns the already declared) counter for an Envoy stat. */
  counter(def: StatDef): Counter<string> {
    const p = this.declare(def);
    const existing = this.registry.getSingleMetric(p.promName);
    if (existing) return existing as Counter<string>;
    return this.promCounter({ name: p.promName, help: def.help, labelNames: p.labels });
  }

  /**
   * A prom-client counter whose bound children (bindCounter) count in plain numbers and are folded into prom-client
   * only at scrape time (collect hook): no label validation or hashing per increment.
   */
  promCounter(cfg: { readonly name: string; readonly help: string; readonly labelNames: readonly string[] }): Counter<string> {
    const locals = new SeriesIndex<LocalCounter>();
    const c: Counter<string> = new Counter({
      name: cfg.name,
      help: cfg.help,
      labelNames: [...cfg.labelNames],
      registers: [this.registry],
      collect(this: Counter<string>) { flushCounters(this, locals); },
    } satisfies CounterConfiguration<string>);
    COUNTER_LOCALS.set(c, locals);
    return c;
  }

  /** A prom-client histogram whose bound children (bindHistogram) fill local bucket arrays, folded in at scrape time. */
  promHistogram(cfg: { readonly name: string; readonly help: string; readonly labelNames: readonly string[]; readonly buckets?: readonly number[] }): Histogram<string> {
    const locals = new SeriesIndex<LocalHistogram>();
    const h: Histogram<string> = new Histogram({
      name: cfg.name,
      help: cfg.help,
      labelNames: [...cfg.labelNames],
      buckets: [...(cfg.buckets ?? ENVOY_BUCKETS_MS)],
      registers: [this.registry],
      collect(this: Histogram<string>) { flushHistograms(this, locals); },
    });
    HISTOGRAM_LOCALS.set(h, locals);
    // Zero series (zeroHistogram) read their buckets through a prototype: prom-client's own observe() counts only
    // buckets the entry owns, so a direct observe first gives the entry its own copy.
    const observe = h.observe;
    const own = (h as unknown as { hashMap: Record<string, PromHistogramEntry | undefined> });
    h.observe = function (this: Histogram<string>, labels?: LabelValues | number, value?: number): void {
      if (typeof labels === 'object' && labels !== null) {
        const e = own.hashMap[seriesKey(labels)];
        if (e !== undefined && Object.getPrototypeOf(e.bucketValues) === zeroBuckets(h)) e.bucketValues = { ...zeroBuckets(h), ...e.bucketValues };
      }
      (observe as (this: Histogram<string>, l?: unknown, v?: number) => void).call(this, labels, value);
    } as Histogram<string>['observe'];
    return h;
  }

  /** Declares a gauge; `collect` (if given) refreshes it at scrape time. */
  gauge(def: StatDef, collect?: (g: Gauge<string>) => void): Gauge<string> {
    const p = this.declare(def);
    const existing = this.registry.getSingleMetric(p.promName);
    if (existing) return existing as Gauge<string>;
    return new Gauge({
      name: p.promName,
      help: def.help,
      labelNames: p.labels,
      registers: [this.registry],
      ...(def.acrossWorkers ? { aggregator: def.acrossWorkers } : {}),
      ...(collect ? { collect(this: Gauge<string>) { collect(this); } } : {}),
    });
  }

  histogram(def: StatDef, buckets: readonly number[] = ENVOY_BUCKETS_MS): Histogram<string> {
    const p = this.declare(def);
    const existing = this.registry.getSingleMetric(p.promName);
    if (existing) return existing as Histogram<string>;
    return this.promHistogram({ name: p.promName, help: def.help, labelNames: p.labels, buckets });
  }

  /** Prometheus text exposition (0.0.4) for /stats/prometheus. */
  prometheusText(): Promise<string> {
    return this.registry.metrics();
  }

  get prometheusContentType(): string {
    return this.registry.contentType;
  }

  /** Every stat under its Envoy dotted name, sorted (counters and gauges; histograms as count/sum summaries). */
  async stats(query: StatsQuery = {}): Promise<StatValue[]> {
    const out: StatValue[] = [];
    const hist: StatValue[] = [];
    for (const m of await this.registry.getMetricsAsJSON()) {
      const p = this.templates.get(m.name) ?? { promName: m.name, labels: [], template: m.name };
      if (m.type === ('histogram' as unknown as typeof m.type)) {
        const counts = new Map<string, { labels: Record<string, string | number>; count: number; sum: number }>();
        for (const v of m.values as { value: number; labels: Record<string, string | number>; metricName?: string }[]) {
          if (!v.metricName || v.metricName.endsWith('_bucket')) continue;
          const { le: _le, ...labels } = v.labels;
          const key = JSON.stringify(labels);
          const e = counts.get(key) ?? { labels, count: 0, sum: 0 };
          if (v.metricName.endsWith('_count')) e.count = v.value;
          else e.sum = v.value;
          counts.set(key, e);
        }
        for (const e of counts.values()) {
          const name = renderStatName(p, e.labels);
          if (query.filter && !query.filter(name)) continue;
          if (query.usedOnly && e.count === 0) continue;
          hist.push({ name, value: e.count === 0 ? 'No recorded values' : `count=${e.count} sum=${e.sum}` });
        }
        continue;
      }
      for (const v of m.values as { value: number; labels: Record<string, string | number> }[]) {
        const name = renderStatName(p, v.labels);
        if (query.filter && !query.filter(name)) continue;
        if (query.usedOnly && v.value === 0) continue;
        out.push({ name, value: v.value });
      }
    }
    const byName = (a: StatValue, b: StatValue): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    return [...out.sort(byName), ...hist.sort(byName)];
  }

  /** /stats text: one `name: value` line per stat. */
  async statsText(query: StatsQuery = {}): Promise<string> {
    return (await this.stats(query)).map((s) => `${s.name}: ${s.value}\n`).join('');
  }
}

function renderStatName(p: ParsedStat, labels: Record<string, string | number>): string {
  let used = 0;
  const name = p.template.replace(/\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g, (_m, l: string) => {
    used++;
    if (labels[l] !== undefined) return String(labels[l]);
    // A child bound with an extra label instead (Istio's folded response_code_class) shows that value.
    for (const k of p.labels) if (!p.template.includes(`{${k}}`) && labels[k] !== undefined) return String(labels[k]);
    return '';
  });
  if (p.labels.length > 0 || used > 0) return name;
  // Declared outside this helper (plain prom-client metric): show it with its labels.
  const extra = Object.entries(labels);
  return extra.length ? `${name}{${extra.map(([k, v]) => `${k}="${v}"`).join(',')}}` : name;
}

/** Same check prom-client's labels() makes, once at bind time instead of per increment. */
function checkLabelNames(metric: Counter<string> | Histogram<string>, labels: LabelValues): void {
  const names = (metric as unknown as { labelNames: readonly string[] }).labelNames;
  for (const k of Object.keys(labels)) if (!names.includes(k)) throw new Error(`Added label "${k}" is not included in initial labelset: ${JSON.stringify(names)}`);
}

/** The series key prom-client uses for a label set (its hashObject over the sorted label names). */
function seriesKey(labels: LabelValues): string {
  const keys = Object.keys(labels).sort();
  let k = '';
  for (const key of keys) if (labels[key] !== undefined) k += `${key}:${labels[key]},`;
  return k;
}

/**
 * The label object a child keeps: the caller's when frozen (StreamMetrics shares one per cluster), else a frozen copy
 * built key by key, so copies with the same label names share one hidden class (a `{ ...labels }` clone of a
 * `{ ...lb, [name]: v }` literal got a map of its own: 50,000 maps, ≈ 9 MB, for 10,000 clusters' `_xx` series).
 */
function keptLabels(labels: LabelValues): LabelValues {
  if (Object.isFrozen(labels)) return labels;
  const o: Record<string, string> = {};
  for (const k of Object.keys(labels)) o[k] = labels[k];
  return Object.freeze(o);
}

/**
 * The bound children of one metric, found by label values: under the label-name signature, one Map level per label
 * (names in reverse order, which puts the few-valued class/code labels above the cluster name), so binding 10,000
 * clusters' series keeps no per-series key string — the values are the caller's strings. `all` keeps bind order, the
 * order in which series first reach prom-client at scrape time (so the exposition order is unchanged).
 */
class SeriesIndex<T extends object> {
  readonly all: T[] = [];
  private readonly roots = new Map<string, Map<string, unknown>>();

  getOrCreate(labels: LabelValues, make: () => T): T {
    const names = Object.keys(labels).filter((k) => labels[k] !== undefined).sort();
    const sig = names.length === 1 ? names[0] : names.join(',');
    let node = this.roots.get(sig);
    if (node === undefined) {
      node = new Map();
      this.roots.set(sig, node);
    }
    for (let i = names.length - 1; i > 0; i--) {
      const v = labels[names[i]];
      let next = node.get(v) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(v, next);
      }
      node = next;
    }
    const last = names.length > 0 ? labels[names[0]] : '';
    let leaf = node.get(last) as T | undefined;
    if (leaf === undefined) {
      leaf = make();
      node.set(last, leaf);
      this.all.push(leaf);
    }
    return leaf;
  }
}

/** A bound counter child: a plain number, folded into prom-client by the counter's collect hook. */
class LocalCounter implements BoundCounter {
  pending = 0;
  /** inc() was called (even inc(0)): the series shows at scrape time, as a prom-client child would. */
  touched = false;
  constructor(readonly labels: LabelValues) {}
  inc(n = 1): void {
    this.pending += n;
    this.touched = true;
  }
}

/**
 * A bound histogram child: bucket counts (one slot per bound plus overflow, allocated at the first sample: most of a
 * mesh's 10,000 clusters never see one), sum and count.
 */
class LocalHistogram implements BoundHistogram {
  counts: Float64Array | null = null;
  sum = 0;
  count = 0;
  /** prom-client's series key, computed at the first flush with samples (most bound series never get one). */
  key: string | null = null;
  constructor(readonly labels: LabelValues, readonly bounds: readonly number[]) {}
  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    (this.counts ??= new Float64Array(b.length + 1))[i]++;
    this.sum += v;
    this.count++;
  }
}

const COUNTER_LOCALS = new WeakMap<Counter<string>, SeriesIndex<LocalCounter>>();
const HISTOGRAM_LOCALS = new WeakMap<Histogram<string>, SeriesIndex<LocalHistogram>>();

function flushCounters(c: Counter<string>, locals: SeriesIndex<LocalCounter>): void {
  for (const l of locals.all) {
    if (!l.touched) continue;
    const n = l.pending;
    l.pending = 0;
    if (Object.keys(l.labels).length) c.inc(l.labels, n);
    else c.inc(n);
  }
}

interface PromHistogramEntry {
  labels: LabelValues;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/** Per histogram, one writable object of zero bucket counts (prom-client's own template is frozen). */
const ZERO_BUCKETS = new WeakMap<Histogram<string>, Record<string, number>>();

function zeroBuckets(h: Histogram<string>): Record<string, number> {
  let z = ZERO_BUCKETS.get(h);
  if (z === undefined) {
    z = { ...(h as unknown as { bucketValues: Record<string, number> }).bucketValues };
    ZERO_BUCKETS.set(h, z);
  }
  return z;
}

/**
 * A prom-client series entry at zero whose bucketValues inherit their zeros from zeroBuckets(h) and own only the
 * buckets that got samples: prom-client's zero() copies every bound into each series (19 sparse integer keys make a
 * dictionary of ≈ 0.8 KB, 8 MB for 10,000 clusters' upstream_rq_time).
 */
function zeroEntry(h: Histogram<string>, labels: LabelValues): PromHistogramEntry {
  return { labels, bucketValues: Object.create(zeroBuckets(h)) as Record<string, number>, sum: 0, count: 0 };
}

/**
 * Shows a histogram series at zero before its first sample (Envoy shows bound stats at once), as prom-client's
 * zero() does (it resets a series that exists), with a compact entry for histograms made by Metrics.
 */
export function zeroHistogram(h: Histogram<string>, labels: LabelValues): void {
  if (!HISTOGRAM_LOCALS.has(h)) return h.zero({ ...labels });
  checkLabelNames(h, labels);
  (h as unknown as { hashMap: Record<string, PromHistogramEntry | undefined> }).hashMap[seriesKey(labels)] = zeroEntry(h, keptLabels(labels));
}

function flushHistograms(h: Histogram<string>, locals: SeriesIndex<LocalHistogram>): void {
  // prom-client has no bulk-add API: the per-series entry (labels, bucketValues keyed by bound, sum, count) is
  // updated in place, as its own observe() does.
  const map = (h as unknown as { hashMap: Record<string, PromHistogramEntry | undefined> }).hashMap;
  for (const l of locals.all) {
    if (l.count === 0) continue;
    const key = (l.key ??= seriesKey(l.labels));
    const e = (map[key] ??= zeroEntry(h, l.labels));
    const b = l.bounds;
    const counts = l.counts!;
    for (let i = 0; i < b.length; i++) {
      const n = counts[i];
      if (n) e.bucketValues[b[i]] = (e.bucketValues[b[i]] ?? 0) + n;
    }
    e.sum += l.sum;
    e.count += l.count;
    counts.fill(0);
    l.sum = 0;
    l.count = 0;
  }
}

/**
 * Binds a counter child. Counters made by Metrics give a local plain-number child (one per label set, shared by
 * every bind of the same labels); others a prom-client child.
 */
export function bindCounter(c: Counter<string>, labels: LabelValues = {}): BoundCounter {
  const locals = COUNTER_LOCALS.get(c);
  if (!locals) return Object.keys(labels).length ? c.labels(labels) : c;
  checkLabelNames(c, labels);
  return locals.getOrCreate(labels, () => new LocalCounter(keptLabels(labels)));
}
export function bindGauge(g: Gauge<string>, labels: LabelValues = {}): BoundGauge {
  return Object.keys(labels).length ? g.labels(labels) : g;
}
/** Binds a histogram child (local bucket array for histograms made by Metrics; the series shows from the bind on). */
export function bindHistogram(h: Histogram<string>, labels: LabelValues = {}): BoundHistogram {
  const locals = HISTOGRAM_LOCALS.get(h);
  if (!locals) return Object.keys(labels).length ? h.labels(labels) : h;
  checkLabelNames(h, labels);
  return locals.getOrCreate(labels, () => new LocalHistogram(keptLabels(labels), (h as unknown as { upperBounds: number[] }).upperBounds));
}

/** Envoy's server.state values. */
export const SERVER_STATE_VALUE = { LIVE: 0, DRAINING: 1, PRE_INITIALIZING: 2, INITIALIZING: 3 } as const;

/** Per-subscription update counters (Envoy `cluster_manager.cds.*`, `listener_manager.lds.*`). */
export interface XdsUpdateStats {
  readonly attempt: BoundCounter;
  readonly success: BoundCounter;
  readonly rejected: BoundCounter;
  readonly failure: BoundCounter;
  /** update_time (epoch ms of the last accepted update). */
  readonly updateTime: BoundGauge;
}

/** The server-level series every deployment has, bound once. */
export interface CoreMetrics {
  readonly controlPlaneConnectedState: BoundGauge;
  readonly cds: XdsUpdateStats;
  readonly lds: XdsUpdateStats;
  readonly serverState: BoundGauge;
  readonly serverLive: BoundGauge;
  readonly serverUptime: BoundGauge;
  readonly serverConcurrency: BoundGauge;
  readonly workersStarted: BoundGauge;
  /** Scrape-time gauges (server.memory_allocated, server.memory_heap_size, server.memory_physical_size). */
  readonly memoryAllocated: Gauge<string>;
  readonly memoryHeapSize: Gauge<string>;
  readonly memoryPhysicalSize: Gauge<string>;
}

/**
 * Envoy's admin `/memory` (envoy.admin.v3.Memory) mapped onto V8/Node. Envoy reads tcmalloc; meshlet's allocator is
 * V8's heap plus off-heap memory V8 tracks (Buffers, ArrayBuffers: `external`):
 * - allocated: bytes in use by the program = V8 used heap + external.
 * - heap_size: bytes the allocator holds = V8 total (reserved) heap + external.
 * - pageheap_unmapped: heap reserved but not resident = V8 total heap − V8 physical heap.
 * - pageheap_free: resident heap not in use = V8 physical heap − V8 used heap (clamped at 0).
 * - total_thread_cache: 0 (V8 keeps no per-thread caches it reports).
 * - total_physical_bytes: the process resident set (RSS, includes code, stacks and native allocations).
 */
export interface MemoryStats {
  readonly allocated: number;
  readonly heap_size: number;
  readonly pageheap_unmapped: number;
  readonly pageheap_free: number;
  readonly total_thread_cache: number;
  readonly total_physical_bytes: number;
}

export function readMemoryStats(): MemoryStats {
  const h = getHeapStatistics();
  const mu = process.memoryUsage();
  return {
    allocated: h.used_heap_size + mu.external,
    heap_size: h.total_heap_size + mu.external,
    pageheap_unmapped: Math.max(0, h.total_heap_size - h.total_physical_size),
    pageheap_free: Math.max(0, h.total_physical_size - h.used_heap_size),
    total_thread_cache: 0,
    total_physical_bytes: mu.rss,
  };
}

function updateStats(m: Metrics, prefix: string, what: string): XdsUpdateStats {
  return {
    attempt: bindCounter(m.counter({ stat: `${prefix}.update_attempt`, help: `Total ${what} API fetches attempted` })),
    success: bindCounter(m.counter({ stat: `${prefix}.update_success`, help: `Total ${what} API fetches completed successfully` })),
    rejected: bindCounter(m.counter({ stat: `${prefix}.update_rejected`, help: `Total ${what} API fetches that failed because of schema/validation errors` })),
    failure: bindCounter(m.counter({ stat: `${prefix}.update_failure`, help: `Total ${what} API fetches that failed because of network errors` })),
    updateTime: bindGauge(m.gauge({ stat: `${prefix}.update_time`, help: `Timestamp of the last successful ${what} API fetch (epoch ms)` })),
  };
}

/** server.memory_* (Envoy's names), read at scrape time; see readMemoryStats for the mapping. */
function memoryGauges(m: Metrics): Pick<CoreMetrics, 'memoryAllocated' | 'memoryHeapSize' | 'memoryPhysicalSize'> {
  return {
    memoryAllocated: m.gauge({ stat: 'server.memory_allocated', help: 'Bytes in use: V8 used heap plus external (Buffers)' }, (g) => g.set(readMemoryStats().allocated)),
    memoryHeapSize: m.gauge({ stat: 'server.memory_heap_size', help: 'Bytes reserved: V8 total heap plus external (Buffers)' }, (g) => g.set(readMemoryStats().heap_size)),
    memoryPhysicalSize: m.gauge({ stat: 'server.memory_physical_size', help: 'Resident set size of the process in bytes' }, (g) => g.set(process.memoryUsage.rss())),
  };
}

export interface CoreMetricsOptions {
  /** Process start (epoch ms) for server.uptime; default now. */
  readonly startTime?: number;
  readonly concurrency?: number;
  readonly now?: () => number;
}

export function createCoreMetrics(m: Metrics, opts: CoreMetricsOptions = {}): CoreMetrics {
  const start = opts.startTime ?? Date.now();
  const now = opts.now ?? Date.now;
  const state = bindGauge(m.gauge({ stat: 'server.state', help: 'Current state of the server (0 LIVE, 1 DRAINING, 2 PRE_INITIALIZING, 3 INITIALIZING)' }));
  state.set(SERVER_STATE_VALUE.PRE_INITIALIZING);
  const concurrency = bindGauge(m.gauge({ stat: 'server.concurrency', help: 'Number of worker threads' }));
  concurrency.set(opts.concurrency ?? 1);
  return {
    controlPlaneConnectedState: bindGauge(m.gauge({ stat: 'control_plane.connected_state', help: 'Whether meshlet is connected to a management server (1) or not (0)' })),
    cds: updateStats(m, 'cluster_manager.cds', 'CDS'),
    lds: updateStats(m, 'listener_manager.lds', 'LDS'),
    serverState: state,
    serverLive: bindGauge(m.gauge({ stat: 'server.live', help: '1 if the server is not draining, 0 otherwise' })),
    serverUptime: bindGauge(m.gauge({ stat: 'server.uptime', help: 'Current server uptime in seconds' }, (g) => g.set(Math.floor((now() - start) / 1000)))),
    serverConcurrency: concurrency,
    workersStarted: bindGauge(m.gauge({ stat: 'listener_manager.workers_started', help: '1 once the listeners are serving' })),
    ...memoryGauges(m),
  };
}
