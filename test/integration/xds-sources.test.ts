// Integration: startXds wiring a filesystem LDS subscription and an ADS stream (CDS/EDS/RDS) into one store,
// with the real listener, cluster and endpoint translators.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigStore } from '../../src/xds/config-store.js';
import { startXds } from '../../src/xds/start-xds.js';
import { TypeUrl, type ResourceType, type XdsTypeUrl } from '../../src/xds/resource-type.js';
import { listenerResourceType } from '../../src/xds/resource-types/listener.js';
import { clusterResourceType } from '../../src/xds/resource-types/cluster.js';
import { clusterLoadAssignmentResourceType } from '../../src/xds/resource-types/cluster-load-assignment.js';
import { TestXdsServer, testRouteType, clusterRes, endpointsRes, listenerRes, routeRes } from '../support/xds-server.js';

const node = { id: 'n1', cluster: 'svc', locality: {}, metadata: {} };

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

function httpListener(name: string, port: number, rds: string) {
  const l = listenerRes(name, port, rds) as any;
  l.filter_chains[0].filters[0].typed_config.http_filters = [
    { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
  ];
  return l;
}

test('LDS from a file, CDS/EDS/RDS over ADS: the file listener drives the RDS subscription on the stream', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-xds-'));
  const server = await TestXdsServer.start();
  const registry = new Map<XdsTypeUrl, ResourceType<any>>([
    [TypeUrl.Listener, listenerResourceType],
    [TypeUrl.RouteConfiguration, testRouteType],
    [TypeUrl.Cluster, clusterResourceType],
    [TypeUrl.ClusterLoadAssignment, clusterLoadAssignmentResourceType],
  ]);
  const store = new ConfigStore({ registry, ctx: { node }, warmingTimeoutMs: 0 });
  const ldsPath = join(dir, 'lds.json');
  writeFileSync(ldsPath, JSON.stringify({ version_info: 'f1', resources: [httpListener('file-l', 15001, 'r1')] }));
  server.setResources(TypeUrl.Cluster, [clusterRes('c1', { eds: true })], 'c-1');
  server.setResources(TypeUrl.ClusterLoadAssignment, [endpointsRes('c1', [9001])], 'e-1');
  server.setResources(TypeUrl.RouteConfiguration, [routeRes('r1')], 'r-1');
  server.setResources(TypeUrl.Listener, [httpListener('ads-l', 15002, 'r1')], 'l-1');
  const xds = startXds({
    store,
    ldsPath,
    ads: { target: server.target, credentials: grpc.credentials.createInsecure(), apiType: 'DELTA_GRPC', node, setNodeOnFirstMessageOnly: true },
  });
  try {
    // The file was read synchronously: the listener is accepted (warming on r1) before any ADS traffic.
    assert.deepEqual(store.readiness().warmingListeners, ['file-l']);
    await until(() => store.current().listeners.has('file-l') && store.current().clusters.has('c1'), 'config from both sources');
    assert.equal(xds.connectedState(), 1);
    assert.equal(store.current().endpoints.has('c1'), true);
    assert.equal(store.current().listeners.has('ads-l'), false, 'LDS is not subscribed over ADS when it comes from a file');
    assert.equal(server.requests.some((r) => r.typeUrl === TypeUrl.Listener), false);
    assert.ok(server.requests.some((r) => r.typeUrl === TypeUrl.RouteConfiguration && r.subscribe.includes('r1')));
    assert.equal(store.current().listeners.get('file-l')!.version, 'f1');
    // The real cluster translator's value is what the snapshot carries.
    assert.equal(store.current().clusters.get('c1')!.value.name, 'c1');
  } finally {
    xds.close();
    store.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(xds.ads!.state, 'closed');
});
