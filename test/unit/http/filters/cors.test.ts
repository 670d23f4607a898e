// CORS: CorsPolicy translation (bad regex / max_age with paths), preflight answered locally with the allow-* headers,
// disallowed origins (forwarded, or answered without CORS headers), actual requests get allow-origin / credentials /
// expose headers, origin matchers (exact, suffix, RE2 regex, "*"), filter_enabled 0 %, and per-route disable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Issues } from '../../../../src/common/validation.js';
import { translateCorsPolicy } from '../../../../src/http/filters/cors/config.js';
import { jsonToCanonical } from '../../../../src/xds/proto-json.js';
import { httpFilter, mustBuild, perRoute, req, ROUTER, run, lookupFrom } from './filter-kit.js';

const NAME = 'envoy.filters.http.cors';
const POLICY = 'envoy.extensions.filters.http.cors.v3.CorsPolicy';
const m = mustBuild([httpFilter(NAME, 'envoy.extensions.filters.http.cors.v3.Cors', {}), ROUTER]);
const policy = (cfg: Record<string, unknown>) => lookupFrom({ [NAME]: perRoute(POLICY, cfg) });
const base = {
  allow_origin_string_match: [{ exact: 'https://app.example.com' }, { safe_regex: { regex: 'https://[a-z]+\\.partner\\.org' } }],
  allow_methods: 'GET, POST, PUT', allow_headers: 'content-type, x-token', expose_headers: 'x-trace', max_age: '600', allow_credentials: true,
};
const preflight = (origin: string, extra: Record<string, string> = {}) => req({ method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT', ...extra } });

test('CorsPolicy translation reports bad regex and max_age with their paths', () => {
  const issues = new Issues('cors');
  translateCorsPolicy(jsonToCanonical(POLICY, { allow_origin_string_match: [{ exact: 'a' }, { safe_regex: { regex: '(' } }], max_age: 'ten' }), issues);
  assert.deepEqual(issues.allErrors().map((e) => e.path).sort(), ['cors.allow_origin_string_match[1].safe_regex.regex', 'cors.max_age']);
});

test('preflight from an allowed origin is answered locally with 200 and the allow-* headers', async () => {
  const r = await run(m, preflight('https://app.example.com', { 'access-control-request-private-network': 'true' }), policy({ ...base, allow_private_network_access: true }));
  assert.equal(r.reply?.status, 200);
  assert.deepEqual(r.responseHeaders, {
    'access-control-allow-origin': 'https://app.example.com',
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, POST, PUT',
    'access-control-allow-headers': 'content-type, x-token',
    'access-control-max-age': '600',
    'access-control-allow-private-network': 'true',
  });
  const rx = await run(m, preflight('https://acme.partner.org'), policy(base));
  assert.equal(rx.responseHeaders['access-control-allow-origin'], 'https://acme.partner.org');
  // Regexes are anchored: a suffix trick does not match.
  assert.equal((await run(m, preflight('https://acme.partner.org.evil.com'), policy(base))).reply, null);
});

test('preflight from a disallowed origin: forwarded by default, answered without CORS headers when forwarding is off', async () => {
  assert.equal((await run(m, preflight('https://evil.com'), policy(base))).reply, null);
  const r = await run(m, preflight('https://evil.com'), policy({ ...base, forward_not_matching_preflights: false }));
  assert.equal(r.reply?.status, 200);
  assert.equal(r.responseHeaders['access-control-allow-origin'], undefined);
});

test('actual cross-origin request: allow-origin, credentials and expose headers on the upstream response; none for others', async () => {
  const ok = await run(m, req({ headers: { origin: 'https://app.example.com' } }), policy(base), { 'content-type': 'text/plain' });
  assert.equal(ok.reply, null);
  assert.equal(ok.responseHeaders['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(ok.responseHeaders['access-control-allow-credentials'], 'true');
  assert.equal(ok.responseHeaders['access-control-expose-headers'], 'x-trace');
  const bad = await run(m, req({ headers: { origin: 'https://evil.com' } }), policy(base));
  assert.equal(bad.responseHeaders['access-control-allow-origin'], undefined);
  const noOrigin = await run(m, req(), policy(base));
  assert.equal(noOrigin.responseHeaders['access-control-allow-origin'], undefined);
});

test('"*" origin matcher allows any origin; filter_enabled 0 % and no policy do nothing; per-route disable', async () => {
  const star = await run(m, preflight('https://x.y'), policy({ allow_origin_string_match: [{ exact: '*' }] }));
  assert.equal(star.responseHeaders['access-control-allow-origin'], 'https://x.y');
  assert.equal((await run(m, preflight('https://app.example.com'), policy({ ...base, filter_enabled: { default_value: { numerator: 0 } } }))).reply, null);
  assert.equal((await run(m, preflight('https://app.example.com'))).reply, null);
  const off = lookupFrom({ [NAME]: perRoute('envoy.config.route.v3.FilterConfig', { disabled: true }) });
  assert.equal((await run(m, preflight('https://app.example.com'), off)).reply, null);
});
