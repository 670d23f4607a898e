// End to end: the real meshlet process's lifecycle (conventions.md §9, issue 8 item 1): SIGTERM with in-flight
// HTTP/1.1 and HTTP/2 requests (all complete, /ready turns 503 DRAINING, keep-alive answers carry Connection: close,
// exit 0 within --drain-time-s), POST /quitquitquit, POST /healthcheck/fail|ok, and `meshlet wait` returning once LIVE.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { TestXdsServer } from '../support/xds-server.js';
import { EchoUpstream } from '../support/upstreams.js';
import {
  MeshletProcess, adsBootstrap, e2eCluster, e2eEndpoints, e2eListener, e2eRoutes, freePort, httpRequest, pollUntil, runMeshlet, T,
} from '../support/meshlet-process.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** A bootstrap with one static HTTP listener (codec AUTO: HTTP/1.1 and h2c prior knowledge) routing to `backendPort`. */
function staticBootstrap(listenerPort: number, backendPort: number): Record<string, unknown> {
  return {
    node: { id: 'e2e-lifecycle', cluster: 'e2e' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: 'inbound',
        // SIGTERM drains only INBOUND listeners (Istio's drain_listeners?inboundonly); unspecified ones keep serving.
        traffic_direction: 'INBOUND',
        address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: 'inbound',
              route_config: { name: 'local', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend', timeout: '30s' } }] }] },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
            },
          }],
        }],
      }],
      clusters: [{
        name: 'backend',
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: backendPort } } } }] }] },
      }],
    },
  };
}

