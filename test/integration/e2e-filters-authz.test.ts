// End to end (issue 6): ext_authz (HTTP service and gRPC envoy.service.auth.v3.Authorization) and the gzip
// decompressor on the REAL meshlet process, configured only over ADS by the test management server (LDS with the
// HCM http_filters and a file access log, RDS with a per-route ExtAuthzPerRoute disable, CDS/EDS naming real auth
// servers); behaviour checked over real sockets at the client, the upstream, the auth servers and the access log.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { decodeMessage, encodeMessage, jsonToCanonical, type Canonical } from '../../src/xds/proto-json.js';
import { TestXdsServer } from '../support/xds-server.js';
import { EchoUpstream } from '../support/upstreams.js';
import { MeshletProcess, adsBootstrap, e2eCluster, e2eEndpoints, freePort, pollUntil, T } from '../support/meshlet-process.js';

const TYPE = 'type.googleapis.com/';
const HCM = `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const EXT_AUTHZ = `${TYPE}envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`;
const EXT_AUTHZ_PER_ROUTE = `${TYPE}envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute`;
const DECOMPRESSOR = `${TYPE}envoy.extensions.filters.http.decompressor.v3.Decompressor`;
const GZIP_D = `${TYPE}envoy.extensions.compression.gzip.decompressor.v3.Gzip`;
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router` } };
const FILE_LOG = `${TYPE}envoy.extensions.access_loggers.file.v3.FileAccessLog`;

// ------------------------------------------------------------------------------------------------ auth servers

interface SeenAuth { readonly method: string; readonly path: string; readonly headers: http.IncomingHttpHeaders }

/** A real HTTP authorization service: paths containing /deny get 403 with a body and headers; everything else 200. */
class HttpAuthServer {
  readonly seen: SeenAuth[] = [];
  private readonly server: http.Server;
  port = 0;
  private constructor() {
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        this.seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
        if ((req.url ?? '').includes('/deny')) {
          const body = 'denied by http auth';
          res.writeHead(403, { 'content-type': 'text/plain', 'content-length': String(body.length), 'x-auth-reason': 'no-token', 'x-auth-internal': 'secret' });
          res.end(body);
          return;
        }
        res.writeHead(200, { 'x-auth-user': 'alice', 'x-auth-hidden': 'must-not-pass', 'x-auth-client': 'seen-by-client' });
        res.end();
      });
    });
  }
  static async start(): Promise<HttpAuthServer> {
    const s = new HttpAuthServer();
    await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', () => r()));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A real gRPC envoy.service.auth.v3.Authorization/Check server (grpc-js, messages coded with meshlet's protos). */
class GrpcAuthServer {
  readonly seen: Canonical[] = [];
  private readonly server = new grpc.Server();
  port = 0;
  static async start(): Promise<GrpcAuthServer> {
    const s = new GrpcAuthServer();
    const def: grpc.ServiceDefinition = {
      Check: {
        path: '/envoy.service.auth.v3.Authorization/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (v: Canonical) => Buffer.from(encodeMessage('envoy.service.auth.v3.CheckRequest', v)),
        requestDeserialize: (b: Buffer) => decodeMessage('envoy.service.auth.v3.CheckRequest', b),
        responseSerialize: (v: Canonical) => Buffer.from(encodeMessage('envoy.service.auth.v3.CheckResponse', v)),
        responseDeserialize: (b: Buffer) => decodeMessage('envoy.service.auth.v3.CheckResponse', b),
      },
    };
    s.server.addService(def, {
      Check: (call: grpc.ServerUnaryCall<Canonical, Canonical>, cb: grpc.sendUnaryData<Canonical>) => {
        s.seen.push(call.request);
        const http = ((call.request.attributes as Canonical | undefined)?.request as Canonical | undefined)?.http as Canonical | undefined;
        const path = String(http?.path ?? '');
        if (path.includes('/deny')) {
          cb(null, { status: { code: 7 }, denied_response: { status: { code: 'Forbidden' }, body: 'denied by grpc auth', headers: [{ header: { key: 'x-grpc-deny', value: 'yes' } }] } });
          return;
        }
        cb(null, { status: { code: 0 }, ok_response: { headers: [{ header: { key: 'x-grpc-user', value: 'bob' } }] } });
      },
    });
    s.port = await new Promise<number>((res, rej) => s.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    return s;
  }
  close(): void {
    this.server.forceShutdown();
  }
}

// ------------------------------------------------------------------------------------------------ xDS resources

const LOG_FORMAT = { json_format: { code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', path: '%REQ(:PATH)%', details: '%RESPONSE_CODE_DETAILS%' } };

function listener(name: string, port: number, httpFilter: Record<string, unknown>, logPath: string): Record<string, unknown> {
  const json = {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
      '@type': HCM, stat_prefix: name,
      rds: { route_config_name: 'authz-routes', config_source: { ads: {}, resource_api_version: 'V3' } },
      http_filters: [httpFilter, ROUTER],
      access_log: [{ name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_LOG, path: logPath, log_format: LOG_FORMAT } }],
    } }] }],
  };
  return { '@type': T.Listener, ...jsonToCanonical('envoy.config.listener.v3.Listener', json) };
}

