// Integration tests for active health checking against real servers on 127.0.0.1: HTTP (unhealthy then healthy
// again, expected statuses, request headers), TCP send/receive, and gRPC grpc.health.v1 served by @grpc/grpc-js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ClusterRuntime } from '../../src/upstream/upstream-cluster.js';
import { clusterResourceType } from '../../src/xds/resource-types/cluster.js';
import { jsonToCanonical } from '../../src/xds/proto-json.js';

const node = { id: 'n', cluster: 'c', locality: {}, metadata: {} };

function staticCluster(name: string, ports: number[], healthCheck: Record<string, unknown>): ClusterRuntime {
  const r = clusterResourceType.translate(jsonToCanonical('envoy.config.cluster.v3.Cluster', {
    name, type: 'STATIC',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }] },
    health_checks: [{ timeout: '1s', interval: '0.05s', no_traffic_interval: '0.05s', unhealthy_threshold: 2, healthy_threshold: 2, ...healthCheck }],
  }), { node });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return new ClusterRuntime(r.value);
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

test('HTTP health check marks a backend unhealthy, then healthy again, and honours host/headers', async () => {
  let status = 200;
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ ...req.headers, path: req.url });
    res.writeHead(req.url === '/healthz' ? status : 404);
    res.end();
  });
  const port = await listen(server);
  const cl = staticCluster('web', [port], { http_health_check: { path: '/healthz', host: 'hc.example', request_headers_to_add: [{ header: { key: 'x-probe', value: 'meshlet' } }] } });
  try {
    cl.start();
    const h = cl.hosts()[0];
    assert.ok(h.healthFlags.has('failed_active_hc'), 'new hosts start failed until the first check');
    await until(() => !h.healthFlags.has('failed_active_hc'), 'first success');
    assert.equal(cl.chooseHost({}), h);
    assert.equal(seen[0].host, 'hc.example');
    assert.equal(seen[0]['x-probe'], 'meshlet');
    assert.equal(seen[0]['user-agent'], 'Envoy/HC');
    status = 503;
    await until(() => h.healthFlags.has('failed_active_hc'), 'unhealthy after 2 failures');
    assert.equal(h.healthy, false);
    status = 200;
    await until(() => !h.healthFlags.has('failed_active_hc'), 'healthy again after 2 successes');
    assert.equal(h.healthy, true);
  } finally {
    cl.close();
    await new Promise((r) => server.close(r));
  }
});

test('HTTP health check: a refused connection is a failure; one host down does not affect the other', async () => {
  const server = http.createServer((_req, res) => res.end('ok'));
  const port = await listen(server);
  const dead = net.createServer();
  const deadPort = await listen(dead);
  await new Promise((r) => dead.close(r));
  const cl = staticCluster('pair', [port, deadPort], { http_health_check: { path: '/' } });
  try {
    cl.start();
    const [up, down] = cl.hosts();
    await until(() => up.healthy && cl.healthChecker!.checksOf(down) >= 3, 'several rounds');
    assert.equal(down.healthy, false);
    for (let i = 0; i < 10; i++) assert.equal(cl.chooseHost({}), up);
  } finally {
    cl.close();
    await new Promise((r) => server.close(r));
  }
});

test('TCP health check sends the payload and requires the expected reply', async () => {
  let reply = 'PONG';
  const server = net.createServer((s) => {
    s.on('data', (d) => {
      if (d.toString() === 'PING') s.end(reply);
    });
    s.on('error', () => {});
  });
  const port = await listen(server);
  const cl = staticCluster('tcp', [port], { tcp_health_check: { send: { text: Buffer.from('PING').toString('hex') }, receive: [{ text: Buffer.from('PONG').toString('hex') }] } });
  try {
    cl.start();
    const h = cl.hosts()[0];
    await until(() => h.healthy, 'tcp healthy');
    reply = 'NOPE';
    await until(() => !h.healthy, 'tcp unhealthy on wrong reply');
  } finally {
    cl.close();
    await new Promise((r) => server.close(r));
  }
});

test('gRPC health check (grpc.health.v1) follows the serving status of the named service', async () => {
  let serving = 1;
  const services: string[] = [];
  const server = new grpc.Server();
  const identity = (x: Buffer): Buffer => x;
  server.addService({
    Check: { path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  } as grpc.ServiceDefinition, {
    Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const req = call.request;
      services.push(req.length > 2 ? req.subarray(2, 2 + req[1]).toString() : '');
      cb(null, Buffer.from([0x08, serving]));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const cl = staticCluster('grpc', [port], { grpc_health_check: { service_name: 'echo.Echo' } });
  try {
    cl.start();
    const h = cl.hosts()[0];
    await until(() => h.healthy, 'grpc SERVING');
    assert.equal(services[0], 'echo.Echo');
    serving = 2; // NOT_SERVING
    await until(() => !h.healthy, 'grpc NOT_SERVING');
    serving = 1;
    await until(() => h.healthy, 'grpc SERVING again');
  } finally {
    cl.close();
    await new Promise<void>((r) => server.tryShutdown(() => r()));
  }
});
