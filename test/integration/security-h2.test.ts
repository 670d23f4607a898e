// test/integration: HTTP/2 abuse set against a real meshlet listener with hand-made frames (literal HPACK, no
// Huffman): rapid reset (HEADERS+RST_STREAM pairs → connection closed, ≤ 1 % of streams reach the upstream), bad
// pseudo-headers / uppercase names / connection-specific headers (RST_STREAM, nothing forwarded), CONTINUATION without
// END_HEADERS (GOAWAY and close), PING flood; plus 431 for too many headers and :authority winning over host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { DataPlane, clusterFrom, httpListener, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const T = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 } as const;
const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK integer with an n-bit prefix. */
function hpackInt(v: number, n: number, first: number): number[] {
  const max = (1 << n) - 1;
  if (v < max) return [first | v];
  const out = [first | max];
  v -= max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Literal header fields without indexing, new name, no Huffman (RFC 7541 §6.2.2). */
function hpack(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: number[] = [];
  for (const [k, v] of fields) {
    parts.push(0x00);
    const kb = Buffer.from(k, 'latin1');
    const vb = Buffer.from(v, 'latin1');
    parts.push(...hpackInt(kb.length, 7, 0), ...kb, ...hpackInt(vb.length, 7, 0), ...vb);
  }
  return Buffer.from(parts);
}

function req(path: string, extra: readonly (readonly [string, string])[] = [], authority = 'a.example'): (readonly [string, string])[] {
  return [[':method', 'GET'], [':scheme', 'http'], [':authority', authority], [':path', path], ...extra];
}

function rst(stream: number, code = 8): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(T.RST_STREAM, 0, stream, p);
}

interface FrameConn {
  readonly sock: net.Socket;
  readonly frames: { type: number; flags: number; stream: number; payload: Buffer }[];
  closed: boolean;
  send(b: Buffer): void;
  waitFor(pred: () => boolean, ms?: number): Promise<boolean>;
  close(): void;
}

/** A raw HTTP/2 client connection: preface + empty SETTINGS sent, server SETTINGS acknowledged, frames parsed. */
async function h2raw(port: number): Promise<FrameConn> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  let buf = Buffer.alloc(0);
  const c: FrameConn = {
    sock,
    frames: [],
    closed: false,
    send: (b) => {
      if (!sock.destroyed) sock.write(b);
    },
    waitFor: async (pred, ms = 5000) => {
      const end = Date.now() + ms;
      while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return pred();
    },
    close: () => sock.destroy(),
  };
  sock.on('close', () => {
    c.closed = true;
  });
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const f = { type: buf[3], flags: buf[4], stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) };
      buf = buf.subarray(9 + len);
      if (f.type === T.SETTINGS && !(f.flags & F.ACK)) sock.write(frame(T.SETTINGS, F.ACK, 0));
      c.frames.push(f);
    }
  });
  sock.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0)]));
  return c;
}

const gotGoawayOrClose = (c: FrameConn) => (): boolean => c.closed || c.frames.some((f) => f.type === T.GOAWAY);

let upstreamRequests = 0;
const seen: http.IncomingHttpHeaders[] = [];
const upstream = http.createServer((rq, rs) => {
  upstreamRequests++;
  seen.push(rq.headers);
  rq.resume();
  rq.on('end', () => rs.end('ok'));
});
const dp = new DataPlane(1000);
let port = 0;

