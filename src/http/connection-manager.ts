// http/: the HTTP connection manager runtime for one HCM config (a filter chain of one listener version): owns the
// HTTP/1.1 and HTTP/2 codecs (node:http / node:http2 servers that never listen — the listener hands them sockets),
// turns every request into an active stream (header hygiene → route → local reply or router filter), and drains.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex, Readable, Transform } from 'node:stream';
import { PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import type { HeaderMap, RequestHead } from '../common/headers.js';
import { firstHeader } from '../common/headers.js';
import type { HttpConnectionManagerConfig } from '../config/http-connection-manager.js';
import type { NodeInfo } from '../config/node.js';
import { Issues } from '../common/validation.js';
import type { ResponseFlagCode } from '../common/errors.js';
import { FilterManager } from './filters/filter-manager.js';
import type { FilterStream } from './filters/filter-manager.js';
import { builtinFilterRegistry } from './filters/filter-registry.js';
import type { FilterRegistry } from './filters/filter-registry.js';
import type { AuthRequest, AuthResponse, FilterDeps, FilterRequest, LocalReplyRequest } from './filters/filter-api.js';
import { StreamTrace } from './stream-trace.js';
import type { TraceDirection } from './stream-trace.js';
import { TracerRegistry } from './tracer-registry.js';
import type { TracerSource } from './tracer-registry.js';
import type { RouteConfig } from '../config/route.js';
import type { FormatContext, HashPolicy, RouteDecision, RouteTable } from '../router/types.js';
import type { HashInput, HashResult } from '../router/hash-policy.js';
import type { ClusterManagerView } from '../upstream/types.js';
import type { PoolManager } from '../upstream/pools/pool-manager.js';
import type { ConnectionInfo, Downstream } from './downstream.js';
import { H1Downstream, H2Downstream } from './downstream.js';
import { LocalReply, sendLocalReply } from './local-reply.js';
import type { LocalReplySpec, StreamOutcome } from './local-reply.js';
import {
  applyForwardingHeaders, escapedSlashes, isValidAuthority, normalizePath, stripHopByHop, stripPort,
} from './request-headers.js';
import { RouterRequest } from './router-filter.js';
import { randomUint32 } from './random-ids.js';
import { H2Transport } from './h2-transport.js';
import { DrainDecision, H2DrainSequence } from './h2-drain.js';
import type { DrainStrategy } from './h2-drain.js';
import type { RouterDeps, RouterStream } from './router-filter.js';
import { H1UpgradeDownstream } from './upgrade.js';
import { ConnectionBudget, DEFAULT_MAX_CONNECTIONS_PER_LISTENER, globalConnectionBudget, OVERLOAD_REPLY, sharedOverloadManager } from './overload-manager.js';
import type { OverloadView } from './overload-manager.js';
import { closeAbusiveSession, isClientReset, PrematureResetTracker } from './h2-abuse.js';
import { IdleTimer } from '../upstream/pools/idle-timer.js';

const NO_HASH: HashResult = { hash: undefined };

/** Where route tables come from: RDS tables by name (swapped by reference) and inline route_configs. */
export interface RouteTableSource {
  get(name: string): RouteTable | undefined;
  compile(config: RouteConfig): RouteTable;
}

/** A finished stream, as access logs and stats see it. */
export interface StreamInfo {
  readonly startTimeMs: number;
  readonly durationMs: number;
  readonly head: RequestHead;
  readonly protocol: string;
  readonly responseCode: number;
  readonly responseFlags: readonly string[];
  readonly responseCodeDetails: string;
  readonly upstreamHost: string;
  readonly upstreamCluster: string;
  readonly routeName: string;
  readonly statPrefix: string;
  readonly connection: ConnectionInfo;
  /** Request body bytes received from downstream (%BYTES_RECEIVED%). */
  readonly bytesReceived: number;
  /** Response body bytes sent downstream, after response transforms such as compression (%BYTES_SENT%). */
  readonly bytesSent: number;
  /** The final response headers sent downstream (%RESP(...)%); null when no response was sent. */
  readonly responseHeaders: HeaderMap | null;
  /** x-request-id of the stream ('' when none). */
  readonly requestId: string;
  /** Trace id (32 hex) when the stream was traced, else ''. */
  readonly traceId: string;
  /** Time from the upstream request to the upstream response headers (x-envoy-upstream-service-time), or -1. */
  readonly upstreamServiceTimeMs: number;
  /** Local address of the upstream connection, '' when unknown or none. */
  readonly upstreamLocalAddress: string;
  /** Upstream attempts made (1 + retries); 0 when the request never went upstream. */
  readonly attemptCount: number;
  /** Downstream local address 'ip:port' (%DOWNSTREAM_LOCAL_ADDRESS%). */
  readonly downstreamLocalAddress: string;
  /** SNI of the downstream TLS connection ('' when none) (%REQUESTED_SERVER_NAME%). */
  readonly requestedServerName: string;
}

export interface HttpDeps {
  readonly routes: RouteTableSource;
  readonly clusters: ClusterManagerView;
  readonly pools: PoolManager;
  /** Stream random (weighted clusters, runtime fractions, mirrors, retry jitter). */
  readonly random?: () => number;
  /** Consistent-hash key (and a generated affinity cookie) from the route's hash policies: `computeHash` from
   *  router/hash-policy.ts. Without it, hash policies are ignored. */
  readonly hashKey?: (policies: readonly HashPolicy[], input: HashInput) => HashResult;
  readonly onStreamEnd?: (info: StreamInfo) => void;
  /** This proxy's node (filters' downstream_nodes, span tags node_id/zone). */
  readonly node?: NodeInfo;
  /** Tracers by collector config; default: one registry shared by every HCM built with the same deps object. */
  readonly tracers?: TracerSource;
  /** HTTP filter types by type URL; default: builtinFilterRegistry(). */
  readonly filterRegistry?: FilterRegistry;
  /** Overload stage source; default: the process-wide heap + event-loop-lag overload manager. */
  readonly overload?: OverloadView;
  /** Global downstream connection cap shared by every HCM; default: globalConnectionBudget (50 000). */
  readonly globalConnections?: ConnectionBudget;
  /** The --drain-strategy of a drain that starts now (read once per drain); default 'immediate'. */
  readonly drainStrategy?: () => DrainStrategy;
}

/** Per-listener facts the HCM cannot read from its own config. */
export interface HcmOptions {
  /** Listener traffic_direction: INBOUND streams get SERVER spans, others CLIENT (egress) spans. */
  readonly trafficDirection?: TraceDirection;
  /** Downstream connections this connection manager accepts at once (default 10 000); more are closed on accept. */
  readonly maxConnections?: number;
}

const defaultTracers = new WeakMap<HttpDeps, TracerRegistry>();

/** The tracer registry HCMs built with `deps` share (deps.tracers, or one created on first use). */
export function tracersOf(deps: HttpDeps): TracerSource {
  if (deps.tracers) return deps.tracers;
  let r = defaultTracers.get(deps);
  if (!r) {
    r = new TracerRegistry({ clusters: deps.clusters, node: deps.node });
    defaultTracers.set(deps, r);
  }
  return r;
}

/** Counts bytes a node stream pushes (the HTTP parsers push every body chunk) without touching its flow. */
function countPushedBytes(body: Readable, add: (n: number) => void): void {
  const push = body.push;
  body.push = function countedPush(this: Readable, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null && chunk !== undefined) add((chunk as Buffer).length);
    return push.call(this, chunk, encoding);
  };
}

