// Request-header hygiene and router policy helpers: hop-by-hop stripping, path normalisation, escaped slashes,
// x-forwarded-for / x-request-id rules, grpc-timeout parsing, retry conditions, shadow host naming.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOP_BY_HOP, applyForwardingHeaders, escapedSlashes, isValidAuthority, normalizePath, stripHopByHop, stripPort } from '../../../src/http/request-headers.js';
import { parseGrpcTimeout, retriableFailure, retriableResponse, shadowHost } from '../../../src/http/router-filter.js';
import { encodeGrpcMessage } from '../../../src/http/local-reply.js';
import type { HttpConnectionManagerConfig } from '../../../src/config/http-connection-manager.js';
import type { RetryPolicy } from '../../../src/router/types.js';
import type { HeaderMap } from '../../../src/common/headers.js';

const cfg = (over: Partial<HttpConnectionManagerConfig> = {}): HttpConnectionManagerConfig => ({
  useRemoteAddress: false, xffNumTrustedHops: 0, skipXffAppend: false, via: '', generateRequestId: true, preserveExternalRequestId: false,
  internalAddressConfig: { unixSockets: false, cidrRanges: [] }, ...over,
} as HttpConnectionManagerConfig);

test('hop-by-hop headers and Connection-listed names are removed; te survives only as trailers; h2c upgrade ignored', () => {
  const h: HeaderMap = { connection: 'keep-alive, X-Foo, upgrade', 'x-foo': '1', 'keep-alive': '5', upgrade: 'websocket', te: 'trailers, gzip', 'x-bar': '2' };
  assert.equal(stripHopByHop(h, true), 'websocket');
  assert.deepEqual(h, { te: 'trailers', 'x-bar': '2' });
  const h2: HeaderMap = { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'x' };
  assert.equal(stripHopByHop(h2, true), null);
  assert.deepEqual(h2, {});
  const resp: HeaderMap = { 'transfer-encoding': 'chunked', te: 'trailers', 'content-type': 'a' };
  stripHopByHop(resp, false);
  assert.deepEqual(resp, { 'content-type': 'a' });
});

test('every hop-by-hop name goes, alone or together, in requests and responses; other headers stay', () => {
  for (const isRequest of [true, false]) {
    for (const name of HOP_BY_HOP) {
      const h: HeaderMap = { 'x-keep': '1', [name]: 'v', 'content-type': 'a' };
      stripHopByHop(h, isRequest);
      assert.deepEqual(h, { 'x-keep': '1', 'content-type': 'a' }, `${name} (request ${isRequest})`);
    }
    const all: HeaderMap = { 'x-keep': '1' };
    for (const name of HOP_BY_HOP) all[name] = 'v';
    stripHopByHop(all, isRequest);
    assert.deepEqual(all, { 'x-keep': '1' });
  }
});

test('path normalisation: dot segments, unreserved escapes, merge slashes; query untouched', () => {
  assert.equal(normalizePath('/a/./b/../c?x=/../', true, false), '/a/c?x=/../');
  assert.equal(normalizePath('/a/%2e%2e/b', true, false), '/b');
  assert.equal(normalizePath('/%41%2f', true, false), '/A%2F');
  assert.equal(normalizePath('//a///b', false, true), '/a/b');
  assert.equal(normalizePath('/../..', true, false), '/');
});

test('escaped slashes: reject, redirect or forward unescaped', () => {
  assert.equal(escapedSlashes('/a%2Fb', 'REJECT_REQUEST').action, 'reject');
  assert.deepEqual(escapedSlashes('/a%2fb?q=%2F', 'UNESCAPE_AND_FORWARD'), { action: 'keep', path: '/a/b?q=%2F' });
  assert.equal(escapedSlashes('/a%5Cb', 'UNESCAPE_AND_REDIRECT').action, 'redirect');
  assert.equal(escapedSlashes('/a%2Fb', 'KEEP_UNCHANGED').path, '/a%2Fb');
});

test('authority validation and port stripping', () => {
  assert.ok(isValidAuthority('example.com:8080'));
  assert.ok(isValidAuthority('[::1]:80'));
  assert.ok(!isValidAuthority('a@b'));
  assert.ok(!isValidAuthority('a b'));
  assert.ok(!isValidAuthority(''));
  assert.equal(stripPort('h:80'), 'h');
  assert.equal(stripPort('h:80', 8080), 'h:80');
  assert.equal(stripPort('[::1]'), '[::1]');
});

