// test/integration: HTTP/1.1 smuggling and malformed-request cases of security.md §3.2, sent as exact raw bytes over
// a net.Socket to a real meshlet listener; each gets its documented status and the upstream sees nothing. Also the
// request-hygiene rules that do reach the upstream (h2c stripped, absolute-form authority, Connection-listed XFF,
// untrusted x-envoy-* overrides) and the overload manager's 503 OM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { DataPlane, clusterFrom, httpListener, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';

/** An upstream that records every request it sees (at header time) and echoes the headers back as JSON. */
class CountingUpstream {
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[] = [];
  readonly server = http.createServer((req, res) => {
    this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  port = 0;
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

interface RawResult { readonly status: number; readonly statuses: number[]; readonly text: string; readonly closed: boolean }

/** Writes `bytes`, collects what comes back until the server closes or `waitMs` of silence; bounded. */
function raw(port: number, bytes: string | Buffer, waitMs = 700): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    let idle: NodeJS.Timeout | null = null;
    const done = (): void => {
      if (idle) clearTimeout(idle);
      clearTimeout(hard);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      const final = statuses.filter((s) => s !== 100);
      resolve({ status: final[0] ?? 0, statuses, text, closed });
    };
    const hard = setTimeout(done, 5000);
    const arm = (): void => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(done, waitMs);
    };
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      done();
    });
    sock.on('connect', () => {
      sock.write(bytes);
      arm();
    });
  });
}

const up = new CountingUpstream();
const dp = new DataPlane(1000);
let mesh = 0; // defaults (ALLOW underscores, no normalisation): Node + meshlet checks only
let edge = 0; // Envoy's edge values: REJECT underscores, normalize+merge, REJECT escaped slashes, use_remote_address
let drop = 0; // DROP_HEADER underscores, UNESCAPE_AND_REDIRECT

before(async () => {
  await up.start();
  dp.setClusters([clusterFrom(staticCluster('backend', [up.port]))]);
  dp.routes.tables.set('routes', routeTableFrom({
    name: 'routes',
    virtual_hosts: [{
      name: 'all',
      domains: ['*'],
      routes: [
        { match: { prefix: '/admin' }, direct_response: { status: 403 } },
        { match: { prefix: '/' }, route: { cluster: 'backend' } },
      ],
    }],
  }));
  await dp.setListeners([
    listenerFrom(httpListener('mesh')),
    listenerFrom(httpListener('edge', 'routes', {
      use_remote_address: true, normalize_path: true, merge_slashes: true,
      path_with_escaped_slashes_action: 'REJECT_REQUEST',
      common_http_protocol_options: { headers_with_underscores_action: 'REJECT_REQUEST' },
    })),
    listenerFrom(httpListener('drop', 'routes', {
      normalize_path: true, merge_slashes: true, path_with_escaped_slashes_action: 'UNESCAPE_AND_REDIRECT',
      common_http_protocol_options: { headers_with_underscores_action: 'DROP_HEADER' },
    })),
  ]);
  mesh = dp.port('mesh');
  edge = dp.port('edge');
  drop = dp.port('drop');
});

after(async () => {
  await dp.close();
  await up.close();
});

const H = 'Host: a.example\r\n';

