// End-to-end over real sockets: curl and Node clients through a meshlet listener to real upstreams (HTTP/1.1,
// HTTP/2 prior knowledge, TLS with ALPN h2), local replies with Envoy's flags and bodies, header hygiene.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import net from 'node:net';
import { EchoUpstream } from '../support/upstreams.js';
import { DataPlane, ScriptedRouteTable, clusterFrom, forward, httpListener, listenerFrom, staticCluster } from '../support/data-plane.js';

const run = promisify(execFile);

async function curl(args: string[]): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { stdout } = await run('curl', ['-s', '-S', '-i', '--max-time', '10', ...args], { maxBuffer: 1 << 20 });
  // Skip interim 100 responses.
  const parts = stdout.split(/\r\n\r\n/);
  let i = 0;
  while (/^HTTP\/[\d.]+ 100/.test(parts[i] ?? '')) i++;
  const head = parts[i];
  const body = parts.slice(i + 1).join('\r\n\r\n');
  const lines = head.split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const k = l.slice(0, l.indexOf(':')).toLowerCase();
    headers[k] = headers[k] !== undefined ? `${headers[k]},${l.slice(l.indexOf(':') + 1).trim()}` : l.slice(l.indexOf(':') + 1).trim();
  }
  return { status, headers, body };
}

/** Sends raw bytes and returns everything the proxy answered until it closes or `ms` passes. */
function raw(port: number, bytes: string, ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => s.destroy(), ms);
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
    s.on('error', () => undefined);
    s.write(bytes);
  });
}

let dp: DataPlane;
let a: EchoUpstream;
let b: EchoUpstream;
let h2up: EchoUpstream;
let port = 0;

before(async () => {
  a = await EchoUpstream.start({ name: 'a' });
  b = await EchoUpstream.start({ name: 'b' });
  h2up = await EchoUpstream.start({ name: 'h2', protocol: 'http2' });
  dp = new DataPlane();
  dp.setClusters([
    clusterFrom(staticCluster('a', [a.port])),
    clusterFrom(staticCluster('b', [b.port])),
    clusterFrom(staticCluster('h2', [h2up.port], { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } })),
    clusterFrom(staticCluster('dead', [1])),
  ]);
  dp.routes.tables.set('routes', new ScriptedRouteTable('routes', [
    ['/b', forward('b')],
    ['/h2', forward('h2')],
    ['/dead', forward('dead')],
    ['/missing404', forward('nope', { clusterNotFoundStatus: 404 })],
    ['/missing', forward('nope')],
    ['/direct', { kind: 'direct', status: 201, location: '', body: Buffer.from('hello direct'), vhostName: 'vh', routeName: 'd', routeIndex: 0, finalizeResponse: (h) => { h['x-direct'] = 'yes'; } }],
    ['/nr', { kind: 'none', reason: 'no_route' }],
    ['/ws', forward('a', { upgrades: new Map([['websocket', true]]) })],
    ['/', forward('a', { finalizeResponse: (h) => { h['x-added'] = 'resp'; } })],
  ]));
  await dp.setListeners([listenerFrom(httpListener('ingress'))]);
  port = dp.port('ingress');
});

after(async () => {
  await dp.close();
  await Promise.all([a.close(), b.close(), h2up.close()]);
});

test('HTTP/1.1 request is proxied with x-forwarded-*, x-request-id and Envoy headers', async () => {
  const r = await curl([`http://127.0.0.1:${port}/hello?x=1`, '-H', 'host: example.com', '-H', 'x-custom: 1']);
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.body);
  assert.equal(seen.server, 'a');
  assert.equal(seen.path, '/hello?x=1');
  assert.equal(seen.headers.host, 'example.com');
  assert.equal(seen.headers['x-custom'], '1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.match(seen.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(seen.headers['x-envoy-expected-rq-timeout-ms'], '15000');
  assert.equal(r.headers.server, 'envoy');
  assert.equal(r.headers['x-added'], 'resp');
  assert.match(r.headers['x-envoy-upstream-service-time'], /^\d+$/);
});

test('HTTP/2 prior knowledge to an HTTP/1.1 upstream and to an HTTP/2 upstream', async () => {
  const r1 = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${port}/x`]);
  assert.equal(r1.status, 200);
  assert.equal(JSON.parse(r1.body).server, 'a');
  const r2 = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${port}/h2/y`, '-d', 'payload']);
  assert.equal(r2.status, 200);
  const seen = JSON.parse(r2.body);
  assert.equal(seen.server, 'h2');
  assert.equal(seen.method, 'POST');
  assert.equal(seen.body, 'payload');
  assert.equal(h2up.requests.at(-1)?.protocol, 'HTTP/2');
});

