// upstream/pools/: the contract between the router (http/) and connection pools (HTTP/1.1 via undici, HTTP/2 via
// node:http2). A pool serves one host + TLS context; a request streams its body in and its response out through
// callbacks with backpressure, and can be cancelled at any time.
import type { Readable, Duplex } from 'node:stream';
import type { HeaderMap } from '../../common/headers.js';
import type { SanMatcher } from '../../config/cluster.js';

export interface UpstreamRequestHead {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly scheme: string;
  /** Lower-case names, no pseudo-headers, hop-by-hop headers already removed. */
  readonly headers: HeaderMap;
  /** Upgrade token (e.g. 'websocket') for HTTP/1.1 upgrades. */
  readonly upgrade?: string;
}

/** Why an upstream attempt failed before or during the response. */
export type UpstreamFailureKind =
  | 'connect_failure' // could not connect (refused, TLS, connect timeout)
  | 'connection_termination' // connection closed before/while responding
  | 'remote_reset' // HTTP/2 RST_STREAM from the peer
  | 'refused_stream' // HTTP/2 REFUSED_STREAM (safe to retry)
  | 'protocol_error' // malformed response
  | 'overflow' // pool cannot take more streams
  | 'local_reset'; // cancelled by us

export class UpstreamFailure extends Error {
  constructor(readonly kind: UpstreamFailureKind, message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'UpstreamFailure';
  }
}

export interface UpstreamResponseHandler {
  /** `endStream`: the response has no body and no trailers (HTTP/2 trailers-only, e.g. a gRPC error). */
  onHeaders(status: number, headers: HeaderMap, endStream?: boolean): void;
  /** Returns false to ask the pool to pause until `resume()` is called on the handle. */
  onData(chunk: Buffer): boolean;
  onEnd(trailers: HeaderMap | null): void;
  onError(err: UpstreamFailure): void;
  /** HTTP/1.1 upgrade accepted (101): the raw upstream socket is handed over. */
  onUpgrade?(status: number, headers: HeaderMap, socket: Duplex): void;
  /** The request left the pool's queue: it is being written on a connection (Envoy's pending → active). Called
   *  at most once, possibly synchronously from `request()`. */
  onAssigned?(): void;
}

export interface UpstreamRequestHandle {
  /** Cancel the request (no more callbacks after this). */
  abort(): void;
  /** Resume response data after onData returned false. */
  resume(): void;
}

export type PoolState = 'ready' | 'draining' | 'closed';

export interface UpstreamPool {
  readonly protocol: 'http1' | 'http2';
  readonly state: PoolState;
  /** Requests currently in flight on this pool. */
  readonly activeRequests: number;
  request(head: UpstreamRequestHead, body: Readable | Buffer | null, handler: UpstreamResponseHandler): UpstreamRequestHandle;
  /** Stop taking requests; close connections once in-flight requests finish. */
  drain(): Promise<void>;
  /** Close everything now. */
  destroy(): Promise<void>;
}

/** TLS to an upstream host (from the cluster's UpstreamTlsContext). */
export interface UpstreamTlsOptions {
  readonly sni: string;
  readonly alpn: readonly string[];
  /** PEM CA bundle; null = no verification (Envoy without validation_context does not verify). */
  readonly ca: string | null;
  /** SAN matchers (any must match); empty = any certificate the CA vouches for. */
  readonly sanMatchers: readonly SanMatcher[];
  readonly certChain: string | null;
  readonly privateKey: string | null;
  readonly minVersion?: string | null;
  readonly maxVersion?: string | null;
}

export interface PoolOptions {
  readonly connectTimeoutMs: number;
  /** Source address of upstream connections (the cluster's upstream_bind_config); undefined = kernel's choice. */
  readonly localAddress?: string;
  readonly tls: UpstreamTlsOptions | null;
  /** 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  /** Idle connection timeout (cluster common_http_protocol_options.idle_timeout); 0 = default 1 h. */
  readonly idleTimeoutMs: number;
  /** Max connections per host for HTTP/1.1 (circuit breakers bound requests; this bounds sockets). */
  readonly maxConnections: number;
  readonly h2: {
    readonly maxConcurrentStreams: number;
    readonly initialStreamWindowSize: number;
    readonly initialConnectionWindowSize: number;
    /** PING interval for keep-alive; 0 = off. */
    readonly keepaliveIntervalMs: number;
    readonly keepaliveTimeoutMs: number;
  };
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = Object.freeze({
  connectTimeoutMs: 5000,
  tls: null,
  maxRequestsPerConnection: 0,
  idleTimeoutMs: 3_600_000,
  maxConnections: 1024,
  h2: Object.freeze({ maxConcurrentStreams: 1000, initialStreamWindowSize: 1 << 20, initialConnectionWindowSize: 1 << 24, keepaliveIntervalMs: 0, keepaliveTimeoutMs: 20_000 }),
});
