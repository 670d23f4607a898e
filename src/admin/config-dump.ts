// admin/: renders /config_dump in Envoy's shape (envoy.admin.v3.*ConfigDump, fixed order) from the current config
// snapshot, the bootstrap and the warming/rejected extras, and applies `?resource=`, `?mask=`, `?name_regex=` and
// `?include_eds`. Pure: snapshot in, JSON out. Resources are rendered with canonicalToJson (proto field names).
import { canonicalToJson } from '../xds/proto-json.js';
import type { ConfigSnapshot, ResourceEntry } from '../config/snapshot.js';
import type { Canonical, ConfigDumpExtras, PendingResource, RejectedResource } from './admin-deps.js';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';
const T = {
  listener: 'envoy.config.listener.v3.Listener',
  route: 'envoy.config.route.v3.RouteConfiguration',
  cluster: 'envoy.config.cluster.v3.Cluster',
  endpoint: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  bootstrap: 'envoy.config.bootstrap.v3.Bootstrap',
};
const URL = (name: string): string => `type.googleapis.com/${name}`;

/** Repeated fields `?resource=` may name, with the element type and how to read an element's resource name. */
const RESOURCE_FIELDS: Record<string, { readonly dump: string; readonly element: string; readonly name: (e: any) => string }> = {
  static_clusters: { dump: 'ClustersConfigDump', element: 'ClustersConfigDump.StaticCluster', name: (e) => e.cluster?.name ?? '' },
  dynamic_active_clusters: { dump: 'ClustersConfigDump', element: 'ClustersConfigDump.DynamicCluster', name: (e) => e.cluster?.name ?? '' },
  dynamic_warming_clusters: { dump: 'ClustersConfigDump', element: 'ClustersConfigDump.DynamicCluster', name: (e) => e.cluster?.name ?? '' },
  static_endpoint_configs: { dump: 'EndpointsConfigDump', element: 'EndpointsConfigDump.StaticEndpointConfig', name: (e) => e.endpoint_config?.cluster_name ?? '' },
  dynamic_endpoint_configs: { dump: 'EndpointsConfigDump', element: 'EndpointsConfigDump.DynamicEndpointConfig', name: (e) => e.endpoint_config?.cluster_name ?? '' },
  static_listeners: { dump: 'ListenersConfigDump', element: 'ListenersConfigDump.StaticListener', name: (e) => e.listener?.name ?? '' },
  dynamic_listeners: { dump: 'ListenersConfigDump', element: 'ListenersConfigDump.DynamicListener', name: (e) => e.name ?? '' },
  static_route_configs: { dump: 'RoutesConfigDump', element: 'RoutesConfigDump.StaticRouteConfig', name: (e) => e.route_config?.name ?? '' },
  dynamic_route_configs: { dump: 'RoutesConfigDump', element: 'RoutesConfigDump.DynamicRouteConfig', name: (e) => e.route_config?.name ?? '' },
};

export interface ConfigDumpQuery {
  readonly resource?: string;
  /** Field mask paths (`?mask=a.b,c`). */
  readonly mask?: readonly string[];
  /** `?name_regex=` compiled by the caller. */
  readonly nameMatches?: (name: string) => boolean;
  readonly includeEds?: boolean;
}

export type ConfigDumpResult = { readonly status: 200; readonly body: { configs: unknown[] } } | { readonly status: 400 | 404; readonly error: string };

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function render(typeName: string, raw: Readonly<Canonical>): Record<string, unknown> {
  let body: Record<string, unknown>;
  try {
    body = canonicalToJson(typeName, raw as Canonical);
  } catch {
    body = { ...raw };
  }
  return { '@type': URL(typeName), ...body };
}

