// Bench harness: the result model and its two renderings — latest.json (everything, per repetition) and latest.md
// (one Markdown table per scenario with ratios to HAProxy and to the minimal Node shape).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.js';
import { ratio } from './stats.js';

export interface Metrics {
  readonly rps: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** proxy process tree CPU (utime+stime) per 10,000 requests; null for direct */
  readonly cpuSecPer10k: number | null;
  readonly rssRestMB: number | null;
  readonly rssLoadMB: number | null;
  readonly requests: number | null;
  readonly errors: number | null;
}

export type Ratios = { readonly [K in 'rps' | 'p50Ms' | 'p99Ms' | 'cpuSecPer10k' | 'rssRestMB' | 'rssLoadMB']: number | null };

export interface RowResult {
  readonly target: string;
  readonly status: 'ok' | 'unavailable';
  readonly reason?: string;
  readonly reps: readonly Metrics[];
  readonly median: Metrics | null;
  vsHaproxy: Ratios | null;
  vsMinimalNode: Ratios | null;
  /** meshlet variants (`meshlet-*`): against plain `meshlet` in the same scenario and run */
  vsMeshlet?: Ratios | null;
  /** multi-worker rows (h1-50-c2): worker count, the one-worker row they are compared with, the CPUs they ran on */
  readonly workers?: number;
  readonly baseline?: string;
  readonly cpus?: string | null;
  /** against `baseline` in the same run: rps is the scaling factor, cpuSecPer10k the CPU-per-request cost of the shape */
  vsBaseline?: Ratios | null;
  /** PIDs of the process tree measured (root first), the order of cpuSplitS */
  treePids?: readonly number[];
  /** CPU seconds of each process of the tree (root first, e.g. meshlet's primary then its workers) in the last repetition */
  cpuSplitS?: readonly number[];
  /** PSS of the process tree at rest (shared pages counted once), next to RSS rest which counts them per process */
  pssRestMB?: number | null;
  /** meshlet: connections each worker accepted (from /debug/workers), in worker order */
  workerAccepted?: readonly number[];
}

export interface ScenarioResult {
  readonly name: string;
  readonly title: string;
  readonly load: string;
  readonly rows: RowResult[];
}

export interface BenchReport {
  readonly date: string;
  readonly machine: MachineInfo;
  readonly tools: Readonly<Record<string, string>>;
  readonly pinning: { readonly loadgen: string | null; readonly proxy: string | null; readonly backend: string | null; readonly proxy2?: string | null };
  readonly options: { readonly durationS: number; readonly reps: number; readonly warmupS: number; readonly smoke: boolean; readonly scenarios: readonly string[] };
  readonly notes: readonly string[];
  readonly scenarios: ScenarioResult[];
  readonly elapsedS: number;
}

const RATIO_KEYS = ['rps', 'p50Ms', 'p99Ms', 'cpuSecPer10k', 'rssRestMB', 'rssLoadMB'] as const;

/** Fills vsHaproxy / vsMinimalNode of every ok row from the same scenario's haproxy and minimal-node rows. */
export function computeRatios(s: ScenarioResult): void {
  const ref = (name: string): Metrics | null => s.rows.find((r) => r.target === name && r.status === 'ok')?.median ?? null;
  const hap = ref('haproxy');
  const min = ref('minimal-node');
  const against = (m: Metrics, base: Metrics | null): Ratios | null => {
    if (!base) return null;
    const out: Record<string, number | null> = {};
    for (const k of RATIO_KEYS) out[k] = ratio(m[k], base[k]);
    return out as Ratios;
  };
  const plain = ref('meshlet');
  for (const r of s.rows) {
    if (r.status !== 'ok' || !r.median) continue;
    r.vsHaproxy = against(r.median, hap);
    r.vsMinimalNode = against(r.median, min);
    if (r.baseline) r.vsBaseline = against(r.median, ref(r.baseline));
    else if (r.target.startsWith('meshlet-')) r.vsMeshlet = against(r.median, plain);
  }
}

/** The "2 workers against 1" table of a scenario (h1-50-c2): each one-worker row, then the rows compared with it. */
function renderScaling(s: ScenarioResult): string[] {
  const scaled = s.rows.filter((r) => r.baseline);
  if (scaled.length === 0) return [];
  const ordered: RowResult[] = [];
  for (const r of scaled) {
    const base = s.rows.find((b) => b.target === r.baseline);
    if (base && !ordered.includes(base)) ordered.push(base);
    ordered.push(r);
  }
  const out = ['One worker against two in the same run (`×1w`: against the one-worker row; the req/s ratio is the scaling factor; CPU, RSS and PSS are summed over every process of the shape):', '',
    '| target | workers | CPUs | req/s | ×1w | CPU s/10k req | ×1w | RSS rest MB | PSS rest MB | RSS load MB | ×1w | CPU split s (root first) | conns per worker |',
    '|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|'];
  for (const r of ordered) {
    const label = r.baseline ? `${r.target} (vs ${r.baseline})` : r.target;
    if (r.status !== 'ok' || !r.median) {
      out.push(`| ${label} | ${r.workers ?? 1} | ${r.cpus ?? 'any'} | unavailable (${cell(r.reason ?? 'unknown')}) | | | | | | | | | |`);
      continue;
    }
    const m = r.median;
    const v = r.vsBaseline;
    out.push(`| ${label} | ${r.workers ?? 1} | ${r.cpus ?? 'any'} | ${num(m.rps, 0)} | ${x(v?.rps)} | ${num(m.cpuSecPer10k, 3)} | ${x(v?.cpuSecPer10k)} | ` +
      `${num(m.rssRestMB, 1)} | ${num(r.pssRestMB, 1)} | ${num(m.rssLoadMB, 1)} | ${x(v?.rssLoadMB)} | ${(r.cpuSplitS ?? []).map((c) => c.toFixed(2)).join(' / ')} | ${(r.workerAccepted ?? []).join(' / ')} |`);
  }
  out.push('');
  return out;
}

