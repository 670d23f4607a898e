// Header mutation: request/response append/remove with append actions and formatters (%REQ()%, %DOWNSTREAM_REMOTE_ADDRESS%),
// unknown formatter commands rejected with a path, per-route mutations before/after the filter's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, httpFilter, mustBuild, perRoute, req, ROUTER, run, lookupFrom } from './filter-kit.js';

const NAME = 'envoy.filters.http.header_mutation';
const HM = 'envoy.extensions.filters.http.header_mutation.v3.HeaderMutation';

test('config: unknown formatter command and removing a pseudo-header are errors with paths', () => {
  const { errors } = build([httpFilter(NAME, HM, { mutations: { request_mutations: [
    { append: { header: { key: 'x-a', value: '%NOPE%' } } },
    { remove: ':path' },
  ] } }), ROUTER]);
  assert.deepEqual(errors.map((e) => e.path), [
    'http_filters[0].typed_config.mutations.request_mutations[0].append.header.value',
    'http_filters[0].typed_config.mutations.request_mutations[1].remove',
  ]);
});

test('request and response mutations with formatters and append actions', async () => {
  const m = mustBuild([httpFilter(NAME, HM, { mutations: {
    request_mutations: [
      { remove: 'x-internal' },
      { append: { header: { key: 'x-client', value: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% via %REQ(:METHOD)% %REQ(x-missing?user-agent)%' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } },
      { append: { header: { key: 'x-tag', value: 'b' } } },
      { append: { header: { key: 'x-once', value: 'new' }, append_action: 'ADD_IF_ABSENT' } },
    ],
    response_mutations: [
      { remove: 'server' },
      { append: { header: { key: 'x-echo', value: '%REQ(x-tag)%|%RESP(content-type)%' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } },
    ],
  } }), ROUTER]);
  const r = req({ remoteAddress: '10.1.1.1', headers: { 'x-internal': 'secret', 'x-tag': 'a', 'x-once': 'old', 'user-agent': 'curl' } });
  const out = await run(m, r, null, { server: 'upstream', 'content-type': 'text/plain' });
  assert.equal(r.head.headers['x-internal'], undefined);
  assert.equal(r.head.headers['x-client'], '10.1.1.1 via GET curl');
  assert.deepEqual(r.head.headers['x-tag'], ['a', 'b']);
  assert.equal(r.head.headers['x-once'], 'old');
  assert.equal(out.responseHeaders.server, undefined);
  assert.equal(out.responseHeaders['x-echo'], 'a,b|text/plain');
});

test('per-route mutations run first (filter wins) unless most_specific_header_mutations_wins', async () => {
  const own = { mutations: { request_mutations: [{ append: { header: { key: 'x-v', value: 'filter' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } }] } };
  const route = lookupFrom({ [NAME]: perRoute('envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute', {
    mutations: { request_mutations: [{ append: { header: { key: 'x-v', value: 'route' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } }] },
  }) });
  const r1 = req();
  await run(mustBuild([httpFilter(NAME, HM, own), ROUTER]), r1, route);
  assert.equal(r1.head.headers['x-v'], 'filter');
  const r2 = req();
  await run(mustBuild([httpFilter(NAME, HM, { ...own, most_specific_header_mutations_wins: true }), ROUTER]), r2, route);
  assert.equal(r2.head.headers['x-v'], 'route');
});
