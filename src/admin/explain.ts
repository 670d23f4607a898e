// admin/: GET /debug/explain — "why did this request go there". Given authority, path, method, headers (and
// optionally a listener and connection facts), it walks the same engines the data path uses: filter-chain
// selection, the compiled route table's explain(), the cluster, and the endpoint the load balancer picks now.
import type { ConfigSnapshot } from '../config/snapshot.js';
import type { FilterChainConfig, ListenerConfig, NetworkFilterConfig } from '../config/listener.js';
import type { HeaderMap } from '../common/headers.js';
import { appendHeader } from '../common/headers.js';
import type { RouteDecision, RouteLookupInput, RouteTable } from '../router/types.js';
import type { ClusterManagerView } from '../upstream/types.js';
import { FilterChainMatcher } from '../listener/filter-chain-matcher.js';
import type { ListenerInfo } from './admin-deps.js';

export interface ExplainDeps {
  readonly snapshot: ConfigSnapshot;
  readonly routes: { get(name: string): RouteTable | undefined; compile(config: NonNullable<ReturnType<typeof inlineRoute>>): RouteTable };
  readonly clusters: ClusterManagerView;
  readonly listeners: readonly ListenerInfo[];
}

function inlineRoute(f: NetworkFilterConfig) {
  return f.kind === 'http_connection_manager' ? f.config.routeConfig : null;
}

export class ExplainError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function chooseListener(snap: ConfigSnapshot, name: string | null): ListenerConfig {
  if (name) {
    const e = snap.listeners.get(name);
    if (!e) throw new ExplainError(404, `no listener named ${JSON.stringify(name)}`);
    return e.value;
  }
  for (const e of snap.listeners.values()) {
    const chains = [...e.value.filterChains, ...(e.value.defaultFilterChain ? [e.value.defaultFilterChain] : [])];
    if (chains.some((c) => c.filters.some((f) => f.kind === 'http_connection_manager'))) return e.value;
  }
  throw new ExplainError(404, 'no listener with an HTTP connection manager; pass ?listener=');
}

function describeDecision(d: RouteDecision): Record<string, unknown> {
  switch (d.kind) {
    case 'forward':
      return {
        action: 'route',
        cluster: d.cluster,
        virtual_host: d.vhostName,
        route_name: d.routeName,
        route_index: d.routeIndex,
        virtual_cluster: d.virtualClusterName || undefined,
        timeout_ms: d.timeoutMs,
        retry_policy: d.retryPolicy ? { retry_on: [...d.retryPolicy.retryOn], num_retries: d.retryPolicy.numRetries, per_try_timeout_ms: d.retryPolicy.perTryTimeoutMs } : null,
        hash_policies: d.hashPolicies,
        mirrors: d.mirrorPolicies.map((m) => ({ cluster: m.cluster, fraction: `${m.numerator}/${m.denominator}` })),
      };
    case 'redirect':
    case 'direct':
      return { action: d.kind === 'redirect' ? 'redirect' : 'direct_response', status: d.status, location: d.location, virtual_host: d.vhostName, route_name: d.routeName, route_index: d.routeIndex, body_bytes: d.body?.length ?? 0 };
    case 'none':
      return { action: 'no_route', reason: d.reason, response: '404 NR route_not_found' };
  }
}

