// Tracing end to end with a real OTLP/gRPC receiver: client → meshlet A (OUTBOUND listener, CLIENT span) → meshlet B
// (INBOUND HCM, SERVER span) → upstream gives one trace with B's span a child of A's; the client's traceparent sets
// the trace id; 10 % random sampling holds within ±3 points over 2,000 requests; a collector that is down fails no
// request. HCM tracing config goes through the LDS translator as an xDS client receives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import type { HttpConnectionManagerConfig } from '../../src/config/http-connection-manager.js';
import { HttpConnectionManager } from '../../src/http/connection-manager.js';
import type { HttpDeps } from '../../src/http/connection-manager.js';
import { TracerRegistry } from '../../src/http/tracer-registry.js';
import { computeHash } from '../../src/router/hash-policy.js';
import { DataPlane, clusterFrom, httpListener, initDataPlane, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';
import { EchoUpstream } from '../support/upstreams.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';

const OTEL = 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig';

function tracing(cluster: string, serviceName: string, randomPercent = 100): Record<string, unknown> {
  return {
    random_sampling: { value: randomPercent },
    custom_tags: [{ tag: 'mesh', literal: { value: 'test-mesh' } }],
    provider: { name: 'envoy.tracers.opentelemetry', typed_config: { '@type': OTEL, service_name: serviceName, grpc_service: { envoy_grpc: { cluster_name: cluster }, timeout: '1s' } } },
  };
}

const ROUTES = (cluster: string, decorate = false): Record<string, unknown> => ({
  name: 'routes',
  virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster }, ...(decorate ? { decorator: { operation: 'backend.default.svc:8080/*' } } : {}) }] }],
});

interface Hop {
  readonly port: number;
  readonly dp: DataPlane;
  close(): Promise<void>;
}

/** meshlet B: an INBOUND HCM (SERVER spans) over a real socket, forwarding to the upstream. */
async function inboundHop(upPort: number, collectorPort: number, randomPercent: number): Promise<Hop & { hcm: HttpConnectionManager; tracers: TracerRegistry }> {
  const dp = new DataPlane(500);
  dp.setClusters([clusterFrom(staticCluster('inbound|8080||', [upPort])), clusterFrom(staticCluster('otel', [collectorPort]))]);
  dp.routes.tables.set('routes', routeTableFrom(ROUTES('inbound|8080||')));
  const l = listenerFrom(httpListener('inbound', 'routes', { tracing: tracing('otel', 'server-side', randomPercent) }));
  const cfg = l.filterChains[0].filters[0] as { config: HttpConnectionManagerConfig };
  const tracers = new TracerRegistry({ clusters: dp.clusters, node: { id: 'sidecar~b', cluster: 'b', locality: { zone: 'z1' }, metadata: {} } });
  const deps: HttpDeps = { routes: dp.routes, clusters: dp.clusters, pools: dp.pools, hashKey: computeHash, tracers };
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const hcm = new HttpConnectionManager(cfg.config, deps, port, { trafficDirection: 'INBOUND' });
  server.on('connection', (s) => hcm.handleConnection(s, ''));
  return {
    port, dp, hcm, tracers,
    close: async () => {
      hcm.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await tracers.shutdown();
      await dp.close();
    },
  };
}

/** meshlet A: an OUTBOUND listener (CLIENT spans) through the listener manager, forwarding to meshlet B. */
async function outboundHop(nextPort: number, collectorPort: number, randomPercent: number, decorate = true): Promise<Hop> {
  const dp = new DataPlane(500);
  dp.setClusters([clusterFrom(staticCluster('outbound|8080||backend', [nextPort])), clusterFrom(staticCluster('otel', [collectorPort]))]);
  dp.routes.tables.set('routes', routeTableFrom(ROUTES('outbound|8080||backend', decorate)));
  const l = listenerFrom({ ...httpListener('outbound', 'routes', { tracing: tracing('otel', 'client-side', randomPercent) }), traffic_direction: 'OUTBOUND' });
  await dp.setListeners([l]);
  return { port: dp.port('outbound'), dp, close: () => dp.close() };
}

