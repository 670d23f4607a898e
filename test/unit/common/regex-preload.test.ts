// Tests for common/regex.ts preloadRegexEngine: the RE2 engine loads in short turns before a config needs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRegex, preloadRegexEngine, regexEngineLoaded, regexInstanceCount } from '../../../src/common/regex.js';

test('preloadRegexEngine loads one re2-wasm instance that compileRegex then uses, and is idempotent', async () => {
  assert.equal(regexEngineLoaded(), false);
  assert.equal(regexInstanceCount(), 0);
  const p = preloadRegexEngine();
  assert.equal(preloadRegexEngine(), p, 'a second call joins the running load');
  assert.equal(regexEngineLoaded(), false, 'nothing is loaded inside the caller\'s turn');
  await p;
  assert.equal(regexEngineLoaded(), true);
  assert.equal(regexInstanceCount(), 1);
  const r = compileRegex('^/api/v[0-9]+/orders/([a-z0-9-]+)$');
  assert.ok(r.ok);
  assert.equal(r.regex.fullMatch('/api/v2/orders/ab-12'), true);
  assert.equal(r.regex.fullMatch('/api/v2/orders/AB'), false);
  assert.equal(compileRegex('a(?=b)').ok, false, 'RE2 syntax errors are still reported');
  await preloadRegexEngine();
  assert.equal(regexInstanceCount(), 1, 'no second instance');
});