type HcmState = 'active' | 'draining' | 'closed';

/**
 * The stream's formatter context (%DOWNSTREAM_REMOTE_ADDRESS%, %ROUTE_NAME%, %RESPONSE_CODE%, ...): one object per
 * stream with a fixed shape, filled in as the stream learns its route and response (no copy per header mutation).
 */
export class StreamFormat implements FormatContext {
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly requestedServerName: string;
  responseHeaders: HeaderMap | undefined = undefined;
  responseCode: number | undefined = undefined;
  upstreamHost: string | undefined = undefined;
  upstreamCluster: string | undefined = undefined;
  routeName: string | undefined = undefined;

  constructor(
    readonly remoteAddress: string,
    conn: ConnectionInfo,
    readonly protocol: string,
    readonly startTimeMs: number,
    readonly requestHeaders: HeaderMap,
  ) {
    this.remotePort = conn.remotePort;
    this.localAddress = conn.localAddress;
    this.localPort = conn.localPort;
    this.requestedServerName = conn.sni;
  }
}

/** Per downstream HTTP/2 session: what the shared per-stream 'close' listener updates. */
interface H2SessionWatch {
  readonly session: Http2Session;
  /** Premature-reset accounting (CVE-2023-44487 "rapid reset"). */
  readonly tracker: PrematureResetTracker;
  /** idle_timeout's active stream count, when an idle timeout is configured. */
  idle: IdleTimer | null;
}

const kWatch = Symbol('meshlet.h2Watch');
const kOpened = Symbol('meshlet.h2Opened');
type WatchedH2Stream = ServerHttp2Stream & { [kWatch]?: H2SessionWatch; [kOpened]?: number };

/** Shared 'close' listener of every downstream HTTP/2 stream (no closure or once-wrapper per stream). */
function onWatchedStreamClose(this: WatchedH2Stream): void {
  const w = this[kWatch];
  if (!w) return;
  this[kWatch] = undefined;
  if (w.idle) w.idle.active--;
  if (w.tracker.onClose(isClientReset(this), Date.now() - (this[kOpened] ?? 0))) closeAbusiveSession(w.session);
}

class ActiveStream implements RouterStream {
  readonly outcome: StreamOutcome = { responseFlags: [], responseCodeDetails: '' };
  readonly isGrpc: boolean;
  readonly isHead: boolean;
  readonly suppressEnvoyHeaders: boolean;
  upstreamHost = '';
  upstreamCluster = '';
  responseCode = 0;
  routeName = '';
  format!: StreamFormat;
  readonly startTimeMs = Date.now();
  /** The body the router sends upstream (request transforms applied); starts as the downstream body. */
  requestBody: Readable | null;
  filters: FilterStream | null = null;
  trace: StreamTrace | null = null;
  bytesReceived = 0;
  bytesSent = 0;
  responseHeaders: HeaderMap | null = null;
  upstreamServiceTimeMs = -1;
  attemptCount = 0;
  grpcStatus: string | undefined = undefined;
  grpcMessage: string | undefined = undefined;
  /** Response body transforms (compressor): head we write into, tail we read from. */
  private respHead: Transform | null = null;
  private pendingTrailers: HeaderMap | null = null;
  /** An encoder filter failed after we committed to a response: the rest of the upstream body is dropped. */
  private discardBody = false;

  constructor(
    private readonly hcm: HttpConnectionManager,
    readonly downstream: Downstream,
    readonly head: RequestHead,
    readonly conn: ConnectionInfo,
  ) {
    const ct = firstHeader(head.headers, 'content-type');
    this.isGrpc = ct !== undefined && ct.startsWith('application/grpc');
    this.isHead = head.method === 'HEAD';
    this.suppressEnvoyHeaders = hcm.config.router.suppressEnvoyHeaders;
    this.requestBody = downstream.body;
    if (downstream.body) countPushedBytes(downstream.body, (n) => { this.bytesReceived += n; });
    downstream.onDone(() => this.hcm.streamDone(this));
  }

  sendHeaders(status: number, headers: HeaderMap, endStream: boolean, expectTrailers = false): void {
    const f = this.filters;
    if (f) {
      const failed = f.encodeHeaders(status, headers);
      if (failed) {
        // An encoder threw: answer 500 instead (the downstream has not seen headers yet).
        this.discardBody = true;
        this.outcome.responseCodeDetails = failed.details;
        status = this.isGrpc ? 200 : failed.status;
        for (const k of Object.keys(headers)) delete headers[k];
        headers['content-length'] = '0';
        if (this.isGrpc) {
          headers['content-type'] = 'application/grpc';
          headers['grpc-status'] = '13';
        }
        this.responseCode = status;
        endStream = true;
        expectTrailers = false;
      } else if (!endStream && !this.isHead) {
        const ts = f.responseBodyTransforms(status, headers);
        if (ts.length > 0) this.pipeResponse(ts);
      }
    }
    const gs = headers['grpc-status'];
    if (gs !== undefined) {
      this.grpcStatus = typeof gs === 'string' ? gs : gs[0];
      this.grpcMessage = firstHeader(headers, 'grpc-message');
    }
    this.responseHeaders = headers;
    this.downstream.sendHeaders(status, headers, endStream, expectTrailers);
  }