/** Builds the explanation for /debug/explain (query: authority, path, method, header=k:v…, listener, scheme, sni, port, source). */
export function explainRequest(q: URLSearchParams, deps: ExplainDeps): Record<string, unknown> {
  const authority = q.get('authority') ?? q.get('host');
  if (!authority) throw new ExplainError(400, 'missing ?authority=');
  const path = q.get('path') ?? '/';
  const method = (q.get('method') ?? 'GET').toUpperCase();
  const scheme = q.get('scheme') ?? 'http';
  const headers: HeaderMap = {};
  for (const h of q.getAll('header')) {
    const i = h.indexOf(':', h.startsWith(':') ? 1 : 0);
    if (i <= 0) throw new ExplainError(400, `bad header ${JSON.stringify(h)} (want name:value)`);
    appendHeader(headers, h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim());
  }
  const listener = chooseListener(deps.snapshot, q.get('listener'));
  const bound = deps.listeners.find((l) => l.name === listener.name);
  const localPort = Number(q.get('port') ?? bound?.port ?? listener.address.port);
  const sni = q.get('sni') ?? '';
  const matcher = new FilterChainMatcher<FilterChainConfig>(listener.filterChains.map((c) => ({ match: c.match, value: c })), listener.defaultFilterChain ?? undefined);
  const sel = matcher.select({
    localAddress: listener.address.address,
    localPort,
    remoteAddress: q.get('source') ?? '127.0.0.1',
    remotePort: 0,
    serverName: sni,
    transportProtocol: sni ? 'tls' : 'raw_buffer',
    applicationProtocols: [],
  });
  const out: Record<string, unknown> = {
    request: { authority, path, method, scheme, headers },
    listener: { name: listener.name, address: `${listener.address.address}:${localPort}` },
  };
  if (!sel) {
    out.filter_chain = null;
    out.result = { action: 'no_filter_chain', response: 'connection closed, flag NR' };
    return out;
  }
  const chain = sel.value;
  out.filter_chain = { name: chain.name, index: sel.index, match: chain.matchRaw ?? {} };
  const hcm = chain.filters.find((f) => f.kind === 'http_connection_manager');
  if (!hcm || hcm.kind !== 'http_connection_manager') {
    const tcp = chain.filters.find((f) => f.kind === 'tcp_proxy');
    out.result = { action: tcp ? 'tcp_proxy' : 'no_http_connection_manager', filters: chain.filters.map((f) => f.name) };
    return out;
  }
  const rc = hcm.config.routeConfig;
  const table = rc ? deps.routes.compile(rc) : deps.routes.get(hcm.config.rdsName);
  out.route_config = rc ? { inline: true, name: rc.name } : { rds: hcm.config.rdsName };
  if (!table) {
    out.result = { action: 'no_route_config', detail: `route configuration ${JSON.stringify(hcm.config.rdsName)} is not loaded (listener warming or RDS missing)` };
    return out;
  }
  const input: RouteLookupInput = {
    head: { method, scheme, authority, path, headers },
    randomValue: Number(q.get('random_value') ?? Math.floor(Math.random() * 0xffffffff)),
    format: { remoteAddress: q.get('source') ?? '127.0.0.1', remotePort: 0, localAddress: listener.address.address, localPort, protocol: 'HTTP/1.1', startTimeMs: Date.now(), requestHeaders: headers },
  };
  const ex = table.explain(input);
  out.candidates = ex.steps;
  const decision = describeDecision(ex.decision);
  out.result = decision;
  if (ex.decision.kind === 'forward') {
    const before = { path, authority, headers: { ...headers } };
    const head = { method, scheme, authority, path, headers: { ...headers } };
    ex.decision.finalizeRequest(head, input.format);
    const added: Record<string, unknown> = {};
    const removed: string[] = [];
    for (const [k, v] of Object.entries(head.headers)) if (JSON.stringify(before.headers[k]) !== JSON.stringify(v)) added[k] = v;
    for (const k of Object.keys(before.headers)) if (head.headers[k] === undefined) removed.push(k);
    out.rewrites = { path: head.path !== before.path ? head.path : null, authority: head.authority !== before.authority ? head.authority : null };
    out.request_header_changes = { set: added, removed };
    const cluster = deps.clusters.get(ex.decision.cluster);
    if (!cluster) {
      out.upstream = { cluster: ex.decision.cluster, exists: false, response: `${ex.decision.clusterNotFoundStatus} NC cluster_not_found` };
    } else {
      const host = cluster.chooseHost({});
      out.upstream = {
        cluster: cluster.name,
        exists: true,
        hosts: cluster.hosts().length,
        endpoint: host ? { address: host.key, priority: host.priority, weight: host.weight, health_flags: [...host.healthFlags] } : null,
        response: host ? undefined : '503 UH no_healthy_upstream',
      };
    }
  }
  return out;
}
