// End to end: the real meshlet process (spawned from the build) configured only over ADS by the test management
// server, in SotW and Delta: readiness transitions, traffic to the right backend, /config_dump views, NACK with the
// field path while the last good config keeps serving, removal, control-plane loss and return, and a route update
// taking effect for new requests within 1 s while an in-flight request finishes on the old route.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestXdsServer } from '../support/xds-server.js';
import { EchoUpstream } from '../support/upstreams.js';
import {
  MeshletProcess, adsBootstrap, e2eCluster, e2eEndpoints, e2eListener, e2eRoutes, freePort, httpRequest, pollUntil, T,
} from '../support/meshlet-process.js';

const TIMEOUT = 90_000;

for (const apiType of ['GRPC', 'DELTA_GRPC'] as const) {
  describe(`e2e over ADS ${apiType === 'GRPC' ? 'SotW' : 'Delta'}`, { timeout: TIMEOUT }, () => {
    let xds: TestXdsServer;
    let a: EchoUpstream;
    let b: EchoUpstream;
    let meshlet: MeshletProcess;
    let port = 0;
    const url = (path = '/'): string => `http://127.0.0.1:${port}${path}`;
    const backendOf = async (path = '/'): Promise<string | undefined> => {
      const r = await httpRequest(url(path), { timeoutMs: 5000 });
      return r.status === 200 ? String(r.headers['x-upstream']) : `status ${r.status}`;
    };
    const lastFor = (typeUrl: string) => xds.requests.filter((r) => r.typeUrl === typeUrl).at(-1);

    before(async () => {
      xds = await TestXdsServer.start();
      a = await EchoUpstream.start({ name: 'backend-a' });
      b = await EchoUpstream.start({ name: 'backend-b' });
      port = await freePort();
      meshlet = await MeshletProcess.start({ bootstrap: adsBootstrap({ xdsPort: xds.port, apiType }), args: ['--drain-time-s', '2'] });
    });

    after(async () => {
      await meshlet?.stop();
      await xds?.stop();
      await a?.close();
      await b?.close();
    });

    it('is not ready before CDS and LDS are applied, LIVE after; traffic reaches the routed backend', async () => {
      // No resources yet: the management server has nothing to send.
      await xds.waitFor(() => xds.requests.some((r) => r.typeUrl === T.Cluster) && xds.requests.some((r) => r.typeUrl === T.Listener), 10_000, 'CDS and LDS subscriptions');
      const first = xds.requests.find((r) => r.typeUrl === T.Cluster || r.typeUrl === T.Listener);
      assert.equal(first?.node?.id, 'e2e-node', 'node sent on the first request');
      let ready = await meshlet.admin('/ready');
      assert.equal(ready.status, 503);
      assert.match(ready.body, /^(PRE_INITIALIZING|INITIALIZING)\n/);

      // Clusters (and their endpoints) alone do not make it ready.
      const cv = xds.setResources(T.Cluster, [e2eCluster('svc-a'), e2eCluster('svc-b')], 'c1');
      xds.setResources(T.Endpoints, [e2eEndpoints('svc-a', [a.port]), e2eEndpoints('svc-b', [b.port])], 'e1');
      await xds.waitForRequest((r) => r.typeUrl === T.Cluster && r.nonce !== '' && !r.errorDetail && (apiType === 'DELTA_GRPC' || r.versionInfo === cv));
      await xds.waitForRequest((r) => r.typeUrl === T.Endpoints && r.nonce !== '' && !r.errorDetail);
      ready = await meshlet.admin('/ready');
      assert.equal(ready.status, 503, 'CDS alone must not make the server LIVE');

      xds.setResources(T.Route, [e2eRoutes('r1', 'svc-a', [
        { match: { prefix: '/b' }, route: { cluster: 'svc-b' } },
        { match: { prefix: '/' }, route: { cluster: 'svc-a' } },
      ])], 'r1');
      xds.setResources(T.Listener, [e2eListener('http', port, 'r1')], 'l1');
      await meshlet.waitState('LIVE');
      ready = await meshlet.admin('/ready');
      assert.equal(ready.status, 200);

      assert.equal(await backendOf('/x'), 'backend-a');
      assert.equal(await backendOf('/b/1'), 'backend-b');
      assert.equal(a.requests.at(-1)?.path, '/x');
      assert.equal(b.requests.at(-1)?.path, '/b/1');
    });

    it('/config_dump shows the pushed resources (full, ?resource= and ?include_eds)', async () => {
      const dump = await meshlet.adminJson('/config_dump');
      const types = (dump.configs as { '@type': string }[]).map((c) => c['@type'].split('.').pop());
      assert.ok(types.includes('ClustersConfigDump') && types.includes('ListenersConfigDump') && types.includes('RoutesConfigDump'), `config types ${types.join(',')}`);
      const text = JSON.stringify(dump);
      for (const n of ['"svc-a"', '"svc-b"', '"r1"', '"http"']) assert.ok(text.includes(n), `config_dump mentions ${n}`);

      const dc = await meshlet.adminJson('/config_dump?resource=dynamic_active_clusters');
      const names = (dc.configs as { cluster?: { name?: string } }[]).map((c) => c.cluster?.name).sort();
      assert.deepEqual(names, ['svc-a', 'svc-b']);
      for (const c of dc.configs) assert.equal(c['@type'], 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster');

      const withEds = JSON.stringify(await meshlet.adminJson('/config_dump?include_eds'));
      assert.ok(withEds.includes('EndpointsConfigDump'), 'include_eds adds the endpoints dump');
      assert.ok(withEds.includes(String(a.port)) && withEds.includes(String(b.port)), 'endpoint ports shown');
      assert.ok(!JSON.stringify(dump).includes('EndpointsConfigDump'), 'endpoints only with include_eds');
    });

    it('NACKs an invalid listener with its field path, keeps serving the previous version and shows the error state', async () => {
      const from = xds.requests.length;
      // A network filter whose typed_config is not a network filter meshlet knows (the HTTP router's type).
      const bad = e2eListener('http', port, 'r1');
      (bad.filter_chains as any[])[0].filters[0].typed_config = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' };
      xds.setResources(T.Listener, [bad], 'l2-bad');
      const nack = await xds.waitForRequest((r) => r.typeUrl === T.Listener && r.errorDetail !== undefined, 10_000, from);
      const msg = String(nack.errorDetail?.message ?? '');
      assert.match(msg, /filter_chains\[0\]\.filters\[0\]/, `NACK names the field path: ${msg}`);
      if (apiType === 'GRPC') assert.equal(nack.versionInfo, 'l1', 'SotW NACK carries the last accepted version');

      assert.equal(await backendOf('/x'), 'backend-a', 'previous listener keeps serving');
      const dump = JSON.stringify(await meshlet.adminJson('/config_dump'));
      assert.ok(dump.includes('error_state'), 'config_dump shows the error_state');
      assert.ok(dump.includes('"version_info": "l1"') || dump.includes('"version_info":"l1"'), 'config_dump still shows the good version l1');
      await pollUntil('lds update_rejected counted in /stats/prometheus', async () => ((await meshlet.promValue('envoy_listener_manager_lds_update_rejected')) ?? 0) >= 1, 5000);

      // Put the good listener back (new version) so later tests start clean.
      xds.setResources(T.Listener, [e2eListener('http', port, 'r1')], 'l3');
      await xds.waitForRequest((r) => r.typeUrl === T.Listener && r.errorDetail === undefined && r.nonce !== '' && (apiType === 'DELTA_GRPC' || r.versionInfo === 'l3'), 10_000, xds.requests.length - 1);
    });

    it('NACKs an invalid route configuration with its field path and keeps routing on the previous one', async () => {
      const from = xds.requests.length;
      xds.setResources(T.Route, [e2eRoutes('r1', 'svc-b', [{ match: { safe_regex: { regex: '(unclosed' } }, route: { cluster: 'svc-b' } }])], 'r-bad');
      const nack = await xds.waitForRequest((r) => r.typeUrl === T.Route && r.errorDetail !== undefined, 10_000, from);
      assert.match(String(nack.errorDetail?.message), /virtual_hosts\[0\]\.routes\[0\]\.match/, String(nack.errorDetail?.message));
      assert.equal(await backendOf('/x'), 'backend-a', 'previous route table keeps serving');
      assert.equal(await backendOf('/b/2'), 'backend-b');
    });

    it('a route update takes effect for new requests within 1 s while an in-flight request finishes on the old route', async () => {
      a.behave = (req) => (req.path === '/slow' ? { delayMs: 1500 } : undefined);
      const inflight = httpRequest(url('/slow'), { timeoutMs: 10_000 });
      await pollUntil('slow request at backend-a', async () => a.requests.some((r) => r.path === '/slow'), 5000, 10);

      const pushedAt = Date.now();
      xds.setResources(T.Route, [e2eRoutes('r1', 'svc-b')], 'r2');
      let n = 0;
      await pollUntil('backend-b to answer / after the route update', async () => {
        n++;
        return (await backendOf('/x')) === 'backend-b';
      }, 5000, 10);
      const latency = Date.now() - pushedAt;
      console.log(`# [${apiType}] route update push-to-effect latency: ${latency} ms (${n} polls)`);
      assert.ok(latency <= 1000, `route update took ${latency} ms (acceptance: within 1 s)`);

      const old = await inflight;
      assert.equal(old.status, 200);
      assert.equal(old.headers['x-upstream'], 'backend-a', 'in-flight request finished on the old route');
      a.behave = null;
    });

    it('keeps serving the last config while the control plane is down, reports it disconnected, and reconnects', async () => {
      assert.equal(await meshlet.promValue('envoy_control_plane_connected_state'), 1);
      // Steady traffic from before the kill until after the reconnect: none of it may fail.
      let loadOn = true;
      let sent = 0;
      const failures: string[] = [];
      const load = (async () => {
        while (loadOn) {
          sent++;
          const who = await backendOf('/x').catch((e: Error) => e.message);
          if (who !== 'backend-b') failures.push(String(who));
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      xds.kill();
      await pollUntil('connected_state 0', async () => (await meshlet.promValue('envoy_control_plane_connected_state')) === 0, 10_000);
      for (let i = 0; i < 20; i++) assert.equal(await backendOf('/x'), 'backend-b', 'traffic keeps flowing on the last config');
      assert.equal((await meshlet.admin('/ready')).status, 200, 'stays LIVE while disconnected');

      const before = xds.requests.length;
      await xds.restart();
      await xds.waitFor(() => xds.openStreams > 0, 40_000, 'meshlet to reconnect');
      await pollUntil('connected_state 1', async () => (await meshlet.promValue('envoy_control_plane_connected_state')) === 1, 10_000);
      loadOn = false;
      await load;
      assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed while the control plane was away`);
      // The 20 sequential requests above ran while the server was down; the background loop only has to have run too
      // (a fast reconnect can leave it with few iterations).
      assert.ok(sent > 0, `background load sent ${sent} requests around the outage`);
      const again = xds.requests.slice(before);
      assert.ok(again.length > 0);
      if (apiType === 'GRPC') {
        const l = await xds.waitForRequest((r) => r.typeUrl === T.Listener, 5000, before);
        assert.equal(l.versionInfo, 'l3', 'SotW reconnect presents the last accepted version');
      } else {
        const l = await xds.waitForRequest((r) => r.typeUrl === T.Listener, 5000, before);
        assert.ok(Object.keys(l.initialVersions).includes('http'), 'Delta reconnect lists known resources in initial_resource_versions');
      }
      xds.setResources(T.Route, [e2eRoutes('r1', 'svc-a')], 'r3');
      await pollUntil('route change after reconnect', async () => (await backendOf('/x')) === 'backend-a', 5000, 20);
      assert.equal(lastFor(T.Route)?.errorDetail, undefined);
    });

    it('removing listeners and clusters takes them away', async () => {
      xds.setResources(T.Listener, [], 'l-empty');
      await pollUntil('listener closed', async () => {
        try {
          await httpRequest(url('/x'), { timeoutMs: 2000 });
          return false;
        } catch (e) {
          return /ECONNREFUSED/.test(String((e as Error).message) + String((e as NodeJS.ErrnoException).code));
        }
      }, 10_000, 50);
      xds.setResources(T.Cluster, [e2eCluster('svc-a')], 'c-only-a');
      await pollUntil('svc-b gone from /clusters', async () => {
        const dc = await meshlet.adminJson('/config_dump?resource=dynamic_active_clusters');
        const names = (dc.configs as { cluster?: { name?: string } }[]).map((c) => c.cluster?.name);
        return names.length === 1 && names[0] === 'svc-a';
      }, 10_000);
      const clustersText = (await meshlet.admin('/clusters')).body;
      assert.ok(!clustersText.includes('svc-b::'), 'svc-b no longer in /clusters');
      const ld = await meshlet.adminJson('/config_dump?resource=dynamic_listeners');
      assert.equal((ld.configs as unknown[]).length, 0, 'no dynamic listeners left');
      assert.ok(meshlet.running, `meshlet still running\n${meshlet.output()}`);
    });
  });
}

describe('e2e with no control plane reachable', { timeout: 60_000 }, () => {
  let meshlet: MeshletProcess | undefined;
  after(async () => {
    await meshlet?.stop();
  });

  it('becomes LIVE once initial_fetch_timeout expires (Envoy), reporting the control plane disconnected', async () => {
    const deadPort = await freePort(); // nothing listens here
    meshlet = await MeshletProcess.start({ bootstrap: adsBootstrap({ xdsPort: deadPort, initialFetchTimeout: '1s' }) });
    const r = await meshlet.admin('/ready');
    assert.equal(r.status, 503, 'not ready before the initial fetch timeout');
    await meshlet.waitState('LIVE', 15_000);
    assert.equal(await meshlet.promValue('envoy_control_plane_connected_state'), 0);
  });
});
