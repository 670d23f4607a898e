// upstream/: active health checking for one cluster (Envoy HealthCheckerImplBase): one session per host with its
// own timer; HTTP (node:http / node:http2), TCP (send/receive payloads) and gRPC (grpc.health.v1.Health/Check over
// node:http2). Healthy/unhealthy thresholds, interval + jitter, timeout, no_traffic_interval, unhealthy_interval and
// edge intervals. Results set/clear the host's failed_active_hc flag; `onChange` lets the cluster rebuild its set.
// reuse_connection (default true, as Envoy): a session keeps its connection for the next check — an HTTP/1.1
// keep-alive socket (a one-socket agent per session), one HTTP/2 session (HTTP codec HTTP2 and gRPC), a TCP socket
// when a receive payload is checked — and drops it on a timeout, a connection error or close, a GOAWAY or a
// `connection: close` answer; with reuse_connection false every check opens and closes its own connection.
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { HealthCheckConfig, UpstreamTlsConfig } from '../config/cluster.js';
import type { UpstreamHost } from './upstream-host.js';
import { tlsConnectOptions } from './transport/tls-options.js';
import type { TimerSource, UpstreamLogger } from './timer-source.js';

export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly immediate?: boolean };

export interface HealthCheckerDeps {
  readonly clusterName: string;
  readonly timers: TimerSource;
  readonly logger: UpstreamLogger;
  readonly random: () => number;
  readonly tls: UpstreamTlsConfig | null;
  /** True once the cluster has carried traffic (otherwise no_traffic_interval applies). */
  readonly hasTraffic: () => boolean;
  /** A host's failed_active_hc flag changed. */
  readonly onChange: (host: UpstreamHost, healthy: boolean) => void;
  /** Every successful check (outlier detection may un-eject). */
  readonly onSuccess?: (host: UpstreamHost) => void;
  /** --concurrency N worker: checks run once in the primary; this checker only tracks hosts (new ones pending) and
   *  takes the primary's results through applyExternal. */
  readonly follower?: boolean;
}

/** A TCP check connection kept between checks (reuse_connection): the current check's matcher, if one is waiting. */
interface TcpConn {
  readonly sock: net.Socket;
  connected: boolean;
  /** Bytes received for the current check. */
  buf: Buffer;
  /** The waiting check: fed with data, told about close/error. */
  waiter: { readonly onData: () => void; readonly onGone: (reason: string) => void } | null;
}

/** Session state of one host: 'pending' until its first result (a single success then makes it healthy). */
class HostSession {
  state: 'pending' | 'healthy' | 'unhealthy' = 'pending';
  successes = 0;
  failures = 0;
  timer: unknown = null;
  inFlight: (() => void) | null = null;
  edge = false;
  stopped = false;
  checks = 0;
  /** reuse_connection: the session's HTTP/1 agent (at most one socket), HTTP/2 session or TCP socket. */
  agent: http.Agent | null = null;
  h2: http2.ClientHttp2Session | null = null;
  tcp: TcpConn | null = null;
  /** Connections this session opened (for tests and debugging). */
  connects = 0;
  constructor(readonly host: UpstreamHost) {}

  /** Drops whatever connection the session keeps (timeout, error, stop). */
  dropConnection(): void {
    const a = this.agent;
    this.agent = null;
    a?.destroy();
    const h = this.h2;
    this.h2 = null;
    if (h && !h.destroyed) h.destroy();
    const t = this.tcp;
    this.tcp = null;
    t?.sock.destroy();
  }
}

const GRPC_SERVING = 1;

export function encodeGrpcHealthRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  const body = s.length ? Buffer.concat([Buffer.from([0x0a]), varint(s.length), s]) : Buffer.alloc(0);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** Decodes HealthCheckResponse.status (field 1, varint) from a gRPC message frame; -1 if absent/invalid. */
export function decodeGrpcHealthStatus(frame: Buffer): number {
  if (frame.length < 5) return -1;
  const len = frame.readUInt32BE(1);
  const body = frame.subarray(5, 5 + len);
  if (body.length === 0) return 0; // status UNKNOWN (default value omitted)
  let i = 0;
  while (i < body.length) {
    const tag = body[i++];
    if (tag === 0x08) {
      let v = 0;
      let shift = 0;
      while (i < body.length) {
        const b = body[i++];
        v |= (b & 0x7f) << shift;
        if ((b & 0x80) === 0) return v;
        shift += 7;
      }
      return -1;
    }
    return -1;
  }
  return -1;
}

