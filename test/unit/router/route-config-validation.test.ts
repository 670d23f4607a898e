// RouteConfiguration validation (xds/resource-types/route-configuration.ts): every config error route-semantics.md
// names is reported with its field path, and unimplemented behaviour-changing fields are errors naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeConfigurationResourceType } from '../../../src/xds/resource-types/route-configuration.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { fwd, translate, vh } from './helpers.js';

const P = { prefix: '/' };
const oneRoute = (route: object, vhExtra: object = {}, cfgExtra: object = {}): object => ({ ...cfgExtra, virtual_hosts: [vh('v', ['*'], [route], vhExtra)] });

const CASES: [string, object, RegExp][] = [
  ['bullet 2: domains differing only in case', { virtual_hosts: [vh('a', ['lyft.com'], [fwd(P, 'a')]), vh('b', ['LYFT.COM'], [fwd(P, 'b')])] },
    /^virtual_hosts\[1\]\.domains\[0\]: only unique values for domains are permitted: duplicate entry of domain lyft\.com/],
  ['bullet 2: duplicate suffix wildcards by case', { virtual_hosts: [vh('a', ['*.lyft.com'], [fwd(P, 'a')]), vh('b', ['*.LYFT.COM'], [fwd(P, 'b')])] },
    /^virtual_hosts\[1\]\.domains\[0\]: only unique values for domains/],
  ['bullet 3: a second * domain', { virtual_hosts: [vh('a', ['*'], [fwd(P, 'a')]), vh('b', ['*'], [fwd(P, 'b')])] },
    /^virtual_hosts\[1\]\.domains\[0\]: only a single wildcard domain is permitted/],
  ['bullet 21: backreference rejected by RE2', oneRoute(fwd({ safe_regex: { regex: '(a)\\1' } }, 'c')),
    /^virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid regex/],
  ['bullet 21: lookahead rejected by RE2', oneRoute(fwd({ prefix: '/', headers: [{ name: 'x', string_match: { safe_regex: { regex: '(?=a)' } } }] }, 'c')),
    /^virtual_hosts\[0\]\.routes\[0\]\.match\.headers\[0\]\.string_match\.safe_regex\.regex: invalid regex/],
  ['bullet 22: path_separated_prefix ending in /', oneRoute(fwd({ path_separated_prefix: '/rest/' }, 'c')),
    /^virtual_hosts\[0\]\.routes\[0\]\.match\.path_separated_prefix: .*must not end with "\/"/],
  ['bullet 22: path_separated_prefix with ?', oneRoute(fwd({ path_separated_prefix: '/rest?x' }, 'c')), /match\.path_separated_prefix:/],
  ['bullet 22: path_separated_prefix with #', oneRoute(fwd({ path_separated_prefix: '/rest#x' }, 'c')), /match\.path_separated_prefix:/],
  ['bullet 24: prefix + path', oneRoute(fwd({ prefix: '/', path: '/x' }, 'c')), /routes\[0\]\.match: only one path specifier may be set, got prefix, path/],
  ['bullet 24: prefix + safe_regex', oneRoute(fwd({ prefix: '/', safe_regex: { regex: '/x' } }, 'c')), /match: only one path specifier/],
  ['bullet 24: no path specifier', oneRoute({ match: {}, route: { cluster: 'c' } }), /match: one of prefix, path/],
  ['bullet 40: weights sum to zero', oneRoute({ match: P, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 0 }] } } }),
    /route\.weighted_clusters\.clusters: sum of weights cannot be zero/],
  ['bullet 40: weights above uint32', oneRoute({ match: P, route: { weighted_clusters: { clusters: [{ name: 'a', weight: 4294967295 }, { name: 'b', weight: 1 }] } } }),
    /weighted_clusters\.clusters: sum of weights 4294967296 exceeds uint32 max/],
  ['bullet 40: name and cluster_header together', oneRoute({ match: P, route: { weighted_clusters: { clusters: [{ name: 'a', cluster_header: 'x', weight: 1 }] } } }),
    /weighted_clusters\.clusters\[0\]: exactly one of name or cluster_header is required/],
  ['bullet 48: prefix_rewrite + regex_rewrite', oneRoute(fwd(P, 'c', { prefix_rewrite: '/a', regex_rewrite: { pattern: { regex: 'a' }, substitution: 'b' } })),
    /routes\[0\]\.route: only one of prefix_rewrite, regex_rewrite or path_rewrite_policy may be set/],
  ['bullet 52: host_rewrite_literal + auto_host_rewrite', oneRoute(fwd(P, 'c', { host_rewrite_literal: 'h', auto_host_rewrite: true })),
    /routes\[0\]\.route: only one of host_rewrite_literal, auto_host_rewrite may be set/],
  ['bullet 53: CR/LF in prefix_rewrite', oneRoute(fwd(P, 'c', { prefix_rewrite: '/a\r\nb' })), /routes\[0\]\.route\.prefix_rewrite: must not contain NUL, CR or LF/],
  ['bullet 53: NUL in host_rewrite_literal', oneRoute(fwd(P, 'c', { host_rewrite_literal: 'a\u0000b' })), /route\.host_rewrite_literal: must not contain NUL/],
  ['bullet 53: LF in host_redirect', oneRoute({ match: P, redirect: { host_redirect: 'a\nb' } }), /redirect\.host_redirect: must not contain/],
  ['bullet 53: LF in path_redirect', oneRoute({ match: P, redirect: { path_redirect: '/a\nb' } }), /redirect\.path_redirect: must not contain/],
  ['bullet 53: LF in redirect prefix_rewrite', oneRoute({ match: P, redirect: { prefix_rewrite: '/a\nb' } }), /redirect\.prefix_rewrite: must not contain/],
  ['bullet 61: direct response body larger than the default 4096', oneRoute({ match: P, direct_response: { status: 200, body: { inline_string: 'x'.repeat(4097) } } }),
    /direct_response\.body: response body size is 4097 bytes; maximum is 4096/],
  ['bullet 61: custom max_direct_response_body_size_bytes', oneRoute({ match: P, direct_response: { status: 200, body: { inline_string: 'abc' } } }, {}, { max_direct_response_body_size_bytes: 2 }),
    /maximum is 2/],
  ['bullet 67: append together with a non-default append_action', oneRoute(fwd(P, 'c', {}, { request_headers_to_add: [{ header: { key: 'x', value: 'y' }, append: true, append_action: 'ADD_IF_ABSENT' }] })),
    /routes\[0\]\.request_headers_to_add\[0\]: append and append_action are mutually exclusive/],
  ['bullet 69: adding a pseudo-header', oneRoute(fwd(P, 'c'), { request_headers_to_add: [{ header: { key: ':path', value: '/x' } }] }),
    /virtual_hosts\[0\]\.request_headers_to_add\[0\]\.header\.key: ":"-prefixed or host headers may not be modified/],
  ['bullet 69: adding host', oneRoute(fwd(P, 'c'), {}, { request_headers_to_add: [{ header: { key: 'Host', value: 'x' } }] }),
    /^request_headers_to_add\[0\]\.header\.key: ":"-prefixed or host/],
  ['bullet 69: removing a pseudo-header', oneRoute(fwd(P, 'c', {}, { request_headers_to_remove: [':authority'] })),
    /routes\[0\]\.request_headers_to_remove\[0\]: ":"-prefixed or host headers may not be removed/],
  ['bullet 70: unknown formatter command', oneRoute(fwd(P, 'c', {}, { response_headers_to_add: [{ header: { key: 'x', value: '%NOPE%' } }] })),
    /response_headers_to_add\[0\]\.header\.value: invalid format string .*unknown command %NOPE%/],
  ['regex_rewrite substitution referencing a missing group', oneRoute(fwd(P, 'c', { regex_rewrite: { pattern: { regex: '(a)' }, substitution: '\\2' } })),
    /route\.regex_rewrite\.substitution: .*references group \\2/],
  ['unsupported: vhds', { vhds: { config_source: { ads: {} } }, virtual_hosts: [] }, /^vhds: field is not supported by meshlet/],
  ['unsupported: cluster_specifier_plugin', oneRoute({ match: P, route: { cluster_specifier_plugin: 'p' } }), /route\.cluster_specifier_plugin: field is not supported/],
  ['unsupported: route tracing', oneRoute({ ...fwd(P, 'c'), tracing: { client_sampling: { numerator: 1 } } }), /routes\[0\]\.tracing: field is not supported/],
  ['unsupported: dynamic_metadata matcher', oneRoute(fwd({ prefix: '/', dynamic_metadata: [{ filter: 'f', path: [{ key: 'k' }], value: { present_match: true } }] }, 'c')),
    /match\.dynamic_metadata: field is not supported/],
  ['unsupported: vhost rate_limits', oneRoute(fwd(P, 'c'), { rate_limits: [{ actions: [{ source_cluster: {} }] }] }), /virtual_hosts\[0\]\.rate_limits: field is not supported/],
  ['unsupported: non-previous-hosts retry host predicate', oneRoute(fwd(P, 'c', { retry_policy: { retry_on: '5xx', retry_host_predicate: [{ name: 'envoy.retry_host_predicates.omit_canary_hosts' }] } })),
    /retry_policy\.retry_host_predicate\[0\]: retry host predicate/],
];

