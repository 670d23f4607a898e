// End to end: Istio's readiness port served by the real meshlet (issue 8 item 1, conventions.md §9). With
// --status-port or node.metadata.ENVOY_STATUS_PORT, GET /healthz/ready answers 503 with Istio's explanation before
// any config, 200 once LIVE, stays 200 while the control plane is gone ("ready once"), 503 after POST
// /healthcheck/fail (200 again after /healthcheck/ok) and 503 as soon as SIGTERM starts the drain.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestXdsServer } from '../support/xds-server.js';
import { EchoUpstream } from '../support/upstreams.js';
import {
  MeshletProcess, adsBootstrap, e2eCluster, e2eEndpoints, e2eListener, e2eRoutes, freePort, httpRequest, pollUntil, T,
} from '../support/meshlet-process.js';

describe('e2e status port /healthz/ready', { timeout: 90_000 }, () => {
  let backend: EchoUpstream;
  const procs: MeshletProcess[] = [];
  const servers: TestXdsServer[] = [];
  const ready = (port: number) => httpRequest(`http://127.0.0.1:${port}/healthz/ready`, { timeoutMs: 3000 });

  before(async () => {
    backend = await EchoUpstream.start({ name: 'backend' });
  });
  after(async () => {
    for (const m of procs) await m.stop();
    for (const s of servers) await s.stop().catch(() => undefined);
    await backend?.close();
  });

  const push = (xds: TestXdsServer, lport: number): void => {
    xds.setResources(T.Cluster, [e2eCluster('a')]);
    xds.setResources(T.Endpoints, [e2eEndpoints('a', [backend.port])]);
    xds.setResources(T.Route, [e2eRoutes('r', 'a')]);
    xds.setResources(T.Listener, [e2eListener('l', lport, 'r')]);
  };

  it('--status-port: 503 before config, 200 once LIVE, still 200 with the control plane gone, 503 on healthcheck/fail and SIGTERM', async () => {
    const xds = await TestXdsServer.start();
    servers.push(xds);
    const sport = await freePort();
    const m = await MeshletProcess.start({ bootstrap: adsBootstrap({ xdsPort: xds.port }), args: ['--status-port', String(sport), '--drain-time-s', '2'] });
    procs.push(m);
    const before = await pollUntil('status port listening', async () => ready(sport).catch(() => null), 10_000);
    assert.equal(before.status, 503);
    assert.equal(before.body.trim(), 'config not received from XDS server (is the control plane running?)');
    assert.equal((await httpRequest(`http://127.0.0.1:${sport}/other`)).status, 404);

    const lport = await freePort();
    push(xds, lport);
    await pollUntil('/healthz/ready 200', async () => (await ready(sport)).status === 200, 10_000);
    assert.equal((await m.admin('/ready')).body.trim(), 'LIVE');

    // Control plane gone: the last good config keeps serving and readiness does not flap.
    await xds.stop();
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await ready(sport)).status, 200, 'ready once: stays ready without the control plane');
    }
    assert.equal((await httpRequest(`http://127.0.0.1:${lport}/still`)).status, 200);

    assert.equal((await m.admin('/healthcheck/fail', 'POST')).status, 200);
    const failed = await ready(sport);
    assert.equal(failed.status, 503);
    assert.match(failed.body, /health check failed/);
    assert.equal((await m.admin('/healthcheck/ok', 'POST')).status, 200);
    await pollUntil('ready again', async () => (await ready(sport)).status === 200, 3000);

    // A slow in-flight request keeps the process draining long enough to read the status port.
    const slow = httpRequest(`http://127.0.0.1:${lport}/slow`, { headers: { 'x-echo-delay-ms': '1500' }, timeoutMs: 10_000 }).catch((e: Error) => e);
    await pollUntil('slow request at the backend', async () => backend.requests.some((r) => r.path === '/slow'), 5000, 10);
    m.signal('SIGTERM');
    const draining = await pollUntil('/healthz/ready 503 after SIGTERM', async () => {
      const r = await ready(sport);
      return r.status === 503 ? r : null;
    }, 3000, 20);
    assert.equal(draining.body.trim(), 'server is draining');
    await slow;
    assert.deepEqual(await m.waitExit(8000), { code: 0, signal: null });
  });

  it('ENVOY_STATUS_PORT in node metadata turns the status port on', async () => {
    const xds = await TestXdsServer.start();
    servers.push(xds);
    const sport = await freePort();
    const boot = adsBootstrap({ xdsPort: xds.port });
    (boot.node as { metadata: Record<string, unknown> }).metadata.ENVOY_STATUS_PORT = sport;
    const m = await MeshletProcess.start({ bootstrap: boot, args: ['--drain-time-s', '1'] });
    procs.push(m);
    assert.equal((await pollUntil('status port listening', async () => ready(sport).catch(() => null), 10_000)).status, 503);
    push(xds, await freePort());
    await pollUntil('/healthz/ready 200', async () => (await ready(sport)).status === 200, 10_000);
    await m.stop();
  });
});
