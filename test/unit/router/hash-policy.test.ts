// Consistent-hash keys from route hash policies (router/hash-policy.ts): Envoy's xxHash64 seed 0 and its
// rotate-left-1 XOR combination, terminal policies, cookie generation.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestHead } from '../../../src/common/headers.js';
import { computeHash, hashKeyFromPolicies, initHashing, xxHash64, xxHash64Values } from '../../../src/router/hash-policy.js';
import type { HashPolicy } from '../../../src/router/types.js';

before(async () => {
  await initHashing();
});

const head = (headers: RequestHead['headers'] = {}, path = '/'): RequestHead => ({ method: 'GET', scheme: 'http', authority: 'h', path, headers });
const rotl = (h: bigint): bigint => ((h << 1n) | (h >> 63n)) & ((1n << 64n) - 1n);

test('xxHash64 matches the reference vectors (seed 0)', () => {
  assert.equal(xxHash64(''), 0xef46db3751d8e999n);
  assert.equal(xxHash64('a'), 0xd24ec4f1a98c6e5bn);
});

test('header policy hashes the value; several values are sorted and chained', () => {
  const p: HashPolicy[] = [{ kind: 'header', headerName: 'x-user', terminal: false }];
  assert.equal(hashKeyFromPolicies(p, head({ 'x-user': 'alice' }), '1.2.3.4'), xxHash64('alice'));
  assert.equal(hashKeyFromPolicies(p, head({ 'x-user': ['b', 'a'] }), '1.2.3.4'), xxHash64Values(['a', 'b']));
  assert.equal(hashKeyFromPolicies(p, head(), '1.2.3.4'), undefined, 'absent header: no hash');
});

test('policies combine by rotate-left-1 XOR; terminal stops once a hash exists', () => {
  const both: HashPolicy[] = [{ kind: 'header', headerName: 'x-a', terminal: false }, { kind: 'source_ip', terminal: false }];
  const h1 = xxHash64('v');
  const h2 = xxHash64('10.0.0.9');
  assert.equal(hashKeyFromPolicies(both, head({ 'x-a': 'v' }), '10.0.0.9'), rotl(h1) ^ h2);
  const terminal: HashPolicy[] = [{ kind: 'header', headerName: 'x-a', terminal: true }, { kind: 'source_ip', terminal: false }];
  assert.equal(hashKeyFromPolicies(terminal, head({ 'x-a': 'v' }), '10.0.0.9'), h1);
  assert.equal(hashKeyFromPolicies(terminal, head(), '10.0.0.9'), h2, 'terminal without a hash does not stop');
});

test('query parameter and cookie policies; a missing cookie with ttl is generated and set', () => {
  assert.equal(hashKeyFromPolicies([{ kind: 'query_parameter', name: 'u', terminal: false }], head({}, '/?u=1&u=2'), ''), xxHash64('1'));
  const cookie: HashPolicy[] = [{ kind: 'cookie', name: 'sess', ttlMs: 60000, path: '/', terminal: false }];
  assert.equal(computeHash(cookie, { head: head({ cookie: 'a=b; sess=xyz' }), clientAddress: '1.1.1.1' }).hash, xxHash64('xyz'));
  const gen = computeHash(cookie, { head: head(), clientAddress: '1.1.1.1' });
  assert.match(gen.setCookie!, /^sess="[0-9a-f]{16}"; Max-Age=60; Path=\/; HttpOnly$/);
  const value = /"([0-9a-f]+)"/.exec(gen.setCookie!)![1];
  assert.equal(gen.hash, xxHash64(value), 'the next request carrying the cookie hashes the same');
  assert.equal(computeHash([{ kind: 'cookie', name: 'sess', terminal: false }], { head: head(), clientAddress: '1.1.1.1' }).hash, undefined);
});