describe('e2e lifecycle', { timeout: 120_000 }, () => {
  let backend: EchoUpstream;
  const procs: MeshletProcess[] = [];
  const start = async (args: string[] = []): Promise<{ m: MeshletProcess; port: number }> => {
    const port = await freePort();
    const m = await MeshletProcess.start({ bootstrap: staticBootstrap(port, backend.port), args });
    procs.push(m);
    await m.waitState('LIVE');
    return { m, port };
  };

  before(async () => {
    backend = await EchoUpstream.start({ name: 'backend' });
  });
  after(async () => {
    for (const m of procs) await m.stop();
    await backend?.close();
  });

  it('SIGTERM: in-flight HTTP/1.1 and HTTP/2 requests complete, /ready says DRAINING, exit 0 within the drain time', async () => {
    const { m, port } = await start(['--drain-time-s', '5']);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const h1 = (i: number): Promise<{ status: number; connection: string | undefined; body: string }> => new Promise((res, rej) => {
      const req = http.request({ host: '127.0.0.1', port, path: `/h1/${i}`, agent, headers: { 'x-echo-delay-ms': '1200' }, timeout: 20_000 }, (r) => {
        let body = '';
        r.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => res({ status: r.statusCode ?? 0, connection: r.headers.connection, body }));
      });
      req.on('error', rej).on('timeout', () => req.destroy(new Error('h1 request timed out')));
      req.end();
    });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    let goaway = false;
    session.on('goaway', () => (goaway = true));
    const h2 = (i: number): Promise<{ status: number; body: string }> => new Promise((res, rej) => {
      const s = session.request({ ':path': `/h2/${i}`, 'x-echo-delay-ms': '1200' });
      let status = 0;
      let body = '';
      s.on('response', (h) => (status = Number(h[':status'])));
      s.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => res({ status, body })).on('error', rej);
      s.end();
    });
    const n = 20;
    const all = Promise.all([
      ...Array.from({ length: n }, (_, i) => h1(i)),
      ...Array.from({ length: n }, (_, i) => h2(i)),
    ]);
    await pollUntil('all requests at the backend', async () => backend.requests.filter((r) => /^\/h[12]\//.test(r.path)).length >= 2 * n, 10_000, 10);

    const t0 = Date.now();
    m.signal('SIGTERM');
    await pollUntil('/ready DRAINING', async () => {
      const r = await m.admin('/ready');
      return r.status === 503 && r.body.trim() === 'DRAINING';
    }, 5000, 20);
    const results = await all;
    for (const r of results) assert.equal(r.status, 200, `in-flight request completed: ${r.body.slice(0, 200)}`);
    const h1Results = results.slice(0, n) as { connection: string | undefined }[];
    assert.ok(h1Results.every((r) => r.connection === 'close'), `HTTP/1.1 answers during drain carry Connection: close (${h1Results.map((r) => r.connection).join(',')})`);
    const exit = await m.waitExit(5000 + 5000);
    console.log(`# SIGTERM → exit after ${Date.now() - t0} ms (drain time 5 s), goaway=${goaway}`);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(goaway, 'HTTP/2 client received GOAWAY');
    session.destroy();
    agent.destroy();
  });

  it('SIGTERM with a request longer than the drain time: exits at --drain-time-s', async () => {
    const { m, port } = await start(['--drain-time-s', '1']);
    const slow = httpRequest(`http://127.0.0.1:${port}/very-slow`, { headers: { 'x-echo-delay-ms': '20000' }, timeoutMs: 30_000 }).catch((e: Error) => e);
    await pollUntil('slow request at the backend', async () => backend.requests.some((r) => r.path === '/very-slow'), 5000, 10);
    const t0 = Date.now();
    m.signal('SIGTERM');
    const exit = await m.waitExit(1000 + 6000);
    const took = Date.now() - t0;
    console.log(`# SIGTERM with a 20 s request, drain time 1 s → exit after ${took} ms`);
    assert.equal(exit.code, 0);
    assert.ok(took < 20_000, 'did not wait for the slow request');
    await slow;
  });

  it('POST /quitquitquit exits 0 (GET is refused)', async () => {
    const { m, port } = await start(['--drain-time-s', '2']);
    assert.equal((await m.admin('/quitquitquit', 'GET')).status, 400);
    assert.ok(m.running);
    assert.equal((await httpRequest(`http://127.0.0.1:${port}/q`)).status, 200);
    const r = await m.admin('/quitquitquit', 'POST');
    assert.equal(r.status, 200);
    const exit = await m.waitExit(10_000);
    assert.deepEqual(exit, { code: 0, signal: null });
  });

  it('POST /healthcheck/fail makes /ready 503 while traffic still flows; /healthcheck/ok restores LIVE', async () => {
    const { m, port } = await start();
    assert.equal((await m.admin('/healthcheck/fail', 'POST')).status, 200);
    const r = await m.admin('/ready');
    assert.equal(r.status, 503);
    assert.equal(r.body.trim(), 'DRAINING');
    assert.equal((await httpRequest(`http://127.0.0.1:${port}/still`)).status, 200, 'listeners keep serving');
    assert.equal((await m.admin('/healthcheck/ok', 'POST')).status, 200);
    await m.waitState('LIVE', 3000);
    await m.stop();
  });

  it('`meshlet wait` returns 0 once LIVE and 1 on timeout', async () => {
    const xds = await TestXdsServer.start();
    const a = await EchoUpstream.start({ name: 'a' });
    try {
      const m = await MeshletProcess.start({ bootstrap: adsBootstrap({ xdsPort: xds.port }) });
      procs.push(m);
      const admin = `http://127.0.0.1:${m.adminPort}`;
      const notYet = await runMeshlet(['wait', '--timeout', '1', '--admin', admin], 15_000);
      assert.equal(notYet.code, 1, `wait times out while INITIALIZING: ${notYet.stderr}`);
      assert.match(notYet.stderr, /timeout waiting/);

      const waiting = runMeshlet(['wait', '--timeout', '10', '--admin', admin], 20_000);
      let done = false;
      void waiting.then(() => (done = true));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(done, false, 'wait blocks while not LIVE');
      const lport = await freePort();
      xds.setResources(T.Cluster, [e2eCluster('a')]);
      xds.setResources(T.Endpoints, [e2eEndpoints('a', [a.port])]);
      xds.setResources(T.Route, [e2eRoutes('r', 'a')]);
      xds.setResources(T.Listener, [e2eListener('l', lport, 'r')]);
      const w = await waiting;
      assert.equal(w.code, 0, w.stderr);
      assert.equal((await m.admin('/ready')).status, 200);
      await m.stop();
    } finally {
      await xds.stop();
      await a.close();
    }
  });
});
