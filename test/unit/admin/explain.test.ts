// /debug/explain: for each kind of route action (cluster, weighted choice, redirect, direct response) and for a
// no-match, the explanation names the listener, filter chain, virtual host, route, action, rewrites and header
// changes, the cluster and the endpoint the load balancer picks — built from real translated config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { translateListener } from '../../../src/xds/resource-types/listener.js';
import { translateRouteConfiguration } from '../../../src/xds/resource-types/route-configuration.js';
import { translateCluster } from '../../../src/xds/resource-types/cluster.js';
import { Issues, formatErrors } from '../../../src/common/validation.js';
import { CompiledRoutes } from '../../../src/router/compiled-routes.js';
import { ClusterManager } from '../../../src/upstream/cluster-manager.js';
import { explainRequest, ExplainError } from '../../../src/admin/explain.js';
import type { ConfigSnapshot, ResourceEntry } from '../../../src/config/snapshot.js';

const NODE = { id: 'n', cluster: 'c', locality: {}, metadata: {} };

function entry<T>(name: string, value: T): ResourceEntry<T> {
  return { name, version: '1', value, raw: {}, lastUpdated: 0, isStatic: false };
}

function setup() {
  const lr = translateListener(jsonToCanonical('envoy.config.listener.v3.Listener', {
    name: 'outbound_80',
    address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
    filter_chains: [{
      name: 'http',
      filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: 'outbound_80',
        rds: { route_config_name: 'r', config_source: { ads: {} } },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
      } }],
    }],
  }), { node: NODE });
  assert.ok(lr.ok, lr.ok ? '' : formatErrors(lr.errors));
  const issues = new Issues();
  const rc = translateRouteConfiguration(jsonToCanonical('envoy.config.route.v3.RouteConfiguration', {
    name: 'r',
    virtual_hosts: [
      { name: 'api', domains: ['api.example.com'], routes: [
        { name: 'canary', match: { prefix: '/v1', headers: [{ name: 'x-canary', present_match: true }] }, route: { cluster: 'api-canary' } },
        { name: 'v1', match: { prefix: '/v1' }, route: { cluster: 'api', prefix_rewrite: '/api/v1' }, request_headers_to_add: [{ header: { key: 'x-route', value: 'v1' } }] },
        { name: 'split', match: { prefix: '/split' }, route: { weighted_clusters: { clusters: [{ name: 'api', weight: 90 }, { name: 'api-canary', weight: 10 }] } } },
        { name: 'old', match: { prefix: '/old' }, redirect: { path_redirect: '/new', response_code: 'FOUND' } },
        { name: 'ping', match: { path: '/ping' }, direct_response: { status: 200, body: { inline_string: 'pong' } } },
      ] },
      { name: 'web', domains: ['*.example.com'], routes: [{ match: { prefix: '/' }, route: { cluster: 'missing' } }] },
    ],
  }), issues);
  assert.ok(!issues.hasErrors, formatErrors(issues.allErrors()));
  const ci = new Issues();
  const cluster = translateCluster(jsonToCanonical('envoy.config.cluster.v3.Cluster', {
    name: 'api', type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: 'api', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9001 } } } }] }] },
  }), ci);
  const snapshot: ConfigSnapshot = {
    generation: 1,
    listeners: new Map([['outbound_80', entry('outbound_80', lr.value)]]),
    routes: new Map([['r', entry('r', rc)]]),
    clusters: new Map([['api', entry('api', cluster)]]),
    endpoints: new Map(),
    versions: {},
  };
  const routes = new CompiledRoutes();
  routes.update(snapshot.routes);
  const clusters = new ClusterManager({});
  clusters.apply(snapshot);
  return { snapshot, routes, clusters, listeners: [{ name: 'outbound_80', address: '127.0.0.1', port: 8080 }], close: () => clusters.close() };
}

function explain(deps: ReturnType<typeof setup>, query: Record<string, string | string[]>): any {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const x of [v].flat()) q.append(k, x);
  return explainRequest(q, deps);
}

test('cluster action: names listener, chain, vhost, route with index, rewrite, header changes, cluster and endpoint; earlier candidates say why they failed', () => {
  const d = setup();
  try {
    const r = explain(d, { authority: 'api.example.com', path: '/v1/users?x=1' });
    assert.equal(r.listener.name, 'outbound_80');
    assert.equal(r.filter_chain.name, 'http');
    assert.equal(r.result.action, 'route');
    assert.equal(r.result.virtual_host, 'api');
    assert.equal(r.result.route_name, 'v1');
    assert.equal(r.result.route_index, 1);
    assert.equal(r.result.cluster, 'api');
    assert.equal(r.rewrites.path, '/api/v1/users?x=1');
    assert.equal(r.request_header_changes.set['x-route'], 'v1');
    assert.equal(r.upstream.exists, true);
    assert.equal(r.upstream.endpoint.address, '127.0.0.1:9001');
    const canary = r.candidates.find((s: any) => s.level === 'route' && s.name === 'canary');
    assert.equal(canary.matched, false);
    assert.match(canary.reason, /x-canary/);
  } finally {
    d.close();
  }
});

test('header-matched route wins when the header is given; weighted choice follows random_value', () => {
  const d = setup();
  try {
    assert.equal(explain(d, { authority: 'api.example.com', path: '/v1/x', header: 'x-canary:1' }).result.cluster, 'api-canary');
    assert.equal(explain(d, { authority: 'api.example.com', path: '/split', random_value: '5' }).result.cluster, 'api');
    assert.equal(explain(d, { authority: 'api.example.com', path: '/split', random_value: '95' }).result.cluster, 'api-canary');
    const missing = explain(d, { authority: 'api.example.com', path: '/v1/x', header: 'x-canary:1' });
    assert.equal(missing.upstream.exists, false);
    assert.match(missing.upstream.response, /503 NC/);
  } finally {
    d.close();
  }
});

test('redirect and direct response actions', () => {
  const d = setup();
  try {
    const red = explain(d, { authority: 'api.example.com', path: '/old?q=1' });
    assert.equal(red.result.action, 'redirect');
    assert.equal(red.result.status, 302);
    assert.equal(red.result.location, 'http://api.example.com/new?q=1');
    const dir = explain(d, { authority: 'api.example.com', path: '/ping' });
    assert.equal(dir.result.action, 'direct_response');
    assert.equal(dir.result.status, 200);
    assert.equal(dir.result.body_bytes, 4);
  } finally {
    d.close();
  }
});

test('no match: no vhost, and no route inside a vhost, both say why', () => {
  const d = setup();
  try {
    const nv = explain(d, { authority: 'other.org', path: '/' });
    assert.equal(nv.result.action, 'no_route');
    assert.match(nv.result.response, /404 NR/);
    assert.ok(nv.candidates.every((s: any) => !s.matched));
    const nr = explain(d, { authority: 'api.example.com', path: '/nothing' });
    assert.equal(nr.result.action, 'no_route');
    assert.ok(nr.candidates.some((s: any) => s.level === 'vhost' && s.matched));
    assert.throws(() => explain(d, { path: '/' }), (e: unknown) => e instanceof ExplainError && e.status === 400);
    assert.throws(() => explain(d, { authority: 'a', listener: 'nope' }), (e: unknown) => e instanceof ExplainError && e.status === 404);
  } finally {
    d.close();
  }
});