for (const [name, cfg, re] of CASES) {
  test(`validation: ${name}`, () => {
    const { errors } = translate(cfg);
    assert.ok(errors.some((e) => re.test(e)), `expected an error matching ${re}, got:\n${errors.join('\n')}`);
  });
}

test('validation collects every error at once (NACK names them all)', () => {
  const { errors } = translate({ virtual_hosts: [vh('a', ['*'], [fwd({ prefix: '/', path: '/x' }, 'c', { prefix_rewrite: '/a\n' })]), vh('b', ['*'], [fwd(P, 'c')])] });
  assert.equal(errors.length, 3, errors.join('\n'));
});

test('resource type: name, ok result for a valid config, NACK errors for a bad one', () => {
  const good = jsonToCanonical('envoy.config.route.v3.RouteConfiguration', { name: 'r1', virtual_hosts: [vh('v', ['*'], [fwd(P, 'c')])] });
  assert.equal(routeConfigurationResourceType.name(good), 'r1');
  const r = routeConfigurationResourceType.translate(good, { node: { id: 'n', cluster: 'c', locality: {}, metadata: {} } });
  assert.equal(r.ok, true);
  if (r.ok) assert.deepEqual(r.value.referencedClusters, ['c']);
  const bad = jsonToCanonical('envoy.config.route.v3.RouteConfiguration', { name: 'r2', virtual_hosts: [vh('v', ['*'], [{ match: P }])] });
  const rb = routeConfigurationResourceType.translate(bad, { node: { id: 'n', cluster: 'c', locality: {}, metadata: {} } });
  assert.equal(rb.ok, false);
  if (!rb.ok) assert.equal(rb.errors[0].path, 'virtual_hosts[0].routes[0]');
});