/**
 * TLS options of a check connection: the cluster's transport socket as the data path uses it (CA chain, then SAN
 * matchers, no hostname check — transport/tls-options.ts). SNI only when configured: '' keeps node's https agent
 * from taking the check's Host header (the cluster name by default) as the server name.
 */
function checkTlsOptions(t: UpstreamTlsConfig): tls.ConnectionOptions {
  const o = tlsConnectOptions({
    sni: t.sni, alpn: t.alpn, ca: t.trustedCa, sanMatchers: t.sanMatchers, certChain: t.certificateChain, privateKey: t.privateKey,
    minVersion: t.minVersion, maxVersion: t.maxVersion,
  });
  o.servername = t.sni || '';
  return o;
}

export class HealthChecker {
  private readonly sessions = new Map<UpstreamHost, HostSession>();
  private started = false;

  constructor(readonly config: HealthCheckConfig, private readonly deps: HealthCheckerDeps) {}

  /** Sync with cluster membership: new hosts start failed_active_hc (pending), removed hosts stop. */
  setHosts(hosts: readonly UpstreamHost[]): void {
    const keep = new Set(hosts);
    for (const [h, s] of this.sessions) {
      if (!keep.has(h)) {
        this.stopSession(s);
        this.sessions.delete(h);
      }
    }
    for (const h of hosts) {
      if (this.sessions.has(h)) continue;
      const s = new HostSession(h);
      h.healthFlags.add('failed_active_hc');
      this.sessions.set(h, s);
      if (this.started) this.schedule(s, this.config.initialJitterMs > 0 ? Math.floor(this.deps.random() * this.config.initialJitterMs) : 0);
    }
  }

  start(): void {
    if (this.started || this.deps.follower) return;
    this.started = true;
    for (const s of this.sessions.values()) s.stopped = false;
    for (const s of this.sessions.values()) this.schedule(s, this.config.initialJitterMs > 0 ? Math.floor(this.deps.random() * this.config.initialJitterMs) : 0);
  }

  stop(): void {
    this.started = false;
    for (const s of this.sessions.values()) this.stopSession(s);
  }

  /**
   * Follower: the primary's checker changed a host's failed_active_hc (pending and unhealthy both set it). Applied as
   * a local result is: the flag, then onChange (host-set rebuild, pending_dynamic_removal removal) on a real change.
   */
  applyExternal(host: UpstreamHost, failed: boolean): void {
    const s = this.sessions.get(host);
    if (!s || host.healthFlags.has('failed_active_hc') === failed) return;
    s.state = failed ? 'unhealthy' : 'healthy';
    if (failed) host.healthFlags.add('failed_active_hc');
    else host.healthFlags.delete('failed_active_hc');
    this.deps.onChange(host, !failed);
  }

  /** For tests and /clusters: number of completed checks of a host. */
  checksOf(host: UpstreamHost): number {
    return this.sessions.get(host)?.checks ?? 0;
  }

  /** For tests: connections the host's session opened so far (HTTP/2 sessions and TCP sockets; HTTP/1 agents). */
  connectsOf(host: UpstreamHost): number {
    return this.sessions.get(host)?.connects ?? 0;
  }

  private stopSession(s: HostSession): void {
    s.stopped = true;
    if (s.timer !== null) this.deps.timers.clearTimeout(s.timer);
    s.timer = null;
    s.inFlight?.();
    s.inFlight = null;
    s.dropConnection();
  }

