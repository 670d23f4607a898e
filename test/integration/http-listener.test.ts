// Listener lifecycle and TLS over real sockets: a listener update takes effect for new requests while an
// in-flight long request finishes on the old route; removal drains; HTTPS with ALPN h2 and http/1.1 (curl),
// certificates given inline in the DownstreamTlsContext.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EchoUpstream } from '../support/upstreams.js';
import { DataPlane, ScriptedRouteTable, clusterFrom, forward, httpListener, listenerFrom, staticCluster } from '../support/data-plane.js';

const run = promisify(execFile);

let dir = '';
let cert = '';
let key = '';
let dp: DataPlane;
let a: EchoUpstream;
let b: EchoUpstream;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshlet-dp-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-days', '2', '-subj', '/CN=proxy.test', '-addext', 'subjectAltName=DNS:proxy.test,IP:127.0.0.1'], { stdio: 'ignore' });
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  key = readFileSync(join(dir, 'key.pem'), 'utf8');
  a = await EchoUpstream.start({ name: 'a' });
  b = await EchoUpstream.start({ name: 'b' });
  dp = new DataPlane(5000);
  dp.setClusters([clusterFrom(staticCluster('a', [a.port])), clusterFrom(staticCluster('b', [b.port]))]);
  dp.routes.tables.set('to-a', new ScriptedRouteTable('to-a', [['/', forward('a')]]));
  dp.routes.tables.set('to-b', new ScriptedRouteTable('to-b', [['/', forward('b')]]));
});

after(async () => {
  await dp.close();
  await Promise.all([a.close(), b.close()]);
  rmSync(dir, { recursive: true, force: true });
});

test('listener update: new requests use the new config within 1 s while an in-flight request finishes on the old one', async () => {
  await dp.setListeners([listenerFrom(httpListener('l1', 'to-a'))]);
  const port = dp.port('l1');
  const inflight = fetch(`http://127.0.0.1:${port}/long`, { headers: { 'x-echo-delay-ms': '800', connection: 'keep-alive' } });
  await new Promise((r) => setTimeout(r, 150));
  const t0 = Date.now();
  await dp.setListeners([listenerFrom(httpListener('l1', 'to-b'))]);
  assert.equal(dp.port('l1'), port, 'same socket, no rebind');
  const res = await fetch(`http://127.0.0.1:${port}/new`);
  assert.equal(((await res.json()) as { server: string }).server, 'b');
  assert.ok(Date.now() - t0 < 1000);
  const old = await inflight;
  assert.equal(old.status, 200);
  assert.equal(((await old.json()) as { server: string }).server, 'a');
  const draining = dp.listeners.status().filter((s) => s.state === 'draining');
  assert.ok(draining.length <= 1);
});

test('removing a listener stops accepting and lets the in-flight request finish', async () => {
  await dp.setListeners([listenerFrom(httpListener('l2', 'to-a'))]);
  const port = dp.port('l2');
  const inflight = fetch(`http://127.0.0.1:${port}/long`, { headers: { 'x-echo-delay-ms': '500' } });
  await new Promise((r) => setTimeout(r, 150));
  await dp.setListeners([]);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/after`));
  const res = await inflight;
  assert.equal(res.status, 200);
  await res.arrayBuffer();
});

function tlsListener(name: string): Record<string, unknown> {
  return httpListener(name, 'to-a', {}, {
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { inline_string: cert }, private_key: { filename: join(dir, 'key.pem') } }],
          alpn_protocols: ['h2', 'http/1.1'],
        },
      },
    },
  });
}

test('HTTPS with ALPN h2 and with http/1.1 (curl), x-forwarded-proto https', async () => {
  await dp.setListeners([listenerFrom(tlsListener('tls'))]);
  const port = dp.port('tls');
  void key;
  const h2 = await run('curl', ['-s', '--max-time', '10', '--cacert', join(dir, 'cert.pem'), '--http2', '-w', '\n%{http_version}',
    '--resolve', `proxy.test:${port}:127.0.0.1`, `https://proxy.test:${port}/secure`]);
  const [body, version] = h2.stdout.split('\n');
  assert.equal(version, '2');
  const seen = JSON.parse(body);
  assert.equal(seen.server, 'a');
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  const h1 = await run('curl', ['-s', '--max-time', '10', '--cacert', join(dir, 'cert.pem'), '--http1.1', '-w', '\n%{http_version}',
    '--resolve', `proxy.test:${port}:127.0.0.1`, `https://proxy.test:${port}/secure1`]);
  assert.equal(h1.stdout.split('\n')[1], '1.1');
  await dp.setListeners([]);
});

test('a listener whose address is taken by another listener is rejected, the first keeps serving', async () => {
  await dp.setListeners([listenerFrom(httpListener('x1', 'to-a'))]);
  const port = dp.port('x1');
  const clash = listenerFrom({ ...httpListener('x2', 'to-b'), address: { socket_address: { address: '127.0.0.1', port_value: port } } });
  const res = await dp.listeners.apply([listenerFrom(httpListener('x1', 'to-a')), clash]);
  assert.deepEqual(res.map((r) => r.ok), [true, false]);
  const r = await fetch(`http://127.0.0.1:${port}/still`);
  assert.equal(((await r.json()) as { server: string }).server, 'a');
  await dp.setListeners([]);
});
