// bench/scale/: reads a V8 .cpuprofile (node --cpu-prof) and prints self time by function and by file, so profile
// findings (bench/results/profile-*.md) can be reproduced. Usage: node dist/bench/scale/profile-summary.js FILE [--top N]
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

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  const ti = process.argv.indexOf('--top');
  const top = ti >= 0 ? Number(process.argv[ti + 1]) : 40;
  const s = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const line = (r: ProfileRow): string => `| ${r.pct.toFixed(1)} % | ${r.ms.toFixed(0)} | \`${r.name}\` |`;
  process.stdout.write(`total ${s.totalMs.toFixed(0)} ms sampled\n\nBy file:\n| self | ms | file |\n|--:|--:|---|\n${s.byFile.slice(0, top).map(line).join('\n')}\n\nBy function:\n| self | ms | function |\n|--:|--:|---|\n${s.byFunction.slice(0, top).map(line).join('\n')}\n`);
}
