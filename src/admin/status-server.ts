// admin/: Istio's readiness port (`:15021/healthz/ready`, normally pilot-agent's) served by meshlet itself when the
// node metadata carries ENVOY_STATUS_PORT or --status-port is given. 200 once the server is LIVE (the lifecycle
// caches "ready once", so a later control-plane outage does not flap it); 503 with Istio's explanation otherwise,
// and 503 as soon as draining starts. Only reads the lifecycle.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerState } from './server-lifecycle.js';

export interface StatusDeps {
  serverState(): ServerState;
  readinessDetail(): string;
}

/** The status port to serve: --status-port wins, else node.metadata.ENVOY_STATUS_PORT (number or numeric string). */
export function statusPortFrom(flag: number | undefined, metadata: Readonly<Record<string, unknown>>): number | null {
  if (flag !== undefined && flag > 0) return flag;
  const v = metadata.ENVOY_STATUS_PORT;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : null;
}

export class StatusServer {
  private server: Server | null = null;

  constructor(private readonly deps: StatusDeps) {}

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const server = createServer((req, res) => {
      req.resume();
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/healthz/ready') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      const state = this.deps.serverState();
      if (state === 'LIVE') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end();
        return;
      }
      const detail = this.deps.readinessDetail() || `server state ${state}`;
      res.writeHead(503, { 'content-type': 'text/plain' }).end(`${detail}\n`);
    });
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return this.port()!;
  }

  port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? (a as AddressInfo).port : undefined;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}
