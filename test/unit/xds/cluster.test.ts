// Unit tests for CDS/EDS translation: defaults, every supported policy form, and invalid input reported with
// field paths (unsupported behaviour-changing fields named, never ignored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterResourceType } from '../../../src/xds/resource-types/cluster.js';
import { clusterLoadAssignmentResourceType } from '../../../src/xds/resource-types/cluster-load-assignment.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import type { ClusterConfig } from '../../../src/config/cluster.js';
import type { EndpointsConfig } from '../../../src/config/endpoint.js';
import type { NodeInfo } from '../../../src/config/node.js';

const node: NodeInfo = { id: 'n', cluster: 'c', locality: {}, metadata: {} };

function tr(json: Record<string, unknown>) {
  return clusterResourceType.translate(jsonToCanonical('envoy.config.cluster.v3.Cluster', json), { node });
}
function ok(json: Record<string, unknown>): ClusterConfig {
  const r = tr(json);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors));
  return r.value;
}
function errs(json: Record<string, unknown>): string[] {
  const r = tr(json);
  assert.equal(r.ok, false, 'expected errors');
  return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
}
const eds = { name: 'svc', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, service_name: 'svc-eds' } };
const ep = (ip: string, port: number) => ({ endpoint: { address: { socket_address: { address: ip, port_value: port } } } });

test('EDS cluster: Envoy defaults and the EDS dependency (service_name || name)', () => {
  const c = ok(eds);
  assert.equal(c.type, 'EDS');
  assert.equal(c.edsServiceName, 'svc-eds');
  assert.deepEqual(clusterResourceType.dependencies(c), { endpoints: ['svc-eds'] });
  assert.equal(c.connectTimeoutMs, 5000);
  assert.deepEqual(c.lbPolicy, { kind: 'ROUND_ROBIN' });
  assert.equal(c.commonLb.healthyPanicThreshold, 50);
  assert.deepEqual(c.circuitBreakers.map((t) => [t.priority, t.maxConnections, t.maxPendingRequests, t.maxRequests, t.maxRetries]),
    [['DEFAULT', 1024, 1024, 1024, 3], ['HIGH', 1024, 1024, 1024, 3]]);
  assert.equal(c.http.protocol, 'http1');
  assert.equal(c.outlierDetection, null);
  const noSvc = ok({ name: 'x', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } });
  assert.deepEqual(clusterResourceType.dependencies(noSvc), { endpoints: ['x'] });
});

test('outlier detection and retry budget defaults follow Envoy', () => {
  const c = ok({ ...eds, outlier_detection: {}, circuit_breakers: { thresholds: [{ max_requests: 10, retry_budget: {} }] } });
  const o = c.outlierDetection!;
  assert.deepEqual([o.consecutive5xx, o.intervalMs, o.baseEjectionTimeMs, o.maxEjectionPercent, o.enforcingConsecutive5xx, o.maxEjectionTimeMs, o.consecutiveGatewayFailure, o.enforcingConsecutiveGatewayFailure],
    [5, 10000, 30000, 10, 100, 300000, 5, 0]);
  assert.equal(c.circuitBreakers[0].maxRequests, 10);
  assert.deepEqual(c.circuitBreakers[0].retryBudget, { budgetPercent: 20, minRetryConcurrency: 3 });
});

test('protocol options: http2_protocol_options, explicit http2, auto_config, downstream', () => {
  assert.equal(ok({ ...eds, http2_protocol_options: {} }).http.protocol, 'http2');
  const teo = (cfg: Record<string, unknown>) => ({
    ...eds,
    typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', ...cfg } },
  });
  const h2 = ok(teo({ explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 50 } }, common_http_protocol_options: { idle_timeout: '30s', max_requests_per_connection: 7 } }));
  assert.equal(h2.http.protocol, 'http2');
  assert.equal(h2.http.h2MaxConcurrentStreams, 50);
  assert.equal(h2.http.idleTimeoutMs, 30000);
  assert.equal(h2.http.maxRequestsPerConnection, 7);
  assert.equal(ok(teo({ auto_config: {} })).http.protocol, 'auto');
  assert.equal(ok(teo({ use_downstream_protocol_config: {} })).http.protocol, 'downstream');
  assert.equal(ok(teo({ explicit_http_config: { http_protocol_options: {} } })).http.protocol, 'http1');
});

