// Bench load generator for grpc-stream: @grpc/grpc-js bidi streams doing ping-pong (one message in flight per
// stream); each echoed message counts as one request. Prints one JSON LoadResult line on stdout.
// Usage: node grpc-stream-load.js <port> <durationS> <streams>
import * as grpc from '@grpc/grpc-js';
import { percentileSorted } from '../lib/stats.js';

const [portS, durS, streamsS] = process.argv.slice(2);
const durationMs = Number(durS) * 1000;
const streams = Number(streamsS) || 10;
const identity = (b: Buffer): Buffer => b;
const Client = grpc.makeGenericClientConstructor({
  Stream: {
    path: '/bench.Echo/Stream', requestStream: true, responseStream: true,
    requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
  },
}, 'Echo');
const client = new Client(`127.0.0.1:${portS}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
  Stream(): grpc.ClientDuplexStream<Buffer, Buffer>;
};
const payload = Buffer.from('Hello, World!');
const latencies: number[] = [];
let errors = 0;
let running = true;
let open = 0;
const started = process.hrtime.bigint();

function startStream(): void {
  const call = client.Stream();
  open++;
  let sentAt = process.hrtime.bigint();
  call.on('data', () => {
    const now = process.hrtime.bigint();
    latencies.push(Number(now - sentAt) / 1e6);
    if (running) { sentAt = now; call.write(payload); } else call.end();
  });
  call.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) errors++; });
  call.on('close', () => { if (--open === 0) finish(); });
  call.on('end', () => { /* drained */ });
  call.write(payload);
}

function finish(): void {
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = Float64Array.from(latencies).sort();
  const result = {
    requests: latencies.length,
    durationS: elapsedS,
    rps: latencies.length / elapsedS,
    p50Ms: percentileSorted(sorted, 50),
    p99Ms: percentileSorted(sorted, 99),
    errors,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  client.close();
  process.exit(0);
}

for (let i = 0; i < streams; i++) startStream();
setTimeout(() => { running = false; }, durationMs);
// hard bound: whatever happens, report and exit
setTimeout(() => { errors += open; finish(); }, durationMs + 10_000).unref();