test('request bodies stream both ways (chunked upload, 1 MiB)', async () => {
  const big = 'x'.repeat(1 << 20);
  const res = await fetch(`http://127.0.0.1:${port}/upload`, { method: 'POST', body: big });
  assert.equal(res.status, 200);
  const seen = await res.json() as { body: string };
  assert.equal(seen.body.length, big.length);
});

test('Expect: 100-continue is answered locally and not forwarded', async () => {
  const r = await curl([`http://127.0.0.1:${port}/exp`, '-H', 'Expect: 100-continue', '--data-binary', 'abc']);
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.body);
  assert.equal(seen.body, 'abc');
  assert.equal(seen.headers.expect, undefined);
});

test('hop-by-hop headers (and names listed in Connection) are stripped before proxy headers are added', async () => {
  const out = await raw(port, 'GET /hop HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, x-forwarded-proto, x-secret\r\nx-secret: s\r\nKeep-Alive: 5\r\nUpgrade: h2c\r\nHTTP2-Settings: AAA\r\nTE: trailers, deflate\r\n\r\n', 1500);
  assert.match(out, /^HTTP\/1.1 200/);
  const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
  assert.equal(body.headers['x-secret'], undefined);
  assert.equal(body.headers['keep-alive'], undefined);
  assert.equal(body.headers['http2-settings'], undefined);
  assert.equal(body.headers.upgrade, undefined);
  assert.equal(body.headers.te, 'trailers');
  assert.equal(body.headers['x-forwarded-proto'], 'http'); // added by the proxy after stripping
});

test('no route → 404 NR; missing cluster → 503 NC or the route code; no healthy upstream body', async () => {
  const before = a.requests.length;
  const nr = await curl([`http://127.0.0.1:${port}/nr`]);
  assert.equal(nr.status, 404);
  assert.equal(nr.body, '');
  const nc = await curl([`http://127.0.0.1:${port}/missing`]);
  assert.equal(nc.status, 503);
  const nc404 = await curl([`http://127.0.0.1:${port}/missing404`]);
  assert.equal(nc404.status, 404);
  assert.equal(a.requests.length, before);
  const flags = dp.streams.slice(-3).map((s) => [s.responseFlags.join(','), s.responseCodeDetails]);
  assert.deepEqual(flags, [['NR', 'route_not_found'], ['NC', 'cluster_not_found'], ['NC', 'cluster_not_found']]);
});

test('connection failure → 503 UF with Envoy body and details', async () => {
  const r = await curl([`http://127.0.0.1:${port}/dead`]);
  assert.equal(r.status, 503);
  assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  const s = dp.streams.at(-1)!;
  assert.deepEqual(s.responseFlags, ['UF']);
  assert.equal(s.responseCodeDetails, 'upstream_reset_before_response_started{connection_failure}');
});

test('direct response with route response headers', async () => {
  const r = await curl([`http://127.0.0.1:${port}/direct`]);
  assert.equal(r.status, 201);
  assert.equal(r.body, 'hello direct');
  assert.equal(r.headers['x-direct'], 'yes');
});

test('more than 100 request headers → 431, never reaching the upstream', async () => {
  const before = a.requests.length;
  const hs = Array.from({ length: 101 }, (_, i) => `x-h${i}: v\r\n`).join('');
  const out = await raw(port, `GET /many HTTP/1.1\r\nHost: h\r\n${hs}\r\n`);
  assert.match(out, /^HTTP\/1.1 431/);
  assert.equal(a.requests.length, before);
});

test('duplicate Host → 400, never reaching the upstream', async () => {
  const before = a.requests.length;
  const out = await raw(port, 'GET /dup HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n');
  assert.match(out, /^HTTP\/1.1 400/);
  assert.equal(a.requests.length, before);
});

test('keep-alive and pipelined requests are answered in order on one connection', async () => {
  const out = await raw(port, 'GET /p1 HTTP/1.1\r\nHost: h\r\n\r\nGET /b/p2 HTTP/1.1\r\nHost: h\r\n\r\nGET /p3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', 3000);
  const statuses = [...out.matchAll(/HTTP\/1.1 (\d{3})/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '200', '200']);
  const paths = [...out.matchAll(/"path":"([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(paths, ['/p1', '/b/p2', '/p3']);
});

test('WebSocket upgrade is spliced through when the route allows it; refused (403) otherwise', async () => {
  const ok = await new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => s.destroy(), 3000);
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (out.includes('hello from a') && !out.includes('ping!')) s.write('ping!');
      if (out.includes('ping!')) {
        clearTimeout(t);
        s.destroy();
        resolve(out);
      }
    });
    s.on('close', () => resolve(out));
    s.write('GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n');
  });
  assert.match(ok, /^HTTP\/1.1 101 /);
  assert.match(ok, /hello from a\n/);
  assert.match(ok, /ping!/);
  const refused = await raw(port, 'GET /other HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 1500);
  assert.match(refused, /^HTTP\/1.1 403 /);
});
