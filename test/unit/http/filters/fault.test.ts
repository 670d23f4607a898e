// Fault filter: config translation (valid, invalid with field paths), aborts (HTTP, gRPC, header-controlled),
// 10 % aborts over 2 000 requests with the real random source, delays (flag DI, request held), conditions
// (headers, upstream_cluster, downstream_nodes, max_active_faults), per-route override and disable, throttling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { build, deps, httpFilter, mustBuild, perRoute, req, ROUTER, run, lookupFrom } from './filter-kit.js';
import { ThrottleTransform } from '../../../../src/http/filters/fault/fault-filter.js';

const FAULT = 'envoy.extensions.filters.http.fault.v3.HTTPFault';
const fault = (cfg: Record<string, unknown>): Record<string, unknown> => httpFilter('envoy.filters.http.fault', FAULT, cfg);
const always = (random = 0.5) => deps({ random: () => random });

test('fault config: valid config translates, invalid fields are reported with their paths', () => {
  assert.deepEqual(build([fault({ abort: { http_status: 503, percentage: { numerator: 10 } }, delay: { fixed_delay: '0.1s', percentage: { numerator: 5, denominator: 'TEN_THOUSAND' } } }), ROUTER]).errors, []);
  const { errors } = build([fault({ abort: { http_status: 99 }, delay: { percentage: { numerator: 1 } }, response_rate_limit: { fixed_limit: { limit_kbps: 0 } } }), ROUTER]);
  const paths = errors.map((e) => e.path).sort();
  assert.deepEqual(paths, [
    'http_filters[0].typed_config.abort.http_status',
    'http_filters[0].typed_config.delay',
    'http_filters[0].typed_config.response_rate_limit.fixed_limit.limit_kbps',
  ]);
});

test('abort at 100 %: configured status, body, flag FI and details fault_filter_abort', async () => {
  const m = mustBuild([fault({ abort: { http_status: 503, percentage: { numerator: 100 } } }), ROUTER], always());
  const r = await run(m, req());
  assert.equal(r.reply?.status, 503);
  assert.equal(r.reply?.flag, 'FI');
  assert.equal(r.reply?.details, 'fault_filter_abort');
  assert.equal(r.reply?.body, 'fault filter abort');
});

test('gRPC abort carries the configured grpc-status', async () => {
  const m = mustBuild([fault({ abort: { grpc_status: 14, percentage: { numerator: 100 } } }), ROUTER], always());
  const r = await run(m, req({ isGrpc: true, headers: { 'content-type': 'application/grpc' } }));
  assert.equal(r.reply?.grpcStatus, 14);
  assert.equal(r.reply?.status, 200);
});

test('10 % aborts measured over 2 000 requests with the real random source land within ±2 points', async () => {
  const m = mustBuild([fault({ abort: { http_status: 503, percentage: { numerator: 10 } } }), ROUTER], deps());
  let aborted = 0;
  for (let i = 0; i < 2000; i++) if ((await run(m, req())).reply) aborted++;
  const pct = (aborted / 2000) * 100;
  assert.ok(pct >= 8 && pct <= 12, `aborted ${pct}%`);
});

test('percentage uses the injected random: 10 % aborts only when random < 0.1', async () => {
  const cfg = fault({ abort: { http_status: 500, percentage: { numerator: 10 } } });
  assert.equal((await run(mustBuild([cfg, ROUTER], always(0.099)), req())).reply?.status, 500);
  assert.equal((await run(mustBuild([cfg, ROUTER], always(0.1)), req())).reply, null);
});

test('header-controlled abort (HTTP and gRPC) and header percentage that can only lower the configured one', async () => {
  const m = mustBuild([fault({ abort: { header_abort: {}, percentage: { numerator: 100 } } }), ROUTER], always(0.3));
  assert.equal((await run(m, req())).reply, null);
  assert.equal((await run(m, req({ headers: { 'x-envoy-fault-abort-request': '429' } }))).reply?.status, 429);
  assert.equal((await run(m, req({ headers: { 'x-envoy-fault-abort-grpc-request': '8' } }))).reply?.grpcStatus, 8);
  assert.equal((await run(m, req({ headers: { 'x-envoy-fault-abort-request': '429', 'x-envoy-fault-abort-request-percentage': '20' } }))).reply, null);
});

