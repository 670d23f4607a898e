// test/integration: the HTTP/1.1 downstream timeouts that defend against slow clients (security.md table A): a client
// that trickles its request headers past request_headers_timeout, or its body past request_timeout, gets 408 and the
// connection closes; the upstream never sees the half-sent request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { DataPlane, clusterFrom, httpListener, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';

const seen: string[] = [];
const upstream = http.createServer((req, res) => {
  seen.push(req.url ?? '');
  req.resume();
  req.on('end', () => res.end('ok'));
});
const dp = new DataPlane(1000);
let port = 0;

before(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  dp.setClusters([clusterFrom(staticCluster('backend', [(upstream.address() as AddressInfo).port]))]);
  dp.routes.tables.set('routes', routeTableFrom({ name: 'routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }] }));
  await dp.setListeners([listenerFrom(httpListener('slow', 'routes', { request_headers_timeout: '1s', request_timeout: '2s' }))]);
  port = dp.port('slow');
});

after(async () => {
  await dp.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

/** Sends `first`, then one byte of `trickle` every 300 ms; resolves with what came back once the server closes (or 8 s). */
function slowClient(first: string, trickle: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let i = 0;
    let tick: NodeJS.Timeout | null = null;
    const done = (closed: boolean): void => {
      if (tick) clearInterval(tick);
      clearTimeout(hard);
      sock.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const hard = setTimeout(() => done(false), 8000);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => done(true));
    sock.on('connect', () => {
      sock.write(first);
      tick = setInterval(() => {
        if (i < trickle.length && !sock.destroyed) sock.write(trickle[i++]!);
      }, 300);
    });
  });
}

test('headers trickled past request_headers_timeout: 408 and the connection closes; nothing reaches the upstream', async () => {
  const r = await slowClient('GET /slow-headers HTTP/1.1\r\nHost: a.example\r\n', 'X-Slow: ' + 'a'.repeat(40) + '\r\n\r\n');
  assert.ok(r.closed, 'meshlet closed the connection (the client never finished its headers)');
  assert.match(r.text, /^HTTP\/1\.1 408 /, r.text.slice(0, 80));
  assert.ok(!seen.includes('/slow-headers'), 'the upstream never saw it');
});

test('a body trickled past request_timeout: 408 and the connection closes', async () => {
  const r = await slowClient('POST /slow-body HTTP/1.1\r\nHost: a.example\r\nContent-Length: 40\r\n\r\n', 'b'.repeat(40));
  assert.ok(r.closed, 'meshlet closed the connection before the body was complete');
  assert.match(r.text, /HTTP\/1\.1 408 /, r.text.slice(0, 80));
});

test('a prompt request on the same listener is served', async () => {
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/fast', headers: { host: 'a.example' }, agent: false }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => { b += c.toString(); });
      res.on('end', () => resolve(`${res.statusCode} ${b}`));
    }).on('error', reject);
  });
  assert.equal(body, '200 ok');
});
