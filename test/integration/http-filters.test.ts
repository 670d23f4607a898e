// HTTP filters end to end: a listener whose http_filters (cors, fault, local_ratelimit, rbac, basic_auth, compressor)
// and routes (typed_per_filter_config overrides and disables) go through the LDS/RDS translators as an xDS client
// would receive them, real sockets to an echo upstream. Also: a bad filter config NACKs the listener with a path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { Agent, request } from 'undici';
import { jsonToCanonical } from '../../src/xds/proto-json.js';
import { translateListener } from '../../src/xds/resource-types/listener.js';
import { DataPlane, clusterFrom, httpListener, initDataPlane, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';
import { EchoUpstream } from '../support/upstreams.js';

const T = 'type.googleapis.com/';
const FILTER_CONFIG = `${T}envoy.config.route.v3.FilterConfig`;
const sha = (pw: string): string => `{SHA}${createHash('sha1').update(pw).digest('base64')}`;
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

const HTTP_FILTERS = [
  { name: 'envoy.filters.http.cors', typed_config: { '@type': `${T}envoy.extensions.filters.http.cors.v3.Cors` } },
  { name: 'envoy.filters.http.fault', typed_config: { '@type': `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`, abort: { http_status: 503, percentage: { numerator: 0 } } } },
  { name: 'envoy.filters.http.local_ratelimit', typed_config: { '@type': `${T}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`, stat_prefix: 'rl', token_bucket: { max_tokens: 1000, fill_interval: '1s' } } },
  { name: 'envoy.filters.http.rbac', typed_config: { '@type': `${T}envoy.extensions.filters.http.rbac.v3.RBAC`, rules: { action: 'DENY', policies: {
    admin: { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: [{ any: true }] },
  } } } },
  { name: 'envoy.filters.http.basic_auth', disabled: true, typed_config: { '@type': `${T}envoy.extensions.filters.http.basic_auth.v3.BasicAuth`, users: { inline_string: `alice:${sha('wonderland')}\n` } } },
  { name: 'envoy.filters.http.compressor', typed_config: { '@type': `${T}envoy.extensions.filters.http.compressor.v3.Compressor`, compressor_library: { name: 'gzip', typed_config: { '@type': `${T}envoy.extensions.compression.gzip.compressor.v3.Gzip` } } } },
  { name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } },
];

function route(prefix: string, perFilter: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: prefix, match: { prefix }, route: { cluster: 'backend' }, typed_per_filter_config: perFilter };
}

const ROUTES = {
  name: 'routes',
  virtual_hosts: [{
    name: 'vh', domains: ['*'],
    routes: [
      route('/fault10', { 'envoy.filters.http.fault': { '@type': `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`, abort: { http_status: 503, percentage: { numerator: 10 } } } }),
      route('/delay', { 'envoy.filters.http.fault': { '@type': `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`, delay: { fixed_delay: '0.3s', percentage: { numerator: 100 } } } }),
      route('/grpcabort', { 'envoy.filters.http.fault': { '@type': `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`, abort: { grpc_status: 14, percentage: { numerator: 100 } } } }),
      route('/cors', { 'envoy.filters.http.cors': { '@type': `${T}envoy.extensions.filters.http.cors.v3.CorsPolicy`,
        allow_origin_string_match: [{ exact: 'https://app.example.com' }], allow_methods: 'GET,PUT', allow_headers: 'x-token', max_age: '60' } }),
      route('/rl', { 'envoy.filters.http.local_ratelimit': { '@type': `${T}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`, stat_prefix: 'rl_route',
        token_bucket: { max_tokens: 5, tokens_per_fill: 5, fill_interval: '3600s' },
        filter_enabled: { default_value: { numerator: 100 } }, filter_enforced: { default_value: { numerator: 100 } } } }),
      // Per-route disable: RBAC denies /admin* except on this route.
      route('/admin-open', { 'envoy.filters.http.rbac': { '@type': FILTER_CONFIG, disabled: true } }),
      route('/admin'),
      // basic_auth is disabled by default: enabled here with the listener's users, overridden with other users below.
      route('/auth-other', { 'envoy.filters.http.basic_auth': { '@type': `${T}envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute`, users: { inline_string: `bob:${sha('builder')}\n` } } }),
      route('/auth', { 'envoy.filters.http.basic_auth': { '@type': FILTER_CONFIG } }),
      route('/'),
    ],
  }],
};

async function setup(t: import('node:test').TestContext): Promise<{ base: string; dp: DataPlane; up: EchoUpstream; agent: Agent }> {
  await initDataPlane();
  const up = await EchoUpstream.start({ name: 'backend' });
  const dp = new DataPlane(1000);
  const agent = new Agent({ connections: 32 });
  t.after(async () => {
    await agent.close();
    await dp.close();
    await up.close();
  });
  dp.setClusters([clusterFrom(staticCluster('backend', [up.port]))]);
  dp.routes.tables.set('routes', routeTableFrom(ROUTES));
  await dp.setListeners([listenerFrom(httpListener('filters', 'routes', { http_filters: HTTP_FILTERS }))]);
  return { base: `http://127.0.0.1:${dp.port('filters')}`, dp, up, agent };
}

async function get(agent: Agent, url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const r = await request(url, { dispatcher: agent, method: method as 'GET', headers });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body };
}

