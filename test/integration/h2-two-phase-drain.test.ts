// test/integration: Envoy's two-phase HTTP/2 drain on the in-process connection manager, over cleartext AUTO (preface
// sniff), codec HTTP2 (h2c) and TLS with ALPN h2: the shutdown notice GOAWAY(2^31−1, NO_ERROR) comes first, a stream
// the client sends after it is still served, the final GOAWAY carries the last stream id processed and comes after
// drain_timeout, a stream sent after the final GOAWAY is not processed, the stream in flight completes. Plus
// --drain-strategy gradual: over a 2 s drain of many HTTP/1.1 keep-alive connections, early responses mostly keep
// their connection and late ones carry Connection: close; immediate closes every one. In both, the drain closes no
// idle HTTP/1.1 connection under its client: every request sent during the drain is answered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { DataPlane, clusterFrom, httpListener, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';
import { makeCerts } from '../support/certs.js';
import type { TestCerts } from '../support/certs.js';
import { RawH2DrainClient, waitUntil } from '../support/raw-h2-drain-client.js';

const MAX_ID = 2 ** 31 - 1;
const DRAIN_TIMEOUT_MS = 600;

// Upstream: answers after x-delay-ms (or sends its headers at once and the body after x-head-first-ms); records the
// paths it saw.
const seen: string[] = [];
const upstream = http.createServer((rq, rs) => {
  seen.push(String(rq.url));
  rq.resume();
  const headFirst = rq.headers['x-head-first-ms'];
  if (headFirst !== undefined) {
    rs.writeHead(200, { 'content-type': 'text/plain' });
    rs.flushHeaders();
    setTimeout(() => rs.end(`ok ${rq.url}`), Number(headFirst));
    return;
  }
  setTimeout(() => rs.end(`ok ${rq.url}`), Number(rq.headers['x-delay-ms'] ?? 0));
});

let certs: TestCerts;
let upstreamPort = 0;
const planes: DataPlane[] = [];

/** A data plane of its own per test: a drain stops its listener manager for good. */
async function plane(listener: Record<string, unknown>): Promise<{ dp: DataPlane; port: number }> {
  const dp = new DataPlane(10_000);
  planes.push(dp);
  dp.setClusters([clusterFrom(staticCluster('up', [upstreamPort]))]);
  dp.routes.tables.set('routes', routeTableFrom({ name: 'routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'up', timeout: '0s' } }] }] }));
  await dp.setListeners([listenerFrom(listener)]);
  return { dp, port: dp.port(String(listener.name)) };
}

function tlsChain(): Record<string, unknown> {
  const pair = certs.certFor('proxy.test');
  return {
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { inline_string: pair.cert }, private_key: { inline_string: pair.key } }],
          alpn_protocols: ['h2', 'http/1.1'],
        },
      },
    },
  };
}

before(async () => {
  certs = await makeCerts(['proxy.test']);
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as AddressInfo).port;
});

after(async () => {
  for (const dp of planes) await dp.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
  await certs.cleanup();
});

