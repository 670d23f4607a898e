// Table-driven tests of the route engine against route-semantics.md (bullet numbers in each case name). The
// route-check fixtures (test/unit/cli/route-check.test.ts) cover the remaining bullets end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestHead } from '../../../src/common/headers.js';
import type { ForwardDecision, LocalResponseDecision } from '../../../src/router/types.js';
import { ctxFor, fwd, outcome, req, table, vh } from './helpers.js';

const P = { prefix: '/' };

test('section A: virtual host selection', async (t) => {
  const rt = table({
    virtual_hosts: [
      vh('suffix', ['*w.example.com'], [fwd(P, 'suffix')]),
      vh('prefix', ['www.example.c*'], [fwd(P, 'prefix')]),
      vh('exact', ['Exact.Example.com', 'redirect.lyft.com:80'], [fwd(P, 'exact')]),
      vh('short', ['*.com'], [fwd(P, 'short-suffix')]),
      vh('default', ['*'], [fwd(P, 'default')]),
    ],
  });
  const cases: [string, string, string][] = [
    ['bullet 1: exact domain case-insensitive both ways', 'EXACT.example.COM', 'exact'],
    ['bullet 4: suffix wildcard before prefix wildcard', 'ww.example.com', 'suffix'],
    ['bullet 4: host matching both goes to the suffix vhost', 'www.example.com', 'suffix'],
    ['bullet 4: prefix wildcard', 'www.example.co', 'prefix'],
    ['bullet 5: prefix wildcard needs one char', 'www.example.c', 'default'],
    ['bullet 6: longest suffix wins over *.com', 'aw.example.com', 'suffix'],
    ['bullet 6: shorter suffix used when the longer fails', 'x.com', 'short-suffix'],
    ['bullet 8: port is part of the host', 'exact.example.com:8080', 'default'],
    ['bullet 8: a domain written with the port matches exactly', 'redirect.lyft.com:80', 'exact'],
  ];
  for (const [name, host, want] of cases) await t.test(name, () => assert.equal(outcome(rt, req(host, '/')), want));
});

test('bullet 9: ignore_port_in_host_matching strips the request port, IPv6 included', () => {
  const rt = table({
    ignore_port_in_host_matching: true,
    virtual_hosts: [vh('a', ['www.foo.com', '[12:34:56:7890::]'], [fwd(P, 'a')]), vh('p', ['with.port:90'], [fwd(P, 'p')])],
  });
  assert.equal(outcome(rt, req('www.foo.com:8090', '/')), 'a');
  assert.equal(outcome(rt, req('[12:34:56:7890::]:8090', '/')), 'a');
  assert.equal(outcome(rt, req('with.port:90', '/')), 'none:no_vhost', 'configured ports are not removed');
});

test('bullet 10: vhost_header selects by another header; absent header selects nothing', () => {
  const rt = table({ virtual_hosts: [vh('a', ['alt.example'], [fwd(P, 'a')]), vh('b', ['host.example'], [fwd(P, 'b')])] }, { vhostHeader: 'X-Alt-Host' });
  assert.equal(outcome(rt, req('host.example', '/', { headers: { 'x-alt-host': 'alt.example' } })), 'a');
  assert.equal(outcome(rt, req('host.example', '/')), 'none:no_vhost');
});

test('bullet 11: no host means no route, unless the only vhost is *', () => {
  const onlyStar = table({ virtual_hosts: [vh('d', ['*'], [fwd(P, 'd')])] });
  assert.equal(outcome(onlyStar, req('', '/')), 'd');
  const more = table({ virtual_hosts: [vh('a', ['a.com'], [fwd(P, 'a')]), vh('d', ['*'], [fwd(P, 'd')])] });
  assert.equal(outcome(more, req('', '/')), 'none:no_vhost');
});

test('bullet 12: no matching vhost and no * is no route', () => {
  const rt = table({ virtual_hosts: [vh('a', ['a.com'], [fwd(P, 'a')])] });
  assert.equal(outcome(rt, req('b.com', '/')), 'none:no_vhost');
});

test('bullet 13: missing scheme (x-forwarded-proto) is no route', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [fwd(P, 'd')])] });
  assert.equal(outcome(rt, req('x', '/', { scheme: '' })), 'none:no_scheme');
});

