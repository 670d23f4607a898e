// test/support: real upstream servers for data-plane tests — HTTP/1.1 and HTTP/2 (cleartext or TLS) echo backends
// that report what they received (method, path, headers, body) and can be told to fail, delay or reset, and a gRPC
// Echo service (proto/test/echo.proto) with unary, server-, client- and bidi-streaming methods.
import http from 'node:http';
import http2 from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly protocol: 'HTTP/1.1' | 'HTTP/2';
}

/** What a backend does for one request. Also steerable per request with x-echo-status / x-echo-delay-ms / x-echo-reset. */
export interface Behaviour {
  readonly status?: number;
  readonly delayMs?: number;
  /** Destroy the connection (HTTP/1) or RST the stream (HTTP/2) without answering. */
  readonly reset?: boolean;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Send headers, then wait this long before the body (for idle/route-timeout-after-headers cases). */
  readonly bodyDelayMs?: number;
}

export interface EchoUpstreamOptions {
  readonly name: string;
  readonly protocol?: 'http1' | 'http2';
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca?: string; readonly requestCert?: boolean };
}

export class EchoUpstream {
  readonly requests: SeenRequest[] = [];
  /** Per-request program; return undefined for the default 200 echo. */
  behave: ((req: SeenRequest, n: number) => Behaviour | undefined) | null = null;
  private server!: http.Server | http2.Http2Server | http2.Http2SecureServer;
  private readonly sockets = new Set<import('node:net').Socket>();
  private timers = new Set<NodeJS.Timeout>();
  port = 0;

  private constructor(readonly opts: EchoUpstreamOptions) {}

  static async start(opts: EchoUpstreamOptions): Promise<EchoUpstream> {
    const u = new EchoUpstream(opts);
    await u.listen();
    return u;
  }

  /** Respond `status` to the next `n` requests, then behave normally. */
  failNext(n: number, status = 503): void {
    let left = n;
    this.behave = () => (left-- > 0 ? { status } : undefined);
  }