/** [id, bytes, expected status] — every one must be refused with nothing reaching the upstream. */
const REFUSED: readonly (readonly [string, string, number])[] = [
  ['F01 CL.TE', `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`, 400],
  ['F02 TE.CL', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`, 400],
  ['F03 two CL, different', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`, 400],
  ['F04 two CL, same', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`, 400],
  ['F05 CL list', `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`, 400],
  ['F06 CL +3', `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`, 400],
  ['F07 CL -1', `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\nabc`, 400],
  ['F08 CL 0x3', `POST / HTTP/1.1\r\n${H}Content-Length: 0x3\r\n\r\nabc`, 400],
  ['F09 CL overflow', `POST / HTTP/1.1\r\n${H}Content-Length: 18446744073709551617\r\n\r\nabc`, 400],
  ['F10 CL "1 2"', `POST / HTTP/1.1\r\n${H}Content-Length: 1 2\r\n\r\nabc`, 400],
  ['F11 TE xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, 400],
  ['F12 TE chunked, gzip', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, 400],
  ['F13 TE identity + CL', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc`, 400],
  ['F14 TE on two lines', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n`, 400],
  ['F15 TE chunked twice', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, 400],
  ['F16 space before colon', `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, 400],
  ['F17 TE obs-fold', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`, 400],
  ['F18 VT before chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n`, 400],
  ['F19 TE in HTTP/1.0', `POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 400],
  ['F22 TE quoted', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n`, 400],
  ['F23 TE chunked;q=1', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n`, 400],
  ['C01 chunk size 0x3', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n`, 400],
  ['C02 chunk size overflow', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nabc\r\n0\r\n\r\n`, 400],
  ['C03 chunk size trailing space', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n`, 400],
  ['C04 chunk size leading space', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n0\r\n\r\n`, 400],
  ['C05 chunk bare LF', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n`, 400],
  ['C06 chunk data longer than size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n`, 400],
  ['C07 chunk extension bare LF', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;x\nabc\r\n0\r\n\r\n`, 400],
  ['C08 20 KiB chunk extension', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;${'x'.repeat(20 * 1024)}\r\nabc\r\n0\r\n\r\n`, 413],
  ['C09 chunk size -3', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n`, 400],
  ['C10 trailer Content-Length', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nContent-Length: 5\r\n\r\n`, 400],
  ['C11 chunk CR without LF', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\rabc\r\n0\r\n\r\n`, 400],
  ['H01 no Host', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['H03 NUL in value', `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, 400],
  ['H04 bare CR in value', `GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, 400],
  ['H05 bare LF lines', 'GET / HTTP/1.1\nHost: a.example\n\n', 400],
  ['H07 obs-fold', `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, 400],
  ['H09 two Host headers', `GET / HTTP/1.1\r\n${H}Host: b.example\r\n\r\n`, 400],
  ['H10 invalid Host', 'GET / HTTP/1.1\r\nHost: a@b c\r\n\r\n', 400],
  ['H14 2 100 tiny headers', `GET / HTTP/1.1\r\n${H}${Array.from({ length: 2100 }, (_, i) => `a${i}: b\r\n`).join('')}\r\n`, 431],
  ['H15 70 KiB header', `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, 431],
  ['H26 Expect: y 100-continue', `POST / HTTP/1.1\r\n${H}Expect: y 100-continue\r\nContent-Length: 3\r\n\r\nabc`, 417],
  ['H26b Expect: something', `POST / HTTP/1.1\r\n${H}Expect: 200-ok\r\nContent-Length: 3\r\n\r\nabc`, 417],
  ['H30 CONNECT', `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`, 403],
];

test('every malformed or smuggling request gets its status and never reaches the upstream', async () => {
  for (const [id, bytes, status] of REFUSED) {
    const before = up.seen.length;
    const r = await raw(mesh, bytes);
    assert.equal(r.status, status, `${id}: expected ${status}, got ${r.status} (${JSON.stringify(r.text.slice(0, 120))})`);
    assert.ok(!r.statuses.includes(100), `${id}: no 100 Continue for a refused request`);
    assert.equal(up.seen.length, before, `${id}: the upstream saw ${JSON.stringify(up.seen.slice(before))}`);
  }
  // Control: the same listener forwards a well-formed request, so "nothing reached the upstream" means something.
  const ok = await raw(mesh, `GET /ok HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.equal(ok.status, 200);
  assert.equal(up.seen.at(-1)?.url, '/ok');
});

test('header count: 100 fields pass, 101 get 431 (Node would silently truncate)', async () => {
  const extra = (n: number): string => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');
  const atLimit = await raw(mesh, `GET /count HTTP/1.1\r\n${H}${extra(98)}Connection: close\r\n\r\n`);
  assert.equal(atLimit.status, 200, 'Host + 98 + Connection = 100 headers');
  const before = up.seen.length;
  const over = await raw(mesh, `GET /count HTTP/1.1\r\n${H}${extra(99)}Connection: close\r\n\r\n`);
  assert.equal(over.status, 431);
  assert.equal(up.seen.length, before);
});

test('path confusion (P-cases) on the edge listener: normalised before routing, so /admin is denied or the request rejected', async () => {
  const cases: [string, string, number][] = [
    ['P01 dot-dot', '/public/../admin', 403],
    ['P02 encoded dot-dot', '/public/%2e%2e/admin', 403],
    ['P03 %2F', '/admin%2Fsecret', 400],
    ['P04 double slash', '//admin', 403],
    ['P05 backslash', '/public\\..\\admin', 403],
    ['P06 %5C', '/public%5C..%5Cadmin', 400],
    ['P07 path parameter', '/admin;x=1', 403],
    ['P08 %00', '/admin%00', 403],
    ['P09 encoded unreserved', '/%61dmin/x', 403],
    ['P10 dot segments past root', '/../../admin', 403],
  ];
  for (const [id, path, status] of cases) {
    const before = up.seen.length;
    const r = await raw(edge, `GET ${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    assert.equal(r.status, status, `${id}: ${path} → ${r.status}`);
    assert.equal(up.seen.length, before, `${id}: reached the upstream`);
  }
  // The normalised path is what is forwarded.
  const r = await raw(edge, `GET /a/./b/../c//d HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.equal(r.status, 200);
  assert.equal(up.seen.at(-1)?.url, '/a/c/d');
  // UNESCAPE_AND_REDIRECT answers locally with the unescaped, normalised location.
  const red = await raw(drop, `GET /x%2F..%2Fadmin HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.equal(red.status, 307);
  assert.match(red.text, /location: \/admin\r\n/i);
});

test('underscore headers: REJECT_REQUEST → 400 with nothing forwarded; DROP_HEADER forwards without them; ALLOW keeps them', async () => {
  const req = `GET /u HTTP/1.1\r\n${H}X_Auth_User: admin\r\nConnection: close\r\n\r\n`;
  const before = up.seen.length;
  assert.equal((await raw(edge, req)).status, 400);
  assert.equal(up.seen.length, before);
  assert.equal((await raw(drop, req)).status, 200);
  assert.equal(up.seen.at(-1)?.headers.x_auth_user, undefined);
  assert.equal((await raw(mesh, req)).status, 200);
  assert.equal(up.seen.at(-1)?.headers.x_auth_user, 'admin');
});

test('requests that do reach the upstream are cleaned: h2c stripped, absolute form wins, Connection-listed XFF replaced, untrusted x-envoy-* dropped', async () => {
  // H24: Upgrade: h2c is stripped and the request served as plain HTTP/1.1.
  const h24 = await raw(mesh, `GET /h2c HTTP/1.1\r\n${H}Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n`);
  assert.equal(h24.status, 200);
  const s24 = up.seen.at(-1)!;
  assert.equal(s24.url, '/h2c');
  assert.equal(s24.headers.upgrade, undefined);
  assert.equal(s24.headers['http2-settings'], undefined);
  assert.ok(!String(s24.headers.connection ?? '').toLowerCase().includes('upgrade'));
  // H11: absolute-form target overrides Host.
  const h11 = await raw(mesh, `GET http://b.example/x?y=1 HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n`);
  assert.equal(h11.status, 200);
  assert.equal(up.seen.at(-1)?.headers.host, 'b.example');
  assert.equal(up.seen.at(-1)?.url, '/x?y=1');
  // H25: a client cannot remove the proxy's XFF through Connection; its own XFF is not trusted at the edge.
  const h25 = await raw(edge, `GET /xff HTTP/1.1\r\n${H}X-Forwarded-For: 6.6.6.6\r\nConnection: close, X-Forwarded-For\r\n\r\n`);
  assert.equal(h25.status, 200);
  assert.equal(up.seen.at(-1)?.headers['x-forwarded-for'], '127.0.0.1');
  // Untrusted request (XFF names an external client, use_remote_address false): retry/timeout overrides are dropped.
  const ext = await raw(mesh, `GET /env HTTP/1.1\r\n${H}X-Forwarded-For: 203.0.113.9\r\nX-Envoy-Max-Retries: 50\r\nX-Envoy-Upstream-Rq-Timeout-Ms: 999999\r\nX-Envoy-Retry-On: 5xx\r\nConnection: close\r\n\r\n`);
  assert.equal(ext.status, 200);
  const se = up.seen.at(-1)!;
  assert.equal(se.headers['x-envoy-max-retries'], undefined);
  assert.equal(se.headers['x-envoy-retry-on'], undefined);
  assert.equal(se.headers['x-envoy-upstream-rq-timeout-ms'], undefined);
});

test('Expect: exactly 100-continue gets 100 Continue then the body is forwarded', async () => {
  const sock = net.connect(mesh, '127.0.0.1');
  sock.on('error', () => undefined);
  const got: Buffer[] = [];
  const text = (): string => Buffer.concat(got).toString('latin1');
  try {
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.on('data', (c: Buffer) => got.push(c));
    sock.write(`POST /cont HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`);
    const deadline = Date.now() + 5000;
    while (!text().includes('100 Continue') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(text(), /^HTTP\/1\.1 100 Continue/);
    sock.write('hello');
    while (!text().includes('200 OK') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(text(), /HTTP\/1\.1 200/);
    assert.equal(up.seen.at(-1)?.url, '/cont');
    assert.equal(up.seen.at(-1)?.headers.expect, undefined, 'Expect is answered locally, not forwarded');
  } finally {
    sock.destroy();
  }
});
