// test/fault: shared pieces of the fault-injection tests (security.md §4.2): a checksum backend (in-process, or as
// its own process so it can be SIGKILLed), a static Envoy bootstrap for meshlet with a JSON access log carrying the
// response flags, and small readers for that log and the admin stats.
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const FILE_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
export const HTTP_OPTS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** Deterministic body of `size` bytes for request `seq`. */
export function bodyFor(seq: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  const seed = createHash('sha256').update(seq).digest();
  for (let i = 0; i < size; i++) b[i] = 97 + (((seed[i % 32] as number) + i) % 26);
  return b;
}

export interface BackendStats { requests: number; inflight: number; maxInflight: number; aborted: number; abortLatencies: number[]; abortsByPrefix: Record<string, number>; requestsByPrefix: Record<string, number> }

/**
 * A backend that answers every request with a deterministic body and `x-checksum` (sha256 hex) + `x-upstream`.
 * Per request: `x-size` (bytes, default 2048), `x-delay-ms`, `x-slow-ms` (this share of requests lasts that long is
 * decided by the client). Globally: `status` (e.g. 503 for all), `delayMs`, `maxConcurrent` (beyond it: 503 from
 * the backend itself), `readBodyBytesPerSec` (slow reader).
 */
export class FaultBackend {
  readonly stats: BackendStats = { requests: 0, inflight: 0, maxInflight: 0, aborted: 0, abortLatencies: [], abortsByPrefix: {}, requestsByPrefix: {} };
  status = 200;
  delayMs = 0;
  maxConcurrent = Infinity;
  port = 0;
  private server!: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(readonly name: string) {}

  static async start(name: string, port = 0, host = '127.0.0.1'): Promise<FaultBackend> {
    const b = new FaultBackend(name);
    b.server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => b.handle(req, res));
    b.server.on('connection', (s: Socket) => { b.sockets.add(s); s.on('close', () => b.sockets.delete(s)); });
    await new Promise<void>((r) => b.server.listen(port, host, () => r()));
    b.port = (b.server.address() as AddressInfo).port;
    return b;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.url?.startsWith('/__stats')) {
      res.end(JSON.stringify(this.stats));
      return;
    }
    if (req.url?.startsWith('/__ctl')) {
      const q = new URL(req.url, 'http://x').searchParams;
      if (q.has('status')) this.status = Number(q.get('status'));
      if (q.has('delay')) this.delayMs = Number(q.get('delay'));
      res.end('ok');
      return;
    }
    if (req.url === '/healthz') {
      res.end('ok');
      return;
    }
    const s = this.stats;
    s.requests++;
    const reqPrefix = String(req.url).split('/')[1] ?? '';
    s.requestsByPrefix[reqPrefix] = (s.requestsByPrefix[reqPrefix] ?? 0) + 1;
    s.inflight++;
    s.maxInflight = Math.max(s.maxInflight, s.inflight);
    let done = false;
    let abortedAt = 0;
    const finish = (): void => { if (!done) { done = true; s.inflight--; } };
    res.on('close', () => {
      if (!res.writableFinished) {
        s.aborted++;
        const prefix = String(req.url).split('/')[1] ?? '';
        s.abortsByPrefix[prefix] = (s.abortsByPrefix[prefix] ?? 0) + 1;
        abortedAt = performance.now();
        const sent = Number(req.headers['x-client-abort-at'] ?? 0);
        if (sent > 0) s.abortLatencies.push(Date.now() - sent);
        void abortedAt;
      }
      finish();
    });
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => (bodyBytes += c.length));
    req.on('error', () => undefined);
    req.on('end', () => {
      if (s.inflight > this.maxConcurrent) {
        res.writeHead(503, { 'x-upstream': this.name, 'content-length': '0' }).end();
        return;
      }
      const delay = Number(req.headers['x-delay-ms'] ?? 0) + this.delayMs;
      const respond = (): void => {
        if (res.destroyed) return;
        if (this.status !== 200) {
          res.writeHead(this.status, { 'x-upstream': this.name, 'content-length': '0' }).end();
          return;
        }
        const body = bodyFor(String(req.headers['x-load-seq'] ?? req.url), Number(req.headers['x-size'] ?? 2048));
        res.writeHead(200, {
          'x-upstream': this.name, 'x-checksum': createHash('sha256').update(body).digest('hex'),
          'x-request-body-bytes': String(bodyBytes), 'content-length': String(body.length), 'content-type': 'application/octet-stream',
        });
        res.end(body);
      };
      if (delay > 0) {
        const t = setTimeout(() => { this.timers.delete(t); respond(); }, delay);
        this.timers.add(t);
      } else respond();
    });
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Path of the script that runs a FaultBackend as its own process (argv: name, port, host). */
export function backendScript(): string {
  return fileURLToPath(new URL('./fault-backend-main.js', import.meta.url));
}

