// Basic auth: htpasswd translation ({SHA} only; bcrypt/MD5/plain rejected by name with paths), 401 with Envoy's
// bodies and www-authenticate realm, success forwards the username header, per-route users override.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { build, httpFilter, mustBuild, perRoute, req, ROUTER, run, lookupFrom } from './filter-kit.js';

const NAME = 'envoy.filters.http.basic_auth';
const BA = 'envoy.extensions.filters.http.basic_auth.v3.BasicAuth';
const sha = (pw: string): string => `{SHA}${createHash('sha1').update(pw).digest('base64')}`;
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const users = `alice:${sha('wonderland')}\nbob:${sha('builder')}\n`;

test('config: non-SHA htpasswd entries are rejected naming the hash type, at users', () => {
  const { errors } = build([httpFilter(NAME, BA, { users: { inline_string: `a:$apr1$xyz$abc\nb:$2y$05$abcdefg\nc:${sha('x')}\nbroken` } }), ROUTER]);
  assert.equal(errors.length, 3);
  assert.ok(errors.every((e) => e.path === 'http_filters[0].typed_config.users'));
  assert.match(errors[0].message, /MD5.*please use \{SHA\}/);
  assert.match(errors[1].message, /bcrypt/);
  assert.match(errors[2].message, /username:password/);
});

test('missing and wrong credentials get 401 with realm and Envoy bodies; right ones pass with the username forwarded', async () => {
  const m = mustBuild([httpFilter(NAME, BA, { users: { inline_string: users }, forward_username_header: 'X-Username' }), ROUTER]);
  const missing = await run(m, req({ authority: 'shop.local' }));
  assert.equal(missing.reply?.status, 401);
  assert.equal(missing.reply?.body, 'User authentication failed. Missing username and password.');
  assert.equal(missing.responseHeaders['www-authenticate'], 'Basic realm="http://shop.local"');
  const wrong = await run(m, req({ headers: { authorization: basic('alice', 'nope') } }));
  assert.equal(wrong.reply?.body, 'User authentication failed. Invalid username/password combination.');
  assert.equal(wrong.reply?.details, 'invalid_credential_for_basic_auth');
  assert.equal((await run(m, req({ headers: { authorization: basic('mallory', 'wonderland') } }))).reply?.status, 401);
  const r = req({ headers: { authorization: basic('alice', 'wonderland') } });
  const ok = await run(m, r);
  assert.equal(ok.reply, null);
  assert.equal(r.head.headers['x-username'], 'alice');
  assert.equal(ok.stream.dynamicMetadata['envoy.filters.http.basic_auth'].username, 'alice');
});

test('per-route BasicAuthPerRoute replaces the user list; FilterConfig disabled turns auth off for the route', async () => {
  const m = mustBuild([httpFilter(NAME, BA, { users: { inline_string: users } }), ROUTER]);
  const route = lookupFrom({ [NAME]: perRoute('envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute', { users: { inline_string: `carol:${sha('c')}` } }) });
  assert.equal((await run(m, req({ headers: { authorization: basic('carol', 'c') } }), route)).reply, null);
  assert.equal((await run(m, req({ headers: { authorization: basic('alice', 'wonderland') } }), route)).reply?.status, 401);
  const off = lookupFrom({ [NAME]: perRoute('envoy.config.route.v3.FilterConfig', { disabled: true }) });
  assert.equal((await run(m, req(), off)).reply, null);
});
