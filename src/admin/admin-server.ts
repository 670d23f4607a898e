// admin/: the Envoy-compatible admin HTTP server (node:http on the bootstrap's admin address, loopback by default).
// It only reads injected views (AdminDeps) and calls the operator callbacks; mutating endpoints are POST-only and a
// GET on them answers 400 without doing anything.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileRegex as compileRe2 } from '../common/regex.js';
import { buildInfo } from '../bootstrap/version.js';
import type { AdminDeps } from './admin-deps.js';
import { buildConfigDump } from './config-dump.js';
import { readMemoryStats } from '../observability/metrics.js';

export type AdminListenAddress = { readonly kind: 'socket'; readonly address: string; readonly port: number } | { readonly kind: 'pipe'; readonly path: string };

interface Reply {
  status: number;
  body: string;
  type?: string;
  headers?: Record<string, string>;
  /** Runs once the response has been written (POST /quitquitquit). */
  after?: () => void;
}

type Handler = (q: URLSearchParams, req: IncomingMessage) => Reply | Promise<Reply>;

interface Endpoint {
  readonly help: string;
  readonly mutating: boolean;
  readonly handler: Handler;
}

const TEXT = 'text/plain; charset=UTF-8';
const JSON_TYPE = 'application/json';

function text(body: string, status = 200): Reply {
  return { status, body, type: TEXT };
}
function json(v: unknown, status = 200): Reply {
  return { status, body: `${JSON.stringify(v, null, 2)}\n`, type: JSON_TYPE };
}

function compileRegex(pattern: string): ((s: string) => boolean) | string {
  // name_regex / filter are partial matches (Envoy uses RE2::PartialMatch here).
  const r = compileRe2(pattern);
  if (!r.ok) return `invalid regex ${JSON.stringify(pattern)}: ${r.error}`;
  const re = r.regex;
  return (s: string) => re.partialMatch(s);
}

function formatDurationS(ms: number): string {
  return `${Math.max(0, Math.floor(ms / 1000))}s`;
}

export class AdminServer {
  private server: Server | null = null;
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(private readonly deps: AdminDeps) {
    this.register();
  }