function entries<T>(m: ReadonlyMap<string, ResourceEntry<T>>): ResourceEntry<T>[] {
  return [...m.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function errorState(r: RejectedResource, type: string): Record<string, unknown> {
  return { failed_configuration: render(type, r.raw), last_update_attempt: iso(r.lastUpdateAttempt), details: r.details };
}

function pendingState(p: PendingResource, type: string, key: string): Record<string, unknown> {
  return { version_info: p.version, [key]: render(type, p.raw), last_updated: iso(p.lastUpdated) };
}

/** The full dump (all sections) before resource/mask/name filtering. */
export function fullConfigDump(snapshot: ConfigSnapshot, extras: ConfigDumpExtras, bootstrap: { raw: Canonical; loadedAt: number }, includeEds: boolean): Record<string, unknown>[] {
  const v = snapshot.versions;
  const configs: Record<string, unknown>[] = [];

  configs.push({ '@type': `${ADMIN}BootstrapConfigDump`, bootstrap: safeJson(T.bootstrap, bootstrap.raw), last_updated: iso(bootstrap.loadedAt) });

  const clusters = entries(snapshot.clusters);
  const clustersDump: Record<string, unknown> = { '@type': `${ADMIN}ClustersConfigDump` };
  if (v[URL(T.cluster)]) clustersDump.version_info = v[URL(T.cluster)];
  const sc = clusters.filter((c) => c.isStatic).map((c) => ({ cluster: render(T.cluster, c.raw), last_updated: iso(c.lastUpdated) }));
  const dc = clusters.filter((c) => !c.isStatic).map((c) => ({ version_info: c.version, cluster: render(T.cluster, c.raw), last_updated: iso(c.lastUpdated) }));
  const wc = (extras.warmingClusters ?? []).map((p) => pendingState(p, T.cluster, 'cluster'));
  if (sc.length) clustersDump.static_clusters = sc;
  if (dc.length) clustersDump.dynamic_active_clusters = dc;
  if (wc.length) clustersDump.dynamic_warming_clusters = wc;
  configs.push(clustersDump);

  if (includeEds) {
    const eds: Record<string, unknown> = { '@type': `${ADMIN}EndpointsConfigDump` };
    const all = entries(snapshot.endpoints);
    const staticEps: Record<string, unknown>[] = all.filter((e) => e.isStatic).map((e) => ({ endpoint_config: render(T.endpoint, e.raw), last_updated: iso(e.lastUpdated) }));
    // Static clusters carry their endpoints inline (load_assignment); Envoy lists those as static endpoint configs.
    for (const c of clusters) {
      const la = c.isStatic ? (c.raw as Canonical).load_assignment : undefined;
      if (la && typeof la === 'object' && !snapshot.endpoints.has(c.name)) {
        staticEps.push({ endpoint_config: render(T.endpoint, { cluster_name: c.name, ...(la as Canonical) }), last_updated: iso(c.lastUpdated) });
      }
    }
    const dynEps = all.filter((e) => !e.isStatic).map((e) => ({ version_info: e.version, endpoint_config: render(T.endpoint, e.raw), last_updated: iso(e.lastUpdated) }));
    if (staticEps.length) eds.static_endpoint_configs = staticEps;
    if (dynEps.length) eds.dynamic_endpoint_configs = dynEps;
    configs.push(eds);
  }

  const listenersDump: Record<string, unknown> = { '@type': `${ADMIN}ListenersConfigDump` };
  if (v[URL(T.listener)]) listenersDump.version_info = v[URL(T.listener)];
  const listeners = entries(snapshot.listeners);
  const sl = listeners.filter((l) => l.isStatic).map((l) => ({ listener: render(T.listener, l.raw), last_updated: iso(l.lastUpdated) }));
  const dyn = new Map<string, Record<string, unknown>>();
  const slot = (name: string): Record<string, unknown> => {
    let d = dyn.get(name);
    if (!d) { d = { name }; dyn.set(name, d); }
    return d;
  };
  for (const l of listeners.filter((x) => !x.isStatic)) slot(l.name).active_state = { version_info: l.version, listener: render(T.listener, l.raw), last_updated: iso(l.lastUpdated) };
  for (const p of extras.warmingListeners ?? []) slot(p.name).warming_state = pendingState(p, T.listener, 'listener');
  for (const p of extras.drainingListeners ?? []) slot(p.name).draining_state = pendingState(p, T.listener, 'listener');
  for (const r of extras.rejectedListeners ?? []) slot(r.name).error_state = errorState(r, T.listener);
  if (sl.length) listenersDump.static_listeners = sl;
  if (dyn.size) listenersDump.dynamic_listeners = [...dyn.values()].sort((a, b) => (String(a.name) < String(b.name) ? -1 : 1));
  configs.push(listenersDump);

  const routesDump: Record<string, unknown> = { '@type': `${ADMIN}RoutesConfigDump` };
  const routes = entries(snapshot.routes);
  const sr = routes.filter((r) => r.isStatic).map((r) => ({ route_config: render(T.route, r.raw), last_updated: iso(r.lastUpdated) }));
  const dr = routes.filter((r) => !r.isStatic).map((r) => ({ version_info: r.version, route_config: render(T.route, r.raw), last_updated: iso(r.lastUpdated) }));
  if (sr.length) routesDump.static_route_configs = sr;
  if (dr.length) routesDump.dynamic_route_configs = dr;
  configs.push(routesDump);
  return configs;
}

function safeJson(type: string, raw: Canonical): Record<string, unknown> {
  try {
    return canonicalToJson(type, raw);
  } catch {
    return { ...raw };
  }
}

/** Keeps only the masked paths of a JSON object ('@type' always kept). Paths through lists apply to each element. */
export function applyFieldMask(value: unknown, paths: readonly string[]): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => applyFieldMask(v, paths));
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if ('@type' in src) out['@type'] = src['@type'];
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const [head, ...rest] = p.split('.');
    if (!head) continue;
    const list = groups.get(head) ?? [];
    list.push(rest.join('.'));
    groups.set(head, list);
  }
  for (const [head, subs] of groups) {
    if (!(head in src)) continue;
    out[head] = subs.some((s) => s === '') ? src[head] : applyFieldMask(src[head], subs);
  }
  return out;
}

