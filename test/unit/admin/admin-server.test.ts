// Admin API over real HTTP against a fake AdminDeps: /ready states, POST-only operator endpoints, config_dump shape
// and its resource/mask/name_regex/include_eds queries, server_info, stats (text and Prometheus), logging, listeners.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AdminServer } from '../../../src/admin/admin-server.js';
import type { AdminDeps, DrainOptions, ConfigDumpExtras } from '../../../src/admin/admin-deps.js';
import { ServerLifecycle } from '../../../src/admin/server-lifecycle.js';
import { Metrics, createCoreMetrics, bindCounter, SERVER_STATE_VALUE } from '../../../src/observability/metrics.js';
import { LogManager } from '../../../src/observability/logger.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import type { ConfigSnapshot, ResourceEntry } from '../../../src/config/snapshot.js';

const T0 = Date.parse('2026-01-02T03:04:05.000Z');
const STARTED = Date.now() - 5000;

function entry<T>(type: string, json: Record<string, unknown>, name: string, isStatic: boolean, version = isStatic ? 'static' : 'v7'): ResourceEntry<T> {
  return { name, version, value: { name } as unknown as T, raw: jsonToCanonical(type, json), lastUpdated: T0, isStatic };
}

const cluster = (name: string, isStatic: boolean) =>
  entry<any>('envoy.config.cluster.v3.Cluster', {
    name, type: isStatic ? 'STATIC' : 'EDS', connect_timeout: '1.5s',
    ...(isStatic ? { load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9 } } } }] }] } } : {}),
  }, name, isStatic);
const listener = (name: string, port: number, isStatic: boolean) =>
  entry<any>('envoy.config.listener.v3.Listener', { name, address: { socket_address: { address: '0.0.0.0', port_value: port } } }, name, isStatic);

const snapshot: ConfigSnapshot = {
  generation: 3,
  clusters: new Map([['static-a', cluster('static-a', true)], ['outbound|80||b.default.svc.cluster.local', cluster('outbound|80||b.default.svc.cluster.local', false)], ['c-dyn', cluster('c-dyn', false)]]),
  listeners: new Map([['virtualOutbound', listener('virtualOutbound', 15001, false)], ['stats', listener('stats', 15090, true)]]),
  routes: new Map([['80', entry<any>('envoy.config.route.v3.RouteConfiguration', { name: '80', virtual_hosts: [{ name: 'vh', domains: ['*'] }] }, '80', false)]]),
  endpoints: new Map([['c-dyn', entry<any>('envoy.config.endpoint.v3.ClusterLoadAssignment', { cluster_name: 'c-dyn' }, 'c-dyn', false)]]),
  versions: { 'type.googleapis.com/envoy.config.cluster.v3.Cluster': 'v7', 'type.googleapis.com/envoy.config.listener.v3.Listener': 'v9' },
};
const extras: ConfigDumpExtras = {
  warmingClusters: [{ name: 'warm', version: 'v8', raw: { name: 'warm', type: 'EDS' }, lastUpdated: T0 }],
  rejectedListeners: [{ name: 'virtualOutbound', raw: { name: 'virtualOutbound' }, lastUpdateAttempt: T0, details: 'filter_chains[0]: boom' }],
  warmingListeners: [{ name: 'new-l', version: 'v9', raw: { name: 'new-l' }, lastUpdated: T0 }],
};