async function twoPhase(name: string, hcm: Record<string, unknown>, chain: Record<string, unknown>, useTls: boolean): Promise<void> {
  const { dp, port } = await plane(httpListener(name, 'routes', { drain_timeout: `${DRAIN_TIMEOUT_MS / 1000}s`, ...hcm }, chain));
  const c = await RawH2DrainClient.connect(port, useTls ? { tls: { ca: certs.caPem, servername: 'proxy.test' } } : {});
  const scheme = useTls ? 'https' : 'http';
  let drained: Promise<void> | null = null;
  try {
    c.get(1, `/${name}/1`, [['x-delay-ms', '1500']], scheme);
    assert.ok(await waitUntil(() => seen.includes(`/${name}/1`), 5000), 'stream 1 reached the upstream');
    drained = dp.listeners.drainAll(6000);
    assert.ok(await waitUntil(() => c.goaways().length >= 1, 3000), 'the shutdown notice arrived');
    const notice = c.goaways()[0]!;
    assert.deepEqual({ last: notice.lastStreamId, code: notice.code }, { last: MAX_ID, code: 0 }, 'first GOAWAY: last stream id 2^31−1, NO_ERROR');
    // A stream sent after the notice went out (the client had not seen it yet) is still accepted and served.
    c.get(3, `/${name}/3`, [], scheme);
    assert.ok(await waitUntil(() => c.ended(3), 3000), 'stream 3, sent after the notice, is answered');
    assert.deepEqual(c.resets(3), [], 'stream 3 is not refused');
    assert.ok(await waitUntil(() => c.goaways().length >= 2, 3000), 'the final GOAWAY follows');
    const final = c.goaways()[1]!;
    assert.deepEqual({ last: final.lastStreamId, code: final.code }, { last: 3, code: 0 }, 'final GOAWAY: the last stream id processed, NO_ERROR');
    // Not a speed claim: the final GOAWAY must not come before drain_timeout (10 ms of timer slack).
    assert.ok(final.at - notice.at >= DRAIN_TIMEOUT_MS - 10, `final GOAWAY ${Math.round(final.at - notice.at)} ms after the notice (drain_timeout ${DRAIN_TIMEOUT_MS} ms)`);
    // After the final GOAWAY a new stream is not processed; the one in flight since before the drain completes.
    c.get(5, `/${name}/5`, [], scheme);
    assert.ok(await waitUntil(() => c.ended(1), 5000), 'stream 1, in flight since before the drain, completes');
    assert.deepEqual(c.resets(1), [], 'stream 1 was not reset');
    assert.ok(await waitUntil(() => c.closed, 3000), 'the connection closes once its streams are done');
    assert.ok(!c.responded(5), 'stream 5 (above the final last stream id) got no response');
    assert.ok(!seen.includes(`/${name}/5`), 'and never reached the upstream');
  } finally {
    c.destroy();
    await drained;
  }
}

test('two-phase GOAWAY over cleartext AUTO (preface sniff)', { timeout: 30_000 }, () => twoPhase('auto', {}, {}, false));

test('two-phase GOAWAY over codec HTTP2 (h2c)', { timeout: 30_000 }, () => twoPhase('h2c', { codec_type: 'HTTP2' }, {}, false));

test('two-phase GOAWAY over TLS with ALPN h2', { timeout: 30_000 }, () => twoPhase('tls', {}, tlsChain(), true));

/** One HTTP/1.1 request of the ramp: when it was sent and answered (ms since the drain started), and how it ended. */
interface RampResult {
  readonly sentAt: number;
  readonly at: number;
  readonly close: boolean;
  /** The client error (reset, refused, …); '' when answered. */
  readonly error: string;
}

/**
 * Keep-alive HTTP/1.1 clients, one connection each, one request every `gapMs` until an answer says Connection: close
 * or a request fails; every request that ended after the drain started, with its timing. `sentAt` < 0: sent before.
 */
async function h1Ramp(port: number, clients: number, gapMs: number, drain: () => Promise<void>, runMs: number): Promise<RampResult[]> {
  const out: RampResult[] = [];
  let t0 = 0;
  let stop = false;
  const since = (): number => (t0 > 0 ? performance.now() - t0 : -1);
  const one = (agent: http.Agent, i: number): Promise<boolean> => new Promise((res) => {
    const sentAt = since();
    const rq = http.request({ host: '127.0.0.1', port, path: `/ramp/${i}`, agent, timeout: 5000 }, (r) => {
      r.resume().on('end', () => {
        const close = r.headers.connection === 'close';
        if (t0 > 0) out.push({ sentAt, at: since(), close, error: '' });
        res(!close);
      });
    });
    rq.on('error', (e: NodeJS.ErrnoException) => {
      if (t0 > 0) out.push({ sentAt, at: since(), close: false, error: `${e.code ?? ''} ${e.message}` });
      res(false);
    }).on('timeout', () => rq.destroy());
    rq.end();
  });
  const client = async (i: number): Promise<void> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await new Promise((r) => setTimeout(r, (i * gapMs) / clients));
    try {
      while (!stop && (await one(agent, i))) await new Promise((r) => setTimeout(r, gapMs));
    } finally {
      agent.destroy();
    }
  };
  const all = Array.from({ length: clients }, (_, i) => client(i));
  await new Promise((r) => setTimeout(r, 2 * gapMs));
  t0 = performance.now();
  const drained = drain();
  await new Promise((r) => setTimeout(r, runMs));
  stop = true;
  await Promise.all(all);
  await drained;
  return out;
}

