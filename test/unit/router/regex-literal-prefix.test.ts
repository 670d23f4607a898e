import { test } from 'node:test';
import assert from 'node:assert/strict';
import { regexLiteralPrefix } from '../../../src/router/route-table.js';

test('regexLiteralPrefix: the literal start every full match needs, conservative around quantifiers and alternation', () => {
  assert.equal(regexLiteralPrefix('^/api/v[0-9]+/items/[0-9]+$'), '/api/v');
  assert.equal(regexLiteralPrefix('/static/.*'), '/static/');
  assert.equal(regexLiteralPrefix('/ab*c'), '/a', 'a quantified character is optional');
  assert.equal(regexLiteralPrefix('/ab?'), '/a');
  assert.equal(regexLiteralPrefix('/ab{0,2}'), '/a');
  assert.equal(regexLiteralPrefix('/a|/b'), '', 'alternation: no common prefix assumed');
  assert.equal(regexLiteralPrefix('(?i)/api'), '', 'flags change how literals match');
  assert.equal(regexLiteralPrefix('.*'), '');
  assert.equal(regexLiteralPrefix('\\/x'), '');
  assert.equal(regexLiteralPrefix('a+'), '');
});

test('every path the regex fully matches starts with its literal prefix (sampled)', () => {
  const cases: [string, string[]][] = [
    ['^/api/v[0-9]+/items/[0-9]+$', ['/api/v1/items/2', '/api/v10/items/300']],
    ['/ab*c', ['/ac', '/abc', '/abbbc']],
    ['/x-y_z/[a-z]+', ['/x-y_z/abc']],
  ];
  for (const [re, paths] of cases) {
    const full = new RegExp(`^(?:${re})$`);
    const pre = regexLiteralPrefix(re);
    for (const p of paths) {
      assert.ok(full.test(p), `${p} matches ${re}`);
      assert.ok(p.startsWith(pre), `${p} starts with ${pre}`);
    }
  }
});