before(async () => {
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  dp.setClusters([clusterFrom(staticCluster('backend', [(upstream.address() as AddressInfo).port]))]);
  dp.routes.tables.set('routes', routeTableFrom({ name: 'routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }] }));
  await dp.setListeners([listenerFrom(httpListener('h2', 'routes', { codec_type: 'HTTP2' }))]);
  port = dp.port('h2');
});

after(async () => {
  await dp.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

test('control: a well-formed request over raw frames reaches the upstream', async () => {
  const c = await h2raw(port);
  try {
    const before = upstreamRequests;
    c.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, hpack(req('/ok'))));
    assert.ok(await c.waitFor(() => c.frames.some((f) => f.stream === 1 && f.type === T.DATA && (f.flags & F.END_STREAM) !== 0)));
    assert.equal(upstreamRequests, before + 1);
  } finally {
    c.close();
  }
});

test('rapid reset: 1 200 HEADERS+RST_STREAM pairs close the connection and ≤ 1 % of streams reach the upstream', async () => {
  const c = await h2raw(port);
  try {
    await c.waitFor(() => c.frames.some((f) => f.type === T.SETTINGS));
    const before = upstreamRequests;
    const N = 1200;
    for (let batch = 0; batch < N; batch += 100) {
      const parts: Buffer[] = [];
      for (let i = batch; i < batch + 100; i++) {
        const id = 1 + 2 * i;
        parts.push(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, hpack(req(`/rr${i}`))), rst(id));
      }
      c.send(Buffer.concat(parts));
      if (c.closed) break;
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(await c.waitFor(gotGoawayOrClose(c)), 'the connection is closed (GOAWAY or FIN)');
    await new Promise((r) => setTimeout(r, 200));
    const reached = upstreamRequests - before;
    assert.ok(reached <= N * 0.01, `${reached} of ${N} reset streams reached the upstream`);
  } finally {
    c.close();
  }
  // Other clients are unaffected.
  const ok = await h2raw(port);
  try {
    ok.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, hpack(req('/after'))));
    assert.ok(await ok.waitFor(() => ok.frames.some((f) => f.stream === 1 && f.type === T.DATA)));
  } finally {
    ok.close();
  }
});

test('malformed requests get RST_STREAM (or GOAWAY) and never reach the upstream', async () => {
  const cases: [string, (readonly [string, string])[]][] = [
    ['G03 uppercase name', req('/g03', [['X-Upper', 'a']])],
    ['G04 transfer-encoding', req('/g04', [['transfer-encoding', 'chunked']])],
    ['G05 connection', req('/g05', [['connection', 'keep-alive']])],
    ['G06 te: gzip', req('/g06', [['te', 'gzip']])],
    ['G09 pseudo after regular', [[':method', 'GET'], [':scheme', 'http'], ['x-a', 'b'], [':path', '/g09'], [':authority', 'a.example']]],
    ['G10 duplicate :path', req('/g10', [[':path', '/other']])],
    ['G11 missing :path', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a.example']]],
    ['G12 empty :path', req('')],
    ['G13 :path without /', req('g13')],
    ['G14 unknown pseudo', req('/g14', [[':foo', 'x']])],
    ['G17 :status in request', req('/g17', [[':status', '200']])],
  ];
  for (const [id, fields] of cases) {
    const c = await h2raw(port);
    try {
      const before = upstreamRequests;
      c.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, hpack(fields)));
      const refused = await c.waitFor(() => c.closed || c.frames.some((f) => (f.type === T.RST_STREAM && f.stream === 1) || f.type === T.GOAWAY));
      assert.ok(refused, `${id}: no RST_STREAM/GOAWAY`);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(upstreamRequests, before, `${id}: reached the upstream`);
    } finally {
      c.close();
    }
  }
});

test('CONTINUATION without END_HEADERS, PING flood: the connection is closed', async () => {
  const c = await h2raw(port);
  try {
    const before = upstreamRequests;
    const block = hpack(req('/cont'));
    const parts = [frame(T.HEADERS, F.END_STREAM, 1, block)];
    for (let i = 0; i < 200; i++) parts.push(frame(T.CONTINUATION, 0, 1, hpack([['x-c', 'v']])));
    c.send(Buffer.concat(parts));
    assert.ok(await c.waitFor(gotGoawayOrClose(c)), 'CONTINUATION flood closes the connection');
    assert.equal(upstreamRequests, before);
  } finally {
    c.close();
  }
  const p = await h2raw(port);
  try {
    p.sock.pause(); // never read the PING ACKs: the outbound control queue grows until nghttp2 gives up
    const ping = frame(T.PING, 0, 0, Buffer.alloc(8));
    for (let i = 0; i < 20 && !p.closed; i++) {
      p.send(Buffer.concat(Array.from({ length: 1000 }, () => ping)));
      await new Promise((r) => setImmediate(r));
    }
    p.sock.resume();
    assert.ok(await p.waitFor(gotGoawayOrClose(p), 10_000), 'PING flood closes the connection');
  } finally {
    p.close();
  }
});

test('header limits answer 431; :authority wins over a disagreeing host header', async () => {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  const get = (headers: http2.OutgoingHttpHeaders): Promise<number> => new Promise((resolve, reject) => {
    const r = client.request({ ':path': '/lim', ...headers });
    r.on('response', (h) => resolve(Number(h[':status'])));
    r.on('error', reject);
    r.resume();
  });
  try {
    const many: http2.OutgoingHttpHeaders = {};
    for (let i = 0; i < 150; i++) many[`x-h${i}`] = 'v';
    const before = upstreamRequests;
    assert.equal(await get(many), 431);
    assert.equal(await get({ 'x-big': 'a'.repeat(61 * 1024) }), 431);
    assert.equal(upstreamRequests, before);
    assert.equal(await get({ ':authority': 'good.example', host: 'evil.example' }), 200);
    assert.equal(seen.at(-1)?.host, 'good.example');
  } finally {
    client.close();
  }
});
