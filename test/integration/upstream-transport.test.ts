// Upstream transport end to end (issue 4): mTLS to a backend that requires a client certificate via the cluster's
// UpstreamTlsContext (SNI, CA validation with match_typed_subject_alt_names, client cert from files); a wrong CA or
// SAN mismatch fails with 503 UF and the TLS reason in the details; transport_socket_matches picks TLS per host;
// an HTTP/2 upstream GOAWAY's refused streams are re-sent on a new connection; pools count host connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EchoUpstream } from '../support/upstreams.js';
import { makeCerts } from '../support/certs.js';
import type { TestCerts } from '../support/certs.js';
import { pollUntil } from '../support/meshlet-process.js';
import { DataPlane, clusterFrom, forward, httpListener, listenerFrom, ScriptedRouteTable, staticCluster } from '../support/data-plane.js';

let dp: DataPlane;
let port = 0;
let pki: TestCerts;
let otherPki: TestCerts;
let tlsBackend: EchoUpstream;
let plainBackend: EchoUpstream;
let goaway: GoawayServer;

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function get(path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function tlsSocket(caFile: string, san: string, client: { certFile: string; keyFile: string } | null): Record<string, unknown> {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: 'backend.svc',
      common_tls_context: {
        ...(client ? { tls_certificates: [{ certificate_chain: { filename: client.certFile }, private_key: { filename: client.keyFile } }] } : {}),
        validation_context: {
          trusted_ca: { filename: caFile },
          match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: san } }],
        },
      },
    },
  };
}

/** A node:http2 server that, on its first connection, holds the first stream, sends GOAWAY(last = first stream) once
 *  three streams are open, then answers the first: the other two were refused and must come back on a new one. */
class GoawayServer {
  readonly server = http2.createServer();
  readonly sessions = new Set<http2.ServerHttp2Session>();
  connections = 0;
  answered: { conn: number; path: string }[] = [];
  port = 0;

  async start(): Promise<void> {
    this.server.on('session', (s) => {
      this.sessions.add(s);
      s.on('close', () => this.sessions.delete(s));
      s.on('error', () => undefined);
      const conn = ++this.connections;
      const held: http2.ServerHttp2Stream[] = [];
      s.on('stream', (st, headers) => {
        st.on('error', () => undefined);
        const path = String(headers[':path']);
        if (conn === 1) {
          held.push(st);
          if (held.length === 3) {
            const first = held[0];
            s.goaway(http2.constants.NGHTTP2_NO_ERROR, first.id ?? 1);
            this.answered.push({ conn, path: String(first.sentHeaders?.[':path'] ?? 'first') });
            first.respond({ ':status': 200, 'x-conn': String(conn) });
            first.end('first');
          }
          return;
        }
        this.answered.push({ conn, path });
        st.respond({ ':status': 200, 'x-conn': String(conn) });
        st.end(path);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

before(async () => {
  pki = await makeCerts(['backend.svc', 'client.mesh']);
  otherPki = await makeCerts(['backend.svc']);
  const server = pki.certFor('backend.svc');
  tlsBackend = await EchoUpstream.start({ name: 'tls', tls: { cert: server.cert, key: server.key, ca: pki.caPem, requestCert: true } });
  plainBackend = await EchoUpstream.start({ name: 'plain' });
  goaway = new GoawayServer();
  await goaway.start();
  const client = pki.certFor('client.mesh');
  dp = new DataPlane();
  dp.setClusters([
    clusterFrom(staticCluster('mtls', [tlsBackend.port], { transport_socket: tlsSocket(pki.caFile, 'backend.svc', client) })),
    clusterFrom(staticCluster('wrongca', [tlsBackend.port], { transport_socket: tlsSocket(otherPki.caFile, 'backend.svc', client) })),
    clusterFrom(staticCluster('wrongsan', [tlsBackend.port], { transport_socket: tlsSocket(pki.caFile, 'other.svc', client) })),
    clusterFrom(staticCluster('nocert', [tlsBackend.port], { transport_socket: tlsSocket(pki.caFile, 'backend.svc', null) })),
    clusterFrom({
      ...staticCluster('tsm', []),
      lb_policy: 'ROUND_ROBIN',
      load_assignment: {
        cluster_name: 'tsm',
        endpoints: [{
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: tlsBackend.port } } }, metadata: { filter_metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } } },
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: plainBackend.port } } } },
          ],
        }],
      },
      transport_socket_matches: [
        { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transport_socket: tlsSocket(pki.caFile, 'backend.svc', client) },
        { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } },
      ],
    }),
    clusterFrom(staticCluster('h2', [goaway.port], {
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: {} },
        },
      },
    })),
  ]);
  dp.routes.tables.set('routes', new ScriptedRouteTable('routes', [
    ['/mtls', forward('mtls')],
    ['/wrongca', forward('wrongca')],
    ['/wrongsan', forward('wrongsan')],
    ['/nocert', forward('nocert')],
    ['/tsm', forward('tsm')],
    ['/h2', forward('h2')],
  ]));
  await dp.setListeners([listenerFrom(httpListener('ingress'))]);
  port = dp.port('ingress');
});