  private nextInterval(s: HostSession): number {
    const c = this.config;
    let base: number;
    if (!this.deps.hasTraffic()) base = s.state === 'healthy' ? c.noTrafficHealthyIntervalMs : c.noTrafficIntervalMs;
    else if (s.state === 'unhealthy' || s.state === 'pending') base = s.edge ? c.unhealthyEdgeIntervalMs : c.unhealthyIntervalMs;
    else base = s.edge ? c.healthyEdgeIntervalMs : c.intervalMs;
    let jitter = 0;
    if (c.intervalJitterPercent > 0) jitter += Math.floor(this.deps.random() * ((base * c.intervalJitterPercent) / 100));
    if (c.intervalJitterMs > 0) jitter += Math.floor(this.deps.random() * c.intervalJitterMs);
    return base + jitter;
  }

  private schedule(s: HostSession, delay: number): void {
    s.timer = this.deps.timers.setTimeout(() => this.run(s), delay);
  }

  private run(s: HostSession): void {
    s.timer = null;
    let done = false;
    const finish = (r: CheckResult): void => {
      if (done) return;
      done = true;
      s.inFlight = null;
      this.deps.timers.clearTimeout(timeout);
      if (s.stopped) return;
      s.checks++;
      this.onResult(s, r);
      if (!s.stopped) this.schedule(s, this.nextInterval(s)); // onResult may have removed the host
    };
    const timeout = this.deps.timers.setTimeout(() => {
      cancel();
      s.dropConnection();
      finish({ ok: false, reason: 'timeout' });
    }, this.config.timeoutMs);
    const cancel = this.check(s, finish);
    s.inFlight = () => {
      done = true;
      this.deps.timers.clearTimeout(timeout);
      cancel();
    };
  }

  private onResult(s: HostSession, r: CheckResult): void {
    const c = this.config;
    const h = s.host;
    s.edge = false;
    if (r.ok) {
      s.failures = 0;
      s.successes++;
      this.deps.onSuccess?.(h);
      if (s.state !== 'healthy' && (s.state === 'pending' || s.successes >= c.healthyThreshold)) {
        s.state = 'healthy';
        s.edge = true;
        h.healthFlags.delete('failed_active_hc');
        this.deps.logger.info({ cluster: this.deps.clusterName, host: h.key }, 'health check: host healthy');
        this.deps.onChange(h, true);
      }
      return;
    }
    s.successes = 0;
    s.failures++;
    if (s.state === 'pending' || (s.state === 'healthy' && (r.immediate || s.failures >= c.unhealthyThreshold))) {
      const wasPending = s.state === 'pending';
      s.state = 'unhealthy';
      s.edge = true;
      if (!wasPending) {
        h.healthFlags.add('failed_active_hc');
        this.deps.logger.warn({ cluster: this.deps.clusterName, host: h.key, reason: r.reason }, 'health check: host unhealthy');
        this.deps.onChange(h, false);
      }
    } else if (c.alwaysLogHealthCheckFailures) {
      this.deps.logger.warn({ cluster: this.deps.clusterName, host: h.key, reason: r.reason }, 'health check failed');
    }
  }

  /** Runs one check; returns a cancel function. */
  private check(s: HostSession, done: (r: CheckResult) => void): () => void {
    const k = this.config.check;
    switch (k.kind) {
      case 'tcp': return this.tcpCheck(s, k.send, k.receive, done);
      case 'http': return k.codec === 'http2' ? this.h2Check(s, done, 'http') : this.h1Check(s, done);
      case 'grpc': return this.h2Check(s, done, 'grpc');
    }
  }

  /** A new TCP (or TLS) connection to the host's health-check address. */
  private tcpConnect(s: HostSession): TcpConn {
    const host = s.host;
    const t = this.deps.tls;
    const address = host.address;
    const port = host.healthCheckPort;
    const pipe = host.pipe;
    const sock: net.Socket = t
      ? tls.connect({ ...(pipe ? { path: pipe } : { host: address, port }), ...checkTlsOptions(t) })
      : pipe ? net.connect({ path: pipe }) : net.connect({ host: address, port });
    s.connects++;
    const c: TcpConn = { sock, connected: false, buf: Buffer.alloc(0), waiter: null };
    sock.setNoDelay(true);
    sock.once(t ? 'secureConnect' : 'connect', () => {
      c.connected = true;
      c.waiter?.onData();
    });
    sock.on('data', (d: Buffer) => {
      if (!c.waiter) return; // bytes between checks belong to no check
      c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
      c.waiter.onData();
    });
    const gone = (reason: string): void => {
      if (s.tcp === c) s.tcp = null;
      const w = c.waiter;
      c.waiter = null;
      w?.onGone(reason);
    };
    sock.on('error', (e) => gone(`connect: ${e.message}`));
    sock.on('close', () => gone('connection closed before the expected payload'));
    return c;
  }

