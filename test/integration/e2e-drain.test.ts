// End to end: issue 8's drain acceptance on the real meshlet process with an INBOUND, an OUTBOUND and an unspecified-
// direction listener (static bootstrap). SIGTERM during 100 HTTP/1.1 + 100 HTTP/2 slow in-flight inbound requests:
// all complete with 200, HTTP/1.1 answers carry Connection: close, HTTP/2 sessions get GOAWAY; new inbound
// connections work before SIGTERM and are refused once the drain started; the OUTBOUND listener (and the unspecified
// one, as Envoy's drain_listeners?inboundonly) keeps serving until exit; exit 0 within --drain-time-s + 1 s.
// POST /drain_listeners?inboundonly&graceful: inbound stops, outbound keeps serving, the process keeps running.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { EchoUpstream } from '../support/upstreams.js';
import { MeshletProcess, freePort, httpRequest, pollUntil } from '../support/meshlet-process.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

interface Ports {
  readonly inbound: number;
  readonly outbound: number;
  readonly plain: number;
}

function listener(name: string, port: number, direction: 'INBOUND' | 'OUTBOUND' | undefined): Record<string, unknown> {
  return {
    name,
    ...(direction ? { traffic_direction: direction } : {}),
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM,
          stat_prefix: name,
          route_config: { name, virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend', timeout: '30s' } }] }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
        },
      }],
    }],
  };
}

function bootstrap(p: Ports, backendPort: number): Record<string, unknown> {
  return {
    node: { id: 'e2e-drain', cluster: 'e2e' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [listener('inbound', p.inbound, 'INBOUND'), listener('outbound', p.outbound, 'OUTBOUND'), listener('plain', p.plain, undefined)],
      clusters: [{
        name: 'backend',
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: backendPort } } } }] }] },
      }],
    },
  };
}

/** A request on a fresh TCP connection: the status, or the error code when the connection is refused or closed. */
async function fresh(port: number, path: string): Promise<number | string> {
  try {
    return (await httpRequest(`http://127.0.0.1:${port}${path}`, { timeoutMs: 5000 })).status;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}

/** A bare TCP connect: 'refused' (ECONNREFUSED), 'closed' (accepted then closed without a byte) or 'open'. */
function tcpProbe(port: number): Promise<'refused' | 'closed' | 'open'> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    const t = setTimeout(() => {
      s.destroy();
      res('open');
    }, 500);
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      res(e.code === 'ECONNREFUSED' ? 'refused' : 'closed');
    });
    s.once('close', () => {
      clearTimeout(t);
      res('closed');
    });
  });
}

