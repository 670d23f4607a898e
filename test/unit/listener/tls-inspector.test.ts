// tls_inspector reads SNI/ALPN from real ClientHellos (captured from node's tls.connect) however they are split,
// and treats non-TLS bytes as raw_buffer; http_inspector tells HTTP/1.0, HTTP/1.1 and h2c apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { inspectConnection, inspectTls } from '../../../src/listener/tls-inspector.js';
import { inspectHttp } from '../../../src/listener/http-inspector.js';

/** Captures the bytes node's TLS client writes first (its ClientHello) via a plain TCP server. */
async function captureClientHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (s) => {
        const chunks: Buffer[] = [];
        s.on('data', (d: Buffer) => {
          chunks.push(d);
          const all = Buffer.concat(chunks);
          if (inspectTls(all).kind !== 'need_more') { resolve(all); s.destroy(); }
        });
        s.on('error', reject);
        setTimeout(() => reject(new Error('no ClientHello within 5 s')), 5000).unref();
      });
    });
    const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    client.on('error', () => {});
    const hello = await got;
    client.destroy();
    return hello;
  } finally {
    server.close();
  }
}

/** Feeds `buf` to inspectTls in the given chunk sizes; asserts need_more until the last chunk. */
function feed(buf: Buffer, sizes: () => number): ReturnType<typeof inspectTls> {
  let off = 0;
  while (true) {
    off = Math.min(buf.length, off + Math.max(1, sizes()));
    const r = inspectTls(buf.subarray(0, off));
    if (off < buf.length) assert.equal(r.kind, 'need_more', `decided early at ${off}/${buf.length}`);
    else return r;
  }
}

/** Re-frames one ClientHello record into several handshake records of at most `max` payload bytes. */
function splitRecords(hello: Buffer, max: number): Buffer {
  const payload = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let i = 0; i < payload.length; i += max) {
    const part = payload.subarray(i, i + max);
    const h = Buffer.from([0x16, hello[1], hello[2], 0, 0]);
    h.writeUInt16BE(part.length, 3);
    out.push(h, part);
  }
  return Buffer.concat(out);
}

test('TLS 1.3 ClientHello: SNI and ALPN list, split into 1-byte and random-size chunks', async () => {
  const hello = await captureClientHello({ servername: 'API.Example.com', ALPNProtocols: ['h2', 'http/1.1'], minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  const whole = inspectTls(hello);
  assert.deepEqual(whole, { kind: 'tls', serverName: 'api.example.com', alpn: ['h2', 'http/1.1'], version: 'TLSv1.3', bytes: hello.length });
  assert.deepEqual(feed(hello, () => 1), whole);
  let seed = 7;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return 1 + (seed % 97); };
  for (let i = 0; i < 20; i++) assert.deepEqual(feed(hello, rnd), whole);
});

test('TLS 1.2-only ClientHello, Istio ALPN values, no SNI', async () => {
  const h12 = await captureClientHello({ servername: 'backend.svc', ALPNProtocols: ['istio-peer-exchange', 'istio'], minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  const r = inspectTls(h12);
  assert.equal(r.kind, 'tls');
  if (r.kind === 'tls') {
    assert.equal(r.version, 'TLSv1.2');
    assert.equal(r.serverName, 'backend.svc');
    assert.deepEqual(r.alpn, ['istio-peer-exchange', 'istio']);
  }
  // node sends no SNI for an IP host.
  const noSni = inspectTls(await captureClientHello({ maxVersion: 'TLSv1.2' }));
  assert.equal(noSni.kind, 'tls');
  if (noSni.kind === 'tls') { assert.equal(noSni.serverName, ''); assert.deepEqual(noSni.alpn, []); }
});

test('a ClientHello spread over several handshake records (with trailing bytes) is reassembled', async () => {
  const hello = await captureClientHello({ servername: 'multi.example.org', ALPNProtocols: ['h2'] });
  const expected = inspectTls(hello);
  for (const max of [1, 7, 100]) {
    const framed = splitRecords(hello, max);
    const r = feed(framed, () => 13);
    assert.equal(r.kind, 'tls');
    if (r.kind === 'tls' && expected.kind === 'tls') {
      assert.equal(r.serverName, expected.serverName);
      assert.deepEqual(r.alpn, expected.alpn);
      assert.equal(r.bytes, framed.length);
    }
    const withTrailer = inspectTls(Buffer.concat([framed, Buffer.from('trailing application data')]));
    assert.equal(withTrailer.kind, 'tls');
  }
});

test('garbage and non-TLS bytes are not_tls, never an exception', async () => {
  assert.equal(inspectTls(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'not_tls');
  assert.equal(inspectTls(Buffer.from([0x16, 0x07])).kind, 'not_tls');
  assert.equal(inspectTls(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])).kind, 'not_tls');
  assert.equal(inspectTls(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0, 0, 1, 0])).kind, 'not_tls', 'ServerHello');
  assert.equal(inspectTls(Buffer.alloc(0)).kind, 'need_more');
  const hello = await captureClientHello({ servername: 'x.test' });
  // A complete record holding a malformed hello.
  const broken = Buffer.from(hello);
  broken[5 + 4 + 2 + 32] = 200; // session id length > 32
  assert.equal(inspectTls(broken).kind, 'not_tls');
  let seed = 1;
  for (let i = 0; i < 2000; i++) {
    const len = 1 + (i % 300);
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) { seed = (seed * 1103515245 + 12345) & 0x7fffffff; b[j] = seed & 0xff; }
    if (i % 2 === 0) { b[0] = 0x16; b[1] = 3; }
    const r = inspectTls(b);
    assert.ok(['need_more', 'not_tls', 'tls'].includes(r.kind));
  }
  // A record that claims more than the cap is rejected rather than awaited forever.
  const huge = Buffer.from([0x16, 3, 1, 0x40, 0x00, 0x01, 0x01, 0x00, 0x00]);
  assert.equal(inspectTls(huge, 1024).kind, 'not_tls');
});