test('bullets 14-15: require_tls runs before route matching and keeps the port', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [fwd(P, 'd')], { require_tls: 'EXTERNAL_ONLY' })] });
  assert.equal(outcome(rt, req('h:8080', '/a?b')), 'redirect:301:https://h:8080/a?b');
  assert.equal(outcome(rt, req('h', '/', { headers: { 'x-envoy-internal': 'true' } })), 'd');
  assert.equal(outcome(rt, req('h', '/', { scheme: 'https' })), 'd');
});

test('section C: route selection and path matching', async (t) => {
  const rt = table({
    virtual_hosts: [vh('d', ['*'], [
      fwd({ path: '/FOOD', case_sensitive: false }, 'food'),
      fwd({ prefix: '/foo' }, 'foo-prefix'),
      fwd({ path_separated_prefix: '/rest/api' }, 'rest'),
      fwd({ safe_regex: { regex: '/re/[0-9]+' } }, 'regex'),
      fwd({ safe_regex: { regex: '(?i)/ci/x' } }, 'regex-ci'),
      fwd({ prefix: '/BIG', case_sensitive: false }, 'big'),
      fwd({ prefix: '' }, 'catch-all'),
    ])],
  });
  const cases: [string, string, string][] = [
    ['bullet 19: prefix is not segment-aware', '/foobar', 'foo-prefix'],
    ['bullet 20: case_sensitive false on path', '/fooD', 'food'],
    ['bullet 20: case-sensitive prefix does not match other case', '/FOObar', 'catch-all'],
    ['bullet 20: case-insensitive prefix', '/big/thing', 'big'],
    ['bullet 22: path_separated_prefix exact', '/rest/api', 'rest'],
    ['bullet 22: path_separated_prefix with a segment', '/rest/api/x', 'rest'],
    ['bullet 22: path_separated_prefix with a query', '/rest/api?x', 'rest'],
    ['bullet 22: path_separated_prefix with a fragment', '/rest/api#x', 'rest'],
    ['bullet 22: not /rest/apithing', '/rest/apithing', 'catch-all'],
    ['bullet 21: regex full match', '/re/123', 'regex'],
    ['bullet 21: regex does not match a longer path', '/re/123/x', 'catch-all'],
    ['bullet 21: RE2 inline flags work', '/CI/X', 'regex-ci'],
    ['bullet 18: fragment removed before matching', '/re/42#frag', 'regex'],
    ['bullet 19: prefix "" matches everything', '/zzz', 'catch-all'],
    ['bullet 16: first full match wins (declared order)', '/foo', 'foo-prefix'],
  ];
  for (const [name, path, want] of cases) await t.test(name, () => assert.equal(outcome(rt, req('h', path)), want));
});

test('bullet 23: ignore_path_parameters_in_path_matching cuts at the first ;', () => {
  const cfg = (flag: boolean): object => ({ ignore_path_parameters_in_path_matching: flag, virtual_hosts: [vh('d', ['*'], [fwd({ path: '/path-bluh' }, 'p'), fwd(P, 'other')])] });
  assert.equal(outcome(table(cfg(true)), req('h', '/path-bluh;env=prod?a=b')), 'p');
  assert.equal(outcome(table(cfg(false)), req('h', '/path-bluh;env=prod?a=b')), 'other');
});

test('bullet 17: every condition must hold (header + query + path)', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [
    fwd({ prefix: '/a', headers: [{ name: 'x-h', string_match: { exact: 'v' } }], query_parameters: [{ name: 'q', string_match: { prefix: 'y' } }] }, 'all'),
    fwd(P, 'fallback'),
  ])] });
  assert.equal(outcome(rt, req('h', '/a?q=yes', { headers: { 'x-h': 'v' } })), 'all');
  assert.equal(outcome(rt, req('h', '/a?q=no', { headers: { 'x-h': 'v' } })), 'fallback');
  assert.equal(outcome(rt, req('h', '/a?q=yes')), 'fallback');
  assert.equal(outcome(rt, req('h', '/b?q=yes', { headers: { 'x-h': 'v' } })), 'fallback');
});