const lines: string[] = [];
const logs = new LogManager({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
const metrics = new Metrics();
const core = createCoreMetrics(metrics, { startTime: T0, concurrency: 2 });
const lifecycle = new ServerLifecycle((s) => {
  core.serverState.set(SERVER_STATE_VALUE[s]);
  core.serverLive.set(s === 'LIVE' ? 1 : 0);
});
const calls: string[] = [];
let drained: DrainOptions | null = null;
let quitAt = -1;
let xdsHistory: (() => unknown) | undefined;

const deps: AdminDeps = {
  snapshot: () => snapshot,
  configDumpExtras: () => extras,
  bootstrap: () => ({ raw: jsonToCanonical('envoy.config.bootstrap.v3.Bootstrap', { node: { id: 'n1' }, admin: { address: { socket_address: { address: '127.0.0.1', port_value: 15000 } } } }), loadedAt: T0 }),
  serverState: () => lifecycle.state,
  readinessDetail: () => lifecycle.readinessDetail(),
  node: () => ({ id: 'sidecar~1.2.3.4~a.ns~ns.svc.cluster.local', cluster: 'a.ns', locality: { zone: 'z' }, metadata: { ISTIO_VERSION: '1.24.0', N: 3 } }),
  commandLineOptions: () => ({ concurrency: 2, drain_time: '45s', mode: 'Serve' }),
  startTime: () => STARTED,
  listeners: () => [{ name: 'virtualOutbound', address: '0.0.0.0', port: 15001 }, { name: 'v6', address: '::1', port: 8080 }],
  clustersText: () => 'version_info::v7\nc-dyn::default_priority::max_connections::1024\n',
  clustersJson: () => ({ cluster_statuses: [{ name: 'c-dyn' }] }),
  get xdsHistory() { return xdsHistory; },
  metrics,
  logging: logs,
  quit: () => { calls.push('quit'); quitAt = calls.length; },
  drainListeners: async (o) => { drained = o; calls.push('drain'); },
  healthcheckFail: () => { calls.push('hcfail'); lifecycle.healthcheckFail(); },
  healthcheckOk: () => { calls.push('hcok'); lifecycle.healthcheckOk(); },
};

const admin = new AdminServer(deps);
let base = '';
before(async () => {
  const a = await admin.listen({ kind: 'socket', address: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${a.port}`;
});
after(async () => {
  await admin.close();
});

async function get(path: string, method = 'GET'): Promise<{ status: number; body: string; type: string; headers: Headers }> {
  const r = await fetch(base + path, { method });
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '', headers: r.headers };
}
async function getJson(path: string): Promise<any> {
  const r = await get(path);
  assert.equal(r.status, 200, r.body);
  assert.match(r.type, /application\/json/);
  return JSON.parse(r.body);
}

test('/ready: 503 with the state word until CDS and LDS are applied, then LIVE 200; DRAINING 503 while health check fails', async () => {
  let r = await get('/ready');
  assert.deepEqual([r.status, r.body], [503, 'PRE_INITIALIZING\n']);
  lifecycle.startInitializing();
  lifecycle.cdsApplied();
  r = await get('/ready');
  assert.deepEqual([r.status, r.body], [503, 'INITIALIZING\n']);
  assert.match(r.headers.get('x-meshlet-readiness') ?? '', /lds: pending/);
  lifecycle.ldsApplied();
  r = await get('/ready');
  assert.deepEqual([r.status, r.body], [200, 'LIVE\n']);
  assert.match(await metrics.prometheusText(), /^envoy_server_state 0$/m);

  assert.equal((await get('/healthcheck/fail')).status, 400, 'GET on a mutating endpoint is refused');
  assert.equal((await get('/ready')).status, 200, '...and did nothing');
  assert.deepEqual(calls, []);
  r = await get('/healthcheck/fail', 'POST');
  assert.deepEqual([r.status, r.body], [200, 'OK\n']);
  r = await get('/ready');
  assert.deepEqual([r.status, r.body], [503, 'DRAINING\n']);
  assert.match(await metrics.prometheusText(), /^envoy_server_live 0$/m);
  await get('/healthcheck/ok', 'POST');
  assert.equal((await get('/ready')).body, 'LIVE\n');
  assert.deepEqual(calls, ['hcfail', 'hcok']);
});

test('POST /drain_listeners passes inboundonly/graceful; POST /quitquitquit answers OK then quits; GET does nothing', async () => {
  assert.equal((await get('/drain_listeners?inboundonly&graceful')).status, 400);
  assert.equal(drained, null);
  const r = await get('/drain_listeners?inboundonly&graceful', 'POST');
  assert.equal(r.status, 200);
  assert.deepEqual(drained, { inboundOnly: true, graceful: true, skipExit: false });
  assert.equal((await get('/quitquitquit')).status, 400);
  assert.equal(quitAt, -1);
  const q = await get('/quitquitquit', 'POST');
  assert.deepEqual([q.status, q.body], [200, 'OK\n']);
  for (let i = 0; i < 50 && quitAt < 0; i++) await new Promise((res) => setTimeout(res, 10));
  assert.ok(quitAt > 0, 'quit callback ran after the response');
});

test('/config_dump: Envoy dump types in fixed order with static, active, warming and error states', async () => {
  const d = await getJson('/config_dump');
  assert.deepEqual(d.configs.map((c: any) => c['@type']), [
    'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
    'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
    'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
    'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
  ]);
  const [boot, clusters, listeners, routes] = d.configs;
  assert.equal(boot.bootstrap.node.id, 'n1');
  assert.equal(boot.last_updated, '2026-01-02T03:04:05.000Z');
  assert.equal(clusters.version_info, 'v7');
  assert.deepEqual(clusters.static_clusters.map((c: any) => c.cluster.name), ['static-a']);
  assert.equal(clusters.static_clusters[0].cluster['@type'], 'type.googleapis.com/envoy.config.cluster.v3.Cluster');
  assert.equal(clusters.static_clusters[0].cluster.connect_timeout, '1.5s');
  assert.deepEqual(clusters.dynamic_active_clusters.map((c: any) => [c.version_info, c.cluster.name]), [['v7', 'c-dyn'], ['v7', 'outbound|80||b.default.svc.cluster.local']]);
  assert.equal(clusters.dynamic_warming_clusters[0].cluster.name, 'warm');
  assert.equal(listeners.version_info, 'v9');
  assert.equal(listeners.static_listeners[0].listener.name, 'stats');
  const vo = listeners.dynamic_listeners.find((l: any) => l.name === 'virtualOutbound');
  assert.equal(vo.active_state.listener.address.socket_address.port_value, 15001);
  assert.equal(vo.error_state.details, 'filter_chains[0]: boom');
  assert.equal(vo.error_state.failed_configuration['@type'], 'type.googleapis.com/envoy.config.listener.v3.Listener');
  assert.ok(listeners.dynamic_listeners.find((l: any) => l.name === 'new-l').warming_state);
  assert.equal(routes.dynamic_route_configs[0].route_config.name, '80');
});

test('/config_dump?include_eds adds EndpointsConfigDump (static clusters\' inline endpoints included) before listeners', async () => {
  const d = await getJson('/config_dump?include_eds');
  assert.equal(d.configs[2]['@type'], 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump');
  assert.deepEqual(d.configs[2].dynamic_endpoint_configs.map((e: any) => e.endpoint_config.cluster_name), ['c-dyn']);
  assert.deepEqual(d.configs[2].static_endpoint_configs.map((e: any) => e.endpoint_config.cluster_name), ['static-a']);
});

test('/config_dump?resource=&mask=&name_regex= select elements, fields and names; unknown resource is 404', async () => {
  const r = await getJson('/config_dump?resource=dynamic_active_clusters');
  assert.equal(r.configs.length, 2);
  assert.equal(r.configs[0]['@type'], 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster');
  const m = await getJson('/config_dump?resource=dynamic_active_clusters&mask=cluster.name');
  assert.deepEqual(m.configs, [
    { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster', cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'c-dyn' } },
    { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster', cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'outbound|80||b.default.svc.cluster.local' } },
  ]);
  const n = await getJson(`/config_dump?resource=dynamic_active_clusters&name_regex=${encodeURIComponent('^outbound\\|80')}`);
  assert.deepEqual(n.configs.map((c: any) => c.cluster.name), ['outbound|80||b.default.svc.cluster.local']);
  const top = await getJson('/config_dump?mask=version_info');
  assert.deepEqual(top.configs[1], { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', version_info: 'v7' });
  const dl = await getJson('/config_dump?resource=dynamic_listeners&name_regex=virtual');
  assert.deepEqual(dl.configs.map((c: any) => c.name), ['virtualOutbound']);
  assert.equal((await get('/config_dump?resource=nope')).status, 404);
  assert.equal((await get('/config_dump?name_regex=(')).status, 400);
});

test('/server_info has Envoy\'s shape', async () => {
  const s = await getJson('/server_info');
  assert.match(s.version, /^[0-9a-f]+\/\d+\.\d+\.\d+\/Clean\/RELEASE\/nodejs$/);
  assert.equal(s.state, 'LIVE');
  assert.equal(s.command_line_options.drain_time, '45s');
  assert.equal(s.node.id, 'sidecar~1.2.3.4~a.ns~ns.svc.cluster.local');
  assert.equal(s.node.user_agent_name, 'meshlet');
  assert.deepEqual(s.node.metadata, { ISTIO_VERSION: '1.24.0', N: 3 });
  assert.match(s.uptime_current_epoch, /^\d+s$/);
  assert.ok(Number.parseInt(s.uptime_current_epoch, 10) >= 5);
  assert.equal(s.hot_restart_version, 'disabled');
});

test('/stats text uses Envoy names (tags put back), /stats/prometheus Envoy series; filter and usedonly work', async () => {
  core.cds.success.inc();
  core.cds.success.inc();
  core.lds.rejected.inc();
  core.controlPlaneConnectedState.set(1);
  const rq = metrics.counter({ stat: 'cluster.{envoy_cluster_name}.upstream_rq_total', help: 'requests' });
  bindCounter(rq, { envoy_cluster_name: 'outbound|80||b' }).inc(3);
  const t = await get('/stats');
  assert.equal(t.status, 200);
  assert.match(t.body, /^cluster_manager\.cds\.update_success: 2$/m);
  assert.match(t.body, /^listener_manager\.lds\.update_rejected: 1$/m);
  assert.match(t.body, /^cluster\.outbound\|80\|\|b\.upstream_rq_total: 3$/m);
  assert.match(t.body, /^server\.concurrency: 2$/m);
  assert.match(t.body, /^server\.uptime: \d+$/m);
  const f = await get('/stats?filter=^cluster_manager');
  assert.ok(f.body.split('\n').filter(Boolean).every((l) => l.startsWith('cluster_manager.')), f.body);
  const u = await get('/stats?usedonly');
  assert.ok(!/update_attempt/.test(u.body), 'zero counters are left out with usedonly');
  const j = await getJson('/stats?format=json');
  assert.ok(j.stats.some((s: any) => s.name === 'control_plane.connected_state' && s.value === 1));
  const p = await get('/stats/prometheus');
  assert.match(p.type, /text\/plain/);
  assert.match(p.body, /^envoy_cluster_manager_cds_update_success 2$/m);
  assert.match(p.body, /^envoy_listener_manager_lds_update_rejected 1$/m);
  assert.match(p.body, /^envoy_control_plane_connected_state 1$/m);
  assert.match(p.body, /^envoy_cluster_upstream_rq_total\{envoy_cluster_name="outbound\|80\|\|b"\} 3$/m);
  assert.match(p.body, /^# TYPE envoy_server_uptime gauge$/m);
  assert.equal((await get('/stats?format=prometheus')).body.includes('envoy_server_live'), true);
});

test('POST /logging lists loggers and changes levels at runtime; GET and bad levels are refused', async () => {
  const up = logs.child('upstream');
  up.debug('hidden');
  assert.equal(lines.length, 0);
  assert.equal((await get('/logging?level=debug')).status, 400);
  const r = await get('/logging?level=debug', 'POST');
  assert.equal(r.status, 200);
  assert.match(r.body, /^active loggers:$/m);
  assert.match(r.body, /^ {2}upstream: debug$/m);
  up.debug('shown');
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]).component, 'upstream');
  const c = await get('/logging?upstream=critical&paths=admin:warning', 'POST');
  assert.match(c.body, /^ {2}upstream: critical$/m);
  assert.match(c.body, /^ {2}admin: warning$/m);
  assert.match(c.body, /^ {2}config: debug$/m);
  assert.equal((await get('/logging?level=loud', 'POST')).status, 400);
  assert.equal((await get('/logging?nosuchlogger=info', 'POST')).status, 400);
  assert.equal((await get('/logging', 'POST')).status, 200);
});

test('/listeners text and JSON, /clusters delegated, /debug/xds optional, /help and unknown paths', async () => {
  assert.equal((await get('/listeners')).body, 'virtualOutbound::0.0.0.0:15001\nv6::[::1]:8080\n');
  const lj = await getJson('/listeners?format=json');
  assert.deepEqual(lj.listener_statuses[0], { name: 'virtualOutbound', local_address: { socket_address: { address: '0.0.0.0', port_value: 15001 } } });
  assert.equal((await get('/clusters')).body, 'version_info::v7\nc-dyn::default_priority::max_connections::1024\n');
  assert.deepEqual(await getJson('/clusters?format=json'), { cluster_statuses: [{ name: 'c-dyn' }] });
  assert.equal((await get('/debug/xds')).status, 404);
  assert.equal((await get('/debug/explain?path=/')).status, 404);
  xdsHistory = () => ({ LDS: [{ version: 'v9', accepted: true }] });
  assert.deepEqual(await getJson('/debug/xds'), { LDS: [{ version: 'v9', accepted: true }] });
  const h = await get('/help');
  for (const p of ['/ready', '/config_dump', '/quitquitquit', '/drain_listeners', '/stats/prometheus', '/logging']) assert.ok(h.body.includes(`  ${p}:`), p);
  const u = await get('/nope');
  assert.equal(u.status, 404);
});