test('two hops produce one trace: CLIENT span from the outbound proxy, SERVER span from the inbound proxy as its child', async (t) => {
  await initDataPlane();
  const otlp = new OtlpReceiver();
  const collectorPort = await otlp.start();
  const up = await EchoUpstream.start({ name: 'backend' });
  const b = await inboundHop(up.port, collectorPort, 100);
  const a = await outboundHop(b.port, collectorPort, 100);
  const agent = new Agent();
  t.after(async () => {
    await agent.close();
    await a.close();
    await b.close();
    await up.close();
    await otlp.stop();
  });

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const r = await request(`http://127.0.0.1:${a.port}/hello`, { dispatcher: agent, headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'user-agent': 'tracing-test' } });
  assert.equal(r.statusCode, 200);
  await r.body.text();
  const seen = up.requests.at(-1)!;
  const spans = await otlp.waitForSpans(2, 15_000);
  assert.equal(spans.length, 2, JSON.stringify(spans.map((s) => s.name)));
  const client = spans.find((s) => s.kind === 'CLIENT')!;
  const server = spans.find((s) => s.kind === 'SERVER')!;
  assert.ok(client && server, JSON.stringify(spans));
  assert.equal(client.traceId, traceId);
  assert.equal(server.traceId, traceId);
  assert.equal(client.parentSpanId, '00f067aa0ba902b7');
  assert.equal(server.parentSpanId, client.spanId, 'the SERVER span is the child of the CLIENT span');
  // Decorator names the client span and is propagated so the server span gets the same operation name.
  assert.equal(client.name, 'backend.default.svc:8080/*');
  assert.equal(server.name, 'backend.default.svc:8080/*');
  assert.equal(client.serviceName, 'client-side');
  assert.equal(server.serviceName, 'server-side');
  // The upstream sees B's span as the parent in traceparent, and the same x-request-id both spans carry.
  assert.equal(seen.headers.traceparent, `00-${traceId}-${server.spanId}-01`);
  const rid = String(seen.headers['x-request-id']);
  assert.equal(rid[14], '9', 'x-request-id carries the sampled decision');
  assert.equal(client.attributes['guid:x-request-id'], rid);
  assert.equal(server.attributes['guid:x-request-id'], rid);
  assert.equal(client.attributes['http.status_code'], '200');
  assert.equal(client.attributes['http.method'], 'GET');
  assert.equal(client.attributes.upstream_cluster, 'outbound|8080||backend');
  assert.equal(server.attributes.upstream_cluster, 'inbound|8080||');
  assert.equal(server.attributes.node_id, 'sidecar~b');
  assert.equal(server.attributes.zone, 'z1');
  assert.equal(client.attributes.user_agent, 'tracing-test');
  assert.equal(client.attributes.mesh, 'test-mesh');
  assert.equal(client.attributes['http.url'], `http://127.0.0.1:${a.port}/hello`);
  assert.equal(client.error, false);
  // The access-log view of the stream carries the trace id.
  assert.equal(a.dp.streams.at(-1)?.traceId, traceId);

  await t.test('a 5xx marks the span as an error', async () => {
    const before = otlp.spans.length;
    const res = await request(`http://127.0.0.1:${a.port}/fail`, { dispatcher: agent, headers: { 'x-echo-status': '503' } });
    await res.body.text();
    assert.equal(res.statusCode, 503);
    const all = await otlp.waitForSpans(before + 2, 15_000);
    const mine = all.slice(before);
    assert.ok(mine.length >= 2);
    assert.ok(mine.every((s) => s.error && s.attributes['http.status_code'] === '503'), JSON.stringify(mine));
  });
});

test('random_sampling 10 % over 2,000 requests through two hops: spans for 10 % ± 3 points, both hops agree', async (t) => {
  await initDataPlane();
  const otlp = new OtlpReceiver();
  const collectorPort = await otlp.start();
  const up = await EchoUpstream.start({ name: 'backend' });
  // B samples everything on its own, so any agreement comes from A's decision carried in traceparent.
  const b = await inboundHop(up.port, collectorPort, 100);
  const a = await outboundHop(b.port, collectorPort, 10, false);
  const agent = new Agent({ connections: 32 });
  t.after(async () => {
    await agent.close();
    await a.close();
    await b.close();
    await up.close();
    await otlp.stop();
  });
  const n = 2000;
  for (let i = 0; i < n; i += 50) {
    const rs = await Promise.all(Array.from({ length: 50 }, async () => {
      const r = await request(`http://127.0.0.1:${a.port}/s`, { dispatcher: agent });
      await r.body.text();
      return r.statusCode;
    }));
    assert.ok(rs.every((s) => s === 200));
  }
  const sampled = a.dp.streams.filter((s) => s.traceId !== '').length;
  // Wait until every sampled request's two spans arrived (bounded), then check none more come.
  await otlp.waitForSpans(sampled * 2, 20_000);
  const client = otlp.spans.filter((s) => s.kind === 'CLIENT').length;
  const server = otlp.spans.filter((s) => s.kind === 'SERVER').length;
  assert.equal(client, sampled);
  assert.equal(server, sampled, 'the inbound hop honours the outbound decision (sampled=0 traceparent)');
  const pct = (client / n) * 100;
  assert.ok(pct >= 7 && pct <= 13, `sampled ${pct.toFixed(2)} %`);
  // Unsampled requests still carry a (sampled=0) traceparent and a request id marked not-traced.
  const unsampled = up.requests.find((r) => String(r.headers.traceparent ?? '').endsWith('-00'));
  assert.ok(unsampled, 'an unsampled request reached the upstream with a sampled=0 traceparent');
});

test('collector down: every request still succeeds and the failed exports are counted, not waited for', async (t) => {
  await initDataPlane();
  // A port with nothing listening.
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadPort = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const up = await EchoUpstream.start({ name: 'backend' });
  const b = await inboundHop(up.port, deadPort, 100);
  const agent = new Agent({ connections: 16 });
  t.after(async () => {
    await agent.close();
    await b.close();
    await up.close();
  });
  const statuses = await Promise.all(Array.from({ length: 300 }, async () => {
    const r = await request(`http://127.0.0.1:${b.port}/x`, { dispatcher: agent });
    await r.body.text();
    return r.statusCode;
  }));
  assert.equal(statuses.filter((s) => s === 200).length, 300);
  const tracer = b.tracers.all()[0];
  assert.ok(tracer, 'a tracer was created for the configured collector');
  await tracer.flush();
  const st = tracer.stats();
  assert.equal(st.exported, 0);
  assert.ok(st.failed + st.dropped > 0, JSON.stringify(st));
});