test('bullet 33: deprecated exact_match "" matches any present value', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [fwd({ prefix: '/', headers: [{ name: 'x-any', exact_match: '' }] }, 'any'), fwd(P, 'none')])] });
  assert.equal(outcome(rt, req('h', '/', { headers: { 'x-any': 'whatever' } })), 'any');
  assert.equal(outcome(rt, req('h', '/')), 'none');
});

test('bullet 37: present_match false on a query parameter requires absence', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [fwd({ prefix: '/', query_parameters: [{ name: 'debug', present_match: false }] }, 'nodebug'), fwd(P, 'debug')])] });
  assert.equal(outcome(rt, req('h', '/?x=1')), 'nodebug');
  assert.equal(outcome(rt, req('h', '/?debug')), 'debug');
});

test('bullet 38: live runtime_fraction uses default_value (random % denominator < numerator)', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [
    fwd({ prefix: '/', runtime_fraction: { default_value: { numerator: 50, denominator: 'HUNDRED' }, runtime_key: 'k' } }, 'half'),
    fwd(P, 'rest'),
  ])] });
  assert.equal(outcome(rt, req('h', '/', { random: 149 })), 'half');
  assert.equal(outcome(rt, req('h', '/', { random: 150 })), 'rest');
  const withRuntime = table({ virtual_hosts: [vh('d', ['*'], [
    fwd({ prefix: '/', runtime_fraction: { default_value: { numerator: 50 }, runtime_key: 'k' } }, 'half'), fwd(P, 'rest'),
  ])] }, { runtime: { getInteger: (key, def) => (key === 'k' ? 0 : def) } });
  assert.equal(outcome(withRuntime, req('h', '/', { random: 0 })), 'rest', 'a runtime override of 0 disables the route');
});

test('bullet 43: runtime_key_prefix weights come from runtime with the configured default', () => {
  const cfg = { virtual_hosts: [vh('d', ['*'], [{ match: P, route: { weighted_clusters: { runtime_key_prefix: 'w', clusters: [{ name: 'a', weight: 50 }, { name: 'b', weight: 50 }] } } }])] };
  assert.equal(outcome(table(cfg), req('h', '/', { random: 10 })), 'a');
  const rt = table(cfg, { runtime: { getInteger: (key, def) => (key === 'w.a' ? 0 : def) } });
  assert.equal(outcome(rt, req('h', '/', { random: 10 })), 'b', 'weight a=0 from runtime: total recomputed to 50, all to b');
});

test('bullet 44: cluster_header uses the first value, missing gives "" and cluster_not_found status', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [{ match: P, route: { cluster_header: 'X-Cluster', cluster_not_found_response_code: 'NOT_FOUND' } }])] });
  const d = rt.route(req('h', '/', { headers: { 'x-cluster': ['one', 'two'] } })) as ForwardDecision;
  assert.equal(d.cluster, 'one');
  assert.equal(d.clusterNotFoundStatus, 404);
  assert.equal((rt.route(req('h', '/')) as ForwardDecision).cluster, '');
});

test('bullets 50 + 52: append_x_forwarded_host and auto_host_rewrite', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [
    fwd({ prefix: '/lit' }, 'c', { host_rewrite_literal: 'new', append_x_forwarded_host: true }),
    fwd({ prefix: '/auto' }, 'c', { auto_host_rewrite: true }),
  ])] });
  const input = req('orig', '/lit', { headers: { 'x-forwarded-host': 'first' } });
  const d = rt.route(input) as ForwardDecision;
  d.finalizeRequest(input.head, input.format);
  assert.equal(input.head.authority, 'new');
  assert.equal(input.head.headers['x-forwarded-host'], 'first,orig');
  assert.equal(input.head.headers['x-envoy-original-host'], 'orig');
  const again = req('orig', '/lit', { headers: { 'x-forwarded-host': 'a,orig' } });
  (rt.route(again) as ForwardDecision).finalizeRequest(again.head, again.format);
  assert.equal(again.head.headers['x-forwarded-host'], 'a,orig', 'not appended when already the last entry');
  const auto = rt.route(req('orig', '/auto')) as ForwardDecision;
  assert.equal(auto.autoHostRewrite, true);
});

