// test/support: small builders for the Envoy config objects tests write by hand — a STATIC cluster on 127.0.0.1
// ports, and a static bootstrap with one HTTP listener (HCM + router, inline routes) for real meshlet processes.
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** A STATIC cluster whose endpoints are 127.0.0.1:`ports`; `extra` adds or overrides Cluster fields. */
export function staticCluster(name: string, ports: readonly number[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
    },
    ...extra,
  };
}

/** A bootstrap with an admin on a free port and one HTTP listener `l` on 127.0.0.1:`port` routing by `routes`. */
export function httpBootstrap(o: { nodeId: string; port: number; routes: readonly Record<string, unknown>[]; clusters: readonly Record<string, unknown>[] }): Record<string, unknown> {
  return {
    node: { id: o.nodeId, cluster: 'e2e' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: 'l',
        address: { socket_address: { address: '127.0.0.1', port_value: o.port } },
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
          '@type': HCM, stat_prefix: 'l',
          route_config: { name: 'r', virtual_hosts: [{ name: 'all', domains: ['*'], routes: o.routes }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
        } }] }],
      }],
      clusters: o.clusters,
    },
  };
}