test('use_remote_address appends the peer to XFF and sets x-forwarded-proto; otherwise XFF is left alone', () => {
  const h: HeaderMap = { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https' };
  const r = applyForwardingHeaders(h, cfg({ useRemoteAddress: true }), '::ffff:10.0.0.9', 'http');
  assert.equal(h['x-forwarded-for'], '1.2.3.4,10.0.0.9');
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(r.clientAddress, '10.0.0.9');
  assert.equal(h['x-envoy-internal'], 'true');
  const h2: HeaderMap = { 'x-forwarded-for': '1.2.3.4' };
  const r2 = applyForwardingHeaders(h2, cfg(), '10.0.0.9', 'https');
  assert.equal(h2['x-forwarded-for'], '1.2.3.4');
  assert.equal(h2['x-forwarded-proto'], 'https');
  assert.equal(r2.clientAddress, '1.2.3.4');
});

test('x-request-id: generated when absent, kept when present, regenerated for external edge requests', () => {
  const h: HeaderMap = {};
  applyForwardingHeaders(h, cfg(), '10.0.0.1', 'http');
  assert.match(String(h['x-request-id']), /^[0-9a-f-]{36}$/);
  const keep: HeaderMap = { 'x-request-id': 'abc' };
  applyForwardingHeaders(keep, cfg(), '10.0.0.1', 'http');
  assert.equal(keep['x-request-id'], 'abc');
  const ext: HeaderMap = { 'x-request-id': 'abc', 'x-envoy-retry-on': '5xx' };
  applyForwardingHeaders(ext, cfg({ useRemoteAddress: true }), '8.8.8.8', 'http');
  assert.notEqual(ext['x-request-id'], 'abc');
  assert.equal(ext['x-envoy-retry-on'], undefined, 'x-envoy-* from external clients are stripped');
  const pres: HeaderMap = { 'x-request-id': 'abc' };
  applyForwardingHeaders(pres, cfg({ useRemoteAddress: true, preserveExternalRequestId: true }), '8.8.8.8', 'http');
  assert.equal(pres['x-request-id'], 'abc');
});

test('grpc-timeout parsing', () => {
  assert.equal(parseGrpcTimeout('100m'), 100);
  assert.equal(parseGrpcTimeout('2S'), 2000);
  assert.equal(parseGrpcTimeout('1M'), 60_000);
  assert.equal(parseGrpcTimeout('1500u'), 2);
  assert.equal(parseGrpcTimeout('1x'), undefined);
  assert.equal(parseGrpcTimeout('123456789S'), undefined);
});

const policy = (on: string[], over: Partial<RetryPolicy> = {}): RetryPolicy => ({
  retryOn: new Set(on), numRetries: 1, perTryTimeoutMs: 0, perTryIdleTimeoutMs: 0, retriableStatusCodes: new Set(), retriableHeaders: [],
  backoff: { baseIntervalMs: 25, maxIntervalMs: 250 }, avoidPreviousHosts: false, hostSelectionRetryMaxAttempts: 1, ...over,
});

test('retry conditions: HTTP statuses, retriable codes and headers, gRPC statuses, resets', () => {
  assert.ok(retriableResponse(policy(['5xx']), 500, {}));
  assert.ok(!retriableResponse(policy(['gateway-error']), 500, {}));
  assert.ok(retriableResponse(policy(['gateway-error']), 504, {}));
  assert.ok(retriableResponse(policy(['retriable-4xx']), 409, {}));
  assert.ok(!retriableResponse(policy(['retriable-4xx']), 404, {}));
  assert.ok(retriableResponse(policy(['retriable-status-codes'], { retriableStatusCodes: new Set([418]) }), 418, {}));
  assert.ok(retriableResponse(policy(['retriable-headers'], { retriableHeaders: [(h) => h['x-retry'] === 'yes'] }), 200, { 'x-retry': 'yes' }));
  assert.ok(retriableResponse(policy(['unavailable']), 200, { 'grpc-status': '14' }));
  assert.ok(!retriableResponse(policy(['unavailable']), 200, { 'grpc-status': '13' }));
  assert.ok(retriableFailure(policy(['connect-failure']), 'connect_failure'));
  assert.ok(!retriableFailure(policy(['connect-failure']), 'remote_reset'));
  assert.ok(retriableFailure(policy(['refused-stream']), 'refused_stream'));
  assert.ok(retriableFailure(policy(['reset']), 'timeout'));
  assert.ok(!retriableFailure(policy(['5xx']), 'overflow'));
});

test('a non-idempotent request that went out on a connection is never replayed after a reset, cut or per-try timeout', () => {
  const p = policy(['5xx', 'reset', 'connect-failure', 'refused-stream']);
  for (const kind of ['remote_reset', 'connection_termination', 'protocol_error', 'timeout'] as const) {
    assert.ok(!retriableFailure(p, kind, true, 'POST'), `POST after ${kind}`);
    assert.ok(!retriableFailure(p, kind, true, 'PATCH'), `PATCH after ${kind}`);
    assert.ok(retriableFailure(p, kind, true, 'GET'), `GET after ${kind}`);
    assert.ok(retriableFailure(p, kind, true, 'PUT'), `PUT (idempotent) after ${kind}`);
    assert.ok(retriableFailure(p, kind, false, 'POST'), `POST never sent, ${kind}`);
  }
  // The upstream provably never saw it: safe for any method.
  assert.ok(retriableFailure(p, 'connect_failure', true, 'POST'));
  assert.ok(retriableFailure(p, 'refused_stream', true, 'POST'));
  // reset-before-request: only attempts that never went out.
  const rbr = policy(['reset-before-request']);
  assert.ok(retriableFailure(rbr, 'connection_termination', false, 'GET'));
  assert.ok(!retriableFailure(rbr, 'connection_termination', true, 'GET'));
  assert.ok(retriableFailure(rbr, 'connect_failure', true, 'POST'));
});

test('shadow host and grpc-message encoding', () => {
  assert.equal(shadowHost('foo.svc:8080'), 'foo.svc-shadow:8080');
  assert.equal(shadowHost('foo'), 'foo-shadow');
  assert.equal(encodeGrpcMessage('a b%c\n'), 'a b%25c%0A');
});
