// upstream/: active health checking for one cluster (Envoy HealthCheckerImplBase): one session per host with its
// own timer; HTTP (node:http / node:http2), TCP (send/receive payloads) and gRPC (grpc.health.v1.Health/Check over
// node:http2). Healthy/unhealthy thresholds, interval + jitter, timeout, no_traffic_interval, unhealthy_interval and
// edge intervals. Results set/clear the host's failed_active_hc flag; `onChange` lets the cluster rebuild its set.
import http from 'node:http';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { HealthCheckConfig, UpstreamTlsConfig } from '../config/cluster.js';
import type { UpstreamHost } from './upstream-host.js';
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
  constructor(readonly host: UpstreamHost) {}
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

function tlsConnectOptions(t: UpstreamTlsConfig, host: string): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = { servername: t.sni || (net.isIP(host) ? undefined : host), rejectUnauthorized: t.trustedCa !== null };
  if (t.trustedCa) o.ca = t.trustedCa;
  if (t.certificateChain) o.cert = t.certificateChain;
  if (t.privateKey) o.key = t.privateKey;
  if (t.alpn.length) o.ALPNProtocols = [...t.alpn];
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

  private stopSession(s: HostSession): void {
    s.stopped = true;
    if (s.timer !== null) this.deps.timers.clearTimeout(s.timer);
    s.timer = null;
    s.inFlight?.();
    s.inFlight = null;
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
      finish({ ok: false, reason: 'timeout' });
    }, this.config.timeoutMs);
    const cancel = this.check(s.host, finish);
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
  private check(host: UpstreamHost, done: (r: CheckResult) => void): () => void {
    const k = this.config.check;
    const address = host.address;
    const port = host.healthCheckPort;
    switch (k.kind) {
      case 'tcp': return this.tcpCheck(address, port, host.pipe, k.send, k.receive, done);
      case 'http': return k.codec === 'http2' ? this.h2Check(host, done, 'http') : this.h1Check(host, done);
      case 'grpc': return this.h2Check(host, done, 'grpc');
    }
  }

  private tcpCheck(address: string, port: number, pipe: string | undefined, send: Buffer | null, receive: readonly Buffer[], done: (r: CheckResult) => void): () => void {
    const t = this.deps.tls;
    const sock: net.Socket = t
      ? tls.connect({ ...(pipe ? { path: pipe } : { host: address, port }), ...tlsConnectOptions(t, address) })
      : pipe ? net.connect({ path: pipe }) : net.connect({ host: address, port });
    let buf = Buffer.alloc(0);
    const matches = (): boolean => {
      let idx = 0;
      for (const r of receive) {
        const at = buf.indexOf(r, idx);
        if (at < 0) return false;
        idx = at + r.length;
      }
      return true;
    };
    sock.once(t ? 'secureConnect' : 'connect', () => {
      if (send) sock.write(send);
      if (receive.length === 0) {
        sock.destroy();
        done({ ok: true });
      }
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (matches()) {
        sock.destroy();
        done({ ok: true });
      }
    });
    sock.on('error', (e) => done({ ok: false, reason: `connect: ${e.message}` }));
    sock.on('close', () => done({ ok: false, reason: 'connection closed before the expected payload' }));
    return () => sock.destroy();
  }

  private authority(): string {
    const k = this.config.check;
    if (k.kind === 'http' && k.host) return k.host;
    if (k.kind === 'grpc' && k.authority) return k.authority;
    return this.deps.clusterName;
  }

  private h1Check(host: UpstreamHost, done: (r: CheckResult) => void): () => void {
    const k = this.config.check;
    if (k.kind !== 'http') return () => {};
    const headers: Record<string, string | string[]> = { host: this.authority(), 'user-agent': 'Envoy/HC', connection: 'close' };
    for (const h of k.requestHeadersToAdd) {
      const cur = headers[h.name];
      headers[h.name] = h.append && cur !== undefined ? [...(Array.isArray(cur) ? cur : [cur]), h.value] : h.value;
    }
    for (const n of k.requestHeadersToRemove) delete headers[n];
    const t = this.deps.tls;
    const base = { method: k.method, path: k.path, headers, ...(host.pipe ? { socketPath: host.pipe } : { host: host.address, port: host.healthCheckPort }) };
    const req = t ? https.request({ ...base, ...tlsConnectOptions(t, host.address) } as https.RequestOptions) : http.request(base);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      res.on('error', () => {});
      const ok = k.expectedStatuses.some(([s, e]) => status >= s && status < e);
      const immediate = res.headers['x-envoy-immediate-health-check-fail'] !== undefined;
      done(ok && !immediate ? { ok: true } : { ok: false, reason: `status ${status}`, immediate });
    });
    req.on('error', (e) => done({ ok: false, reason: e.message }));
    req.end();
    return () => req.destroy();
  }

  private h2Check(host: UpstreamHost, done: (r: CheckResult) => void, mode: 'http' | 'grpc'): () => void {
    const k = this.config.check;
    const t = this.deps.tls;
    const scheme = t ? 'https' : 'http';
    const addr = host.address.includes(':') ? `[${host.address}]` : host.address;
    const session = http2.connect(`${scheme}://${addr}:${host.healthCheckPort}`, t ? { ...tlsConnectOptions(t, host.address), ALPNProtocols: ['h2'] } : {});
    const close = (): void => {
      session.close();
      session.destroy();
    };
    session.on('error', (e) => done({ ok: false, reason: e.message }));
    const headers: http2.OutgoingHttpHeaders = { ':authority': this.authority(), 'user-agent': 'Envoy/HC' };
    if (mode === 'grpc') {
      Object.assign(headers, { ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    } else if (k.kind === 'http') {
      Object.assign(headers, { ':method': k.method, ':path': k.path });
      for (const h of k.requestHeadersToAdd) headers[h.name] = h.value;
      for (const n of k.requestHeadersToRemove) delete headers[n];
    }
    const stream = session.request(headers, { endStream: mode !== 'grpc' });
    stream.on('error', (e) => {
      close();
      done({ ok: false, reason: e.message });
    });
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
      close();
      if (mode === 'http') {
        const ok = k.kind === 'http' && k.expectedStatuses.some(([s, e]) => status >= s && status < e);
        done(ok ? { ok: true } : { ok: false, reason: `status ${status}` });
        return;
      }
      if (status !== 200 || grpcStatus !== '0') {
        done({ ok: false, reason: `grpc-status ${grpcStatus ?? 'missing'} (http ${status})` });
        return;
      }
      const st = decodeGrpcHealthStatus(Buffer.concat(chunks));
      done(st === GRPC_SERVING ? { ok: true } : { ok: false, reason: `serving status ${st}` });
    });
    if (mode === 'grpc' && k.kind === 'grpc') stream.end(encodeGrpcHealthRequest(k.serviceName));
    return close;
  }
}
