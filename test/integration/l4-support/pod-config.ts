// test support (L4): an Istio-shaped sidecar configuration for the real meshlet in a "pod" namespace, written as
// filesystem xDS (LDS/CDS DiscoveryResponse files): virtualOutbound (0.0.0.0:15001, use_original_dst, blackhole
// loop guard, PassthroughCluster catch-all), a `<vip>_80` HTTP listener and a `0.0.0.0_443` SNI listener (both
// bind_to_port: false, reached only by hand-off), and virtualInbound (0.0.0.0:15006, original_dst + tls_inspector +
// http_inspector; HTTP on the app port through the HCM, anything else to InboundPassthroughClusterIpv4, both bound
// to 127.0.0.6). TCP sessions are access-logged to stdout as JSON lines tagged `"ml":"tcp"`.
const T = 'type.googleapis.com/';
const HCM = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const TCP = `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`;
const ROUTER = `${T}envoy.extensions.filters.http.router.v3.Router`;
const STDOUT_LOG = `${T}envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`;

export interface PodTopology {
  /** The pod's own IP (the app listens on it). */
  readonly podIp: string;
  /** Virtual service IP only the config knows, routed by path to two HTTP backends. */
  readonly vip: string;
  readonly httpA: string; // 'ip:port'
  readonly httpB: string;
  /** SNI → 'ip:port' of the TLS backend. */
  readonly tls: Readonly<Record<string, string>>;
  /** The app's HTTP port (inbound HTTP chain). */
  readonly appHttpPort: number;
}

const sock = (hp: string): Record<string, unknown> => {
  const i = hp.lastIndexOf(':');
  return { socket_address: { address: hp.slice(0, i), port_value: Number(hp.slice(i + 1)) } };
};

function tcpProxy(statPrefix: string, cluster: string): Record<string, unknown> {
  return {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: {
      '@type': TCP, stat_prefix: statPrefix, cluster,
      access_log: [{
        name: 'envoy.access_loggers.stdout',
        typed_config: {
          '@type': STDOUT_LOG,
          log_format: { json_format: { ml: 'tcp', prefix: statPrefix, cluster: '%UPSTREAM_CLUSTER%', upstream: '%UPSTREAM_HOST%', local: '%DOWNSTREAM_LOCAL_ADDRESS%', flags: '%RESPONSE_FLAGS%' } },
        },
      }],
    },
  };
}

function hcm(statPrefix: string, routes: readonly Record<string, unknown>[]): Record<string, unknown> {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM, stat_prefix: statPrefix,
      route_config: { name: statPrefix, virtual_hosts: [{ name: statPrefix, domains: ['*'], routes }] },
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
    },
  };
}

function staticCluster(name: string, hosts: readonly string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '@type': `${T}envoy.config.cluster.v3.Cluster`, name, type: 'STATIC', connect_timeout: '2s',
    load_assignment: { cluster_name: name, endpoints: hosts.length ? [{ lb_endpoints: hosts.map((h) => ({ endpoint: { address: sock(h) } })) }] : [] },
    ...extra,
  };
}

const BIND_127_0_0_6 = { upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 0 } } };

/** The CDS DiscoveryResponse. */
export function podClusters(t: PodTopology): Record<string, unknown> {
  const resources = [
    staticCluster('outbound|80||svc-a', [t.httpA]),
    staticCluster('outbound|80||svc-b', [t.httpB]),
    ...Object.entries(t.tls).map(([sni, hp]) => staticCluster(`outbound|443||${sni}`, [hp])),
    { '@type': `${T}envoy.config.cluster.v3.Cluster`, name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '2s' },
    staticCluster('BlackHoleCluster', []),
    { '@type': `${T}envoy.config.cluster.v3.Cluster`, name: 'InboundPassthroughClusterIpv4', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '2s', ...BIND_127_0_0_6 },
    // As recent Istio renders it: the inbound HTTP cluster is ORIGINAL_DST, so the HCM forwards to the restored
    // original destination (pod IP:app port), from 127.0.0.6.
    { '@type': `${T}envoy.config.cluster.v3.Cluster`, name: `inbound|${t.appHttpPort}||`, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '2s', ...BIND_127_0_0_6 },
  ];
  return { version_info: '1', resources };
}

