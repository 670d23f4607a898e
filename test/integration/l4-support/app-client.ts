// test program (L4): the "application" in the pod namespace. Connects to host:port (plain TCP or TLS with the CA
// from $ML_CA_PEM and the given SNI, verifying the server certificate), writes a message, half-closes after the
// echo, reads until the server ends, and prints one JSON result line. argv[2] = JSON {mode, host, port, sni?}.
import net from 'node:net';
import tls from 'node:tls';

interface Req { mode: 'tcp' | 'tls'; host: string; port: number; sni?: string; message?: string }

const req = JSON.parse(process.argv[2]) as Req;
const message = req.message ?? 'ping';
const out = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
const timer = setTimeout(() => { out({ ok: false, error: 'client timed out' }); process.exit(2); }, 15_000);

const sock: net.Socket = req.mode === 'tls'
  ? tls.connect({ host: req.host, port: req.port, servername: req.sni, ca: process.env.ML_CA_PEM, allowHalfOpen: true } as tls.ConnectionOptions)
  : net.connect({ host: req.host, port: req.port, allowHalfOpen: true });
const chunks: Buffer[] = [];
let peer: Record<string, unknown> = {};
sock.on(req.mode === 'tls' ? 'secureConnect' : 'connect', () => {
  if (req.mode === 'tls') {
    const t = sock as tls.TLSSocket;
    const cert = t.getPeerCertificate();
    peer = { authorized: t.authorized, subjectaltname: cert.subjectaltname, protocol: t.getProtocol() };
  }
  sock.write(message);
});
sock.on('data', (d: Buffer) => {
  chunks.push(d);
  // Half-close once the echo of our message is back; the server's reply to our FIN must still arrive.
  if (!sock.writableEnded && Buffer.concat(chunks).toString().includes(message)) sock.end();
});
sock.on('end', () => {
  clearTimeout(timer);
  out({ ok: true, data: Buffer.concat(chunks).toString(), local: `${sock.localAddress}:${sock.localPort}`, ...peer });
  sock.destroy();
});
sock.on('error', (err) => { clearTimeout(timer); out({ ok: false, error: err.message, code: (err as NodeJS.ErrnoException).code }); process.exit(1); });
