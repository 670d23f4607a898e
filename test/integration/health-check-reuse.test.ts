// Integration tests for health-check connection reuse (Envoy reuse_connection, default true) against real servers on
// 127.0.0.1 that count the connections they accept: HTTP/1.1 keep-alive, HTTP/2 (codec HTTP2), gRPC and TCP checks
// keep one connection per host session; reuse_connection: false and connect-only TCP checks open one per check; a
// connection the backend closed, or one a timed-out check left behind, is replaced and the next check passes; TLS
// checks keep their TLS connection too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { HealthChecker, type HealthCheckerDeps } from '../../src/upstream/health-checker.js';
import { UpstreamHost } from '../../src/upstream/upstream-host.js';
import { realTimers } from '../../src/upstream/timer-source.js';
import { translateCluster } from '../../src/xds/resource-types/cluster.js';
import { jsonToCanonical } from '../../src/xds/proto-json.js';
import { Issues } from '../../src/common/validation.js';
import type { UpstreamTlsConfig } from '../../src/config/cluster.js';
import { makeCerts } from '../support/certs.js';

interface Probe {
  readonly checker: HealthChecker;
  readonly host: UpstreamHost;
  /** Results in order: true = success. */
  readonly results: boolean[];
}

/** A checker for one host on 127.0.0.1:port, built from an Envoy HealthCheck (interval 50 ms unless overridden). */
function probe(port: number, hc: Record<string, unknown>, tls: UpstreamTlsConfig | null = null): Probe {
  const issues = new Issues();
  const cfg = translateCluster(jsonToCanonical('envoy.config.cluster.v3.Cluster', {
    name: 'svc', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } },
    health_checks: [{ timeout: '1s', interval: '0.05s', no_traffic_interval: '0.05s', unhealthy_threshold: 1, healthy_threshold: 1, always_log_health_check_failures: true, ...hc }],
  }), issues);
  assert.deepEqual(issues.allErrors(), [], 'the health check translates');
  const host = new UpstreamHost({ address: '127.0.0.1', port, hostname: '', weight: 1, priority: 0, locality: {}, metadata: {}, edsHealth: 'HEALTHY', createdAt: 0 });
  const results: boolean[] = [];
  // Failures are seen through the log (always_log_health_check_failures; the healthy → unhealthy edge logs too).
  const logger = { info() {}, warn: (o: object) => void ((o as { reason?: string }).reason !== undefined && results.push(false)) };
  const deps: HealthCheckerDeps = {
    clusterName: 'svc', timers: realTimers, logger, random: () => 0, tls, hasTraffic: () => true,
    onChange: () => {}, onSuccess: () => results.push(true),
  };
  const checker = new HealthChecker(cfg.healthChecks[0], deps);
  checker.setHosts([host]);
  return { checker, host, results };
}

