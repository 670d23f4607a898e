// Bench e2e: starts one target (a peer proxy, meshlet, or nothing for "direct") for a scenario and proves it
// passes traffic; failures come back as a reason so the row is reported "unavailable" and the run goes on.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ManagedProcess, ProcessRegistry } from '../lib/processes.js';
import { freePort, probe, waitForPort } from '../lib/net.js';
import type { Tools } from '../lib/tools.js';
import { haproxyConfig } from '../peers/haproxy.js';
import { nginxProxyConfig } from '../peers/nginx.js';
import { meshletBootstrapYaml, type MeshletVariant } from '../peers/meshlet-bootstrap.js';
import { scalingShape, type MeshletVariantName, type Scenario, type ScalingTargetName, type TargetName } from './scenarios.js';

export interface TargetContext {
  readonly registry: ProcessRegistry;
  readonly tools: Tools;
  readonly proxyCpus: string | null;
  /** CPUs of the two-worker targets that spread (h1-50-c2); null = unpinned */
  readonly proxy2Cpus?: string | null;
  readonly tmpDir: string;
  /** upstream port for the scenario's backend */
  readonly upstream: number;
  /** repository root (meshlet's working directory) */
  readonly repoRoot: string;
  /** script started as `node <meshletBin> -c <bootstrap>`; normally <repoRoot>/bin/meshlet.js */
  readonly meshletBin: string;
  readonly startTimeoutMs: number;
  /** CPUs for helper processes of a target (the OTLP sink of the tracing variants); null = unpinned */
  readonly sideCpus?: string | null;
}

export type StartedTarget =
  | { readonly ok: true; readonly port: number; readonly proc: ManagedProcess | null; readonly helpers: readonly ManagedProcess[];
      /** meshlet's admin port (null for the peers) and the taskset CPU list the target runs on */
      readonly adminPort: number | null; readonly cpus: string | null }
  | { readonly ok: false; readonly reason: string };

const PEERS_DIR = fileURLToPath(new URL('../peers/', import.meta.url));

let seq = 0;

/** The CPUs a target is pinned to: proxy2 for the spreading two-worker shapes of h1-50-c2, else the proxy's. */
export function targetCpus(name: TargetName, ctx: Pick<TargetContext, 'proxyCpus' | 'proxy2Cpus'>): string | null {
  return scalingShape(name)?.spread ? (ctx.proxy2Cpus ?? null) : ctx.proxyCpus;
}

function launch(name: TargetName, s: Scenario, ctx: TargetContext, port: number): ManagedProcess | string {
  const dir = join(ctx.tmpDir, `${name}-${s.name}-${seq++}`);
  mkdirSync(dir, { recursive: true });
  const cpus = targetCpus(name, ctx);
  const node = (script: string, args: string[]): ManagedProcess =>
    ctx.registry.start(name, process.execPath, [join(PEERS_DIR, script), ...args], { cpus });
  switch (name) {
    case 'direct': return 'direct has no process';
    case 'haproxy':
    case 'haproxy-t2': {
      if (!ctx.tools.haproxy) return 'haproxy not installed';
      const cfg = join(dir, 'haproxy.cfg');
      writeFileSync(cfg, haproxyConfig(s.mode, port, ctx.upstream, 'localhost', scalingShape(name)?.workers ?? 1));
      return ctx.registry.start(name, ctx.tools.haproxy, ['-db', '-f', cfg], { cpus });
    }
    case 'nginx': {
      if (!ctx.tools.nginx) return 'nginx not installed';
      const text = nginxProxyConfig(s.mode, dir, port, ctx.upstream, ctx.tools.nginxStreamModule);
      if (text === null) return 'nginx stream module (libnginx-mod-stream) not installed';
      const cfg = join(dir, 'nginx.conf');
      writeFileSync(cfg, text);
      return ctx.registry.start(name, ctx.tools.nginx, ['-p', dir, '-c', cfg, '-e', join(dir, 'error.log')], { cpus: ctx.proxyCpus });
    }
    case 'http-proxy': return node('node-http-proxy.js', [String(port), String(ctx.upstream)]);
    case 'fastify': return node('fastify-reply-from.js', [s.mode === 'h2' ? 'h2' : 'h1', String(port), String(ctx.upstream)]);
    case 'minimal-node': return node('minimal-node.js', [s.mode, String(port), String(ctx.upstream), 'localhost']);
    case 'minimal-node-x2': return node('minimal-node.js', [s.mode, String(port), String(ctx.upstream), 'localhost', String(scalingShape(name)?.workers ?? 2)]);
    default: return `${name} is launched by launchMeshlet`;
  }
}

type MeshletTarget = 'meshlet' | MeshletVariantName | Extract<ScalingTargetName, `meshlet-${string}`>;

const VARIANTS: Readonly<Record<MeshletTarget, MeshletVariant>> = {
  'meshlet': {},
  // h1-50-c2: plain meshlet's bootstrap with --concurrency 2
  'meshlet-c2': {},
  'meshlet-c2-1cpu': {},
  'meshlet-filters': { filters: true },
  'meshlet-notrace': { tracing: 'off' },
  'meshlet-trace1': { tracing: 1 },
  'meshlet-trace100': { tracing: 100 },
  // Issue 7: with the collector down, no request may fail or slow down (export happens off the data path).
  'meshlet-trace100-down': { tracing: 100 },
  'meshlet-noaccesslog': { accessLog: false },
  'meshlet-semi2': {},
};