  /** Starts listening; resolves with the bound address (the actual port when 0 was asked). */
  async listen(addr: AdminListenAddress): Promise<{ address: string; port: number; path?: string }> {
    if (this.server) throw new Error('admin server already started');
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (addr.kind === 'pipe') server.listen(addr.path, () => resolve());
      else server.listen(addr.port, addr.address, () => resolve());
    });
    if (addr.kind === 'pipe') return { address: addr.path, port: 0, path: addr.path };
    const a = server.address() as AddressInfo;
    return { address: a.address, port: a.port };
  }

  /** Stops accepting and closes idle keep-alive connections. */
  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeIdleConnections();
      setTimeout(() => s.closeAllConnections(), 1000).unref();
    });
  }

  /** Endpoint paths with their help (for /help and tests). */
  paths(): string[] {
    return [...this.endpoints.keys()].sort();
  }

  private add(path: string, help: string, handler: Handler, mutating = false): void {
    this.endpoints.set(path, { help, handler, mutating });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      const url = new URL(req.url ?? '/', 'http://admin');
      const ep = this.endpoints.get(url.pathname === '' ? '/' : url.pathname);
      if (!ep) reply = text(`invalid path: ${url.pathname}\n\n${this.helpText()}`, 404);
      else if (ep.mutating && req.method !== 'POST') reply = text(`Method ${req.method ?? 'GET'} not allowed, POST required.\n`, 400);
      else reply = await ep.handler(url.searchParams, req);
    } catch (e) {
      // Handlers signal a bad query with an error carrying an HTTP status (e.g. explain's ExplainError).
      const status = (e as { status?: unknown }).status;
      reply = typeof status === 'number' && status >= 400 && status < 500
        ? text(`${(e as Error).message}\n`, status)
        : text(`internal error: ${(e as Error).message}\n`, 500);
    }
    req.resume();
    res.writeHead(reply.status, {
      'content-type': reply.type ?? TEXT,
      'cache-control': 'no-cache, max-age=0',
      'x-content-type-options': 'nosniff',
      ...(reply.headers ?? {}),
    });
    if (reply.after) res.once('finish', reply.after);
    res.end(req.method === 'HEAD' ? undefined : reply.body);
  }

  private helpText(): string {
    const lines = ['admin commands are:'];
    for (const p of this.paths()) {
      const ep = this.endpoints.get(p)!;
      lines.push(`  ${p}: ${ep.help}${ep.mutating ? ' (POST)' : ''}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private register(): void {
    const d = this.deps;
    this.add('/', 'this help', () => text(this.helpText()));
    this.add('/help', 'print out list of admin commands', () => text(this.helpText()));

    this.add('/ready', 'print server state, return 200 if LIVE, otherwise return 503', () => {
      const state = d.serverState();
      const detail = state === 'LIVE' ? '' : (d.readinessDetail?.() ?? '');
      const headers: Record<string, string> = detail ? { 'x-meshlet-readiness': detail } : {};
      return { status: state === 'LIVE' ? 200 : 503, body: `${state}\n`, type: TEXT, headers };
    });

    this.add('/server_info', 'print server version/status information', () => {
      const now = Date.now();
      const n = d.node();
      const bi = buildInfo();
      const [maj, min, pat] = bi.version.split('.').map((x) => Number.parseInt(x, 10) || 0);
      const node = {
        id: n.id,
        cluster: n.cluster,
        metadata: n.metadata,
        locality: n.locality,
        user_agent_name: 'meshlet',
        user_agent_build_version: { version: { major_number: maj, minor_number: min, patch: pat }, metadata: { 'build.version': bi.version } },
      };
      return json({
        version: bi.full,
        state: d.serverState(),
        hot_restart_version: d.hotRestartVersion?.() ?? 'disabled',
        command_line_options: d.commandLineOptions(),
        node,
        uptime_current_epoch: formatDurationS(now - d.startTime()),
        uptime_all_epochs: formatDurationS(now - (d.firstStartTime?.() ?? d.startTime())),
      });
    });

    // Envoy answers the bare version string (no newline).
    this.add('/hot_restart_version', 'print the hot restart compatibility version', () => text(d.hotRestartVersion?.() ?? 'disabled'));

    this.add('/config_dump', 'dump current Envoy configs (?resource=, ?mask=, ?name_regex=, ?include_eds)', (q) => {
      let nameMatches: ((s: string) => boolean) | undefined;
      const nr = q.get('name_regex');
      if (nr) {
        const c = compileRegex(nr);
        if (typeof c === 'string') return text(`${c}\n`, 400);
        nameMatches = c;
      }
      const mask = q.get('mask');
      const r = buildConfigDump(d.snapshot(), d.configDumpExtras?.() ?? {}, d.bootstrap(), {
        ...(q.has('resource') ? { resource: q.get('resource') ?? '' } : {}),
        ...(mask ? { mask: mask.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
        ...(nameMatches ? { nameMatches } : {}),
        includeEds: q.has('include_eds'),
      });
      if (r.status !== 200) return text(`${r.error}\n`, r.status);
      return json(r.body);
    });

    this.add('/clusters', 'upstream cluster status (?format=json)', async (q) => (q.get('format') === 'json' ? json(await d.clustersJson()) : text(await d.clustersText())));

    this.add('/listeners', 'print listener info (?format=json)', async (q) => {
      const ls = await d.listeners();
      if (q.get('format') === 'json') {
        return json({
          listener_statuses: ls.map((l) => ({
            name: l.name,
            local_address: l.pipe ? { pipe: { path: l.pipe } } : { socket_address: { address: l.address, port_value: l.port } },
          })),
        });
      }
      return text(ls.map((l) => `${l.name}::${l.pipe ?? (l.address.includes(':') ? `[${l.address}]:${l.port}` : `${l.address}:${l.port}`)}\n`).join(''));
    });

    const prometheus = async (): Promise<Reply> => ({ status: 200, body: await d.metrics.prometheusText(), type: d.metrics.prometheusContentType });
    const stats = async (q: URLSearchParams): Promise<Reply> => {
      const fmt = q.get('format');
      if (fmt === 'prometheus') return prometheus();
      let filter: ((s: string) => boolean) | undefined;
      const f = q.get('filter');
      if (f) {
        const c = compileRegex(f);
        if (typeof c === 'string') return text(`${c}\n`, 400);
        filter = c;
      }
      const query = { ...(filter ? { filter } : {}), usedOnly: q.has('usedonly') };
      if (fmt === 'json') return json({ stats: await d.metrics.stats(query) });
      if (fmt && fmt !== 'text') return text(`unsupported format ${fmt}\n`, 400);
      return text(await d.metrics.statsText(query));
    };
    this.add('/stats', 'print server stats (?filter=, ?usedonly, ?format=json|prometheus)', stats);
    this.add('/stats/prometheus', 'print server stats in prometheus format', prometheus);

    // Envoy's envoy.admin.v3.Memory: uint64 fields are JSON strings, as Envoy prints them. The V8/Node mapping is
    // documented on readMemoryStats.
    this.add('/memory', 'print current allocation/heap usage', () => {
      const m = readMemoryStats();
      return json(Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)])));
    });

    this.add('/logging', 'query/change logging levels (?level=, ?<logger>=<level>, ?paths=a:debug,b:info)', (q) => {
      const list = (): string => `active loggers:\n${Object.entries(d.logging.levels()).map(([k, v]) => `  ${k}: ${v}\n`).join('')}`;
      const errors: string[] = [];
      for (const [k, v] of q) {
        if (k === 'level') {
          if (!d.logging.setLevel(v)) errors.push(`unknown logger level "${v}"`);
        } else if (k === 'paths') {
          for (const part of v.split(',').filter(Boolean)) {
            const i = part.indexOf(':');
            if (i <= 0 || !d.logging.setComponentLevel(part.slice(0, i), part.slice(i + 1))) errors.push(`invalid logger/level "${part}"`);
          }
        } else if (!d.logging.setComponentLevel(k, v)) errors.push(`invalid logger/level "${k}=${v}"`);
      }
      if (errors.length) return text(`error: ${errors.join('; ')}\n\nusage: /logging?level=<trace|debug|info|warning|error|critical|off> or /logging?<logger>=<level>\n${list()}`, 400);
      return text(list());
    }, true);

    this.add('/quitquitquit', 'exit the server', () => ({ status: 200, body: 'OK\n', type: TEXT, after: () => d.quit() }), true);
    this.add('/healthcheck/fail', 'cause the server to fail health checks', () => { d.healthcheckFail(); return text('OK\n'); }, true);
    this.add('/healthcheck/ok', 'cause the server to pass health checks', () => { d.healthcheckOk(); return text('OK\n'); }, true);
    this.add('/drain_listeners', 'drain listeners (?inboundonly, ?graceful, ?skip_exit)', async (q) => {
      await d.drainListeners({ inboundOnly: q.has('inboundonly'), graceful: q.has('graceful'), skipExit: q.has('skip_exit') });
      return text('OK\n');
    }, true);

    this.add('/debug/workers', 'the process model: concurrency and each worker (meshlet)', async () => (d.workers ? json(await d.workers()) : text('not available\n', 404)));
    this.add('/debug/xds', 'xDS update history per type (meshlet)', () => (d.xdsHistory ? json(d.xdsHistory()) : text('xDS history is not available\n', 404)));
    this.add('/debug/explain', 'explain a routing decision: ?authority=&path=&method=&header=k:v[&listener=] (meshlet)', async (q) => {
      if (!d.explain) return text('explain is not available\n', 404);
      return json(await d.explain(q));
    });
  }
}