describe('e2e drain: SIGTERM and drain_listeners with inbound and outbound listeners', { timeout: 120_000 }, () => {
  let backend: EchoUpstream;
  const procs: MeshletProcess[] = [];
  const start = async (args: string[]): Promise<{ m: MeshletProcess; p: Ports }> => {
    const p = { inbound: await freePort(), outbound: await freePort(), plain: await freePort() };
    const m = await MeshletProcess.start({ bootstrap: bootstrap(p, backend.port), args });
    procs.push(m);
    await m.waitState('LIVE');
    return { m, p };
  };

  before(async () => {
    backend = await EchoUpstream.start({ name: 'backend' });
  });
  after(async () => {
    for (const m of procs) await m.stop();
    await backend?.close();
  });

  it('SIGTERM with 100 HTTP/1.1 + 100 HTTP/2 in-flight requests: all 200, inbound refused only after the drain starts, outbound serves until exit', async () => {
    const DRAIN_S = 8;
    const DELAY_MS = 3000;
    const { m, p } = await start(['--drain-time-s', String(DRAIN_S)]);
    const n = 100;

    // Before SIGTERM a new inbound connection is served.
    assert.equal(await fresh(p.inbound, '/before'), 200, 'new inbound connection before SIGTERM');

    // 100 HTTP/1.1 requests, each on its own keep-alive connection.
    const agent = new http.Agent({ keepAlive: true, maxSockets: n });
    const h1 = (i: number): Promise<{ status: number; connection: string | undefined }> => new Promise((res) => {
      const req = http.request({ host: '127.0.0.1', port: p.inbound, path: `/h1/${i}`, agent, headers: { 'x-echo-delay-ms': String(DELAY_MS) }, timeout: 30_000 }, (r) => {
        r.resume().on('end', () => res({ status: r.statusCode ?? 0, connection: r.headers.connection }));
        r.on('error', (e) => res({ status: -1, connection: e.message }));
      });
      req.on('error', (e) => res({ status: -1, connection: e.message })).on('timeout', () => req.destroy(new Error('h1 timeout')));
      req.end();
    });
    // 100 HTTP/2 streams over two h2c sessions (50 each, under any concurrent-stream limit).
    const sessions = [0, 1].map(() => {
      const s = http2.connect(`http://127.0.0.1:${p.inbound}`);
      s.on('error', () => undefined);
      return { s, goaway: false };
    });
    for (const x of sessions) x.s.on('goaway', () => (x.goaway = true));
    const h2 = (i: number): Promise<{ status: number; error?: string }> => new Promise((res) => {
      const st = sessions[i % 2].s.request({ ':path': `/h2/${i}`, 'x-echo-delay-ms': String(DELAY_MS) });
      let status = 0;
      st.on('response', (h) => (status = Number(h[':status'])));
      st.on('data', () => undefined).on('end', () => res({ status })).on('error', (e) => res({ status: -1, error: e.message }));
      st.setTimeout(30_000, () => st.close(http2.constants.NGHTTP2_CANCEL));
      st.end();
    });
    let inflightDone = false;
    const all = Promise.all([
      Promise.all(Array.from({ length: n }, (_, i) => h1(i))),
      Promise.all(Array.from({ length: n }, (_, i) => h2(i))),
    ]).finally(() => (inflightDone = true));
    await pollUntil('all 200 requests at the backend', async () => backend.requests.filter((r) => /^\/h[12]\//.test(r.path)).length >= 2 * n, 15_000, 10);

    const t0 = Date.now();
    m.signal('SIGTERM');
    await pollUntil('/ready DRAINING', async () => {
      const r = await m.admin('/ready');
      return r.status === 503 && r.body.trim() === 'DRAINING';
    }, 5000, 20);
    // Once the drain started the inbound listener takes no new connection (the listening socket is closed).
    const probe = await pollUntil('inbound refuses new connections', async () => {
      const r = await tcpProbe(p.inbound);
      return r === 'open' ? false : r;
    }, 3000, 20);
    assert.ok(!inflightDone, 'the in-flight requests were still running when the inbound listener closed');
    const afterDrain = await fresh(p.inbound, '/after');
    assert.notEqual(afterDrain, 200, `a new inbound request after the drain started is not served (${afterDrain}, probe ${probe})`);

    // Outbound (and the listener without a direction) keep serving new connections while the drain runs.
    const outbound: (number | string)[] = [];
    const plain: (number | string)[] = [];
    // Once the last in-flight request finishes, meshlet may exit at once (zero active connections): a probe that
    // raced with that exit is not a drain failure, so a failed probe counts only while the process is still up.
    const keep = async (r: number | string): Promise<boolean> => {
      if (r === 200) return true;
      await Promise.race([m.exited, new Promise((res) => setTimeout(res, 500))]);
      return m.running;
    };
    while (!inflightDone) {
      const o = await fresh(p.outbound, '/app-call');
      if (await keep(o)) outbound.push(o);
      const u = await fresh(p.plain, '/unspecified');
      if (await keep(u)) plain.push(u);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(outbound.length >= 3, `outbound requests were made during the drain (${outbound.length})`);
    assert.deepEqual(outbound.filter((s) => s !== 200), [], 'every outbound request during the drain is served');
    assert.deepEqual(plain.filter((s) => s !== 200), [], 'a listener without traffic_direction is not drained by SIGTERM');

    const [r1, r2] = await all;
    assert.deepEqual(r1.filter((r) => r.status !== 200).map((r) => r.connection), [], 'every in-flight HTTP/1.1 request completes with 200');
    assert.deepEqual(r2.filter((r) => r.status !== 200).map((r) => r.error), [], 'every in-flight HTTP/2 request completes with 200');
    const notClose = r1.filter((r) => r.connection !== 'close').length;
    assert.equal(notClose, 0, 'HTTP/1.1 answers during the drain carry Connection: close');
    assert.ok(sessions.every((x) => x.goaway), 'both HTTP/2 sessions received GOAWAY');

    const exit = await m.waitExit((DRAIN_S + 5) * 1000);
    const took = Date.now() - t0;
    console.log(`# SIGTERM → exit after ${took} ms (drain time ${DRAIN_S} s; ${outbound.length} outbound calls served during the drain; probe ${probe})`);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(took <= (DRAIN_S + 1) * 1000, `exit within --drain-time-s + 1 s (${took} ms)`);
    for (const x of sessions) x.s.destroy();
    agent.destroy();
  });

  it('SIGTERM with an open outbound keep-alive connection: outbound answers on it until the drain time, then exit 0', async () => {
    const DRAIN_S = 2;
    const { m, p } = await start(['--drain-time-s', String(DRAIN_S)]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const call = (): Promise<{ status: number | string; connection?: string }> => new Promise((res) => {
      const req = http.request({ host: '127.0.0.1', port: p.outbound, path: '/keepalive', agent, timeout: 5000 }, (r) => {
        r.resume().on('end', () => res({ status: r.statusCode ?? 0, connection: r.headers.connection }));
      });
      req.on('error', (e: NodeJS.ErrnoException) => res({ status: e.code ?? e.message })).on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    assert.equal((await call()).status, 200);
    const t0 = Date.now();
    m.signal('SIGTERM');
    const seen: { status: number | string; connection?: string; at: number }[] = [];
    while (m.running && Date.now() - t0 < (DRAIN_S + 3) * 1000) {
      seen.push({ ...(await call()), at: Date.now() - t0 });
      await new Promise((r) => setTimeout(r, 100));
    }
    const exit = await m.waitExit((DRAIN_S + 3) * 1000);
    const took = Date.now() - t0;
    const firstFailure = seen.findIndex((s) => s.status !== 200);
    const served = firstFailure === -1 ? seen : seen.slice(0, firstFailure);
    console.log(`# outbound keep-alive during SIGTERM: ${served.length} served, last at ${served.at(-1)?.at} ms; exit after ${took} ms`);
    assert.ok(served.length >= 5, `outbound kept answering after SIGTERM (${served.length})`);
    assert.ok(served.at(-1)!.at >= DRAIN_S * 1000 - 500, `outbound served until close to the drain deadline (last at ${served.at(-1)!.at} ms)`);
    assert.deepEqual(served.filter((s) => s.connection === 'close'), [], 'outbound answers are not told to close: the outbound listener is not draining');
    assert.deepEqual(seen.slice(served.length + 1).filter((s) => s.status === 200), [], 'nothing is served after the first failure (the process exited)');
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(took <= (DRAIN_S + 1) * 1000, `exit within --drain-time-s + 1 s (${took} ms)`);
    agent.destroy();
  });

  it('POST /drain_listeners?inboundonly&graceful: inbound stops taking connections, outbound keeps serving, the process keeps running', async () => {
    const { m, p } = await start(['--drain-time-s', '30']);
    assert.equal(await fresh(p.inbound, '/before'), 200);
    // An in-flight inbound request started before the drain still completes.
    const slow = httpRequest(`http://127.0.0.1:${p.inbound}/slow`, { headers: { 'x-echo-delay-ms': '1000' }, timeoutMs: 10_000 });
    await pollUntil('slow request at the backend', async () => backend.requests.some((r) => r.path === '/slow'), 5000, 10);
    const r = await m.admin('/drain_listeners?inboundonly&graceful', 'POST');
    assert.equal(r.status, 200, r.body);
    await pollUntil('inbound refuses new connections', async () => (await tcpProbe(p.inbound)) !== 'open', 3000, 20);
    assert.notEqual(await fresh(p.inbound, '/after'), 200, 'no new inbound request is served');
    assert.equal((await slow).status, 200, 'the in-flight inbound request completed');
    for (let i = 0; i < 5; i++) {
      assert.equal(await fresh(p.outbound, `/out/${i}`), 200, 'outbound keeps serving');
      assert.equal(await fresh(p.plain, `/plain/${i}`), 200, 'a listener without a direction is not inbound');
    }
    await new Promise((res) => setTimeout(res, 1500));
    assert.ok(m.running, 'drain_listeners does not stop the process');
    assert.equal(await fresh(p.outbound, '/later'), 200);
    assert.notEqual(await fresh(p.inbound, '/later'), 200, 'inbound stays drained');
    await m.stop();
  });
});
