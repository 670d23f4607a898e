// network/: the envoy.filters.network.sni_cluster network filter. Placed before tcp_proxy in a filter chain, it
// sets the upstream cluster name to the connection's SNI (filter state envoy.tcp_proxy.cluster); without SNI
// the tcp_proxy's configured cluster applies.
import type { DownstreamConnection } from './tcp-proxy/tcp-proxy.js';

/** The cluster override sni_cluster produces for a server name, or undefined when there is no SNI. */
export function sniClusterOverride(serverName: string): string | undefined {
  return serverName === '' ? undefined : serverName;
}

/** Applies sni_cluster to a connection about to be handed to tcp_proxy. */
export function applySniCluster(conn: DownstreamConnection, serverName: string): DownstreamConnection {
  const cluster = sniClusterOverride(serverName);
  return cluster === undefined ? conn : { ...conn, clusterOverride: cluster };
}