test('lb policies: legacy enum forms and typed load_balancing_policy (first supported wins)', () => {
  assert.deepEqual(ok({ ...eds, lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: 3, active_request_bias: { default_value: 0.5, runtime_key: 'k' } } }).lbPolicy,
    { kind: 'LEAST_REQUEST', choiceCount: 3, activeRequestBias: 0.5 });
  assert.deepEqual(ok({ ...eds, lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: 64, maximum_ring_size: 4096 } }).lbPolicy,
    { kind: 'RING_HASH', minRingSize: 64, maxRingSize: 4096, useHostnameForHashing: false });
  assert.deepEqual(ok({ ...eds, lb_policy: 'MAGLEV' }).lbPolicy, { kind: 'MAGLEV', tableSize: 65537, useHostnameForHashing: false });
  const typed = ok({
    ...eds,
    load_balancing_policy: { policies: [
      { typed_extension_config: { name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin' } } },
      { typed_extension_config: { name: 'y', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev', table_size: 131 } } },
      { typed_extension_config: { name: 'z', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random' } } },
    ] },
  });
  assert.deepEqual(typed.lbPolicy, { kind: 'MAGLEV', tableSize: 131, useHostnameForHashing: false });
  const wrr = ok({ ...eds, load_balancing_policy: { policies: [{ typed_extension_config: { name: 'w', typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.wrr_locality.v3.WrrLocality',
    endpoint_picking_policy: { policies: [{ typed_extension_config: { name: 'rr', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin' } } }] },
  } } }] } });
  assert.equal(wrr.commonLb.localityWeighted, true);
  assert.equal(wrr.lbPolicy.kind, 'ROUND_ROBIN');
});

test('health checks: http, tcp (hex payloads) and grpc', () => {
  const c = ok({ ...eds, health_checks: [{ timeout: '1s', interval: '5s', unhealthy_threshold: 2, healthy_threshold: 3, http_health_check: { path: '/healthz', expected_statuses: [{ start: 200, end: 300 }], request_headers_to_add: [{ header: { key: 'X-HC', value: '1' } }] } }] });
  const hc = c.healthChecks[0];
  assert.equal(hc.intervalMs, 5000);
  assert.equal(hc.noTrafficIntervalMs, 60000);
  assert.equal(hc.unhealthyIntervalMs, 5000);
  assert.deepEqual(hc.check.kind === 'http' && hc.check.expectedStatuses, [[200, 300]]);
  assert.deepEqual(hc.check.kind === 'http' && hc.check.requestHeadersToAdd, [{ name: 'x-hc', value: '1', append: false }]);
  const t = ok({ ...eds, health_checks: [{ timeout: '1s', interval: '1s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: { send: { text: '50494e47' }, receive: [{ text: '504f4e47' }] } }] });
  const k = t.healthChecks[0].check;
  assert.ok(k.kind === 'tcp' && k.send!.toString() === 'PING' && k.receive[0].toString() === 'PONG');
  const g = ok({ ...eds, health_checks: [{ timeout: '1s', interval: '1s', unhealthy_threshold: 1, healthy_threshold: 1, grpc_health_check: { service_name: 'svc' } }] });
  assert.deepEqual(g.healthChecks[0].check, { kind: 'grpc', serviceName: 'svc', authority: 'svc' });
});

test('STATIC cluster: load_assignment translated by the EDS code; DNS clusters accept names', () => {
  const c = ok({ name: 's', type: 'STATIC', load_assignment: { cluster_name: 's', endpoints: [{ lb_endpoints: [ep('127.0.0.1', 80), ep('127.0.0.2', 81)] }] } });
  assert.deepEqual(c.loadAssignment!.localities[0].endpoints.map((e) => `${e.address.address}:${e.address.port}`), ['127.0.0.1:80', '127.0.0.2:81']);
  assert.equal(c.loadAssignment!.overprovisioningFactor, 140);
  const d = ok({ name: 'd', type: 'STRICT_DNS', dns_refresh_rate: '2s', load_assignment: { cluster_name: 'd', endpoints: [{ lb_endpoints: [ep('example.internal', 80)] }] } });
  assert.equal(d.dnsRefreshRateMs, 2000);
  const e = errs({ name: 's', type: 'STATIC', load_assignment: { cluster_name: 's', endpoints: [{ lb_endpoints: [ep('example.internal', 80)] }] } });
  assert.ok(e.some((x) => x.startsWith('load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address:')), e.join('\n'));
  const od = ok({ name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED' });
  assert.equal(od.originalDst!.cleanupIntervalMs, 5000);
});

test('upstream TLS: files read at translation time; SAN matchers kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-cl-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), 'CA-PEM');
    const c = ok({ ...eds, transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 'svc.example',
      common_tls_context: { alpn_protocols: ['h2'], tls_certificates: [{ certificate_chain: { inline_string: 'CERT' }, private_key: { inline_string: 'KEY' } }],
        validation_context: { trusted_ca: { filename: join(dir, 'ca.pem') }, match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'svc.example' } }] } },
    } } });
    assert.equal(c.tls!.sni, 'svc.example');
    assert.equal(c.tls!.trustedCa, 'CA-PEM');
    assert.equal(c.tls!.certificateChain, 'CERT');
    assert.deepEqual(c.tls!.alpn, ['h2']);
    assert.deepEqual(c.tls!.sanMatchers, [{ sanType: 'DNS', match: { kind: 'exact', value: 'svc.example', ignoreCase: false } }]);
    const missing = errs({ ...eds, transport_socket: { name: 't', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: { validation_context: { trusted_ca: { filename: join(dir, 'nope.pem') } } } } } });
    assert.ok(missing.some((x) => x.startsWith('transport_socket.typed_config.common_tls_context.validation_context.trusted_ca.filename: cannot read')), missing.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invalid clusters: every problem reported with its field path', () => {
  const e = errs({
    name: 'bad', type: 'STATIC', connect_timeout: '0s', lb_policy: 'CLUSTER_PROVIDED',
    cluster_type: { name: 'envoy.clusters.aggregate', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.clusters.aggregate.v3.ClusterConfig', clusters: ['a'] } },
    lb_subset_config: { fallback_policy: 'ANY_ENDPOINT' },
    outlier_detection: { max_ejection_percent: 150 },
    health_checks: [{ interval: '1s', http_health_check: { path: '/' } }],
    common_lb_config: { healthy_panic_threshold: { value: 20 }, ignore_new_hosts_until_first_hc: true },
    maglev_lb_config: {},
  });
  const has = (prefix: string) => assert.ok(e.some((x) => x.startsWith(prefix)), `missing ${prefix} in\n${e.join('\n')}`);
  has('cluster_type:');
  has('lb_subset_config: field is not supported');
  has('connect_timeout:');
  has('lb_policy: CLUSTER_PROVIDED is only valid');
  has('outlier_detection.max_ejection_percent:');
  has('health_checks[0].timeout:');
  has('health_checks[0].unhealthy_threshold:');
  has('common_lb_config.ignore_new_hosts_until_first_hc:');
  has('load_assignment:');
  assert.ok(errs({ ...eds, lb_policy: 'MAGLEV', maglev_lb_config: { table_size: 100 } }).some((x) => x.startsWith('maglev_lb_config.table_size:')));
  assert.ok(errs({ ...eds, ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' }, lb_policy: 'RING_HASH' }).some((x) => x.startsWith('ring_hash_lb_config.hash_function:')));
  assert.ok(errs({ name: 'o', type: 'ORIGINAL_DST' }).some((x) => x.startsWith('lb_policy:')));
});

test('ClusterLoadAssignment: localities, priorities, health status, weights, policy', () => {
  const r = clusterLoadAssignmentResourceType.translate(jsonToCanonical('envoy.config.endpoint.v3.ClusterLoadAssignment', {
    cluster_name: 'svc-eds',
    endpoints: [
      { locality: { region: 'r', zone: 'z1' }, load_balancing_weight: 3, lb_endpoints: [{ ...ep('10.0.0.1', 80), health_status: 'DEGRADED', load_balancing_weight: 5, metadata: { filter_metadata: { 'envoy.lb': { canary: true } } } }] },
      { locality: { zone: 'z2' }, priority: 1, lb_endpoints: [{ endpoint: { hostname: 'b.example', address: { socket_address: { address: '10.0.0.2', port_value: 81 } } } }] },
    ],
    policy: { overprovisioning_factor: 200, drop_overloads: [{ category: 'lb', drop_percentage: { numerator: 5, denominator: 'HUNDRED' } }] },
  }), { node });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const v: EndpointsConfig = r.value;
  assert.equal(clusterLoadAssignmentResourceType.name({ cluster_name: 'svc-eds' }), 'svc-eds');
  assert.equal(v.overprovisioningFactor, 200);
  assert.deepEqual(v.dropOverloads, [{ category: 'lb', ppm: 50000 }]);
  assert.equal(v.localities[0].weight, 3);
  assert.equal(v.localities[0].endpoints[0].healthStatus, 'DEGRADED');
  assert.equal(v.localities[0].endpoints[0].weight, 5);
  assert.deepEqual(v.localities[0].endpoints[0].metadata, { 'envoy.lb': { canary: true } });
  assert.equal(v.localities[1].priority, 1);
  assert.equal(v.localities[1].endpoints[0].hostname, 'b.example');
  const bad = clusterLoadAssignmentResourceType.translate(jsonToCanonical('envoy.config.endpoint.v3.ClusterLoadAssignment', {
    cluster_name: 'x', endpoints: [{ priority: 2, lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'not-an-ip', port_value: 1 } } } }, { endpoint: {} }] }],
  }), { node });
  assert.equal(bad.ok, false);
  const paths = bad.ok ? [] : bad.errors.map((e) => e.path);
  assert.ok(paths.includes('endpoints'), paths.join());
  assert.ok(paths.includes('endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address'), paths.join());
  assert.ok(paths.includes('endpoints[0].lb_endpoints[1].endpoint.address'), paths.join());
});
