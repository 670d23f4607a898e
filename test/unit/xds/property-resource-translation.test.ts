// test/unit/xds: property-based check (fast-check) that xDS resource translation never throws: arbitrary JSON shaped
// like Listener / RouteConfiguration / Cluster / ClusterLoadAssignment either fails conversion with a
// ProtoConversionError carrying a path, or translates to an ACK (ok) or a NACK whose every error has a field path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jsonToCanonical, ProtoConversionError } from '../../../src/xds/proto-json.js';
import type { ResourceType } from '../../../src/xds/resource-type.js';
import { listenerResourceType } from '../../../src/xds/resource-types/listener.js';
import { routeConfigurationResourceType } from '../../../src/xds/resource-types/route-configuration.js';
import { clusterResourceType } from '../../../src/xds/resource-types/cluster.js';
import { clusterLoadAssignmentResourceType } from '../../../src/xds/resource-types/cluster-load-assignment.js';

const ctx = { node: { id: 'prop', cluster: 'prop', locality: {}, metadata: {} } } as never;

const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -5, max: 70000 }), fc.double({ noNaN: true }), fc.constantFrom('', 'x', '1s', '0.5s', '-1s', 'ROUND_ROBIN', 'STATIC', 'EDS', 'ADS', '127.0.0.1', '::1', '*', '/', '[', '(a+)+$', 'envoy.filters.http.router'));
const leaf = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'name', 'value', 'prefix', 'exact'), scalar, { maxKeys: 2 }));

const HCM_ANY = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const socketAddress = fc.record({ address: fc.constantFrom('127.0.0.1', '0.0.0.0', '::', 'not-an-ip', ''), port_value: fc.oneof(fc.integer({ min: 0, max: 70000 }), leaf) }, { requiredKeys: [] });
const address = fc.oneof(fc.record({ socket_address: socketAddress }), fc.record({ pipe: fc.record({ path: fc.constantFrom('/tmp/x', '') }) }), leaf);
const route = fc.record({
  match: fc.oneof(fc.record({ prefix: fc.constantFrom('/', '', 'x') }), fc.record({ safe_regex: fc.record({ regex: fc.constantFrom('.*', '(a+)+$', '[', '(?=x)') }) }), leaf),
  route: fc.oneof(fc.record({ cluster: fc.constantFrom('c', ''), timeout: fc.constantFrom('1s', '-1s', 'x') }, { requiredKeys: [] }), leaf),
  direct_response: fc.oneof(fc.record({ status: fc.integer({ min: 0, max: 1000 }) }), leaf),
}, { requiredKeys: [] });
const routeConfig = fc.record({
  name: fc.constantFrom('r', '', 'x'),
  virtual_hosts: fc.oneof(fc.array(fc.record({ name: fc.constantFrom('v', ''), domains: fc.array(fc.constantFrom('*', 'a.com', '*.b', '', 'a*b'), { maxLength: 3 }), routes: fc.array(route, { maxLength: 3 }) }, { requiredKeys: [] }), { maxLength: 2 }), leaf),
}, { requiredKeys: [] });
const listener = fc.record({
  name: fc.constantFrom('l', ''),
  address,
  filter_chains: fc.oneof(fc.array(fc.record({
    filters: fc.array(fc.record({
      name: fc.constantFrom('envoy.filters.network.http_connection_manager', 'envoy.filters.network.tcp_proxy', 'x'),
      typed_config: fc.oneof(
        fc.record({ '@type': fc.constant(HCM_ANY), stat_prefix: fc.constantFrom('s', ''), route_config: routeConfig, codec_type: fc.constantFrom('AUTO', 'HTTP2', 'BOGUS'), max_request_headers_kb: fc.integer({ min: -1, max: 10000 }), http_filters: fc.array(fc.record({ name: fc.constantFrom('envoy.filters.http.router', 'x') }), { maxLength: 2 }) }, { requiredKeys: ['@type'] }),
        fc.record({ '@type': fc.constant('type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy'), stat_prefix: fc.constantFrom('t', ''), cluster: fc.constantFrom('c', '') }, { requiredKeys: ['@type'] }),
      ),
    }, { requiredKeys: [] }), { maxLength: 2 }),
  }, { requiredKeys: [] }), { maxLength: 2 }), leaf),
  listener_filters: fc.oneof(fc.array(fc.record({ name: fc.constantFrom('envoy.filters.listener.tls_inspector', 'x') }), { maxLength: 2 }), leaf),
  per_connection_buffer_limit_bytes: fc.oneof(fc.integer({ min: -1, max: 1 << 20 }), leaf),
}, { requiredKeys: [] });
const lbEndpoint = fc.record({ endpoint: fc.record({ address }, { requiredKeys: [] }), load_balancing_weight: fc.oneof(fc.integer({ min: -1, max: 200 }), leaf), health_status: fc.constantFrom('HEALTHY', 'UNHEALTHY', 'X') }, { requiredKeys: [] });
const cla = fc.record({
  cluster_name: fc.constantFrom('c', ''),
  endpoints: fc.oneof(fc.array(fc.record({ lb_endpoints: fc.array(lbEndpoint, { maxLength: 3 }), priority: fc.oneof(fc.integer({ min: -1, max: 5 }), leaf), load_balancing_weight: fc.integer({ min: 0, max: 200 }) }, { requiredKeys: [] }), { maxLength: 3 }), leaf),
  policy: fc.oneof(fc.record({ overprovisioning_factor: fc.integer({ min: 0, max: 1000 }) }), leaf),
}, { requiredKeys: [] });
const cluster = fc.record({
  name: fc.constantFrom('c', ''),
  type: fc.constantFrom('STATIC', 'STRICT_DNS', 'EDS', 'ORIGINAL_DST', 'LOGICAL_DNS', 'X'),
  connect_timeout: fc.constantFrom('1s', '0s', '-1s', 'x', '0.25s'),
  lb_policy: fc.constantFrom('ROUND_ROBIN', 'RING_HASH', 'MAGLEV', 'LEAST_REQUEST', 'RANDOM', 'CLUSTER_PROVIDED', 'X'),
  load_assignment: cla,
  eds_cluster_config: fc.oneof(fc.record({ eds_config: fc.record({ ads: fc.constant({}) }), service_name: fc.constantFrom('s', '') }, { requiredKeys: [] }), leaf),
  circuit_breakers: fc.oneof(fc.record({ thresholds: fc.array(fc.record({ priority: fc.constantFrom('DEFAULT', 'HIGH'), max_connections: fc.integer({ min: -1, max: 10 }) }, { requiredKeys: [] }), { maxLength: 2 }) }), leaf),
  outlier_detection: fc.oneof(fc.record({ consecutive_5xx: fc.integer({ min: -1, max: 10 }), interval: fc.constantFrom('1s', '-1s') }, { requiredKeys: [] }), leaf),
  health_checks: fc.oneof(fc.array(fc.record({ timeout: fc.constantFrom('1s', 'x'), interval: fc.constantFrom('1s', '0s'), http_health_check: fc.record({ path: fc.constantFrom('/', '') }) }, { requiredKeys: [] }), { maxLength: 2 }), leaf),
}, { requiredKeys: [] });

