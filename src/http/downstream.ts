// http/: the downstream side of one HTTP stream, the same shape for HTTP/1.1 (node:http req/res) and HTTP/2
// (node:http2 server stream). The active stream and router talk only to this interface.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2Session, ServerHttp2Stream, OutgoingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { HeaderMap } from '../common/headers.js';
import { resetStreamLocally } from './h2-abuse.js';

export interface ConnectionInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: boolean;
  /** SNI the client sent ('' when none). */
  readonly sni: string;
}

export interface Downstream {
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';
  /** Request body, or null when the request has none. */
  readonly body: Readable | null;
  readonly headersSent: boolean;
  /** True once the client went away (reset / closed) before the response finished. */
  readonly aborted: boolean;
  sendHeaders(status: number, headers: HeaderMap, endStream: boolean, expectTrailers?: boolean): void;
  /** Returns false when the downstream buffer is full; wait for onDrain. */
  sendData(chunk: Buffer, endStream: boolean): boolean;
  sendTrailers(trailers: HeaderMap | null): void;
  /** Abort the stream (HTTP/2 RST_STREAM, HTTP/1 connection close). */
  reset(): void;
  onDrain(cb: () => void): void;
  /** Called once when the client goes away before the response completed. */
  onAbort(cb: () => void): void;
  /** Called once when the response completed or the stream was aborted. */
  onDone(cb: () => void): void;
  /** Ask the connection to close after this response (drain). */
  closeConnectionAfter(): void;
}

const H1_FORBIDDEN_RESPONSE = new Set(['transfer-encoding', 'connection', 'keep-alive']);

const kDownstream = Symbol('meshlet.h1Downstream');
type TaggedResponse = ServerResponse & { [kDownstream]?: H1Downstream };

/** Shared listeners (no closure per request): the response carries its downstream under a symbol. */
function onResponseFinish(this: TaggedResponse): void {
  const ds = this[kDownstream];
  if (ds) ds.finished = true;
}

function onResponseClose(this: TaggedResponse): void {
  this[kDownstream]?.closed();
}

function onResponseDrain(this: TaggedResponse): void {
  this[kDownstream]?.drained();
}

