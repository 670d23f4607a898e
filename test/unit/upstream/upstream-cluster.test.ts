// Unit tests for cluster runtime behaviour: zone-aware routing split (Envoy's local share + residual capacity),
// slow start ramp, STRICT_DNS / LOGICAL_DNS resolution with an injected resolver, and outcome counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoadBalancer } from '../../../src/upstream/load-balancer.js';
import { PrioritySet, localityKey } from '../../../src/upstream/priority-set.js';
import { ClusterRuntime, type DnsLookup } from '../../../src/upstream/upstream-cluster.js';
import { FakeTimers } from '../../../src/upstream/timer-source.js';
import { clusterResourceType } from '../../../src/xds/resource-types/cluster.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { mkHost, seeded } from './helpers.js';

const node = { id: 'n', cluster: 'c', locality: {}, metadata: {} };
function cfg(json: Record<string, unknown>) {
  const r = clusterResourceType.translate(jsonToCanonical('envoy.config.cluster.v3.Cluster', json), { node });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

test('zone-aware routing: keeps the local share local and spreads the rest by residual capacity', () => {
  const z = (n: string) => ({ region: 'r', zone: n });
  const hosts = [
    ...[0, 1].map((i) => mkHost(i, { locality: z('z1') })),
    ...[2, 3, 4, 5].map((i) => mkHost(i, { locality: z('z2') })),
    ...[6, 7, 8, 9].map((i) => mkHost(i, { locality: z('z3') })),
  ];
  const set = new PrioritySet(hosts, { overprovisioningFactor: 140, healthyPanicThreshold: 50, weightedPriorityHealth: false, localityWeights: new Map() });
  const local = new Map([[localityKey(z('z1')), 5], [localityKey(z('z2')), 3], [localityKey(z('z3')), 2]]);
  const lb = new LoadBalancer(set, {
    policy: { kind: 'ROUND_ROBIN' }, localityWeighted: false, slowStart: null, overprovisioningFactor: 140, random: seeded(11), now: () => 0,
    zoneAware: { localLocality: localityKey(z('z1')), localCounts: local, routingEnabledPercent: 100, minClusterSize: 6 },
  });
  const c: Record<string, number> = { z1: 0, z2: 0, z3: 0 };
  for (let i = 0; i < 20000; i++) c[lb.chooseHost({})!.locality.zone!]++;
  // upstream z1 = 20 %, local z1 = 50 % → 40 % stays local; residual z2 = 10, z3 = 20 → 20 % / 40 %.
  assert.ok(Math.abs(c.z1 / 20000 - 0.4) < 0.02, JSON.stringify(c));
  assert.ok(Math.abs(c.z2 / 20000 - 0.2) < 0.02, JSON.stringify(c));
  assert.ok(Math.abs(c.z3 / 20000 - 0.4) < 0.02, JSON.stringify(c));
  // When the upstream has at least the local share in our zone, everything stays local.
  const all = new LoadBalancer(set, {
    policy: { kind: 'ROUND_ROBIN' }, localityWeighted: false, slowStart: null, overprovisioningFactor: 140, random: seeded(2), now: () => 0,
    zoneAware: { localLocality: localityKey(z('z2')), localCounts: local, routingEnabledPercent: 100, minClusterSize: 6 },
  });
  for (let i = 0; i < 100; i++) assert.equal(all.chooseHost({})!.locality.zone, 'z2');
});

test('slow start: a new host ramps up from min_weight_percent to its full share over the window', () => {
  let now = 0;
  const old = [mkHost(0, { createdAt: -100_000 })];
  const fresh = mkHost(1, { createdAt: 0 });
  const set = new PrioritySet([...old, fresh], { overprovisioningFactor: 140, healthyPanicThreshold: 50, weightedPriorityHealth: false, localityWeights: new Map() });
  const share = (): number => {
    const lb = new LoadBalancer(set, { policy: { kind: 'ROUND_ROBIN' }, localityWeighted: false, slowStart: { windowMs: 10_000, aggression: 1, minWeightPercent: 10 }, overprovisioningFactor: 140, random: seeded(1), now: () => now });
    let n = 0;
    for (let i = 0; i < 1100; i++) if (lb.chooseHost({}) === fresh) n++;
    return n / 1100;
  };
  now = 100;
  assert.ok(Math.abs(share() - 0.1 / 1.1) < 0.01, 'starts at 10 % weight');
  now = 5000;
  assert.ok(Math.abs(share() - 0.5 / 1.5) < 0.01, 'half way: half weight');
  now = 20_000;
  assert.ok(Math.abs(share() - 0.5) < 0.01, 'after the window: equal');
});

test('STRICT_DNS resolves every address, re-resolves at dns_refresh_rate, keeps hosts on failure', async () => {
  const timers = new FakeTimers();
  let answer: string[] | Error = ['10.0.0.1', '10.0.0.2'];
  const lookups: string[] = [];
  const lookup: DnsLookup = async (name) => {
    lookups.push(name);
    if (answer instanceof Error) throw answer;
    return answer.map((address) => ({ address, family: 4 }));
  };
  const c = new ClusterRuntime(cfg({ name: 'dns', type: 'STRICT_DNS', dns_refresh_rate: '2s', load_assignment: { cluster_name: 'dns', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'svc.internal', port_value: 8080 } } } }] }] } }), { timers, dnsLookup: lookup });
  c.start();
  await c.ready();
  assert.deepEqual(c.hosts().map((h) => h.key), ['10.0.0.1:8080', '10.0.0.2:8080']);
  assert.equal(c.hosts()[0].hostname, 'svc.internal');
  answer = ['10.0.0.2', '10.0.0.3'];
  const kept = c.hosts()[1];
  timers.advance(2000);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(c.hosts().map((h) => h.key), ['10.0.0.2:8080', '10.0.0.3:8080']);
  assert.equal(c.hosts()[0], kept, 'a host that stays keeps its object (and state)');
  answer = new Error('SERVFAIL');
  timers.advance(2000);
  await new Promise((r) => setImmediate(r));
  assert.equal(c.hosts().length, 2, 'last good hosts kept on failure');
  assert.deepEqual(lookups, ['svc.internal', 'svc.internal', 'svc.internal']);
  c.close();
  assert.equal(timers.pending, 0);
});

