// Tests: one header-mutation level (router/header-mutation) — the in-place path (distinct names, values that do not
// read headers) and the staged path (values reading headers) both evaluate against the pre-level header state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMutationLevel } from '../../../src/router/header-mutation.js';
import type { AppendAction, HeaderValueOptionConfig } from '../../../src/config/route.js';
import type { FormatInput } from '../../../src/common/substitution-format.js';
import type { HeaderMap, RequestHead } from '../../../src/common/headers.js';

const add = (name: string, value: string, action: AppendAction, keepEmptyValue = false): HeaderValueOptionConfig => ({ name, value, action, keepEmptyValue });
const ctx = { remoteAddress: '10.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2, protocol: 'HTTP/1.1', startTimeMs: 0 } as FormatInput;

function run(adds: HeaderValueOptionConfig[], removes: string[], headers: HeaderMap): HeaderMap {
  const level = compileMutationLevel({ requestHeadersToAdd: adds, requestHeadersToRemove: removes, responseHeadersToAdd: [], responseHeadersToRemove: [] });
  assert.ok(level);
  const head = { method: 'GET', path: '/', authority: 'a', scheme: 'http', headers } as unknown as RequestHead;
  level.applyRequest(head, { ...ctx, requestHead: head, requestHeaders: headers });
  return headers;
}

test('distinct constant adds: every append action on present and absent headers, overwrites before appends', () => {
  const h = run(
    [
      add('x-app', 'new', 'APPEND_IF_EXISTS_OR_ADD'),
      add('x-absent-add', 'a', 'ADD_IF_ABSENT'),
      add('x-present-add', 'b', 'ADD_IF_ABSENT'),
      add('x-ow', 'c', 'OVERWRITE_IF_EXISTS_OR_ADD'),
      add('x-ow-if', 'd', 'OVERWRITE_IF_EXISTS'),
      add('x-ow-if-absent', 'e', 'OVERWRITE_IF_EXISTS'),
      add('x-empty', '', 'OVERWRITE_IF_EXISTS_OR_ADD'),
      add('x-keep-empty', '', 'APPEND_IF_EXISTS_OR_ADD', true),
      add('x-peer', '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', 'OVERWRITE_IF_EXISTS_OR_ADD'),
    ],
    ['x-gone'],
    { 'x-app': 'old', 'x-present-add': 'keep', 'x-ow': 'old', 'x-ow-if': 'old', 'x-gone': 'g' },
  );
  assert.deepEqual(h, {
    'x-app': ['old', 'new'],
    'x-present-add': 'keep',
    'x-ow': 'c',
    'x-ow-if': 'd',
    'x-peer': '10.0.0.1',
    'x-absent-add': 'a',
    'x-keep-empty': '',
  });
  assert.deepEqual(Object.keys(h), ['x-app', 'x-present-add', 'x-ow', 'x-ow-if', 'x-peer', 'x-absent-add', 'x-keep-empty']);
});

test('values reading headers see the pre-level state, also when the same level overwrites them', () => {
  const h = run([add('x-a', 'A2', 'OVERWRITE_IF_EXISTS_OR_ADD'), add('x-copy', '%REQ(x-a)%', 'OVERWRITE_IF_EXISTS_OR_ADD'), add('x-a', 'A3', 'APPEND_IF_EXISTS_OR_ADD')], [], { 'x-a': 'A1' });
  assert.deepEqual(h, { 'x-a': ['A2', 'A3'], 'x-copy': 'A1' });
  // A repeated name with ADD_IF_ABSENT: both see the header absent (pre-level), so both are added.
  const g = run([add('x-n', '1', 'ADD_IF_ABSENT'), add('x-n', '2', 'ADD_IF_ABSENT')], [], {});
  assert.deepEqual(g, { 'x-n': ['1', '2'] });
});