test('http_inspector: HTTP/1.1, HTTP/1.0, h2c preface, partial input and non-HTTP', () => {
  assert.deepEqual(inspectHttp(Buffer.from('GET /x HTTP/1.1\r\nHost: a\r\n\r\n')), { kind: 'http', protocol: 'http/1.1' });
  assert.deepEqual(inspectHttp(Buffer.from('POST http://a/ HTTP/1.0\r\n')), { kind: 'http', protocol: 'http/1.0' });
  assert.deepEqual(inspectHttp(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), { kind: 'http', protocol: 'h2c' });
  assert.equal(inspectHttp(Buffer.from('PRI * HTTP/2.0\r\n')).kind, 'need_more');
  assert.equal(inspectHttp(Buffer.from('GET /x HT')).kind, 'need_more');
  assert.equal(inspectHttp(Buffer.from('GET /x HTTP/1.1\r')).kind, 'need_more');
  assert.equal(inspectHttp(Buffer.from('GET /x HTTP/2.0\r\n')).kind, 'not_http');
  assert.equal(inspectHttp(Buffer.from('SSH-2.0-OpenSSH\r\n')).kind, 'not_http');
  assert.equal(inspectHttp(Buffer.from('ping')).kind, 'not_http', 'lower-case bytes are decided at once, no wait');
  assert.equal(inspectHttp(Buffer.from('GET')).kind, 'need_more');
  assert.equal(inspectHttp(Buffer.from('M-SEARCH * HTTP/1.1\r\n')).kind, 'http');
  assert.equal(inspectHttp(Buffer.from('A'.repeat(40))).kind, 'not_http', 'bounded: no endless wait for a method');
  assert.equal(inspectHttp(Buffer.from([0x16, 3, 1, 0, 5])).kind, 'not_http');
  assert.equal(inspectHttp(Buffer.from('GET  / HTTP/1.1\r\n')).kind, 'not_http');
});

test('inspectConnection over a real socket: split writes, bytes kept for replay, bounded wait', async () => {
  const hello = await captureClientHello({ servername: 'sock.example.com', ALPNProtocols: ['http/1.1'] });
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const sockets: net.Socket[] = [];
  try {
    const accept = (): Promise<net.Socket> => new Promise((r) => server.once('connection', (s) => { sockets.push(s); r(s); }));
    // TLS hello written in three pieces with gaps.
    let acc = accept();
    const c1 = net.connect(port, '127.0.0.1');
    sockets.push(c1);
    let s = await acc;
    const pending = inspectConnection(s, { tlsInspector: true, httpInspector: true });
    c1.write(hello.subarray(0, 3));
    await new Promise((r) => setTimeout(r, 20));
    c1.write(hello.subarray(3, 50));
    await new Promise((r) => setTimeout(r, 20));
    c1.write(hello.subarray(50));
    const r1 = await pending;
    assert.equal(r1.transportProtocol, 'tls');
    assert.equal(r1.serverName, 'sock.example.com');
    assert.deepEqual(r1.applicationProtocols, ['http/1.1']);
    assert.ok(r1.peeked.equals(hello), 'every byte read is kept for replay');

    // Plain HTTP/1.1 → raw_buffer + http/1.1.
    acc = accept();
    const c2 = net.connect(port, '127.0.0.1');
    sockets.push(c2);
    s = await acc;
    const p2 = inspectConnection(s, { tlsInspector: true, httpInspector: true });
    c2.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const r2 = await p2;
    assert.equal(r2.transportProtocol, 'raw_buffer');
    assert.deepEqual(r2.applicationProtocols, ['http/1.1']);
    assert.equal(r2.peeked.toString(), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');

    // A silent client: the listener filter timeout fires.
    acc = accept();
    const c3 = net.connect(port, '127.0.0.1');
    sockets.push(c3);
    s = await acc;
    const r3 = await inspectConnection(s, { tlsInspector: true, httpInspector: false, timeoutMs: 50 });
    assert.equal(r3.timedOut, true);
    assert.equal(r3.transportProtocol, 'raw_buffer');

    // A client that half-closes after a partial hello: ended, bytes kept.
    acc = accept();
    const c4 = net.connect(port, '127.0.0.1');
    sockets.push(c4);
    s = await acc;
    const p4 = inspectConnection(s, { tlsInspector: true, httpInspector: false });
    c4.end(hello.subarray(0, 10));
    const r4 = await p4;
    assert.equal(r4.ended, true);
    assert.equal(r4.peeked.length, 10);
  } finally {
    for (const x of sockets) x.destroy();
    server.close();
  }
});
