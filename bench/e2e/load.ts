// Bench e2e: runs one load-generator pass (wrk, h2load or the gRPC stream client) pinned to the load-generator core
// and returns the parsed LoadResult.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessRegistry } from '../lib/processes.js';
import { parseWrkOutput, type LoadResult } from '../lib/parse-wrk.js';
import { parseH2loadLog, parseH2loadOutput } from '../lib/parse-h2load.js';

export type LoadSpec =
  | { readonly kind: 'wrk'; readonly connections: number; readonly scheme: 'http' | 'https'; readonly host: string }
  | { readonly kind: 'h2load'; readonly clients: number; readonly streams: number; readonly path: string; readonly bodyFile?: string; readonly headers?: readonly string[] }
  | { readonly kind: 'grpc-stream'; readonly streams: number };

export interface LoadContext {
  readonly registry: ProcessRegistry;
  readonly cpus: string | null;
  readonly wrk: string | null;
  readonly h2load: string | null;
  readonly tmpDir: string;
}

/** Human-readable command line of a spec, for the report; `hasWrk` false means the node fallback runs instead. */
export function describeLoad(spec: LoadSpec, hasWrk = true): string {
  switch (spec.kind) {
    case 'wrk': return hasWrk
      ? `wrk -t1 -c${spec.connections} --latency (${spec.scheme}, keep-alive)`
      : `node h1-load, ${spec.connections} keep-alive connection(s) (${spec.scheme}) — wrk not installed or --no-wrk; figures not comparable to wrk's`;
    case 'h2load': return `h2load -t1 -c${spec.clients} -m${spec.streams}${spec.bodyFile ? ' -d <gRPC frame> (POST, application/grpc)' : ''}`;
    case 'grpc-stream': return `@grpc/grpc-js client, ${spec.streams} bidi streams, ping-pong`;
  }
}

/** Which external tool a spec cannot run without (null: none; wrk falls back to the bundled node client). */
export function loadTool(spec: LoadSpec): 'h2load' | null {
  return spec.kind === 'h2load' ? 'h2load' : null;
}

let logSeq = 0;

export async function runLoad(ctx: LoadContext, spec: LoadSpec, port: number, durationS: number): Promise<LoadResult> {
  const bound = (durationS + 20) * 1000;
  if (spec.kind === 'wrk' && !ctx.wrk) {
    return runNodeClient(ctx, 'h1-load', 'h1-load.js', [spec.scheme, spec.host, String(port), String(durationS), String(spec.connections)], bound);
  }
  if (spec.kind === 'wrk') {
    const url = `${spec.scheme}://${spec.host}:${port}/`;
    const r = await ctx.registry.run('wrk', ctx.wrk!, ['-t1', `-c${spec.connections}`, `-d${durationS}s`, '--latency', '--timeout', '5s', url], bound, { cpus: ctx.cpus });
    if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${(r.stderr || r.stdout).slice(-300)}`);
    return parseWrkOutput(r.stdout);
  }
  if (spec.kind === 'h2load') {
    const log = join(ctx.tmpDir, `h2load-${process.pid}-${logSeq++}.log`);
    const args = ['-t1', `-c${spec.clients}`, `-m${spec.streams}`, `-D${durationS}`, `--log-file=${log}`];
    if (spec.bodyFile) args.push('-d', spec.bodyFile);
    for (const h of spec.headers ?? []) args.push('-H', h);
    args.push(`http://127.0.0.1:${port}${spec.path}`);
    const r = await ctx.registry.run('h2load', ctx.h2load!, args, bound, { cpus: ctx.cpus });
    if (r.code !== 0) throw new Error(`h2load exited ${r.code}: ${(r.stderr || r.stdout).slice(-300)}`);
    let lat: Float64Array | undefined;
    try { lat = parseH2loadLog(readFileSync(log, 'utf8')); } catch { lat = undefined; }
    rmSync(log, { force: true });
    return parseH2loadOutput(r.stdout, lat);
  }
  return runNodeClient(ctx, 'grpc-stream-load', 'grpc-stream-load.js', [String(port), String(durationS), String(spec.streams)], bound);
}

/** Runs one of the bundled node load generators, which print a JSON LoadResult as their last line. */
async function runNodeClient(ctx: LoadContext, label: string, file: string, args: string[], bound: number): Promise<LoadResult> {
  const script = join(fileURLToPath(new URL('.', import.meta.url)), file);
  const r = await ctx.registry.run(label, process.execPath, [script, ...args], bound, { cpus: ctx.cpus });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try { return JSON.parse(line) as LoadResult; } catch { throw new Error(`${label} failed (${r.code}): ${(r.stderr || r.stdout).slice(-300)}`); }
}
