// Unit tests for the per-type xDS update history served by /debug/xds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XdsHistory, type HistoryEntry } from '../../../src/xds/xds-history.js';

const base = (i: number, typeUrl = 'T'): HistoryEntry => ({
  time: 1000 + i, typeUrl, source: 'ads-sotw', version: `v${i}`, nonce: String(i), added: [], changed: [], removed: [],
  accepted: true, errors: [], validateMs: 1, applyMs: 0, pushToEffectMs: null, warming: false,
});

test('keeps only the last 100 entries per type, oldest first', () => {
  const h = new XdsHistory();
  for (let i = 0; i < 130; i++) h.record(base(i));
  h.record(base(0, 'U'));
  const t = h.entries('T');
  assert.equal(t.length, 100);
  assert.equal(t[0].version, 'v30');
  assert.equal(t[99].version, 'v129');
  assert.equal(h.entries('U').length, 1);
  const json = JSON.parse(JSON.stringify(h));
  assert.equal(json.types.T.length, 100);
  assert.equal(json.types.U[0].version, 'v0');
});

test('push-to-effect is filled in once, when the update takes effect', () => {
  const h = new XdsHistory();
  const handle = h.record({ ...base(1), warming: true });
  handle.update({ applyMs: 2.5 });
  handle.effect(1001 + 40);
  handle.effect(5000);
  const e = h.entries('T')[0];
  assert.equal(e.pushToEffectMs, 40);
  assert.equal(e.warming, false);
  assert.equal(e.applyMs, 2.5);
});