  private pipeResponse(ts: Transform[]): void {
    const ds = this.downstream;
    for (let i = 0; i + 1 < ts.length; i++) ts[i].pipe(ts[i + 1]);
    const tail = ts[ts.length - 1];
    const fail = (): void => ds.reset();
    for (const t of ts) t.on('error', fail);
    tail.on('data', (c: Buffer) => {
      this.bytesSent += c.length;
      if (!ds.sendData(c, false)) tail.pause();
    });
    tail.once('end', () => ds.sendTrailers(this.pendingTrailers));
    ds.onDrain(() => tail.resume());
    this.respHead = ts[0];
  }

  sendData(chunk: Buffer, endStream: boolean): boolean {
    if (this.discardBody) return true;
    const h = this.respHead;
    if (h) {
      const ok = h.write(chunk);
      if (endStream) h.end();
      return ok;
    }
    this.bytesSent += chunk.length;
    return this.downstream.sendData(chunk, endStream);
  }

  sendTrailers(trailers: HeaderMap | null): void {
    if (trailers) {
      const gs = firstHeader(trailers, 'grpc-status');
      if (gs !== undefined) {
        this.grpcStatus = gs;
        this.grpcMessage = firstHeader(trailers, 'grpc-message');
      }
    }
    const h = this.respHead;
    if (h && !this.discardBody) {
      this.pendingTrailers = trailers;
      h.end();
      return;
    }
    this.downstream.sendTrailers(this.discardBody ? null : trailers);
  }

  onDrain(cb: () => void): void {
    if (this.respHead) this.respHead.on('drain', cb);
    else this.downstream.onDrain(cb);
  }

  beforeAttempt(headers: HeaderMap, attempt: number, cluster: string, hostKey: string, nowMs: number): void {
    this.trace?.injectAttempt(headers, attempt, cluster, hostKey, nowMs);
  }

  private origDst: string | null = null;

  /** ORIGINAL_DST clusters forward to the downstream connection's local address (restored by original_dst). */
  get originalDestination(): string {
    const c = this.conn;
    return (this.origDst ??= c.localAddress.includes(':') ? `[${c.localAddress}]:${c.localPort}` : `${c.localAddress}:${c.localPort}`);
  }

  decorateResponse(headers: HeaderMap): void {
    const cfg = this.hcm.config;
    switch (cfg.serverHeaderTransformation) {
      case 'OVERWRITE':
        headers.server = cfg.serverName;
        break;
      case 'APPEND_IF_ABSENT':
        if (headers.server === undefined) headers.server = cfg.serverName;
        break;
      default:
        break;
    }
    if (cfg.alwaysSetRequestIdInResponse) {
      const rid = firstHeader(this.head.headers, 'x-request-id');
      if (rid) headers['x-request-id'] = rid;
    }
    if (this.hcm.state !== 'active') this.hcm.drainClose(this.downstream);
  }

  localReply(spec: LocalReplySpec, opts: Parameters<typeof sendLocalReply>[2] = {}): void {
    if (this.downstream.headersSent || this.downstream.aborted) return;
    this.responseCode = this.isGrpc ? 200 : opts.status ?? spec.status;
    // A request body we will not read must not stall the connection.
    this.downstream.body?.resume();
    // Downstream protocol errors close the HTTP/1 connection, as Envoy does.
    if (spec.flag === 'DPE') this.downstream.closeConnectionAfter();
    sendLocalReply(this, spec, { ...opts, decorate: (h) => this.decorateResponse(h) });
  }

  /** A local reply a filter asked for (fault abort, 403 RBAC, 429 rate limit, CORS preflight, ...). */
  filterReply(r: LocalReplyRequest): void {
    const spec: LocalReplySpec = { status: r.status, flag: (r.flag ?? null) as ResponseFlagCode | null, details: r.details, body: r.body ?? '' };
    this.localReply(spec, { headers: r.headers, grpcStatus: r.grpcStatus });
  }

  /** Reads up to `max` request-body bytes for filters that inspect it (ext_authz with_request_body), then puts them back. */
  bufferRequestBody(max: number, cb: (body: Buffer | null, truncated: boolean) => void): void {
    const body = this.requestBody;
    if (!body || max <= 0) return cb(null, false);
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (ended: boolean): void => {
      if (done) return;
      done = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onEnd);
      body.pause();
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (ended) {
        const pt = new PassThrough();
        pt.end(all);
        this.requestBody = all.length > 0 ? pt : null;
      } else if (all.length > 0) body.unshift(all);
      cb(all.length > max ? all.subarray(0, max) : all, n > max);
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      n += c.length;
      if (n > max) finish(false);
    };
    const onEnd = (): void => finish(true);
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onEnd);
  }
}

/** Local replies of the request-hygiene checks that local-reply.ts does not list. */
const EXPECTATION_FAILED: LocalReplySpec = { status: 417, flag: null, details: 'http1.invalid_expect', body: '' };
const TE_IN_HTTP10: LocalReplySpec = { status: 400, flag: 'DPE', details: 'http1.transfer_encoding_not_allowed', body: '' };

/** Expect is honoured only as exactly '100-continue' (case-insensitive); anything else gets 417 (Node matches a substring). */
function expectIsExact100(v: string | string[]): boolean {
  return typeof v === 'string' && v.trim().toLowerCase() === '100-continue';
}

/** Envoy's header count includes pseudo-headers' host; count raw entries ourselves (Node truncates silently). */
function countHostHeaders(raw: string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') n++;
  return n;
}

export class HttpConnectionManager {
  state: HcmState = 'active';
  private h1: http.Server | null = null;
  private h2: http2.Http2Server | null = null;
  private readonly sockets = new Set<Duplex>();
  private readonly sessions = new Set<Http2Session>();
  private readonly inlineTable: RouteTable | null;
  private activeStreams = 0;
  private readonly random: () => number;
  private drainWaiters: (() => void)[] = [];
  /** The HTTP filter chain of this config (built once; `isEmpty` streams skip it). */
  readonly filters: FilterManager;
  private readonly tracers: TracerSource | null;
  readonly trafficDirection: TraceDirection;
  private readonly overload: OverloadView;
  /** Per connection manager and global downstream connection caps. */
  readonly connectionBudget: ConnectionBudget;
  private readonly globalConnections: ConnectionBudget;
  private readonly sessionWatches = new WeakMap<Http2Session, H2SessionWatch>();
  /** HTTP/2 streams whose processing waits one tick, so a stream the client already reset starts no upstream work. */
  /** Streams to start next turn, flat: downstream, stream, headers, flags for each (no tuple per stream). */
  private h2Pending: (H2Downstream | ServerHttp2Stream | IncomingHttpHeaders | number)[] = [];
  private h2Scheduled = false;

