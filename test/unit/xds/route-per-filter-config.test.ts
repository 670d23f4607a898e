// RDS typed_per_filter_config is validated by the filter's own translator when the route table is accepted: a bad
// per-route override NACKs the update with its field path; unknown filter types are errors unless optional.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { translateRouteConfiguration } from '../../../src/xds/resource-types/route-configuration.js';
import { Issues } from '../../../src/common/validation.js';

function translate(perFilter: Record<string, unknown>): Issues {
  const issues = new Issues();
  translateRouteConfiguration(jsonToCanonical('envoy.config.route.v3.RouteConfiguration', {
    name: 'r',
    virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: perFilter }] }],
  }), issues);
  return issues;
}

const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

test('a valid per-route fault override is accepted', () => {
  const issues = translate({ 'envoy.filters.http.fault': { '@type': FAULT, abort: { http_status: 503, percentage: { numerator: 10 } } } });
  assert.equal(issues.hasErrors, false, JSON.stringify(issues.allErrors()));
});

test('an invalid per-route fault override is an error naming its path', () => {
  const issues = translate({ 'envoy.filters.http.fault': { '@type': FAULT, abort: { http_status: 42, percentage: { numerator: 10 } } } });
  assert.ok(issues.hasErrors);
  assert.ok(issues.allErrors().some((e) => e.path.startsWith('virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.fault')), JSON.stringify(issues.allErrors()));
});

test('a per-route config of a filter meshlet does not implement is an error unless wrapped as optional', () => {
  const lua = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.set_metadata.v3.Config', metadata_namespace: 'x' };
  assert.ok(translate({ 'envoy.filters.http.set_metadata': lua }).hasErrors);
  const optional = translate({ 'envoy.filters.http.set_metadata': { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', is_optional: true, config: lua } });
  assert.equal(optional.hasErrors, false, JSON.stringify(optional.allErrors()));
});