test('bullet 49: suppress_envoy_headers drops x-envoy-original-path', () => {
  const cfg = { virtual_hosts: [vh('d', ['*'], [fwd({ prefix: '/a' }, 'c', { prefix_rewrite: '/b' })])] };
  const input = req('h', '/a/x');
  (table(cfg, { suppressEnvoyHeaders: true }).route(input) as ForwardDecision).finalizeRequest(input.head, input.format);
  assert.equal(input.head.path, '/b/x');
  assert.equal(input.head.headers['x-envoy-original-path'], undefined);
});

test('bullet 65: weighted-cluster entry mutations and host rewrite run before all levels', () => {
  const rt = table({
    most_specific_header_mutations_wins: true,
    virtual_hosts: [vh('d', ['*'], [{
      match: P,
      request_headers_to_add: [{ header: { key: 'x-w', value: 'route' }, append_action: 'ADD_IF_ABSENT' }, { header: { key: 'x-host-seen', value: '%REQ(:authority)%' } }],
      response_headers_to_add: [{ header: { key: 'x-r', value: 'route' } }],
      route: { weighted_clusters: { clusters: [{ name: 'w', weight: 1, host_rewrite_literal: 'wc-host', request_headers_to_add: [{ header: { key: 'x-w', value: 'entry' } }], response_headers_to_add: [{ header: { key: 'x-r', value: 'entry' } }] }] } },
    }])],
  });
  const input = req('h', '/');
  const d = rt.route(input) as ForwardDecision;
  d.finalizeRequest(input.head, input.format);
  assert.equal(input.head.headers['x-w'], 'entry');
  assert.equal(input.head.headers['x-host-seen'], 'wc-host');
  const resp = {};
  d.finalizeResponse(resp, input.format);
  assert.deepEqual(resp, { 'x-r': ['entry', 'route'] });
});

test('bullet 66: one level reads the headers as they stood before its own additions', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [{
    match: P,
    request_headers_to_remove: ['x-gone'],
    request_headers_to_add: [
      { header: { key: 'x-a', value: 'appended' } },
      { header: { key: 'x-a', value: 'only-if-present' }, append_action: 'OVERWRITE_IF_EXISTS' },
      { header: { key: 'x-copy', value: '[%REQ(x-a)%][%REQ(x-gone)%]' }, keep_empty_value: true },
    ],
    route: { cluster: 'c' },
  }])] });
  const input = req('h', '/', { headers: { 'x-gone': 'old' } });
  (rt.route(input) as ForwardDecision).finalizeRequest(input.head, input.format);
  assert.equal(input.head.headers['x-a'], 'appended', 'OVERWRITE_IF_EXISTS saw x-a absent');
  assert.equal(input.head.headers['x-copy'], '[][]', 'formatters saw neither the removed header nor the new one');
});

test('bullet 62: local reply headers then response mutations', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [{ match: P, direct_response: { status: 503, body: { inline_bytes: Buffer.from('oops').toString('base64') } } }])] });
  const d = rt.route(req('h', '/')) as LocalResponseDecision;
  assert.equal(d.kind, 'direct');
  assert.equal(d.body?.toString(), 'oops');
  const headers = {};
  d.finalizeResponse(headers, ctxFor({} as RequestHead));
  assert.deepEqual(headers, { 'content-length': '4', 'content-type': 'text/plain' });
});

test('bullet 60: redirect and direct decisions carry no cluster', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [{ match: P, redirect: { host_redirect: 'x' } }])] });
  const d = rt.route(req('h', '/'));
  assert.equal(d.kind, 'redirect');
  assert.ok(!('cluster' in d));
});

