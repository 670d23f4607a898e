// Bench entry (`npm run bench`): detects/installs peers, starts the backends, then for every scenario and target
// measures req/s, latency, proxy CPU per 10k requests and RSS (median of N), and writes bench/results/latest.{json,md}.
// Usage: node dist/bench/run.js [--duration S] [--scenarios a,b] [--reps N] [--warmup S] [--smoke] [--no-install] [--out DIR]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessRegistry, type ManagedProcess } from './lib/processes.js';
import { RssSampler, cpuSecondsEach, processTree, treePssBytes, treeRssBytes } from './lib/proc-stats.js';
import { cpuPlan, machineInfo } from './lib/machine.js';
import { detectTools, type Tools } from './lib/tools.js';
import { BODY, freePort, grpcFrame, waitForPort } from './lib/net.js';
import { median } from './lib/stats.js';
import { computeRatios, renderMarkdown, writeReport, type BenchReport, type Metrics, type RowResult, type ScenarioResult } from './lib/report.js';
import { makeSelfSigned, type CertFiles } from './peers/certs.js';
import { nginxBackendConfig } from './peers/nginx.js';
import { allScenarios, SCALING_TARGETS, SCENARIO_NAMES, TARGETS, scalingShape, type BackendKind, type Scenario, type TargetName } from './e2e/scenarios.js';
import { describeLoad, loadTool, runLoad, type LoadContext } from './e2e/load.js';
import { fetchWorkers, startTarget, targetCpus, type TargetContext } from './e2e/targets.js';

export interface BenchOptions {
  readonly durationS: number;
  readonly reps: number;
  readonly warmupS: number;
  readonly scenarios: readonly string[];
  readonly targets: readonly string[] | null;
  readonly smoke: boolean;
  readonly install: boolean;
  readonly outDir: string;
  /** use the bundled node HTTP/1.1 load generator even when wrk is installed */
  readonly noWrk: boolean;
  /** meshlet launcher script; null = peers/meshlet-launcher.js of this build (the meshlet next to this harness) */
  readonly meshletBin: string | null;
}

// Targets: direct, haproxy, nginx, http-proxy, fastify, minimal-node, meshlet, and in h1-50 the meshlet variants
// meshlet-filters, meshlet-notrace, meshlet-trace1, meshlet-trace100, meshlet-trace100-down (collector unreachable), meshlet-noaccesslog (ratios against meshlet);
// in h1-50-c2 the two-worker shapes haproxy-t2, minimal-node-x2, meshlet-c2, meshlet-c2-1cpu (ratios against their one-worker row).
const USAGE = 'usage: run.js [--duration S] [--scenarios a,b] [--targets a,b] [--reps N] [--warmup S] [--smoke] [--no-install] [--out DIR] [--meshlet-bin FILE] [--no-wrk]';

/** Parses argv; returns an error text for bad input. */
export function parseArgs(argv: readonly string[]): BenchOptions | string {
  let durationS = 3, reps = 3, warmupS = 1, smoke = false, install = true, outDir = 'bench/results';
  let scenarios: string[] | null = null;
  let targets: string[] | null = null;
  let meshletBin: string | null = null;
  let noWrk = false;
  let durationSet = false, repsSet = false, warmupSet = false, installSet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    try {
      if (a === '--duration') { durationS = Number(val()); durationSet = true; }
      else if (a === '--reps') { reps = Number(val()); repsSet = true; }
      else if (a === '--warmup') { warmupS = Number(val()); warmupSet = true; }
      else if (a === '--scenarios') scenarios = val().split(',').map((s) => s.trim()).filter(Boolean);
      else if (a === '--targets') targets = val().split(',').map((s) => s.trim()).filter(Boolean);
      else if (a === '--out') outDir = val();
      else if (a === '--meshlet-bin') meshletBin = resolve(val());
      else if (a === '--smoke') smoke = true;
      else if (a === '--no-wrk') noWrk = true;
      else if (a === '--no-install') { install = false; installSet = true; }
      else if (a === '--install') { install = true; installSet = true; }
      else if (a === '--help' || a === '-h') return USAGE;
      else return `unknown option ${a}\n${USAGE}`;
    } catch (e) { return `${(e as Error).message}\n${USAGE}`; }
  }
  if (smoke) {
    if (!durationSet) durationS = 1;
    if (!repsSet) reps = 1;
    if (!warmupSet) warmupS = 0;
    if (!installSet) install = false;
    scenarios ??= ['h1-50'];
    // the smoke run proves the harness; the meshlet variants only when asked for with --targets
    targets ??= [...TARGETS, ...SCALING_TARGETS];
  }
  scenarios ??= [...SCENARIO_NAMES];
  const bad = scenarios.filter((s) => !(SCENARIO_NAMES as readonly string[]).includes(s));
  if (bad.length > 0) return `unknown scenario(s) ${bad.join(', ')}; known: ${SCENARIO_NAMES.join(', ')}`;
  if (!Number.isInteger(durationS) || durationS < 1 || durationS > 600) return '--duration must be an integer number of seconds in 1..600';
  if (!Number.isInteger(reps) || reps < 1 || reps > 20) return '--reps must be an integer in 1..20';
  if (!Number.isInteger(warmupS) || warmupS < 0 || warmupS > 60) return '--warmup must be an integer number of seconds in 0..60';
  return { durationS, reps, warmupS, scenarios, targets, smoke, install, outDir: resolve(outDir), meshletBin, noWrk };
}

