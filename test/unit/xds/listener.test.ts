// LDS translation: listeners and HttpConnectionManagers from YAML-like objects become readonly configs with
// Envoy's defaults; every problem is reported at its field path; behaviour-changing unsupported fields are rejected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { listenerResourceType, translateListener } from '../../../src/xds/resource-types/listener.js';
import type { ListenerConfig } from '../../../src/config/listener.js';
import type { HttpConnectionManagerConfig } from '../../../src/config/http-connection-manager.js';

const ctx = { node: { id: 'n', cluster: 'c', locality: {}, metadata: {} } };
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

function listener(hcm: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'l',
    address: { socket_address: { address: '0.0.0.0', port_value: 8080 } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: 'in', ...hcm } }] }],
    ...extra,
  };
}

function translate(y: Record<string, unknown>) {
  return translateListener(jsonToCanonical('envoy.config.listener.v3.Listener', y), ctx);
}

function ok(y: Record<string, unknown>): ListenerConfig {
  const r = translate(y);
  if (!r.ok) assert.fail(JSON.stringify(r.errors));
  return r.value;
}

function hcmOf(l: ListenerConfig): HttpConnectionManagerConfig {
  const f = l.filterChains[0].filters[0];
  assert.equal(f.kind, 'http_connection_manager');
  return (f as { config: HttpConnectionManagerConfig }).config;
}

function errors(y: Record<string, unknown>): string[] {
  const r = translate(y);
  assert.equal(r.ok, false, 'expected a NACK');
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}

const RDS = { rds: { route_config_name: 'r1', config_source: { ads: {} } }, http_filters: [ROUTER] };

test('HCM defaults follow Envoy (and meshlet\'s 100 concurrent streams)', () => {
  const l = ok(listener(RDS));
  const h = hcmOf(l);
  assert.equal(h.codecType, 'AUTO');
  assert.equal(h.rdsName, 'r1');
  assert.equal(h.streamIdleTimeoutMs, 300_000);
  assert.equal(h.requestTimeoutMs, 0);
  assert.equal(h.idleTimeoutMs, 3_600_000);
  assert.equal(h.maxRequestHeadersKb, 60);
  assert.equal(h.maxHeadersCount, 100);
  assert.equal(h.http2.maxConcurrentStreams, 100);
  assert.equal(h.serverName, 'envoy');
  assert.equal(h.generateRequestId, true);
  assert.equal(h.useRemoteAddress, false);
  assert.equal(l.bindToPort, true);
  assert.equal(l.address.port, 8080);
  assert.deepEqual(listenerResourceType.dependencies(l), { routeConfigs: ['r1'] });
});

test('HCM fields are translated (durations in ms, upgrades, common options)', () => {
  const h = hcmOf(ok(listener({
    ...RDS, codec_type: 'HTTP2', use_remote_address: true, xff_num_trusted_hops: 2, server_name: 'meshlet', stream_idle_timeout: '10s',
    request_timeout: '30s', max_request_headers_kb: 32, upgrade_configs: [{ upgrade_type: 'WebSocket' }],
    common_http_protocol_options: { idle_timeout: '60s', max_headers_count: 50, headers_with_underscores_action: 'REJECT_REQUEST' },
    normalize_path: true, merge_slashes: true, path_with_escaped_slashes_action: 'REJECT_REQUEST',
  })));
  assert.equal(h.codecType, 'HTTP2');
  assert.equal(h.useRemoteAddress, true);
  assert.equal(h.xffNumTrustedHops, 2);
  assert.equal(h.serverName, 'meshlet');
  assert.equal(h.streamIdleTimeoutMs, 10_000);
  assert.equal(h.requestTimeoutMs, 30_000);
  assert.equal(h.maxRequestHeadersKb, 32);
  assert.equal(h.upgrades.get('websocket'), true);
  assert.equal(h.idleTimeoutMs, 60_000);
  assert.equal(h.maxHeadersCount, 50);
  assert.equal(h.headersWithUnderscoresAction, 'REJECT_REQUEST');
  assert.equal(h.normalizePath, true);
  assert.equal(h.pathWithEscapedSlashesAction, 'REJECT_REQUEST');
});