function filterByName(dump: Record<string, unknown>, matches: (n: string) => boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...dump };
  for (const [field, def] of Object.entries(RESOURCE_FIELDS)) {
    if (!Array.isArray(out[field])) continue;
    const kept = (out[field] as unknown[]).filter((e) => matches(def.name(e)));
    if (kept.length) out[field] = kept;
    else delete out[field];
  }
  return out;
}

/** Builds the /config_dump answer for a query. */
export function buildConfigDump(
  snapshot: ConfigSnapshot,
  extras: ConfigDumpExtras,
  bootstrap: { raw: Canonical; loadedAt: number },
  q: ConfigDumpQuery,
): ConfigDumpResult {
  let configs = fullConfigDump(snapshot, extras, bootstrap, q.includeEds === true);
  if (q.nameMatches) configs = configs.map((c) => filterByName(c, q.nameMatches!));
  if (q.resource !== undefined) {
    const def = RESOURCE_FIELDS[q.resource];
    if (!def) return { status: 404, error: `${q.resource} not found in config dump` };
    const elems: unknown[] = [];
    for (const c of configs) {
      const list = c[q.resource];
      if (!Array.isArray(list)) continue;
      for (const e of list) {
        const typed = { '@type': `${ADMIN}${def.element}`, ...(e as Record<string, unknown>) };
        elems.push(q.mask && q.mask.length ? applyFieldMask(typed, q.mask) : typed);
      }
    }
    return { status: 200, body: { configs: elems } };
  }
  if (q.mask && q.mask.length) configs = configs.map((c) => applyFieldMask(c, q.mask!) as Record<string, unknown>);
  return { status: 200, body: { configs } };
}