/** The "variants against plain meshlet" table of a scenario, or nothing when it measured no variant. */
function renderVariants(s: ScenarioResult): string[] {
  const rows = s.rows.filter((r) => r.target.startsWith('meshlet-') && !r.baseline);
  if (rows.length === 0) return [];
  const out = ['meshlet variants against plain `meshlet` in the same run (req/s: higher is better; CPU per request: lower is better):', '',
    '| target | req/s | ×meshlet | CPU s/10k req | ×meshlet | p99 ms | errors |', '|---|--:|--:|--:|--:|--:|--:|'];
  for (const r of rows) {
    if (r.status !== 'ok' || !r.median) {
      out.push(`| ${r.target} | unavailable (${cell(r.reason ?? 'unknown')}) | | | | | |`);
      continue;
    }
    const m = r.median;
    out.push(`| ${r.target} | ${num(m.rps, 0)} | ${x(r.vsMeshlet?.rps)} | ${num(m.cpuSecPer10k, 3)} | ${x(r.vsMeshlet?.cpuSecPer10k)} | ${num(m.p99Ms, 3)} | ${m.errors ?? '–'} |`);
  }
  out.push('');
  return out;
}

function num(v: number | null | undefined, digits: number): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–';
}
function x(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(2)}×` : '–';
}
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').slice(0, 160);
}

export function renderMarkdown(r: BenchReport): string {
  const out: string[] = [];
  out.push(`### meshlet e2e benchmark — ${r.date}`, '');
  out.push(`Machine: ${r.machine.nproc} × ${r.machine.cpuModel}, ${r.machine.kernel}, Node ${r.machine.node}. ` +
    `Tools: ${Object.entries(r.tools).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  const pin = r.pinning.proxy === null ? 'no CPU pinning' : `pinned with taskset: load generator on CPU ${r.pinning.loadgen}, proxy on CPU ${r.pinning.proxy}` +
    `${r.pinning.proxy2 && r.scenarios.some((s) => s.rows.some((x) => x.cpus === r.pinning.proxy2)) ? ` (two-worker shapes on CPUs ${r.pinning.proxy2})` : ''}, backend on CPU ${r.pinning.backend}`;
  out.push(`Run: ${r.options.durationS} s × ${r.options.reps} repetition(s) per target (median shown), ${r.options.warmupS} s warm-up, ${pin}` +
    `${r.options.smoke ? ', **smoke mode** (numbers not meaningful)' : ''}; total ${r.elapsedS.toFixed(0)} s.`);
  out.push('Ratios (×HAP, ×min) are against HAProxy and against the minimal Node shape in the same run and scenario; for CPU and RSS lower is better, for req/s higher is better.', '');
  for (const n of r.notes) out.push(`- ${n}`);
  if (r.notes.length > 0) out.push('');
  for (const s of r.scenarios) {
    out.push(`#### ${s.name} — ${s.title}`, '', `Load: \`${s.load}\``, '');
    out.push('| target | req/s | ×HAP | ×min | p50 ms | p99 ms | CPU s/10k req | ×HAP | ×min | RSS rest MB | RSS load MB | ×HAP | ×min | errors |');
    out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
    for (const row of s.rows) {
      if (row.status !== 'ok' || !row.median) {
        out.push(`| ${row.target} | unavailable (${cell(row.reason ?? 'unknown')}) | | | | | | | | | | | | |`);
        continue;
      }
      const m = row.median;
      const h = row.vsHaproxy;
      const mn = row.vsMinimalNode;
      out.push(`| ${row.target} | ${num(m.rps, 0)} | ${x(h?.rps)} | ${x(mn?.rps)} | ${num(m.p50Ms, 3)} | ${num(m.p99Ms, 3)} | ` +
        `${num(m.cpuSecPer10k, 3)} | ${x(h?.cpuSecPer10k)} | ${x(mn?.cpuSecPer10k)} | ${num(m.rssRestMB, 1)} | ${num(m.rssLoadMB, 1)} | ` +
        `${x(h?.rssLoadMB)} | ${x(mn?.rssLoadMB)} | ${m.errors ?? '–'} |`);
    }
    out.push('');
    out.push(...renderVariants(s));
    out.push(...renderScaling(s));
  }
  return out.join('\n');
}

/** Writes latest.json and latest.md atomically (temp file + rename) into dir; returns their paths. */
export function writeReport(dir: string, r: BenchReport): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const md = join(dir, 'latest.md');
  writeFileSync(`${json}.tmp`, `${JSON.stringify(r, null, 2)}\n`);
  renameSync(`${json}.tmp`, json);
  writeFileSync(`${md}.tmp`, `${renderMarkdown(r)}\n`);
  renameSync(`${md}.tmp`, md);
  return { json, md };
}