test('HTTP filters: router must be last, unknown non-optional filter is an error naming it, optional unknown is skipped', () => {
  const routerFirst = errors(listener({ ...RDS, http_filters: [ROUTER, { name: 'f', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } }] }));
  assert.ok(routerFirst.some((e) => e.startsWith('filter_chains[0].filters[0].typed_config.http_filters[0]') && e.includes('must be the last')), routerFirst.join('\n'));
  const unknown = errors(listener({ ...RDS, http_filters: [{ name: 'envoy.filters.http.lua' }, ROUTER] }));
  assert.ok(unknown.some((e) => e.startsWith('filter_chains[0].filters[0].typed_config.http_filters[0]') && e.includes('envoy.filters.http.lua')), unknown.join('\n'));
  const skipped = hcmOf(ok(listener({ ...RDS, http_filters: [{ name: 'envoy.filters.http.lua', is_optional: true }, ROUTER] })));
  assert.deepEqual(skipped.httpFilters, []);
  const h = hcmOf(ok(listener({ ...RDS, http_filters: [
    { name: 'cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } },
    { name: 'maybe', is_optional: true, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck', pass_through_mode: false } },
    ROUTER,
  ] })));
  assert.deepEqual(h.httpFilters.map((f) => f.name), ['cors', 'maybe']);
  assert.equal(h.httpFilters[0].config?.['@type'], 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors');
  const noRouter = errors(listener({ ...RDS, http_filters: [{ name: 'cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } }] }));
  assert.ok(noRouter.some((e) => e.includes('envoy.filters.http.router')));
});

test('missing route source, both rds and route_config, non-ADS config source are errors with paths', () => {
  assert.ok(errors(listener({ http_filters: [ROUTER] })).some((e) => e.endsWith('one of rds or route_config is required')));
  assert.ok(errors(listener({ ...RDS, route_config: { name: 'x' } })).some((e) => e.includes('exactly one of rds and route_config')));
  const p = errors(listener({ rds: { route_config_name: 'r', config_source: { path_config_source: { path: '/x' } } }, http_filters: [ROUTER] }));
  assert.ok(p.some((e) => e.startsWith('filter_chains[0].filters[0].typed_config.rds.config_source')), p.join('\n'));
});

test('unsupported behaviour-changing fields are rejected by name', () => {
  const e1 = errors(listener({ ...RDS, proxy_100_continue: true }));
  assert.ok(e1.some((e) => e.startsWith('filter_chains[0].filters[0].typed_config.proxy_100_continue')));
  const e2 = errors(listener(RDS, { transparent: true }));
  assert.ok(e2.some((e) => e.startsWith('transparent')));
  const e3 = errors(listener({ ...RDS, http_protocol_options: { allow_chunked_length: true } }));
  assert.ok(e3.some((e) => e.includes('http_protocol_options.allow_chunked_length')));
  const e4 = errors(listener({ ...RDS, local_reply_config: { mappers: [{ filter: { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 404, runtime_key: 'k' } } } }, status_code: 410 }] } }));
  assert.ok(e4.some((e) => e.includes('local_reply_config.mappers')));
});

test('listener filters: known ones accepted, unknown is an error; bind_to_port and use_original_dst kept', () => {
  const l = ok(listener(RDS, {
    use_original_dst: true, bind_to_port: false, traffic_direction: 'OUTBOUND',
    listener_filters: [
      { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } },
      { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } },
      { name: 'envoy.filters.listener.http_inspector' },
    ],
  }));
  assert.deepEqual(l.listenerFilters.map((f) => f.kind), ['original_dst', 'tls_inspector', 'http_inspector']);
  assert.equal(l.useOriginalDst, true);
  assert.equal(l.bindToPort, false);
  assert.equal(l.trafficDirection, 'OUTBOUND');
  const bad = errors(listener(RDS, { listener_filters: [{ name: 'envoy.filters.listener.proxy_protocol' }] }));
  assert.ok(bad.some((e) => e.startsWith('listener_filters[0]') && e.includes('proxy_protocol')));
});

test('tcp_proxy chains and filter_chain_match go through the L4 translators; unknown network filters are errors', () => {
  const l = ok({
    name: 'tcp', address: { socket_address: { address: '0.0.0.0', port_value: 9000 } },
    filter_chains: [{
      filter_chain_match: { destination_port: 9000, server_names: ['a.example.com'] },
      filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 't', cluster: 'c' } }],
    }],
  });
  assert.equal(l.filterChains[0].filters[0].kind, 'tcp_proxy');
  assert.equal(l.filterChains[0].match.destinationPort, 9000);
  const bad = errors({
    name: 'x', address: { socket_address: { address: '0.0.0.0', port_value: 1 } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.redis_proxy' }] }],
  });
  assert.ok(bad.some((e) => e.startsWith('filter_chains[0].filters[0]')));
});

test('DownstreamTlsContext: inline certificates read, unreadable file named, ALPN kept', () => {
  const tls = (cert: Record<string, unknown>) => listener(RDS, {}) && {
    ...listener(RDS),
    filter_chains: [{
      filters: (listener(RDS).filter_chains as Record<string, unknown>[])[0].filters,
      transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        require_client_certificate: false,
        common_tls_context: { tls_certificates: [cert], alpn_protocols: ['h2', 'http/1.1'] },
      } },
    }],
  };
  const l = ok(tls({ certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: 'KEY' } }));
  assert.deepEqual(l.filterChains[0].tls?.certificates, [{ certChain: 'CERT', privateKey: 'KEY' }]);
  assert.deepEqual(l.filterChains[0].tls?.alpn, ['h2', 'http/1.1']);
  const e = errors(tls({ certificate_chain: { filename: '/nonexistent/cert.pem' }, private_key: { inline_string: 'KEY' } }));
  assert.ok(e.some((x) => x.startsWith('filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain.filename')), e.join('\n'));
});

test('every error is collected, not just the first', () => {
  const e = errors({ address: { socket_address: { address: '', port_value: 1 } }, filter_chains: [{ filters: [{ name: 'x' }] }], freebind: true });
  assert.ok(e.length >= 3, e.join('\n'));
  assert.ok(e.some((x) => x.startsWith('name')));
  assert.ok(e.some((x) => x.startsWith('address.socket_address.address')));
  assert.ok(e.some((x) => x.startsWith('freebind')));
});
