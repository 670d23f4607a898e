// process/: the hot-restart control protocol between epoch E (parent) and epoch E+1 (child) over the abstract Unix
// socket `@meshlet_hot_restart_<base-id>_<E>`. Frames are a u32 BE length + one JSON message; the parent's
// `sockets` frame carries the listen fds (SCM_RIGHTS, native addon). Messages, in order:
//   child → parent  hello    {epoch, version, pid}           the child starts; the parent shuts its admin down
//   parent → child  sockets  {keys[], pid, startTime}       one fd per key (listener-manager binding key)
//   parent → child  refused  {reason}                       instead of sockets (version mismatch, busy)
//   child → parent  drain    {parentShutdownTimeS}          the child is LIVE: stop accepting, drain, exit
// Decoding never throws past this module's callers: bad frames become HotRestartError PROTOCOL.

/** Bumped when the protocol changes; parent and child must agree (Envoy's --hot-restart-version). */
export const HOT_RESTART_VERSION = 'meshlet.1';
/** Largest frame either side accepts (the native addon's limit too). */
export const MAX_FRAME_BYTES = 1024 * 1024;

export type HotRestartErrorCode = 'UNAVAILABLE' | 'NO_PARENT' | 'TIMEOUT' | 'PROTOCOL' | 'REFUSED' | 'PARENT_GONE' | 'UNSUPPORTED';

/** Typed hot-restart failures with stable codes (`HOT_RESTART_<code>` in logs). */
export class HotRestartError extends Error {
  constructor(readonly code: HotRestartErrorCode, message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'HotRestartError';
  }
}

export type HotRestartMessage =
  | { readonly type: 'hello'; readonly epoch: number; readonly version: string; readonly pid: number }
  | { readonly type: 'sockets'; readonly keys: readonly string[]; readonly pid: number; readonly startTime: number }
  | { readonly type: 'refused'; readonly reason: string }
  | { readonly type: 'drain'; readonly parentShutdownTimeS: number };

/** Envoy names its socket from base id and epoch; ours lives in the abstract namespace ('@' = leading NUL). */
export function controlSocketName(baseId: number, epoch: number): string {
  return `@meshlet_hot_restart_${baseId}_${epoch}`;
}

/** The same name as node:net wants it (leading NUL for abstract sockets). */
export function netPathOf(name: string): string {
  return name.startsWith('@') ? `\0${name.slice(1)}` : name;
}

/** A message's JSON payload (what the addon's sendFds frames itself). */
export function encodePayload(m: HotRestartMessage): Buffer {
  return Buffer.from(JSON.stringify(m), 'utf8');
}

/** A whole frame (length + payload) for writes through node:net. */
export function encodeMessage(m: HotRestartMessage): Buffer {
  const body = encodePayload(m);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Validates one frame's JSON payload; a HotRestartError PROTOCOL says what is wrong. */
export function decodeMessage(payload: Buffer): HotRestartMessage | HotRestartError {
  let m: unknown;
  try {
    m = JSON.parse(payload.toString('utf8'));
  } catch {
    return new HotRestartError('PROTOCOL', `hot restart: frame is not JSON (${payload.length} bytes)`);
  }
  if (typeof m !== 'object' || m === null) return new HotRestartError('PROTOCOL', 'hot restart: frame is not an object');
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'hello':
      if (isNat(o.epoch) && typeof o.version === 'string' && isNat(o.pid)) return { type: 'hello', epoch: o.epoch, version: o.version, pid: o.pid };
      break;
    case 'sockets':
      if (Array.isArray(o.keys) && o.keys.every((k) => typeof k === 'string') && isNat(o.pid) && isNat(o.startTime)) {
        return { type: 'sockets', keys: o.keys as string[], pid: o.pid, startTime: o.startTime };
      }
      break;
    case 'refused':
      if (typeof o.reason === 'string') return { type: 'refused', reason: o.reason };
      break;
    case 'drain':
      if (isNat(o.parentShutdownTimeS)) return { type: 'drain', parentShutdownTimeS: o.parentShutdownTimeS };
      break;
    default:
      return new HotRestartError('PROTOCOL', `hot restart: unknown message type ${JSON.stringify(o.type)}`);
  }
  return new HotRestartError('PROTOCOL', `hot restart: malformed ${String(o.type)} message`);
}

/** Splits a byte stream into frames (for the side that reads with node:net); oversized frames are errors. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  /** Appends bytes; returns the complete messages (or the first error, after which the stream is unusable). */
  push(chunk: Buffer): (HotRestartMessage | HotRestartError)[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: (HotRestartMessage | HotRestartError)[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len > MAX_FRAME_BYTES) {
        out.push(new HotRestartError('PROTOCOL', `hot restart: frame of ${len} bytes is over the ${MAX_FRAME_BYTES} limit`));
        this.buf = Buffer.alloc(0);
        return out;
      }
      if (this.buf.length < 4 + len) break;
      out.push(decodeMessage(this.buf.subarray(4, 4 + len)));
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}
