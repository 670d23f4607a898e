// upstream/: which TLS context (or plaintext) a connection to a given host uses: Envoy's transport_socket_matches
// against the endpoint's 'envoy.transport_socket_match' metadata (Istio's tlsMode: istio), else the cluster's
// transport_socket. Pools key connections by the returned object's identity / `key`.
import type { ClusterConfig, UpstreamTlsConfig } from '../config/cluster.js';
import type { Host } from './types.js';

const MATCH_FILTER = 'envoy.transport_socket_match';

function matches(want: Readonly<Record<string, unknown>>, have: Readonly<Record<string, unknown>>): boolean {
  for (const [k, v] of Object.entries(want)) {
    if (JSON.stringify(have[k]) !== JSON.stringify(v)) return false;
  }
  return true;
}

/** The TLS config for connections from `cluster` to `host`; null = plaintext. */
export function transportSocketForHost(cluster: ClusterConfig, host: Host): UpstreamTlsConfig | null {
  const ms = cluster.transportSocketMatches;
  if (ms.length === 0) return cluster.tls;
  const md = (host.metadata[MATCH_FILTER] ?? {}) as Readonly<Record<string, unknown>>;
  for (const m of ms) if (matches(m.match, md)) return m.tls;
  return cluster.tls;
}
