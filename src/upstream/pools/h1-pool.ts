// upstream/pools/: HTTP/1.1 pool for one host, on an undici Pool (`dispatch` with a streaming handler: the fastest
// Node shape, with backpressure both ways). States: ready → draining → closed.
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { Readable, Duplex } from 'node:stream';
import type { HeaderMap } from '../../common/headers.js';
import type { HostStats } from '../types.js';
import { tlsConnectOptions } from '../transport/tls-options.js';
import { UpstreamFailure } from './upstream-pool.js';
import type {
  PoolOptions, PoolState, UpstreamFailureKind, UpstreamPool, UpstreamRequestHandle, UpstreamRequestHead, UpstreamResponseHandler,
} from './upstream-pool.js';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED', 'ERR_SSL_WRONG_VERSION_NUMBER', 'EPROTO', 'ECONNABORTED', 'ETIMEDOUT']);

/** Classifies an undici/socket error into meshlet's upstream failure kinds. */
export function classifyH1Error(err: Error & { code?: string }, connected: boolean): UpstreamFailureKind {
  const code = err.code ?? '';
  if (!connected && (CONNECT_CODES.has(code) || /certificate|SSL|TLS|SAN/i.test(err.message))) return 'connect_failure';
  // A TLS alert (e.g. the peer requires a client certificate, seen by TLS 1.3 clients only after their first write)
  // is a handshake failure: the upstream never processed the request.
  if (code.startsWith('ERR_SSL_') && /alert/i.test(err.message)) return 'connect_failure';
  if (code === 'HPE_INVALID_CONSTANT' || code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'protocol_error';
  if (code === 'UND_ERR_ABORTED') return 'local_reset';
  return 'connection_termination';
}

class H1Request implements Dispatcher.DispatchHandler, UpstreamRequestHandle {
  controller: Dispatcher.DispatchController | null = null;
  done = false;
  started = false;
  constructor(private readonly pool: H1Pool, private readonly handler: UpstreamResponseHandler) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) {
      controller.abort(new Error('aborted'));
      return;
    }
    this.handler.onAssigned?.();
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, socket: Duplex): void {
    if (this.done) {
      socket.destroy();
      return;
    }
    this.finish();
    this.started = true;
    if (this.handler.onUpgrade) this.handler.onUpgrade(statusCode, headers as HeaderMap, socket);
    else socket.destroy();
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (this.done) return;
    this.started = true;
    this.handler.onHeaders(statusCode, headers as HeaderMap);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    if (!this.handler.onData(chunk)) controller.pause();
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    if (this.done) return;
    this.finish();
    const has = trailers && Object.keys(trailers).length > 0;
    this.handler.onEnd(has ? (trailers as HeaderMap) : null);
  }

  onResponseError(controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.done) return;
    this.finish();
    const kind = classifyH1Error(err as Error & { code?: string }, this.controller !== null);
    this.handler.onError(new UpstreamFailure(kind, err.message, err));
  }

  abort(): void {
    if (this.done) return;
    this.finish();
    this.controller?.abort(new Error('request aborted by meshlet'));
  }

  resume(): void {
    this.controller?.resume();
  }

  private finish(): void {
    this.done = true;
    this.pool.activeRequests--;
  }
}

/**
 * The request's headers as undici's flat [name, value, ...] list, host first: one array instead of a header object
 * built key by key (undici walks either into the same request string). A `host` entry in the map overrides the
 * authority; for upgrades undici writes Connection/Upgrade itself and rejects them as headers.
 */
export function flatRequestHeaders(head: UpstreamRequestHead): (string | string[])[] {
  const out: (string | string[])[] = ['host', head.authority];
  const hs = head.headers;
  const upgrade = head.upgrade !== undefined && head.upgrade !== '';
  for (const k in hs) {
    const v = hs[k];
    if (v === undefined) continue;
    if (k === 'host') {
      out[1] = v;
      continue;
    }
    if (upgrade && (k === 'upgrade' || k === 'connection')) continue;
    out.push(k, v);
  }
  return out;
}

export class H1Pool implements UpstreamPool {
  readonly protocol = 'http1' as const;
  state: PoolState = 'ready';
  activeRequests = 0;
  private readonly pool: Pool;
  private readonly origin: string;

  constructor(host: string, port: number, opts: PoolOptions, socketPath?: string, stats?: HostStats) {
    const tls = opts.tls;
    this.origin = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.pool = new Pool(this.origin, {
      connections: opts.maxConnections || null,
      pipelining: 1,
      keepAliveTimeout: Math.min(opts.idleTimeoutMs || 4000, 4000),
      keepAliveMaxTimeout: opts.idleTimeoutMs || 600_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      maxRequestsPerClient: opts.maxRequestsPerConnection || undefined,
      connectTimeout: opts.connectTimeoutMs,
      socketPath,
      localAddress: socketPath ? undefined : opts.localAddress,
      connect: tls ? { ...tlsConnectOptions(tls, ['http/1.1']), timeout: opts.connectTimeoutMs } as never : { timeout: opts.connectTimeoutMs },
      strictContentLength: true,
    });
    // Per-request failures surface via onResponseError; these events only feed the host's /clusters counters.
    this.pool.on('connectionError', () => {
      if (!stats) return;
      stats.cxTotal++;
      stats.cxConnectFail++;
    });
    if (stats) {
      this.pool.on('connect', () => {
        stats.cxTotal++;
        stats.cxActive++;
      });
      this.pool.on('disconnect', () => {
        if (stats.cxActive > 0) stats.cxActive--;
      });
    }
  }

  request(head: UpstreamRequestHead, body: Readable | Buffer | null, handler: UpstreamResponseHandler): UpstreamRequestHandle {
    const req = new H1Request(this, handler);
    this.activeRequests++;
    if (this.state !== 'ready') {
      queueMicrotask(() => req.onResponseError(null, Object.assign(new Error('pool is draining'), { code: 'ECONNREFUSED' })));
      return req;
    }
    const headers = flatRequestHeaders(head);
    try {
      this.pool.dispatch({
        path: head.path,
        method: head.method as Dispatcher.HttpMethod,
        headers: headers as string[],
        body: body as Dispatcher.DispatchOptions['body'],
        upgrade: head.upgrade ?? null,
        idempotent: false,
        blocking: true,
        reset: false,
      }, req);
    } catch (e) {
      queueMicrotask(() => req.onResponseError(null, Object.assign(e as Error, { code: 'UND_ERR_INFO' })));
    }
    return req;
  }

  async drain(): Promise<void> {
    if (this.state !== 'ready') return;
    this.state = 'draining';
    await this.pool.close().catch(() => undefined);
    this.state = 'closed';
  }

  async destroy(): Promise<void> {
    this.state = 'closed';
    await this.pool.destroy().catch(() => undefined);
  }
}