/** Polls until `cond` holds (bounded; the bound only limits a broken run, it is not a speed assertion). */
async function until(cond: () => boolean, what: string, limitMs = 15000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** An HTTP/1.1 server counting accepted connections and requests; keeps its sockets so a test can close them. */
async function h1Backend(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, r) => r.end('ok')) {
  const sockets = new Set<net.Socket>();
  const stats = { connections: 0, requests: 0 };
  const server = http.createServer((req, res) => {
    stats.requests++;
    handler(req, res);
  });
  server.on('connection', (s: net.Socket) => {
    stats.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return { server, port, stats, sockets, close };
}

test('HTTP/1.1 checks reuse one keep-alive connection by default; reuse_connection: false opens one per check', async () => {
  const b = await h1Backend();
  const reused = probe(b.port, { http_health_check: { path: '/healthz' } });
  try {
    reused.checker.start();
    await until(() => b.stats.requests >= 6, '6 checks');
    reused.checker.stop();
    assert.ok(reused.results.every((r) => r), 'every check passed');
    assert.equal(b.stats.connections, 1, `one connection for ${b.stats.requests} checks`);
  } finally {
    reused.checker.stop();
    await b.close();
  }
  const b2 = await h1Backend();
  const fresh = probe(b2.port, { http_health_check: { path: '/healthz' }, reuse_connection: false });
  try {
    fresh.checker.start();
    await until(() => b2.stats.requests >= 5, '5 checks');
    fresh.checker.stop();
    assert.ok(fresh.results.every((r) => r));
    assert.equal(b2.stats.connections, b2.stats.requests, 'one connection per check');
  } finally {
    fresh.checker.stop();
    await b2.close();
  }
});

test('HTTP/1.1: a connection the backend closed is replaced and the next check passes; a non-2xx keeps the connection', async () => {
  let status = 200;
  const b = await h1Backend((_q, r) => {
    r.writeHead(status);
    r.end();
  });
  const p = probe(b.port, { http_health_check: { path: '/' } });
  try {
    p.checker.start();
    await until(() => b.stats.requests >= 3, '3 checks');
    assert.equal(b.stats.connections, 1);
    // The backend drops the idle keep-alive connection between two checks.
    for (const s of b.sockets) s.destroy();
    const before = b.stats.requests;
    await until(() => b.stats.requests >= before + 3, '3 more checks');
    assert.equal(b.stats.connections, 2, 'one reconnect');
    assert.ok(p.results.length >= 5 && p.results.every((r) => r), `every check passed: ${p.results.join(',')}`);
    // A failing status is an answer on a healthy connection (Envoy keeps it).
    status = 503;
    const failedAt = p.results.length;
    await until(() => p.results.length >= failedAt + 3, '3 failing checks');
    status = 200;
    assert.equal(b.stats.connections, 2, 'no new connection for 503 answers');
    assert.ok(p.results.slice(failedAt).some((r) => !r));
  } finally {
    p.checker.stop();
    await b.close();
  }
});

test('HTTP/1.1: a timed-out check closes its connection; the next one connects again', async () => {
  let stall = false;
  const b = await h1Backend((_q, r) => {
    if (stall) return; // never answers: the check times out
    r.end('ok');
  });
  const p = probe(b.port, { http_health_check: { path: '/' }, timeout: '0.2s' });
  try {
    p.checker.start();
    await until(() => b.stats.requests >= 2, '2 checks');
    stall = true;
    await until(() => p.results.includes(false), 'a timeout');
    stall = false;
    const at = p.results.length;
    await until(() => p.results.length >= at + 2, '2 more checks');
    assert.ok(p.results.slice(at).every((r) => r), 'checks after the timeout pass');
    assert.equal(b.stats.connections, 2, 'the stalled connection was closed and replaced once');
    assert.equal(b.sockets.size, 1, 'the stalled connection is gone at the backend');
  } finally {
    p.checker.stop();
    await b.close();
  }
});

/** An HTTP/2 server counting sessions and streams; /grpc.health.v1.Health/Check answers SERVING. */
async function h2Backend() {
  const stats = { sessions: 0, streams: 0 };
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on('session', (s) => {
    stats.sessions++;
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stats.streams++;
    if (headers[':path'] === '/grpc.health.v1.Health/Check') {
      stream.on('data', () => {});
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01])); // HealthCheckResponse{status: SERVING}
      });
      return;
    }
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  const port = await listen(server as unknown as net.Server);
  const close = async (): Promise<void> => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return { port, stats, sessions, close };
}

for (const kind of ['http2', 'grpc'] as const) {
  const hc = kind === 'http2' ? { http_health_check: { path: '/healthz', codec_client_type: 'HTTP2' } } : { grpc_health_check: {} };
  test(`${kind === 'http2' ? 'HTTP/2' : 'gRPC'} checks share one HTTP/2 session; reuse_connection: false opens one per check; a closed session is replaced`, async () => {
    const b = await h2Backend();
    const p = probe(b.port, hc);
    try {
      p.checker.start();
      await until(() => b.stats.streams >= 5, '5 checks');
      assert.equal(b.stats.sessions, 1, `one session for ${b.stats.streams} checks`);
      for (const s of b.sessions) s.close(); // GOAWAY, then the session ends
      const before = b.stats.streams;
      await until(() => b.stats.streams >= before + 3, '3 more checks');
      assert.equal(b.stats.sessions, 2, 'one new session after the backend closed the first');
      p.checker.stop();
      assert.ok(p.results.length >= 6 && p.results.every((r) => r), `every check passed: ${p.results.join(',')}`);
    } finally {
      p.checker.stop();
      await b.close();
    }
    const b2 = await h2Backend();
    const f = probe(b2.port, { ...hc, reuse_connection: false });
    try {
      f.checker.start();
      await until(() => b2.stats.streams >= 5, '5 checks');
      f.checker.stop();
      assert.ok(f.results.every((r) => r));
      assert.equal(b2.stats.sessions, b2.stats.streams, 'one session per check');
    } finally {
      f.checker.stop();
      await b2.close();
    }
  });
}

