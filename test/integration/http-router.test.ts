// End-to-end router behaviour over real sockets: retries turning an upstream 503 into a 200, retries exhausted
// (URX), connect-failure retries to another host, per-try timeout, route timeout → 504 UT, mirroring to the
// shadow cluster, circuit-breaker overflow → 503 UO, upstream reset → 503 UC.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EchoUpstream } from '../support/upstreams.js';
import { DataPlane, ScriptedRouteTable, clusterFrom, forward, httpListener, listenerFrom, staticCluster } from '../support/data-plane.js';
import type { RetryPolicy } from '../../src/router/types.js';

function retry(over: Partial<RetryPolicy> = {}): RetryPolicy {
  return {
    retryOn: new Set(['5xx']), numRetries: 2, perTryTimeoutMs: 0, perTryIdleTimeoutMs: 0, retriableStatusCodes: new Set(),
    retriableHeaders: [], backoff: { baseIntervalMs: 5, maxIntervalMs: 10 }, avoidPreviousHosts: false, hostSelectionRetryMaxAttempts: 1, ...over,
  };
}

let dp: DataPlane;
let a: EchoUpstream;
let b: EchoUpstream;
let shadow: EchoUpstream;
let slow: EchoUpstream;
let port = 0;

before(async () => {
  a = await EchoUpstream.start({ name: 'a' });
  b = await EchoUpstream.start({ name: 'b' });
  shadow = await EchoUpstream.start({ name: 'shadow' });
  slow = await EchoUpstream.start({ name: 'slow' });
  dp = new DataPlane();
  dp.setClusters([
    clusterFrom(staticCluster('a', [a.port])),
    clusterFrom(staticCluster('ab', [1, b.port], { lb_policy: 'ROUND_ROBIN' })),
    clusterFrom(staticCluster('shadow', [shadow.port])),
    clusterFrom(staticCluster('slow', [slow.port])),
    clusterFrom(staticCluster('tiny', [slow.port], { circuit_breakers: { thresholds: [{ max_requests: 1 }] } })),
  ]);
  dp.routes.tables.set('routes', new ScriptedRouteTable('routes', [
    ['/retry', forward('a', { retryPolicy: retry() })],
    ['/noretry', forward('a')],
    ['/cf', forward('ab', { retryPolicy: retry({ retryOn: new Set(['connect-failure']), numRetries: 3 }) })],
    ['/pertry', forward('slow', { retryPolicy: retry({ retryOn: new Set(['5xx']), numRetries: 1, perTryTimeoutMs: 200 }) })],
    ['/timeout', forward('slow', { timeoutMs: 300 })],
    ['/mirror', forward('a', { mirrorPolicies: [{ cluster: 'shadow', numerator: 100, denominator: 100, disableShadowHostSuffixAppend: false }] })],
    ['/tiny', forward('tiny')],
    ['/reset', forward('a')],
  ]));
  await dp.setListeners([listenerFrom(httpListener('ingress'))]);
  port = dp.port('ingress');
});

after(async () => {
  await dp.close();
  await Promise.all([a, b, shadow, slow].map((u) => u.close()));
});

const url = (p: string): string => `http://127.0.0.1:${port}${p}`;

test('retry_on 5xx turns an upstream 503 into a 200 (x-envoy-attempt-count on the retry)', async () => {
  a.failNext(1, 503);
  const n = a.requests.length;
  const res = await fetch(url('/retry/1'));
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.equal(a.requests.length - n, 2);
  assert.equal(a.requests.at(-1)?.headers['x-envoy-attempt-count'], '2');
});

test('retries exhausted: the last upstream response is forwarded and flagged URX', async () => {
  a.failNext(10, 503);
  const n = a.requests.length;
  const res = await fetch(url('/retry/2'));
  assert.equal(res.status, 503);
  const body = await res.json() as { server: string };
  assert.equal(body.server, 'a');
  assert.equal(a.requests.length - n, 3); // 1 + num_retries 2
  assert.ok(dp.streams.at(-1)!.responseFlags.includes('URX'));
  a.behave = null;
});

test('without a retry policy an upstream 503 passes straight through', async () => {
  a.failNext(1, 503);
  const n = a.requests.length;
  const res = await fetch(url('/noretry'));
  assert.equal(res.status, 503);
  await res.arrayBuffer();
  assert.equal(a.requests.length - n, 1);
});

test('connect-failure is retried on another host', async () => {
  for (let i = 0; i < 4; i++) {
    const res = await fetch(url(`/cf/${i}`));
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { server: string }).server, 'b');
  }
});

test('per_try_timeout aborts a slow attempt and retries; both tries slow → 504 UT', async () => {
  let n = 0;
  slow.behave = () => (n++ === 0 ? { delayMs: 2000 } : undefined);
  const ok = await fetch(url('/pertry/ok'));
  assert.equal(ok.status, 200);
  await ok.arrayBuffer();
  slow.behave = () => ({ delayMs: 2000 });
  const res = await fetch(url('/pertry/slow'));
  assert.equal(res.status, 504);
  assert.equal(await res.text(), 'upstream request timeout');
  const s = dp.streams.at(-1)!;
  assert.ok(s.responseFlags.includes('UT'));
  assert.equal(s.responseCodeDetails, 'upstream_response_timeout');
  slow.behave = null;
});

test('route timeout → 504 UT with Envoy body', async () => {
  const res = await fetch(url('/timeout'), { headers: { 'x-echo-delay-ms': '3000' } });
  assert.equal(res.status, 504);
  assert.equal(await res.text(), 'upstream request timeout');
  assert.deepEqual(dp.streams.at(-1)!.responseFlags, ['UT']);
});

test('request mirroring: shadow cluster sees the request with a -shadow host, primary answers', async () => {
  const n = shadow.requests.length;
  const res = await fetch(url('/mirror/x'), { method: 'POST', body: 'mirrored-body' });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { server: string }).server, 'a');
  for (let i = 0; i < 50 && shadow.requests.length === n; i++) await new Promise((r) => setTimeout(r, 20));
  const seen = shadow.requests.at(-1)!;
  assert.equal(shadow.requests.length, n + 1);
  assert.equal(seen.authority, `127.0.0.1-shadow:${port}`);
  assert.equal(seen.body, 'mirrored-body');
});

test('circuit breaker overflow → 503 UO with x-envoy-overloaded', async () => {
  const first = fetch(url('/tiny/1'), { headers: { 'x-echo-delay-ms': '500' } });
  await new Promise((r) => setTimeout(r, 100));
  const res = await fetch(url('/tiny/2'));
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('x-envoy-overloaded'), 'true');
  await res.arrayBuffer();
  assert.ok(dp.streams.some((s) => s.responseFlags.includes('UO')));
  assert.equal((await first).status, 200);
});

test('upstream resets the connection before headers → 503 UC', async () => {
  const res = await fetch(url('/reset'), { headers: { 'x-echo-reset': '1' } });
  assert.equal(res.status, 503);
  assert.match(await res.text(), /^upstream connect error or disconnect\/reset before headers\. reset reason: connection termination$/);
  assert.deepEqual(dp.streams.at(-1)!.responseFlags, ['UC']);
});
