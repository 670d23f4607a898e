// Test helpers for the route slice: build a RouteTable from a YAML-like RouteConfiguration and synthesize requests.
import assert from 'node:assert/strict';
import type { HeaderMap, RequestHead } from '../../../src/common/headers.js';
import { formatErrors, Issues } from '../../../src/common/validation.js';
import type { RouteConfig } from '../../../src/config/route.js';
import { compileRouteTable, type RouteTableOptions } from '../../../src/router/route-table.js';
import type { FormatContext, RouteLookupInput, RouteTable } from '../../../src/router/types.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { translateRouteConfiguration } from '../../../src/xds/resource-types/route-configuration.js';

export function translate(cfg: object): { config: RouteConfig; errors: string[] } {
  const issues = new Issues();
  const config = translateRouteConfiguration(jsonToCanonical('envoy.config.route.v3.RouteConfiguration', cfg), issues);
  return { config, errors: issues.allErrors().map((e) => `${e.path}: ${e.message}`) };
}

export function table(cfg: object, opts?: RouteTableOptions): RouteTable {
  const { config, errors } = translate(cfg);
  assert.deepEqual(errors, [], formatErrors(errors.map((e) => ({ path: '', message: e }))));
  return compileRouteTable(config, opts);
}

export interface ReqOpts {
  method?: string;
  scheme?: string;
  headers?: HeaderMap;
  random?: number;
  runtimeKey?: string;
  mode?: 'live' | 'check-tool';
}

export function ctxFor(head: RequestHead): FormatContext {
  return { remoteAddress: '10.0.0.1', remotePort: 5555, localAddress: '10.0.0.2', localPort: 80, protocol: 'HTTP/1.1', startTimeMs: 0, requestHead: head };
}

export function req(authority: string, path: string, o: ReqOpts = {}): RouteLookupInput {
  const head: RequestHead = { method: o.method ?? 'GET', scheme: o.scheme ?? 'http', authority, path, headers: { ...(o.headers ?? {}) } };
  return { head, randomValue: o.random ?? 0, format: ctxFor(head), runtimeMode: o.mode ?? 'live', ...(o.runtimeKey ? { runtimeKey: o.runtimeKey } : {}) };
}

/** Cluster name for a forward decision; '<kind>' otherwise ('none:<reason>', 'redirect:<location>', 'direct:<status>'). */
export function outcome(t: RouteTable, input: RouteLookupInput): string {
  const d = t.route(input);
  if (d.kind === 'forward') return d.cluster;
  if (d.kind === 'none') return `none:${d.reason}`;
  if (d.kind === 'redirect') return `redirect:${d.status}:${d.location}`;
  return `direct:${d.status}`;
}

export const vh = (name: string, domains: string[], routes: object[], extra: object = {}): object => ({ name, domains, routes, ...extra });
export const fwd = (match: object, cluster: string, route: object = {}, extra: object = {}): object => ({ match, route: { cluster, ...route }, ...extra });
