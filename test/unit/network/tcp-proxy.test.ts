// tcp_proxy over real sockets: config translation, cluster choice (single, weighted, sni_cluster), connect retries
// on other hosts with outcomes reported, circuit breaker overflow, replay of peeked bytes, half-close both ways,
// backpressure on large transfers, idle timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Issues } from '../../../src/common/validation.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { translateTcpProxy } from '../../../src/xds/resource-types/tcp-proxy.js';
import { TcpProxy, type DownstreamConnection, type TcpSessionResult } from '../../../src/network/tcp-proxy/tcp-proxy.js';
import { applySniCluster } from '../../../src/network/sni-cluster.js';
import { StaticClusters, type StaticClusterSpec } from '../../integration/l4-support/static-clusters.js';
import type { TcpProxyConfig } from '../../../src/config/tcp-proxy.js';

function cfg(json: Record<string, unknown>): TcpProxyConfig {
  const issues = new Issues('typed_config');
  const c = translateTcpProxy(jsonToCanonical('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', json), issues);
  assert.deepEqual(issues.allErrors(), []);
  return c;
}

interface Harness {
  proxyPort: number;
  results: TcpSessionResult[];
  proxy: TcpProxy;
  close(): Promise<void>;
}

/** A listener handing every connection to a TcpProxy (allowHalfOpen, as the real listener does). */
async function startProxy(config: TcpProxyConfig, clusters: StaticClusters, opts: { peek?: number; sni?: string; random?: () => number } = {}): Promise<Harness> {
  const results: TcpSessionResult[] = [];
  const proxy = new TcpProxy(config, { clusters, ...(opts.random ? { random: opts.random } : {}) });
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    const go = (peeked: Buffer): void => {
      let conn: DownstreamConnection = { socket: s, peeked };
      if (opts.sni !== undefined) conn = applySniCluster(conn, opts.sni);
      void proxy.handle(conn).done.then((r) => results.push(r));
    };
    if (opts.peek) {
      // Stand-in for a listener filter that read the first bytes.
      s.resume();
      s.once('data', (d: Buffer) => { s.pause(); go(d); });
    } else go(Buffer.alloc(0));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    proxyPort: (server.address() as net.AddressInfo).port,
    results,
    proxy,
    close: async () => { for (const s of sockets) s.destroy(); server.close(); await once(server, 'close'); },
  };
}

/** An upstream that echoes with a tag, and on FIN writes 'bye' then ends (so half-close is visible). */
async function startEcho(tag: string): Promise<{ port: number; key: string; close(): Promise<void>; conns: number }> {
  const sockets = new Set<net.Socket>();
  const state = { conns: 0 };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    state.conns++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('data', (d: Buffer) => s.write(`${tag}:${d.toString()}`));
    s.on('end', () => s.end(`${tag}:bye`));
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port, key: `127.0.0.1:${port}`,
    get conns() { return state.conns; },
    close: async () => { for (const s of sockets) s.destroy(); server.close(); await once(server, 'close'); },
  };
}

/** Connects, writes `msg`, half-closes, and collects everything until the server ends. */
async function roundTrip(port: number, msg: string): Promise<string> {
  const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  c.on('error', () => {});
  await once(c, 'connect');
  const chunks: Buffer[] = [];
  c.on('data', (d: Buffer) => chunks.push(d));
  c.write(msg);
  // Wait for the echo before ending, so we see echo then bye in order.
  await new Promise<void>((r) => { const f = (): void => { if (Buffer.concat(chunks).length >= msg.length) r(); else setTimeout(f, 5); }; f(); });
  c.end();
  await Promise.race([once(c, 'end'), once(c, 'close')]);
  c.destroy();
  return Buffer.concat(chunks).toString();
}

const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 400; i++) { if (cond()) return; await new Promise((r) => setTimeout(r, 10)); }
  assert.fail(`timed out waiting for ${what}`);
};

