// test/integration: the overload manager and connection caps as a client sees them — stage 1 turns keep-alive off
// (Connection: close), stage 2 answers 503 with flag OM and nothing reaches the upstream, a per-connection-manager cap
// closes extra connections on accept; plus the pure parts (stage thresholds, premature-reset rule, the
// --insecure-http-parser refusal).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { DataPlane, clusterFrom, httpListener, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';
import { HttpConnectionManager } from '../../src/http/connection-manager.js';
import type { StreamInfo } from '../../src/http/connection-manager.js';
import type { OverloadStage } from '../../src/http/overload-manager.js';
import { ConnectionBudget, OverloadManager } from '../../src/http/overload-manager.js';
import { PrematureResetTracker } from '../../src/http/h2-abuse.js';
import { insecureHttpParserSource, refuseInsecureHttpParser } from '../../src/http/strict-http-parser.js';
import type { HttpConnectionManagerConfig } from '../../src/config/http-connection-manager.js';

let upstreamRequests = 0;
const upstream = http.createServer((rq, rs) => {
  upstreamRequests++;
  rq.resume();
  rq.on('end', () => rs.end('ok'));
});
const dp = new DataPlane(1000);
const overload = { stage: 0 as OverloadStage };
const streams: StreamInfo[] = [];
let hcm: HttpConnectionManager;
let front: net.Server;
let port = 0;

before(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  dp.setClusters([clusterFrom(staticCluster('backend', [(upstream.address() as AddressInfo).port]))]);
  dp.routes.tables.set('routes', routeTableFrom({ name: 'routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }] }));
  const l = listenerFrom(httpListener('om'));
  const nf = l.filterChains[0].filters[0];
  assert.equal(nf.kind, 'http_connection_manager');
  const cfg = (nf as { config: HttpConnectionManagerConfig }).config;
  hcm = new HttpConnectionManager(cfg, {
    routes: dp.routes, clusters: dp.clusters, pools: dp.pools, overload, globalConnections: new ConnectionBudget(1000),
    onStreamEnd: (s) => streams.push(s),
  }, 0, { maxConnections: 2 });
  front = net.createServer((s) => hcm.handleConnection(s, ''));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  port = (front.address() as AddressInfo).port;
});

after(async () => {
  hcm.destroy();
  await new Promise<void>((r) => front.close(() => r()));
  await dp.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

function get(agent: http.Agent | false = false): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.get({ host: '127.0.0.1', port, path: '/x', agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
  });
}

test('overload stages: 0 serves with keep-alive, 1 closes after the response, 2 answers 503 OM without touching the upstream', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    overload.stage = 0;
    const a = await get(agent);
    assert.equal(a.status, 200);
    assert.notEqual(a.headers.connection, 'close');
    overload.stage = 1;
    const b = await get(agent);
    assert.equal(b.status, 200);
    assert.equal(b.headers.connection, 'close', 'stage 1 disables keep-alive');
    overload.stage = 2;
    const before = upstreamRequests;
    const c = await get(agent);
    assert.equal(c.status, 503);
    assert.equal(c.body, 'envoy overloaded');
    assert.equal(upstreamRequests, before);
    assert.deepEqual(streams.at(-1)?.responseFlags, ['OM']);
    overload.stage = 0;
    assert.equal((await get(agent)).status, 200, 'back to normal once pressure drops');
  } finally {
    overload.stage = 0;
    agent.destroy();
  }
});

test('connection cap: the connection beyond max_connections is closed on accept, others keep working', async () => {
  const open = async (): Promise<net.Socket> => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    return s;
  };
  const a = await open();
  const b = await open();
  const c = await open();
  try {
    const closed = await new Promise<boolean>((r) => {
      const t = setTimeout(() => r(false), 3000);
      c.once('close', () => {
        clearTimeout(t);
        r(true);
      });
    });
    assert.ok(closed, 'third connection closed');
    assert.equal(hcm.connectionBudget.overflow >= 1, true);
  } finally {
    a.destroy();
    b.destroy();
    c.destroy();
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await get()).status, 200, 'a slot frees when a connection closes');
});

test('overload manager thresholds: 95 % → stage 1, 98 % → stage 2, back to 0', () => {
  let p = 0;
  const changes: number[] = [];
  const om = new OverloadManager({ monitors: [{ name: 'fake', sample: () => p }], onStageChange: (s) => changes.push(s) });
  try {
    assert.equal(om.tick(), 0);
    p = 0.96;
    assert.equal(om.tick(), 1);
    p = 0.99;
    assert.equal(om.tick(), 2);
    p = 0.1;
    assert.equal(om.tick(), 0);
    assert.deepEqual(changes, [1, 2, 0]);
    assert.equal(om.pressure.fake, 0.1);
  } finally {
    om.close();
  }
});

test('premature-reset rule: trips only after 500 streams with more than half reset within 1 s', () => {
  const t = new PrematureResetTracker();
  for (let i = 0; i < 499; i++) {
    t.onOpen();
    assert.equal(t.onClose(true, 5), false, 'never before 500 streams');
  }
  t.onOpen();
  assert.equal(t.onClose(true, 5), true);
  const slow = new PrematureResetTracker();
  for (let i = 0; i < 1000; i++) {
    slow.onOpen();
    slow.onClose(i % 2 === 1, 5); // every other stream: never more than half
  }
  assert.equal(slow.check(), false, 'at most 50 % is not more than half');
  const late = new PrematureResetTracker();
  for (let i = 0; i < 1000; i++) {
    late.onOpen();
    late.onClose(true, 1500);
  }
  assert.equal(late.check(), false, 'resets after 1 s are not premature');
});

test('--insecure-http-parser in execArgv or NODE_OPTIONS refuses to start with one line and a non-zero exit', () => {
  assert.equal(insecureHttpParserSource([], undefined), null);
  assert.equal(insecureHttpParserSource(['--insecure-http-parser'], undefined), 'execArgv');
  assert.equal(insecureHttpParserSource([], '--max-old-space-size=100 --insecure-http-parser'), 'NODE_OPTIONS');
  assert.equal(insecureHttpParserSource([], '--insecure-http-parserx'), null);
  let code = -1;
  const exit = ((c: number) => {
    code = c;
    throw new Error('exit');
  }) as (c: number) => never;
  const write = process.stderr.write;
  let line = '';
  process.stderr.write = ((s: string) => {
    line += s;
    return true;
  }) as typeof process.stderr.write;
  try {
    assert.throws(() => refuseInsecureHttpParser(['--insecure-http-parser'], undefined, exit), /exit/);
  } finally {
    process.stderr.write = write;
  }
  assert.notEqual(code, 0);
  assert.match(line, /^meshlet: refusing to start: .*insecure-http-parser.*\n$/);
  refuseInsecureHttpParser([], '', exit); // strict parser: returns
});
