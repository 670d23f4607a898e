// Bench harness: loopback helpers — free ports, waiting for a listener, and one-request probes that prove a target
// actually passes traffic before it is measured.
import net from 'node:net';
import http from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';

export const HOST = '127.0.0.1';
export const BODY = 'Hello, World!'; // the 13-byte backend body

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    const done = (ok: boolean): void => { s.destroy(); resolve(ok); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/** Polls until something accepts on the port; false after timeoutMs or when `alive()` turns false. */
export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean = () => true): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) return false;
    if (await tryConnect(port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export type ProbeKind = 'h1' | 'h2' | 'grpc' | 'tls';

/** One request through the target; resolves to null on success or to the reason it failed. */
export function probe(kind: ProbeKind, port: number, timeoutMs = 3000): Promise<string | null> {
  const p = kind === 'h1' ? probeH1(port) : kind === 'tls' ? probeTls(port) : probeH2(port, kind === 'grpc');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => { timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function probeH1(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path: '/', agent: false, headers: { host: 'bench.local' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => {
        resolve(res.statusCode === 200 && body === BODY ? null : `HTTP/1.1 probe got ${res.statusCode} ${JSON.stringify(body.slice(0, 80))}`);
      });
    });
    req.on('error', (e) => resolve(`HTTP/1.1 probe: ${e.message}`));
  });
}

function probeTls(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: HOST, port, servername: 'localhost', rejectUnauthorized: false }, () => {
      s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    let data = '';
    s.setEncoding('utf8').on('data', (d: string) => { data += d; });
    s.on('end', () => resolve(/^HTTP\/1\.1 200/.test(data) && data.endsWith(BODY) ? null : `TLS probe got ${JSON.stringify(data.slice(0, 80))}`));
    s.on('error', (e) => resolve(`TLS probe: ${e.message}`));
  });
}

/** A gRPC message frame: 0 (uncompressed), 4-byte length, payload. */
export function grpcFrame(payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + payload.length);
  b[0] = 0;
  b.writeUInt32BE(payload.length, 1);
  payload.copy(b, 5);
  return b;
}

function probeH2(port: number, grpc: boolean): Promise<string | null> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://${HOST}:${port}`);
    const finish = (r: string | null): void => { session.close(); session.destroy(); resolve(r); };
    session.on('error', (e) => finish(`h2 probe: ${e.message}`));
    const headers: http2.OutgoingHttpHeaders = grpc
      ? { ':method': 'POST', ':path': '/bench.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers' }
      : { ':method': 'GET', ':path': '/' };
    const st = session.request(headers, { endStream: !grpc });
    if (grpc) st.end(grpcFrame(Buffer.from(BODY)));
    let status = 0;
    let grpcStatus: string | undefined;
    const chunks: Buffer[] = [];
    st.on('response', (h) => { status = Number(h[':status']); grpcStatus = h['grpc-status'] as string | undefined; });
    st.on('trailers', (h) => { grpcStatus = h['grpc-status'] as string | undefined; });
    st.on('data', (d: Buffer) => chunks.push(d));
    st.on('error', (e) => finish(`h2 probe: ${e.message}`));
    st.on('end', () => {
      const body = Buffer.concat(chunks);
      if (status !== 200) return finish(`h2 probe got status ${status}`);
      if (grpc) return finish(grpcStatus === '0' && body.length === 5 + BODY.length ? null : `gRPC probe got grpc-status ${grpcStatus} and ${body.length} bytes`);
      finish(body.toString() === BODY ? null : `h2 probe got ${JSON.stringify(body.toString().slice(0, 80))}`);
    });
  });
}