test('filters end to end through the listener: fault, CORS, rate limit, RBAC, basic auth, compression, per-route override and disable', async (t) => {
  const { base, dp, up, agent } = await setup(t);

  await t.test('fault abort at 10 % over 2,000 requests lands within ±2 points, with flag FI', async () => {
    const n = 2000;
    let aborted = 0;
    let ok = 0;
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => get(agent, `${base}/fault10`)));
      for (const r of batch) {
        if (r.status === 503) {
          aborted++;
          assert.equal(r.body.toString(), 'fault filter abort');
        } else if (r.status === 200) ok++;
      }
    }
    assert.equal(aborted + ok, n);
    const pct = (aborted / n) * 100;
    assert.ok(pct >= 8 && pct <= 12, `aborted ${pct.toFixed(2)} %`);
    assert.ok(dp.streams.some((s) => s.responseFlags.includes('FI') && s.responseCodeDetails === 'fault_filter_abort'));
  });

  await t.test('a delay fault holds the request at least the fixed delay before it reaches the upstream (flag DI)', async () => {
    const before = up.requests.length;
    const started = Date.now();
    const r = await get(agent, `${base}/delay`);
    assert.equal(r.status, 200);
    assert.ok(Date.now() - started >= 290, 'the response came before the configured delay');
    assert.equal(up.requests.length, before + 1);
    const info = dp.streams.at(-1);
    assert.ok(info?.responseFlags.includes('DI'), JSON.stringify(info?.responseFlags));
  });

  await t.test('gRPC abort answers 200 with the configured grpc-status and never reaches the upstream', async () => {
    const before = up.requests.length;
    const r = await get(agent, `${base}/grpcabort`, { 'content-type': 'application/grpc', te: 'trailers' }, 'POST');
    assert.equal(r.status, 200);
    assert.equal(r.headers['grpc-status'], '14');
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(up.requests.length, before);
  });

  await t.test('CORS preflight from an allowed origin is answered by the proxy; a disallowed origin gets no CORS headers', async () => {
    const before = up.requests.length;
    const pre = await get(agent, `${base}/cors/data`, { origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-token' }, 'OPTIONS');
    assert.equal(pre.status, 200);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,PUT');
    assert.equal(pre.headers['access-control-allow-headers'], 'x-token');
    assert.equal(pre.headers['access-control-max-age'], '60');
    assert.equal(up.requests.length, before, 'a preflight must not reach the upstream');
    const simple = await get(agent, `${base}/cors/data`, { origin: 'https://app.example.com' });
    assert.equal(simple.status, 200);
    assert.equal(simple.headers['access-control-allow-origin'], 'https://app.example.com');
    const evil = await get(agent, `${base}/cors/data`, { origin: 'https://evil.example.com' });
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
  });

  await t.test('local_ratelimit per-route bucket of 5: a burst of 12 gets exactly 7 × 429 (flag RL); other routes are not limited', async () => {
    const rs = await Promise.all(Array.from({ length: 12 }, () => get(agent, `${base}/rl`)));
    assert.equal(rs.filter((r) => r.status === 429).length, 7);
    assert.equal(rs.filter((r) => r.status === 200).length, 5);
    assert.ok(dp.streams.some((s) => s.responseCode === 429 && s.responseFlags.includes('RL')));
    const others = await Promise.all(Array.from({ length: 12 }, () => get(agent, `${base}/other`)));
    assert.ok(others.every((r) => r.status === 200));
  });

  await t.test('RBAC denies /admin with 403; the route that disables rbac per route passes', async () => {
    const denied = await get(agent, `${base}/admin/x`);
    assert.equal(denied.status, 403);
    assert.equal(denied.body.toString(), 'RBAC: access denied');
    const open = await get(agent, `${base}/admin-open/x`);
    assert.equal(open.status, 200);
  });

  await t.test('basic auth (disabled by default, enabled per route): 401 without or with wrong credentials, 200 with the right ones; per-route users override', async () => {
    assert.equal((await get(agent, `${base}/plain`)).status, 200, 'basic_auth is disabled by default');
    const none = await get(agent, `${base}/auth`);
    assert.equal(none.status, 401);
    assert.equal((await get(agent, `${base}/auth`, { authorization: basic('alice', 'nope') })).status, 401);
    assert.equal((await get(agent, `${base}/auth`, { authorization: basic('alice', 'wonderland') })).status, 200);
    assert.equal((await get(agent, `${base}/auth-other`, { authorization: basic('alice', 'wonderland') })).status, 401);
    assert.equal((await get(agent, `${base}/auth-other`, { authorization: basic('bob', 'builder') })).status, 200);
  });

  await t.test('compressor gzips the upstream JSON for a client that accepts gzip, with Vary; others get it plain', async () => {
    const gz = await get(agent, `${base}/zip`, { 'accept-encoding': 'gzip' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.match(String(gz.headers.vary), /accept-encoding/i);
    const json = JSON.parse(gunzipSync(gz.body).toString()) as { server: string; path: string };
    assert.equal(json.server, 'backend');
    assert.equal(json.path, '/zip');
    const info = dp.streams.at(-1);
    assert.equal(info?.bytesSent, gz.body.length, 'bytesSent counts the compressed bytes sent downstream');
    const plain = await get(agent, `${base}/zip`);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal((JSON.parse(plain.body.toString()) as { path: string }).path, '/zip');
  });
});

test('a bad filter config NACKs the listener naming the field path', () => {
  const unknownStatus = httpListener('bad2', 'routes', { http_filters: [
    { name: 'envoy.filters.http.fault', typed_config: { '@type': `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`, abort: { http_status: 99, percentage: { numerator: 10 } } } },
    { name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } },
  ] });
  const r2 = translateListener(jsonToCanonical('envoy.config.listener.v3.Listener', unknownStatus), { node: { id: 't', cluster: 't', locality: {}, metadata: {} } });
  assert.equal(r2.ok, false);
  const paths = r2.ok ? [] : r2.errors.map((e) => e.path);
  assert.ok(paths.some((p) => p.startsWith('filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.abort')), paths.join('\n'));
});
