// Unit tests for the cluster manager: snapshot application order, EDS updates keeping runtime state, removal,
// ORIGINAL_DST host creation, drop_overloads, and the /clusters text and JSON shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterManager } from '../../../src/upstream/cluster-manager.js';
import { FakeTimers } from '../../../src/upstream/timer-source.js';
import { clusterResourceType } from '../../../src/xds/resource-types/cluster.js';
import { clusterLoadAssignmentResourceType } from '../../../src/xds/resource-types/cluster-load-assignment.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import type { ConfigSnapshot, ResourceEntry } from '../../../src/config/snapshot.js';
import type { ClusterConfig } from '../../../src/config/cluster.js';
import type { EndpointsConfig } from '../../../src/config/endpoint.js';

const node = { id: 'n', cluster: 'c', locality: {}, metadata: {} };

function cluster(json: Record<string, unknown>): ClusterConfig {
  const r = clusterResourceType.translate(jsonToCanonical('envoy.config.cluster.v3.Cluster', json), { node });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}
function cla(name: string, ips: string[], extra: Record<string, unknown> = {}): EndpointsConfig {
  const r = clusterLoadAssignmentResourceType.translate(jsonToCanonical('envoy.config.endpoint.v3.ClusterLoadAssignment', {
    cluster_name: name,
    endpoints: [{ locality: { zone: 'z1' }, lb_endpoints: ips.map((ip) => ({ endpoint: { address: { socket_address: { address: ip, port_value: 80 } } } })) }],
    ...extra,
  }), { node });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}
function entry<T>(name: string, value: T, isStatic = false): ResourceEntry<T> {
  return { name, version: '1', value, raw: {}, lastUpdated: 0, isStatic };
}
let gen = 0;
function snap(clusters: ClusterConfig[], endpoints: EndpointsConfig[], version = 'v1'): ConfigSnapshot {
  return {
    generation: ++gen, listeners: new Map(), routes: new Map(),
    clusters: new Map(clusters.map((c) => [c.name, entry(c.name, c, c.type === 'STATIC')])),
    endpoints: new Map(endpoints.map((e) => [e.clusterName, entry(e.clusterName, e)])),
    versions: { 'type.googleapis.com/envoy.config.cluster.v3.Cluster': version },
  };
}

const edsJson = { name: 'svc', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } }, outlier_detection: { consecutive_5xx: 2 } };

test('EDS update keeps the cluster runtime and the outlier state of hosts that stay', () => {
  const timers = new FakeTimers();
  const cm = new ClusterManager({ timers });
  const c = cluster(edsJson);
  cm.apply(snap([c], [cla('svc', ['10.0.0.1', '10.0.0.2'])]));
  const rt = cm.get('svc')!;
  assert.equal(rt.state, 'active');
  const h1 = rt.hosts()[0];
  rt.reportOutcome(h1, { kind: 'http', status: 503 });
  rt.reportOutcome(h1, { kind: 'http', status: 503 });
  assert.ok(h1.healthFlags.has('failed_outlier_check'));
  // Same cluster config (new object, equal content) + new endpoints: runtime and host state survive.
  cm.apply(snap([cluster(edsJson)], [cla('svc', ['10.0.0.1', '10.0.0.2', '10.0.0.3'])]));
  assert.equal(cm.get('svc'), rt);
  assert.equal(rt.hosts().length, 3);
  assert.equal(rt.hosts()[0], h1);
  assert.ok(h1.healthFlags.has('failed_outlier_check'));
  for (let i = 0; i < 30; i++) assert.notEqual(rt.chooseHost({}), h1);
  // A changed cluster config creates a new runtime; a removed cluster is closed.
  cm.apply(snap([cluster({ ...edsJson, connect_timeout: '1s' })], [cla('svc', ['10.0.0.1'])]));
  assert.notEqual(cm.get('svc'), rt);
  assert.equal(rt.state, 'closed');
  cm.apply(snap([], []));
  assert.equal(cm.get('svc'), undefined);
  assert.deepEqual([...cm.names()], []);
  cm.close();
  assert.equal(timers.pending, 0, 'no timers left behind');
});

