// test/integration: HTTP/2 downstream data-path correctness against a real meshlet listener (FT-8/9/10 follow-up):
// an upstream HTTP/1 response cut mid-body ends the HTTP/2 stream with RST_STREAM alone (never END_STREAM + short
// body), and an HTTP/1 client's connection closes (it used to hang when the request body had gone upstream); a client RST_STREAM(CANCEL) aborts the upstream request (HTTP/1: connection closed; HTTP/2: RST_STREAM
// CANCEL); drain sends GOAWAY with the last stream id, lets the stream in flight finish and processes nothing later.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { DataPlane, clusterFrom, httpListener, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';

const H2_OPTS = {
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitFor(pred: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await sleep(10);
  return pred();
}

// Upstream 1: HTTP/1 that sends headers (content-length 4096) and 1000 body bytes, then RSTs the connection.
const cutter = net.createServer((s) => {
  s.on('error', () => undefined);
  s.once('data', () => {
    s.write(`HTTP/1.1 200 OK\r\ncontent-length: 4096\r\ncontent-type: application/octet-stream\r\n\r\n${'a'.repeat(1000)}`);
    setTimeout(() => s.resetAndDestroy(), 30);
  });
});

// Upstream 2: HTTP/1 that never answers /hold requests; records how each one ended.
const held: { path: string; closedAt: number; finished: boolean }[] = [];
const holderPaths: string[] = [];
const holder = http.createServer((rq, rs) => {
  holderPaths.push(String(rq.url));
  rq.resume();
  if (rq.url?.startsWith('/hold')) {
    const rec = { path: String(rq.url), closedAt: 0, finished: false };
    held.push(rec);
    rs.on('close', () => { rec.closedAt = Date.now(); rec.finished = rs.writableFinished; });
    return;
  }
  const delay = Number(rq.headers['x-delay-ms'] ?? 0);
  setTimeout(() => rs.end(`ok ${rq.url}`), delay);
});

// Upstream 3: HTTP/2; records whether each request body ended (END_STREAM) and the stream's reset code.
const h2seen: { path: string; bodyEnded: boolean; rstCode: number | undefined; closed: boolean }[] = [];
const h2up = http2.createServer();
h2up.on('stream', (st, h) => {
  const rec = { path: String(h[':path']), bodyEnded: false, rstCode: undefined as number | undefined, closed: false };
  h2seen.push(rec);
  st.on('error', () => undefined);
  st.on('data', () => undefined);
  st.on('end', () => { rec.bodyEnded = true; });
  st.on('close', () => { rec.closed = true; rec.rstCode = st.rstCode; });
});

const dp = new DataPlane(3000);
let port = 0;

before(async () => {
  for (const s of [cutter, holder, h2up] as net.Server[]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s: net.Server): number => (s.address() as AddressInfo).port;
  dp.setClusters([
    clusterFrom(staticCluster('cut', [p(cutter)])),
    clusterFrom(staticCluster('hold', [p(holder)])),
    clusterFrom(staticCluster('h2up', [p(h2up)], H2_OPTS)),
  ]);
  dp.routes.tables.set('routes', routeTableFrom({
    name: 'routes',
    virtual_hosts: [{
      name: 'all', domains: ['*'], routes: [
        { match: { prefix: '/cut' }, route: { cluster: 'cut' } },
        { match: { prefix: '/h2up' }, route: { cluster: 'h2up', timeout: '0s' } },
        { match: { prefix: '/' }, route: { cluster: 'hold', timeout: '0s' } },
      ],
    }],
  }));
  await dp.setListeners([listenerFrom(httpListener('h2', 'routes'))]);
  port = dp.port('h2');
});

after(async () => {
  await dp.close();
  holder.closeAllConnections();
  for (const s of [cutter, holder, h2up] as net.Server[]) await new Promise<void>((r) => s.close(() => r()));
});

/** One HTTP/2 request; resolves with how the stream ended (END_STREAM or RST_STREAM code) and the body length. */
function h2get(client: http2.ClientHttp2Session, path: string): Promise<{ status: number; bytes: number; ended: boolean; rstCode: number | undefined }> {
  return new Promise((res) => {
    const st = client.request({ ':path': path });
    let status = 0;
    let bytes = 0;
    let ended = false;
    st.on('response', (h) => { status = Number(h[':status']); });
    st.on('data', (c: Buffer) => { bytes += c.length; });
    st.on('end', () => { ended = true; });
    st.on('error', () => undefined);
    st.on('close', () => res({ status, bytes, ended, rstCode: st.rstCode }));
  });
}

test('an upstream HTTP/1 response cut mid-body ends the HTTP/2 stream with RST_STREAM, not END_STREAM', async () => {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  try {
    for (let i = 0; i < 5; i++) {
      const r = await h2get(client, `/cut/${i}`);
      assert.equal(r.status, 200, 'headers were forwarded before the cut');
      assert.ok(r.bytes < 4096, `short body (${r.bytes} bytes)`);
      assert.equal(r.ended, false, 'no END_STREAM on a cut response');
      assert.equal(r.rstCode, http2.constants.NGHTTP2_INTERNAL_ERROR, 'RST_STREAM(INTERNAL_ERROR)');
    }
    const last = dp.streams.filter((s) => s.head.path.startsWith('/cut/')).at(-1);
    assert.ok(last, 'the stream was logged');
    assert.ok(last.responseFlags.includes('UC') || last.responseFlags.includes('UR'), `flags ${last.responseFlags.join(',')}`);
    assert.match(last.responseCodeDetails, /^upstream_reset_after_response_started\{/);
  } finally {
    client.close();
  }
});

test('HTTP/1 POST without a retry policy: a response cut mid-body closes the client connection (no hang)', async () => {
  for (let i = 0; i < 3; i++) {
    const outcome = await new Promise<string>((res) => {
      const rq = http.request({ host: '127.0.0.1', port, path: `/cut/post/${i}`, method: 'POST', agent: false, headers: { 'content-length': '2048' } }, (r) => {
        let n = 0;
        r.on('data', (c: Buffer) => { n += c.length; });
        r.on('end', () => res(`complete ${r.statusCode} ${n}`));
        r.on('error', () => res(`closed ${r.statusCode} ${n}`));
      });
      rq.setTimeout(3000, () => { res('hung'); rq.destroy(); });
      rq.on('error', (e) => res(`error ${e.message}`));
      rq.end(Buffer.alloc(2048, 'p'));
    });
    assert.match(outcome, /^closed 200 \d+$/, 'headers arrived, then the connection closed before content-length');
  }
});

test('an HTTP/2 RST_STREAM(CANCEL) from the client aborts the upstream HTTP/1 request', async () => {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  try {
    const streams = [0, 1, 2].map((i) => {
      const st = client.request({ ':path': `/hold/${i}` });
      st.on('error', () => undefined);
      st.end();
      return st;
    });
    assert.ok(await waitFor(() => held.filter((h) => h.path.startsWith('/hold/')).length === 3), 'the requests reached the upstream');
    const cancelAt = Date.now();
    for (const st of streams) st.close(http2.constants.NGHTTP2_CANCEL);
    assert.ok(await waitFor(() => held.every((h) => h.closedAt > 0), 3000), `upstream requests aborted: ${JSON.stringify(held)}`);
    assert.ok(held.every((h) => !h.finished), 'none of them ran to completion');
    console.log(`# cancel → upstream close: max ${Math.max(...held.map((h) => h.closedAt - cancelAt))} ms`);
    const logged = dp.streams.filter((s) => s.head.path.startsWith('/hold/'));
    assert.equal(logged.length, 3);
    assert.ok(logged.every((s) => s.responseFlags.includes('DC')), 'logged as downstream connection termination');
  } finally {
    client.close();
  }
});

// Known gap (reported, not asserted): node ends the downstream stream's readable side ('end') before it reports the
// client's RST_STREAM, so the piped request body may reach the upstream with END_STREAM just before the RST_STREAM.
test('an HTTP/2 client cancel mid-request-body resets the upstream HTTP/2 stream with RST_STREAM(CANCEL)', async () => {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  try {
    const st = client.request({ ':path': '/h2up/body', ':method': 'POST' });
    st.on('error', () => undefined);
    st.write(Buffer.alloc(1000, 'x'));
    assert.ok(await waitFor(() => h2seen.some((r) => r.path === '/h2up/body')), 'the request reached the HTTP/2 upstream');
    st.close(http2.constants.NGHTTP2_CANCEL);
    const rec = h2seen.find((r) => r.path === '/h2up/body')!;
    assert.ok(await waitFor(() => rec.closed, 3000), 'the upstream stream closed');
    assert.equal(rec.rstCode, http2.constants.NGHTTP2_CANCEL, 'RST_STREAM(CANCEL) upstream');
  } finally {
    client.close();
  }
});

// A raw HTTP/2 client that does not react to GOAWAY (node's client closes itself on one), so it can keep sending.
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
type Frame = { type: number; flags: number; stream: number; payload: Buffer; at: number };
function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}
/** HPACK literal fields without indexing, short names/values only (< 127 bytes). */
function hpack(fields: readonly (readonly [string, string])[]): Buffer {
  const out: number[] = [];
  for (const [k, v] of fields) out.push(0, k.length, ...Buffer.from(k, 'latin1'), v.length, ...Buffer.from(v, 'latin1'));
  return Buffer.from(out);
}
const GOAWAY = 7;
const HEADERS = 1;
const DATA = 0;
const END_STREAM = 1;
const END_HEADERS = 4;

// Drain is Envoy's two-phase GOAWAY: first the shutdown notice (last stream id 2^31-1), under which a stream already
// sent is still served; then, after drain_timeout (here bounded by half the 5 s drain window), the final GOAWAY with
// the last stream id processed; a stream sent after that one is not processed (the client may retry it).
test('drain: GOAWAY(2^31-1) notice, a stream sent under it is served, the final GOAWAY carries the last stream id and a later stream never reaches the upstream', async () => {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const frames: Frame[] = [];
  let buf = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const f = { type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len), at: Date.now() };
      buf = buf.subarray(9 + len);
      if (f.type === 4 && !(f.flags & 1)) sock.write(frame(4, 1, 0));
      frames.push(f);
    }
  });
  const req = (id: number, delayMs: number): void => {
    sock.write(frame(HEADERS, END_HEADERS | END_STREAM, id, hpack([[':method', 'GET'], [':scheme', 'http'], [':authority', 'a.example'], [':path', `/drain/${id}`], ['x-delay-ms', String(delayMs)]])));
  };
  const ended = (id: number) => (): boolean => frames.some((f) => f.stream === id && f.type === DATA && (f.flags & END_STREAM) !== 0);
  const goaways = (): { last: number; code: number }[] => frames.filter((f) => f.type === GOAWAY).map((f) => ({ last: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) }));
  let drained: Promise<void> | null = null;
  try {
    sock.write(Buffer.concat([PREFACE, frame(4, 0, 0)]));
    req(1, 1500);
    assert.ok(await waitFor(() => holderPaths.includes('/drain/1')), 'stream 1 reached the upstream');
    drained = dp.listeners.drainAll(5000);
    assert.ok(await waitFor(() => goaways().length >= 1, 2000), 'GOAWAY arrived');
    assert.deepEqual(goaways()[0], { last: 0x7fffffff, code: 0 }, 'first GOAWAY: the shutdown notice');
    req(3, 0);
    assert.ok(await waitFor(ended(3), 2000), 'stream 3, sent under the notice, is served');
    assert.ok(await waitFor(() => goaways().length >= 2, 5000), 'the final GOAWAY arrived');
    assert.deepEqual(goaways()[1], { last: 3, code: 0 }, 'final GOAWAY: NO_ERROR, last stream id 3');
    req(5, 0);
    assert.ok(await waitFor(ended(1), 3000), 'stream 1, in flight at the drain, completes');
    await sleep(100);
    assert.ok(!frames.some((f) => f.stream === 5 && f.type === HEADERS), 'stream 5 (above the last stream id) got no response');
    assert.ok(!holderPaths.includes('/drain/5'), 'and never reached the upstream');
  } finally {
    sock.destroy();
    await drained;
  }
});