/**
 * node/V8 flags of a meshlet target. `meshlet-semi2` caps V8's young generation at 2 × 2 MB semi-spaces (node 20's
 * default grows them to 2 × 16 MB while protos are parsed at startup and keeps that until the memory reducer runs,
 * ≈ 20-30 s later): what the cap saves at rest and what it costs in CPU under load (more scavenges, earlier promotion).
 */
const NODE_FLAGS: Readonly<Partial<Record<MeshletTarget, readonly string[]>>> = {
  'meshlet-semi2': ['--max-semi-space-size=2'],
};

function isMeshlet(name: TargetName): name is MeshletTarget {
  return name === 'meshlet' || name.startsWith('meshlet-');
}

/** Starts meshlet (or a variant) and, for the tracing variants, the OTLP sink it exports to (a helper process). */
async function launchMeshlet(name: MeshletTarget, s: Scenario, ctx: TargetContext, port: number, adminPort: number, helpers: ManagedProcess[]): Promise<ManagedProcess | string> {
  const dir = join(ctx.tmpDir, `${name}-${s.name}-${seq++}`);
  mkdirSync(dir, { recursive: true });
  let variant = VARIANTS[name];
  if (typeof variant.tracing === 'number' && name === 'meshlet-trace100-down') {
    variant = { ...variant, collectorPort: await freePort() }; // nothing listens there: every export fails
  } else if (typeof variant.tracing === 'number') {
    const collectorPort = await freePort();
    const sink = ctx.registry.start('otlp-sink', process.execPath, [join(PEERS_DIR, 'otlp-sink.js'), String(collectorPort)], { cpus: ctx.sideCpus ?? null });
    helpers.push(sink);
    if (!(await waitForPort(collectorPort, ctx.startTimeoutMs, () => sink.running))) return `OTLP sink did not start: ${sink.tail()}`;
    variant = { ...variant, collectorPort };
  }
  const yaml = join(dir, 'bootstrap.yaml');
  writeFileSync(yaml, meshletBootstrapYaml(s.mode, port, ctx.upstream, adminPort, 'localhost', variant));
  const workers = scalingShape(name)?.workers ?? 1;
  return ctx.registry.start(name, process.execPath, [...(NODE_FLAGS[name] ?? []), ctx.meshletBin, '-c', yaml, ...(workers > 1 ? ['--concurrency', String(workers)] : [])],
    { cpus: targetCpus(name, ctx), cwd: ctx.repoRoot });
}

/** meshlet's `/debug/workers` (the process model: each worker's pid, state, applied generation, connections). */
export interface WorkersView {
  readonly concurrency: number;
  readonly workers: readonly { readonly index: number; readonly pid: number; readonly state: string; readonly generation: number; readonly accepted?: number; readonly connections?: number }[];
}

export async function fetchWorkers(adminPort: number): Promise<WorkersView | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/debug/workers`, { signal: AbortSignal.timeout(3000) });
    return res.ok ? (await res.json()) as WorkersView : null;
  } catch {
    return null;
  }
}

/** Waits until every worker runs and has applied a snapshot (the probe may have reached the first one alone). */
async function waitForWorkers(adminPort: number, count: number, timeoutMs: number): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  let last: WorkersView | null = null;
  while (Date.now() < deadline) {
    last = await fetchWorkers(adminPort);
    if (last && last.workers.length === count && last.workers.every((w) => w.state === 'running' && w.generation > 0)) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
  return `not all ${count} workers running with config after ${timeoutMs / 1000} s: ${JSON.stringify(last?.workers ?? null)}`;
}

/** Starts the target and waits until one probe request succeeds through it. */
export async function startTarget(name: TargetName, s: Scenario, ctx: TargetContext): Promise<StartedTarget> {
  if (name === 'direct') {
    const why = await probe(s.probe, ctx.upstream);
    return why ? { ok: false, reason: `backend: ${why}` } : { ok: true, port: ctx.upstream, proc: null, helpers: [], adminPort: null, cpus: null };
  }
  const port = await freePort();
  const helpers: ManagedProcess[] = [];
  const stopHelpers = async (): Promise<void> => { for (const h of helpers) await ctx.registry.stop(h); };
  const adminPort = isMeshlet(name) ? await freePort() : null;
  const p = isMeshlet(name) ? await launchMeshlet(name, s, ctx, port, adminPort!, helpers) : launch(name, s, ctx, port);
  if (typeof p === 'string') {
    await stopHelpers();
    return { ok: false, reason: p };
  }
  const up = await waitForPort(port, ctx.startTimeoutMs, () => p.running);
  if (!up) {
    const reason = p.running ? `not listening after ${ctx.startTimeoutMs / 1000} s` : `exited with ${p.exitCode}`;
    await ctx.registry.stop(p);
    await stopHelpers();
    const tail = p.tail();
    return { ok: false, reason: tail ? `${reason}: ${tail}` : reason };
  }
  const workers = scalingShape(name)?.workers ?? 1;
  const why = await probe(s.probe, port) ?? (adminPort !== null && workers > 1 ? await waitForWorkers(adminPort, workers, ctx.startTimeoutMs) : null);
  if (why) {
    await ctx.registry.stop(p);
    await stopHelpers();
    const tail = p.tail(200);
    return { ok: false, reason: tail ? `${why}; ${tail}` : why };
  }
  return { ok: true, port, proc: p, helpers, adminPort, cpus: targetCpus(name, ctx) };
}
