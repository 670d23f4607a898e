// Bench e2e: meshlet's memory at rest — starts meshlet with the bench bootstrap (h1 listener, 100 virtual hosts; the
// upstream is never called), lets it idle, then reads RSS/PSS from /proc, the admin /memory view, and a heap
// snapshot (node --heapsnapshot-signal) summarised by node type, string kind and biggest dominator-tree retainers.
// Usage: node dist/bench/e2e/memory-at-rest.js [--idle S] [--node-flags "--max-semi-space-size=2"] [--meshlet-bin FILE] [--keep DIR]
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessRegistry } from '../lib/processes.js';
import { freePort, waitForPort } from '../lib/net.js';
import { treePssBytes, treeRssBytes } from '../lib/proc-stats.js';
import { summarizeHeap, type HeapSnapshotJson } from '../lib/heap-retainers.js';
import { meshletBootstrapYaml } from '../peers/meshlet-bootstrap.js';

const MB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (b: number | null): string => (b === null ? '–' : (b / MB).toFixed(1));

/** What a string in the snapshot is: module source text dominates the big ones. */
function stringKind(text: string, size: number): string {
  if (size < 4096) return 'strings < 4 KB';
  if (/^syntax = "proto/.test(text)) return '.proto sources';
  return 'JS sources and other strings ≥ 4 KB';
}

function stringKinds(s: HeapSnapshotJson): Map<string, number> {
  const nf = s.snapshot.meta.node_fields.length;
  const types = s.snapshot.meta.node_types[0] as string[];
  const iType = s.snapshot.meta.node_fields.indexOf('type');
  const iName = s.snapshot.meta.node_fields.indexOf('name');
  const iSelf = s.snapshot.meta.node_fields.indexOf('self_size');
  const out = new Map<string, number>();
  for (let i = 0; i < s.nodes.length; i += nf) {
    if (types[s.nodes[i + iType]] !== 'string') continue;
    const size = s.nodes[i + iSelf];
    const k = stringKind(s.strings[s.nodes[i + iName]] ?? '', size);
    out.set(k, (out.get(k) ?? 0) + size);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  let idleS = 5;
  let nodeFlags: string[] = [];
  let keep: string | null = null;
  let bin = fileURLToPath(new URL('../peers/meshlet-launcher.js', import.meta.url));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--idle') idleS = Number(argv[++i]);
    else if (a === '--node-flags') nodeFlags = (argv[++i] ?? '').split(/\s+/).filter(Boolean);
    else if (a === '--meshlet-bin') bin = resolve(argv[++i] ?? '');
    else if (a === '--keep') keep = resolve(argv[++i] ?? '.');
    else { process.stderr.write(`unknown option ${a}\n`); return 2; }
  }
  if (!Number.isFinite(idleS) || idleS < 1 || idleS > 600) { process.stderr.write('--idle must be 1..600 seconds\n'); return 2; }
  const reg = new ProcessRegistry(null);
  reg.installExitHandlers();
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-mem-'));
  try {
    const [listen, admin, upstream] = [await freePort(), await freePort(), await freePort()];
    const yaml = join(dir, 'bootstrap.yaml');
    writeFileSync(yaml, meshletBootstrapYaml('h1', listen, upstream, admin));
    const repoRoot = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
    const p = reg.start('meshlet', process.execPath, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`, ...nodeFlags, bin, '-c', yaml, '--log-level', 'warn'], { cwd: repoRoot });
    if (!(await waitForPort(admin, 15_000, () => p.running))) { process.stderr.write(`meshlet did not start: ${p.tail()}\n`); return 1; }
    const startedAt = Date.now();
    const rssAtStart = treeRssBytes([p.pid]);
    await sleep(idleS * 1000);
    const rss = treeRssBytes([p.pid]);
    const pss = treePssBytes([p.pid]);
    const memory = await (await fetch(`http://127.0.0.1:${admin}/memory`)).json() as Record<string, string>;
    process.kill(p.pid, 'SIGUSR2');
    let file: string | undefined;
    for (let i = 0; i < 300 && !file; i++) {
      await sleep(100);
      const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot'));
      // written when the size stops changing
      if (f) { const a = readFileSync(join(dir, f)).length; await sleep(300); if (readFileSync(join(dir, f)).length === a && a > 0) file = join(dir, f); }
    }
    await reg.stop(p);
    const lines: string[] = [];
    lines.push(`meshlet idle with the bench bootstrap${nodeFlags.length ? ` (node ${nodeFlags.join(' ')})` : ''}: RSS ${mb(rssAtStart)} MB when the admin port opened, ` +
      `${mb(rss)} MB after ${((Date.now() - startedAt) / 1000).toFixed(0)} s idle (PSS ${mb(pss)} MB: shared pages split with every process mapping them, other node processes on the machine included)`);
    lines.push(`admin /memory: allocated ${mb(Number(memory.allocated))} MB, heap_size ${mb(Number(memory.heap_size))} MB, total_physical_bytes ${mb(Number(memory.total_physical_bytes))} MB`);
    if (!file) {
      lines.push('no heap snapshot was written');
    } else {
      const snap = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshotJson;
      const sum = summarizeHeap(snap, 20, 128 * 1024);
      lines.push(`heap snapshot: ${mb(sum.totalBytes)} MB in ${sum.nodeCount} nodes; self size by type: ${sum.byType.slice(0, 8).map((t) => `${t.type} ${mb(t.bytes)}`).join(', ')}`);
      lines.push(`strings: ${[...stringKinds(snap)].map(([k, v]) => `${k} ${mb(v)} MB`).join(', ')}`);
      lines.push('biggest retainers (dominator tree; V8 heaps are densely linked, so most objects are retained only by a GC root):');
      for (const r of sum.top) lines.push(`  ${mb(r.retainedBytes).padStart(6)} MB  ${r.type} ${r.name || '(anonymous)'}  via ${r.via}`);
      if (keep) writeFileSync(join(keep, 'meshlet-idle.heapsnapshot'), readFileSync(file));
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await reg.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e: unknown) => { process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`); process.exitCode = 1; });
