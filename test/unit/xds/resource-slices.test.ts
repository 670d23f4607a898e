// Unit tests for the sliced decode / hash / freeze / translation of one large RouteConfiguration (issue 9: a 10,000-
// route RDS resource must not be one synchronous block): driven one slice at a time, each gives exactly what the
// one-shot function gives, and the work really is cut into per-route slices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Issues } from '../../../src/common/validation.js';
import {
  contentHash, contentHashInSlices, decodeAnyInSlices, decodeProtoInSlices, deepFreeze, freezeInSlices, peekStringField, type Slices,
} from '../../../src/xds/resource-slices.js';
import { mustLookupType } from '../../../src/xds/protos.js';
import { encodeMessage } from '../../../src/xds/proto-json.js';
import { decodeAny, encodeAny, jsonToCanonical, type Canonical } from '../../../src/xds/proto-json.js';
import { bigRouteConfig } from './big-route-config.js';
import {
  ROUTE_CONFIGURATION_SLICES, routeConfigurationResourceType, translateRouteConfiguration, translateRouteConfigurationSteps,
} from '../../../src/xds/resource-types/route-configuration.js';

const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

function drop(o: unknown): unknown {
  return JSON.parse(JSON.stringify(o, (_k, v) => (v === undefined ? undefined : v)));
}

/** Runs slices one at a time (as if every slice hit the deadline), counting them. */
function stepwise<T>(g: Slices<T>): { value: T; slices: number } {
  let slices = 0;
  for (;;) {
    const r = g.next();
    if (r.done) return { value: r.value, slices };
    slices++;
  }
}

const canonicalOf = (cfg: Record<string, unknown>): Canonical => jsonToCanonical('envoy.config.route.v3.RouteConfiguration', drop(cfg));

test('a 2,000-route RouteConfiguration decodes in per-route slices to exactly the one-shot canonical form', () => {
  const any = encodeAny({ '@type': RDS, ...canonicalOf(bigRouteConfig()) });
  const oneShot = decodeAny(any.type_url, any.value, 'resources[0]');
  const { value, slices } = stepwise(decodeAnyInSlices(any.type_url, any.value, 'resources[0]', ROUTE_CONFIGURATION_SLICES));
  assert.deepEqual(value, oneShot);
  assert.equal(JSON.stringify(value), JSON.stringify(oneShot), 'same field order as the one-shot decode');
  assert.ok(slices >= 2000, `cut per route: ${slices} slices`);
});

test('malformed bytes are reported exactly as the one-shot decode reports them', () => {
  const any = encodeAny({ '@type': RDS, ...canonicalOf(bigRouteConfig(3, 2)) });
  const broken = any.value.subarray(0, any.value.length - 7);
  const err = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      return String((e as Error).message);
    }
    return 'no error';
  };
  const expected = err(() => decodeAny(any.type_url, broken, 'resources[0]'));
  assert.notEqual(expected, 'no error');
  assert.equal(err(() => stepwise(decodeAnyInSlices(any.type_url, broken, 'resources[0]', ROUTE_CONFIGURATION_SLICES))), expected);
});

test('the sliced content hash equals the one-shot digest (and differs when one route deep inside changes)', () => {
  const raw = canonicalOf(bigRouteConfig());
  const { value, slices } = stepwise(contentHashInSlices(raw, ROUTE_CONFIGURATION_SLICES));
  assert.equal(value, contentHash(raw));
  assert.ok(slices >= 2000);
  const changed = bigRouteConfig();
  ((changed.virtual_hosts as Record<string, unknown>[])[150].routes as Record<string, unknown>[])[7].name = 'other';
  assert.notEqual(stepwise(contentHashInSlices(canonicalOf(changed), ROUTE_CONFIGURATION_SLICES)).value, value);
});

