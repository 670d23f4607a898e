// Bench fallback load generator for the wrk scenarios when wrk is not installed (e.g. a bare CI image): N keep-alive
// HTTP/1.1 connections (optionally TLS with SNI), one request in flight each. Far less efficient than wrk, so its
// figures are only good for the smoke test. Prints one JSON LoadResult line on stdout.
// Usage: node h1-load.js <http|https> <host> <port> <durationS> <connections>
import net from 'node:net';
import tls from 'node:tls';
import { percentileSorted } from '../lib/stats.js';

const [scheme, host, portS, durS, connS] = process.argv.slice(2);
const port = Number(portS);
const durationMs = Number(durS) * 1000;
const connections = Number(connS) || 1;
const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
const latencies: number[] = [];
let errors = 0;
let running = true;
let open = 0;
const started = process.hrtime.bigint();

/** Length of the first complete response in buf, or -1 while incomplete; sets lastStatus. */
let lastStatus = 0;
function responseLength(buf: Buffer): number {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return -1;
  const head = buf.toString('latin1', 0, end);
  lastStatus = Number(head.slice(9, 12));
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) {
    const total = end + 4 + Number(cl[1]);
    return buf.length >= total ? total : -1;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const last = buf.indexOf('0\r\n\r\n', end + 4);
    return last < 0 ? -1 : last + 5;
  }
  return end + 4;
}

function connect(): void {
  const sock = scheme === 'https'
    ? tls.connect({ host: '127.0.0.1', port, servername: host, rejectUnauthorized: false })
    : net.connect({ host: '127.0.0.1', port });
  open++;
  let sentAt = process.hrtime.bigint();
  let buf: Buffer = Buffer.alloc(0);
  sock.setNoDelay(true);
  sock.on(scheme === 'https' ? 'secureConnect' : 'connect', () => { sentAt = process.hrtime.bigint(); sock.write(request); });
  sock.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    for (;;) {
      const n = responseLength(buf);
      if (n < 0) break;
      const now = process.hrtime.bigint();
      latencies.push(Number(now - sentAt) / 1e6);
      if (lastStatus < 200 || lastStatus >= 400) errors++;
      buf = buf.subarray(n);
      if (!running) { sock.end(); return; }
      sentAt = now;
      sock.write(request);
    }
  });
  sock.on('error', () => { errors++; });
  sock.on('close', () => { if (--open === 0) finish(); });
}

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = Float64Array.from(latencies).sort();
  process.stdout.write(`${JSON.stringify({
    requests: latencies.length, durationS: elapsedS, rps: latencies.length / elapsedS,
    p50Ms: percentileSorted(sorted, 50), p99Ms: percentileSorted(sorted, 99), errors,
  })}\n`);
  process.exit(0);
}

for (let i = 0; i < connections; i++) connect();
setTimeout(() => { running = false; }, durationMs);
setTimeout(() => finish(), durationMs + 5_000).unref();