  constructor(readonly config: HttpConnectionManagerConfig, private readonly deps: HttpDeps, private readonly listenerPort: number, opts: HcmOptions = {}) {
    this.inlineTable = config.routeConfig && !config.rdsName ? deps.routes.compile(config.routeConfig) : null;
    this.random = deps.random ?? (() => randomUint32() / 2 ** 32);
    this.routerDeps = { pools: deps.pools, random: this.random, resolveCluster: (n) => deps.clusters.get(n), streamIdleTimeoutMs: config.streamIdleTimeoutMs };
    this.trafficDirection = opts.trafficDirection ?? 'UNSPECIFIED';
    this.tracers = config.tracing ? tracersOf(deps) : null;
    this.overload = deps.overload ?? sharedOverloadManager();
    this.connectionBudget = new ConnectionBudget(opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS_PER_LISTENER);
    this.globalConnections = deps.globalConnections ?? globalConnectionBudget;
    // The HCM translator validated http_filters with the same registry (LDS NACKs bad configs), so this cannot
    // report errors for a config that reached us.
    const filterDeps: FilterDeps = {
      nodeId: deps.node?.id ?? '',
      nodeCluster: deps.node?.cluster ?? '',
      now: Date.now,
      random: this.random,
      sendAuthRequest: (cluster, uri, req) => this.sendAuthRequest(cluster, uri, req),
      resolveGrpcTarget: (cluster) => {
        const h = this.deps.clusters.get(cluster)?.hosts()[0];
        return h && !h.pipe ? `${h.address.includes(':') ? `[${h.address}]` : h.address}:${h.port}` : undefined;
      },
    };
    this.filters = FilterManager.fromHcmConfig(config.httpFilters, config.router, { registry: deps.filterRegistry ?? builtinFilterRegistry(), deps: filterDeps }, new Issues('http_filters'));
  }

