// Test support for HTTP filter tests: canonical http_filters entries from YAML-like objects, a FilterRequest builder,
// and a one-call "run a request through the chain" helper.
import { jsonToCanonical } from '../../../../src/xds/proto-json.js';
import { Issues } from '../../../../src/common/validation.js';
import type { FieldError } from '../../../../src/common/validation.js';
import type { HeaderMap } from '../../../../src/common/headers.js';
import type { FilterDeps, FilterRequest, LocalReplyRequest } from '../../../../src/http/filters/filter-api.js';
import { FilterManager } from '../../../../src/http/filters/filter-manager.js';
import type { FilterStream, PerFilterConfigLookup } from '../../../../src/http/filters/filter-manager.js';
import { builtinFilterRegistry } from '../../../../src/http/filters/filter-registry.js';
import type { FilterRegistry } from '../../../../src/http/filters/filter-registry.js';

export const T = (msg: string): string => `type.googleapis.com/${msg}`;

/** One canonical http_filters entry: `{ name, typed_config: { '@type', ...config } }` via the real proto schema. */
export function httpFilter(name: string, typeName: string, config: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return jsonToCanonical('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', {
    name, typed_config: { '@type': T(typeName), ...config }, ...extra,
  });
}

/** A canonical Any for typed_per_filter_config. */
export function perRoute(typeName: string, config: Record<string, unknown>): Record<string, unknown> {
  return jsonToCanonical('google.protobuf.Any', { '@type': T(typeName), ...config });
}

export const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': T('envoy.extensions.filters.http.router.v3.Router') } };

export function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

export function deps(over: Partial<FilterDeps> = {}): FilterDeps {
  return { nodeId: 'node-1', nodeCluster: 'cluster-1', now: Date.now, ...over };
}

export function build(filters: unknown[], d: FilterDeps = deps(), registry: FilterRegistry = builtinFilterRegistry()): { manager: FilterManager; errors: readonly FieldError[] } {
  const issues = new Issues('http_filters');
  const manager = FilterManager.build(filters, { registry, deps: d }, issues);
  return { manager, errors: issues.allErrors() };
}

export function mustBuild(filters: unknown[], d: FilterDeps = deps(), registry?: FilterRegistry): FilterManager {
  const { manager, errors } = build(filters, d, registry);
  if (errors.length) throw new Error(`unexpected errors: ${JSON.stringify(errors)}`);
  return manager;
}

export interface ReqOpts {
  method?: string;
  path?: string;
  authority?: string;
  headers?: HeaderMap;
  remoteAddress?: string;
  directRemoteAddress?: string;
  localAddress?: string;
  localPort?: number;
  isGrpc?: boolean;
  upstreamCluster?: string;
  sni?: string;
  peer?: FilterRequest['peer'];
}

export function req(o: ReqOpts = {}): FilterRequest {
  return {
    head: { method: o.method ?? 'GET', scheme: 'http', authority: o.authority ?? 'example.com', path: o.path ?? '/', headers: { ...o.headers } },
    remoteAddress: o.remoteAddress ?? '10.0.0.1',
    directRemoteAddress: o.directRemoteAddress ?? o.remoteAddress ?? '10.0.0.1',
    localAddress: o.localAddress ?? '10.0.0.2',
    localPort: o.localPort ?? 8080,
    protocol: 'HTTP/1.1',
    isGrpc: o.isGrpc ?? false,
    peer: o.peer ?? null,
    sni: o.sni ?? '',
    upstreamCluster: o.upstreamCluster ?? 'backend',
    nodeId: 'node-1',
  };
}

export interface RunResult {
  reply: LocalReplyRequest | null;
  stream: FilterStream;
  /** Response headers after encodeHeaders (of the upstream 200, or of the local reply). */
  responseHeaders: HeaderMap;
}

/** Decodes a request, then encodes either the local reply or a 200 upstream response; destroys the stream. */
export async function run(manager: FilterManager, r: FilterRequest, lookup: PerFilterConfigLookup | null = null, upstreamHeaders: HeaderMap = {}): Promise<RunResult> {
  const stream = manager.createStream(r, lookup);
  const reply = await stream.decode(true);
  const responseHeaders: HeaderMap = reply ? { ...reply.headers } : { ...upstreamHeaders };
  stream.encodeHeaders(reply ? reply.status : 200, responseHeaders);
  stream.destroy();
  return { reply, stream, responseHeaders };
}

/** A per-filter-config lookup from a plain map (filter name → canonical Any). */
export function lookupFrom(map: Record<string, Record<string, unknown>>): PerFilterConfigLookup {
  return (name) => map[name];
}