  private async listen(): Promise<void> {
    const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers = req.headers as IncomingHttpHeaders;
        const seen: SeenRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          authority: String(headers[':authority'] ?? headers.host ?? ''),
          headers,
          body: Buffer.concat(chunks).toString('utf8'),
          protocol: req.httpVersion === '2.0' ? 'HTTP/2' : 'HTTP/1.1',
        };
        this.requests.push(seen);
        const b: Behaviour = this.behave?.(seen, this.requests.length) ?? {};
        const status = b.status ?? (headers['x-echo-status'] ? Number(headers['x-echo-status']) : 200);
        const delay = b.delayMs ?? (headers['x-echo-delay-ms'] ? Number(headers['x-echo-delay-ms']) : 0);
        const reset = b.reset ?? headers['x-echo-reset'] !== undefined;
        const respond = (): void => {
          if (reset) {
            if ('stream' in req && req.stream) (req as http2.Http2ServerRequest).stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
            else (req as http.IncomingMessage).socket.destroy();
            return;
          }
          const body = b.body ?? JSON.stringify({ server: this.opts.name, method: seen.method, path: seen.path, authority: seen.authority, headers: seen.headers, body: seen.body });
          const out: Record<string, string> = { 'content-type': 'application/json', 'x-upstream': this.opts.name, ...b.headers };
          if (b.bodyDelayMs) {
            (res as http.ServerResponse).writeHead(status, out);
            (res as http.ServerResponse).flushHeaders?.();
            this.later(b.bodyDelayMs, () => res.end(body));
            return;
          }
          out['content-length'] = String(Buffer.byteLength(body));
          (res as http.ServerResponse).writeHead(status, out);
          res.end(body);
        };
        if (delay > 0) this.later(delay, respond);
        else respond();
      });
    };
    const proto = this.opts.protocol ?? 'http1';
    if (proto === 'http2') {
      this.server = this.opts.tls
        ? http2.createSecureServer({ cert: this.opts.tls.cert, key: this.opts.tls.key, ca: this.opts.tls.ca, requestCert: this.opts.tls.requestCert, rejectUnauthorized: this.opts.tls.requestCert ?? false, allowHTTP1: true }, handler)
        : http2.createServer({}, handler);
    } else {
      this.server = http.createServer({ keepAliveTimeout: 60_000 }, handler);
      if (this.opts.tls) {
        const https = await import('node:https');
        this.server = https.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key, ca: this.opts.tls.ca, requestCert: this.opts.tls.requestCert, rejectUnauthorized: this.opts.tls.requestCert ?? false }, handler);
      }
      (this.server as http.Server).on('upgrade', (req: http.IncomingMessage, socket: import('node:net').Socket) => {
        // Minimal WebSocket-ish upgrade: 101, then echo every byte back prefixed by the backend name once.
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\nx-upstream: ${this.opts.name}\r\n\r\n`);
        socket.write(`hello from ${this.opts.name}\n`);
        socket.on('data', (d) => socket.write(d));
        socket.on('error', () => undefined);
      });
    }
    this.server.on('connection', (s: import('node:net').Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', (s: import('node:net').Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

// ------------------------------------------------------------------------------------------------ gRPC echo

export function echoProtoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'proto', 'test', 'echo.proto');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error('proto/test/echo.proto not found');
}

export interface EchoRequest { message?: string; fail_code?: number; fail_message?: string; delay_ms?: number; count?: number }
export interface EchoResponse { message: string; server: string; metadata: string[]; deadline_ms: string | number; index: number }

/** The loaded meshlet.test.Echo service definition (client constructor + service). */
export function loadEcho(): { Client: grpc.ServiceClientConstructor; service: grpc.ServiceDefinition } {
  const def = protoLoader.loadSync(echoProtoPath(), { keepCase: true, longs: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { meshlet: { test: { Echo: grpc.ServiceClientConstructor } } };
  return { Client: pkg.meshlet.test.Echo, service: pkg.meshlet.test.Echo.service };
}

function metaLines(md: grpc.Metadata): string[] {
  return Object.entries(md.getMap()).map(([k, v]) => `${k}: ${String(v)}`);
}

function deadlineMs(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>): number {
  const d = call.getDeadline();
  if (d === Infinity || d === undefined) return -1;
  const t = d instanceof Date ? d.getTime() : Number(d);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : -1;
}

export class GrpcEchoUpstream {
  port = 0;
  readonly calls: { method: string; metadata: string[] }[] = [];
  private readonly server = new grpc.Server();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(readonly name: string) {}

  static async start(name: string): Promise<GrpcEchoUpstream> {
    const u = new GrpcEchoUpstream(name);
    await u.listen();
    return u;
  }

  private after(ms: number, fn: () => void): void {
    if (!ms) return fn();
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async listen(): Promise<void> {
    const { service } = loadEcho();
    const name = this.name;
    const fail = (req: EchoRequest): grpc.ServiceError | null =>
      req.fail_code ? Object.assign(new Error(req.fail_message ?? ''), { code: req.fail_code, details: req.fail_message ?? '', metadata: new grpc.Metadata() }) as grpc.ServiceError : null;
    this.server.addService(service, {
      Unary: (call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) => {
        this.calls.push({ method: 'Unary', metadata: metaLines(call.metadata) });
        const req = call.request;
        this.after(req.delay_ms ?? 0, () => {
          const trailer = new grpc.Metadata();
          trailer.set('x-trailer', 'unary');
          const err = fail(req);
          if (err) return cb(err, null, trailer);
          cb(null, { message: req.message ?? '', server: name, metadata: metaLines(call.metadata), deadline_ms: deadlineMs(call), index: 0 }, trailer);
        });
      },
      ServerStream: (call: grpc.ServerWritableStream<EchoRequest, EchoResponse>) => {
        this.calls.push({ method: 'ServerStream', metadata: metaLines(call.metadata) });
        const req = call.request;
        const n = req.count || 3;
        for (let i = 0; i < n; i++) call.write({ message: `${req.message}#${i}`, server: name, metadata: [], deadline_ms: -1, index: i });
        const err = fail(req);
        if (err) call.destroy(err);
        else {
          const t = new grpc.Metadata();
          t.set('x-trailer', 'server-stream');
          call.end(t);
        }
      },
      ClientStream: (call: grpc.ServerReadableStream<EchoRequest, EchoResponse>, cb: grpc.sendUnaryData<EchoResponse>) => {
        this.calls.push({ method: 'ClientStream', metadata: metaLines(call.metadata) });
        const msgs: string[] = [];
        call.on('data', (r: EchoRequest) => msgs.push(r.message ?? ''));
        call.on('end', () => cb(null, { message: msgs.join(','), server: name, metadata: [], deadline_ms: -1, index: msgs.length }));
      },
      Bidi: (call: grpc.ServerDuplexStream<EchoRequest, EchoResponse>) => {
        this.calls.push({ method: 'Bidi', metadata: metaLines(call.metadata) });
        let i = 0;
        call.on('data', (r: EchoRequest) => call.write({ message: `echo:${r.message}`, server: name, metadata: [], deadline_ms: -1, index: i++ }));
        call.on('end', () => {
          const t = new grpc.Metadata();
          t.set('x-trailer', 'bidi');
          call.end(t);
        });
      },
    });
    this.port = await new Promise<number>((res, rej) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server.forceShutdown();
  }
}
