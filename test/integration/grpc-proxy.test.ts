// gRPC through a meshlet listener (HTTP/2 prior knowledge) to a real @grpc/grpc-js server over an HTTP/2 cluster:
// unary, server/client/bidi streaming with trailers and status passed through, grpc-timeout propagation and
// capping (max_stream_duration), and trailers-only local replies with grpc-status for gRPC requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { GrpcEchoUpstream, loadEcho } from '../support/upstreams.js';
import type { EchoRequest, EchoResponse } from '../support/upstreams.js';
import { DataPlane, ScriptedRouteTable, clusterFrom, forward, httpListener, listenerFrom, staticCluster } from '../support/data-plane.js';

const H2 = { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } };

let dp: DataPlane;
let up: GrpcEchoUpstream;
let client: grpc.Client & Record<string, (...a: unknown[]) => unknown>;
let capped: grpc.Client & Record<string, (...a: unknown[]) => unknown>;
let port = 0;

before(async () => {
  up = await GrpcEchoUpstream.start('g1');
  dp = new DataPlane();
  dp.setClusters([clusterFrom(staticCluster('grpc', [up.port], H2)), clusterFrom(staticCluster('down', [1], H2))]);
  dp.routes.tables.set('routes', new ScriptedRouteTable('routes', []));
  dp.routes.tables.set('routes', {
    name: 'routes',
    route: (input) => {
      const auth = input.head.authority;
      if (auth.startsWith('down')) return forward('down');
      if (auth.startsWith('capped')) return forward('grpc', { maxStreamDuration: { grpcTimeoutHeaderMaxMs: 300 } });
      if (auth.startsWith('none')) return { kind: 'none', reason: 'no_route' };
      return forward('grpc', { maxStreamDuration: { grpcTimeoutHeaderMaxMs: 0 } });
    },
    explain: () => { throw new Error('unused'); },
  });
  await dp.setListeners([listenerFrom(httpListener('ingress'))]);
  port = dp.port('ingress');
  const { Client } = loadEcho();
  client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as never;
  capped = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'capped.local' }) as never;
});

after(async () => {
  client.close();
  capped.close();
  await dp.close();
  await up.close();
});

function unary(c: typeof client, req: EchoRequest, opts: grpc.CallOptions = {}): Promise<{ err: grpc.ServiceError | null; res: EchoResponse | null; trailers: grpc.Metadata | null }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | null = null;
    const call = (c.Unary as (r: EchoRequest, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: EchoResponse) => void) => grpc.ClientUnaryCall)(
      req, new grpc.Metadata(), opts, (err, res) => setImmediate(() => resolve({ err, res: res ?? null, trailers })));
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

test('unary call passes through with metadata, trailers and OK status', async () => {
  const { err, res, trailers } = await unary(client, { message: 'hi' });
  assert.equal(err, null);
  assert.equal(res?.message, 'hi');
  assert.equal(res?.server, 'g1');
  assert.ok(res?.metadata.some((l) => l.startsWith('x-request-id: ')));
  assert.deepEqual(trailers?.get('x-trailer'), ['unary']);
});

test('gRPC error status and message from the upstream reach the client', async () => {
  const { err } = await unary(client, { message: 'x', fail_code: grpc.status.NOT_FOUND, fail_message: 'no such thing' });
  assert.equal(err?.code, grpc.status.NOT_FOUND);
  assert.equal(err?.details, 'no such thing');
});

test('server streaming delivers every message and the trailers', async () => {
  const call = (client.ServerStream as (r: EchoRequest) => grpc.ClientReadableStream<EchoResponse>)({ message: 's', count: 5 });
  const got: string[] = [];
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    call.on('data', (r: EchoResponse) => got.push(r.message));
    call.on('status', resolve);
  });
  assert.deepEqual(got, ['s#0', 's#1', 's#2', 's#3', 's#4']);
  assert.equal(status.code, grpc.status.OK);
  assert.deepEqual(status.metadata.get('x-trailer'), ['server-stream']);
});

test('client streaming', async () => {
  const res = await new Promise<EchoResponse>((resolve, reject) => {
    const call = (client.ClientStream as (cb: (e: grpc.ServiceError | null, r: EchoResponse) => void) => grpc.ClientWritableStream<EchoRequest>)((e, r) => (e ? reject(e) : resolve(r)));
    for (const m of ['a', 'b', 'c']) call.write({ message: m });
    call.end();
  });
  assert.equal(res.message, 'a,b,c');
  assert.equal(res.index, 3);
});

test('bidi streaming interleaves requests and responses (responses arrive before the client half-closes)', async () => {
  const call = (client.Bidi as () => grpc.ClientDuplexStream<EchoRequest, EchoResponse>)();
  const first = await new Promise<EchoResponse>((resolve) => {
    call.once('data', resolve);
    call.write({ message: 'one' });
  });
  assert.equal(first.message, 'echo:one');
  const rest: string[] = [];
  call.on('data', (r: EchoResponse) => rest.push(r.message));
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.write({ message: 'two' });
  call.end();
  const s = await status;
  assert.deepEqual(rest, ['echo:two']);
  assert.equal(s.code, grpc.status.OK);
  assert.deepEqual(s.metadata.get('x-trailer'), ['bidi']);
});

test('grpc-timeout (client deadline) is propagated to the upstream', async () => {
  const { res } = await unary(client, { message: 'd' }, { deadline: Date.now() + 4000 });
  const d = Number(res?.deadline_ms);
  assert.ok(d > 0 && d <= 4000, `upstream saw deadline ${d}`);
});

test('grpc_timeout_header_max caps the deadline: the proxy times out first with a gRPC status', async () => {
  const { err } = await unary(capped, { message: 'slow', delay_ms: 2000 }, { deadline: Date.now() + 10_000 });
  assert.equal(err?.code, grpc.status.UNAVAILABLE);
  assert.equal(err?.details, 'upstream request timeout');
  assert.ok(dp.streams.some((s) => s.responseFlags.includes('UT')));
});

test('local replies to gRPC requests are trailers-only with grpc-status (no route → UNIMPLEMENTED, UF → UNAVAILABLE)', async () => {
  const { Client } = loadEcho();
  const none = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'none.local' }) as typeof client;
  const down = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'down.local' }) as typeof client;
  try {
    const r1 = await unary(none, { message: 'x' });
    assert.equal(r1.err?.code, grpc.status.UNIMPLEMENTED);
    const r2 = await unary(down, { message: 'x' });
    assert.equal(r2.err?.code, grpc.status.UNAVAILABLE);
    assert.equal(r2.err?.details, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  } finally {
    none.close();
    down.close();
  }
});