test('translation: defaults, weighted clusters, and unsupported fields named', () => {
  const c = cfg({ stat_prefix: 'tcp', cluster: 'a' });
  assert.equal(c.idleTimeoutMs, 3_600_000);
  assert.equal(c.maxConnectAttempts, 1);
  const w = cfg({ stat_prefix: 's', weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }] }, idle_timeout: '2s', max_connect_attempts: 3, hash_policy: [{ source_ip: {} }], access_log: [{ name: 'envoy.access_loggers.stdout' }] });
  assert.equal(w.totalWeight, 4);
  assert.equal(w.idleTimeoutMs, 2000);
  assert.equal(w.maxConnectAttempts, 3);
  assert.deepEqual(w.hashPolicy, { kind: 'source_ip' });
  assert.equal(w.accessLog.length, 1);
  const issues = new Issues('f');
  translateTcpProxy({ stat_prefix: '', tunneling_config: { hostname: 'x' }, metadata_match: {}, weighted_clusters: { clusters: [{ name: 'a', weight: 0 }] } }, issues);
  assert.deepEqual(issues.allErrors().map((e) => e.path).sort(), ['f.metadata_match', 'f.stat_prefix', 'f.tunneling_config', 'f.weighted_clusters.clusters[0].weight']);
  const none = new Issues('f');
  translateTcpProxy({ stat_prefix: 'x' }, none);
  assert.equal(none.allErrors()[0].path, 'f.cluster');
});

test('echo with half-close both ways, bytes counted, outcome reported; peeked bytes replayed first', async () => {
  const echo = await startEcho('A');
  const clusters = new StaticClusters([{ name: 'a', hosts: [echo.key] }]);
  const h = await startProxy(cfg({ stat_prefix: 't', cluster: 'a' }), clusters, { peek: 1 });
  try {
    assert.equal(await roundTrip(h.proxyPort, 'hello'), 'A:helloA:bye');
    await waitFor(() => h.results.length === 1, 'session end');
    const r = h.results[0];
    assert.equal(r.cluster, 'a');
    assert.equal(r.upstreamHost, echo.key);
    assert.equal(r.bytesReceived, 5);
    assert.equal(r.bytesSent, 'A:helloA:bye'.length);
    assert.deepEqual(r.responseFlags, []);
    assert.deepEqual(clusters.get('a')!.outcomes.map((o) => o.outcome.kind), ['success_local']);
    assert.equal(clusters.get('a')!.breaker.active, 0, 'connection slot released');
    assert.equal(h.proxy.stats.downstreamCxActive, 0);
  } finally { await h.close(); await echo.close(); }
});

test('server-side half-close: upstream FIN reaches the client while the client can still send', async () => {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.end('greeting');
    s.on('data', (d: Buffer) => { received.push(d.toString()); });
    s.on('error', () => {});
  });
  const received: string[] = [];
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const key = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const h = await startProxy(cfg({ stat_prefix: 't', cluster: 'g' }), new StaticClusters([{ name: 'g', hosts: [key] }]));
  try {
    const c = net.connect({ port: h.proxyPort, host: '127.0.0.1', allowHalfOpen: true });
    const closed = once(c, 'close');
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    await once(c, 'end');
    assert.equal(Buffer.concat(chunks).toString(), 'greeting');
    c.end('after-fin');
    await waitFor(() => received.join('') === 'after-fin', 'client bytes after upstream FIN');
    await closed;
  } finally { await h.close(); server.close(); }
});

test('connect failures retry other hosts up to max_connect_attempts and report connect_failure', async () => {
  const dead = net.createServer();
  dead.listen(0, '127.0.0.1');
  await once(dead, 'listening');
  const deadKey = `127.0.0.1:${(dead.address() as net.AddressInfo).port}`;
  dead.close();
  await once(dead, 'close');
  const echo = await startEcho('B');
  const clusters = new StaticClusters([{ name: 'b', hosts: [deadKey, echo.key] }, { name: 'd', hosts: [deadKey] }]);
  const ok = await startProxy(cfg({ stat_prefix: 't', cluster: 'b', max_connect_attempts: 2 }), clusters);
  const bad = await startProxy(cfg({ stat_prefix: 't', cluster: 'd', max_connect_attempts: 3 }), clusters);
  try {
    assert.equal(await roundTrip(ok.proxyPort, 'x'), 'B:xB:bye');
    assert.deepEqual(clusters.get('b')!.outcomes.map((o) => `${o.host}=${o.outcome.kind}`), [`${deadKey}=connect_failure`, `${echo.key}=success_local`]);
    const c = net.connect(bad.proxyPort, '127.0.0.1');
    c.on('error', () => {});
    await once(c, 'close');
    await waitFor(() => bad.results.length === 1, 'failed session');
    assert.deepEqual(bad.results[0].responseFlags, ['UF']);
    assert.equal(bad.results[0].connectAttempts, 3, 'a single-host cluster retries the same host');
    assert.deepEqual(clusters.get('d')!.outcomes.map((o) => o.outcome.kind), ['connect_failure', 'connect_failure', 'connect_failure']);
  } finally { await ok.close(); await bad.close(); await echo.close(); }
});