  /**
   * Envoy's TCP checker: send the payload, succeed once every receive payload arrived in order. A connect-only check
   * (no receive payload) succeeds on connect and always closes; otherwise the socket stays for the next check unless
   * reuse_connection is false.
   */
  private tcpCheck(s: HostSession, send: Buffer | null, receive: readonly Buffer[], done: (r: CheckResult) => void): () => void {
    const reuse = this.config.reuseConnection && receive.length > 0;
    let c = s.tcp;
    if (!c || c.sock.destroyed) {
      c = this.tcpConnect(s);
      if (reuse) s.tcp = c;
    }
    const conn = c;
    conn.buf = Buffer.alloc(0);
    let sent = false;
    const matches = (): boolean => {
      let idx = 0;
      for (const r of receive) {
        const at = conn.buf.indexOf(r, idx);
        if (at < 0) return false;
        idx = at + r.length;
      }
      return true;
    };
    const settle = (r: CheckResult, close: boolean): void => {
      conn.waiter = null;
      if (close) {
        if (s.tcp === conn) s.tcp = null;
        conn.sock.destroy();
      }
      done(r);
    };
    conn.waiter = {
      onData: () => {
        if (!conn.connected) return;
        if (!sent) {
          sent = true;
          if (send) conn.sock.write(send);
          if (receive.length === 0) {
            settle({ ok: true }, true);
            return;
          }
        }
        if (conn.buf.length && matches()) settle({ ok: true }, !reuse);
      },
      onGone: (reason) => done({ ok: false, reason }),
    };
    if (conn.connected) conn.waiter.onData();
    return () => {
      conn.waiter = null;
      if (s.tcp === conn) s.tcp = null;
      conn.sock.destroy();
    };
  }

  private authority(): string {
    const k = this.config.check;
    if (k.kind === 'http' && k.host) return k.host;
    if (k.kind === 'grpc' && k.authority) return k.authority;
    return this.deps.clusterName;
  }

