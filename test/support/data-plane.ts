// test/support: builds a real meshlet data plane for integration tests — listeners from YAML-like objects through
// the LDS translator, STATIC clusters through the CDS translator and the ClusterManager, and route tables from a
// caller-supplied source (the real route engine, or a small scripted table while it is not wired).
import { Issues, formatErrors } from '../../src/common/validation.js';
import { jsonToCanonical } from '../../src/xds/proto-json.js';
import { translateListener } from '../../src/xds/resource-types/listener.js';
import { translateCluster } from '../../src/xds/resource-types/cluster.js';
import { ListenerManager } from '../../src/listener/listener-manager.js';
import { ClusterManager } from '../../src/upstream/cluster-manager.js';
import { PoolManager } from '../../src/upstream/pools/pool-manager.js';
import type { ConfigSnapshot, ResourceEntry } from '../../src/config/snapshot.js';
import type { ClusterConfig } from '../../src/config/cluster.js';
import type { ListenerConfig } from '../../src/config/listener.js';
import type { RouteConfig } from '../../src/config/route.js';
import type { ForwardDecision, RouteDecision, RouteLookupInput, RouteTable } from '../../src/router/types.js';
import type { RouteTableSource, StreamInfo } from '../../src/http/connection-manager.js';
import { translateRouteConfiguration } from '../../src/xds/resource-types/route-configuration.js';
import { compileRouteTable } from '../../src/router/route-table.js';
import { computeHash, initHashing } from '../../src/router/hash-policy.js';

/** A compiled route table from a YAML-like RouteConfiguration, through the real RDS translator and engine. */
export function routeTableFrom(yaml: Record<string, unknown>): RouteTable {
  const issues = new Issues();
  const rc = translateRouteConfiguration(jsonToCanonical('envoy.config.route.v3.RouteConfiguration', yaml), issues);
  if (issues.hasErrors) throw new Error(`route config invalid: ${formatErrors(issues.allErrors())}`);
  return compileRouteTable(rc);
}

/** Loads the hashing module the route hash policies need (call before requests that hash). */
export function initDataPlane(): Promise<void> {
  return initHashing();
}

const NODE = { id: 'test', cluster: 'test', locality: {}, metadata: {} };

export function listenerFrom(yaml: Record<string, unknown>): ListenerConfig {
  const r = translateListener(jsonToCanonical('envoy.config.listener.v3.Listener', yaml), { node: NODE });
  if (!r.ok) throw new Error(`listener invalid: ${formatErrors(r.errors)}`);
  return r.value;
}

export function clusterFrom(yaml: Record<string, unknown>): ClusterConfig {
  const issues = new Issues();
  const c = translateCluster(jsonToCanonical('envoy.config.cluster.v3.Cluster', yaml), issues);
  if (issues.hasErrors) throw new Error(`cluster invalid: ${formatErrors(issues.allErrors())}`);
  return c;
}

/** A STATIC cluster over 127.0.0.1 ports. */
export { staticCluster } from './bootstrap-builders.js';

/** An HCM listener on 127.0.0.1:0 with an RDS name served by the test's RouteTableSource. */
export function httpListener(name: string, rds = 'routes', hcm: Record<string, unknown> = {}, chain: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: name,
          rds: { route_config_name: rds, config_source: { ads: {} } },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
          ...hcm,
        },
      }],
      ...chain,
    }],
  };
}

/** A forward decision with Envoy's defaults, for scripted route tables. */
export function forward(cluster: string, over: Partial<ForwardDecision> = {}): ForwardDecision {
  return {
    kind: 'forward', cluster, clusterNotFoundStatus: 503, vhostName: 'vh', routeName: 'r', routeIndex: 0, virtualClusterName: '',
    timeoutMs: 15_000, idleTimeoutMs: 0, retryPolicy: null, hashPolicies: [], mirrorPolicies: [], maxStreamDuration: null,
    upgrades: new Map(), autoHostRewrite: false, decorator: null, perFilterConfig: () => undefined,
    finalizeRequest: () => undefined, finalizeResponse: () => undefined, ...over,
  };
}

/** A scripted route table: first path prefix that matches wins. */
export class ScriptedRouteTable implements RouteTable {
  constructor(readonly name: string, private readonly routes: readonly (readonly [string, RouteDecision])[]) {}
  route(input: RouteLookupInput): RouteDecision {
    for (const [prefix, d] of this.routes) if (input.head.path.startsWith(prefix)) return d;
    return { kind: 'none', reason: 'no_route' };
  }
  explain(input: RouteLookupInput): { decision: RouteDecision; steps: [] } {
    return { decision: this.route(input), steps: [] };
  }
}

export class MapRouteSource implements RouteTableSource {
  readonly tables = new Map<string, RouteTable>();
  compiler: ((c: RouteConfig) => RouteTable) | null = (c) => compileRouteTable(c);
  get(name: string): RouteTable | undefined {
    return this.tables.get(name);
  }
  compile(config: RouteConfig): RouteTable {
    if (!this.compiler) throw new Error('no route compiler');
    return this.compiler(config);
  }
}

export class DataPlane {
  readonly routes = new MapRouteSource();
  readonly clusters = new ClusterManager({});
  readonly pools = new PoolManager();
  readonly streams: StreamInfo[] = [];
  readonly listeners: ListenerManager;
  private generation = 0;

  constructor(drainTimeMs = 5000) {
    this.listeners = new ListenerManager({
      routes: this.routes,
      clusters: this.clusters,
      pools: this.pools,
      hashKey: computeHash,
      onStreamEnd: (s) => this.streams.push(s),
    }, { drainTimeMs });
  }

  setClusters(configs: ClusterConfig[]): void {
    const clusters = new Map<string, ResourceEntry<ClusterConfig>>();
    for (const c of configs) clusters.set(c.name, { name: c.name, version: '1', value: c, raw: {}, lastUpdated: Date.now(), isStatic: true });
    const snap: ConfigSnapshot = { generation: ++this.generation, listeners: new Map(), routes: new Map(), clusters, endpoints: new Map(), versions: {} };
    this.clusters.apply(snap);
  }

  async setListeners(configs: ListenerConfig[]): Promise<void> {
    const res = await this.listeners.apply(configs);
    const bad = res.filter((r) => !r.ok);
    if (bad.length) throw new Error(bad.map((b) => `${b.name}: ${b.error}`).join('; '));
  }

  port(listener: string): number {
    const p = this.listeners.boundPort(listener);
    if (!p) throw new Error(`listener ${listener} not bound`);
    return p;
  }

  async close(): Promise<void> {
    await this.listeners.close();
    await this.pools.close();
    this.clusters.close();
  }
}
