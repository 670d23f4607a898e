// random-ids: ids drawn from one pooled random buffer — UUIDv4 shape, hex ids never all zero, 32-bit stream random
// over its whole range, and fresh values across pool refills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomHex, randomUint32, randomUuid } from '../../../src/http/random-ids.js';

test('randomUuid: lower-case v4 UUIDs, distinct across many pool refills', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const u = randomUuid();
    assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(u);
  }
  assert.equal(seen.size, 5000);
});

test('randomHex: 2 chars per byte, never all zeros', () => {
  for (let i = 0; i < 2000; i++) {
    const h = randomHex(8);
    assert.match(h, /^[0-9a-f]{16}$/);
    assert.notEqual(h, '0'.repeat(16));
  }
});

test('randomUint32: integers in [0, 2^32), spread over the range, distinct across refills', () => {
  const n = 20_000;
  const seen = new Set<number>();
  const buckets = new Array<number>(16).fill(0);
  for (let i = 0; i < n; i++) {
    const v = randomUint32();
    assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** 32, String(v));
    seen.add(v);
    buckets[v >>> 28]++;
  }
  assert.ok(seen.size > n * 0.99, `only ${seen.size} distinct values`);
  // Each sixteenth of the range gets its share (expected 1250; a broken draw piles into a few buckets).
  for (const b of buckets) assert.ok(b > 1000 && b < 1500, buckets.join(','));
});