test('weighted_clusters split by weight; sni_cluster overrides; missing cluster → NC; breaker overflow → UO', async () => {
  const a = await startEcho('A');
  const b = await startEcho('B');
  const specs: StaticClusterSpec[] = [{ name: 'a', hosts: [a.key] }, { name: 'b', hosts: [b.key] }, { name: 'one', hosts: [a.key], maxConnections: 1 }];
  const clusters = new StaticClusters(specs);
  const seq = [0.1, 0.5, 0.9, 0.3];
  let i = 0;
  const weighted = await startProxy(cfg({ stat_prefix: 'w', weighted_clusters: { clusters: [{ name: 'a', weight: 1 }, { name: 'b', weight: 3 }] } }), clusters, { random: () => seq[i++ % seq.length] });
  const sni = await startProxy(cfg({ stat_prefix: 's', cluster: 'a' }), clusters, { sni: 'b' });
  const missing = await startProxy(cfg({ stat_prefix: 'm', cluster: 'nope' }), clusters);
  const limited = await startProxy(cfg({ stat_prefix: 'l', cluster: 'one' }), clusters);
  try {
    const got: string[] = [];
    for (let k = 0; k < 4; k++) got.push((await roundTrip(weighted.proxyPort, 'q'))[0]);
    assert.deepEqual(got, ['A', 'B', 'B', 'B']);
    assert.equal(await roundTrip(sni.proxyPort, 'z'), 'B:zB:bye');
    const m = net.connect(missing.proxyPort, '127.0.0.1');
    m.on('error', () => {});
    await once(m, 'close');
    await waitFor(() => missing.results.length === 1, 'no-cluster session');
    assert.deepEqual(missing.results[0].responseFlags, ['NC']);
    const hold = net.connect(limited.proxyPort, '127.0.0.1');
    await waitFor(() => clusters.get('one')!.breaker.active === 1, 'first connection');
    const over = net.connect(limited.proxyPort, '127.0.0.1');
    over.on('error', () => {});
    await once(over, 'close');
    await waitFor(() => limited.results.length === 1, 'overflow session');
    assert.deepEqual(limited.results[0].responseFlags, ['UO']);
    hold.destroy();
    await waitFor(() => clusters.get('one')!.breaker.active === 0, 'slot released after reset');
  } finally {
    for (const h of [weighted, sni, missing, limited]) await h.close();
    await a.close(); await b.close();
  }
});

test('backpressure: 32 MiB both ways through a slow reader arrives intact', async () => {
  const size = 32 * 1024 * 1024;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.pipe(s); // echo with backpressure
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const key = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const h = await startProxy(cfg({ stat_prefix: 'bp', cluster: 'e' }), new StaticClusters([{ name: 'e', hosts: [key] }]));
  try {
    const c = net.connect({ port: h.proxyPort, host: '127.0.0.1', allowHalfOpen: true });
    const block = Buffer.alloc(64 * 1024);
    for (let j = 0; j < block.length; j++) block[j] = j & 0xff;
    let received = 0;
    let bad = false;
    c.pause();
    c.on('data', (d: Buffer) => { for (let j = 0; j < d.length; j += 4093) if (d[j] !== ((received + j) & 0xff)) bad = true; received += d.length; });
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        sent += block.length;
        if (!c.write(block)) { c.once('drain', pump); return; }
      }
      c.end();
    };
    const ended = once(c, 'end');
    pump();
    // With the reader paused, backpressure must travel client ← proxy ← echo ← proxy ← client and stall the
    // writer well before 32 MiB (a proxy that buffered without limit would let the writer finish).
    let stalledAt = -1;
    for (let k = 0; k < 100 && stalledAt < 0; k++) {
      const before = sent;
      await new Promise((r) => setTimeout(r, 100));
      if (sent === before && sent > 0) stalledAt = sent;
    }
    assert.ok(stalledAt > 0 && stalledAt < size, `writer stalled at ${stalledAt} of ${size}`);
    c.resume();
    await ended;
    assert.equal(received, size);
    assert.equal(bad, false);
    c.destroy();
    await waitFor(() => h.results.length === 1, 'session end');
    assert.equal(h.results[0].bytesReceived, size);
    assert.equal(h.results[0].bytesSent, size);
  } finally { await h.close(); server.close(); }
});

