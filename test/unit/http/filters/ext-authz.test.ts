// ext_authz: config translation (paths, unsupported fields by name), HTTP service over a real socket (allowed with
// upstream/client headers, denied with the service's status/body and flag UAEX, unreachable → status_on_error or
// failure_mode_allow), request body bounded, the gRPC Authorization/Check service over @grpc/grpc-js, per-route disable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { ServiceDefinition, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { decodeMessage, encodeMessage } from '../../../../src/xds/proto-json.js';
import { build, deps, httpFilter, mustBuild, perRoute, req, ROUTER, run, lookupFrom } from './filter-kit.js';

const NAME = 'envoy.filters.http.ext_authz';
const EA = 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: string }

async function authServer(): Promise<{ port: number; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const srv = createServer((rq, rs) => {
    const chunks: Buffer[] = [];
    rq.on('data', (c: Buffer) => chunks.push(c));
    rq.on('end', () => {
      seen.push({ method: rq.method ?? '', url: rq.url ?? '', headers: rq.headers, body: Buffer.concat(chunks).toString() });
      if (rq.headers.authorization === 'Bearer good') {
        rs.writeHead(200, { 'x-user': 'alice', 'x-internal': 'no', 'x-session': 'abc' }).end();
      } else if (rq.headers.authorization === 'Bearer slow') {
        setTimeout(() => rs.writeHead(200).end(), 500);
      } else {
        rs.writeHead(401, { 'www-authenticate': 'Bearer', 'x-reason': 'bad token', 'content-type': 'text/plain' }).end('go away');
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { port: (srv.address() as AddressInfo).port, seen, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}

const httpCfg = (port: number, extra: Record<string, unknown> = {}): Record<string, unknown> => httpFilter(NAME, EA, {
  http_service: {
    server_uri: { uri: `http://127.0.0.1:${port}`, cluster: 'authz', timeout: '0.2s' },
    path_prefix: '/check',
    authorization_request: { allowed_headers: { patterns: [{ exact: 'x-trace' }] }, headers_to_add: [{ key: 'x-from', value: 'meshlet' }] },
    authorization_response: {
      allowed_upstream_headers: { patterns: [{ exact: 'x-user' }] },
      allowed_client_headers: { patterns: [{ exact: 'x-reason' }] },
      allowed_client_headers_on_success: { patterns: [{ exact: 'x-session' }] },
    },
  },
  ...extra,
});

test('config: missing server_uri fields and unsupported options are errors with paths', () => {
  const { errors } = build([httpFilter(NAME, EA, { http_service: { server_uri: { uri: 'x' } }, include_peer_certificate: true }), ROUTER]);
  assert.deepEqual(errors.map((e) => e.path).sort(), [
    'http_filters[0].typed_config.http_service.server_uri.cluster',
    'http_filters[0].typed_config.http_service.server_uri.timeout',
    'http_filters[0].typed_config.include_peer_certificate',
  ]);
});

test('HTTP service: allowed requests continue with upstream headers; denials carry the service status/body, flag UAEX', async (t) => {
  const s = await authServer();
  t.after(() => s.close());
  const m = mustBuild([httpCfg(s.port), ROUTER]);
  t.after(() => m.close());
  const r = req({ method: 'POST', path: '/api/x?q=1', headers: { authorization: 'Bearer good', 'x-trace': 't1', cookie: 'secret' } });
  const ok = await run(m, r);
  assert.equal(ok.reply, null);
  assert.equal(r.head.headers['x-user'], 'alice');
  assert.equal(r.head.headers['x-internal'], undefined);
  assert.equal(ok.responseHeaders['x-session'], 'abc');
  const seen = s.seen[0];
  assert.equal(seen.method, 'POST');
  assert.equal(seen.url, '/check/api/x?q=1');
  assert.equal(seen.headers['x-trace'], 't1');
  assert.equal(seen.headers['x-from'], 'meshlet');
  assert.equal(seen.headers.cookie, undefined);
  const denied = await run(m, req({ headers: { authorization: 'Bearer bad' } }));
  assert.equal(denied.reply?.status, 401);
  assert.equal(denied.reply?.body, 'go away');
  assert.equal(denied.reply?.flag, 'UAEX');
  assert.equal(denied.reply?.details, 'ext_authz_denied');
  assert.equal(denied.responseHeaders['x-reason'], 'bad token');
  assert.equal(denied.responseHeaders['www-authenticate'], 'Bearer');
});

test('HTTP service unreachable or too slow: status_on_error (default 403) or failure_mode_allow', async (t) => {
  const s = await authServer();
  t.after(() => s.close());
  const strict = mustBuild([httpCfg(s.port, { status_on_error: { code: 'ServiceUnavailable' } }), ROUTER]);
  const slow = await run(strict, req({ headers: { authorization: 'Bearer slow' } }));
  assert.equal(slow.reply?.status, 503);
  assert.equal(slow.reply?.details, 'ext_authz_error');
  const closed = mustBuild([httpCfg(1), ROUTER]);
  assert.equal((await run(closed, req())).reply?.status, 403);
  const open = mustBuild([httpCfg(1, { failure_mode_allow: true, failure_mode_allow_header_add: true }), ROUTER]);
  const r = req();
  assert.equal((await run(open, r)).reply, null);
  assert.equal(r.head.headers['x-envoy-auth-failure-mode-allowed'], 'true');
});

test('with_request_body: buffered body is sent; too large without allow_partial_message → 413; injected sender is used', async () => {
  const calls: { cluster: string; body: string | null }[] = [];
  const d = deps({ sendAuthRequest: async (cluster, _uri, rq) => { calls.push({ cluster, body: rq.body?.toString() ?? null }); return { status: 200, headers: {}, body: Buffer.alloc(0) }; } });
  const m = mustBuild([httpCfg(1, { with_request_body: { max_request_bytes: 5 } }), ROUTER], d);
  assert.equal(m.bufferRequestBodyBytes, 5);
  const s = m.createStream(req({ method: 'POST' }), null);
  assert.equal(await s.decode(true, Buffer.from('hello')), null);
  s.destroy();
  assert.deepEqual(calls, [{ cluster: 'authz', body: 'hello' }]);
  const s2 = m.createStream(req({ method: 'POST' }), null);
  assert.equal((await s2.decode(true, Buffer.from('hello'), true))?.status, 413);
  s2.destroy();
});

test('per-route ExtAuthzPerRoute disabled skips the check', async () => {
  let called = 0;
  const d = deps({ sendAuthRequest: async () => { called++; return { status: 403, headers: {}, body: Buffer.alloc(0) }; } });
  const m = mustBuild([httpCfg(1), ROUTER], d);
  assert.equal((await run(m, req())).reply?.status, 403);
  const off = lookupFrom({ [NAME]: perRoute('envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute', { disabled: true }) });
  assert.equal((await run(m, req(), off)).reply, null);
  assert.equal(called, 1);
});

test('gRPC Authorization/Check: OK adds headers upstream and to the client; denial uses denied_response', async (t) => {
  const seen: Record<string, unknown>[] = [];
  const def: ServiceDefinition = {
    Check: {
      path: '/envoy.service.auth.v3.Authorization/Check', requestStream: false, responseStream: false,
      requestSerialize: (v: Record<string, unknown>) => Buffer.from(encodeMessage('envoy.service.auth.v3.CheckRequest', v)),
      requestDeserialize: (b: Buffer) => decodeMessage('envoy.service.auth.v3.CheckRequest', b),
      responseSerialize: (v: Record<string, unknown>) => Buffer.from(encodeMessage('envoy.service.auth.v3.CheckResponse', v)),
      responseDeserialize: (b: Buffer) => decodeMessage('envoy.service.auth.v3.CheckResponse', b),
    },
  };
  const server = new Server();
  server.addService(def, {
    Check: (call: ServerUnaryCall<Record<string, unknown>, unknown>, cb: sendUnaryData<unknown>) => {
      seen.push(call.request);
      const http = ((call.request.attributes as Record<string, unknown>).request as Record<string, Record<string, unknown>>).http;
      const headers = http.headers as Record<string, string>;
      if (headers.authorization === 'ok') {
        cb(null, { status: { code: 0 }, ok_response: { headers: [{ header: { key: 'x-user', value: 'bob' } }], headers_to_remove: ['authorization'], response_headers_to_add: [{ header: { key: 'x-checked', value: 'yes' } }] } });
      } else {
        cb(null, { status: { code: 7 }, denied_response: { status: { code: 'Forbidden' }, body: 'nope', headers: [{ header: { key: 'x-why', value: 'policy' } }] } });
      }
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  t.after(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  const m = mustBuild([httpFilter(NAME, EA, { grpc_service: { envoy_grpc: { cluster_name: 'authz-grpc' }, timeout: '2s' } }), ROUTER],
    deps({ resolveGrpcTarget: (c) => (c === 'authz-grpc' ? `127.0.0.1:${port}` : undefined) }));
  t.after(() => m.close());
  const r = req({ path: '/p?a=b', headers: { authorization: 'ok' } });
  const ok = await run(m, r);
  assert.equal(ok.reply, null);
  assert.equal(r.head.headers['x-user'], 'bob');
  assert.equal(r.head.headers.authorization, undefined);
  assert.equal(ok.responseHeaders['x-checked'], 'yes');
  const http = ((seen[0].attributes as Record<string, unknown>).request as Record<string, Record<string, unknown>>).http;
  assert.equal(http.path, '/p?a=b');
  assert.equal(http.method, 'GET');
  const denied = await run(m, req({ headers: { authorization: 'bad' } }));
  assert.equal(denied.reply?.status, 403);
  assert.equal(denied.reply?.body, 'nope');
  assert.equal(denied.reply?.flag, 'UAEX');
  assert.equal(denied.responseHeaders['x-why'], 'policy');
});