function httpAuthz(cluster: string, failureModeAllow: boolean): Record<string, unknown> {
  return { name: 'envoy.filters.http.ext_authz', typed_config: {
    '@type': EXT_AUTHZ,
    failure_mode_allow: failureModeAllow,
    failure_mode_allow_header_add: failureModeAllow,
    http_service: {
      server_uri: { uri: `http://${cluster}.authz.local`, cluster, timeout: '2s' },
      path_prefix: '/check',
      authorization_request: { allowed_headers: { patterns: [{ exact: 'x-user-token' }] } },
      authorization_response: {
        allowed_upstream_headers: { patterns: [{ exact: 'x-auth-user' }] },
        allowed_client_headers: { patterns: [{ exact: 'x-auth-reason' }] },
      },
    },
  } };
}

function grpcAuthz(cluster: string): Record<string, unknown> {
  return { name: 'envoy.filters.http.ext_authz', typed_config: {
    '@type': EXT_AUTHZ, transport_api_version: 'V3',
    grpc_service: { envoy_grpc: { cluster_name: cluster }, timeout: '2s' },
  } };
}

const decompressor = { name: 'envoy.filters.http.decompressor', typed_config: {
  '@type': DECOMPRESSOR,
  decompressor_library: { name: 'gzip', typed_config: { '@type': GZIP_D } },
} };

function routes(): Record<string, unknown> {
  const json = {
    name: 'authz-routes',
    virtual_hosts: [{
      name: 'vh', domains: ['*'],
      routes: [
        // Per-route disable: no authorization check on /public, on every listener that runs ext_authz.
        { match: { prefix: '/public' }, route: { cluster: 'backend', timeout: '10s' },
          typed_per_filter_config: { 'envoy.filters.http.ext_authz': { '@type': EXT_AUTHZ_PER_ROUTE, disabled: true } } },
        { match: { prefix: '/gz-response' }, route: { cluster: 'gz-backend', timeout: '10s' } },
        { match: { prefix: '/' }, route: { cluster: 'backend', timeout: '10s' } },
      ],
    }],
  };
  return { '@type': T.Route, ...jsonToCanonical('envoy.config.route.v3.RouteConfiguration', json) };
}

// ------------------------------------------------------------------------------------------------ client helpers

interface Reply { readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: Buffer }

