// Router timers over real sockets: which of the route timeout and the stream idle timeout ends a stalled stream.
// The router arms no idle timer while an armed route timeout is at least as short (it fires first in any case), so
// these pin down the outcomes either way: idle shorter → 408 SI (before headers) or a reset (after them); route
// timeout shorter → 504 UT; idle activity (body chunks) keeps a slow stream alive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataPlane, ScriptedRouteTable, clusterFrom, forward, httpListener, listenerFrom, staticCluster } from '../support/data-plane.js';

let dp: DataPlane;
let backend: http.Server;
let port = 0;
const pending = new Set<http.ServerResponse>();

/** /stall: never answers. /stall-body: headers and one chunk, then nothing. /drip: a chunk every 100 ms, 8 chunks. */
function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  pending.add(res);
  res.on('close', () => pending.delete(res));
  req.resume();
  const path = (req.url ?? '/').replace(/^\/[^/]+/, ''); // the route prefix goes
  if (path.startsWith('/stall-body')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first chunk');
  } else if (path.startsWith('/drip')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    let n = 0;
    const t = setInterval(() => {
      res.write(`chunk${n}\n`);
      if (++n === 8) {
        clearInterval(t);
        res.end();
      }
    }, 100);
    res.on('close', () => clearInterval(t));
  } else if (!path.startsWith('/stall')) {
    res.end('ok');
  }
}

before(async () => {
  backend = http.createServer(handle);
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  dp = new DataPlane();
  dp.setClusters([clusterFrom(staticCluster('be', [(backend.address() as AddressInfo).port]))]);
  dp.routes.tables.set('routes', new ScriptedRouteTable('routes', [
    ['/idle-short/', forward('be', { timeoutMs: 15_000, idleTimeoutMs: 300 })],
    ['/route-short/', forward('be', { timeoutMs: 300, idleTimeoutMs: 10_000 })],
    ['/equal/', forward('be', { timeoutMs: 300, idleTimeoutMs: 300 })],
    ['/idle-only/', forward('be', { timeoutMs: 0, idleTimeoutMs: 300 })],
  ]));
  await dp.setListeners([listenerFrom(httpListener('ingress'))]);
  port = dp.port('ingress');
});

after(async () => {
  await dp.close();
  for (const r of pending) r.destroy();
  await new Promise<void>((r) => backend.close(() => r()));
});

const url = (p: string): string => `http://127.0.0.1:${port}${p}`;

test('idle timeout shorter than the route timeout: no response headers → 408 stream timeout, SI', async () => {
  const res = await fetch(url('/idle-short/stall'), { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 408);
  assert.equal(await res.text(), 'stream timeout');
  const s = dp.streams.at(-1)!;
  assert.deepEqual(s.responseFlags, ['SI']);
  assert.equal(s.responseCodeDetails, 'stream_idle_timeout');
});

test('idle timeout shorter than the route timeout: a response stalled mid-body is reset, SI', async () => {
  const res = await fetch(url('/idle-short/stall-body'), { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  await assert.rejects(res.text());
  for (let i = 0; i < 100 && !dp.streams.at(-1)?.responseFlags.includes('SI'); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(dp.streams.at(-1)!.responseFlags.includes('SI'));
});

test('idle timeout: body chunks closer together than the idle period keep the stream alive', async () => {
  const res = await fetch(url('/idle-short/drip'), { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.equal(text.split('\n').filter(Boolean).length, 8);
  assert.deepEqual(dp.streams.at(-1)!.responseFlags, []);
});

test('route timeout shorter than the idle timeout: 504 upstream request timeout, UT', async () => {
  const res = await fetch(url('/route-short/stall'), { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 504);
  assert.equal(await res.text(), 'upstream request timeout');
  assert.deepEqual(dp.streams.at(-1)!.responseFlags, ['UT']);
});

test('route timeout shorter than the idle timeout: a response stalled mid-body is reset, UT', async () => {
  const res = await fetch(url('/route-short/stall-body'), { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  await assert.rejects(res.text());
  for (let i = 0; i < 100 && !dp.streams.at(-1)?.responseFlags.includes('UT'); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(dp.streams.at(-1)!.responseFlags.includes('UT'));
});

test('equal route and idle timeouts: the route timeout answers (504 UT)', async () => {
  const res = await fetch(url('/equal/stall'), { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 504);
  await res.arrayBuffer();
  assert.deepEqual(dp.streams.at(-1)!.responseFlags, ['UT']);
});

test('no route timeout: the idle timeout alone ends a stalled stream (408 SI)', async () => {
  const res = await fetch(url('/idle-only/stall'), { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 408);
  await res.arrayBuffer();
  assert.deepEqual(dp.streams.at(-1)!.responseFlags, ['SI']);
});