test('--drain-strategy gradual: the share of Connection: close rises over the drain (HTTP/1.1 keep-alive)', { timeout: 30_000 }, async () => {
  const { dp, port } = await plane(httpListener('gradual', 'routes'));
  const T = 2000;
  const res = await h1Ramp(port, 60, 200, () => dp.listeners.drainAll(T, 'gradual'), T);
  const share = (from: number, to: number): { n: number; close: number } => {
    const w = res.filter((r) => r.at >= from && r.at < to);
    return { n: w.length, close: w.length ? w.filter((r) => r.close).length / w.length : NaN };
  };
  // The ramp: P(close) = elapsed / T. At 3/4 of the window the connections left are all told to close.
  const q1 = share(0, T / 4);
  const q3 = share(T / 2, (3 * T) / 4);
  // Quarter 4 by when the request was SENT: its response is decided after that, so past 3/4 of the window it must
  // close; judged by the answer time, a response whose headers went out just before 3/4 could land there on a loaded
  // machine and flake.
  const late = res.filter((r) => r.sentAt >= (3 * T) / 4 + 5 && r.at < T && !r.error);
  const q4 = { n: late.length, close: late.length ? late.filter((r) => r.close).length / late.length : NaN };
  console.log(`# gradual drain ${T} ms: ${res.length} responses; quarter 1: ${q1.n} (close ${q1.close.toFixed(2)}), quarter 3: ${q3.n} (close ${q3.close.toFixed(2)}), quarter 4: ${q4.n} (close ${q4.close.toFixed(2)})`);
  assert.ok(q1.n >= 20 && q3.n >= 5, `enough responses in quarters 1 and 3 (${q1.n}, ${q3.n})`);
  assert.ok(q1.close < 0.5, `early responses mostly keep their connection (close share ${q1.close.toFixed(2)})`);
  assert.ok(q1.close < q3.close, `later responses close more often (${q1.close.toFixed(2)} < ${q3.close.toFixed(2)})`);
  if (q4.n > 0) assert.equal(q4.close, 1, 'after 3/4 of the window every response closes its connection');
  // The drain closes no idle keep-alive connection under a client: each one closes after an answer saying so (only the
  // drain deadline, T, may cut a connection still open).
  assert.deepEqual(res.filter((r) => r.error && r.sentAt < T - 50), [], 'no request fails during the drain');
});

test('--drain-strategy immediate: every request sent during the drain is answered with Connection: close', { timeout: 30_000 }, async () => {
  const { dp, port } = await plane(httpListener('immediate', 'routes'));
  const clients = 10;
  const res = await h1Ramp(port, clients, 100, () => dp.listeners.drainAll(3000, 'immediate'), 500);
  const sentDuring = res.filter((r) => r.sentAt >= 0);
  console.log(`# immediate drain: ${res.length} requests ended after the drain start, ${sentDuring.length} sent after it`);
  // Each client's keep-alive connection was idle (or finishing a response whose headers preceded the drain) when the
  // drain started: it stays open, and the client's next request on it is read and answered with Connection: close.
  assert.deepEqual(res.filter((r) => r.error).map((r) => `${Math.round(r.sentAt)} ms: ${r.error}`), [], 'no request fails (no idle connection closed under a client)');
  assert.ok(sentDuring.length >= clients - 2, `most clients sent a request on their kept connection during the drain (${sentDuring.length})`);
  assert.deepEqual(sentDuring.filter((r) => !r.close), [], 'every answer to a request sent during the drain carries Connection: close');
});