test('a write still held by the client socket keeps its bytes: the upstream read buffer is not reused under it', async () => {
  // Upstream reads land in one reused buffer; while a write to the client has not gone out (here: the client
  // socket is corked, as any socket whose kernel buffer is full), the next read must go to another buffer.
  let upstreamSide!: net.Socket;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.write(Buffer.alloc(3000, 'A'));
    upstreamSide = s;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const clusters = new StaticClusters([{ name: 'c', hosts: [`127.0.0.1:${(server.address() as net.AddressInfo).port}`] }]);
  const proxy = new TcpProxy(cfg({ stat_prefix: 'cork', cluster: 'c' }), { clusters });
  let down!: net.Socket;
  let done!: Promise<TcpSessionResult>;
  const front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => {
    down = s;
    s.cork();
    done = proxy.handle({ socket: s }).done;
  });
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  const c = net.connect({ port: (front.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  try {
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    await waitFor(() => down !== undefined && down.writableLength === 3000, 'first upstream chunk held by the corked client socket');
    upstreamSide.write(Buffer.alloc(3000, 'B'));
    await waitFor(() => down.writableLength === 6000, 'second upstream chunk held too');
    down.uncork();
    upstreamSide.end();
    await once(c, 'end');
    c.end();
    const got = Buffer.concat(chunks);
    assert.equal(got.length, 6000);
    assert.equal(got.toString('latin1'), 'A'.repeat(3000) + 'B'.repeat(3000));
    const r = await done;
    assert.equal(r.bytesSent, 6000);
  } finally { c.destroy(); front.close(); server.close(); }
});

test('idle timeout closes a quiet connection (and counts it)', async () => {
  const echo = await startEcho('I');
  const h = await startProxy(cfg({ stat_prefix: 'i', cluster: 'i', idle_timeout: '0.2s' }), new StaticClusters([{ name: 'i', hosts: [echo.key] }]));
  try {
    const c = net.connect(h.proxyPort, '127.0.0.1');
    c.on('error', () => {});
    await once(c, 'connect');
    c.write('ping');
    await once(c, 'data');
    await once(c, 'close');
    await waitFor(() => h.results.length === 1, 'session end');
    assert.equal(h.results[0].reason, 'idle_timeout');
    assert.equal(h.proxy.stats.idleTimeout, 1);
  } finally { await h.close(); await echo.close(); }
});

test('idle timeout spares a connection with traffic in either direction more often than the timeout', async () => {
  // Each relay path stamps activity: client → upstream bytes (echo replies come back) keep it open past 4 timeouts.
  const echo = await startEcho('A');
  const h = await startProxy(cfg({ stat_prefix: 'a', cluster: 'a', idle_timeout: '0.3s' }), new StaticClusters([{ name: 'a', hosts: [echo.key] }]));
  try {
    const c = net.connect(h.proxyPort, '127.0.0.1');
    c.on('error', () => {});
    await once(c, 'connect');
    let closed = false;
    c.once('close', () => { closed = true; });
    let replies = 0;
    c.on('data', () => { replies++; });
    for (let i = 0; i < 12; i++) {
      c.write(`ping${i}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(closed, false, 'an active connection was closed by the idle timeout');
    assert.ok(replies > 0);
    assert.equal(h.proxy.stats.idleTimeout, 0);
    // Once quiet, the same connection is closed by the timeout.
    await once(c, 'close');
    await waitFor(() => h.results.length === 1, 'session end');
    assert.equal(h.results[0].reason, 'idle_timeout');
  } finally { await h.close(); await echo.close(); }
});
