// http/: a Duplex over an accepted socket that first replays bytes already read from it (the HTTP/2 preface sniff,
// listener-filter peeks). node:http2 and node:tls read a net.Socket's native handle directly, which would skip
// bytes put back with unshift(); handing them this wrapper makes Node read through JS instead.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export class ReplaySocket extends Duplex {
  constructor(private readonly inner: Socket, head: Buffer) {
    super({ allowHalfOpen: true });
    if (head.length > 0) this.push(head);
    inner.on('data', (d: Buffer) => {
      if (!this.push(d)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('close', () => this.destroy());
    inner.on('error', (e: Error) => this.destroy(e));
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.inner.write(chunk, enc, cb);
  }

  /** Chunks queued while corked (node:http2 and node:tls hand over one batch corked): one corked inner write. */
  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], cb: (err?: Error | null) => void): void {
    this.writeChunks(chunks, cb);
  }

  protected writeChunks(chunks: { chunk: Buffer; encoding: BufferEncoding }[], cb: (err?: Error | null) => void): void {
    const inner = this.inner;
    const last = chunks.length - 1;
    if (last === 0) {
      inner.write(chunks[0].chunk, chunks[0].encoding, cb);
      return;
    }
    inner.cork();
    for (let i = 0; i < last; i++) inner.write(chunks[i].chunk, chunks[i].encoding);
    inner.write(chunks[last].chunk, chunks[last].encoding, cb);
    inner.uncork();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }

  setNoDelay(v?: boolean): this {
    this.inner.setNoDelay(v);
    return this;
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.inner.setKeepAlive(enable, delay);
    return this;
  }

  setTimeout(ms: number, cb?: () => void): this {
    this.inner.setTimeout(ms, cb);
    return this;
  }

  get remoteAddress(): string | undefined {
    return this.inner.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.inner.remotePort;
  }

  get localAddress(): string | undefined {
    return this.inner.localAddress;
  }

  get localPort(): number | undefined {
    return this.inner.localPort;
  }
}
