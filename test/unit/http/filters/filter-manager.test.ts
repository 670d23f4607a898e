// Filter manager: decoder order forward / encoder reverse, stop + continueDecoding, local replies short-circuit and
// skip later encoders, a throwing filter ends only its stream, unknown / optional / disabled filters, per-route
// FilterConfig (disable, enable, is_optional) and per-route translation cached by object identity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterRegistry } from '../../../../src/http/filters/filter-registry.js';
import type { HttpFilter, HttpFilterType } from '../../../../src/http/filters/filter-api.js';
import { Issues } from '../../../../src/common/validation.js';
import { FilterManager } from '../../../../src/http/filters/filter-manager.js';
import { build, deps, mustBuild, req, ROUTER, run, T, lookupFrom } from './filter-kit.js';

const log: string[] = [];
let perRouteTranslations = 0;

interface TestCfg { tag: string; mode: string }

function testType(url: string): HttpFilterType<TestCfg, TestCfg> {
  return {
    typeUrl: T(url),
    perRouteTypeUrls: [T(url)],
    translate: (c: Readonly<Record<string, unknown>>, issues: Issues) => {
      if (c.bad) issues.error('bad config', 'bad');
      return { tag: String((c as { fields?: unknown }).fields ?? url), mode: '' };
    },
    translatePerRoute: (_c, _u, _i) => { perRouteTranslations++; return { tag: 'route', mode: '' }; },
    createFactory(name, _cfg) {
      return {
        name,
        create: (): HttpFilter => ({
          decodeHeaders(r, _e, cb) {
            const pr = cb.perRouteConfig<TestCfg>();
            log.push(`dec:${name}${pr ? ':' + pr.tag : ''}`);
            const mode = r.head.headers[`x-${name}`];
            if (mode === 'reply') { cb.sendLocalReply({ status: 418, details: `by_${name}` }); return 'stop'; }
            if (mode === 'throw') throw new Error('boom');
            if (mode === 'stop') { setTimeout(() => cb.continueDecoding(), 5); return 'stop'; }
            return 'continue';
          },
          encodeHeaders(_s, h) { log.push(`enc:${name}`); h[`x-enc-${name}`] = '1'; return 'continue'; },
          onDestroy() { log.push(`destroy:${name}`); },
        }),
      };
    },
  };
}

// Struct-typed config lets any JSON through the canonical converter: use google.protobuf.Struct as the "config".
const A = 'google.protobuf.Struct';
function reg(): FilterRegistry {
  return new FilterRegistry().register(testType(A)).register(testType('google.protobuf.Empty'));
}
const f = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name, typed_config: { '@type': T(A) }, ...extra });

test('decoder hooks run in order, encoder hooks in reverse; destroy reaches every instance', async () => {
  log.length = 0;
  const m = mustBuild([f('a'), f('b'), f('c'), ROUTER], deps(), reg());
  const r = await run(m, req());
  assert.equal(r.reply, null);
  assert.deepEqual(log, ['dec:a', 'dec:b', 'dec:c', 'enc:c', 'enc:b', 'enc:a', 'destroy:a', 'destroy:b', 'destroy:c']);
});

test("'stop' pauses until continueDecoding()", async () => {
  log.length = 0;
  const m = mustBuild([f('a'), f('b'), ROUTER], deps(), reg());
  const s = m.createStream(req({ headers: { 'x-a': 'stop' } }), null);
  let done = false;
  const p = s.decode().then((x) => { done = true; return x; });
  await Promise.resolve();
  assert.equal(done, false);
  assert.deepEqual(log, ['dec:a']);
  assert.equal(await p, null);
  assert.deepEqual(log, ['dec:a', 'dec:b']);
  s.destroy();
});

test('sendLocalReply short-circuits: later decoders and the replying filter\'s encoder are skipped', async () => {
  log.length = 0;
  const m = mustBuild([f('a'), f('b'), f('c'), ROUTER], deps(), reg());
  const r = await run(m, req({ headers: { 'x-b': 'reply' } }));
  assert.equal(r.reply?.status, 418);
  assert.equal(r.reply?.details, 'by_b');
  assert.deepEqual(log.filter((l) => !l.startsWith('destroy')), ['dec:a', 'dec:b', 'enc:a']);
  assert.equal(r.responseHeaders['x-enc-a'], '1');
  assert.equal(r.responseHeaders['x-enc-b'], undefined);
});

