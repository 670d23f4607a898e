// Bench peer: node http-proxy (the classic Node reverse proxy) with a keep-alive agent to the backend.
// Usage: node node-http-proxy.js <listenPort> <upstreamPort>
import http from 'node:http';
import httpProxy from 'http-proxy';

const [listen, upstream] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstream}`, agent, xfwd: false });
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) { res.writeHead(502); res.end(); } else res.destroy();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(listen, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
