// Bench peer: the floor of what Node can do as a proxy — node:http + undici Pool.dispatch (h1), node:http2 both sides
// (h2c and gRPC), a raw node:net pipe (TCP) and a ClientHello-peeking net pipe (TLS passthrough by SNI).
// With a worker count > 1 (h1-50-c2's `minimal-node-x2`) a node:cluster primary forks that many copies sharing the
// listening socket, scheduled like meshlet's --concurrency (SCHED_NONE: each worker accepts itself).
// Usage: node minimal-node.js <h1|h2|tcp|sni> <listenPort> <upstreamPort> [sniName] [workers]
import cluster from 'node:cluster';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Pool, type Dispatcher } from 'undici';

const HOST = '127.0.0.1';
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/** Streams one upstream response into the downstream ServerResponse, with backpressure both ways. */
class PassThroughHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  constructor(private readonly res: http.ServerResponse) {
    res.on('drain', () => this.controller?.resume());
  }
  onRequestStart(controller: Dispatcher.DispatchController): void { this.controller = controller; }
  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    const out: Record<string, string | string[]> = {};
    for (const k in headers) { const v = headers[k]; if (v !== undefined && !HOP.has(k)) out[k] = v; }
    this.res.writeHead(statusCode, statusMessage, out);
  }
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause();
  }
  onResponseEnd(): void { this.res.end(); }
  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (!this.res.headersSent) { this.res.writeHead(502, { 'content-type': 'text/plain' }); this.res.end(`upstream error: ${err.message}`); }
    else this.res.destroy(err);
  }
}

function h1(listen: number, upstream: number): void {
  const pool = new Pool(`http://${HOST}:${upstream}`, { connections: 256, pipelining: 1 });
  const server = http.createServer((req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const k in req.headers) { const v = req.headers[k]; if (v !== undefined && !HOP.has(k)) headers[k] = v; }
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.dispatch({ path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : null }, new PassThroughHandler(res));
  });
  server.keepAliveTimeout = 60_000;
  server.listen(listen, HOST);
}

function h2(listen: number, upstream: number): void {
  let session: http2.ClientHttp2Session | null = null;
  const upstreamSession = (): http2.ClientHttp2Session => {
    if (!session || session.closed || session.destroyed) {
      const s = http2.connect(`http://${HOST}:${upstream}`);
      s.on('error', () => { if (session === s) session = null; });
      s.on('close', () => { if (session === s) session = null; });
      session = s;
    }
    return session;
  };
  const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
  server.on('stream', (down, headers) => {
    const reqHeaders: http2.OutgoingHttpHeaders = {};
    for (const k in headers) { if (!HOP.has(k) || (k === 'te' && headers[k] === 'trailers')) reqHeaders[k] = headers[k]; }
    const up = upstreamSession().request(reqHeaders, { endStream: down.endAfterHeaders });
    if (down.endAfterHeaders) down.resume(); else down.pipe(up);
    let trailers: http2.OutgoingHttpHeaders | null = null;
    up.on('response', (h) => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const k in h) if (!HOP.has(k)) out[k] = h[k];
      if (down.destroyed || down.closed) { up.close(http2.constants.NGHTTP2_CANCEL); return; }
      // only responses that can carry trailers (gRPC, or announced with a `trailer` header) wait for them
      const ct = h['content-type'];
      const wantTrailers = (typeof ct === 'string' && ct.startsWith('application/grpc')) || h.trailer !== undefined;
      down.respond(out, { waitForTrailers: wantTrailers });
      if (wantTrailers) down.on('wantTrailers', () => { try { down.sendTrailers(trailers ?? {}); } catch { down.destroy(); } });
      up.pipe(down);
    });
    up.on('trailers', (h) => { trailers = {}; for (const k in h) trailers[k] = h[k]; });
    up.on('error', () => { if (!down.headersSent && !down.destroyed) { down.respond({ ':status': 502 }); down.end(); } else down.destroy(); });
    down.on('error', () => up.destroy());
    down.on('close', () => { if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL); });
  });
  server.listen(listen, HOST);
}

function pipeBoth(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

function tcp(listen: number, upstream: number): void {
  net.createServer({ noDelay: true }, (down) => {
    pipeBoth(down, net.connect({ host: HOST, port: upstream, noDelay: true }));
  }).listen(listen, HOST);
}

/** SNI from a TLS ClientHello; undefined while incomplete, null when absent or malformed. */
function parseSni(buf: Buffer): string | null | undefined {
  if (buf.length < 5) return undefined;
  if (buf[0] !== 22) return null;
  const recLen = buf.readUInt16BE(3);
  if (buf.length < 5 + recLen) return undefined;
  let p = 5;
  if (buf[p] !== 1) return null; // ClientHello
  p += 4 + 2 + 32; // handshake header, version, random
  p += 1 + buf[p]; // session id
  p += 2 + buf.readUInt16BE(p); // cipher suites
  p += 1 + buf[p]; // compression methods
  const extEnd = p + 2 + buf.readUInt16BE(p);
  p += 2;
  while (p + 4 <= extEnd && p + 4 <= buf.length) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    p += 4;
    if (type === 0) { // server_name: list len(2), type(1), name len(2), name
      const nameLen = buf.readUInt16BE(p + 3);
      return buf.toString('latin1', p + 5, p + 5 + nameLen);
    }
    p += len;
  }
  return null;
}

function sni(listen: number, upstream: number, name: string): void {
  net.createServer({ noDelay: true }, (down) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      let host: string | null | undefined;
      try { host = parseSni(buf); } catch { host = null; }
      if (host === undefined) return;
      down.removeListener('data', onData);
      if (host !== name) { down.destroy(); return; }
      down.pause();
      const up = net.connect({ host: HOST, port: upstream, noDelay: true });
      up.write(buf);
      pipeBoth(down, up);
      down.resume();
    };
    down.on('data', onData);
    down.on('error', () => down.destroy());
  }).listen(listen, HOST);
}

const [mode, listen, upstream, name, workersArg] = process.argv.slice(2);
const workers = Number(workersArg ?? 1);
if (workers > 1 && cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < workers; i++) cluster.fork();
} else if (mode === 'h1') h1(Number(listen), Number(upstream));
else if (mode === 'h2') h2(Number(listen), Number(upstream));
else if (mode === 'tcp') tcp(Number(listen), Number(upstream));
else if (mode === 'sni') sni(Number(listen), Number(upstream), name ?? 'localhost');
else if (mode !== undefined) { process.stderr.write(`unknown mode ${mode}\n`); process.exit(2); }
process.on('SIGTERM', () => process.exit(0));