  /** The session's keep-alive agent: one socket, reused check after check (reuse_connection). */
  private sessionAgent(s: HostSession): http.Agent {
    if (s.agent) return s.agent;
    const opts = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1 };
    const a = this.deps.tls ? new https.Agent(opts) : new http.Agent(opts);
    s.agent = a;
    return a;
  }

  private h1Check(s: HostSession, done: (r: CheckResult) => void): () => void {
    const k = this.config.check;
    if (k.kind !== 'http') return () => {};
    const host = s.host;
    const reuse = this.config.reuseConnection;
    const headers: Record<string, string | string[]> = { host: this.authority(), 'user-agent': 'Envoy/HC' };
    if (!reuse) headers.connection = 'close';
    for (const h of k.requestHeadersToAdd) {
      const cur = headers[h.name];
      headers[h.name] = h.append && cur !== undefined ? [...(Array.isArray(cur) ? cur : [cur]), h.value] : h.value;
    }
    for (const n of k.requestHeadersToRemove) delete headers[n];
    const t = this.deps.tls;
    const agent = reuse ? this.sessionAgent(s) : false;
    const base = { method: k.method, path: k.path, headers, agent, ...(host.pipe ? { socketPath: host.pipe } : { host: host.address, port: host.healthCheckPort }) };
    const req = t ? https.request({ ...base, ...checkTlsOptions(t) } as https.RequestOptions) : http.request(base);
    req.on('socket', (sock) => {
      // A socket the agent hands out again has already been counted.
      if (!(req as http.ClientRequest & { reusedSocket?: boolean }).reusedSocket) s.connects++;
      sock.setNoDelay(true);
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      res.on('error', () => {});
      const ok = k.expectedStatuses.some(([st, e]) => status >= st && status < e);
      const immediate = res.headers['x-envoy-immediate-health-check-fail'] !== undefined;
      done(ok && !immediate ? { ok: true } : { ok: false, reason: `status ${status}`, immediate });
    });
    req.on('error', (e) => {
      // The socket is gone; a keep-alive agent forgets it by itself, but start the next check from a clean agent.
      if (s.agent === agent) s.dropConnection();
      done({ ok: false, reason: e.message });
    });
    req.end();
    return () => req.destroy();
  }

  /** The session's HTTP/2 session, reused while it is open (reuse_connection); a GOAWAY or error ends it. */
  private sessionH2(s: HostSession): http2.ClientHttp2Session {
    const cur = s.h2;
    if (cur && !cur.closed && !cur.destroyed) return cur;
    const host = s.host;
    const t = this.deps.tls;
    const scheme = t ? 'https' : 'http';
    const addr = host.address.includes(':') ? `[${host.address}]` : host.address;
    const session = http2.connect(`${scheme}://${addr}:${host.healthCheckPort}`, t ? { ...checkTlsOptions(t), ALPNProtocols: ['h2'] } : {});
    s.connects++;
    const forget = (): void => {
      if (s.h2 === session) s.h2 = null;
    };
    session.on('goaway', forget);
    session.on('close', forget);
    session.on('error', forget);
    if (this.config.reuseConnection) s.h2 = session;
    return session;
  }

  private h2Check(s: HostSession, done: (r: CheckResult) => void, mode: 'http' | 'grpc'): () => void {
    const k = this.config.check;
    const reuse = this.config.reuseConnection;
    const session = this.sessionH2(s);
    const close = (): void => {
      if (s.h2 === session) s.h2 = null;
      session.close();
      session.destroy();
    };
    const onSessionError = (e: Error): void => done({ ok: false, reason: e.message });
    session.on('error', onSessionError);
    const headers: http2.OutgoingHttpHeaders = { ':authority': this.authority(), 'user-agent': 'Envoy/HC' };
    if (mode === 'grpc') {
      Object.assign(headers, { ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    } else if (k.kind === 'http') {
      Object.assign(headers, { ':method': k.method, ':path': k.path });
      for (const h of k.requestHeadersToAdd) headers[h.name] = h.value;
      for (const n of k.requestHeadersToRemove) delete headers[n];
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: mode !== 'grpc' });
    } catch (e) {
      // A session that went away between checks (ERR_HTTP2_INVALID_SESSION / GOAWAY): a failure, the next check reconnects.
      session.off('error', onSessionError);
      close();
      done({ ok: false, reason: (e as Error).message });
      return () => {};
    }
    const finish = (r: CheckResult, keep: boolean): void => {
      session.off('error', onSessionError);
      if (!keep || !reuse) close();
      done(r);
    };
    stream.on('error', (e) => finish({ ok: false, reason: e.message }, false));
    let status = 0;
    let grpcStatus: string | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
    });
    stream.on('trailers', (h) => {
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
    });
    stream.on('data', (d: Buffer) => {
      if (mode === 'grpc') chunks.push(d);
    });
    stream.on('end', () => {
      if (mode === 'http') {
        const ok = k.kind === 'http' && k.expectedStatuses.some(([st, e]) => status >= st && status < e);
        finish(ok ? { ok: true } : { ok: false, reason: `status ${status}` }, true);
        return;
      }
      if (status !== 200 || grpcStatus !== '0') {
        finish({ ok: false, reason: `grpc-status ${grpcStatus ?? 'missing'} (http ${status})` }, true);
        return;
      }
      const st = decodeGrpcHealthStatus(Buffer.concat(chunks));
      finish(st === GRPC_SERVING ? { ok: true } : { ok: false, reason: `serving status ${st}` }, true);
    });
    if (mode === 'grpc' && k.kind === 'grpc') stream.end(encodeGrpcHealthRequest(k.serviceName));
    return () => {
      session.off('error', onSessionError);
      stream.close(http2.constants.NGHTTP2_CANCEL);
      close();
    };
  }
}
