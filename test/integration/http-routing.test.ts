// Envoy route semantics end to end, on the real RDS translator and route engine: host/path/header/query routing,
// a 90/10 weighted split over 2,000 requests, redirects, prefix and regex rewrites, header add/remove visible at
// the upstream and the client, direct responses, inline route_config in the HCM, hash-policy affinity.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { EchoUpstream } from '../support/upstreams.js';
import { DataPlane, clusterFrom, httpListener, initDataPlane, listenerFrom, routeTableFrom, staticCluster } from '../support/data-plane.js';

let dp: DataPlane;
let a: EchoUpstream;
let b: EchoUpstream;
let c: EchoUpstream;
let port = 0;
const agent = new Agent({ connections: 16, pipelining: 1 });

const ROUTES = {
  name: 'routes',
  response_headers_to_add: [{ header: { key: 'x-rc', value: 'rc' } }],
  virtual_hosts: [
    {
      name: 'api', domains: ['api.example.com', '*.api.example.com'],
      request_headers_to_add: [{ header: { key: 'x-vhost', value: 'api' } }],
      routes: [
        { match: { prefix: '/v1', headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }] }, route: { cluster: 'b' } },
        { match: { prefix: '/v1', query_parameters: [{ name: 'c', string_match: { exact: '1' } }] }, route: { cluster: 'c' } },
        { match: { prefix: '/v1/' }, route: { cluster: 'a', prefix_rewrite: '/internal/' } },
        { match: { safe_regex: { regex: '/users/([0-9]+)/profile' } }, route: { cluster: 'a', regex_rewrite: { pattern: { regex: '^/users/([0-9]+)/profile$' }, substitution: '/profile?id=\\1' } } },
        { match: { path: '/split' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 90 }, { name: 'b', weight: 10 }] } } },
        { match: { prefix: '/old' }, redirect: { path_redirect: '/new', response_code: 'PERMANENT_REDIRECT' } },
        { match: { prefix: '/https' }, redirect: { https_redirect: true } },
        { match: { prefix: '/direct' }, direct_response: { status: 418, body: { inline_string: 'short and stout' } } },
        {
          match: { prefix: '/hdr' },
          route: { cluster: 'a' },
          request_headers_to_add: [{ header: { key: 'x-added', value: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%' } }],
          request_headers_to_remove: ['x-remove-me'],
          response_headers_to_add: [{ header: { key: 'x-resp', value: 'route' } }],
          response_headers_to_remove: ['x-upstream'],
        },
        { match: { prefix: '/sticky' }, route: { cluster: 'ring', hash_policy: [{ header: { header_name: 'x-user' } }] } },
      ],
    },
    { name: 'web', domains: ['web.example.com'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', host_rewrite_literal: 'rewritten.internal' } }] },
  ],
};

before(async () => {
  await initDataPlane();
  [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => EchoUpstream.start({ name: n })));
  dp = new DataPlane();
  dp.setClusters([
    clusterFrom(staticCluster('a', [a.port])),
    clusterFrom(staticCluster('b', [b.port])),
    clusterFrom(staticCluster('c', [c.port])),
    clusterFrom(staticCluster('ring', [a.port, b.port, c.port], { lb_policy: 'RING_HASH' })),
  ]);
  dp.routes.tables.set('routes', routeTableFrom(ROUTES));
  await dp.setListeners([listenerFrom(httpListener('ingress'))]);
  port = dp.port('ingress');
});

after(async () => {
  await agent.close();
  await dp.close();
  await Promise.all([a, b, c].map((u) => u.close()));
});

async function get(path: string, host: string, headers: Record<string, string> = {}) {
  const r = await request(`http://127.0.0.1:${port}${path}`, { dispatcher: agent, headers: { host, ...headers } });
  const text = await r.body.text();
  let json: { server: string; path: string; authority: string; headers: Record<string, string> } | null = null;
  try { json = JSON.parse(text); } catch { /* not json */ }
  return { status: r.statusCode, headers: r.headers as Record<string, string>, text, json };
}

