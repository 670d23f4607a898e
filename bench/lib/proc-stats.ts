// Bench harness: CPU time and RSS of a process tree read from /proc (utime+stime, VmRSS), and a load-time RSS sampler.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = 0;
/** Kernel clock ticks per second (USER_HZ), from `getconf CLK_TCK`, 100 when unknown. */
export function clockTicks(): number {
  if (clkTck === 0) {
    try { clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { clkTck = 100; }
  }
  return clkTck;
}

interface StatLine { readonly ppid: number; readonly ticks: number }

function readStat(pid: number): StatLine | null {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return null; }
  // comm may contain spaces and parentheses: fields after the last ')' are fixed.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0]=state(3) rest[1]=ppid(4) ... rest[11]=utime(14) rest[12]=stime(15)
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
}

/** `pid` and all its live descendants (scans /proc once). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const c = Number(name);
    if (!Number.isInteger(c) || c <= 0) continue;
    const st = readStat(c);
    if (!st) continue;
    let list = children.get(st.ppid);
    if (!list) children.set(st.ppid, list = []);
    list.push(c);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    out.push(p);
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return out;
}

/** CPU seconds (user + system) consumed so far by the live processes of the tree rooted at `pid`. */
export function treeCpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const p of pids) ticks += readStat(p)?.ticks ?? 0;
  return ticks / clockTicks();
}

/** CPU seconds (user + system) of each process, in the order given (0 for one that has exited). */
export function cpuSecondsEach(pids: readonly number[]): number[] {
  return pids.map((p) => (readStat(p)?.ticks ?? 0) / clockTicks());
}

/** Resident set size in bytes (sum of VmRSS) of the given processes. */
export function treeRssBytes(pids: readonly number[]): number {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch { /* exited */ }
  }
  return kb * 1024;
}

/**
 * Proportional set size in bytes (sum of Pss from /proc/<pid>/smaps_rollup): pages shared between the processes
 * (the node binary's text in every worker) are counted once in total instead of once per process. Null when the
 * kernel has no smaps_rollup.
 */
export function treePssBytes(pids: readonly number[]): number | null {
  let kb = 0;
  let seen = false;
  for (const p of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (m) { kb += Number(m[1]); seen = true; }
    } catch { /* exited, or no smaps_rollup */ }
  }
  return seen ? kb * 1024 : null;
}

/** Samples the RSS of a process tree periodically while load runs; `stop()` returns the peak in bytes. */
export class RssSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pids: readonly number[], intervalMs = 200) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }
  private sample(): void {
    const v = treeRssBytes(this.pids);
    if (v > this.peak) this.peak = v;
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}