test('forward decision: timeouts, retry, hash, mirrors, upgrades, per-filter config, decorator', () => {
  const rt = table({
    typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } },
    virtual_hosts: [vh('d', ['*'], [
      {
        match: { prefix: '/a' },
        decorator: { operation: 'op-a' },
        route: {
          cluster: 'c', timeout: '0s', idle_timeout: '5s',
          retry_policy: { retry_on: '5xx,reset', num_retries: 3, per_try_timeout: '0.25s', retriable_status_codes: [418], retriable_headers: [{ name: 'x-retry', string_match: { exact: 'yes' } }], retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }] },
          hash_policy: [{ header: { header_name: 'X-User' } }, { connection_properties: { source_ip: true }, terminal: true }],
          request_mirror_policies: [{ cluster: 'shadow', runtime_fraction: { default_value: { numerator: 10 } } }],
          upgrade_configs: [{ upgrade_type: 'WebSocket' }],
          max_stream_duration: { grpc_timeout_header_max: '10s' },
        },
      },
      fwd({ prefix: '/' }, 'vh-retry'),
    ], { retry_policy: { retry_on: 'connect-failure' } })],
  });
  const d = rt.route(req('h', '/a')) as ForwardDecision;
  assert.equal(d.timeoutMs, 0);
  assert.equal(d.idleTimeoutMs, 5000);
  assert.deepEqual([...d.retryPolicy!.retryOn], ['5xx', 'reset']);
  assert.equal(d.retryPolicy!.numRetries, 3);
  assert.equal(d.retryPolicy!.perTryTimeoutMs, 250);
  assert.ok(d.retryPolicy!.retriableStatusCodes.has(418));
  assert.equal(d.retryPolicy!.retriableHeaders[0]({ 'x-retry': 'yes' }), true);
  assert.equal(d.retryPolicy!.avoidPreviousHosts, true);
  assert.deepEqual(d.hashPolicies.map((h) => h.kind), ['header', 'source_ip']);
  assert.deepEqual(d.mirrorPolicies[0], { cluster: 'shadow', numerator: 10, denominator: 100, disableShadowHostSuffixAppend: false });
  assert.equal(d.upgrades.get('websocket'), true);
  assert.equal(d.maxStreamDuration?.grpcTimeoutHeaderMaxMs, 10000);
  assert.deepEqual(d.decorator, { operation: 'op-a', propagate: true });
  assert.equal(d.perFilterConfig('envoy.filters.http.fault')?.['@type'], 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault');
  const dflt = rt.route(req('h', '/b')) as ForwardDecision;
  assert.equal(dflt.timeoutMs, 15000, 'Envoy default route timeout');
  assert.equal(dflt.idleTimeoutMs, -1);
  assert.deepEqual([...dflt.retryPolicy!.retryOn], ['connect-failure'], 'vhost retry policy applies when the route has none');
});

test('URI templates: path_match_policy and path_rewrite_policy', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [
    {
      match: { path_match_policy: { name: 'envoy.path.match.uri_template.uri_template_matcher', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig', path_template: '/api/{version}/{rest=**}' } } },
      route: { cluster: 'tpl', path_rewrite_policy: { name: 'envoy.path.rewrite.uri_template.uri_template_rewriter', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.path.rewrite.uri_template.v3.UriTemplateRewriteConfig', path_template_rewrite: '/{rest}/{version}' } } },
    },
    fwd(P, 'other'),
  ])] });
  const input = req('h', '/api/v1/a/b?x=1');
  const d = rt.route(input) as ForwardDecision;
  assert.equal(d.cluster, 'tpl');
  d.finalizeRequest(input.head, input.format);
  assert.equal(input.head.path, '/a/b/v1?x=1');
  assert.equal(outcome(rt, req('h', '/api/v1')), 'other', '{rest=**} needs at least one segment');
});

test('explain(): every candidate route with the first failing condition', () => {
  const rt = table({ virtual_hosts: [vh('d', ['*'], [
    { name: 'needs-header', match: { prefix: '/', headers: [{ name: 'x-canary', present_match: true }] }, route: { cluster: 'canary' } },
    { name: 'api', match: { prefix: '/api' }, route: { cluster: 'api' } },
    { name: 'rest', match: { prefix: '/' }, route: { cluster: 'rest' } },
  ])] });
  const e = rt.explain(req('h', '/web'));
  assert.equal(e.decision.kind, 'forward');
  assert.deepEqual(e.steps.map((s) => [s.level, s.name, s.matched]), [['vhost', 'd', true], ['route', 'needs-header', false], ['route', 'api', false], ['route', 'rest', true]]);
  assert.match(e.steps[1].reason!, /x-canary present not satisfied/);
  assert.match(e.steps[2].reason!, /path "\/web" does not match/);
});