  /** ext_authz http_service: one HTTP request to a host of `clusterName` through the shared pools. */
  private sendAuthRequest(clusterName: string, uri: string, req: AuthRequest): Promise<AuthResponse> {
    return new Promise((resolve, reject) => {
      const cluster = this.deps.clusters.get(clusterName);
      if (!cluster) return reject(new Error(`cluster ${clusterName} not found`));
      const host = cluster.chooseHost({});
      if (!host) return reject(new Error(`no healthy upstream in ${clusterName}`));
      let authority = clusterName;
      try {
        authority = new URL(uri).host || clusterName;
      } catch { /* keep the cluster name */ }
      const headers: HeaderMap = { ...req.headers };
      delete headers.host;
      const chunks: Buffer[] = [];
      let status = 0;
      let resHeaders: HeaderMap = {};
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        handle?.abort();
        reject(new Error('ext_authz request timed out'));
      }, Math.max(1, req.timeoutMs));
      let handle: { abort(): void } | null = null;
      try {
        const pool = this.deps.pools.get(cluster, host, cluster.protocol === 'http2' ? 'http2' : 'http1');
        handle = pool.request({ method: req.method, path: req.path, authority, scheme: 'http', headers }, req.body, {
          onHeaders: (st, h) => {
            status = st;
            resHeaders = h;
          },
          onData: (c) => {
            chunks.push(c);
            return true;
          },
          onEnd: () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ status, headers: resHeaders, body: Buffer.concat(chunks) });
          },
          onError: (e) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            reject(new Error(`ext_authz request failed: ${e.kind}`));
          },
        });
      } catch (e) {
        settled = true;
        clearTimeout(timer);
        reject(e as Error);
      }
    });
  }

  get connections(): number {
    return this.sockets.size;
  }

  get streams(): number {
    return this.activeStreams;
  }

  /** The route table a new stream pins. */
  routeTable(): RouteTable | undefined {
    return this.inlineTable ?? this.deps.routes.get(this.config.rdsName);
  }

  /**
   * Hands an accepted (and, for TLS, handshaken) socket to the right codec. `alpn` from TLS, '' for cleartext;
   * `info` describes the connection (the listener knows the real addresses, SNI and original destination).
   */
  handleConnection(socket: Duplex, alpn: string, info?: ConnectionInfo): void {
    if (this.state !== 'active') {
      socket.destroy();
      return;
    }
    if (!this.connectionBudget.tryAcquire()) {
      socket.destroy();
      return;
    }
    if (!this.globalConnections.tryAcquire()) {
      this.connectionBudget.release();
      socket.destroy();
      return;
    }
    const conn = info ?? this.connInfo(socket as Socket);
    this.sockets.add(socket);
    socket.once('close', () => {
      this.connectionBudget.release();
      this.globalConnections.release();
      this.sockets.delete(socket);
      this.checkDrained();
    });
    const codec = this.config.codecType;
    if (codec === 'HTTP1' || alpn === 'http/1.1') return this.dispatch(socket, false, conn);
    // Every HTTP/2 session runs over a JS transport (H2Transport), which can write the drain's shutdown notice.
    if (codec === 'HTTP2' || alpn === 'h2') return this.dispatch(new H2Transport(socket), true, conn);
    // AUTO without ALPN: sniff the HTTP/2 connection preface.
    const PREFACE = 'PRI * HTTP/2.0';
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const n = Math.min(buf.length, PREFACE.length);
      const isH2 = buf.subarray(0, n).toString('latin1') === PREFACE.slice(0, n);
      if (isH2 && buf.length < PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      if (isH2) {
        // The transport replays the sniffed bytes (node:http2 reads a net.Socket's handle directly and would miss them).
        this.dispatch(new H2Transport(socket, buf), true, conn);
        return;
      }
      socket.unshift(buf);
      this.dispatch(socket, false, conn);
    };
    socket.on('data', onData);
    socket.resume();
  }

  private pendingConn: ConnectionInfo | null = null;
  private pendingTransport: H2Transport | null = null;
  private readonly connBySocket = new WeakMap<object, ConnectionInfo>();
  /** Each HTTP/2 session's drain sequence (two-phase GOAWAY over its transport). */
  private readonly h2Drains = new WeakMap<Http2Session, H2DrainSequence>();
  /** Set while draining: Envoy's drain-close decision for this drain's strategy and window. */
  private drainDecision: DrainDecision | null = null;
  /** drain_timeout of this drain: bounded so the final GOAWAY goes out well before the drain deadline. */
  private h2GraceMs = 0;
  /** Every connection is being closed now (immediate strategy, or the gradual window is over). */
  private drainingAll = false;
  private drainAllTimer: NodeJS.Timeout | null = null;

  private dispatch(socket: Duplex, h2: boolean, conn: ConnectionInfo): void {
    this.connBySocket.set(socket, conn);
    this.pendingConn = conn;
    this.pendingTransport = socket instanceof H2Transport ? socket : null;
    try {
      if (h2) this.h2Server().emit('connection', socket);
      else this.h1Server().emit('connection', socket);
    } finally {
      this.pendingConn = null;
      this.pendingTransport = null;
    }
    socket.resume();
  }

  private h1Server(): http.Server {
    if (this.h1) return this.h1;
    const c = this.config;
    const requestTimeout = c.requestTimeoutMs;
    const headersTimeout = c.requestHeadersTimeoutMs || (requestTimeout ? Math.min(60_000, requestTimeout) : 60_000);
    const s = http.createServer({
      maxHeaderSize: c.maxRequestHeadersKb * 1024,
      requireHostHeader: true,
      insecureHTTPParser: false,
      connectionsCheckingInterval: 1000,
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: c.idleTimeoutMs || 3_600_000,
      joinDuplicateHeaders: false,
      noDelay: true,
    });
    s.maxHeadersCount = c.maxHeadersCount + 1;
    if (c.maxRequestsPerConnection > 0) s.maxRequestsPerSocket = c.maxRequestsPerConnection;
    s.timeout = 0;
    s.on('request', (req: IncomingMessage, res: ServerResponse) => this.onH1Request(req, res));
    // Node answers '100 Continue' to any Expect containing the token; only the exact value is honoured here.
    s.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (expectIsExact100(req.headers.expect ?? '') && this.overload.stage < 2) res.writeContinue();
      this.onH1Request(req, res);
    });
    s.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => this.onH1Request(req, res));
    s.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onH1Upgrade(req, socket, head));
    // CONNECT is not configured: answer 403 instead of Node's silent close (security.md H30).
    s.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onH1Upgrade(req, socket, head));
    // This server never listens (connections are handed over with emit('connection')), and node only starts its
    // connection tracking — the connectionsCheckingInterval sweep that enforces headersTimeout (Envoy's
    // request_headers_timeout) and requestTimeout with a 408 — on 'listening'. Without it a client trickling headers
    // (slowloris) held its connection forever. destroy() closes the server to stop the sweep.
    s.emit('listening');
    this.h1 = s;
    return s;
  }

  private h2Server(): http2.Http2Server {
    if (this.h2) return this.h2;
    const c = this.config;
    const s = http2.createServer({
      settings: {
        maxConcurrentStreams: c.http2.maxConcurrentStreams,
        initialWindowSize: c.http2.initialStreamWindowSize,
        // Node resets streams beyond its own limits (ENHANCE_YOUR_CALM); ours sit below them and answer 431.
        maxHeaderListSize: Math.min(2 * c.maxRequestHeadersKb * 1024 + 1024, 0xffffffff),
        enablePush: false,
      },
      maxHeaderListPairs: 2 * c.maxHeadersCount + 8,
      maxSessionMemory: 32,
    });
    s.on('session', (session: Http2Session) => {
      if (this.pendingConn) this.connBySocket.set(session, this.pendingConn);
      this.sessions.add(session);
      const watch: H2SessionWatch = { session, tracker: new PrematureResetTracker(), idle: null };
      this.sessionWatches.set(session, watch);
      const seq = new H2DrainSequence(session, this.pendingTransport);
      this.h2Drains.set(session, seq);
      session.once('close', () => {
        seq.stop();
        this.sessions.delete(session);
      });
      session.on('error', () => undefined);
      session.on('connect', () => {
        try {
          session.setLocalWindowSize(c.http2.initialConnectionWindowSize);
        } catch { /* closing */ }
      });
      if (c.idleTimeoutMs > 0) {
        // Envoy's idle_timeout: no active stream on this connection for the period. meshlet's own timer, stopped on
        // close: Http2Session.setTimeout's timer outlives a destroyed session and kept it reachable (see IdleTimer).
        // Streams are counted in onH2Stream and by the shared per-stream 'close' listener (no closure per stream).
        const idle = new IdleTimer(c.idleTimeoutMs, () => session.close());
        watch.idle = idle;
        session.once('close', () => idle.stop());
      }
    });
    s.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => this.onH2Stream(stream, headers, flags));
    this.h2 = s;
    return s;
  }

  private connInfo(sock: Socket | undefined): ConnectionInfo {
    const s = sock as (Socket & { encrypted?: boolean; servername?: string }) | undefined;
    return {
      remoteAddress: s?.remoteAddress ?? '',
      remotePort: s?.remotePort ?? 0,
      localAddress: s?.localAddress ?? '',
      localPort: s?.localPort ?? this.listenerPort,
      tls: s?.encrypted === true,
      sni: typeof s?.servername === 'string' ? s.servername : '',
    };
  }

  private onH1Request(req: IncomingMessage, res: ServerResponse): void {
    const raw = req.rawHeaders;
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    const ds = new H1Downstream(req, res, hasBody ? req : null);
    if (!hasBody) req.resume();
    const conn = this.connBySocket.get(req.socket) ?? this.connInfo(req.socket);
    const head = this.h1Head(req, conn);
    if (req.httpVersion === '1.0' && req.headers['transfer-encoding'] !== undefined) {
      // RFC 9112 lets a server process TE in HTTP/1.0; a proxy rejects it (security.md F19).
      const s = new ActiveStream(this, ds, head, conn);
      this.activeStreams++;
      return s.localReply(TE_IN_HTTP10);
    }
    this.process(ds, head, conn, raw.length / 2, countHostHeaders(raw));
  }

  private h1Head(req: IncomingMessage, conn: ConnectionInfo): RequestHead {
    // Host goes to the authority, never into the map: no `delete` on the map, which would turn it into a slow
    // dictionary-mode object for every later header write and copy on this stream.
    const headers: HeaderMap = {};
    const raw = req.rawHeaders;
    let host: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i].toLowerCase();
      if (k === 'host') {
        host ??= raw[i + 1];
        continue;
      }
      const cur = headers[k];
      if (cur === undefined) headers[k] = raw[i + 1];
      else if (typeof cur === 'string') headers[k] = [cur, raw[i + 1]];
      else cur.push(raw[i + 1]);
    }
    let path = req.url ?? '/';
    let authority = host ?? '';
    if (!path.startsWith('/') && /^https?:\/\//i.test(path)) {
      // Absolute-form target overrides Host (RFC 9112 §3.2.2).
      try {
        const u = new URL(path);
        authority = u.host;
        path = u.pathname + u.search;
      } catch { /* leave as is: routing will fail */ }
    }
    return { method: req.method ?? 'GET', scheme: conn.tls ? 'https' : 'http', authority, path, headers };
  }

  private onH1Upgrade(req: IncomingMessage, socket: Duplex, headBuf: Buffer): void {
    const conn = this.connBySocket.get(req.socket) ?? this.connInfo(req.socket);
    const ds = new H1UpgradeDownstream(req, socket, headBuf);
    const head = this.h1Head(req, conn);
    if (req.method === 'CONNECT') {
      const s = new ActiveStream(this, ds, head, conn);
      this.activeStreams++;
      s.localReply(LocalReply.connectNotAllowed);
      return;
    }
    this.process(ds, head, conn, req.rawHeaders.length / 2, countHostHeaders(req.rawHeaders));
  }

  private onH2Stream(stream: ServerHttp2Stream, h: IncomingHttpHeaders, flags: number): void {
    const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    const ds = new H2Downstream(stream, endStream ? null : stream);
    const session = stream.session;
    const watch = session ? this.sessionWatches.get(session) : undefined;
    if (watch) {
      watch.tracker.onOpen();
      if (watch.idle) watch.idle.active++;
      const ws = stream as WatchedH2Stream;
      ws[kWatch] = watch;
      ws[kOpened] = Date.now();
      stream.on('close', onWatchedStreamClose);
    }
    // Start streams after this read is fully parsed: a HEADERS+RST_STREAM pair then never reaches an upstream.
    this.h2Pending.push(ds, stream, h, flags);
    if (!this.h2Scheduled) {
      this.h2Scheduled = true;
      setImmediate(() => this.startPendingH2());
    }
  }

  private startPendingH2(): void {
    const batch = this.h2Pending;
    this.h2Pending = [];
    this.h2Scheduled = false;
    for (let i = 0; i < batch.length; i += 4) {
      const ds = batch[i] as H2Downstream;
      const stream = batch[i + 1] as ServerHttp2Stream;
      const h = batch[i + 2] as IncomingHttpHeaders;
      const flags = batch[i + 3] as number;
      if (stream.destroyed || stream.closed || stream.session === undefined || stream.session.destroyed) continue;
      this.startH2Stream(ds, stream, h, flags);
    }
  }

  private startH2Stream(ds: H2Downstream, stream: ServerHttp2Stream, h: IncomingHttpHeaders, flags: number): void {
    const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    const conn = (stream.session && this.connBySocket.get(stream.session)) ?? this.connInfo(stream.session?.socket as Socket | undefined);
    const headers: HeaderMap = {};
    let count = 0;
    let bytes = 0;
    for (const k in h) {
      const v = h[k];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) bytes += k.length + x.length;
      else bytes += k.length + String(v).length;
      if (k[0] === ':') continue;
      headers[k] = v as string | string[];
      count += Array.isArray(v) ? v.length : 1;
    }
    if (bytes > this.config.maxRequestHeadersKb * 1024) {
      const s = new ActiveStream(this, ds, { method: String(h[':method'] ?? 'GET'), scheme: 'http', authority: '', path: String(h[':path'] ?? '/'), headers }, conn);
      this.activeStreams++;
      return s.localReply(LocalReply.headersTooLarge);
    }
    const expect = headers.expect;
    if (expect !== undefined && expectIsExact100(expect) && !endStream && this.overload.stage < 2) {
      try {
        stream.additionalHeaders({ ':status': 100 });
      } catch { /* stream closing */ }
    }
    const hostHdr = firstHeader(headers, 'host');
    const authority = (h[':authority'] as string | undefined) ?? hostHdr ?? '';
    delete headers.host;
    const method = (h[':method'] as string | undefined) ?? 'GET';
    const head: RequestHead = {
      method,
      scheme: (h[':scheme'] as string | undefined) ?? (conn.tls ? 'https' : 'http'),
      authority,
      path: (h[':path'] as string | undefined) ?? '/',
      headers,
    };
    if (method === 'CONNECT') {
      const s = new ActiveStream(this, ds, head, conn);
      this.activeStreams++;
      s.localReply(LocalReply.connectNotAllowed);
      return;
    }
    this.process(ds, head, conn, count, authority ? 1 : 0);
  }

  /** The active stream's path: hygiene → route → local reply | router. */
  private process(ds: Downstream, head: RequestHead, conn: ConnectionInfo, headerCount: number, hostCount: number): void {
    const c = this.config;
    const s = new ActiveStream(this, ds, head, conn);
    this.activeStreams++;
    const stage = this.overload.stage;
    if (stage !== 0) {
      // Overload manager: stage 2 rejects new requests (503 OM); stage 1 disables keep-alive.
      if (stage === 2) {
        ds.closeConnectionAfter();
        return s.localReply(OVERLOAD_REPLY);
      }
      if (ds instanceof H2Downstream) this.drainH2Session(ds.session, c.drainTimeoutMs);
      else ds.closeConnectionAfter();
    }
    if (headerCount > c.maxHeadersCount) return s.localReply(LocalReply.tooManyHeaders);
    if (hostCount !== 1 || !isValidAuthority(head.authority)) return s.localReply(LocalReply.badHost);
    const expect = head.headers.expect;
    if (expect !== undefined && !expectIsExact100(expect)) {
      ds.closeConnectionAfter();
      return s.localReply(EXPECTATION_FAILED);
    }
    if (c.headersWithUnderscoresAction !== 'ALLOW') {
      for (const k of Object.keys(head.headers)) {
        if (!k.includes('_')) continue;
        if (c.headersWithUnderscoresAction === 'REJECT_REQUEST') return s.localReply(LocalReply.underscoreHeader);
        delete head.headers[k];
      }
    }
    // Hop-by-hop headers go first, so nothing a client lists in Connection can remove what we add below.
    const upgrade = stripHopByHop(head.headers, true);
    if (head.path.includes('#')) head.path = head.path.slice(0, head.path.indexOf('#'));
    if (c.pathWithEscapedSlashesAction !== 'KEEP_UNCHANGED') {
      const esc = escapedSlashes(head.path, c.pathWithEscapedSlashesAction);
      if (esc.action === 'reject') return s.localReply(LocalReply.escapedSlashes);
      if (esc.action === 'redirect') {
        return s.localReply({ status: 307, flag: null, details: 'path_normalization_redirect', body: '' }, { headers: { location: normalizePath(esc.path, c.normalizePath, c.mergeSlashes) } });
      }
      head.path = esc.path;
    }
    if (c.normalizePath || c.mergeSlashes) head.path = normalizePath(head.path, c.normalizePath, c.mergeSlashes);
    const fwd = applyForwardingHeaders(head.headers, c, conn.remoteAddress, head.scheme);
    if (c.stripAnyHostPort) head.authority = stripPort(head.authority);
    else if (c.stripMatchingHostPort) head.authority = stripPort(head.authority, conn.localPort);
    if (upgrade) head.headers.upgrade = upgrade;

    s.format = new StreamFormat(fwd.clientAddress, conn, ds.protocol, s.startTimeMs, head.headers);
    const tracing = c.tracing;
    if (tracing) {
      const tracer = this.tracers?.tracerFor(tracing) ?? null;
      s.trace = StreamTrace.begin(tracing, tracer, head, fwd.internal);
    }
    const table = this.routeTable();
    if (!table) return s.localReply(LocalReply.routeNotFound);
    const decision = table.route({ head, randomValue: Math.floor(this.random() * 2 ** 32), format: s.format, runtimeMode: 'live' });
    if (decision.kind !== 'none') s.routeName = decision.routeName;
    s.trace?.startSpan(head, this.trafficDirection, decision.kind === 'forward' ? decision.decorator : null, s.startTimeMs);
    const fm = this.filters;
    if (fm.isEmpty) return this.route(s, decision, upgrade, fwd.clientAddress);
    const freq: FilterRequest = {
      head,
      remoteAddress: fwd.clientAddress,
      remotePort: conn.remotePort,
      startTimeMs: s.startTimeMs,
      directRemoteAddress: conn.remoteAddress,
      localAddress: conn.localAddress,
      localPort: conn.localPort,
      protocol: ds.protocol,
      isGrpc: s.isGrpc,
      peer: null,
      sni: conn.sni,
      upstreamCluster: decision.kind === 'forward' ? decision.cluster : '',
      nodeId: this.deps.node?.id ?? '',
    };
    const filters = fm.createStream(freq, decision.kind === 'forward' ? (name) => decision.perFilterConfig(name) : null);
    s.filters = filters;
    const decode = (body: Buffer | null, truncated: boolean): void => {
      const endStream = s.requestBody === null;
      filters.decodeHeaders(endStream, body, (reply) => {
        if (reply) return s.filterReply(reply);
        if (s.downstream.aborted) return;
        if (s.requestBody) {
          const ts = filters.requestBodyTransforms();
          if (ts.length > 0) {
            let cur: Readable = s.requestBody;
            for (const t of ts) {
              t.on('error', () => s.downstream.reset());
              cur = cur.pipe(t);
            }
            s.requestBody = cur;
          }
        }
        this.route(s, decision, upgrade, fwd.clientAddress);
      }, truncated);
    };
    if (fm.bufferRequestBodyBytes > 0 && s.requestBody) s.bufferRequestBody(fm.bufferRequestBodyBytes, decode);
    else decode(null, false);
  }

  /** After the decoder filters: the router's part — no route, redirect/direct response, or forward upstream. */
  private route(s: ActiveStream, decision: RouteDecision, upgrade: string | null, clientAddress: string): void {
    const c = this.config;
    const ds = s.downstream;
    const head = s.head;
    if (decision.kind === 'none') return s.localReply(LocalReply.routeNotFound);
    if (decision.kind !== 'forward') {
      s.outcome.responseCodeDetails = decision.kind === 'redirect' ? 'via_redirect' : 'direct_response';
      s.responseCode = decision.status;
      ds.body?.resume();
      const headers: HeaderMap = {};
      if (decision.kind === 'redirect') headers.location = decision.location;
      const body = decision.body;
      // finalizeResponse adds content-length/content-type for a body (route engine contract).
      const fmt = s.format;
      fmt.responseCode = decision.status;
      fmt.routeName = decision.routeName;
      decision.finalizeResponse(headers, fmt);
      if (headers['content-length'] === undefined) headers['content-length'] = String(body ? body.length : 0);
      s.decorateResponse(headers);
      if (!body || body.length === 0 || s.isHead) s.sendHeaders(decision.status, headers, true);
      else {
        s.sendHeaders(decision.status, headers, false);
        s.sendData(body, true);
      }
      return;
    }
    if (upgrade) {
      const allowed = decision.upgrades.get(upgrade) ?? c.upgrades.get(upgrade) ?? false;
      if (!allowed || !(ds instanceof H1UpgradeDownstream)) return s.localReply(LocalReply.upgradeFailed);
    }
    s.format.routeName = decision.routeName;
    decision.finalizeRequest(head, s.format);
    const cluster = decision.cluster ? this.deps.clusters.get(decision.cluster) : undefined;
    if (!cluster) return s.localReply(LocalReply.clusterNotFound, { status: decision.clusterNotFoundStatus });
    if (cluster.shouldDrop()) return s.localReply(LocalReply.dropOverload);
    // The hash also yields the generated affinity cookie (cookie policy with ttl, cookie absent) to set downstream.
    const hk = decision.hashPolicies.length > 0 ? this.deps.hashKey : undefined;
    const hr: HashResult = hk ? hk(decision.hashPolicies, { head, clientAddress }) : NO_HASH;
    const rr = new RouterRequest(s, decision, cluster, this.routerDeps, upgrade && ds instanceof H1UpgradeDownstream ? upgrade : null, hr.hash, hr.setCookie);
    rr.start();
  }

  /** What every RouterRequest of this HCM shares (one object, not one per request). */
  private readonly routerDeps: RouterDeps;

  /** Called once per stream when the downstream side is done. */
  streamDone(s: ActiveStream): void {
    this.activeStreams--;
    const now = Date.now();
    const f = s.filters;
    if (f) {
      for (const flag of f.responseFlags) if (!s.outcome.responseFlags.includes(flag)) s.outcome.responseFlags.push(flag);
      f.destroy();
    }
    const trace = s.trace;
    const traceId = trace?.traceId ?? '';
    if (trace?.span) {
      // Only a sampled stream has a span to finish: no TraceFinish object (and responseFlags join) for the others.
      trace.finish({
        head: s.head,
        protocol: s.downstream.protocol,
        status: s.responseCode,
        responseFlags: s.outcome.responseFlags.join(','),
        requestSize: s.bytesReceived,
        responseSize: s.bytesSent,
        upstreamCluster: s.upstreamCluster,
        upstreamHost: s.upstreamHost,
        peerAddress: s.format?.remoteAddress ?? s.conn.remoteAddress,
        grpcStatus: s.grpcStatus,
        grpcMessage: s.grpcMessage,
        endTimeMs: now,
      });
    }
    const info: StreamInfo = {
      startTimeMs: s.startTimeMs,
      durationMs: now - s.startTimeMs,
      head: s.head,
      protocol: s.downstream.protocol,
      responseCode: s.responseCode,
      responseFlags: s.outcome.responseFlags,
      responseCodeDetails: s.outcome.responseCodeDetails,
      upstreamHost: s.upstreamHost,
      upstreamCluster: s.upstreamCluster,
      routeName: s.routeName,
      statPrefix: this.config.statPrefix,
      connection: s.conn,
      bytesReceived: s.bytesReceived,
      bytesSent: s.bytesSent,
      responseHeaders: s.responseHeaders,
      requestId: trace?.requestId ?? firstHeader(s.head.headers, 'x-request-id') ?? '',
      traceId,
      upstreamServiceTimeMs: s.upstreamServiceTimeMs,
      upstreamLocalAddress: '',
      attemptCount: s.attemptCount,
      downstreamLocalAddress: s.conn.localAddress ? `${s.conn.localAddress.includes(':') ? `[${s.conn.localAddress}]` : s.conn.localAddress}:${s.conn.localPort}` : '',
      requestedServerName: s.conn.sni,
    };
    try {
      this.deps.onStreamEnd?.(info);
    } catch { /* observers never break the data path */ }
    this.checkDrained();
  }

  /**
   * Graceful drain: no new connections; connections are told to close as Envoy's drain manager decides
   * (`strategy`, see DrainDecision): `immediate` — every response from now on carries Connection: close (HTTP/1) and
   * every HTTP/2 session starts its two-phase GOAWAY now; `gradual` — each response closes its connection with a
   * probability rising from 0 to 1 over `timeoutMs` (HTTP/2: the session's GOAWAY sequence starts), and from 3/4 of
   * the window on every response closes and every HTTP/2 session gets its GOAWAY. HTTP/2's final GOAWAY follows the
   * notice after the HCM drain_timeout, at most half the window. Resolves when all connections are gone or after
   * `timeoutMs`, when the rest are destroyed (streams still open are reset).
   *
   * Idle HTTP/1.1 keep-alive connections are never closed by the drain before `timeoutMs`: closing one races the
   * client's next request on it (see DrainDecision in h2-drain.ts).
   */
  drain(timeoutMs: number, strategy: DrainStrategy = this.deps.drainStrategy?.() ?? 'immediate'): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    if (this.state === 'active') {
      this.state = 'draining';
      this.h2GraceMs = Math.min(this.config.drainTimeoutMs, Math.floor(timeoutMs / 2));
      this.drainDecision = new DrainDecision(strategy, Date.now(), timeoutMs, Date.now, this.random);
      if (strategy === 'immediate' || timeoutMs <= 0) this.drainAllConnections();
      else {
        // Gradual: the ramp decides per response; from 3/4 of the window on every response closes its connection and
        // HTTP/2 sessions that sent nothing get their GOAWAY; idle HTTP/1 connections wait for the end, as in Envoy.
        this.drainAllTimer = setTimeout(() => this.drainAllConnections(), Math.floor(timeoutMs * 0.75));
      }
    } else if (strategy === 'immediate' || timeoutMs <= 0) {
      // A later, stricter drain (e.g. shutdown after drain_listeners?graceful) closes everything now.
      this.h2GraceMs = Math.min(this.h2GraceMs, Math.floor(timeoutMs / 2));
      this.drainAllConnections();
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.destroy();
        resolve();
      }, timeoutMs);
      this.drainWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.checkDrained();
    });
  }

  /**
   * Drain-close for every connection now: every later HTTP/1 response carries Connection: close (idle HTTP/1
   * connections stay open for their client to use or close, see DrainDecision in h2-drain.ts), every HTTP/2 session
   * starts its GOAWAY sequence.
   */
  private drainAllConnections(): void {
    if (this.drainAllTimer) clearTimeout(this.drainAllTimer);
    this.drainAllTimer = null;
    this.drainingAll = true;
    for (const s of this.sessions) this.drainH2Session(s, this.h2GraceMs);
  }

  /** Starts the two-phase GOAWAY of one HTTP/2 session (drain, overload's disable-keep-alive); no-op when started. */
  private drainH2Session(session: Http2Session | undefined, graceMs: number): void {
    if (!session) return;
    const seq = this.h2Drains.get(session);
    if (seq) seq.start(graceMs);
    else if (!session.closed && !session.destroyed) session.close();
  }

  /** A response of a draining manager: Envoy's drain-close decision for its connection (HTTP/1 Connection: close). */
  drainClose(ds: Downstream): void {
    if (!this.drainingAll && this.drainDecision && !this.drainDecision.drainClose()) return;
    if (ds instanceof H2Downstream) this.drainH2Session(ds.session, this.h2GraceMs);
    else ds.closeConnectionAfter();
  }

  private checkDrained(): void {
    if (this.state !== 'draining') return;
    // No closeIdleConnections() here: a connection idle after its response may carry the client's next request at
    // this very instant (see DrainDecision in h2-drain.ts); it closes after that request's Connection: close answer,
    // when the client closes it, or at the drain deadline.
    if (this.sockets.size > 0) return;
    this.state = 'closed';
    if (this.drainAllTimer) clearTimeout(this.drainAllTimer);
    this.drainAllTimer = null;
    this.filters.close();
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  /** Closes everything now. */
  destroy(): void {
    this.state = 'closed';
    if (this.drainAllTimer) clearTimeout(this.drainAllTimer);
    this.drainAllTimer = null;
    this.filters.close();
    for (const s of this.sessions) {
      this.h2Drains.get(s)?.stop();
      s.destroy();
    }
    for (const s of this.sockets) s.destroy();
    this.h1?.closeAllConnections();
    this.h1?.close();
    this.sockets.clear();
  }
}