/** A FaultBackend in its own Node process (so the test can SIGKILL it like a crashed pod). */
export class BackendProcess {
  private constructor(readonly child: ChildProcess, readonly port: number, readonly name: string) {}

  static async start(name: string, port = 0): Promise<BackendProcess> {
    const child = spawn(process.execPath, [backendScript(), name, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const p = await new Promise<number>((res, rej) => {
      let out = '';
      const t = setTimeout(() => { child.kill('SIGKILL'); rej(new Error(`backend ${name} did not start`)); }, 10_000);
      child.stdout!.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const m = /^port (\d+)$/m.exec(out);
        if (m) { clearTimeout(t); res(Number(m[1])); }
      });
      child.once('exit', (code) => { clearTimeout(t); rej(new Error(`backend ${name} exited ${code}`)); });
    });
    return new BackendProcess(child, p, name);
  }

  async kill9(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  async stats(): Promise<BackendStats> {
    const r = await fetch(`http://127.0.0.1:${this.port}/__stats`);
    return (await r.json()) as BackendStats;
  }
}

// -------------------------------------------------------------------------------------------- meshlet bootstrap

export interface FaultCluster {
  readonly name: string;
  readonly ports: readonly number[];
  /** Extra Cluster fields (canonical JSON form: durations as strings like '1s' are fine in bootstrap YAML/JSON). */
  readonly extra?: Record<string, unknown>;
  readonly http2?: boolean;
}

/** A static bootstrap: admin on 127.0.0.1:0, one HTTP listener on `port` routing everything per `routes`. */
export function staticBootstrap(o: {
  port: number;
  clusters: readonly FaultCluster[];
  routes: readonly Record<string, unknown>[];
  accessLog: string;
  hcm?: Record<string, unknown>;
  /** Extra Listener fields, e.g. { traffic_direction: 'INBOUND' } (only INBOUND listeners drain on SIGTERM). */
  listener?: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    node: { id: 'fault-node', cluster: 'fault' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: 'ingress',
        address: { socket_address: { address: '127.0.0.1', port_value: o.port } },
        ...o.listener,
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: 'ingress',
              route_config: { name: 'local', virtual_hosts: [{ name: 'all', domains: ['*'], routes: o.routes }] },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
              access_log: [{
                name: 'envoy.access_loggers.file',
                typed_config: {
                  '@type': FILE_LOG, path: o.accessLog,
                  log_format: { json_format: {
                    seq: '%REQ(X-LOAD-SEQ)%', path: '%REQ(:PATH)%', code: '%RESPONSE_CODE%', flags: '%RESPONSE_FLAGS%', host: '%UPSTREAM_HOST%',
                    attempts: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%', duration: '%DURATION%', method: '%REQ(:METHOD)%',
                  } },
                },
              }],
              ...o.hcm,
            },
          }],
        }],
      }],
      clusters: o.clusters.map((c) => ({
        name: c.name,
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: {
          cluster_name: c.name,
          endpoints: [{ lb_endpoints: c.ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
        },
        ...(c.http2 ? { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HTTP_OPTS, explicit_http_config: { http2_protocol_options: {} } } } } : {}),
        ...c.extra,
      })),
    },
  };
}

export interface AccessLogEntry { seq: string; path: string; code: string | number; flags: string; host: string; attempts: string | number; duration: string | number; method: string }

/** Parses the JSON access log written by staticBootstrap (missing file → []). */
export function readAccessLog(path: string): AccessLogEntry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AccessLogEntry);
}

/** Counts of access-log entries by `code flags`. */
export function logClasses(entries: readonly AccessLogEntry[]): Record<string, number> {
  const m: Record<string, number> = {};
  for (const e of entries) {
    const k = `${e.code} ${e.flags}`;
    m[k] = (m[k] ?? 0) + 1;
  }
  return m;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Warm meshlet up (JIT, first connections) with `n` requests, 8 at a time, before a measured run; results ignored. */
export async function warmUp(port: number, n = 200, path = '/warmup'): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < n) {
      next++;
      await fetch(`http://127.0.0.1:${port}${path}/${next}`).then((r) => r.arrayBuffer()).catch(() => undefined);
    }
  }));
}
