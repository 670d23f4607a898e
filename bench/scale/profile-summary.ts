// bench/scale/: reads a V8 .cpuprofile (node --cpu-prof) and prints self time by function and by file, so profile
// findings (bench/results/profile-*.md) can be reproduced, or (--blocks MS) the busy stretches of at least MS ms — the
// event-loop stalls — with what each is made of, or (--window END_US[:MS]) what ran in one stalled window the scale
// bench reported. Usage: node dist/bench/scale/profile-summary.js FILE [--top N] [--blocks MS | --window END_US[:MS]]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

export interface ProfileRow { readonly name: string; readonly ms: number; readonly pct: number }

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 13).replace(/^(@[^/]+\/[^/]+|[^/]+)\/.*$/, '$1 (dep)');
  const src = url.search(/\/(src|bench|test)\//);
  if (src >= 0) return url.slice(src + 1);
  return url === '' ? '(native/gc/idle)' : url.replace(/^node:/, 'node:');
}

/** Self time per function and per file (ms and % of profiled time). */
export function summarize(p: CpuProfile): { byFunction: ProfileRow[]; byFile: ProfileRow[]; totalMs: number } {
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const us = self.get(n.id) ?? 0;
    total += us;
    const f = shortUrl(n.callFrame.url);
    const name = `${n.callFrame.functionName || '(anonymous)'} ${f}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    file.set(f, (file.get(f) ?? 0) + us);
  }
  const rows = (m: Map<string, number>): ProfileRow[] => [...m].map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total })).sort((a, b) => b.ms - a.ms);
  return { byFunction: rows(fn), byFile: rows(file), totalMs: total / 1000 };
}

export interface ProfileBlock { readonly startMs: number; readonly ms: number; readonly top: readonly ProfileRow[] }

/**
 * The long busy stretches of the main thread (consecutive samples that are not idle, i.e. event-loop stalls) of at
 * least `minMs`, each with the functions of our own code (src/, bench/, test/) by inclusive time inside the block:
 * what a stall is made of.
 */
export function blocks(p: CpuProfile, minMs = 50, top = 8, range?: { readonly fromUs: number; readonly toUs: number }): ProfileBlock[] {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const out: ProfileBlock[] = [];
  let t = p.startTime;
  let start = -1;
  let acc = new Map<string, number>();
  let busy = 0;
  const close = (): void => {
    if (start >= 0 && busy / 1000 >= minMs) {
      const rows = [...acc].map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / busy })).sort((a, b) => b.ms - a.ms).slice(0, top);
      out.push({ startMs: (start - p.startTime) / 1000, ms: busy / 1000, top: rows });
    }
    start = -1;
    acc = new Map();
    busy = 0;
  };
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    const node = byId.get(p.samples[i]);
    if (range && (t < range.fromUs || t > range.toUs)) {
      close();
      continue;
    }
    if (!node || node.callFrame.functionName === '(idle)') {
      close();
      continue;
    }
    if (start < 0) start = t;
    busy += dt;
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      const u = shortUrl(f.url);
      if (!/^(src|bench|test)\//.test(u)) continue;
      const name = `${f.functionName || '(anonymous)'} ${u}:${f.lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      acc.set(name, (acc.get(name) ?? 0) + dt);
    }
  }
  close();
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  const ti = process.argv.indexOf('--top');
  const top = ti >= 0 ? Number(process.argv[ti + 1]) : 40;
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const wi = process.argv.indexOf('--window');
  if (wi >= 0) {
    // --window END_US[:MS]: what ran in the MS ms (default 100) before END_US on the monotonic clock (the loop
    // monitor's `mono`), i.e. inside one stalled 100 ms window of the scale bench — our code by inclusive time.
    const [end, ms] = String(process.argv[wi + 1]).split(':').map(Number);
    for (const b of blocks(prof, 0, Math.min(top, 15), { fromUs: end - (ms > 0 ? Math.max(ms, 100) : 100) * 1000, toUs: end })) {
      if (b.ms < 5) continue;
      process.stdout.write(`busy at ${b.startMs.toFixed(0)} ms into the profile: ${b.ms.toFixed(0)} ms\n${b.top.map((r) => `    ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}`).join('\n')}\n`);
    }
    process.exit(0);
  }
  const bi = process.argv.indexOf('--blocks');
  if (bi >= 0) {
    // --blocks MS: the busy stretches of at least MS ms and what they are made of (inclusive, our code only).
    for (const b of blocks(prof, Number(process.argv[bi + 1] ?? 50), Math.min(top, 12))) {
      process.stdout.write(`block at +${b.startMs.toFixed(0)} ms: ${b.ms.toFixed(0)} ms busy\n${b.top.map((r) => `    ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}`).join('\n')}\n`);
    }
    process.exit(0);
  }
  const s = summarize(prof);
  const line = (r: ProfileRow): string => `| ${r.pct.toFixed(1)} % | ${r.ms.toFixed(0)} | \`${r.name}\` |`;
  process.stdout.write(`total ${s.totalMs.toFixed(0)} ms sampled\n\nBy file:\n| self | ms | file |\n|--:|--:|---|\n${s.byFile.slice(0, top).map(line).join('\n')}\n\nBy function:\n| self | ms | function |\n|--:|--:|---|\n${s.byFunction.slice(0, top).map(line).join('\n')}\n`);
}
