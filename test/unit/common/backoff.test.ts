// Unit tests for the jittered exponential backoff used by the xDS reconnect loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExponentialBackoff } from '../../../src/common/backoff.js';

test('delays grow from 0.5 s and are capped at 30 s, each within [ceiling/2, ceiling]', () => {
  const b = new ExponentialBackoff();
  const ceilings = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  for (const c of ceilings) {
    const d = b.next();
    assert.ok(d >= c / 2 && d <= c, `delay ${d} outside [${c / 2}, ${c}]`);
  }
});

test('jitter uses the random source; reset returns to the base delay', () => {
  const lo = new ExponentialBackoff({ random: () => 0 });
  const hi = new ExponentialBackoff({ random: () => 0.999999 });
  assert.equal(lo.next(), 250);
  assert.equal(hi.next(), 500);
  lo.next();
  lo.next();
  assert.equal(lo.currentCeilingMs, 4000);
  lo.reset();
  assert.equal(lo.next(), 250);
});

test('custom base and max are honoured', () => {
  const b = new ExponentialBackoff({ baseMs: 100, maxMs: 300, random: () => 1 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [100, 200, 300, 300]);
});