const MB = 1024 * 1024;
const log = (s: string): void => { process.stderr.write(`[bench] ${s}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Backend { readonly proc: ManagedProcess; readonly port: number }

/** Starts the backend a scenario needs (nginx plain, nginx TLS, or the node:http2 backend); one per scenario. */
class BackendLauncher {
  private cert: CertFiles | string | null = null;
  private seq = 0;
  constructor(private readonly reg: ProcessRegistry, private readonly tools: Tools, private readonly cpus: string | null,
    private readonly workers: number, private readonly tmp: string) {}

  async start(kind: BackendKind): Promise<Backend | string> {
    if (kind === 'h2') {
      const port = await freePort();
      const script = join(fileURLToPath(new URL('./peers/', import.meta.url)), 'h2-backend.js');
      const proc = this.reg.start('backend-h2', process.execPath, [script, String(port)], { cpus: this.cpus });
      if (await waitForPort(port, 10_000, () => proc.running)) return { proc, port };
      await this.reg.stop(proc);
      return `h2 backend failed to start: ${proc.tail()}`;
    }
    if (!this.tools.nginx) return 'nginx not installed: no HTTP/1.1 backend';
    let cert: CertFiles | null = null;
    if (kind === 'nginx-tls') {
      this.cert ??= makeSelfSigned(this.tools.openssl, this.tmp);
      if (typeof this.cert === 'string') return `TLS backend unavailable: ${this.cert}`;
      cert = this.cert;
    }
    const http = await freePort();
    const https = cert ? await freePort() : null;
    const dir = join(this.tmp, `backend-nginx-${this.seq++}`);
    mkdirSync(dir, { recursive: true });
    const cfg = join(dir, 'nginx.conf');
    writeFileSync(cfg, nginxBackendConfig(dir, this.workers, { http, https }, cert));
    const proc = this.reg.start('backend-nginx', this.tools.nginx, ['-p', dir, '-c', cfg, '-e', join(dir, 'error.log')], { cpus: this.cpus });
    const port = https ?? http;
    if (await waitForPort(port, 10_000, () => proc.running)) return { proc, port };
    await this.reg.stop(proc);
    return `nginx backend failed to start: ${proc.tail()}`;
  }
}

function metricsOf(rep: { rps: number; p50Ms: number | null; p99Ms: number | null; requests: number; errors: number },
  cpuS: number | null, rssRest: number | null, rssLoad: number | null): Metrics {
  return {
    rps: rep.rps,
    p50Ms: rep.p50Ms,
    p99Ms: rep.p99Ms,
    cpuSecPer10k: cpuS !== null && rep.requests > 0 ? (cpuS / rep.requests) * 10_000 : null,
    rssRestMB: rssRest !== null ? rssRest / MB : null,
    rssLoadMB: rssLoad !== null ? rssLoad / MB : null,
    requests: rep.requests,
    errors: rep.errors,
  };
}

function medianMetrics(reps: readonly Metrics[]): Metrics {
  const m = (k: keyof Metrics): number | null => median(reps.map((r) => r[k]));
  return { rps: m('rps'), p50Ms: m('p50Ms'), p99Ms: m('p99Ms'), cpuSecPer10k: m('cpuSecPer10k'), rssRestMB: m('rssRestMB'), rssLoadMB: m('rssLoadMB'), requests: m('requests'), errors: m('errors') };
}

async function measureTarget(name: TargetName, s: Scenario, tctx: TargetContext, lctx: LoadContext, o: BenchOptions): Promise<RowResult> {
  const shape = scalingShape(name);
  // in a scenario with two-worker shapes, every row records its CPUs, per-process CPU split and PSS (the table pairs them)
  const inScaling = s.targets.some((t) => scalingShape(t) !== null);
  const shapeInfo = shape ? { workers: shape.workers, baseline: shape.baseline, cpus: targetCpus(name, tctx) }
    : inScaling ? { workers: 1, cpus: name === 'direct' ? null : tctx.proxyCpus } : {};
  const unavailable = (reason: string): RowResult => ({ target: name, status: 'unavailable', reason, reps: [], median: null, vsHaproxy: null, vsMinimalNode: null, ...shapeInfo });
  const started = await startTarget(name, s, tctx);
  if (!started.ok) return unavailable(started.reason);
  const proc: ManagedProcess | null = started.proc;
  try {
    await sleep(300);
    const restPids = proc ? processTree(proc.pid) : [];
    const rssRest = proc ? treeRssBytes(restPids) : null;
    const pssRest = proc && inScaling ? treePssBytes(restPids) : null;
    if (o.warmupS > 0) await runLoad(lctx, s.load, started.port, o.warmupS);
    const reps: Metrics[] = [];
    let cpuSplitS: number[] = [];
    let treePids: number[] = [];
    for (let i = 0; i < o.reps; i++) {
      // the whole tree: nginx's master + worker, meshlet's primary + --concurrency workers, node:cluster workers
      const pids = proc ? processTree(proc.pid) : [];
      const each0 = cpuSecondsEach(pids);
      const sampler = proc ? new RssSampler(pids) : null;
      let res;
      try { res = await runLoad(lctx, s.load, started.port, o.durationS); } finally { sampler?.stop(); }
      cpuSplitS = cpuSecondsEach(pids).map((c, j) => c - each0[j]);
      treePids = pids;
      const cpuS = cpuSplitS.reduce((a, b) => a + b, 0);
      const rssLoad = sampler ? sampler.stop() : null;
      if (proc && !proc.running) return unavailable(`exited during load: ${proc.tail()}`);
      reps.push(metricsOf(res, proc ? cpuS : null, rssRest, rssLoad));
      log(`  ${s.name} ${name} rep ${i + 1}: ${res.rps.toFixed(0)} req/s, p50 ${res.p50Ms?.toFixed(3)} ms, p99 ${res.p99Ms?.toFixed(3)} ms` +
        `${proc ? `, cpu ${(cpuS / res.requests * 10_000).toFixed(3)} s/10k, rss ${(rssLoad! / MB).toFixed(1)} MB` : ''}${res.errors ? `, errors ${res.errors}` : ''}`);
    }
    const workers = shape && started.adminPort !== null ? await fetchWorkers(started.adminPort) : null;
    return { target: name, status: 'ok', reps, median: medianMetrics(reps), vsHaproxy: null, vsMinimalNode: null, ...shapeInfo,
      ...(inScaling ? { cpuSplitS, treePids, pssRestMB: pssRest !== null ? pssRest / MB : null } : {}), ...(workers ? { workerAccepted: workers.workers.map((w) => w.accepted ?? 0) } : {}) };
  } catch (e) {
    return unavailable(`load failed: ${(e as Error).message}`);
  } finally {
    if (proc) await tctx.registry.stop(proc);
    for (const h of started.helpers) {
      await tctx.registry.stop(h);
      // the OTLP sink prints what it received on SIGTERM: proof the tracing variant really exported
      if (h.label === 'otlp-sink') log(`  ${s.name} ${name} OTLP sink received ${h.stdout.trim().split('\n').pop() || 'nothing'}`);
    }
  }
}

/** Runs the whole benchmark and writes the report; returns it. */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const t0 = Date.now();
  const loadStart = loadavg()[0];
  const machine = machineInfo();
  const detected = detectTools(o.install, log);
  const tools: Tools = o.noWrk ? { ...detected, wrk: null } : detected;
  const plan = cpuPlan(machine.nproc, tools.taskset !== null);
  const reg = new ProcessRegistry(tools.taskset);
  reg.installExitHandlers();
  const tmp = mkdtempSync(join(tmpdir(), 'meshlet-bench-'));
  const notes: string[] = [...tools.notes];
  if (o.meshletBin) notes.push(`meshlet launched as \`node ${o.meshletBin} -c <bootstrap>\``);
  const scenarioResults: ScenarioResult[] = [];
  try {
    const grpcBody = join(tmp, 'grpc-body.bin');
    writeFileSync(grpcBody, grpcFrame(Buffer.from(BODY)));
    const scenarios = allScenarios(grpcBody).filter((s) => o.scenarios.includes(s.name));
    const backends = new BackendLauncher(reg, tools, plan.backend, plan.backendWorkers, tmp);
    const repoRoot = resolve(fileURLToPath(new URL('../../', import.meta.url)));
    const lctx: LoadContext = { registry: reg, cpus: plan.loadgen, wrk: tools.wrk, h2load: tools.h2load, tmpDir: tmp };
    for (const s of scenarios) {
      log(`scenario ${s.name}: ${s.title}`);
      if (s.targets.some((t) => scalingShape(t)?.spread) && plan.proxy2) {
        notes.push(`${s.name}: one-worker shapes on CPU ${plan.proxy}, two-worker shapes on CPUs ${plan.proxy2}` + (plan.proxy2SharesLoadgen
          ? ` — shared with the load generator and the backend (CPU ${plan.loadgen}), so the second worker only gets what wrk and nginx leave of that core: the scaling factor is a lower bound of what a free core gives; \`meshlet-c2-1cpu\` runs both workers on CPU ${plan.proxy} alone (the cost of the worker model itself)`
          : ` (a core of its own for the second worker)`));
      }
      const result: ScenarioResult = { name: s.name, title: s.title, load: describeLoad(s.load, tools.wrk !== null), rows: [] };
      scenarioResults.push(result);
      const tool = loadTool(s.load);
      let backend: Backend | string = tool && !tools[tool] ? `${tool} not installed` : await backends.start(s.backend);
      for (const name of s.targets) {
        if (o.targets && !o.targets.includes(name)) continue;
        if (typeof backend !== 'string' && !backend.proc.running) {
          // a crashed backend would make every later row fail: say so and start a fresh one
          const why = `${s.name}: ${s.backend} backend exited (${backend.proc.exitCode}) before ${name}: ${backend.proc.tail()}`;
          log(why);
          notes.push(why);
          backend = await backends.start(s.backend);
        }
        const tctx: TargetContext = { registry: reg, tools, proxyCpus: plan.proxy, proxy2Cpus: plan.proxy2, tmpDir: tmp, upstream: typeof backend === 'string' ? 0 : backend.port,
          repoRoot, meshletBin: o.meshletBin ?? fileURLToPath(new URL('./peers/meshlet-launcher.js', import.meta.url)), startTimeoutMs: 10_000, sideCpus: plan.backend };
        const row: RowResult = typeof backend === 'string'
          ? { target: name, status: 'unavailable', reason: backend, reps: [], median: null, vsHaproxy: null, vsMinimalNode: null }
          : await measureTarget(name, s, tctx, lctx, o);
        if (row.status !== 'ok') log(`  ${s.name} ${name}: unavailable (${row.reason})`);
        result.rows.push(row);
      }
      if (typeof backend !== 'string') await reg.stop(backend.proc);
      computeRatios(result);
    }
  } finally {
    await reg.stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
  // other work on the machine skews absolute numbers; say how busy it was
  notes.push(`1-minute load average ${loadStart.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end (${machine.nproc} CPUs)`);
  const report: BenchReport = {
    date: new Date().toISOString(),
    machine,
    tools: tools.versions,
    pinning: { loadgen: plan.loadgen, proxy: plan.proxy, backend: plan.backend, proxy2: plan.proxy2 },
    options: { durationS: o.durationS, reps: o.reps, warmupS: o.warmupS, smoke: o.smoke, scenarios: o.scenarios },
    notes,
    scenarios: scenarioResults,
    elapsedS: (Date.now() - t0) / 1000,
  };
  const files = writeReport(o.outDir, report);
  log(`wrote ${files.json} and ${files.md}`);
  return report;
}

const opts = parseArgs(process.argv.slice(2));
if (typeof opts === 'string') {
  process.stderr.write(`${opts}\n`);
  process.exitCode = opts === USAGE ? 0 : 2;
} else {
  runBench(opts).then((r) => { process.stdout.write(`${renderMarkdown(r)}\n`); }, (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
