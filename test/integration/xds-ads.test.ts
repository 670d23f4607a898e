// Integration: meshlet's ADS client + config store against the in-memory management server over real gRPC
// (SotW and Delta): ACK/NACK versions and nonces, removal, warming, reconnect, no NACK storm.
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { AdsClient, type AdsClientOptions } from '../../src/xds/ads-client.js';
import { ConfigStore } from '../../src/xds/config-store.js';
import { TypeUrl } from '../../src/xds/resource-type.js';
import type { NodeInfo } from '../../src/config/node.js';
import { TestXdsServer, testRegistry, listenerRes, routeRes, clusterRes, endpointsRes, type RecordedRequest } from '../support/xds-server.js';

const node: NodeInfo = {
  id: 'sidecar~10.0.0.1~app-1.default~default.svc.cluster.local',
  cluster: 'app.default',
  locality: { region: 'r1', zone: 'z1' },
  metadata: { ISTIO_VERSION: '1.22.0', LABELS: { app: 'x' }, NUM: 3, FLAG: true, GENERATOR: 'grpc' },
};

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(apiType: 'GRPC' | 'DELTA_GRPC', extra: Partial<AdsClientOptions> = {}, storeOpts: { warmingTimeoutMs?: number } = {}) {
  const server = await TestXdsServer.start();
  cleanups.push(() => server.stop());
  const store = new ConfigStore({ registry: testRegistry(), ctx: { node }, warmingTimeoutMs: storeOpts.warmingTimeoutMs ?? 0 });
  cleanups.push(() => store.close());
  const client = new AdsClient(
    {
      target: server.target,
      credentials: grpc.credentials.createInsecure(),
      apiType,
      node,
      setNodeOnFirstMessageOnly: true,
      backoff: { baseMs: 50, maxMs: 200 },
      ...extra,
    },
    { store },
  );
  cleanups.push(() => client.close());
  return { server, store, client };
}

