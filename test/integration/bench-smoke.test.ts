// Bench harness guard: runs `bench/run.js --smoke` for real (a few seconds) and checks the report it writes, plus the
// output parsers and report rendering the harness relies on. No timing assertions: only shape and consistency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWrkOutput, parseWrkDuration } from '../../bench/lib/parse-wrk.js';
import { parseH2loadLog, parseH2loadOutput } from '../../bench/lib/parse-h2load.js';
import { median, percentileSorted } from '../../bench/lib/stats.js';
import { computeRatios, renderMarkdown, type BenchReport, type Metrics, type ScenarioResult } from '../../bench/lib/report.js';

const RUN_JS = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`], { stdio: 'ignore' }).status === 0;

const WRK_SAMPLE = `Running 1s test @ http://127.0.0.1:18092/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.02ms    4.72ms  41.86ms   92.11%
    Req/Sec     0.99k   318.29     1.48k    70.00%
  Latency Distribution
     50%  412.00us
     75%    3.31ms
     90%    6.89ms
     99%    1.02s
  990 requests in 1.00s, 1.47MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    988.77
Transfer/sec:      1.47MB
`;

const H2LOAD_SAMPLE = `finished in 1.03s, 16070.00 req/s, 612.19KB/s
requests: 16070 total, 16074 started, 16070 done, 16068 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 16068 2xx, 0 3xx, 0 4xx, 2 5xx
`;

test('wrk output parser reads totals, percentiles in every unit, and counts errors', () => {
  const r = parseWrkOutput(WRK_SAMPLE);
  assert.equal(r.requests, 990);
  assert.equal(r.rps, 988.77);
  assert.equal(r.durationS, 1);
  assert.equal(r.p50Ms, 0.412);
  assert.equal(r.p99Ms, 1020);
  assert.equal(r.errors, 2 + 1 + 4);
  assert.equal(parseWrkDuration('2m'), 120000);
  assert.equal(parseWrkDuration('garbage'), null);
  assert.throws(() => parseWrkOutput('wrk: connection refused'), /unrecognised wrk output/);
});

test('h2load parser uses the per-request log for percentiles and counts failures and 4xx/5xx', () => {
  const log = parseH2loadLog('1000\t200\t300\n1001\t200\t100\n1002\t200\t200\nbad line\n1003\t200\t400\n');
  assert.deepEqual([...log], [100, 200, 300, 400]);
  const r = parseH2loadOutput(H2LOAD_SAMPLE, log);
  assert.equal(r.requests, 16068);
  assert.equal(r.rps, 16070);
  assert.equal(r.p50Ms, 0.2);
  assert.equal(r.p99Ms, 0.4);
  assert.equal(r.errors, 2 + 2);
  assert.equal(parseH2loadOutput(H2LOAD_SAMPLE).p50Ms, null);
});

test('median and percentile helpers', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([null, 5, undefined]), 5);
  assert.equal(median([]), null);
  assert.equal(percentileSorted(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 50), 5);
  assert.equal(percentileSorted([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
});

test('ratios are taken against haproxy and minimal-node of the same scenario; unavailable rows keep their reason', () => {
  const m = (rps: number, cpu: number): Metrics => ({ rps, p50Ms: 1, p99Ms: 2, cpuSecPer10k: cpu, rssRestMB: 10, rssLoadMB: 20, requests: rps, errors: 0 });
  const s: ScenarioResult = {
    name: 'h1-50', title: 't', load: 'wrk', rows: [
      { target: 'haproxy', status: 'ok', reps: [], median: m(1000, 0.2), vsHaproxy: null, vsMinimalNode: null },
      { target: 'minimal-node', status: 'ok', reps: [], median: m(500, 0.4), vsHaproxy: null, vsMinimalNode: null },
      { target: 'meshlet', status: 'unavailable', reason: 'exited with 1: a|b', reps: [], median: null, vsHaproxy: null, vsMinimalNode: null },
    ],
  };
  computeRatios(s);
  assert.equal(s.rows[1].vsHaproxy?.cpuSecPer10k, 2);
  assert.equal(s.rows[1].vsHaproxy?.rps, 0.5);
  assert.equal(s.rows[0].vsMinimalNode?.cpuSecPer10k, 0.5);
  assert.equal(s.rows[2].vsHaproxy, null);
  const report: BenchReport = {
    date: '2026-01-01T00:00:00.000Z', machine: { nproc: 2, cpuModel: 'X', node: 'v20', kernel: 'Linux' }, tools: {},
    pinning: { loadgen: '0', proxy: '1', backend: '0' }, options: { durationS: 1, reps: 1, warmupS: 0, smoke: true, scenarios: ['h1-50'] },
    notes: [], scenarios: [s], elapsedS: 1,
  };
  const md = renderMarkdown(report);
  assert.match(md, /\| minimal-node \| 500 \| 0\.50× \| 1\.00× \|/);
  assert.match(md, /\| meshlet \| unavailable \(exited with 1: a\\\|b\) \|/);
});

async function runSmoke(args: string[], timeoutMs: number): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [RUN_JS, '--smoke', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdout.resume();
  const killer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  return { code, stderr };
}

test('without wrk the smoke run falls back to the bundled node load generator and says so', { timeout: 60_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-nowrk-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const { code, stderr } = await runSmoke(['--no-wrk', '--targets', 'direct,minimal-node', '--out', out], 50_000);
  assert.equal(code, 0, `bench exited ${code}: ${stderr.slice(-2000)}`);
  const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
  const s = report.scenarios[0];
  assert.match(s.load, /^node h1-load, 50 keep-alive connection/);
  assert.deepEqual(s.rows.map((r) => r.target), ['direct', 'minimal-node']);
  if (has('nginx')) {
    for (const r of s.rows) {
      assert.equal(r.status, 'ok', JSON.stringify(r));
      assert.ok(r.median!.requests! > 0 && r.median!.errors === 0, `${r.target} served requests without errors`);
    }
  }
});

test('smoke mode runs every available peer on h1-50 and writes well-formed latest.json and latest.md', { timeout: 120_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const { code, stderr } = await runSmoke(['--out', out], 100_000);
  assert.equal(code, 0, `bench exited ${code}: ${stderr.slice(-2000)}`);

  const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
  const md = readFileSync(join(out, 'latest.md'), 'utf8');
  assert.equal(report.options.smoke, true);
  assert.ok(report.machine.nproc >= 1 && report.machine.cpuModel.length > 0 && report.machine.node.startsWith('v'));
  assert.ok(!Number.isNaN(Date.parse(report.date)));
  assert.deepEqual(report.scenarios.map((s) => s.name), ['h1-50']);
  const rows = report.scenarios[0].rows;
  assert.deepEqual(rows.map((r) => r.target), ['direct', 'haproxy', 'nginx', 'http-proxy', 'fastify', 'minimal-node', 'meshlet']);
  assert.match(md, /^### meshlet e2e benchmark — /);
  assert.match(md, /#### h1-50 — /);
  for (const r of rows) {
    const line = md.split('\n').find((l) => l.startsWith(`| ${r.target} |`));
    assert.ok(line, `markdown has a row for ${r.target}`);
    if (r.status !== 'ok') {
      assert.ok(r.reason && r.reason.length > 0, `${r.target} says why it is unavailable`);
      assert.match(line, /unavailable \(/);
      continue;
    }
    assert.equal(r.reps.length, 1);
    const m = r.median!;
    assert.ok(m.rps! > 0 && m.requests! > 0, `${r.target} served requests`);
    assert.ok(m.p50Ms! > 0 && m.p99Ms! >= m.p50Ms!, `${r.target} latency percentiles are ordered`);
    if (r.target === 'direct') {
      assert.equal(m.cpuSecPer10k, null);
    } else {
      assert.ok(m.cpuSecPer10k! >= 0 && m.rssRestMB! > 0 && m.rssLoadMB! >= m.rssRestMB! * 0.5, `${r.target} has CPU and RSS figures`);
      assert.match(line, new RegExp(`^\\| ${r.target} \\| ${Math.round(m.rps!)} \\|`));
    }
  }
  if (has('nginx')) {
    // with a backend (wrk or the node fallback generates load), the harness's own peers must have run
    for (const target of ['direct', 'minimal-node', 'http-proxy', 'fastify']) {
      assert.equal(rows.find((r) => r.target === target)?.status, 'ok', `${target} ran: ${JSON.stringify(rows.find((r) => r.target === target))}`);
    }
    const min = rows.find((r) => r.target === 'minimal-node')!;
    assert.equal(min.vsMinimalNode?.cpuSecPer10k, 1);
  }
});

test('h1-50-c2 smoke: two-worker shapes run, every worker process is measured and none outlives the run', { timeout: 120_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-c2-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const { code, stderr } = await runSmoke(['--scenarios', 'h1-50-c2', '--targets', 'minimal-node,minimal-node-x2,meshlet,meshlet-c2', '--out', out], 100_000);
  assert.equal(code, 0, `bench exited ${code}: ${stderr.slice(-2000)}`);
  const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchReport;
  const md = readFileSync(join(out, 'latest.md'), 'utf8');
  const rows = report.scenarios[0].rows;
  assert.deepEqual(rows.map((r) => r.target), ['minimal-node', 'minimal-node-x2', 'meshlet', 'meshlet-c2']);
  assert.match(md, /One worker against two in the same run/);
  assert.match(md, /\| meshlet-c2 \(vs meshlet\) \| 2 \|/);
  if (!has('nginx')) return;
  for (const r of rows) assert.equal(r.status, 'ok', JSON.stringify(r));
  const c2 = rows.find((r) => r.target === 'meshlet-c2')!;
  // the primary and both workers are in the measured tree, and both workers accepted connections of their own
  assert.equal(c2.workers, 2);
  assert.equal(c2.treePids?.length, 3, `primary + 2 workers: ${JSON.stringify(c2.treePids)}`);
  assert.equal(c2.workerAccepted?.length, 2);
  assert.ok(c2.workerAccepted!.reduce((a, b) => a + b, 0) >= 50, `wrk's 50 connections were accepted by the workers: ${c2.workerAccepted}`);
  assert.ok(c2.vsBaseline?.rps !== null && c2.vsBaseline?.rps !== undefined, 'scaling factor against meshlet');
  const x2 = rows.find((r) => r.target === 'minimal-node-x2')!;
  assert.equal(x2.treePids?.length, 3, 'cluster primary + 2 workers');
  // a zombie (state Z, waiting for a reaper) has exited: only a running or sleeping process counts as left over
  const alive = [...c2.treePids!, ...x2.treePids!].filter((pid) => {
    try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
  });
  assert.deepEqual(alive, [], 'the harness killed every worker it measured');
});
