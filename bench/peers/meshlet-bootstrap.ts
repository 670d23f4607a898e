// Bench peer: the Envoy v3 bootstrap meshlet is launched with — a static listener configured the way a mesh would
// (HCM with a 100-virtual-host route table and a regex route, header mutation, retries, timeouts, access log,
// 1 % tracing), or tcp_proxy / SNI filter chains for the passthrough scenarios. Variants (the `meshlet-*` targets)
// add HTTP filters, change tracing, or drop the access log, so their cost shows against plain meshlet in one run.
import { stringify } from 'yaml';
import type { ProxyMode } from './haproxy.js';

function cluster(name: string, port: number, h2: boolean): Record<string, unknown> {
  const c: Record<string, unknown> = {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
    },
  };
  if (h2) {
    c.typed_extension_protocol_options = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return c;
}

/** 99 named virtual hosts plus a catch-all with a regex route in front of the prefix route. */
export function benchRouteConfig(clusterName: string): Record<string, unknown> {
  const route = (match: Record<string, unknown>): Record<string, unknown> => ({
    match,
    route: {
      cluster: clusterName,
      timeout: '15s',
      retry_policy: { retry_on: 'connect-failure,refused-stream,reset', num_retries: 2, per_try_timeout: '5s' },
    },
    request_headers_to_add: [{ header: { key: 'x-bench-route', value: 'matched' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    response_headers_to_remove: ['x-internal'],
  });
  const vhosts: Record<string, unknown>[] = [];
  for (let i = 0; i < 99; i++) {
    vhosts.push({ name: `svc-${i}`, domains: [`svc-${i}.bench.local`, `svc-${i}.bench.local:*`], routes: [route({ prefix: '/' })] });
  }
  vhosts.push({
    name: 'default',
    domains: ['*'],
    routes: [route({ safe_regex: { regex: '^/api/v[0-9]+/items/[0-9]+$' } }), route({ prefix: '/' })],
    response_headers_to_add: [{ header: { key: 'x-bench-proxy', value: 'meshlet' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
  });
  return { name: 'bench-routes', virtual_hosts: vhosts, request_headers_to_remove: ['x-bench-strip'] };
}

const T = 'type.googleapis.com/';

/** What a meshlet variant changes in the HTTP listener (plain meshlet: no filters, 1 % sampling decision, access log on). */
export interface MeshletVariant {
  /** cors (+ a vhost CorsPolicy), local_ratelimit (bucket far above the load) and rbac (ALLOW policy every request matches) */
  readonly filters?: boolean;
  /** 'decision': HCM tracing with no provider (plain meshlet); 'off': no tracing block; a number: that random_sampling
   *  percentage with the OpenTelemetry provider exporting over OTLP/gRPC to 127.0.0.1:collectorPort */
  readonly tracing?: 'decision' | 'off' | number;
  readonly collectorPort?: number;
  /** false: no access log */
  readonly accessLog?: boolean;
}

/** cors + local_ratelimit + rbac configured so every bench request passes through all three doing real work. */
export function passingFilters(): Record<string, unknown>[] {
  return [
    { name: 'envoy.filters.http.cors', typed_config: { '@type': `${T}envoy.extensions.filters.http.cors.v3.Cors` } },
    { name: 'envoy.filters.http.local_ratelimit', typed_config: { '@type': `${T}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`,
      stat_prefix: 'bench_rl', token_bucket: { max_tokens: 1_000_000_000, tokens_per_fill: 1_000_000_000, fill_interval: '1s' },
      filter_enabled: { default_value: { numerator: 100 } }, filter_enforced: { default_value: { numerator: 100 } } } },
    { name: 'envoy.filters.http.rbac', typed_config: { '@type': `${T}envoy.extensions.filters.http.rbac.v3.RBAC`, rules: { action: 'ALLOW', policies: {
      'local-clients': { permissions: [{ url_path: { path: { prefix: '/' } } }], principals: [{ remote_ip: { address_prefix: '127.0.0.0', prefix_len: 8 } }] },
    } } } },
  ];
}

function tracingConfig(v: MeshletVariant): Record<string, unknown> | undefined {
  const t = v.tracing ?? 'decision';
  if (t === 'off') return undefined;
  if (t === 'decision') return { random_sampling: { value: 1 } };
  if (!v.collectorPort) throw new Error('a tracing variant needs collectorPort');
  return {
    random_sampling: { value: t },
    provider: { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': `${T}envoy.config.trace.v3.OpenTelemetryConfig`,
      service_name: 'bench', grpc_service: { envoy_grpc: { cluster_name: 'otel' }, timeout: '1s' } } },
  };
}

/** Bootstrap YAML for one scenario's listener on `listen` forwarding to `upstream`. */
export function meshletBootstrapYaml(mode: ProxyMode, listen: number, upstream: number, adminPort: number, sniName = 'localhost', variant: MeshletVariant = {}): string {
  const address = { socket_address: { address: '127.0.0.1', port_value: listen } };
  const accessLog = [{
    name: 'envoy.access_loggers.file',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: '/dev/null' },
  }];
  const tcpProxy = {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      stat_prefix: 'bench_tcp',
      cluster: 'backend',
      access_log: accessLog,
    },
  };
  let listener: Record<string, unknown>;
  if (mode === 'h1' || mode === 'h2') {
    const routeConfig = benchRouteConfig('backend');
    if (variant.filters) {
      const vhosts = routeConfig.virtual_hosts as Record<string, unknown>[];
      vhosts[vhosts.length - 1].typed_per_filter_config = { 'envoy.filters.http.cors': { '@type': `${T}envoy.extensions.filters.http.cors.v3.CorsPolicy`,
        allow_origin_string_match: [{ exact: 'https://app.bench.local' }], allow_methods: 'GET,POST', allow_headers: 'x-token', max_age: '600' } };
    }
    const tracing = tracingConfig(variant);
    listener = {
      name: 'bench_http',
      address,
      filter_chains: [{
        filters: [{
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: 'bench_http',
            codec_type: 'AUTO',
            route_config: routeConfig,
            http_filters: [
              ...(variant.filters ? passingFilters() : []),
              { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
            ],
            ...(variant.accessLog === false ? {} : { access_log: accessLog }),
            ...(tracing ? { tracing } : {}),
            stream_idle_timeout: '60s',
            request_timeout: '30s',
          },
        }],
      }],
    };
  } else if (mode === 'tcp') {
    listener = { name: 'bench_tcp', address, filter_chains: [{ filters: [tcpProxy] }] };
  } else {
    listener = {
      name: 'bench_sni',
      address,
      listener_filters: [{
        name: 'envoy.filters.listener.tls_inspector',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' },
      }],
      filter_chains: [{ filter_chain_match: { server_names: [sniName] }, filters: [tcpProxy] }],
    };
  }
  const bootstrap = {
    node: { id: 'bench~127.0.0.1~bench.default~default.svc.cluster.local', cluster: 'bench.default' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
    static_resources: {
      listeners: [listener],
      clusters: [cluster('backend', upstream, mode === 'h2'), ...(typeof variant.tracing === 'number' && variant.collectorPort ? [cluster('otel', variant.collectorPort, true)] : [])],
    },
  };
  return stringify(bootstrap);
}
