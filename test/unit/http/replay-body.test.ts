// Unit: ReplayBody hands a body that arrived whole to an HTTP/2 attempt as one Buffer, replays it the same way, and
// still streams (PassThrough) a body that is in flight or an attempt that takes a stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { ReplayBody } from '../../../src/http/replay-body.js';

async function drain(r: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

function endedSource(...chunks: string[]): PassThrough {
  const src = new PassThrough();
  for (const c of chunks) src.write(c);
  src.end();
  return src;
}

test('a body already ended in the source is one Buffer for every buffered attempt', async () => {
  const src = endedSource('hello ', 'world');
  await new Promise((r) => setImmediate(r)); // the PassThrough moved both chunks and its end to its readable side
  const rb = new ReplayBody(src);
  const first = rb.attach(true);
  assert.ok(Buffer.isBuffer(first));
  assert.equal(first.toString(), 'hello world');
  const second = rb.attach(true);
  assert.ok(Buffer.isBuffer(second), 'a retry gets the same bytes');
  assert.equal(second.toString(), 'hello world');
  const streamed = rb.attach(false);
  assert.ok(streamed instanceof Readable, 'an attempt that takes a stream still gets one');
  assert.equal(await drain(streamed), 'hello world');
  const whole = await new Promise<Buffer | null>((r) => rb.whenComplete(r));
  assert.equal(whole?.toString(), 'hello world');
});

test('a body still in flight streams through a PassThrough even when a Buffer is accepted', async () => {
  const src = new PassThrough();
  src.write('part1 ');
  const rb = new ReplayBody(src);
  const first = rb.attach(true);
  assert.ok(first instanceof Readable);
  const got = drain(first);
  src.end('part2');
  assert.equal(await got, 'part1 part2');
});

test('a whole body above the replay limit is not taken as a Buffer and still reaches the attempt', async () => {
  const src = endedSource('x'.repeat(40), 'y'.repeat(40));
  await new Promise((r) => setImmediate(r));
  const rb = new ReplayBody(src, 64);
  const first = rb.attach(true);
  assert.ok(first instanceof Readable);
  assert.equal(await drain(first), 'x'.repeat(40) + 'y'.repeat(40));
  assert.equal(rb.attach(true), null, 'past the limit a streamed body cannot be replayed');
});
