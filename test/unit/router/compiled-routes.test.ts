// Unit tests for CompiledRoutes' sliced update: a snapshot's route tables are compiled aside one route per slice and
// swapped in together, so a lookup between slices sees the whole old set and after the last slice the whole new one,
// never a mix; the sliced compile answers like compileRouteTable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceEntry } from '../../../src/config/snapshot.js';
import type { RouteConfig } from '../../../src/config/route.js';
import { CompiledRoutes } from '../../../src/router/compiled-routes.js';
import { compileRouteTable, compileRouteTableSteps } from '../../../src/router/route-table.js';
import type { ForwardDecision, RouteDecision } from '../../../src/router/types.js';
import { req, translate } from './helpers.js';

function config(name: string, tag: string, vhosts = 100, perHost = 10): RouteConfig {
  const vh = [];
  for (let v = 0; v < vhosts; v++) {
    const routes = [];
    for (let r = 0; r < perHost; r++) routes.push({ match: { prefix: `/s${r}/` }, route: { cluster: `${tag}-${v}-${r}` } });
    vh.push({ name: `vh${v}`, domains: [`svc${v}.local`], routes });
  }
  vh.push({ name: 'any', domains: ['*'], routes: [{ match: { safe_regex: { regex: '/re/[0-9]+' } }, route: { cluster: `${tag}-re` } }, { match: { prefix: '/' }, route: { cluster: `${tag}-any` } }] });
  const { config: c, errors } = translate({ name, virtual_hosts: vh });
  assert.deepEqual(errors, []);
  return c;
}

const entry = (value: RouteConfig): ResourceEntry<RouteConfig> => ({ name: value.name, version: '1', value, raw: {}, lastUpdated: 0, isStatic: false });
const snap = (...cs: RouteConfig[]): ReadonlyMap<string, ResourceEntry<RouteConfig>> => new Map(cs.map((c) => [c.name, entry(c)]));
const cluster = (d: RouteDecision | undefined): string => (d?.kind === 'forward' ? (d as ForwardDecision).cluster : `<${d?.kind}>`);

test('between slices lookups see the whole old set of tables; after the last slice the whole new set', () => {
  const routes = new CompiledRoutes();
  routes.update(snap(config('a', 'old'), config('b', 'old')));
  const oldA = routes.get('a');
  const oldB = routes.get('b');
  const u = routes.beginUpdate(snap(config('a', 'new'), config('b', 'new')));
  let slices = 0;
  while (!u.step(-Infinity)) {
    slices++;
    // Both tables still the old objects, answering with old clusters, whatever slice we are in.
    assert.equal(routes.get('a'), oldA);
    assert.equal(routes.get('b'), oldB);
    if (slices % 97 === 0) {
      assert.equal(cluster(routes.get('a')?.route(req('svc42.local', '/s3/x'))), 'old-42-3');
      assert.equal(cluster(routes.get('b')?.route(req('other', '/re/7'))), 'old-re');
    }
  }
  assert.ok(slices >= 2 * 1000, `one slice per route at least (${slices})`);
  assert.notEqual(routes.get('a'), oldA);
  assert.equal(cluster(routes.get('a')?.route(req('svc42.local', '/s3/x'))), 'new-42-3');
  assert.equal(cluster(routes.get('b')?.route(req('svc99.local', '/s9/'))), 'new-99-9');
  assert.equal(cluster(routes.get('b')?.route(req('other', '/re/7'))), 'new-re');
  // The old tables, still pinned by streams that started on them, keep answering as before.
  assert.equal(cluster(oldA?.route(req('svc42.local', '/s3/x'))), 'old-42-3');
});

test('a table removed from the snapshot disappears only when the update completes; unchanged configs keep their table', () => {
  const routes = new CompiledRoutes();
  const keep = config('keep', 'k', 5, 2);
  routes.update(snap(keep, config('gone', 'g', 5, 2)));
  const kept = routes.get('keep');
  const u = routes.beginUpdate(snap(keep, config('added', 'n', 50, 10)));
  assert.equal(u.step(-Infinity), false);
  assert.ok(routes.get('gone'));
  assert.equal(routes.get('added'), undefined);
  while (!u.step(-Infinity));
  assert.equal(routes.get('gone'), undefined);
  assert.equal(routes.get('keep'), kept);
  assert.equal(cluster(routes.get('added')?.route(req('svc7.local', '/s1/'))), 'n-7-1');
});

test('an older update still being stepped never replaces a newer one', () => {
  const routes = new CompiledRoutes();
  const first = routes.beginUpdate(snap(config('a', 'first', 10, 10)));
  first.step(-Infinity);
  routes.update(snap(config('a', 'second', 2, 2)));
  while (!first.step(-Infinity));
  assert.equal(cluster(routes.get('a')?.route(req('svc1.local', '/s1/'))), 'second-1-1');
});

test('the sliced compile answers exactly like compileRouteTable', () => {
  const c = config('t', 'x', 300, 10);
  const steps = compileRouteTableSteps(c, { lazyThreshold: Infinity });
  let r = steps.next();
  while (!r.done) r = steps.next();
  const sliced = r.value;
  const oneShot = compileRouteTable(c);
  for (const [host, path] of [['svc0.local', '/s0/'], ['svc299.local', '/s9/a'], ['SVC150.local', '/s5/'], ['svc150.local', '/nope'], ['x', '/re/12'], ['x', '/re/x']]) {
    assert.deepEqual(cluster(sliced.route(req(host, path))), cluster(oneShot.route(req(host, path))), `${host}${path}`);
  }
  assert.equal(cluster(sliced.route(req('svc299.local', '/s9/a'))), 'x-299-9');
});