after(async () => {
  await dp.close();
  await Promise.all([tlsBackend.close(), plainBackend.close(), goaway.close()]);
  await Promise.all([pki.cleanup(), otherPki.cleanup()]);
});

function lastStream(path: string): { flags: readonly string[]; details: string } {
  const s = [...dp.streams].reverse().find((x) => x.head.path === path);
  assert.ok(s, `stream for ${path}`);
  return { flags: s.responseFlags, details: s.responseCodeDetails };
}

test('mTLS: SNI, CA + SAN validation and the client certificate from files reach a backend that requires it', async () => {
  const r = await get('/mtls');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['x-upstream'], 'tls');
  assert.equal(JSON.parse(r.body).path, '/mtls');
  const host = dp.clusters.get('mtls')?.hosts()[0];
  assert.ok(host?.stats && host.stats.cxTotal >= 1 && host.stats.cxConnectFail === 0, `cx stats ${JSON.stringify(host?.stats)}`);
});

for (const [path, what] of [['/wrongca', 'a CA that did not sign the backend'], ['/wrongsan', 'a SAN matcher the backend certificate does not satisfy']]) {
  test(`upstream TLS with ${what} fails with 503 UF and the TLS reason`, async () => {
    const n = tlsBackend.requests.length;
    const r = await get(path);
    assert.equal(r.status, 503);
    assert.match(r.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure, transport failure reason: TLS_error/);
    const s = lastStream(path);
    assert.deepEqual(s.flags, ['UF']);
    assert.match(s.details, /^upstream_reset_before_response_started\{connection_failure,TLS_error:/);
    if (path === '/wrongsan') assert.match(r.body, /other\.svc|SAN|altname/i);
    assert.equal(tlsBackend.requests.length, n, 'the backend never saw the request');
    const host = dp.clusters.get(path.slice(1))?.hosts()[0];
    assert.ok((host?.stats?.cxConnectFail ?? 0) >= 1, 'cx_connect_fail counted');
  });
}

test('a backend requiring a client certificate rejects a cluster without one (503, never reaches the backend)', async () => {
  const n = tlsBackend.requests.length;
  const r = await get('/nocert');
  assert.equal(r.status, 503);
  // Under TLS 1.3 the client learns of the rejection only after its first write: the server just closes (UC), or
  // sends a certificate_required alert (UF). Either way nothing reached the backend.
  const flags = lastStream('/nocert').flags;
  assert.ok(flags.length === 1 && (flags[0] === 'UF' || flags[0] === 'UC'), `flags ${flags}`);
  assert.equal(tlsBackend.requests.length, n);
});

test('transport_socket_matches: TLS to the tlsMode=istio endpoint, plaintext to the other, pools keyed per context', async () => {
  const seen = new Map<string, number>();
  for (let i = 0; i < 6; i++) {
    const r = await get('/tsm');
    assert.equal(r.status, 200, r.body);
    const u = String(r.headers['x-upstream']);
    seen.set(u, (seen.get(u) ?? 0) + 1);
  }
  assert.deepEqual([...seen].sort(), [['plain', 3], ['tls', 3]]);
});

test('HTTP/2 upstream GOAWAY: streams above the last stream id are re-sent on a new connection and all succeed', async () => {
  const replies = await Promise.all([get('/h2/a'), get('/h2/b'), get('/h2/c')]);
  for (const r of replies) assert.equal(r.status, 200, r.body);
  const conns = replies.map((r) => r.headers['x-conn']).sort();
  assert.deepEqual(conns, ['1', '2', '2'], 'one stream answered before GOAWAY, two refused ones on the second connection');
  assert.equal(goaway.connections, 2);
  const host = dp.clusters.get('h2')?.hosts()[0];
  assert.ok(host?.stats && host.stats.cxTotal === 2, `cx_total ${host?.stats?.cxTotal}`);
  // The drained first connection closes; the second stays up.
  // This peer keeps its half open (it never answers the refused streams): the 1 s close grace cuts it.
  await pollUntil('first connection closed', async () => host.stats?.cxActive === 1, 5000, 20);
});