test('sliced freezing freezes every level like deepFreeze', () => {
  const a = canonicalOf(bigRouteConfig(20, 5));
  const b = canonicalOf(bigRouteConfig(20, 5));
  const { value } = stepwise(freezeInSlices(a, ROUTE_CONFIGURATION_SLICES));
  deepFreeze(b);
  assert.deepEqual(value, b);
  const vh = (value.virtual_hosts as Record<string, unknown>[])[13];
  assert.ok(Object.isFrozen(value) && Object.isFrozen(vh) && Object.isFrozen((vh.routes as object[])[4]));
  assert.ok(Object.isFrozen(((vh.routes as Record<string, unknown>[])[4].match as object)));
});

for (const [label, huge] of [['200 virtual hosts × 10 routes', false], ['one virtual host with 2,000 routes', true]] as const) {
  test(`translation in slices (${label}) gives the one-shot RouteConfig, one slice per route`, () => {
    const raw = canonicalOf(bigRouteConfig(200, 10, huge));
    const one = new Issues();
    const expected = translateRouteConfiguration(raw, one);
    assert.deepEqual(one.allErrors(), []);
    const sliced = new Issues();
    const { value, slices } = stepwise(translateRouteConfigurationSteps(raw, sliced));
    assert.deepEqual(sliced.allErrors(), []);
    assert.deepEqual(value, expected);
    assert.ok(slices >= 2000, `${slices} slices`);
  });
}

test('an invalid route deep inside: the sliced translator reports the same errors with the same field paths', () => {
  const cfg = bigRouteConfig();
  const vhs = cfg.virtual_hosts as Record<string, unknown>[];
  (vhs[150].routes as Record<string, unknown>[])[7] = { match: { safe_regex: { regex: '/bad/(unclosed' } }, route: { cluster: 'x' } };
  (vhs[199].routes as Record<string, unknown>[])[9] = { match: { prefix: '/x' } };
  const raw = canonicalOf(cfg);
  const one = routeConfigurationResourceType.translate(raw, { node: { id: 'n', cluster: 'c', locality: {}, metadata: {} } as never });
  const sliced = stepwise(routeConfigurationResourceType.translateSteps(raw, { node: {} as never })).value;
  assert.equal(one.ok, false);
  assert.deepEqual(sliced, one);
  if (one.ok) return;
  assert.deepEqual(one.errors.map((e) => e.path), ['virtual_hosts[150].routes[7].match.safe_regex.regex', 'virtual_hosts[199].routes[9]', 'virtual_hosts[199].routes[9].route']);
});

test('an ADS response with 2,000 resources decodes in slices to what one protobufjs decode gives', () => {
  const t = mustLookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const resources = [];
  for (let i = 0; i < 2000; i++) {
    const resource = { '@type': RDS, name: `r${i}`, virtual_hosts: [{ name: 'v', domains: [`h${i}`], routes: [{ match: { prefix: '/' }, route: { cluster: `c${i}` } }] }] };
    resources.push({ name: `r${i}`, version: `v${i}`, resource });
  }
  const bytes = encodeMessage('envoy.service.discovery.v3.DeltaDiscoveryResponse', {
    system_version_info: '7', resources, type_url: RDS, removed_resources: ['gone'], nonce: 'n1',
  });
  const oneShot = t.toObject(t.decode(bytes));
  const { value, slices } = stepwise(decodeProtoInSlices(t, bytes, 'resources'));
  assert.deepEqual(t.toObject(value), oneShot);
  assert.equal((oneShot.resources as unknown[]).length, 2000);
  assert.ok(slices >= 2000 / 32, `${slices} slices`);
  assert.equal(peekStringField(bytes, 4), RDS, 'type_url read without decoding the resources');
  assert.equal(peekStringField(bytes, 9), '');
  // Cut short (inside a resource, or at the very end): whatever the one-shot decode does, the sliced one does too.
  for (const n of [Math.floor(bytes.length / 2), bytes.length - 3]) {
    const part = bytes.subarray(0, n);
    const outcome = (f: () => unknown): unknown => {
      try {
        return t.toObject(f() as never);
      } catch (e) {
        return `throws: ${(e as Error).message}`;
      }
    };
    assert.deepEqual(outcome(() => stepwise(decodeProtoInSlices(t, part, 'resources')).value), outcome(() => t.decode(part)));
  }
});
