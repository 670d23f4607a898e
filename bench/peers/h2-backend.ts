// Bench backend for h2c and gRPC scenarios: a node:http2 cleartext server answering GET with the 13-byte body,
// gRPC unary calls with one 13-byte message, and gRPC bidi streams by echoing every message.
// Usage: node h2-backend.js <port>
import http2 from 'node:http2';

const BODY = Buffer.from('Hello, World!');
const UNARY_REPLY = (() => {
  const b = Buffer.alloc(5 + BODY.length);
  b.writeUInt32BE(BODY.length, 1);
  BODY.copy(b, 5);
  return b;
})();

function onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  stream.on('error', () => { /* client went away */ });
  const ct = headers['content-type'];
  if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': BODY.length });
    stream.end(BODY);
    stream.resume();
    return;
  }
  const path = headers[':path'] ?? '';
  if (path.endsWith('/Stream')) {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    // echo whole frames back as they complete
    let pending: Buffer | null = null;
    stream.on('data', (chunk: Buffer) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      let off = 0;
      while (buf.length - off >= 5) {
        const len = buf.readUInt32BE(off + 1);
        if (buf.length - off < 5 + len) break;
        stream.write(buf.subarray(off, off + 5 + len));
        off += 5 + len;
      }
      buf = buf.subarray(off);
      pending = buf.length > 0 ? Buffer.from(buf) : null;
    });
    stream.on('end', () => stream.end());
    return;
  }
  stream.resume();
  stream.on('end', () => {
    // the client (or a proxy winding down at the end of a run) may have reset the stream meanwhile
    if (stream.destroyed || stream.closed) return;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(UNARY_REPLY);
  });
}

const port = Number(process.argv[2]);
const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on('stream', onStream);
server.on('sessionError', () => { /* ignore */ });
// a benchmark backend must outlive one bad stream: report, keep serving
process.on('uncaughtException', (e) => { process.stderr.write(`h2-backend: ${e.stack ?? e.message}\n`); });
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
process.on('SIGTERM', () => process.exit(0));
