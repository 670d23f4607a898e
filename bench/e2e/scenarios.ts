// Bench e2e: the scenario catalogue — protocol, backend, probe, load generator and which targets take part.
import type { ProxyMode } from '../peers/haproxy.js';
import type { ProbeKind } from '../lib/net.js';
import type { LoadSpec } from './load.js';

export const TARGETS = ['direct', 'haproxy', 'nginx', 'http-proxy', 'fastify', 'minimal-node', 'meshlet'] as const;
/** meshlet with one thing changed (bench/peers/meshlet-bootstrap.ts MeshletVariant); reported as ratios to `meshlet`. */
export const MESHLET_VARIANTS = ['meshlet-filters', 'meshlet-notrace', 'meshlet-trace1', 'meshlet-trace100', 'meshlet-trace100-down', 'meshlet-noaccesslog', 'meshlet-semi2'] as const;
export type MeshletVariantName = typeof MESHLET_VARIANTS[number];
/**
 * h1-50-c2 (issue 9 item 4): two-worker shapes, each reported against its one-worker row of the same run.
 * `*-t2`/`*-x2`/`meshlet-c2` run on the plan's proxy2 CPUs; `meshlet-c2-1cpu` runs both workers on the one proxy CPU
 * (what the worker model itself costs, with no extra core).
 */
export const SCALING_TARGETS = ['haproxy-t2', 'minimal-node-x2', 'meshlet-c2', 'meshlet-c2-1cpu'] as const;
export type ScalingTargetName = typeof SCALING_TARGETS[number];
export type TargetName = typeof TARGETS[number] | MeshletVariantName | ScalingTargetName;

/** A two-worker target: its worker count, which one-worker row it is compared with, and whether it gets proxy2 CPUs. */
export interface ScalingShape { readonly workers: number; readonly baseline: TargetName; readonly spread: boolean }
export const SCALING: Readonly<Record<ScalingTargetName, ScalingShape>> = {
  'haproxy-t2': { workers: 2, baseline: 'haproxy', spread: true },
  'minimal-node-x2': { workers: 2, baseline: 'minimal-node', spread: true },
  'meshlet-c2': { workers: 2, baseline: 'meshlet', spread: true },
  'meshlet-c2-1cpu': { workers: 2, baseline: 'meshlet', spread: false },
};
export function scalingShape(name: string): ScalingShape | null {
  return (SCALING as Record<string, ScalingShape | undefined>)[name] ?? null;
}

/** nginx: plain 13-byte backend; nginx-tls: the same over TLS; h2: the node:http2 backend (h2c and gRPC). */
export type BackendKind = 'nginx' | 'nginx-tls' | 'h2';

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly mode: ProxyMode;
  readonly backend: BackendKind;
  readonly probe: ProbeKind;
  readonly load: LoadSpec;
  readonly targets: readonly TargetName[];
}

export const SCENARIO_NAMES = ['h1-50', 'h1-1', 'h2c', 'grpc-unary', 'grpc-stream', 'tcp', 'tls-sni', 'h1-50-c2'] as const;

/** h1-50 also measures the meshlet variants (issue 6: filter chain cost; issue 7: tracing and access log cost). */
const H1_50: readonly TargetName[] = [...TARGETS, ...MESHLET_VARIANTS];
/** h1-1 (added latency) also measures tracing with the collector up and down (issue 7: a down collector must not slow requests). */
const H1_1: readonly TargetName[] = [...TARGETS, 'meshlet-notrace', 'meshlet-trace100', 'meshlet-trace100-down'];
const H2: readonly TargetName[] = ['direct', 'haproxy', 'nginx', 'fastify', 'minimal-node', 'meshlet'];
const GRPC: readonly TargetName[] = ['direct', 'haproxy', 'nginx', 'minimal-node', 'meshlet'];
const L4: readonly TargetName[] = ['direct', 'haproxy', 'nginx', 'minimal-node', 'meshlet'];
/** h1-50-c2: each one-worker shape next to its two-worker shape; direct shows what the load generator can reach. */
const C2: readonly TargetName[] = ['direct', 'haproxy', 'haproxy-t2', 'minimal-node', 'minimal-node-x2', 'meshlet', 'meshlet-c2', 'meshlet-c2-1cpu'];

/** All scenarios; `grpcBodyFile` is a file holding one gRPC-framed 13-byte message (h2load's POST body). */
export function allScenarios(grpcBodyFile: string): Scenario[] {
  const grpcHeaders = ['content-type: application/grpc', 'te: trailers'];
  return [
    { name: 'h1-50', title: 'HTTP/1.1 keep-alive, 50 connections', mode: 'h1', backend: 'nginx', probe: 'h1', load: { kind: 'wrk', connections: 50, scheme: 'http', host: '127.0.0.1' }, targets: H1_50 },
    { name: 'h1-1', title: 'HTTP/1.1 keep-alive, 1 connection (added latency)', mode: 'h1', backend: 'nginx', probe: 'h1', load: { kind: 'wrk', connections: 1, scheme: 'http', host: '127.0.0.1' }, targets: H1_1 },
    { name: 'h2c', title: 'HTTP/2 cleartext, multiplexed', mode: 'h2', backend: 'h2', probe: 'h2', load: { kind: 'h2load', clients: 10, streams: 10, path: '/' }, targets: H2 },
    { name: 'grpc-unary', title: 'gRPC unary over h2c', mode: 'h2', backend: 'h2', probe: 'grpc', load: { kind: 'h2load', clients: 10, streams: 10, path: '/bench.Echo/Unary', bodyFile: grpcBodyFile, headers: grpcHeaders }, targets: GRPC },
    { name: 'grpc-stream', title: 'gRPC bidi streaming (messages echoed)', mode: 'h2', backend: 'h2', probe: 'grpc', load: { kind: 'grpc-stream', streams: 20 }, targets: GRPC },
    { name: 'tcp', title: 'TCP passthrough (HTTP/1.1 inside, 50 connections)', mode: 'tcp', backend: 'nginx', probe: 'h1', load: { kind: 'wrk', connections: 50, scheme: 'http', host: '127.0.0.1' }, targets: L4 },
    // wrk sends the URL host as SNI, so the TLS scenarios address the proxy as "localhost"
    { name: 'tls-sni', title: 'TLS passthrough by SNI (HTTPS inside, 50 connections)', mode: 'sni', backend: 'nginx-tls', probe: 'tls', load: { kind: 'wrk', connections: 50, scheme: 'https', host: 'localhost' }, targets: L4 },
    { name: 'h1-50-c2', title: 'HTTP/1.1 keep-alive, 50 connections, 1 vs 2 workers (--concurrency 2)', mode: 'h1', backend: 'nginx', probe: 'h1', load: { kind: 'wrk', connections: 50, scheme: 'http', host: '127.0.0.1' }, targets: C2 },
  ];
}
