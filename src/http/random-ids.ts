// http/: random identifiers for the data path (x-request-id UUIDs, trace/span ids) drawn from one pre-filled random
// buffer refilled when used up, instead of one crypto call per request (randomBytes is not pooled by node).
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 8192;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));

/** Reserves `n` fresh random bytes in the pool and returns their offset (valid until the next call). */
function take(n: number): number {
  if (offset + n > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const o = offset;
  offset += n;
  return o;
}

function hex(o: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += HEX[pool[o + i]];
  return s;
}

/** A random (version 4) UUID in lower-case 8-4-4-4-12 form, as crypto.randomUUID() returns. */
export function randomUuid(): string {
  const o = take(16);
  pool[o + 6] = (pool[o + 6] & 0x0f) | 0x40;
  pool[o + 8] = (pool[o + 8] & 0x3f) | 0x80;
  return `${hex(o, 4)}-${hex(o + 4, 2)}-${hex(o + 6, 2)}-${hex(o + 8, 2)}-${hex(o + 10, 6)}`;
}

/** `bytes` random bytes as lower-case hex (2 × bytes chars); never all zeros. */
export function randomHex(bytes: number): string {
  for (;;) {
    const o = take(bytes);
    let zero = true;
    for (let i = 0; i < bytes && zero; i++) if (pool[o + i] !== 0) zero = false;
    if (!zero) return hex(o, bytes);
  }
}

/** A uniformly random unsigned 32-bit integer from the pool (the stream random of the HCM, weighted picks). */
export function randomUint32(): number {
  const o = take(4);
  return pool.readUInt32LE(o);
}