test('a delay holds the request, sets flag DI, then continues', async () => {
  const m = mustBuild([fault({ delay: { fixed_delay: '0.05s', percentage: { numerator: 100 } } }), ROUTER], always());
  const s = m.createStream(req(), null);
  const t0 = performance.now();
  let finished = false;
  const p = s.decode().then((r) => { finished = true; return r; });
  await new Promise((r) => setImmediate(r));
  assert.equal(finished, false);
  assert.equal(await p, null);
  assert.ok(performance.now() - t0 >= 45, 'the request was held for the delay');
  assert.deepEqual(s.responseFlags, ['DI']);
  s.destroy();
});

test('header-controlled delay: x-envoy-fault-delay-request milliseconds', async () => {
  const m = mustBuild([fault({ delay: { header_delay: {}, percentage: { numerator: 100 } } }), ROUTER], always());
  const s = m.createStream(req({ headers: { 'x-envoy-fault-delay-request': '20' } }), null);
  assert.equal(await s.decode(), null);
  assert.deepEqual(s.responseFlags, ['DI']);
  s.destroy();
  const s2 = m.createStream(req(), null);
  assert.equal(await s2.decode(), null);
  assert.deepEqual(s2.responseFlags, []);
  s2.destroy();
});

test('conditions: headers, upstream_cluster, downstream_nodes', async () => {
  const m = mustBuild([fault({
    abort: { http_status: 503, percentage: { numerator: 100 } },
    headers: [{ name: 'x-chaos', exact_match: 'yes' }],
    upstream_cluster: 'backend',
    downstream_nodes: ['frontend'],
  }), ROUTER], always());
  const ok = { 'x-chaos': 'yes', 'x-envoy-downstream-service-node': 'frontend' };
  assert.equal((await run(m, req({ headers: ok }))).reply?.status, 503);
  assert.equal((await run(m, req({ headers: { ...ok, 'x-chaos': 'no' } }))).reply, null);
  assert.equal((await run(m, req({ headers: ok, upstreamCluster: 'other' }))).reply, null);
  assert.equal((await run(m, req({ headers: { 'x-chaos': 'yes', 'x-envoy-downstream-service-node': 'x' } }))).reply, null);
});

test('max_active_faults: no new fault while the limit is reached; released on destroy', async () => {
  const m = mustBuild([fault({ delay: { fixed_delay: '10s', percentage: { numerator: 100 } }, max_active_faults: 1 }), ROUTER], always());
  const s1 = m.createStream(req(), null);
  void s1.decode();
  const s2 = m.createStream(req(), null);
  assert.equal(await s2.decode(), null); // not delayed: limit reached
  assert.deepEqual(s2.responseFlags, []);
  s2.destroy();
  s1.destroy(); // clears the 10 s timer and the active count
  const s3 = m.createStream(req(), null);
  void s3.decode();
  assert.deepEqual(s3.responseFlags, ['DI']);
  s3.destroy();
});

test('per-route HTTPFault overrides the listener config; FilterConfig disabled turns it off for the route', async () => {
  const m = mustBuild([fault({ abort: { http_status: 503, percentage: { numerator: 100 } } }), ROUTER], always());
  const override = perRoute(FAULT, { abort: { http_status: 418, percentage: { numerator: 100 } } });
  assert.equal((await run(m, req(), lookupFrom({ 'envoy.filters.http.fault': override }))).reply?.status, 418);
  const off = perRoute('envoy.config.route.v3.FilterConfig', { disabled: true });
  assert.equal((await run(m, req(), lookupFrom({ 'envoy.filters.http.fault': off }))).reply, null);
});

test('response_rate_limit: the body is paced by a Transform and arrives intact', async () => {
  const m = mustBuild([fault({ response_rate_limit: { fixed_limit: { limit_kbps: 64 }, percentage: { numerator: 100 } } }), ROUTER], always());
  const s = m.createStream(req(), null);
  await s.decode();
  s.encodeHeaders(200, {});
  const ts = s.responseBodyTransforms(200, {});
  assert.equal(ts.length, 1);
  assert.ok(ts[0] instanceof ThrottleTransform);
  const data = Buffer.alloc(16 * 1024, 7); // 16 KiB at 64 KiB/s ≈ 0.25 s
  const out: Buffer[] = [];
  const t0 = performance.now();
  await pipeline(Readable.from([data]), ts[0], async function (src: AsyncIterable<Buffer>) { for await (const c of src) out.push(c as Buffer); });
  assert.deepEqual(Buffer.concat(out), data);
  assert.ok(out.length > 1, 'sent in several slices');
  assert.ok(performance.now() - t0 >= 150, 'paced, not sent at once');
  s.destroy();
});
