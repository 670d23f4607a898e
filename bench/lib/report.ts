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
  readonly pinning: { readonly loadgen: string | null; readonly proxy: string | null; readonly backend: string | null };
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
    if (r.target.startsWith('meshlet-')) r.vsMeshlet = against(r.median, plain);
  }
}

/** The "variants against plain meshlet" table of a scenario, or nothing when it measured no variant. */
function renderVariants(s: ScenarioResult): string[] {
  const rows = s.rows.filter((r) => r.target.startsWith('meshlet-'));
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
  const pin = r.pinning.proxy === null ? 'no CPU pinning' : `pinned with taskset: load generator on CPU ${r.pinning.loadgen}, proxy on CPU ${r.pinning.proxy}, backend on CPU ${r.pinning.backend}`;
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
