// test program (L4): the "application" in the pod namespace. argv[2] = JSON request:
//  {mode: 'tcp'|'tls', host, port, sni?, message?}: connects (TLS verifying the server certificate against the CA in
//    $ML_CA_PEM), writes a message, half-closes after the echo, reads until the server ends;
//  {mode: 'http', url}: one GET (https verifies against $ML_CA_PEM; names resolve through the namespace's hosts file).
// Prints one JSON result line.
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import https from 'node:https';

interface Req { mode: 'tcp' | 'tls' | 'http'; host?: string; port?: number; sni?: string; message?: string; url?: string }

const req = JSON.parse(process.argv[2]) as Req;
const message = req.message ?? 'ping';
const out = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };
const timer = setTimeout(() => { out({ ok: false, error: 'client timed out' }); process.exit(2); }, 15_000);

if (req.mode === 'http') {
  const url = new URL(req.url!);
  const mod = url.protocol === 'https:' ? https : http;
  const r = mod.get(url, { agent: false, ca: process.env.ML_CA_PEM, headers: { connection: 'close' } }, (res) => {
    let peer: Record<string, unknown> = {};
    if (url.protocol === 'https:') {
      const t = res.socket as tls.TLSSocket;
      peer = { authorized: t.authorized, subjectaltname: t.getPeerCertificate().subjectaltname };
    }
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => { body += c; });
    res.on('end', () => {
      clearTimeout(timer);
      out({ ok: true, status: res.statusCode, body, ...peer });
    });
  });
  r.on('error', (err) => { clearTimeout(timer); out({ ok: false, error: err.message, code: (err as NodeJS.ErrnoException).code }); process.exit(1); });
} else {
  const sock: net.Socket = req.mode === 'tls'
    ? tls.connect({ host: req.host, port: req.port, servername: req.sni, ca: process.env.ML_CA_PEM, allowHalfOpen: true } as tls.ConnectionOptions)
    : net.connect({ host: req.host!, port: req.port!, allowHalfOpen: true });
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
}