test('host, header and query routing (first match wins) with prefix rewrite', async () => {
  assert.equal((await get('/v1/x', 'api.example.com', { 'x-canary': 'yes' })).json?.server, 'b');
  assert.equal((await get('/v1/x?c=1', 'api.example.com')).json?.server, 'c');
  const r = await get('/v1/items?q=2', 'API.example.com');
  assert.equal(r.json?.server, 'a');
  assert.equal(r.json?.path, '/internal/items?q=2');
  assert.equal(r.json?.headers['x-vhost'], 'api');
  assert.equal((await get('/v1/x', 'eu.api.example.com')).json?.server, 'a');
  const nr = await get('/v1/x', 'unknown.example.com');
  assert.equal(nr.status, 404);
  // Envoy does not ignore the port in host matching unless told to.
  assert.equal((await get('/v1/x', 'api.example.com:8080')).status, 404);
});

test('regex rewrite and host_rewrite_literal', async () => {
  const r = await get('/users/42/profile', 'api.example.com');
  assert.equal(r.json?.path, '/profile?id=42');
  const w = await get('/anything', 'web.example.com');
  assert.equal(w.json?.server, 'c');
  assert.equal(w.json?.authority, 'rewritten.internal');
});

test('weighted clusters 90/10 measured over 2,000 requests within ±3 points', async () => {
  const counts: Record<string, number> = { a: 0, b: 0 };
  const N = 2000;
  for (let i = 0; i < N; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => get('/split', 'api.example.com')));
    for (const r of batch) counts[r.json!.server]++;
  }
  const pa = (counts.a / N) * 100;
  assert.ok(Math.abs(pa - 90) <= 3, `a got ${pa}%`);
  assert.equal(counts.a + counts.b, N);
});

test('redirects: path redirect with 308, https redirect', async () => {
  const r = await get('/old/x', 'api.example.com');
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, 'http://api.example.com/new');
  const h = await get('/https/y', 'api.example.com');
  assert.equal(h.status, 301);
  assert.equal(h.headers.location, 'https://api.example.com/https/y');
});

test('direct response with route-config response headers', async () => {
  const r = await get('/direct', 'api.example.com');
  assert.equal(r.status, 418);
  assert.equal(r.text, 'short and stout');
  assert.equal(r.headers['x-rc'], 'rc');
});

test('header add/remove visible at the upstream and at the client', async () => {
  const r = await get('/hdr', 'api.example.com', { 'x-remove-me': 'secret' });
  assert.equal(r.json?.headers['x-added'], '127.0.0.1');
  assert.equal(r.json?.headers['x-remove-me'], undefined);
  assert.equal(r.headers['x-resp'], 'route');
  assert.equal(r.headers['x-upstream'], undefined);
  assert.equal(r.headers['x-rc'], 'rc');
});

test('hash_policy header gives session affinity on a RING_HASH cluster', async () => {
  for (const user of ['alice', 'bob', 'carol']) {
    const servers = new Set<string>();
    for (let i = 0; i < 10; i++) servers.add((await get('/sticky', 'api.example.com', { 'x-user': user })).json!.server);
    assert.equal(servers.size, 1, `${user} moved between ${[...servers].join(',')}`);
  }
});

test('inline route_config in the HCM', async () => {
  const l = listenerFrom({
    ...httpListener('inline'),
    filter_chains: [{ filters: [{ name: 'hcm', typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: 'inline',
      route_config: { name: 'inline', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] },
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
    } }] }],
  });
  await dp.setListeners([listenerFrom(httpListener('ingress')), l]);
  const r = await request(`http://127.0.0.1:${dp.port('inline')}/z`, { dispatcher: agent });
  assert.equal((await r.body.json() as { server: string }).server, 'c');
});