/** A TCP server answering every "ping" with "pong", counting connections and pings. */
async function tcpBackend() {
  const stats = { connections: 0, pings: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    stats.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => {
      for (let i = d.indexOf('ping'); i >= 0; i = d.indexOf('ping', i + 4)) {
        stats.pings++;
        s.write('pong');
      }
    });
  });
  const port = await listen(server);
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return { port, stats, sockets, close };
}

const PING = { send: { text: Buffer.from('ping').toString('hex') }, receive: [{ text: Buffer.from('pong').toString('hex') }] };

test('TCP checks with a receive payload keep one connection; reuse_connection: false and connect-only checks open one per check', async () => {
  const b = await tcpBackend();
  const p = probe(b.port, { tcp_health_check: PING });
  try {
    p.checker.start();
    await until(() => b.stats.pings >= 5, '5 checks');
    assert.equal(b.stats.connections, 1, `one connection for ${b.stats.pings} checks`);
    for (const s of b.sockets) s.destroy();
    const before = b.stats.pings;
    await until(() => b.stats.pings >= before + 3, '3 more checks');
    p.checker.stop();
    assert.equal(b.stats.connections, 2, 'one reconnect after the backend closed the connection');
    assert.ok(p.results.length >= 6 && p.results.every((r) => r), `every check passed: ${p.results.join(',')}`);
  } finally {
    p.checker.stop();
    await b.close();
  }
  const b2 = await tcpBackend();
  const f = probe(b2.port, { tcp_health_check: PING, reuse_connection: false });
  const c = probe(b2.port, { tcp_health_check: {} });
  try {
    f.checker.start();
    await until(() => b2.stats.pings >= 5, '5 checks');
    f.checker.stop();
    assert.ok(f.results.every((r) => r));
    assert.equal(b2.stats.connections, b2.stats.pings, 'one connection per check');
    const conns = b2.stats.connections;
    c.checker.start();
    await until(() => c.results.length >= 4, '4 connect-only checks');
    c.checker.stop();
    assert.ok(c.results.every((r) => r));
    assert.ok(b2.stats.connections - conns >= 4, 'a connect-only check always closes its connection (Envoy)');
  } finally {
    f.checker.stop();
    c.checker.stop();
    await b2.close();
  }
});

test('HTTP/1.1 over TLS: one TLS connection (one handshake) across checks', async () => {
  const certs = await makeCerts(['127.0.0.1']);
  const leaf = certs.certFor('127.0.0.1');
  const stats = { handshakes: 0, requests: 0 };
  const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (_q, r) => {
    stats.requests++;
    r.end('ok');
  });
  server.on('secureConnection', () => stats.handshakes++);
  const port = await listen(server);
  const tls: UpstreamTlsConfig = {
    sni: '', alpn: [], trustedCa: certs.caPem, sanMatchers: [], certificateChain: null, privateKey: null,
    minVersion: null, maxVersion: null, cipherSuites: [], allowRenegotiation: false, key: 'hc-test',
  };
  const p = probe(port, { http_health_check: { path: '/' } }, tls);
  let bad: Probe | null = null;
  try {
    p.checker.start();
    await until(() => stats.requests >= 5, '5 checks');
    p.checker.stop();
    assert.ok(p.results.every((r) => r), 'the backend certificate verifies against the CA (no hostname check against the Host header)');
    assert.equal(stats.handshakes, 1, `one TLS connection for ${stats.requests} checks`);
    // The cluster's SAN matchers apply to check connections as to the data path.
    bad = probe(port, { http_health_check: { path: '/' } }, { ...tls, sanMatchers: [{ sanType: 'DNS', match: { kind: 'exact', value: 'other.example', ignoreCase: false } }] });
    bad.checker.start();
    await until(() => bad!.results.length >= 2, '2 checks with a SAN mismatch');
    assert.ok(bad.results.every((r) => !r), 'a SAN mismatch fails the check');
  } finally {
    p.checker.stop();
    bad?.checker.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await certs.cleanup();
  }
});