test('LOGICAL_DNS uses only the first address', async () => {
  const timers = new FakeTimers();
  const c = new ClusterRuntime(cfg({ name: 'l', type: 'LOGICAL_DNS', load_assignment: { cluster_name: 'l', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'a.internal', port_value: 443 } } } }] }] } }), {
    timers, dnsLookup: async () => [{ address: '10.9.9.9', family: 4 }, { address: '10.9.9.8', family: 4 }],
  });
  c.start();
  await c.ready();
  assert.deepEqual(c.hosts().map((h) => h.key), ['10.9.9.9:443']);
  c.close();
});

test('reportOutcome keeps per-host rq counters for /clusters', () => {
  const c = new ClusterRuntime(cfg({ name: 's', type: 'STATIC', load_assignment: { cluster_name: 's', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }] }] } }), { timers: new FakeTimers() });
  c.start();
  const h = c.chooseHost({})!;
  c.reportOutcome(h, { kind: 'http', status: 200 });
  c.reportOutcome(h, { kind: 'http', status: 503 });
  c.reportOutcome(h, { kind: 'timeout' });
  c.reportOutcome(h, { kind: 'success_local' });
  assert.deepEqual({ ...h.stats, cxActive: undefined, cxTotal: undefined, cxConnectFail: undefined }, { rqTotal: 3, rqError: 2, rqSuccess: 1, rqTimeout: 1, cxActive: undefined, cxTotal: undefined, cxConnectFail: undefined });
  c.close();
});

test('transport_socket_matches: Istio tlsMode metadata selects mTLS, other hosts use the default socket', async () => {
  const { transportSocketForHost } = await import('../../../src/upstream/transport-socket-for-host.js');
  const tlsSocket = { name: 'tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 'outbound_.80_._.svc' } };
  const c = cfg({
    name: 'outbound|80||svc', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } },
    transport_socket_matches: [
      { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transport_socket: tlsSocket },
      { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'raw', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } },
    ],
  });
  const istio = mkHost(1, { metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } });
  const plain = mkHost(2);
  assert.equal(transportSocketForHost(c, istio)?.sni, 'outbound_.80_._.svc');
  assert.equal(transportSocketForHost(c, plain), null);
});

test('a host removed by EDS stays (pending_dynamic_removal) while it passes active health checks', async () => {
  const { clusterLoadAssignmentResourceType } = await import('../../../src/xds/resource-types/cluster-load-assignment.js');
  const claOf = (ips: string[]) => {
    const r = clusterLoadAssignmentResourceType.translate(jsonToCanonical('envoy.config.endpoint.v3.ClusterLoadAssignment', {
      cluster_name: 'e', endpoints: [{ lb_endpoints: ips.map((ip) => ({ endpoint: { address: { socket_address: { address: ip, port_value: 1 } } } })) }],
    }), { node });
    if (!r.ok) throw new Error('bad cla');
    return r.value;
  };
  const hc = [{ timeout: '1s', interval: '10s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }];
  const timers = new FakeTimers();
  const c = new ClusterRuntime(cfg({ name: 'e', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } }, health_checks: hc }), { timers });
  c.setEndpoints(claOf(['10.0.0.1', '10.0.0.2']));
  const [a, b] = c.hosts();
  a.healthFlags.delete('failed_active_hc'); // as if its first check passed
  c.setEndpoints(claOf(['10.0.0.2']));
  assert.deepEqual(c.hosts().map((h) => h.key), ['10.0.0.2:1', '10.0.0.1:1']);
  assert.ok(a.healthFlags.has('pending_dynamic_removal'));
  assert.equal(c.hosts()[0], b);
  const ignoring = new ClusterRuntime(cfg({ name: 'e', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } }, health_checks: hc, ignore_health_on_host_removal: true }), { timers });
  ignoring.setEndpoints(claOf(['10.0.0.1', '10.0.0.2']));
  ignoring.hosts()[0].healthFlags.delete('failed_active_hc');
  ignoring.setEndpoints(claOf(['10.0.0.2']));
  assert.deepEqual(ignoring.hosts().map((h) => h.key), ['10.0.0.2:1']);
  c.close();
  ignoring.close();
});