function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = (): void => {
      if (pred()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

function seedFull(server: TestXdsServer): void {
  server.setResources(TypeUrl.Cluster, [clusterRes('c1', { eds: true })], 'c-1');
  server.setResources(TypeUrl.ClusterLoadAssignment, [endpointsRes('c1', [9001])], 'e-1');
  server.setResources(TypeUrl.Listener, [listenerRes('l1', 10001, 'r1')], 'l-1');
  server.setResources(TypeUrl.RouteConfiguration, [routeRes('r1')], 'r-1');
}

const fullyServed = (store: ConfigStore) => (): boolean => {
  const s = store.current();
  return s.listeners.has('l1') && s.clusters.has('c1') && s.routes.has('r1') && s.endpoints.has('c1');
};

const ofType = (server: TestXdsServer, t: string): RecordedRequest[] => server.requests.filter((r) => r.typeUrl === t);

for (const apiType of ['GRPC', 'DELTA_GRPC'] as const) {
  describe(`ADS ${apiType}`, () => {
    test('subscribes wildcard LDS/CDS and named RDS/EDS, sends node once, ACKs every response', async () => {
      const { server, store, client } = await setup(apiType);
      seedFull(server);
      client.start();
      await until(fullyServed(store), 'the full config');
      await until(() => client.connected, 'connected');
      assert.equal((store.current().endpoints.get('c1')!.value as any).hosts[0], '127.0.0.1:9001');

      // Every response is answered with exactly one ACK naming its nonce.
      await server.waitFor(() => server.responses.every((res) => server.requests.some((r) => r.nonce === res.nonce)), 5000, 'ACKs');
      for (const res of server.responses) {
        const replies = server.requests.filter((r) => r.nonce === res.nonce && r.typeUrl === res.typeUrl);
        assert.equal(replies.length >= 1, true);
        const ack = replies[0];
        assert.equal(ack.errorDetail, undefined, `response ${res.nonce} was NACKed: ${JSON.stringify(ack.errorDetail)}`);
        if (apiType === 'GRPC') assert.equal(ack.versionInfo, res.version);
      }
      // Node only on the first message of the stream, with our user agent and untouched metadata types.
      const first = server.requests[0];
      assert.equal(first.node?.id, node.id);
      assert.equal(first.node?.cluster, node.cluster);
      assert.equal(first.node?.user_agent_name, 'meshlet');
      assert.deepEqual((first.node as any).locality, { region: 'r1', zone: 'z1' });
      const md = (first.node as any).metadata;
      assert.deepEqual(md.LABELS, { app: 'x' });
      assert.equal(md.NUM, 3);
      assert.equal(md.FLAG, true);
      assert.equal('GENERATOR' in md, false);
      assert.equal(server.requests.slice(1).some((r) => r.node !== undefined), false);
      // Wildcard for LDS/CDS, names for RDS/EDS.
      const lds = ofType(server, TypeUrl.Listener)[0];
      const cds = ofType(server, TypeUrl.Cluster)[0];
      assert.deepEqual([...lds.resourceNames, ...lds.subscribe], []);
      assert.deepEqual([...cds.resourceNames, ...cds.subscribe], []);
      const rds = ofType(server, TypeUrl.RouteConfiguration)[0];
      const eds = ofType(server, TypeUrl.ClusterLoadAssignment)[0];
      assert.deepEqual(apiType === 'GRPC' ? rds.resourceNames : rds.subscribe, ['r1']);
      assert.deepEqual(apiType === 'GRPC' ? eds.resourceNames : eds.subscribe, ['c1']);
      assert.equal(store.stats(TypeUrl.Listener).update_success >= 1, true);
      assert.equal(store.readiness().cdsApplied && store.readiness().ldsApplied, true);
    });

    test('an invalid resource is NACKed with its field path; the previous version keeps serving', async () => {
      const { server, store, client } = await setup(apiType);
      seedFull(server);
      client.start();
      await until(fullyServed(store), 'the full config');
      const gen = store.current().generation;
      const before = store.current().listeners.get('l1');
      const bad = listenerRes('l1', 10001, 'r1');
      delete bad.address;
      server.setResources(TypeUrl.Listener, [listenerRes('l0', 10000), bad], 'l-bad');
      const badRes = await server.waitFor(() => server.responses.some((r) => r.version === 'l-bad'), 5000).then(() => server.responses.find((r) => r.version === 'l-bad')!);
      const nack = await server.waitForRequest((r) => r.nonce === badRes.nonce);
      assert.equal(nack.errorDetail?.code, 3);
      assert.match(String(nack.errorDetail?.message), /resources\[1\]\.address/);
      assert.match(String(nack.errorDetail?.message), /l1/);
      if (apiType === 'GRPC') assert.equal(nack.versionInfo, 'l-1');
      // Nothing of the rejected update applied (l0 was valid but the update is atomic).
      assert.equal(store.current().generation, gen);
      assert.equal(store.current().listeners.get('l1'), before);
      assert.equal(store.current().listeners.has('l0'), false);
      assert.equal(store.rejected(TypeUrl.Listener)?.version, 'l-bad');
      assert.equal(store.stats(TypeUrl.Listener).update_rejected, 1);
      const hist = store.history.entries(TypeUrl.Listener).at(-1)!;
      assert.equal(hist.accepted, false);
      assert.equal(hist.nonce, badRes.nonce);
      // A good version afterwards is ACKed and clears the rejection.
      server.setResources(TypeUrl.Listener, [listenerRes('l1', 10002, 'r1')], 'l-2');
      await until(() => (store.current().listeners.get('l1')?.value as any)?.port === 10002, 'the fixed listener');
      assert.equal(store.rejected(TypeUrl.Listener), undefined);
    });

    test('removal: listeners and clusters absent from the update are deleted; unreferenced RDS/EDS go too', async () => {
      const { server, store, client } = await setup(apiType);
      seedFull(server);
      server.setResources(TypeUrl.Listener, [listenerRes('l1', 10001, 'r1'), listenerRes('l2', 10002)], 'l-2');
      client.start();
      await until(() => fullyServed(store)() && store.current().listeners.has('l2'), 'the full config');
      server.setResources(TypeUrl.Listener, [listenerRes('l2', 10002)], 'l-3');
      await until(() => !store.current().listeners.has('l1'), 'l1 removed');
      assert.equal(store.current().listeners.has('l2'), true);
      await until(() => !store.current().routes.has('r1'), 'r1 dropped with its listener');
      server.setResources(TypeUrl.Cluster, [], 'c-2');
      await until(() => store.current().clusters.size === 0 && store.current().endpoints.size === 0, 'clusters removed');
      if (apiType === 'DELTA_GRPC') {
        assert.ok(server.responses.some((r) => r.typeUrl === TypeUrl.Listener && r.removed.includes('l1')));
        await server.waitForRequest((r) => r.typeUrl === TypeUrl.RouteConfiguration && r.unsubscribe.includes('r1'));
      } else {
        await server.waitForRequest((r) => r.typeUrl === TypeUrl.RouteConfiguration && r.resourceNames.length === 0 && r.nonce !== '');
      }
    });

    test('warming: a listener waits for its route config, a cluster for its endpoints; the old version serves meanwhile', async () => {
      const { server, store, client } = await setup(apiType);
      seedFull(server);
      client.start();
      await until(fullyServed(store), 'the full config');
      // New cluster c2 (EDS) without endpoints, and listener l1 moved to a route config that does not exist yet.
      server.setResources(TypeUrl.Cluster, [clusterRes('c1', { eds: true }), clusterRes('c2', { eds: true })], 'c-2');
      server.setResources(TypeUrl.Listener, [listenerRes('l1', 10001, 'r2')], 'l-2');
      await server.waitForRequest((r) => r.typeUrl === TypeUrl.RouteConfiguration && (r.resourceNames.includes('r2') || r.subscribe.includes('r2')));
      await server.waitForRequest((r) => r.typeUrl === TypeUrl.ClusterLoadAssignment && (r.resourceNames.includes('c2') || r.subscribe.includes('c2')));
      assert.equal(store.current().clusters.has('c2'), false, 'c2 must not be published before its endpoints');
      assert.deepEqual((store.current().listeners.get('l1')!.value as any).routeConfigs, ['r1'], 'old l1 keeps serving');
      assert.deepEqual(store.readiness().warmingListeners, ['l1']);
      assert.deepEqual(store.readiness().warmingClusters, ['c2']);
      assert.equal(store.current().routes.has('r1'), true, 'r1 still referenced by the serving listener');

      server.setResources(TypeUrl.ClusterLoadAssignment, [endpointsRes('c1', [9001]), endpointsRes('c2', [9002])], 'e-2');
      await until(() => store.current().clusters.has('c2'), 'c2 warmed');
      assert.equal(store.current().endpoints.has('c2'), true);
      server.setResources(TypeUrl.RouteConfiguration, [routeRes('r1'), routeRes('r2')], 'r-2');
      await until(() => (store.current().listeners.get('l1')!.value as any).routeConfigs[0] === 'r2', 'l1 warmed');
      assert.equal(store.current().routes.has('r2'), true);
      await until(() => !store.current().routes.has('r1'), 'r1 released');
      assert.deepEqual(store.readiness().warmingListeners, []);
      // push-to-effect recorded once the warmed listener was published
      const entry = store.history.entries(TypeUrl.Listener).find((e) => e.version === 'l-2')!;
      assert.equal(typeof entry.pushToEffectMs, 'number');
    });

    test('reconnect: the last config is served while the server is down; the last versions are sent on reconnect', async () => {
      const { server, store, client } = await setup(apiType);
      seedFull(server);
      client.start();
      await until(fullyServed(store), 'the full config');
      await until(() => client.connected, 'connected');
      const snap = store.current();
      server.kill();
      await until(() => !client.connected, 'disconnected');
      assert.equal(store.current(), snap, 'same snapshot served while disconnected');
      const from = server.requests.length;
      await server.restart();
      await until(() => client.connected, 'reconnected');
      const lds = await server.waitForRequest((r) => r.typeUrl === TypeUrl.Listener, 5000, from);
      const firstOnNewStream = server.requests[from];
      assert.equal(firstOnNewStream.typeUrl, TypeUrl.Cluster, 'CDS first on a new stream');
      assert.ok(firstOnNewStream.node, 'node sent again on the new stream');
      assert.equal(lds.stream, firstOnNewStream.stream);
      assert.equal(lds.nonce, '', 'nonces are per stream');
      if (apiType === 'GRPC') assert.equal(lds.versionInfo, 'l-1');
      else assert.deepEqual(Object.keys(lds.initialVersions), ['l1']);
      const rds = await server.waitForRequest((r) => r.typeUrl === TypeUrl.RouteConfiguration, 5000, from);
      if (apiType === 'GRPC') {
        assert.equal(rds.versionInfo, 'r-1');
        assert.deepEqual(rds.resourceNames, ['r1']);
      } else {
        assert.deepEqual(rds.subscribe, ['r1']);
        assert.deepEqual(Object.keys(rds.initialVersions), ['r1']);
      }
      // New config flows after the reconnect.
      server.setResources(TypeUrl.Listener, [listenerRes('l1', 10001, 'r1'), listenerRes('l9', 10009)], 'l-9');
      await until(() => store.current().listeners.has('l9'), 'update after reconnect');
      assert.ok(store.stats(TypeUrl.Listener).update_failure >= 1);
    });
  });
}

test('SotW: no NACK storm — each re-sent rejected response gets exactly one NACK and nothing more', async () => {
  const { server, store, client } = await setup('GRPC');
  seedFull(server);
  client.start();
  await until(fullyServed(store), 'the full config');
  const bad = listenerRes('l1', 10001, 'r1');
  delete bad.address;
  server.setResources(TypeUrl.Listener, [bad], 'l-bad');
  await server.waitFor(() => ofType(server, TypeUrl.Listener).some((r) => r.errorDetail), 5000, 'first NACK');
  for (let i = 0; i < 3; i++) server.resend(TypeUrl.Listener);
  const badNonces = server.responses.filter((r) => r.typeUrl === TypeUrl.Listener && r.version === 'l-bad').map((r) => r.nonce);
  assert.equal(badNonces.length, 4);
  await server.waitFor(() => badNonces.every((n) => server.requests.some((r) => r.nonce === n)), 5000, 'a NACK per response');
  // Let any (wrong) extra traffic show up, then count: one NACK per response, no other LDS request.
  await new Promise((r) => setTimeout(r, 300));
  const ldsAfter = ofType(server, TypeUrl.Listener).filter((r) => badNonces.includes(r.nonce));
  assert.equal(ldsAfter.length, 4);
  assert.ok(ldsAfter.every((r) => r.errorDetail?.code === 3 && r.versionInfo === 'l-1'));
  const ldsResponses = server.responses.filter((r) => r.typeUrl === TypeUrl.Listener).length;
  assert.equal(ofType(server, TypeUrl.Listener).length, ldsResponses + 1, 'one initial request + one reply per response');
  assert.equal(store.stats(TypeUrl.Listener).update_rejected, 4);
});

test('SotW: a named resource that never arrives is declared absent after the does-not-exist timeout', async () => {
  const { server, store, client } = await setup('GRPC', { doesNotExistTimeoutMs: 200 });
  seedFull(server);
  server.setResources(TypeUrl.Listener, [listenerRes('l1', 10001, 'r1'), listenerRes('l2', 10002, 'missing')], 'l-2');
  client.start();
  await until(fullyServed(store), 'the full config');
  await until(() => store.current().listeners.has('l2'), 'l2 published without its route config');
  assert.equal(store.current().routes.has('missing'), false);
  assert.equal(client.subscription(TypeUrl.RouteConfiguration)!.resourceState('missing'), 'does-not-exist');
  assert.equal(client.subscription(TypeUrl.RouteConfiguration)!.resourceState('r1'), 'acked');
});

test('initial_fetch_timeout: LDS that never answers is counted; a warming listener is published after the timeout', async () => {
  const { server, store, client } = await setup('DELTA_GRPC', { initialFetchTimeoutMs: 200 }, { warmingTimeoutMs: 200 });
  server.setResources(TypeUrl.Cluster, [clusterRes('c1')], 'c-1');
  client.start();
  await until(() => store.current().clusters.has('c1'), 'CDS');
  await until(() => store.readiness().ldsInitTimedOut, 'LDS init fetch timeout');
  assert.equal(store.stats(TypeUrl.Listener).init_fetch_timeout, 1);
  assert.equal(store.readiness().ldsApplied, false);
  server.setResources(TypeUrl.Listener, [listenerRes('l1', 10001, 'never')], 'l-1');
  await server.waitForRequest((r) => r.typeUrl === TypeUrl.RouteConfiguration && r.subscribe.includes('never'));
  assert.equal(store.current().listeners.has('l1'), false);
  await until(() => store.current().listeners.has('l1'), 'l1 published after the warming timeout');
});

test('backoff: with no server the client keeps retrying and reports disconnected', async () => {
  const server = await TestXdsServer.start();
  const port = server.port;
  await server.stop();
  const store = new ConfigStore({ registry: testRegistry(), ctx: { node }, warmingTimeoutMs: 0 });
  cleanups.push(() => store.close());
  const client = new AdsClient(
    { target: `ipv4:127.0.0.1:${port}`, credentials: grpc.credentials.createInsecure(), apiType: 'GRPC', node, setNodeOnFirstMessageOnly: false, backoff: { baseMs: 20, maxMs: 40 } },
    { store },
  );
  cleanups.push(() => client.close());
  const states: string[] = [];
  client.onStateChange((s) => states.push(s));
  client.start();
  await until(() => client.counters.streams >= 3, 'three attempts');
  assert.equal(client.connected, false);
  assert.ok(states.includes('backoff'));
  assert.ok(!states.includes('connected'));
});
