// End to end: a @grpc/grpc-js client through the real meshlet process, configured over ADS (Delta) with an h2 EDS
// cluster in front of the gRPC Echo backend: unary with trailers, a failing status passed through, server streaming,
// bidi streaming, and a gRPC route retargeted over xDS.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TestXdsServer } from '../support/xds-server.js';
import { GrpcEchoUpstream, loadEcho, type EchoRequest, type EchoResponse } from '../support/upstreams.js';
import { MeshletProcess, adsBootstrap, e2eCluster, e2eEndpoints, e2eListener, e2eRoutes, freePort, pollUntil, T } from '../support/meshlet-process.js';

type Unary = (r: EchoRequest, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: EchoResponse) => void) => grpc.ClientUnaryCall;

describe('e2e gRPC through meshlet over xDS', { timeout: 90_000 }, () => {
  let xds: TestXdsServer;
  let g1: GrpcEchoUpstream;
  let g2: GrpcEchoUpstream;
  let m: MeshletProcess;
  let client: grpc.Client & Record<string, unknown>;

  const unary = (req: EchoRequest): Promise<{ err: grpc.ServiceError | null; res: EchoResponse | undefined; trailers: grpc.Metadata | undefined }> =>
    new Promise((res) => {
      let trailers: grpc.Metadata | undefined;
      const call = (client.Unary as Unary).call(client, req, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, r) => {
        setImmediate(() => res({ err, res: r, trailers }));
      });
      call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
    });

  before(async () => {
    xds = await TestXdsServer.start();
    g1 = await GrpcEchoUpstream.start('grpc-1');
    g2 = await GrpcEchoUpstream.start('grpc-2');
    const port = await freePort();
    m = await MeshletProcess.start({ bootstrap: adsBootstrap({ xdsPort: xds.port, apiType: 'DELTA_GRPC' }) });
    xds.setResources(T.Cluster, [e2eCluster('g1', { http2: true }), e2eCluster('g2', { http2: true })]);
    xds.setResources(T.Endpoints, [e2eEndpoints('g1', [g1.port]), e2eEndpoints('g2', [g2.port])]);
    xds.setResources(T.Route, [e2eRoutes('grpc', 'g1', [{ match: { prefix: '/meshlet.test.Echo/', grpc: {} }, route: { cluster: 'g1' } }])]);
    xds.setResources(T.Listener, [e2eListener('grpc-in', port, 'grpc', { codec_type: 'HTTP2' })]);
    await m.waitState('LIVE');
    const { Client } = loadEcho();
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as never;
  });

  after(async () => {
    client?.close();
    await m?.stop();
    await xds?.stop();
    await g1?.close();
    await g2?.close();
  });

  it('unary call reaches the backend with trailers; an error status passes through', async () => {
    const ok = await unary({ message: 'hi' });
    assert.equal(ok.err, null, `unary failed: ${ok.err?.message}\n${m.output()}`);
    assert.equal(ok.res?.message, 'hi');
    assert.equal(ok.res?.server, 'grpc-1');
    assert.deepEqual(ok.trailers?.get('x-trailer'), ['unary']);

    const bad = await unary({ message: 'x', fail_code: grpc.status.NOT_FOUND, fail_message: 'no such thing' });
    assert.equal(bad.err?.code, grpc.status.NOT_FOUND);
    assert.equal(bad.err?.details, 'no such thing');
  });

  it('server streaming and bidi streaming pass through', async () => {
    const got = await new Promise<string[]>((res, rej) => {
      const out: string[] = [];
      const s = (client.ServerStream as (r: EchoRequest) => grpc.ClientReadableStream<EchoResponse>).call(client, { message: 'm', count: 4 });
      s.on('data', (r: EchoResponse) => out.push(r.message));
      s.on('error', rej);
      s.on('end', () => res(out));
    });
    assert.deepEqual(got, ['m#0', 'm#1', 'm#2', 'm#3']);

    const echoed = await new Promise<string[]>((res, rej) => {
      const out: string[] = [];
      const s = (client.Bidi as () => grpc.ClientDuplexStream<EchoRequest, EchoResponse>).call(client);
      s.on('data', (r: EchoResponse) => {
        out.push(r.message);
        if (out.length === 1) s.write({ message: 'two' });
        else s.end();
      });
      s.on('error', rej);
      s.on('end', () => res(out));
      s.write({ message: 'one' });
    });
    assert.deepEqual(echoed, ['echo:one', 'echo:two']);
  });

  it('a route pushed over xDS moves gRPC calls to the other cluster', async () => {
    xds.setResources(T.Route, [e2eRoutes('grpc', 'g2', [{ match: { prefix: '/meshlet.test.Echo/', grpc: {} }, route: { cluster: 'g2' } }])]);
    await pollUntil('calls answered by grpc-2', async () => (await unary({ message: 'p' })).res?.server === 'grpc-2', 5000, 20);
    assert.ok(g2.calls.some((c) => c.method === 'Unary'));
  });
});