test('bullet 59: redirect response codes map to statuses', () => {
  const codes: [string, number][] = [['MOVED_PERMANENTLY', 301], ['FOUND', 302], ['SEE_OTHER', 303], ['TEMPORARY_REDIRECT', 307], ['PERMANENT_REDIRECT', 308]];
  for (const [name, status] of codes) {
    const { config, errors } = translate(oneRoute({ match: P, redirect: { response_code: name } }));
    assert.deepEqual(errors, []);
    const a = config.virtualHosts[0].routes[0].action;
    assert.equal(a.kind === 'redirect' ? a.status : 0, status, name);
  }
  const { config } = translate(oneRoute({ match: P, redirect: {} }));
  const a = config.virtualHosts[0].routes[0].action;
  assert.equal(a.kind === 'redirect' ? a.status : 0, 301, 'default');
});

test('an Istio-style sidecar RouteConfiguration translates without errors', () => {
  const { config, errors } = translate({
    name: '9080',
    validate_clusters: false,
    max_direct_response_body_size_bytes: 1048576,
    ignore_port_in_host_matching: true,
    virtual_hosts: [{
      name: 'reviews.default.svc.cluster.local:9080',
      domains: ['reviews.default.svc.cluster.local', 'reviews', 'reviews.default.svc', '10.96.0.10'],
      include_request_attempt_count: true,
      routes: [{
        name: 'default',
        match: { prefix: '/' },
        decorator: { operation: 'reviews.default.svc.cluster.local:9080/*' },
        metadata: { filter_metadata: { istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews' } } },
        route: {
          cluster: 'outbound|9080||reviews.default.svc.cluster.local',
          timeout: '0s',
          retry_policy: {
            retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
            num_retries: 2,
            // Istio also sends typed_config PreviousHostsPredicate; that proto is not in proto/envoy-protos.txt yet.
            retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
            host_selection_retry_max_attempts: 5,
            retriable_status_codes: [503],
          },
          max_stream_duration: { max_stream_duration: '0s', grpc_timeout_header_max: '0s' },
        },
      }],
    }, { name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: 'PassthroughCluster', timeout: '0s', max_grpc_timeout: '0s' } }] }],
  });
  assert.deepEqual(errors, []);
  const vh0 = config.virtualHosts[0];
  assert.equal(vh0.includeRequestAttemptCount, true);
  const a = vh0.routes[0].action;
  assert.ok(a.kind === 'route' && a.retryPolicy?.avoidPreviousHosts === true && a.retryPolicy.hostSelectionRetryMaxAttempts === 5);
});