/** The LDS DiscoveryResponse. */
export function podListeners(t: PodTopology): Record<string, unknown> {
  const L = `${T}envoy.config.listener.v3.Listener`;
  const lf = (kind: string): Record<string, unknown> => ({
    name: `envoy.filters.listener.${kind}`,
    typed_config: { '@type': `${T}envoy.extensions.filters.listener.${kind}.v3.${kind === 'original_dst' ? 'OriginalDst' : kind === 'tls_inspector' ? 'TlsInspector' : 'HttpInspector'}` },
  });
  const resources = [
    {
      '@type': L, name: 'virtualOutbound', address: sock('0.0.0.0:15001'), use_original_dst: true, traffic_direction: 'OUTBOUND',
      filter_chains: [
        { name: 'virtualOutbound-blackhole', filter_chain_match: { destination_port: 15001 }, filters: [tcpProxy('BlackHoleCluster', 'BlackHoleCluster')] },
        { name: 'virtualOutbound-catchall-tcp', filter_chain_match: { prefix_ranges: [{ address_prefix: '0.0.0.0', prefix_len: 0 }] }, filters: [tcpProxy('PassthroughCluster', 'PassthroughCluster')] },
      ],
    },
    {
      '@type': L, name: `${t.vip}_80`, address: sock(`${t.vip}:80`), bind_to_port: false, traffic_direction: 'OUTBOUND',
      filter_chains: [{ filters: [hcm(`outbound_${t.vip}_80`, [
        { match: { prefix: '/a' }, route: { cluster: 'outbound|80||svc-a' } },
        { match: { prefix: '/b' }, route: { cluster: 'outbound|80||svc-b' } },
      ])] }],
    },
    {
      '@type': L, name: '0.0.0.0_443', address: sock('0.0.0.0:443'), bind_to_port: false, traffic_direction: 'OUTBOUND',
      listener_filters: [lf('tls_inspector')],
      filter_chains: Object.keys(t.tls).map((sni) => ({
        name: sni, filter_chain_match: { server_names: [sni], transport_protocol: 'tls' }, filters: [tcpProxy(`outbound|443||${sni}`, `outbound|443||${sni}`)],
      })),
    },
    {
      '@type': L, name: 'virtualInbound', address: sock('0.0.0.0:15006'), traffic_direction: 'INBOUND',
      listener_filters: [lf('original_dst'), lf('tls_inspector'), lf('http_inspector')],
      filter_chains: [
        { name: 'virtualInbound-blackhole', filter_chain_match: { destination_port: 15006 }, filters: [tcpProxy('BlackHoleCluster', 'BlackHoleCluster')] },
        {
          name: `0.0.0.0_${t.appHttpPort}`,
          filter_chain_match: { destination_port: t.appHttpPort, transport_protocol: 'raw_buffer', application_protocols: ['http/1.1', 'h2c'] },
          filters: [hcm(`inbound_0.0.0.0_${t.appHttpPort}`, [{ match: { prefix: '/' }, route: { cluster: `inbound|${t.appHttpPort}||` } }])],
        },
      ],
      default_filter_chain: { name: 'virtualInbound-catchall', filters: [tcpProxy('InboundPassthroughClusterIpv4', 'InboundPassthroughClusterIpv4')] },
    },
  ];
  return { version_info: '1', resources };
}

/** An Envoy bootstrap reading LDS/CDS from the given files, admin on 127.0.0.1:adminPort (inside the pod). */
export function podBootstrap(o: { ldsPath: string; cdsPath: string; adminPort: number }): Record<string, unknown> {
  return {
    node: { id: 'sidecar~10.78.0.1~app.default~default.svc.cluster.local', cluster: 'app.default' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort } } },
    dynamic_resources: {
      lds_config: { path_config_source: { path: o.ldsPath }, resource_api_version: 'V3' },
      cds_config: { path_config_source: { path: o.cdsPath }, resource_api_version: 'V3' },
    },
  };
}
