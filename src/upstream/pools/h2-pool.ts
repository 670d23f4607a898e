// upstream/pools/: HTTP/2 pool for one host on node:http2 client sessions: multiplexed streams up to the peer's
// max_concurrent_streams (then another session), GOAWAY → session draining and the streams the peer refused (above
// its last stream id, or REFUSED_STREAM) re-sent once on another connection, optional PING keep-alive.
// Session states: connecting → ready → draining → closed.
import http2 from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import type { HeaderMap } from '../../common/headers.js';
import type { HostStats } from '../types.js';
import { tlsConnectOptions } from '../transport/tls-options.js';
import { UpstreamFailure } from './upstream-pool.js';
import { resetH2Stream } from './h2-stream-reset.js';
import { IdleTimer } from './idle-timer.js';
import type {
  PoolOptions, PoolState, UpstreamFailureKind, UpstreamPool, UpstreamRequestHandle, UpstreamRequestHead, UpstreamResponseHandler,
} from './upstream-pool.js';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL } = http2.constants;
/** How long a gracefully closed session waits for the peer to close before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

type SessionState = 'connecting' | 'ready' | 'draining' | 'closed';

class H2Session {
  state: SessionState = 'connecting';
  total = 0;
  connectError: Error | null = null;
  /** Last stream id the peer said it processed (GOAWAY); streams above it were refused. -1 = no GOAWAY. */
  goawayLastStreamId = -1;
  private connected = false;
  private pingTimer: NodeJS.Timeout | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  /** The transport socket, destroyed if the peer does not finish closing after a graceful close. */
  socket: net.Socket | null = null;
  /** idle_timeout (no active streams) on meshlet's own timer, cleared on close (see idle-timer.ts). */
  private readonly idle: IdleTimer;

  /** Streams open on this session. */
  get active(): number {
    return this.idle.active;
  }

  set active(n: number) {
    this.idle.active = n;
  }

  constructor(readonly session: ClientHttp2Session, private readonly pool: H2Pool, opts: PoolOptions, stats?: HostStats) {
    this.idle = new IdleTimer(opts.idleTimeoutMs || 3_600_000, () => session.close());
    session.once('connect', () => {
      if (this.state === 'connecting') this.state = 'ready';
      this.connected = true;
      if (stats) {
        stats.cxTotal++;
        stats.cxActive++;
      }
    });
    session.on('goaway', (_code: number, lastStreamId: number) => {
      this.goawayLastStreamId = lastStreamId;
      this.markDraining();
    });
    session.on('error', (e: Error) => {
      if (this.state === 'connecting') this.connectError = e;
    });
    session.once('close', () => {
      if (stats) {
        if (this.connected) {
          if (stats.cxActive > 0) stats.cxActive--;
        } else {
          stats.cxTotal++;
          stats.cxConnectFail++;
        }
      }
      this.state = 'closed';
      if (this.pingTimer) clearInterval(this.pingTimer);
      if (this.closeTimer) clearTimeout(this.closeTimer);
      this.idle.stop();
      this.pool.removeSession(this);
    });
    if (opts.h2.keepaliveIntervalMs > 0) {
      this.pingTimer = setInterval(() => {
        if (this.state !== 'ready' && this.state !== 'draining') return;
        const t = setTimeout(() => session.destroy(new Error('HTTP/2 PING timeout')), opts.h2.keepaliveTimeoutMs);
        t.unref();
        try {
          session.ping(() => clearTimeout(t));
        } catch {
          clearTimeout(t);
        }
      }, opts.h2.keepaliveIntervalMs);
      this.pingTimer.unref();
    }
  }

  markDraining(): void {
    if (this.state === 'closed') return;
    this.state = 'draining';
    if (this.active === 0) this.closeGracefully();
  }

  /** GOAWAY and close once idle; a peer that keeps its half open (streams it never answers) is cut after a grace. */
  closeGracefully(): void {
    if (this.closeTimer || this.state === 'closed') return;
    this.session.close();
    this.closeTimer = setTimeout(() => {
      this.socket?.destroy();
      this.session.destroy();
    }, CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  hasCapacity(max: number, maxPerConn: number): boolean {
    if (this.state !== 'ready' && this.state !== 'connecting') return false;
    const peer = this.session.remoteSettings?.maxConcurrentStreams ?? 100;
    if (this.active >= Math.min(peer, max)) return false;
    if (maxPerConn > 0 && this.total >= maxPerConn) return false;
    return true;
  }
}

function classifyStreamError(err: (Error & { code?: string }) | undefined, rstCode: number, sess: H2Session): UpstreamFailureKind {
  if (sess.state === 'connecting' || (sess.connectError && err === sess.connectError)) return 'connect_failure';
  if (rstCode === NGHTTP2_REFUSED_STREAM) return 'refused_stream';
  if (err?.code === 'ERR_HTTP2_STREAM_ERROR' || rstCode > 0) return 'remote_reset';
  if (err?.code === 'ERR_HTTP2_ERROR' || err?.code === 'ERR_HTTP2_INVALID_HEADER_VALUE') return 'protocol_error';
  return 'connection_termination';
}

const kRequest = Symbol('meshlet.h2Request');
type TaggedStream = ClientHttp2Stream & { [kRequest]?: H2Request };

function onStreamReady(this: TaggedStream): void {
  this[kRequest]?.assigned(this);
}
function onStreamResponse(this: TaggedStream, headers: IncomingHttpHeaders, flags: number): void {
  this[kRequest]?.response(this, headers, flags);
}
function onStreamData(this: TaggedStream, chunk: Buffer): void {
  this[kRequest]?.data(this, chunk);
}
function onStreamTrailers(this: TaggedStream, t: IncomingHttpHeaders): void {
  this[kRequest]?.trailersIn(this, t);
}
function onStreamEnd(this: TaggedStream): void {
  this[kRequest]?.ended(this);
}
function onStreamError(this: TaggedStream, err: Error): void {
  this[kRequest]?.errored(this, err);
}
function onStreamClose(this: TaggedStream): void {
  this[kRequest]?.closed(this);
}

class H2Request implements UpstreamRequestHandle {
  done = false;
  stream: ClientHttp2Stream | null = null;
  private headersSeen = false;
  private resent = false;
  private head: UpstreamRequestHead | null = null;
  private body: Readable | Buffer | null = null;
  private trailers: HeaderMap | null = null;
  constructor(private readonly pool: H2Pool, private sess: H2Session, private readonly handler: UpstreamResponseHandler) {}

  start(head: UpstreamRequestHead, body: Readable | Buffer | null): void {
    this.head = head;
    this.body = body;
    const h: OutgoingHttpHeaders = {
      ':method': head.method,
      ':path': head.path,
      ':authority': head.authority,
      ':scheme': head.scheme === 'https' ? 'https' : 'http',
    };
    for (const k in head.headers) {
      const v = head.headers[k];
      if (v !== undefined && k !== 'host') h[k] = v;
    }
    let stream: ClientHttp2Stream;
    try {
      stream = this.sess.session.request(h, { endStream: body === null });
    } catch (e) {
      this.fail('connection_termination', e as Error);
      return;
    }
    this.stream = stream;
    this.trailers = null;
    (stream as TaggedStream)[kRequest] = this;
    if (this.handler.onAssigned) {
      if (typeof stream.id === 'number' && stream.id > 0) queueMicrotask(() => this.assigned(stream));
      else stream.once('ready', onStreamReady);
    }
    // Shared listeners (no closures per stream): the stream carries its request under a symbol.
    stream.on('response', onStreamResponse);
    stream.on('data', onStreamData);
    stream.on('trailers', onStreamTrailers);
    stream.on('end', onStreamEnd);
    stream.on('error', onStreamError);
    stream.on('close', onStreamClose);
    if (body !== null) {
      if (Buffer.isBuffer(body)) stream.end(body);
      else {
        body.on('error', () => this.abort());
        body.pipe(stream);
      }
    }
  }

  /** @internal the stream was assigned an id: the request left the pool's queue. */
  assigned(stream: ClientHttp2Stream): void {
    if (!this.done && this.stream === stream) this.handler.onAssigned?.();
  }

  /** @internal response headers (1xx skipped). */
  response(stream: ClientHttp2Stream, headers: IncomingHttpHeaders, flags: number): void {
    if (this.done || this.stream !== stream) return;
    this.headersSeen = true;
    const status = Number(headers[':status']);
    if (status >= 100 && status < 200) return;
    const out: HeaderMap = {};
    for (const k in headers) if (k[0] !== ':') out[k] = headers[k] as string | string[];
    this.handler.onHeaders(status, out, (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0);
  }

  /** @internal a response body chunk. */
  data(stream: ClientHttp2Stream, chunk: Buffer): void {
    if (this.done || this.stream !== stream) return;
    if (!this.handler.onData(chunk)) stream.pause();
  }

  /** @internal response trailers (kept until 'end'). */
  trailersIn(stream: ClientHttp2Stream, t: IncomingHttpHeaders): void {
    if (this.stream !== stream) return;
    const out: HeaderMap = {};
    for (const k in t) if (k[0] !== ':') out[k] = t[k] as string | string[];
    this.trailers = out;
  }

  /** @internal the response ended. */
  ended(stream: ClientHttp2Stream): void {
    if (this.done || this.stream !== stream) return;
    this.finish();
    this.handler.onEnd(this.trailers);
  }

  /** @internal a stream error (reset by the peer, session failure). */
  errored(stream: ClientHttp2Stream, err: Error): void {
    if (this.done || this.stream !== stream) return;
    this.fail(this.refused(stream) ? 'refused_stream' : classifyStreamError(err, stream.rstCode ?? 0, this.sess), err);
  }

  /** @internal the stream closed before the response ended. */
  closed(stream: ClientHttp2Stream): void {
    if (this.done || this.stream !== stream) return;
    const code = stream.rstCode ?? 0;
    const kind = this.refused(stream) ? 'refused_stream' : classifyStreamError(this.sess.connectError ?? undefined, code, this.sess);
    this.fail(kind, new Error(`upstream stream closed (code ${code})`));
  }

  /** The peer never processed this stream: REFUSED_STREAM, or a GOAWAY whose last stream id is below it. */
  private refused(stream: ClientHttp2Stream): boolean {
    if (this.headersSeen) return false;
    if ((stream.rstCode ?? 0) === NGHTTP2_REFUSED_STREAM) return true;
    const last = this.sess.goawayLastStreamId;
    return last >= 0 && (stream.id === undefined || stream.id > last);
  }

  private fail(kind: UpstreamFailureKind, err: Error): void {
    // A stream the peer refused did nothing upstream: re-send it once on another connection when the body can be
    // replayed (none or buffered), as Envoy's pool does for streams above a GOAWAY's last stream id.
    if (kind === 'refused_stream' && !this.resent && !this.headersSeen && this.head && (this.body === null || Buffer.isBuffer(this.body))) {
      const next = this.pool.sessionFor(this.sess);
      if (next) {
        this.resent = true;
        this.sess.active--;
        if (this.sess.state === 'draining' && this.sess.active === 0) this.sess.closeGracefully();
        this.sess = next;
        next.active++;
        next.total++;
        this.start(this.head, this.body);
        return;
      }
    }
    this.finish();
    this.handler.onError(new UpstreamFailure(kind, err.message, err));
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.sess.active--;
    this.pool.activeRequests--;
    if (this.sess.state === 'draining' && this.sess.active === 0) this.sess.closeGracefully();
  }

  abort(): void {
    if (this.done) return;
    this.finish();
    // RST_STREAM(CANCEL) alone: close() would first end a request body still being streamed (END_STREAM).
    if (this.stream) resetH2Stream(this.stream, NGHTTP2_CANCEL);
  }

  resume(): void {
    this.stream?.resume();
  }
}

export class H2Pool implements UpstreamPool {
  readonly protocol = 'http2' as const;
  state: PoolState = 'ready';
  activeRequests = 0;
  private sessions: H2Session[] = [];
  private readonly authority: string;
  private drained: (() => void) | null = null;

  constructor(
    private readonly host: string, private readonly port: number, private readonly opts: PoolOptions,
    private readonly socketPath?: string, private readonly stats?: HostStats,
  ) {
    this.authority = `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  private connect(): H2Session {
    const o = this.opts;
    const settings = { enablePush: false, initialWindowSize: o.h2.initialStreamWindowSize };
    let socket: net.Socket | null = null;
    const session = http2.connect(this.authority, {
      settings,
      maxSessionMemory: 64,
      createConnection: () => {
        const sock = o.tls
          ? tls.connect({ host: this.host, port: this.port, ...({ localAddress: o.localAddress } as tls.ConnectionOptions), ...tlsConnectOptions(o.tls, ['h2']) })
          : this.socketPath ? net.connect(this.socketPath) : net.connect({ host: this.host, port: this.port, localAddress: o.localAddress });
        sock.setNoDelay(true);
        socket = sock;
        const t = setTimeout(() => sock.destroy(Object.assign(new Error('upstream connect timeout'), { code: 'ETIMEDOUT' })), o.connectTimeoutMs);
        sock.once(o.tls ? 'secureConnect' : 'connect', () => clearTimeout(t));
        sock.once('close', () => clearTimeout(t));
        return sock;
      },
    });
    session.on('connect', () => {
      try {
        session.setLocalWindowSize(o.h2.initialConnectionWindowSize);
      } catch { /* session already closing */ }
    });
    const s = new H2Session(session, this, o, this.stats);
    s.socket = socket;
    this.sessions.push(s);
    return s;
  }

  removeSession(s: H2Session): void {
    const i = this.sessions.indexOf(s);
    if (i >= 0) this.sessions.splice(i, 1);
    if (this.state !== 'ready' && this.sessions.length === 0 && this.drained) this.drained();
  }

  request(head: UpstreamRequestHead, body: Readable | Buffer | null, handler: UpstreamResponseHandler): UpstreamRequestHandle {
    if (this.state !== 'ready') {
      const h: UpstreamRequestHandle = { abort: () => undefined, resume: () => undefined };
      queueMicrotask(() => handler.onError(new UpstreamFailure('connect_failure', 'pool is draining')));
      return h;
    }
    const sess = this.sessionFor(null);
    if (!sess) {
      const h: UpstreamRequestHandle = { abort: () => undefined, resume: () => undefined };
      queueMicrotask(() => handler.onError(new UpstreamFailure('connect_failure', 'pool is draining')));
      return h;
    }
    sess.active++;
    sess.total++;
    this.activeRequests++;
    const req = new H2Request(this, sess, handler);
    req.start(head, body);
    return req;
  }

  /** A session with room for one more stream other than `not` (a new one when none has room); null once draining. */
  sessionFor(not: H2Session | null): H2Session | null {
    if (this.state !== 'ready') return null;
    for (const s of this.sessions) {
      if (s !== not && s.hasCapacity(this.opts.h2.maxConcurrentStreams, this.opts.maxRequestsPerConnection)) return s;
    }
    return this.connect();
  }

  drain(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    this.state = 'draining';
    return new Promise((resolve) => {
      this.drained = () => {
        this.state = 'closed';
        resolve();
      };
      if (this.sessions.length === 0) this.drained();
      for (const s of [...this.sessions]) s.markDraining();
    });
  }

  async destroy(): Promise<void> {
    this.state = 'closed';
    for (const s of [...this.sessions]) s.session.destroy();
    this.sessions = [];
  }
}