function check(rt: ResourceType<unknown>, json: unknown): void {
  let canonical;
  try {
    canonical = jsonToCanonical(rt.messageName, json);
  } catch (e) {
    assert.ok(e instanceof ProtoConversionError, `conversion threw a ${(e as Error)?.constructor?.name}: ${String(e)}`);
    assert.equal(typeof e.path, 'string');
    return;
  }
  let r;
  try {
    r = rt.translate(canonical, ctx);
  } catch (e) {
    assert.fail(`translate threw for ${JSON.stringify(json)}: ${(e as Error).stack}`);
  }
  if (r.ok) return;
  assert.ok(r.errors.length > 0, 'a NACK names at least one error');
  for (const err of r.errors) {
    assert.equal(typeof err.path, 'string');
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0);
  }
}

const cases: [string, ResourceType<unknown>, fc.Arbitrary<unknown>][] = [
  ['Listener', listenerResourceType as ResourceType<unknown>, listener],
  ['RouteConfiguration', routeConfigurationResourceType as ResourceType<unknown>, routeConfig],
  ['Cluster', clusterResourceType as ResourceType<unknown>, cluster],
  ['ClusterLoadAssignment', clusterLoadAssignmentResourceType as ResourceType<unknown>, cla],
];

for (const [name, rt, arb] of cases) {
  test(`${name}: translation never throws; ACK or NACK with field paths`, () => {
    fc.assert(fc.property(arb, (json) => check(rt, json)), { numRuns: 400, seed: 1234 });
  });
  test(`${name}: arbitrary JSON values are converted or refused with a path, never a crash`, () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (json) => check(rt, json)), { numRuns: 200, seed: 99 });
  });
}
