// A FilterManager in front of a real node:http handler on 127.0.0.1: a CORS preflight, a 429 from local_ratelimit and a
// 403 from RBAC arrive at a real HTTP client, and an allowed request reaches the handler with the CORS headers added.
// (The full xDS-driven end-to-end test belongs to integration, once the HCM wires the manager in.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import type { HeaderMap } from '../../../../src/common/headers.js';
import { httpFilter, mustBuild, perRoute, req, ROUTER, lookupFrom } from './filter-kit.js';

test('preflight, 429 and 403 from the filter chain reach a real client; allowed requests reach the handler', async (t) => {
  const m = mustBuild([
    httpFilter('envoy.filters.http.cors', 'envoy.extensions.filters.http.cors.v3.Cors', {}),
    httpFilter('envoy.filters.http.local_ratelimit', 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit', {
      stat_prefix: 'rl', token_bucket: { max_tokens: 2, fill_interval: '3600s' },
      filter_enabled: { default_value: { numerator: 100 } }, filter_enforced: { default_value: { numerator: 100 } },
    }),
    httpFilter('envoy.filters.http.rbac', 'envoy.extensions.filters.http.rbac.v3.RBAC', { rules: { action: 'DENY', policies: {
      admin: { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] },
    } } }),
    ROUTER,
  ]);
  const cors = lookupFrom({ 'envoy.filters.http.cors': perRoute('envoy.extensions.filters.http.cors.v3.CorsPolicy', {
    allow_origin_string_match: [{ exact: 'https://app.example.com' }], allow_methods: 'GET,PUT', allow_headers: 'x-token', max_age: '60',
  }) });
  let handled = 0;
  const server = createServer((rq, rs) => {
    const head = req({ method: rq.method, path: rq.url, authority: rq.headers.host, headers: rq.headers as HeaderMap, remoteAddress: rq.socket.remoteAddress });
    const stream = m.createStream(head, cors);
    stream.decodeHeaders(true, null, (reply) => {
      const headers: HeaderMap = reply ? { ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body ?? '')) } : { 'content-type': 'text/plain' };
      const status = reply ? reply.status : 200;
      stream.encodeHeaders(status, headers);
      if (!reply) handled++;
      rs.writeHead(status, headers as Record<string, string | string[]>).end(reply ? reply.body ?? '' : 'from upstream');
      stream.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // Preflight answered by the CORS filter (does not use a rate-limit token: CORS runs first and replies).
  const pre = await request(`${base}/data`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PUT' } });
  await pre.body.text();
  assert.equal(pre.statusCode, 200);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET,PUT');
  assert.equal(pre.headers['access-control-max-age'], '60');
  assert.equal(handled, 0);

  // RBAC deny (uses a token first: rate limit sits before RBAC).
  const admin = await request(`${base}/admin/x`);
  assert.equal(admin.statusCode, 403);
  assert.equal(await admin.body.text(), 'RBAC: access denied');

  // An allowed cross-origin request reaches the handler and gets CORS headers on the way back.
  const ok = await request(`${base}/data`, { headers: { origin: 'https://app.example.com' } });
  assert.equal(ok.statusCode, 200);
  assert.equal(await ok.body.text(), 'from upstream');
  assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(handled, 1);

  // The bucket (2 tokens) is empty now: 429 with the CORS header still added by the earlier filter's encoder.
  const limited = await request(`${base}/data`, { headers: { origin: 'https://app.example.com' } });
  assert.equal(limited.statusCode, 429);
  assert.equal(await limited.body.text(), 'local_rate_limited');
  assert.equal(limited.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(handled, 1);
});
