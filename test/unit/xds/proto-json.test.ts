// Unit tests for the canonical proto conversion: JSON/YAML and binary forms agree, unknown Any types are errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonToCanonical, encodeAny, decodeAny, canonicalToJson, ProtoConversionError } from '../../../src/xds/proto-json.js';

const clusterJson = {
  name: 'svc',
  type: 'STATIC',
  connectTimeout: '0.25s',
  lb_policy: 'round_robin',
  load_assignment: {
    cluster_name: 'svc',
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: '8080' } } } }] }],
  },
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
  metadata: { filter_metadata: { istio: { labels: { app: 'x' }, n: 3 } } },
  per_connection_buffer_limit_bytes: 32768,
};

test('JSON with mixed snake/camel case becomes canonical snake_case with ms durations and enum names', () => {
  const unknown: string[] = [];
  const c = jsonToCanonical('envoy.config.cluster.v3.Cluster', { ...clusterJson, some_future_field: 1 }, '', { unknownFields: unknown });
  assert.equal(c.connect_timeout, 250);
  assert.equal(c.lb_policy, 'ROUND_ROBIN');
  assert.equal(c.per_connection_buffer_limit_bytes, 32768);
  assert.deepEqual(unknown, ['some_future_field']);
  const ep = (c.load_assignment as any).endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
  assert.equal(ep.port_value, 8080);
  const opts = (c.typed_extension_protocol_options as any)['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  assert.equal(opts['@type'], 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
  assert.deepEqual(opts.explicit_http_config, { http2_protocol_options: {} });
  assert.deepEqual((c.metadata as any).filter_metadata.istio, { labels: { app: 'x' }, n: 3 });
});

test('binary round trip through Any gives the same canonical object', () => {
  const c = jsonToCanonical('envoy.config.cluster.v3.Cluster', clusterJson);
  const any = encodeAny({ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', ...c });
  const back = decodeAny(any.type_url, any.value);
  assert.deepEqual(back, { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', ...c });
});

test('an Any of an unknown type is an error naming the path, never an empty message', () => {
  assert.throws(
    () => jsonToCanonical('envoy.config.listener.v3.Listener', { name: 'l', filter_chains: [{ filters: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/foo.Bar' } }] }] }),
    (e: unknown) => e instanceof ProtoConversionError && e.path === 'filter_chains[0].filters[0].typed_config.@type' && /unknown type/.test(e.message),
  );
  assert.throws(() => decodeAny('type.googleapis.com/foo.Bar', new Uint8Array()), /unknown type/);
});

test('wrong scalar types are reported with their field path', () => {
  assert.throws(() => jsonToCanonical('envoy.config.cluster.v3.Cluster', { name: 'x', connect_timeout: 'soon' }), /connect_timeout: invalid duration/);
  assert.throws(() => jsonToCanonical('envoy.config.cluster.v3.Cluster', { name: 'x', lb_policy: 'FASTEST' }), /lb_policy: invalid value/);
  assert.throws(() => jsonToCanonical('envoy.config.cluster.v3.Cluster', { name: 'x' , per_connection_buffer_limit_bytes: 'lots' }), /per_connection_buffer_limit_bytes: expected an integer/);
});

test('TypedStruct is unwrapped into its target type', () => {
  const c = jsonToCanonical('envoy.config.listener.v3.Filter', {
    name: 'envoy.filters.network.tcp_proxy',
    typed_config: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct', type_url: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', value: { stat_prefix: 's', cluster: 'c' } },
  });
  assert.deepEqual(c.typed_config, { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 's', cluster: 'c' });
});

test('canonical renders back to proto3 JSON for config_dump', () => {
  const c = jsonToCanonical('envoy.config.cluster.v3.Cluster', clusterJson);
  const j = canonicalToJson('envoy.config.cluster.v3.Cluster', c);
  assert.equal(j.connect_timeout, '0.25s');
  assert.equal(j.lb_policy, 'ROUND_ROBIN');
});