export class H1Downstream implements Downstream {
  readonly protocol: 'HTTP/1.0' | 'HTTP/1.1';
  aborted = false;
  /** The response was fully handed to the socket ('finish'). */
  finished = false;
  private hasContentLength = false;
  private abortCb: (() => void) | null = null;
  private doneCb: (() => void) | null = null;
  private drainCb: (() => void) | null = null;
  private drainCbs: (() => void)[] | null = null;
  /** Close callbacks run in registration order, as the 'close' listeners they replace did. */
  private abortFirst = false;
  constructor(private readonly req: IncomingMessage, private readonly res: ServerResponse, readonly body: Readable | null) {
    this.protocol = req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
    (res as TaggedResponse)[kDownstream] = this;
    res.once('finish', onResponseFinish);
    res.once('close', onResponseClose);
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  sendHeaders(status: number, headers: HeaderMap, endStream: boolean): void {
    const res = this.res;
    // Fast path: hand the map to writeHead as is (node serialises it once); a copy only when something must go.
    let clean = true;
    for (const k in headers) {
      if (headers[k] === undefined || H1_FORBIDDEN_RESPONSE.has(k)) {
        clean = false;
        break;
      }
    }
    let out = headers as Record<string, string | string[]>;
    if (!clean) {
      out = {};
      for (const k in headers) {
        const v = headers[k];
        if (v === undefined || H1_FORBIDDEN_RESPONSE.has(k)) continue;
        out[k] = v;
      }
    }
    this.hasContentLength = out['content-length'] !== undefined;
    res.writeHead(status, out);
    if (endStream) res.end();
  }

  sendData(chunk: Buffer, endStream: boolean): boolean {
    if (endStream) {
      this.res.end(chunk);
      return true;
    }
    return this.res.write(chunk);
  }

  sendTrailers(trailers: HeaderMap | null): void {
    if (this.res.writableEnded) return;
    if (trailers && !this.hasContentLength) {
      const t: Record<string, string> = {};
      for (const k in trailers) {
        const v = trailers[k];
        if (v !== undefined) t[k] = typeof v === 'string' ? v : v.join(',');
      }
      this.res.addTrailers(t);
    }
    this.res.end();
  }

  reset(): void {
    this.aborted = true;
    // The response's socket: once the request body was handed upstream and destroyed there (undici destroys a stream
    // body when the request fails), node clears req.socket, and a cut response would hang the client instead.
    (this.res.socket ?? this.req.socket)?.destroy();
  }

  onDrain(cb: () => void): void {
    if (this.drainCb === null && this.drainCbs === null) {
      this.drainCb = cb;
      this.res.on('drain', onResponseDrain);
    } else (this.drainCbs ??= []).push(cb);
  }

  /** @internal the response emitted 'drain'. */
  drained(): void {
    this.drainCb?.();
    const more = this.drainCbs;
    if (more) for (const cb of more) cb();
  }

  onAbort(cb: () => void): void {
    if (this.abortCb === null) {
      this.abortCb = cb;
      this.abortFirst = this.doneCb === null;
      return;
    }
    const prev = this.abortCb;
    this.abortCb = () => {
      prev();
      cb();
    };
  }

  onDone(cb: () => void): void {
    if (this.doneCb === null) {
      this.doneCb = cb;
      return;
    }
    const prev = this.doneCb;
    this.doneCb = () => {
      prev();
      cb();
    };
  }

  /** @internal the response closed: an abort when it had not finished, then done. */
  closed(): void {
    const a = this.finished ? null : this.abortCb;
    const d = this.doneCb;
    this.abortCb = null;
    this.doneCb = null;
    if (!this.finished) this.aborted = true;
    if (this.abortFirst) {
      a?.();
      d?.();
    } else {
      d?.();
      a?.();
    }
  }

  closeConnectionAfter(): void {
    this.res.shouldKeepAlive = false;
  }
}

const NO_ERROR = 0;
const H2_FORBIDDEN_RESPONSE = new Set(['transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'upgrade']);

const kH2Downstream = Symbol('meshlet.h2Downstream');
type TaggedH2Stream = ServerHttp2Stream & { [kH2Downstream]?: H2Downstream };

/** RST from the client or a session error: handled by 'close'. */
function ignoreStreamError(): void { /* see 'close' */ }

/** Shared 'close' listener (no closures per stream): the stream carries its downstream under a symbol. */
function onH2StreamClose(this: TaggedH2Stream): void {
  this[kH2Downstream]?.closed();
}

export class H2Downstream implements Downstream {
  readonly protocol = 'HTTP/2' as const;
  aborted = false;
  private pendingTrailers: HeaderMap | null = null;
  private wantTrailers = false;
  private trailersReady = false;
  /** onDone/onAbort callbacks in registration order (as the 'close' listeners they replace ran); abort ones carry true. */
  private closeCbs: (() => void)[] | null = null;
  private closeIsAbort: boolean[] | null = null;
  constructor(private readonly stream: ServerHttp2Stream, readonly body: Readable | null) {
    stream.on('error', ignoreStreamError);
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  sendHeaders(status: number, headers: HeaderMap, endStream: boolean, expectTrailers = false): void {
    const s = this.stream;
    if (s.destroyed || s.closed) return;
    const h: OutgoingHttpHeaders = { ':status': status };
    for (const k in headers) {
      const v = headers[k];
      if (v === undefined || H2_FORBIDDEN_RESPONSE.has(k)) continue;
      h[k] = v;
    }
    const waitForTrailers = expectTrailers && !endStream;
    if (waitForTrailers) {
      s.once('wantTrailers', () => {
        this.wantTrailers = true;
        if (this.trailersReady) this.flushTrailers();
      });
    }
    try {
      s.respond(h, { endStream, waitForTrailers });
    } catch {
      s.destroy();
    }
  }

  sendData(chunk: Buffer, endStream: boolean): boolean {
    const s = this.stream;
    if (s.destroyed) return true;
    if (endStream) {
      s.end(chunk);
      return true;
    }
    return s.write(chunk);
  }

  sendTrailers(trailers: HeaderMap | null): void {
    const s = this.stream;
    if (s.destroyed || s.writableEnded) return;
    this.pendingTrailers = trailers;
    this.trailersReady = true;
    s.end();
    if (this.wantTrailers) this.flushTrailers();
  }

  private flushTrailers(): void {
    const s = this.stream;
    if (s.destroyed) return;
    const t = this.pendingTrailers ?? {};
    const out: OutgoingHttpHeaders = {};
    for (const k in t) if (t[k] !== undefined && !H2_FORBIDDEN_RESPONSE.has(k)) out[k] = t[k];
    try {
      s.sendTrailers(out);
    } catch {
      s.close();
    }
  }

  reset(): void {
    this.aborted = true;
    resetStreamLocally(this.stream, 2 /* INTERNAL_ERROR */);
  }

  onDrain(cb: () => void): void {
    this.stream.on('drain', cb);
  }

  onAbort(cb: () => void): void {
    this.onClose(cb, true);
  }

  onDone(cb: () => void): void {
    this.onClose(cb, false);
  }

  private onClose(cb: () => void, abort: boolean): void {
    if (this.closeCbs === null) {
      this.closeCbs = [];
      this.closeIsAbort = [];
      (this.stream as TaggedH2Stream)[kH2Downstream] = this;
      this.stream.once('close', onH2StreamClose);
    }
    this.closeCbs.push(cb);
    this.closeIsAbort!.push(abort);
  }

  /** @internal the stream closed: done callbacks always, abort callbacks when it did not complete. */
  closed(): void {
    const cbs = this.closeCbs;
    const isAbort = this.closeIsAbort;
    if (cbs === null || isAbort === null) return;
    this.closeCbs = null;
    this.closeIsAbort = null;
    for (let i = 0; i < cbs.length; i++) {
      if (!isAbort[i]) {
        cbs[i]();
        continue;
      }
      // A peer RST_STREAM makes node end our writable side before 'close' (writableFinished is then true), so the
      // stream's reset code tells an abort apart from a completed exchange.
      const s = this.stream;
      if (!s.writableFinished || s.aborted || (s.rstCode !== undefined && s.rstCode !== NO_ERROR)) {
        this.aborted = true;
        cbs[i]();
      }
    }
  }

  closeConnectionAfter(): void {
    /* HTTP/2 drains with GOAWAY at the session level. */
  }

  /** The HTTP/2 session this stream belongs to (the connection manager drains it with a two-phase GOAWAY). */
  get session(): Http2Session | undefined {
    return this.stream.session;
  }
}
