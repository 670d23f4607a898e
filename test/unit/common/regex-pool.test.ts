// common/regex: more distinct patterns than one re2-wasm instance's fixed 16 MB heap holds (≈ 9,400 programs)
// compile and match, because compilation moves on to a fresh re2-wasm instance when the current one is full.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRegex, compiledRegexCount, regexInstanceCount, type CompiledRegex } from '../../../src/common/regex.js';

test('6,000 distinct patterns, each used for full and partial match (12,000 RE2 programs), all compile and match', () => {
  const n = 6000;
  const before = compiledRegexCount();
  const regexes: CompiledRegex[] = [];
  for (let i = 0; i < n; i++) {
    const r = compileRegex(`/api/v${i}/items/[0-9]+`);
    assert.ok(r.ok, r.ok ? '' : r.error);
    regexes.push(r.regex);
    // the search program is a second RE2 per pattern: together they need more than one instance's heap
    assert.equal(r.regex.partialMatch(`GET /api/v${i}/items/42 HTTP/1.1`), true);
  }
  assert.equal(compiledRegexCount() - before, n);
  assert.ok(regexInstanceCount() >= 2, `expected a second re2-wasm instance, have ${regexInstanceCount()}`);
  // Every regex, old instance or new, still matches exactly its own paths.
  for (let i = 0; i < n; i++) {
    const r = regexes[i];
    assert.equal(r.fullMatch(`/api/v${i}/items/7`), true, `pattern ${i}`);
    assert.equal(r.fullMatch(`/api/v${i + 1}/items/7`), false, `pattern ${i} must not match ${i + 1}`);
    assert.equal(r.fullMatch(`/api/v${i}/items/x`), false);
    assert.equal(r.partialMatch(`/api/v${i}/items/`), false);
  }
  // Interning still returns the same object, and a syntax error is still an error (not a new instance).
  const again = compileRegex('/api/v0/items/[0-9]+');
  assert.ok(again.ok && again.regex === regexes[0]);
  assert.equal(compileRegex('(a)\\1').ok, false);
  const instances = regexInstanceCount();
  const bad = compileRegex('(?<=a)b');
  assert.equal(bad.ok, false);
  assert.equal(regexInstanceCount(), instances, 'a syntax error must not be taken for a full heap');
  // Capture groups and replace keep working on a late instance.
  const late = compileRegex('^/late/(\\w+)/(\\d+)$');
  assert.ok(late.ok);
  assert.deepEqual(late.regex.fullMatchGroups('/late/abc/12'), ['/late/abc/12', 'abc', '12']);
});