/** A raw HTTP/1.1 keep-alive connection: whole responses (Content-Length or chunked) in arrival order, and its close. */
class RawH1 {
  private buf = '';
  readonly responses: { head: string; body: string }[] = [];
  headSeen = 0;
  closed = false;
  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.parse();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => (this.closed = true));
  }

  static connect(port: number): Promise<RawH1> {
    return new Promise((res, rej) => {
      const s = net.connect(port, '127.0.0.1', () => res(new RawH1(s)));
      s.once('error', rej);
    });
  }

  send(path: string, headers: Record<string, string> = {}): void {
    this.sock.write(`GET ${path} HTTP/1.1\r\nHost: drain.test\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  }

  private parse(): void {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.headSeen = Math.max(this.headSeen, this.responses.length + 1);
      const head = this.buf.slice(0, end).toLowerCase();
      let rest = this.buf.slice(end + 4);
      const cl = /content-length: *(\d+)/.exec(head);
      let body: string;
      if (cl) {
        if (rest.length < Number(cl[1])) return;
        body = rest.slice(0, Number(cl[1]));
        rest = rest.slice(Number(cl[1]));
      } else {
        const term = rest.indexOf('0\r\n\r\n');
        if (term < 0) return;
        body = rest.slice(0, term);
        rest = rest.slice(term + 5);
      }
      this.responses.push({ head, body });
      this.buf = rest;
    }
  }

  destroy(): void {
    this.sock.destroy();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('HTTP/1.1 drain: a connection whose response headers preceded the drain stays open after that response; its next request is answered with Connection: close', { timeout: 30_000 }, async () => {
  const { dp, port } = await plane(httpListener('h1-reuse', 'routes'));
  const c = await RawH1.connect(port);
  let drained: Promise<void> | null = null;
  try {
    c.send('/h1-reuse/1', { 'x-head-first-ms': '300' });
    assert.ok(await waitUntil(() => c.headSeen >= 1, 5000), 'response 1 headers arrived');
    drained = dp.listeners.drainAll(10_000, 'immediate');
    let drainedAt = 0;
    void drained.then(() => (drainedAt = performance.now()));
    assert.ok(await waitUntil(() => c.responses.length >= 1, 5000), 'response 1 completes during the drain');
    assert.doesNotMatch(c.responses[0]!.head, /connection: close/, 'its headers left before the drain: no Connection: close');
    // The connection is idle now, in a draining manager. A keep-alive client reuses it a little later.
    await sleep(150);
    assert.ok(!c.closed, 'the idle connection was not closed by the drain (its client may be sending on it)');
    c.send('/h1-reuse/2');
    assert.ok(await waitUntil(() => c.responses.length >= 2, 5000), 'the request sent on it during the drain is answered');
    assert.match(c.responses[1]!.head, /^http\/1\.1 200/, 'with 200');
    assert.match(c.responses[1]!.head, /connection: close/, 'and Connection: close');
    assert.ok(await waitUntil(() => c.closed, 3000), 'then the connection closes');
    // With no connection left the drain is over long before its 10 s deadline (exit-on-zero stays meaningful).
    assert.ok(await waitUntil(() => drainedAt > 0, 3000), 'the drain finished once its last connection closed');
  } finally {
    c.destroy();
    await drained;
  }
});

test('HTTP/1.1 drain: an idle keep-alive connection is left to its client until the drain deadline, then closed', { timeout: 30_000 }, async () => {
  const { dp, port } = await plane(httpListener('h1-idle', 'routes'));
  const c = await RawH1.connect(port);
  try {
    c.send('/h1-idle/1');
    assert.ok(await waitUntil(() => c.responses.length >= 1, 5000), 'served before the drain');
    const T = 1200;
    const t0 = performance.now();
    const drained = dp.listeners.drainAll(T, 'immediate');
    await sleep(300);
    assert.ok(!c.closed, 'not closed when the drain started');
    assert.equal(dp.listeners.activeConnections(), 1, 'and still counted as an active connection (exit on zero waits for it)');
    await drained;
    assert.ok(await waitUntil(() => c.closed, 3000), 'closed at the drain deadline');
    assert.ok(performance.now() - t0 >= T - 20, 'not before it');
  } finally {
    c.destroy();
  }
});
