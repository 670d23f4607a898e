// test program (L4): upstream servers for interception tests, run inside a network namespace (the backends, or the
// pod's own application). argv[2] = JSON list of {kind: 'echo'|'tls'|'http'|'https', host, port, tag, cert?, key?}.
// An echo server answers `<tag>:<data>` and, on the client's FIN, writes `<tag>:bye` and ends (half-close made
// visible). A TLS server terminates TLS with its own certificate and answers `<tag>:<data>` on the decrypted
// stream. HTTP(S) servers answer JSON {tag, method, path, host, remote}. Every accepted connection is printed as
// a JSON `conn` event with the remote address the server saw.
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import https from 'node:https';

interface BackendSpec { kind: 'echo' | 'tls' | 'http' | 'https'; host: string; port: number; tag: string; cert?: string; key?: string }

const specs = JSON.parse(process.argv[2]) as BackendSpec[];
let ready = 0;
const servers: net.Server[] = [];
const emit = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
for (const s of specs) {
  const onConn = (sock: net.Socket): void => {
    sock.on('error', () => {});
    emit({ event: 'conn', tag: s.tag, remote: `${sock.remoteAddress}:${sock.remotePort}`, local: `${sock.localAddress}:${sock.localPort}` });
  };
  const onSocket = (sock: net.Socket): void => {
    onConn(sock);
    sock.on('data', (d: Buffer) => sock.write(`${s.tag}:${d.toString()}`));
    sock.on('end', () => sock.end(`${s.tag}:bye`));
  };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ tag: s.tag, method: req.method, path: req.url, host: req.headers.host, remote: req.socket.remoteAddress }));
    });
  };
  let server: net.Server;
  if (s.kind === 'tls') server = tls.createServer({ cert: s.cert, key: s.key, allowHalfOpen: true }, onSocket);
  else if (s.kind === 'echo') server = net.createServer({ allowHalfOpen: true }, onSocket);
  else {
    const h = s.kind === 'https' ? https.createServer({ cert: s.cert, key: s.key }, onRequest) : http.createServer(onRequest);
    h.on(s.kind === 'https' ? 'secureConnection' : 'connection', onConn);
    server = h;
  }
  servers.push(server);
  server.listen(s.port, s.host, () => {
    if (++ready === specs.length) emit({ event: 'ready' });
  });
}
process.on('SIGTERM', () => { for (const s of servers) s.close(); process.exit(0); });