test('a throwing filter ends only its own stream with a local 500', async () => {
  const m = mustBuild([f('a'), f('b'), ROUTER], deps(), reg());
  const bad = await run(m, req({ headers: { 'x-a': 'throw' } }));
  assert.equal(bad.reply?.status, 500);
  assert.equal(bad.reply?.details, 'filter_threw');
  const good = await run(m, req());
  assert.equal(good.reply, null);
});

test('unknown filter type is an error at http_filters[i].typed_config unless is_optional; router options exposed', () => {
  const unknown = { name: 'x', typed_config: { '@type': T('google.protobuf.Duration') } };
  const { errors } = build([f('a'), unknown, ROUTER], deps(), reg());
  assert.equal(errors.length, 1);
  assert.equal(errors[0].path, 'http_filters[1].typed_config');
  assert.match(errors[0].message, /unknown HTTP filter type/);
  const ok = build([f('a'), { ...unknown, is_optional: true }, {
    name: 'envoy.filters.http.router', typed_config: { '@type': T('envoy.extensions.filters.http.router.v3.Router'), suppress_envoy_headers: true, start_child_span: true },
  }], deps(), reg());
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.manager.entries.length, 1);
  assert.deepEqual(ok.manager.router, { suppressEnvoyHeaders: true, startChildSpan: true });
  const cfgErr = build([f('a', { typed_config: { '@type': T(A), bad: true } }), ROUTER], deps(), reg());
  assert.equal(cfgErr.errors[0].path, 'http_filters[0].typed_config.bad');
  const notLast = build([ROUTER, f('a')], deps(), reg());
  assert.equal(notLast.errors[0].path, 'http_filters[0]');
});

test('empty filter list: isEmpty and decode completes synchronously', () => {
  const m = mustBuild([ROUTER], deps(), reg());
  assert.equal(m.isEmpty, true);
  let got: unknown = 'pending';
  m.createStream(req(), null).decodeHeaders(true, null, (r) => { got = r; });
  assert.equal(got, null);
});

test('disabled filters run only when a route enables them; FilterConfig disabled turns a filter off per route', async () => {
  log.length = 0;
  const m = mustBuild([f('a', { disabled: true }), f('b'), ROUTER], deps(), reg());
  await run(m, req());
  assert.deepEqual(log.filter((l) => l.startsWith('dec')), ['dec:b']);
  log.length = 0;
  const enable = { '@type': T('envoy.config.route.v3.FilterConfig'), disabled: false };
  const disable = { '@type': T('envoy.config.route.v3.FilterConfig'), disabled: true };
  await run(m, req(), lookupFrom({ a: enable, b: disable }));
  assert.deepEqual(log.filter((l) => l.startsWith('dec')), ['dec:a']);
});

test('per-route config: plain Any or FilterConfig.config, translated once per object (WeakMap by identity)', async () => {
  log.length = 0;
  perRouteTranslations = 0;
  const m = mustBuild([f('a'), ROUTER], deps(), reg());
  const cfg = { '@type': T(A) };
  const wrapped = { '@type': T('envoy.config.route.v3.FilterConfig'), config: { '@type': T(A) } };
  for (let i = 0; i < 5; i++) await run(m, req(), lookupFrom({ a: cfg }));
  await run(m, req(), lookupFrom({ a: wrapped }));
  assert.equal(perRouteTranslations, 2);
  assert.deepEqual(log.filter((l) => l.startsWith('dec')), Array(6).fill('dec:a:route'));
  // Per-route config of a type the filter does not accept: 500 unless is_optional.
  const wrong = { '@type': T('google.protobuf.Empty') };
  const bad = await run(m, req(), lookupFrom({ a: wrong }));
  assert.equal(bad.reply?.status, 500);
  const opt = await run(m, req(), lookupFrom({ a: { '@type': T('envoy.config.route.v3.FilterConfig'), is_optional: true, config: wrong } }));
  assert.equal(opt.reply, null);
});

test('fromHcmConfig builds from the HCM translator output (router options passed through)', async () => {
  log.length = 0;
  const m = FilterManager.fromHcmConfig(
    [{ name: 'a', typeUrl: T(A), config: { '@type': T(A) }, isOptional: false, disabled: false },
      { name: 'gone', typeUrl: T('google.protobuf.Duration'), config: { '@type': T('google.protobuf.Duration') }, isOptional: true, disabled: false }],
    { suppressEnvoyHeaders: true, startChildSpan: false }, { registry: reg(), deps: deps() }, new Issues('http_filters'));
  assert.equal(m.entries.length, 1);
  assert.equal(m.router.suppressEnvoyHeaders, true);
  await run(m, req());
  assert.deepEqual(log.filter((l) => l.startsWith('dec')), ['dec:a']);
});
