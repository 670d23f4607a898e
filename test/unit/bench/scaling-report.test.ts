// Bench harness: the h1-50-c2 (issue 9 item 4) pieces — CPU plan for two-worker shapes, per-process CPU/PSS readers
// over the real /proc, and the one-worker-vs-two table (ratios against the baseline row of the same run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuPlan } from '../../../bench/lib/machine.js';
import { cpuSecondsEach, processTree, treePssBytes, treeRssBytes } from '../../../bench/lib/proc-stats.js';
import { computeRatios, renderMarkdown, type BenchReport, type Metrics, type RowResult, type ScenarioResult } from '../../../bench/lib/report.js';
import { SCALING, SCALING_TARGETS, allScenarios } from '../../../bench/e2e/scenarios.js';
import { targetCpus } from '../../../bench/e2e/targets.js';

test('CPU plan: two-worker shapes get the proxy core plus one; on 2-3 CPUs that one is the load generator\'s, and the plan says so', () => {
  const two = cpuPlan(2, true);
  assert.deepEqual([two.loadgen, two.proxy, two.proxy2, two.backend, two.proxy2SharesLoadgen], ['0', '1', '0-1', '0', true]);
  const eight = cpuPlan(8, true);
  assert.deepEqual([eight.loadgen, eight.proxy, eight.proxy2, eight.backend, eight.backendWorkers, eight.proxy2SharesLoadgen], ['0', '1', '1-2', '3-6', 4, false]);
  const four = cpuPlan(4, true);
  assert.equal(four.backend, '3-3');
  assert.equal(cpuPlan(8, false).proxy2, null);
  // meshlet-c2-1cpu stays on the proxy core: it measures the worker model without an extra core
  assert.equal(targetCpus('meshlet-c2', { proxyCpus: '1', proxy2Cpus: '0-1' }), '0-1');
  assert.equal(targetCpus('meshlet-c2-1cpu', { proxyCpus: '1', proxy2Cpus: '0-1' }), '1');
  assert.equal(targetCpus('haproxy', { proxyCpus: '1', proxy2Cpus: '0-1' }), '1');
});

test('h1-50-c2 pairs every two-worker target with a one-worker row of the same scenario', () => {
  const c2 = allScenarios('/dev/null').find((s) => s.name === 'h1-50-c2');
  assert.ok(c2);
  for (const t of SCALING_TARGETS) {
    assert.ok(c2.targets.includes(t), `${t} runs in h1-50-c2`);
    assert.ok(c2.targets.includes(SCALING[t].baseline), `${t}'s baseline ${SCALING[t].baseline} runs too`);
    assert.ok(c2.targets.indexOf(SCALING[t].baseline) < c2.targets.indexOf(t), 'the baseline is measured first');
  }
});

test('per-process CPU and PSS readers see this process and its tree', () => {
  const end = Date.now() + 60;
  let spin = 0;
  while (Date.now() < end) spin++;
  assert.ok(spin > 0);
  const tree = processTree(process.pid);
  assert.equal(tree[0], process.pid);
  const [cpu] = cpuSecondsEach([process.pid]);
  assert.ok(cpu > 0, `this process used CPU: ${cpu}`);
  assert.deepEqual(cpuSecondsEach([2 ** 22 + 12345]), [0], 'a pid that does not exist counts 0');
  const pss = treePssBytes([process.pid]);
  const rss = treeRssBytes([process.pid]);
  if (pss !== null) assert.ok(pss > 0 && pss <= rss, `PSS ${pss} is positive and at most RSS ${rss}`);
});

const m = (rps: number, cpu: number, rss: number): Metrics => ({ rps, p50Ms: 1, p99Ms: 2, cpuSecPer10k: cpu, rssRestMB: rss, rssLoadMB: rss, requests: rps, errors: 0 });
const row = (target: string, median: Metrics | null, extra: Partial<RowResult> = {}): RowResult =>
  ({ target, status: median ? 'ok' : 'unavailable', reason: median ? undefined : 'exited with 1', reps: [], median, vsHaproxy: null, vsMinimalNode: null, ...extra });

test('two-worker rows are compared with their one-worker row, not with plain meshlet as variants are', () => {
  const s: ScenarioResult = {
    name: 'h1-50-c2', title: 't', load: 'wrk', rows: [
      row('haproxy', m(10_000, 0.2, 15), { workers: 1, cpus: '1' }),
      row('haproxy-t2', m(15_000, 0.22, 15), { workers: 2, baseline: 'haproxy', cpus: '0-1', cpuSplitS: [0.33] }),
      row('minimal-node', m(5_000, 0.4, 70), { workers: 1, cpus: '1' }),
      row('meshlet', m(4_000, 0.5, 100), { workers: 1, cpus: '1', pssRestMB: 90 }),
      row('meshlet-c2', m(6_000, 0.6, 300), { workers: 2, baseline: 'meshlet', cpus: '0-1', cpuSplitS: [0.01, 0.9, 0.8], workerAccepted: [27, 23], pssRestMB: 250 }),
      row('meshlet-c2-1cpu', null, { workers: 2, baseline: 'meshlet', cpus: '1' }),
      row('minimal-node-x2', m(7_000, 0.42, 150), { workers: 2, baseline: 'minimal-node', cpus: '0-1' }),
    ],
  };
  computeRatios(s);
  const c2 = s.rows[4];
  assert.equal(c2.vsBaseline?.rps, 1.5);
  assert.equal(c2.vsBaseline?.cpuSecPer10k?.toFixed(2), '1.20');
  assert.equal(c2.vsBaseline?.rssLoadMB, 3);
  assert.equal(c2.vsMeshlet, undefined, 'not in the variants table');
  assert.equal(s.rows[1].vsBaseline?.rps, 1.5);
  assert.equal(s.rows[6].vsBaseline?.rps, 1.4);
  const report: BenchReport = {
    date: '2026-01-01T00:00:00.000Z', machine: { nproc: 2, cpuModel: 'X', node: 'v20', kernel: 'Linux' }, tools: {},
    pinning: { loadgen: '0', proxy: '1', backend: '0', proxy2: '0-1' }, options: { durationS: 1, reps: 1, warmupS: 0, smoke: false, scenarios: ['h1-50-c2'] },
    notes: [], scenarios: [s], elapsedS: 1,
  };
  const md = renderMarkdown(report);
  assert.match(md, /two-worker shapes on CPUs 0-1/);
  assert.doesNotMatch(md, /meshlet variants against plain/);
  const table = md.slice(md.indexOf('One worker against two'));
  const lines = table.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| target'));
  assert.deepEqual(lines.map((l) => l.split('|')[1].trim()),
    ['haproxy', 'haproxy-t2 (vs haproxy)', 'meshlet', 'meshlet-c2 (vs meshlet)', 'meshlet-c2-1cpu (vs meshlet)', 'minimal-node', 'minimal-node-x2 (vs minimal-node)']);
  assert.match(table, /\| meshlet-c2 \(vs meshlet\) \| 2 \| 0-1 \| 6000 \| 1\.50× \| 0\.600 \| 1\.20× \| 300\.0 \| 250\.0 \| 300\.0 \| 3\.00× \| 0\.01 \/ 0\.90 \/ 0\.80 \| 27 \/ 23 \|/);
  assert.match(table, /\| meshlet-c2-1cpu \(vs meshlet\) \| 2 \| 1 \| unavailable \(exited with 1\) \|/);
  assert.match(table, /\| meshlet \| 1 \| 1 \| 4000 \| – \|/);
});