async function send(url: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Reply> {
  const r = await request(url, { method: (o.method ?? 'GET') as 'GET', headers: o.headers, body: o.body, reset: true, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body };
}

interface LogLine { readonly code: string; readonly flags: string; readonly path: string; readonly details: string }

/** The access log line of `path` in `file` (the file logger flushes every second, so this polls). */
async function logLine(file: string, path: string): Promise<LogLine> {
  return pollUntil(`access log line for ${path} in ${file}`, async () => {
    if (!existsSync(file)) return undefined;
    for (const l of readFileSync(file, 'utf8').split('\n')) {
      if (!l.trim()) continue;
      const j = JSON.parse(l) as LogLine;
      if (j.path === path) return j;
    }
    return undefined;
  }, 10_000, 100);
}

// ------------------------------------------------------------------------------------------------ the test

describe('ext_authz and decompressor configured over ADS on the real meshlet process', { timeout: 120_000 }, () => {
  let xds: TestXdsServer;
  let up: EchoUpstream;
  let gzUp: http.Server;
  let httpAuth: HttpAuthServer;
  let grpcAuth: GrpcAuthServer;
  let meshlet: MeshletProcess;
  let dir = '';
  const ports = { http: 0, downDeny: 0, downAllow: 0, grpc: 0, decomp: 0 };
  const logs = { http: '', downDeny: '', downAllow: '', grpc: '', decomp: '' };
  const url = (which: keyof typeof ports, path: string): string => `http://127.0.0.1:${ports[which]}${path}`;
  const upstreamSaw = (path: string) => up.requests.find((r) => r.path === path);
  const gzBody = JSON.stringify({ hello: 'compressed world', pad: 'x'.repeat(2000) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshlet-authz-'));
    for (const k of Object.keys(logs) as (keyof typeof logs)[]) logs[k] = join(dir, `${k}.log`);
    xds = await TestXdsServer.start();
    up = await EchoUpstream.start({ name: 'backend' });
    httpAuth = await HttpAuthServer.start();
    grpcAuth = await GrpcAuthServer.start();
    gzUp = http.createServer((req, res) => {
      req.resume();
      const z = gzipSync(gzBody);
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(z.length) });
      res.end(z);
    });
    await new Promise<void>((r) => gzUp.listen(0, '127.0.0.1', () => r()));
    const deadPort = await freePort(); // nothing listens here: the auth service is down
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();

    meshlet = await MeshletProcess.start({ bootstrap: adsBootstrap({ xdsPort: xds.port, nodeId: 'authz-node' }), args: ['--drain-time-s', '1'] });
    xds.setResources(T.Cluster, [
      e2eCluster('backend'), e2eCluster('gz-backend'), e2eCluster('authz-http'), e2eCluster('authz-down'), e2eCluster('authz-grpc', { http2: true }),
    ], 'c1');
    xds.setResources(T.Endpoints, [
      e2eEndpoints('backend', [up.port]), e2eEndpoints('gz-backend', [(gzUp.address() as AddressInfo).port]),
      e2eEndpoints('authz-http', [httpAuth.port]), e2eEndpoints('authz-down', [deadPort]), e2eEndpoints('authz-grpc', [grpcAuth.port]),
    ], 'e1');
    xds.setResources(T.Route, [routes()], 'r1');
    xds.setResources(T.Listener, [
      listener('authz-http', ports.http, httpAuthz('authz-http', false), logs.http),
      listener('authz-down-deny', ports.downDeny, httpAuthz('authz-down', false), logs.downDeny),
      listener('authz-down-allow', ports.downAllow, httpAuthz('authz-down', true), logs.downAllow),
      listener('authz-grpc', ports.grpc, grpcAuthz('authz-grpc'), logs.grpc),
      listener('decompress', ports.decomp, decompressor, logs.decomp),
    ], 'l1');
    await meshlet.waitState('LIVE', 20_000);
    // Every listener answers (the last one added by LDS is bound and has its route table).
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) {
      await pollUntil(`listener ${k} serving /public`, async () => (await send(url(k, '/public/ping'))).status === 200, 10_000);
    }
  });

  after(async () => {
    await meshlet?.stop();
    await xds?.stop();
    await up?.close();
    await httpAuth?.close();
    grpcAuth?.close();
    if (gzUp) {
      gzUp.closeAllConnections();
      await new Promise<void>((r) => gzUp.close(() => r()));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('http_service: an allowed request reaches the upstream with the auth server\'s allowed header only', async () => {
    const r = await send(url('http', '/allow/1?q=1'), { headers: { 'x-user-token': 't-123', 'x-other': 'private' } });
    assert.equal(r.status, 200, r.body.toString());
    // The auth service saw the path behind path_prefix, the allowed request header, and not the others.
    const a = httpAuth.seen.find((s) => s.path === '/check/allow/1?q=1');
    assert.ok(a, `auth server requests: ${httpAuth.seen.map((s) => s.path).join(', ')}`);
    assert.equal(a.headers['x-user-token'], 't-123');
    assert.equal(a.headers['x-other'], undefined, 'only allowed_headers reach the auth service');
    // The upstream got the request with allowed_upstream_headers from the auth response, and nothing else of it.
    const u = upstreamSaw('/allow/1?q=1');
    assert.ok(u, 'the allowed request reached the upstream');
    assert.equal(u.headers['x-auth-user'], 'alice');
    assert.equal(u.headers['x-auth-hidden'], undefined, 'auth response headers outside allowed_upstream_headers stay out');
    assert.equal(u.headers['x-user-token'], 't-123');
    assert.equal(r.headers['x-auth-client'], undefined, 'no allowed_client_headers_on_success configured');
    const line = await logLine(logs.http, '/allow/1?q=1');
    assert.equal(line.code, '200');
    assert.equal(line.flags, '-');
  });

  it('http_service: a denied request gets the auth server\'s status, body and allowed client headers, flag UAEX, and never reaches the upstream', async () => {
    const n = up.requests.length;
    const r = await send(url('http', '/deny/1'), { headers: { 'x-user-token': 'bad' } });
    assert.equal(r.status, 403);
    assert.equal(r.body.toString(), 'denied by http auth');
    assert.equal(r.headers['x-auth-reason'], 'no-token');
    assert.equal(r.headers['x-auth-internal'], undefined, 'headers outside allowed_client_headers stay out of the denial');
    assert.ok(httpAuth.seen.some((s) => s.path === '/check/deny/1'));
    assert.equal(up.requests.length, n, 'a denied request must not reach the upstream');
    assert.equal(upstreamSaw('/deny/1'), undefined);
    const line = await logLine(logs.http, '/deny/1');
    assert.equal(line.code, '403');
    assert.equal(line.flags, 'UAEX');
  });

  it('per-route ExtAuthzPerRoute{disabled: true} skips the check', async () => {
    const before = httpAuth.seen.length;
    const r = await send(url('http', '/public/deny/2'));
    assert.equal(r.status, 200, 'the path would be denied if it were checked');
    assert.equal(httpAuth.seen.length, before, 'the auth service was not asked');
    assert.ok(upstreamSaw('/public/deny/2'));
    // The disabled route also skips an unreachable service.
    assert.equal((await send(url('downDeny', '/public/x'))).status, 200);
  });

  it('auth service down: failure_mode_allow false answers 403 (status_on_error) with UAEX; true lets the request through', async () => {
    const n = up.requests.length;
    const denied = await send(url('downDeny', '/down/1'));
    assert.equal(denied.status, 403);
    assert.equal(up.requests.length, n, 'a request failing closed must not reach the upstream');
    const line = await logLine(logs.downDeny, '/down/1');
    assert.equal(line.code, '403');
    assert.equal(line.flags, 'UAEX');

    const allowed = await send(url('downAllow', '/down/2'));
    assert.equal(allowed.status, 200, allowed.body.toString());
    const u = upstreamSaw('/down/2');
    assert.ok(u, 'failure_mode_allow lets the request reach the upstream');
    assert.equal(u.headers['x-envoy-auth-failure-mode-allowed'], 'true', 'failure_mode_allow_header_add marks it');
    assert.equal(u.headers['x-auth-user'], undefined);
  });

  it('grpc_service: Authorization/Check allows with its headers and denies with its status, body and headers', async () => {
    const ok = await send(url('grpc', '/allow/g1'), { headers: { 'x-user-token': 'g-1' } });
    assert.equal(ok.status, 200, ok.body.toString());
    const u = upstreamSaw('/allow/g1');
    assert.ok(u, 'the allowed request reached the upstream');
    assert.equal(u.headers['x-grpc-user'], 'bob');
    const check = grpcAuth.seen.find((c) => ((c.attributes as Canonical).request as Canonical & { http: Canonical }).http.path === '/allow/g1');
    assert.ok(check, 'the Check request carried the request path');
    const h = ((check.attributes as Canonical).request as Canonical & { http: Canonical & { headers: Record<string, string> } }).http;
    assert.equal(h.method, 'GET');
    assert.equal(h.headers['x-user-token'], 'g-1');

    const n = up.requests.length;
    const no = await send(url('grpc', '/deny/g2'));
    assert.equal(no.status, 403);
    assert.equal(no.body.toString(), 'denied by grpc auth');
    assert.equal(no.headers['x-grpc-deny'], 'yes');
    assert.equal(up.requests.length, n, 'a denied request must not reach the upstream');
    const line = await logLine(logs.grpc, '/deny/g2');
    assert.equal(line.code, '403');
    assert.equal(line.flags, 'UAEX');
    // Per-route disable works for the gRPC service too.
    const seen = grpcAuth.seen.length;
    assert.equal((await send(url('grpc', '/public/deny/g3'))).status, 200);
    assert.equal(grpcAuth.seen.length, seen);
  });

  it('decompressor: a gzip request body reaches the upstream decompressed without content-encoding', async () => {
    const payload = JSON.stringify({ msg: 'hello upstream', pad: 'y'.repeat(5000) });
    const z = gzipSync(payload);
    const r = await send(url('decomp', '/upload/1'), { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: z });
    assert.equal(r.status, 200, r.body.toString());
    const u = upstreamSaw('/upload/1');
    assert.ok(u);
    assert.ok(u.body === payload, `the upstream got ${u.body.length} bytes starting ${JSON.stringify(u.body.slice(0, 40))}, want the ${payload.length}-byte original`);
    assert.equal(u.headers['content-encoding'], undefined);
    assert.notEqual(u.headers['content-length'], String(z.length), 'the compressed length must not be forwarded');
    assert.match(String(u.headers['accept-encoding']), /gzip/, 'the decompressor advertises gzip upstream');
    // A body in another coding passes untouched.
    const raw = Buffer.from('not compressed');
    await send(url('decomp', '/upload/2'), { method: 'POST', headers: { 'content-encoding': 'identity' }, body: raw });
    assert.equal(upstreamSaw('/upload/2')?.body, 'not compressed');
  });

  it('decompressor: a gzip response is decompressed for the client', async () => {
    const r = await send(url('decomp', '/gz-response'));
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.body.toString(), gzBody);
    // Without the decompressor the same upstream's body stays gzip.
    const raw = await send(url('http', '/gz-response'));
    assert.equal(raw.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(raw.body).toString(), gzBody);
  });
});