test('an EDS cluster without its assignment stays initializing and has no host', () => {
  const cm = new ClusterManager({ timers: new FakeTimers() });
  cm.apply(snap([cluster(edsJson)], []));
  assert.equal(cm.get('svc')!.state, 'initializing');
  assert.equal(cm.get('svc')!.chooseHost({}), null);
  cm.close();
});

test('ORIGINAL_DST creates hosts from the original destination and cleans them up when idle', () => {
  const timers = new FakeTimers();
  const cm = new ClusterManager({ timers });
  cm.apply(snap([cluster({ name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', cleanup_interval: '5s' })], []));
  const rt = cm.get('PassthroughCluster')!;
  const h = rt.chooseHost({ originalDestination: '10.1.2.3:8443' })!;
  assert.equal(h.key, '10.1.2.3:8443');
  assert.equal(rt.chooseHost({ originalDestination: '10.1.2.3:8443' }), h);
  assert.equal(rt.chooseHost({}), null);
  timers.advance(11_000);
  assert.equal(rt.hosts().length, 0);
  cm.close();
});

test('drop_overloads drops the configured share', () => {
  let i = 0;
  const cm = new ClusterManager({ timers: new FakeTimers(), random: () => (i++ % 100) / 100 });
  cm.apply(snap([cluster(edsJson)], [cla('svc', ['10.0.0.1'], { policy: { drop_overloads: [{ category: 'x', drop_percentage: { numerator: 25 } }] } })]));
  let dropped = 0;
  for (let k = 0; k < 100; k++) if (cm.get('svc')!.shouldDrop()) dropped++;
  assert.equal(dropped, 25);
  cm.close();
});

test('/clusters text and JSON have Envoy shapes', () => {
  const cm = new ClusterManager({ timers: new FakeTimers() });
  const st = cluster({ name: 'static_svc', type: 'STATIC', load_assignment: { cluster_name: 'static_svc', endpoints: [{ locality: { region: 'r1', zone: 'z1' }, lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9000 } } }, load_balancing_weight: 3 }] }] } });
  cm.apply(snap([cluster(edsJson), st], [cla('svc', ['10.0.0.1'])], 'cds-7'));
  const rt = cm.get('svc')!;
  const h = rt.hosts()[0];
  h.activeRequests = 2;
  rt.reportOutcome(h, { kind: 'http', status: 500 });
  rt.reportOutcome(h, { kind: 'http', status: 500 });
  const text = cm.clustersText();
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], 'version_info::cds-7');
  for (const l of [
    'svc::default_priority::max_connections::1024', 'svc::default_priority::max_retries::3', 'svc::high_priority::max_requests::1024',
    'svc::added_via_api::true', 'svc::10.0.0.1:80::rq_active::2', 'svc::10.0.0.1:80::rq_total::2', 'svc::10.0.0.1:80::rq_error::2',
    'svc::10.0.0.1:80::health_flags::/failed_outlier_check', 'svc::10.0.0.1:80::zone::z1', 'svc::10.0.0.1:80::success_rate::-1',
    'static_svc::added_via_api::false', 'static_svc::127.0.0.1:9000::health_flags::healthy', 'static_svc::127.0.0.1:9000::weight::3',
    'static_svc::127.0.0.1:9000::region::r1', 'static_svc::127.0.0.1:9000::canary::false', 'static_svc::127.0.0.1:9000::cx_active::0',
  ]) assert.ok(lines.includes(l), `missing ${l}\n${text}`);
  for (const l of lines.slice(1)) assert.match(l, /^[^:]+::.+::.*$/);
  const json = cm.clustersJson();
  const s = json.cluster_statuses.find((c) => c.name === 'svc') as any;
  assert.equal(s.added_via_api, true);
  assert.deepEqual(s.host_statuses[0].address, { socket_address: { address: '10.0.0.1', port_value: 80 } });
  assert.equal(s.host_statuses[0].health_status.failed_outlier_check, true);
  assert.deepEqual(s.host_statuses[0].stats.find((x: any) => x.name === 'rq_total'), { name: 'rq_total', value: '2' });
  assert.equal(s.circuit_breakers.thresholds.length, 2);
  cm.close();
});
