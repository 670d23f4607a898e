// The hot-restart control protocol's frames: round trips, and every malformed input becomes a PROTOCOL error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, HotRestartError, MAX_FRAME_BYTES, controlSocketName, decodeMessage, encodeMessage, netPathOf } from '../../../src/process/hot-restart-wire.js';

test('messages round-trip through frames split at any byte', () => {
  const msgs = [
    { type: 'hello', epoch: 1, version: 'meshlet.1', pid: 42 },
    { type: 'sockets', keys: ['127.0.0.1:8080', '0.0.0.0:15001'], pid: 7, startTime: 1700000000000 },
    { type: 'drain', parentShutdownTimeS: 900 },
    { type: 'refused', reason: 'busy' },
  ] as const;
  const bytes = Buffer.concat(msgs.map((m) => encodeMessage(m)));
  for (const cut of [1, 3, 4, 5, 17, bytes.length - 1]) {
    const r = new FrameReader();
    const out = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
    assert.deepEqual(out, msgs, `cut at ${cut}`);
  }
});

test('bad frames are PROTOCOL errors naming the problem', () => {
  const bad = (s: string): string => {
    const m = decodeMessage(Buffer.from(s));
    assert.ok(m instanceof HotRestartError, s);
    assert.equal(m.code, 'PROTOCOL');
    return m.message;
  };
  assert.match(bad('not json'), /not JSON/);
  assert.match(bad('[1]'), /malformed|unknown/);
  assert.match(bad('{"type":"nope"}'), /unknown message type "nope"/);
  assert.match(bad('{"type":"hello","epoch":-1,"version":"v","pid":1}'), /malformed hello/);
  assert.match(bad('{"type":"sockets","keys":[1],"pid":1,"startTime":0}'), /malformed sockets/);
  assert.match(bad('{"type":"drain"}'), /malformed drain/);
  const big = Buffer.alloc(4);
  big.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
  const out = new FrameReader().push(big);
  assert.equal(out.length, 1);
  assert.ok(out[0] instanceof HotRestartError && /over the/.test(out[0].message));
});

test('control socket names follow base id and epoch, abstract for node:net', () => {
  assert.equal(controlSocketName(3, 1), '@meshlet_hot_restart_3_1');
  assert.equal(netPathOf('@x'), '\0x');
  assert.equal(netPathOf('/tmp/x'), '/tmp/x');
});
