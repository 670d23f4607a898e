// Tests: a large route table compiles each virtual host's routes on its first lookup (router/route-table), with the
// same decisions as an eagerly compiled table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fwd, outcome, req, table, vh } from './helpers.js';

const cfg = {
  name: 'big',
  virtual_hosts: [
    vh('a', ['a.example'], [fwd({ prefix: '/x' }, 'a-x'), fwd({ safe_regex: { regex: '/r/[0-9]+' } }, 'a-r'), fwd({ prefix: '/' }, 'a-root')]),
    vh('b', ['*.b.example'], [fwd({ path: '/exact' }, 'b-exact', { prefix_rewrite: '/p' }), fwd({ prefix: '/' }, 'b-root')]),
    vh('c', ['c.example:8080', 'c.example'], [fwd({ prefix: '/', headers: [{ name: 'x-v', string_match: { exact: '2' } }] }, 'c-v2'), fwd({ prefix: '/' }, 'c-root')]),
    vh('d', ['*'], [fwd({ prefix: '/' }, 'default')]),
  ],
};

const cases: [string, string, Record<string, string>?][] = [
  ['a.example', '/x/1'], ['a.example', '/r/12'], ['a.example', '/r/x'], ['q.b.example', '/exact'], ['q.b.example', '/other'],
  ['c.example', '/'], ['c.example', '/', { 'x-v': '2' }], ['nowhere', '/'], ['A.EXAMPLE', '/x'],
];

test('lazy table: no vhost compiled up front, one per first lookup, same decisions as an eager table', () => {
  const lazy = table(cfg, { lazyThreshold: 0 }) as ReturnType<typeof table> & { compiledVhostCount(): number };
  const eager = table(cfg) as ReturnType<typeof table> & { compiledVhostCount(): number };
  assert.equal(eager.compiledVhostCount(), 4);
  assert.equal(lazy.compiledVhostCount(), 0);
  assert.equal(outcome(lazy, req('a.example', '/x')), 'a-x');
  assert.equal(lazy.compiledVhostCount(), 1);
  assert.equal(outcome(lazy, req('a.example', '/y')), 'a-root');
  assert.equal(lazy.compiledVhostCount(), 1);
  for (const [host, path, headers] of cases) {
    assert.equal(outcome(lazy, req(host, path, { headers })), outcome(eager, req(host, path, { headers })), `${host}${path}`);
    assert.deepEqual(lazy.explain(req(host, path, { headers })).steps, eager.explain(req(host, path, { headers })).steps);
  }
  assert.equal(lazy.compiledVhostCount(), 4);
});
