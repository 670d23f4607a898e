// Local rate limit: config translation (valid, invalid with paths, unsupported descriptors rejected by name), a burst
// beyond the bucket gets 429 for exactly the excess within the fill interval (injected clock), refill, x-ratelimit-*
// headers, filter_enforced off (shadow mode), per-route buckets and per-route disable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, clock, deps, httpFilter, mustBuild, perRoute, req, ROUTER, run, lookupFrom } from './filter-kit.js';

const LRL = 'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const NAME = 'envoy.filters.http.local_ratelimit';
const ON = { default_value: { numerator: 100 } };
const lrl = (cfg: Record<string, unknown>): Record<string, unknown> => httpFilter(NAME, LRL, { stat_prefix: 'rl', ...cfg });

test('config: errors carry field paths; descriptors are rejected by name', () => {
  assert.deepEqual(build([lrl({ token_bucket: { max_tokens: 5, fill_interval: '1s' }, filter_enabled: ON, filter_enforced: ON }), ROUTER]).errors, []);
  const { errors } = build([lrl({
    stat_prefix: '',
    token_bucket: { max_tokens: 0, fill_interval: '0.01s' },
    descriptors: [{ entries: [{ key: 'k', value: 'v' }], token_bucket: { max_tokens: 1, fill_interval: '1s' } }],
    status: { code: 'OK' },
  }), ROUTER]);
  assert.deepEqual(errors.map((e) => e.path).sort(), [
    'http_filters[0].typed_config.descriptors',
    'http_filters[0].typed_config.stat_prefix',
    'http_filters[0].typed_config.status.code',
    'http_filters[0].typed_config.token_bucket.fill_interval',
    'http_filters[0].typed_config.token_bucket.max_tokens',
  ]);
});

test('a burst beyond the bucket gets 429 for exactly the excess within the fill interval, then refills', async () => {
  const c = clock();
  const m = mustBuild([lrl({ token_bucket: { max_tokens: 5, tokens_per_fill: 2, fill_interval: '1s' }, filter_enabled: ON, filter_enforced: ON }), ROUTER], deps({ now: c.now }));
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await run(m, req())).reply?.status ?? 200);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
  c.advance(999);
  assert.equal((await run(m, req())).reply?.status, 429);
  c.advance(1); // one fill interval: 2 tokens
  const after: number[] = [];
  for (let i = 0; i < 3; i++) after.push((await run(m, req())).reply?.status ?? 200);
  assert.deepEqual(after, [200, 200, 429]);
  c.advance(10_000); // never above max_tokens
  let ok = 0;
  for (let i = 0; i < 10; i++) if (!(await run(m, req())).reply) ok++;
  assert.equal(ok, 5);
});

test('the 429: flag RL, details local_rate_limited, custom status, response_headers_to_add and x-ratelimit-* headers', async () => {
  const c = clock();
  const m = mustBuild([lrl({
    token_bucket: { max_tokens: 2, fill_interval: '60s' }, filter_enabled: ON, filter_enforced: ON,
    status: { code: 'ServiceUnavailable' },
    response_headers_to_add: [{ header: { key: 'x-limited', value: 'yes' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
  }), ROUTER], deps({ now: c.now }));
  const first = await run(m, req());
  assert.equal(first.reply, null);
  assert.equal(first.responseHeaders['x-ratelimit-limit'], '2');
  assert.equal(first.responseHeaders['x-ratelimit-remaining'], '1');
  assert.equal(first.responseHeaders['x-ratelimit-reset'], '60');
  await run(m, req());
  c.advance(15_000);
  const limited = await run(m, req());
  assert.equal(limited.reply?.status, 503);
  assert.equal(limited.reply?.flag, 'RL');
  assert.equal(limited.reply?.details, 'local_rate_limited');
  assert.equal(limited.reply?.body, 'local_rate_limited');
  assert.equal(limited.responseHeaders['x-limited'], 'yes');
  assert.equal(limited.responseHeaders['x-ratelimit-remaining'], '0');
  assert.equal(limited.responseHeaders['x-ratelimit-reset'], '45');
});

test('filter_enforced 0 %: never limits, adds request_headers_to_add_when_not_enforced; filter_enabled unset = off', async () => {
  const c = clock();
  const m = mustBuild([lrl({
    token_bucket: { max_tokens: 1, fill_interval: '1s' }, filter_enabled: ON,
    request_headers_to_add_when_not_enforced: [{ header: { key: 'x-would-limit', value: 'true' } }],
  }), ROUTER], deps({ now: c.now }));
  const r1 = req();
  await run(m, r1);
  assert.equal(r1.head.headers['x-would-limit'], undefined);
  const r2 = req();
  assert.equal((await run(m, r2)).reply, null);
  assert.equal(r2.head.headers['x-would-limit'], 'true');
  const off = mustBuild([lrl({ token_bucket: { max_tokens: 1, fill_interval: '1s' } }), ROUTER], deps({ now: c.now }));
  for (let i = 0; i < 3; i++) assert.equal((await run(off, req())).reply, null);
});

test('per-route LocalRateLimit has its own bucket; a per-route FilterConfig disable bypasses limiting', async () => {
  const c = clock();
  const m = mustBuild([lrl({ token_bucket: { max_tokens: 1, fill_interval: '1s' }, filter_enabled: ON, filter_enforced: ON }), ROUTER], deps({ now: c.now }));
  const routeCfg = perRoute(LRL, { stat_prefix: 'route', token_bucket: { max_tokens: 3, fill_interval: '1s' }, filter_enabled: ON, filter_enforced: ON });
  const route = lookupFrom({ [NAME]: routeCfg });
  const got: number[] = [];
  for (let i = 0; i < 4; i++) got.push((await run(m, req(), route)).reply?.status ?? 200);
  assert.deepEqual(got, [200, 200, 200, 429]);
  // The listener bucket is untouched by route traffic.
  assert.equal((await run(m, req())).reply, null);
  assert.equal((await run(m, req())).reply?.status, 429);
  const off = lookupFrom({ [NAME]: perRoute('envoy.config.route.v3.FilterConfig', { disabled: true }) });
  for (let i = 0; i < 3; i++) assert.equal((await run(m, req(), off)).reply, null);
});
