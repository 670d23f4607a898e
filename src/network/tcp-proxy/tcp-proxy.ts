// network/tcp-proxy/: the runtime half of envoy.filters.network.tcp_proxy. For one accepted connection it picks
// the cluster (single, weighted, or the sni_cluster override), asks the cluster for a host (circuit breaker
// `connections`, load balancer, ORIGINAL_DST by original destination), connects with the cluster's
// connect_timeout retrying other hosts up to max_connect_attempts, replays the bytes the listener filters read,
// then pipes both ways with backpressure and half-close until both sides finish, an error, or the idle timeout.
import net from 'node:net';
import type { TcpProxyConfig } from '../../config/tcp-proxy.js';
import { ResponseFlag, type ResponseFlagCode } from '../../common/errors.js';
import type { ClusterManagerView, Host, LbContext, UpstreamCluster } from '../../upstream/types.js';
import { xxHash64 } from '../../upstream/xxhash64.js';
import { adoptReadBuffer } from './socket-read-buffer.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/**
 * Read buffers (one per direction and session, reused while no pending write holds them): 4 KiB while chunks are
 * small, so an idle connection keeps 8 KiB; 64 KiB (node's own read size) after a read filled the buffer, back to
 * 4 KiB after a read that fits it.
 */
const READ_BUFFER_MIN = 4 * 1024;
const READ_BUFFER_MAX = 64 * 1024;

/** The size of the next read buffer after a read of `n` bytes into one of `size` bytes. */
function nextReadBufferSize(n: number, size: number): number {
  if (n === size) return READ_BUFFER_MAX;
  return n <= READ_BUFFER_MIN ? READ_BUFFER_MIN : size;
}

/** One downstream connection handed to the TCP proxy after filter-chain selection. */
export interface DownstreamConnection {
  /** The accepted socket; its server should use allowHalfOpen so half-close is preserved. */
  readonly socket: net.Socket;
  /** Bytes the listener filters already read; sent upstream first. */
  readonly peeked?: Buffer;
  /** The downstream ended its side while the listener filters were reading. */
  readonly ended?: boolean;
  /** Original destination 'ip:port' (for ORIGINAL_DST clusters). */
  readonly originalDestination?: string;
  /** Filter state envoy.tcp_proxy.cluster (set by sni_cluster): overrides the configured cluster. */
  readonly clusterOverride?: string;
}

export type TcpSessionState = 'connecting' | 'open' | 'closed';

/** What happened, for access logs and tests. */
export interface TcpSessionResult {
  readonly cluster: string | null;
  /** Upstream host key 'ip:port' of the connected host, or null. */
  readonly upstreamHost: string | null;
  readonly responseFlags: readonly ResponseFlagCode[];
  readonly connectAttempts: number;
  /** Downstream → upstream bytes. */
  readonly bytesReceived: number;
  /** Upstream → downstream bytes. */
  readonly bytesSent: number;
  /** Why the session ended: 'closed' (both sides finished), 'downstream_reset', 'upstream_reset', 'idle_timeout', … */
  readonly reason: string;
}

export interface TcpProxyStats {
  downstreamCxTotal: number;
  downstreamCxActive: number;
  downstreamCxNoRoute: number;
  downstreamCxRxBytesTotal: number;
  downstreamCxTxBytesTotal: number;
  idleTimeout: number;
  maxDownstreamConnectionDurationReached: number;
  upstreamConnectAttemptsExceeded: number;
}

export interface TcpProxyDeps {
  readonly clusters: ClusterManagerView;
  /** Uniform [0, 1) source for weighted_clusters (tests pass a fixed one). */
  readonly random?: () => number;
  /** Local address to bind upstream sockets to for a cluster; default: the cluster's upstream_bind_config
   *  (Istio's inbound passthrough binds 127.0.0.6 so forwarded traffic is not captured again). */
  readonly bindAddressFor?: (cluster: UpstreamCluster) => string | undefined;
}

/** The tcp_proxy network filter of one filter chain: config compiled once, one session per connection. */
export class TcpProxy {
  readonly stats: TcpProxyStats = {
    downstreamCxTotal: 0, downstreamCxActive: 0, downstreamCxNoRoute: 0, downstreamCxRxBytesTotal: 0,
    downstreamCxTxBytesTotal: 0, idleTimeout: 0, maxDownstreamConnectionDurationReached: 0, upstreamConnectAttemptsExceeded: 0,
  };
  private readonly random: () => number;

  constructor(readonly config: TcpProxyConfig, readonly deps: TcpProxyDeps) {
    this.random = deps.random ?? Math.random;
  }

  /** The cluster this connection goes to (before any host is chosen). */
  pickCluster(override?: string): string | null {
    if (override) return override;
    const c = this.config;
    if (c.cluster !== null) return c.cluster;
    const list = c.weightedClusters;
    if (!list || list.length === 0) return null;
    let r = Math.floor(this.random() * c.totalWeight);
    for (const w of list) {
      if (r < w.weight) return w.name;
      r -= w.weight;
    }
    return list[list.length - 1].name;
  }

  /** Takes ownership of the connection; resolves when both sockets are closed. */
  handle(conn: DownstreamConnection): TcpProxySession {
    return new TcpProxySession(this, conn);
  }
}

/** One proxied connection: connecting → open → closed. */
export class TcpProxySession {
  state: TcpSessionState = 'connecting';
  readonly done: Promise<TcpSessionResult>;
  private resolveDone!: (r: TcpSessionResult) => void;
  private readonly flags: ResponseFlagCode[] = [];
  private clusterName: string | null = null;
  private cluster: UpstreamCluster | null = null;
  private connectedHost: Host | null = null;
  private upstream: net.Socket | null = null;
  private holdsConnection = false;
  private attempts = 0;
  private readonly tried: Host[] = [];
  private bytesReceived = 0;
  private bytesSent = 0;
  private lastActivity = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private durationTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private downClosed = false;
  private upClosed = false;
  private reason = 'closed';
  /** The upstream socket's read buffer (node:net `onread`): reads land here instead of a fresh Buffer each. */
  private upBuf: Buffer | null = null;
  /** A write to downstream still holds a slice of upBuf: the next read must go to a fresh buffer. */
  private upBufHeld = false;
  private upBufSize = READ_BUFFER_MIN;
  /** The downstream socket's read buffer when it could be switched to onread (adoptReadBuffer), like upBuf. */
  private downBuf: Buffer | null = null;
  private downBufHeld = false;
  private downBufSize = READ_BUFFER_MIN;
  /** Upstream reading stopped because downstream's write buffer is full (resumed on its 'drain'). */
  private upPaused = false;
  /** Downstream reading stopped because upstream's write buffer is full (resumed on its 'drain'). */
  private downPaused = false;

  constructor(private readonly proxy: TcpProxy, private readonly conn: DownstreamConnection) {
    this.done = new Promise((r) => (this.resolveDone = r));
    const down = conn.socket;
    proxy.stats.downstreamCxTotal++;
    proxy.stats.downstreamCxActive++;
    down.pause();
    down.on('error', () => this.fail('downstream_reset'));
    down.once('close', (hadError: boolean) => this.onDownstreamClose(hadError));
    const maxDur = proxy.config.maxDownstreamConnectionDurationMs;
    if (maxDur > 0) {
      this.durationTimer = setTimeout(() => {
        proxy.stats.maxDownstreamConnectionDurationReached++;
        this.fail('max_downstream_connection_duration');
      }, maxDur);
    }
    this.start();
  }

  private start(): void {
    const name = this.proxy.pickCluster(this.conn.clusterOverride);
    this.clusterName = name;
    const cluster = name === null ? undefined : this.proxy.deps.clusters.get(name);
    if (!cluster) {
      this.proxy.stats.downstreamCxNoRoute++;
      return this.abort(ResponseFlag.NoClusterFound, 'no_cluster');
    }
    this.cluster = cluster;
    if (cluster.shouldDrop()) return this.abort(ResponseFlag.DropOverLoad, 'drop_overload');
    if (!cluster.breakers(0).tryAcquire('connections')) return this.abort(ResponseFlag.UpstreamOverflow, 'overflow');
    this.holdsConnection = true;
    this.connectNext();
  }

  private lbContext(): LbContext {
    const ctx: { hash?: bigint; previousHosts?: readonly Host[]; originalDestination?: string } = {};
    if (this.tried.length) ctx.previousHosts = this.tried;
    if (this.conn.originalDestination) ctx.originalDestination = this.conn.originalDestination;
    if (this.proxy.config.hashPolicy?.kind === 'source_ip') {
      const ip = this.conn.socket.remoteAddress;
      if (ip) ctx.hash = xxHash64(ip);
    }
    return ctx;
  }

  private connectNext(): void {
    if (this.state !== 'connecting') return;
    const cluster = this.cluster!;
    let host = cluster.chooseHost(this.lbContext());
    if (!host && this.attempts > 0) {
      // Every host was tried already: like Envoy, a further attempt may go to a host that failed before.
      host = cluster.chooseHost({ ...this.lbContext(), previousHosts: [] });
      if (!host) return this.abort(ResponseFlag.UpstreamConnectionFailure, 'connect_failure');
    }
    if (!host) return this.abort(ResponseFlag.NoHealthyUpstream, 'no_healthy_upstream');
    this.attempts++;
    const bind = this.proxy.deps.bindAddressFor ? this.proxy.deps.bindAddressFor(cluster) : cluster.config.upstreamBind?.sourceAddress;
    const onread = { buffer: this.upReadBuffer, callback: this.onUpRead };
    const opts: net.NetConnectOpts = host.pipe
      ? { path: host.pipe, allowHalfOpen: true, onread }
      : { host: host.address, port: host.port, allowHalfOpen: true, noDelay: true, onread, ...(bind ? { localAddress: bind } : {}) };
    const up = net.connect(opts);
    this.upstream = up;
    const timeout = cluster.config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const onFail = (kind: 'connect_failure' | 'timeout'): void => {
      if (this.upstream !== up || this.state !== 'connecting') return;
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      up.removeAllListeners('connect');
      up.on('error', () => {});
      up.destroy();
      this.upstream = null;
      cluster.reportOutcome(host, { kind });
      this.tried.push(host);
      if (this.attempts < this.proxy.config.maxConnectAttempts && !this.downClosed) return this.connectNext();
      if (this.attempts >= this.proxy.config.maxConnectAttempts && this.proxy.config.maxConnectAttempts > 1) this.proxy.stats.upstreamConnectAttemptsExceeded++;
      this.abort(ResponseFlag.UpstreamConnectionFailure, kind === 'timeout' ? 'connect_timeout' : 'connect_failure');
    };
    up.once('error', () => onFail('connect_failure'));
    this.connectTimer = setTimeout(() => onFail('timeout'), timeout);
    up.once('connect', () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      up.removeAllListeners('error');
      cluster.reportOutcome(host, { kind: 'success_local' });
      this.connectedHost = host;
      this.onConnected(up);
    });
  }

  private onConnected(up: net.Socket): void {
    if (this.downClosed) {
      up.destroy();
      return this.finish();
    }
    this.state = 'open';
    const down = this.conn.socket;
    up.on('error', () => this.fail('upstream_reset'));
    up.once('close', (hadError: boolean) => this.onUpstreamClose(hadError));
    const peeked = this.conn.peeked;
    if (peeked && peeked.length > 0) {
      this.bytesReceived += peeked.length;
      up.write(peeked);
    }
    // One relay per direction instead of pipe() plus a byte-counting 'data' listener: each chunk is counted and
    // written by one call. Backpressure: a side whose peer's write buffer is full stops reading until 'drain'.
    // Reads arrive through onread (onUpRead, onDownRead) into a reused buffer, without a Readable push per chunk;
    // the downstream socket falls back to 'data' events (onDownData) where it cannot be switched.
    if (!adoptReadBuffer(down, this.downReadBuffer, this.onDownRead)) down.on('data', this.onDownData);
    up.on('drain', this.onUpDrain);
    down.on('drain', this.onDownDrain);
    down.resume();
    // Half-close: a FIN on one side becomes a FIN on the other; the socket closes once both directions ended.
    if (this.conn.ended) up.end();
    else down.once('end', () => up.end());
    up.once('end', () => down.end());
    this.lastActivity = Date.now();
    const idle = this.proxy.config.idleTimeoutMs;
    if (idle > 0) this.idleTimer = setTimeout(this.onIdleCheck, idle);
  }

  private readonly onDownData = (chunk: Buffer): void => {
    this.bytesReceived += chunk.length;
    this.lastActivity = Date.now();
    if (!this.upstream!.write(chunk)) {
      this.downPaused = true;
      this.conn.socket.pause();
    }
  };

  /** onread buffer source for the downstream socket (see upReadBuffer). */
  private readonly downReadBuffer = (): Buffer => {
    if (this.downBuf === null || this.downBufHeld || this.downBuf.length !== this.downBufSize) {
      this.downBuf = Buffer.allocUnsafeSlow(this.downBufSize);
      this.downBufHeld = false;
    }
    return this.downBuf;
  };

  /** onread callback of the downstream socket: `n` bytes in `buf` go upstream; false stops reading (backpressure). */
  private readonly onDownRead = (n: number, buf: Buffer): boolean => {
    this.bytesReceived += n;
    this.lastActivity = Date.now();
    this.downBufSize = nextReadBufferSize(n, buf.length);
    const up = this.upstream!;
    const ok = up.write(n === buf.length ? buf : buf.subarray(0, n));
    if (up.writableLength > 0) this.downBufHeld = true;
    if (ok) return true;
    this.downPaused = true;
    return false;
  };

  private readonly onUpDrain = (): void => {
    if (!this.downPaused) return;
    this.downPaused = false;
    this.conn.socket.resume();
  };

  /** onread buffer source, asked before every upstream read: the same buffer unless a pending write holds it. */
  private readonly upReadBuffer = (): Buffer => {
    if (this.upBuf === null || this.upBufHeld || this.upBuf.length !== this.upBufSize) {
      this.upBuf = Buffer.allocUnsafeSlow(this.upBufSize);
      this.upBufHeld = false;
    }
    return this.upBuf;
  };

  /** onread callback: `n` bytes arrived in `buf`; false stops reading (backpressure) until onDownDrain resumes. */
  private readonly onUpRead = (n: number, buf: Buffer): boolean => {
    this.bytesSent += n;
    this.lastActivity = Date.now();
    this.upBufSize = nextReadBufferSize(n, buf.length);
    const down = this.conn.socket;
    const ok = down.write(n === buf.length ? buf : buf.subarray(0, n));
    // A write node could not finish at once keeps referencing buf: never read into it again.
    if (down.writableLength > 0) this.upBufHeld = true;
    if (ok) return true;
    this.upPaused = true;
    return false;
  };

  private readonly onDownDrain = (): void => {
    if (!this.upPaused) return;
    this.upPaused = false;
    this.upstream?.resume();
  };

  private readonly onIdleCheck = (): void => {
    this.idleTimer = null;
    if (this.state !== 'open') return;
    const idle = this.proxy.config.idleTimeoutMs;
    const left = this.lastActivity + idle - Date.now();
    if (left > 0) {
      this.idleTimer = setTimeout(this.onIdleCheck, left);
      return;
    }
    this.proxy.stats.idleTimeout++;
    this.fail('idle_timeout');
  };

  private onDownstreamClose(hadError: boolean): void {
    this.downClosed = true;
    const up = this.upstream;
    if (this.state === 'connecting') {
      // The client went away before the upstream answered: cancel the attempt.
      if (up) { up.on('error', () => {}); up.destroy(); }
      return this.finish();
    }
    if (up && !up.destroyed) closeAfterFlush(up, hadError);
    if (this.upClosed || !up) this.finish();
  }

  private onUpstreamClose(hadError: boolean): void {
    this.upClosed = true;
    const down = this.conn.socket;
    if (!down.destroyed) closeAfterFlush(down, hadError);
    if (this.downClosed) this.finish();
  }

  private abort(flag: ResponseFlagCode, reason: string): void {
    this.flags.push(flag);
    this.reason = reason;
    this.conn.socket.destroy();
    this.finish();
  }

  private fail(reason: string): void {
    if (this.state === 'closed') return;
    if (this.reason === 'closed') this.reason = reason;
    this.conn.socket.destroy();
    const up = this.upstream;
    if (up) { up.on('error', () => {}); up.destroy(); }
    if (this.state === 'connecting') this.finish();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const t of [this.idleTimer, this.durationTimer, this.connectTimer]) if (t) clearTimeout(t);
    this.idleTimer = this.durationTimer = this.connectTimer = null;
    if (this.holdsConnection) {
      this.holdsConnection = false;
      this.cluster?.breakers(0).release('connections');
    }
    const stats = this.proxy.stats;
    stats.downstreamCxActive--;
    stats.downstreamCxRxBytesTotal += this.bytesReceived;
    stats.downstreamCxTxBytesTotal += this.bytesSent;
    this.resolveDone({
      cluster: this.clusterName,
      upstreamHost: this.connectedHost?.key ?? null,
      responseFlags: this.flags,
      connectAttempts: this.attempts,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
      reason: this.reason,
    });
  }
}

/**
 * The other side of `sock` has closed. After a reset, or when nothing was ended for it yet, tear `sock` down at
 * once; after a clean close let bytes already written reach the peer first (Envoy's FlushWrite), then close.
 */
function closeAfterFlush(sock: net.Socket, hadError: boolean): void {
  if (hadError || !sock.writableEnded || sock.writableFinished) {
    sock.destroy();
    return;
  }
  sock.once('finish', () => sock.destroy());
}
