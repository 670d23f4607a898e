// Unit tests for the config store's chunked apply of one mesh-sized RouteConfiguration: the chunked (ADS) path and
// the synchronous one (bootstrap/static, tests) accept the same resource with the same translated value; an invalid
// route deep inside is NACKed with the same field path by both and nothing is published, even though the sliced
// work spans many event-loop turns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigStore } from '../../../src/xds/config-store.js';
import { encodeAny, jsonToCanonical } from '../../../src/xds/proto-json.js';
import { TypeUrl } from '../../../src/xds/resource-type.js';
import type { ConfigSnapshot } from '../../../src/config/snapshot.js';
import type { RouteConfig } from '../../../src/config/route.js';
import { listenerRes, testRegistry } from '../../support/xds-server.js';
import { routeConfigurationResourceType } from '../../../src/xds/resource-types/route-configuration.js';
import { bigRouteConfig } from './big-route-config.js';
import { turnsDuring } from '../../support/event-loop-turns.js';

const node = { id: 'n', cluster: 'c', locality: {}, metadata: {} };
/** A store with meshlet's real RDS translator and a listener that wants the route table "big" (so it is kept). */
function mk(): ConfigStore {
  const registry = testRegistry();
  registry.set(TypeUrl.RouteConfiguration, routeConfigurationResourceType);
  const store = new ConfigStore({ registry, ctx: { node }, warmingTimeoutMs: 0 });
  assert.equal(store.applySotw(TypeUrl.Listener, [listenerRes('l', 1, 'big')], { source: 'ads-sotw', version: '1' }).accepted, true);
  return store;
}
const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

function wire(cfg: Record<string, unknown>): { type_url: string; value: Uint8Array } {
  const c = jsonToCanonical('envoy.config.route.v3.RouteConfiguration', JSON.parse(JSON.stringify(cfg)));
  return encodeAny({ '@type': RDS, ...c });
}

test('chunked and synchronous apply of a 2,000-route RouteConfiguration give the same translated route table', async () => {
  const a = mk();
  const b = mk();
  const res = wire(bigRouteConfig());
  const { value: r, turns } = await turnsDuring(a.applyDeltaAsync(TypeUrl.RouteConfiguration, [{ name: 'big', version: '1', resource: res }], [], { source: 'ads-delta', version: '1' }));
  assert.equal(r.accepted, true);
  const s = b.applySotw(TypeUrl.RouteConfiguration, [res], { source: 'ads-sotw', version: '1' });
  assert.equal(s.accepted, true);
  const ea = a.current().routes.get('big')!;
  const eb = b.current().routes.get('big')!;
  assert.ok(ea && eb, 'published by both');
  assert.deepEqual(ea.value, eb.value);
  assert.deepEqual(ea.raw, eb.raw);
  assert.ok(Object.isFrozen(ea.raw));
  assert.equal((ea.value as RouteConfig).virtualHosts[150].routes.length, 10);
  assert.ok(turns > 1, `the apply yielded to the event loop (${turns} turns)`);
});

test('an invalid route deep inside a 2,000-route table: chunked NACK with the synchronous field path, nothing published', async () => {
  const a = mk();
  const b = mk();
  const published: ConfigSnapshot[] = [];
  a.subscribe((s) => published.push(s));
  // A first good version, so there is something to keep serving.
  const good = wire(bigRouteConfig(20, 5));
  assert.equal((await a.applyDeltaAsync(TypeUrl.RouteConfiguration, [{ name: 'big', version: '1', resource: good }], [], { source: 'ads-delta', version: '1' })).accepted, true);
  const before = a.current();
  const nPublished = published.length;
  const cfg = bigRouteConfig();
  ((cfg.virtual_hosts as Record<string, unknown>[])[150].routes as Record<string, unknown>[])[7] = { match: { prefix: '/x' }, route: { cluster: 'c', retry_policy: { retry_on: 'sometimes' } } };
  const bad = wire(cfg);
  const { value: r, turns } = await turnsDuring(a.applyDeltaAsync(TypeUrl.RouteConfiguration, [{ name: 'big', version: '2', resource: bad }], [], { source: 'ads-delta', version: '2' }));
  const s = b.applySotw(TypeUrl.RouteConfiguration, [bad], { source: 'ads-sotw', version: '2' });
  assert.equal(r.accepted, false);
  assert.equal(s.accepted, false);
  if (r.accepted || s.accepted) return;
  assert.deepEqual(r.errors.map((e) => e.path), s.errors.map((e) => e.path));
  assert.ok(r.errors.length > 0 && r.errors.every((e) => e.path.startsWith('resources[0].virtual_hosts[150].routes[7]')), JSON.stringify(r.errors));
  assert.ok(turns > 1, `sliced over ${turns} turns`);
  assert.equal(a.current(), before, 'no new snapshot');
  assert.equal(published.length, nPublished);
  assert.equal(a.resourceVersions(TypeUrl.RouteConfiguration).big, '1', 'the last good version is kept');
});

test('State of the World resending the unchanged big table next to a changed small one does not decode it again', async () => {
  let named = 0;
  const counting = { ...routeConfigurationResourceType, name: (r: Record<string, unknown>) => (named++, routeConfigurationResourceType.name(r)) };
  const registry = testRegistry();
  registry.set(TypeUrl.RouteConfiguration, counting);
  const store = new ConfigStore({ registry, ctx: { node }, warmingTimeoutMs: 0 });
  store.applySotw(TypeUrl.Listener, [listenerRes('l', 1, 'big'), listenerRes('m', 2, 'small')], { source: 'ads-sotw', version: '1' });
  const big = wire(bigRouteConfig());
  const small = (tag: string) => wire({ name: 'small', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: tag } }] }] });
  assert.equal((await store.applySotwAsync(TypeUrl.RouteConfiguration, [big, small('a')], { source: 'ads-sotw', version: '1' })).accepted, true);
  const first = store.current().routes.get('big')!;
  assert.equal(named, 2);
  assert.equal((await store.applySotwAsync(TypeUrl.RouteConfiguration, [big, small('b')], { source: 'ads-sotw', version: '2' })).accepted, true);
  assert.equal(named, 3, 'only the small table was decoded again');
  assert.equal(store.current().routes.get('big'), first, 'the big table is the same accepted entry');
  assert.equal((store.current().routes.get('small')!.value as RouteConfig).virtualHosts[0].routes[0].action.kind, 'route');
  // The same bytes under a second name in one response are still a duplicate-free, checked update.
  const r = await store.applySotwAsync(TypeUrl.RouteConfiguration, [big, big], { source: 'ads-sotw', version: '3' });
  assert.equal(r.accepted, false);
  if (!r.accepted) assert.match(r.errors[0].message, /duplicate resource name "big"/);
  // A changed big table is decoded and translated again.
  const cfg = bigRouteConfig();
  (cfg.virtual_hosts as Record<string, unknown>[])[3].name = 'renamed';
  assert.equal((await store.applySotwAsync(TypeUrl.RouteConfiguration, [wire(cfg), small('b')], { source: 'ads-sotw', version: '4' })).accepted, true);
  assert.equal((store.current().routes.get('big')!.value as RouteConfig).virtualHosts[3].name, 'renamed');
});
