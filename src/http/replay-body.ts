// http/: a request body that can be replayed for retries and mirrors: chunks stream through to the current attempt
// with backpressure while the first `limit` bytes are kept; past the limit it can no longer be replayed.
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';

export const RETRY_BUFFER_LIMIT = 64 * 1024;

export class ReplayBody {
  private chunks: Buffer[] = [];
  private size = 0;
  overflowed = false;
  ended = false;
  private current: PassThrough | null = null;
  private attached = 0;
  private endWaiters: (() => void)[] = [];
  /** The source had already received its whole body (END_STREAM) when we took it: every chunk is in `chunks`. */
  private readonly complete: boolean;

  constructor(private readonly src: Readable, private readonly limit = RETRY_BUFFER_LIMIT) {
    src.pause();
    src.on('data', (c: Buffer) => this.onData(c));
    src.once('end', () => {
      this.ended = true;
      this.current?.end();
      for (const w of this.endWaiters) w();
      this.endWaiters = [];
    });
    src.once('error', () => this.current?.destroy());
    this.complete = this.takeBuffered();
  }

  /**
   * A body that arrived whole with its headers (a gRPC unary call, a small POST: HTTP/2 streams start a turn after
   * their read) is already in the source's buffer with its end: read it now, so an HTTP/2 attempt gets it as one
   * Buffer (`stream.end(buf)`) instead of a PassThrough piped into the upstream stream per attempt.
   */
  private takeBuffered(): boolean {
    const st = (this.src as Readable & { _readableState?: { ended?: boolean } })._readableState;
    if (st?.ended !== true || this.src.readableLength > this.limit) return false;
    // read() in paused mode emits 'data' for what it returns (onData keeps it); the last one schedules 'end'.
    while (this.src.read() !== null) { /* onData */ }
    return !this.overflowed;
  }

  private onData(c: Buffer): void {
    if (!this.overflowed) {
      this.size += c.length;
      if (this.size > this.limit) {
        this.overflowed = true;
        this.chunks = [];
      } else this.chunks.push(c);
    }
    const cur = this.current;
    if (cur && !cur.write(c)) {
      this.src.pause();
      cur.once('drain', () => {
        if (this.current === cur) this.src.resume();
      });
    }
  }

  /** True while a new attempt can still get the whole body. */
  get replayable(): boolean {
    return !this.overflowed || this.attached === 0;
  }

  /**
   * A fresh readable for an attempt (earlier attempts' streams are detached), or null if no longer replayable. With
   * `asBuffer` (the attempt takes a Buffer body: HTTP/2 upstreams), a body held whole is returned as one Buffer.
   */
  attach(asBuffer = false): Readable | Buffer | null {
    if (!this.replayable) return null;
    if (asBuffer && this.complete) {
      this.detach();
      this.attached++;
      this.src.resume();
      return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    }
    this.detach();
    const pt = new PassThrough({ highWaterMark: 64 * 1024 });
    this.attached++;
    for (const c of this.chunks) pt.write(c);
    if (this.ended) pt.end();
    this.current = pt;
    this.src.resume();
    return pt;
  }

  /** Stop feeding the current attempt (it failed); pauses the source until the next attach. */
  detach(): void {
    if (this.current) {
      const c = this.current;
      this.current = null;
      c.destroy();
    }
    this.src.pause();
  }

  /** Calls back with the complete body once it ended within the limit (mirrors), or null if it overflowed. */
  whenComplete(cb: (body: Buffer | null) => void): void {
    const fire = (): void => cb(this.overflowed ? null : Buffer.concat(this.chunks));
    if (this.ended) fire();
    else this.endWaiters.push(fire);
  }
}
