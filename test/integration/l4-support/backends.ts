// test program (L4): upstream servers for interception tests, run inside the "backend" network namespace.
// argv[2] = JSON list of {kind: 'echo'|'tls', host, port, tag, cert?, key?}. An echo server answers
// `<tag>:<data>` and, on the client's FIN, writes `<tag>:bye` and ends (half-close made visible). A TLS server
// terminates TLS with its own certificate and answers `<tag>:<data>` on the decrypted stream.
import net from 'node:net';
import tls from 'node:tls';

interface BackendSpec { kind: 'echo' | 'tls'; host: string; port: number; tag: string; cert?: string; key?: string }

const specs = JSON.parse(process.argv[2]) as BackendSpec[];
let ready = 0;
const servers: net.Server[] = [];
for (const s of specs) {
  const onSocket = (sock: net.Socket): void => {
    sock.on('error', () => {});
    process.stdout.write(`${JSON.stringify({ event: 'conn', tag: s.tag, remote: `${sock.remoteAddress}:${sock.remotePort}` })}\n`);
    sock.on('data', (d: Buffer) => sock.write(`${s.tag}:${d.toString()}`));
    sock.on('end', () => sock.end(`${s.tag}:bye`));
  };
  const server = s.kind === 'tls'
    ? tls.createServer({ cert: s.cert, key: s.key, allowHalfOpen: true }, onSocket)
    : net.createServer({ allowHalfOpen: true }, onSocket);
  servers.push(server);
  server.listen(s.port, s.host, () => {
    if (++ready === specs.length) process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
  });
}
process.on('SIGTERM', () => { for (const s of servers) s.close(); process.exit(0); });
