// test/support: runs the real meshlet executable as a child process for end-to-end tests (bootstrap file → spawned
// `meshlet` → admin API and listeners on 127.0.0.1), plus small HTTP helpers to talk to it. The build it runs is
// `$MESHLET_DIST` (default `dist`, i.e. bin/meshlet.js); developers point it at their own output dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the directory holding bin/meshlet.js), found from this file's location. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'bin', 'meshlet.js')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('meshlet repository root not found');
}

/** The build directory the spawned meshlet runs from ($MESHLET_DIST, default `dist`). */
export function meshletDist(): string {
  return process.env.MESHLET_DIST ?? 'dist';
}

/** argv (after `node`) that runs `meshlet <args>` from the chosen build. */
export function meshletArgv(args: readonly string[]): string[] {
  const root = repoRoot();
  const dist = meshletDist();
  if (dist === 'dist') return ['--enable-source-maps', join(root, 'bin', 'meshlet.js'), ...args];
  const main = resolve(root, dist, 'src', 'main.js');
  return ['--enable-source-maps', '-e', `import(${JSON.stringify(main)}).then((m) => m.main(process.argv.slice(1)))`, '--', ...args];
}

/** A TCP port that was free a moment ago on 127.0.0.1 (bind 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => res(p));
    });
  });
}

/** True when something already listens on 127.0.0.1:port. */
export async function portBusy(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(true));
    s.listen(port, '127.0.0.1', () => s.close(() => res(false)));
  });
}

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const HTTP_OPTS = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** An Envoy bootstrap whose LDS and CDS come over ADS from a server on 127.0.0.1:xdsPort (admin on 127.0.0.1:0). */
export function adsBootstrap(o: { xdsPort: number; apiType?: 'GRPC' | 'DELTA_GRPC'; nodeId?: string; adminPort?: number; initialFetchTimeout?: string }): Record<string, unknown> {
  const src = { ads: {}, resource_api_version: 'V3', ...(o.initialFetchTimeout ? { initial_fetch_timeout: o.initialFetchTimeout } : {}) };
  return {
    node: { id: o.nodeId ?? 'e2e-node', cluster: 'e2e', metadata: { TEST: 'e2e' } },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: o.adminPort ?? 0 } } },
    dynamic_resources: {
      ads_config: { api_type: o.apiType ?? 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] },
      cds_config: src,
      lds_config: src,
    },
    static_resources: {
      clusters: [{
        name: 'xds-grpc',
        type: 'STATIC',
        connect_timeout: '1s',
        typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HTTP_OPTS, explicit_http_config: { http2_protocol_options: {} } } },
        load_assignment: { cluster_name: 'xds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: o.xdsPort } } } }] }] },
      }],
    },
  };
}

// ------------------------------------------------------------------------------------------- xDS resources (canonical)

export const T = {
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  Route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  Endpoints: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
} as const;

/** An HTTP listener on 127.0.0.1:port whose routes come from RDS `routeName`. */
export function e2eListener(name: string, port: number, routeName: string, hcm: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '@type': T.Listener,
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': HCM,
          stat_prefix: name,
          rds: { route_config_name: routeName, config_source: { ads: {}, resource_api_version: 'V3' } },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
          ...hcm,
        },
      }],
    }],
  };
}

/** A RouteConfiguration: one virtual host `*`, the given routes (default: everything to `cluster`). */
export function e2eRoutes(name: string, cluster: string, routes?: readonly Record<string, unknown>[]): Record<string, unknown> {
  return {
    '@type': T.Route,
    name,
    virtual_hosts: [{ name: 'all', domains: ['*'], routes: routes ?? [{ match: { prefix: '/' }, route: { cluster, timeout: 30_000 } }] }],
  };
}

/** An EDS cluster (endpoints over ADS); `http2` for gRPC / h2 upstreams. */
export function e2eCluster(name: string, opts: { http2?: boolean } = {}): Record<string, unknown> {
  return {
    '@type': T.Cluster,
    name,
    type: 'EDS',
    connect_timeout: 1000,
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    ...(opts.http2 ? { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HTTP_OPTS, explicit_http_config: { http2_protocol_options: {} } } } } : {}),
  };
}

export function e2eEndpoints(cluster: string, ports: readonly number[]): Record<string, unknown> {
  return {
    '@type': T.Endpoints,
    cluster_name: cluster,
    endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
  };
}

// ------------------------------------------------------------------------------------------------------ HTTP helpers

export interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One HTTP/1.1 request on a fresh connection (no keep-alive), bounded by `timeoutMs`. */
export function httpRequest(url: string, o: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<HttpReply> {
  return new Promise((res, rej) => {
    const req = request(url, { method: o.method ?? 'GET', headers: { connection: 'close', ...o.headers }, agent: false, timeout: o.timeoutMs ?? 10_000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', rej);
    req.end(o.body);
  });
}

/** Retries `fn` every `everyMs` until it returns a truthy value; throws with the last result/error after `timeoutMs`. */
export async function pollUntil<R>(what: string, fn: () => Promise<R | undefined | null | false>, timeoutMs = 10_000, everyMs = 50): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'nothing yet';
  for (;;) {
    try {
      const r = await fn();
      if (r) return r;
      last = r;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${typeof last === 'string' ? last : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// --------------------------------------------------------------------------------------------------- the process

export interface StartOptions {
  /** Bootstrap object (written to a temp file as JSON) or an existing file path. */
  readonly bootstrap: Record<string, unknown> | string;
  /** Extra flags after `-c <file>`. `--admin-address-path` is added unless `adminAddressPath: false`. */
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Wait for the admin address file (default true when the bootstrap has an admin). */
  readonly waitAdmin?: boolean;
  readonly startTimeoutMs?: number;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class MeshletProcess {
  stdout = '';
  stderr = '';
  adminPort = 0;
  readonly exited: Promise<Exit>;
  private exitInfo: Exit | null = null;

  private constructor(readonly child: ChildProcess, private readonly dir: string, readonly adminAddressFile: string) {
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (this.stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.exited = new Promise((res) => child.once('exit', (code, signal) => {
      this.exitInfo = { code, signal };
      res(this.exitInfo);
    }));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** Spawns meshlet with `-c <bootstrap> --admin-address-path <tmp>` and waits until the admin address is written. */
  static async start(o: StartOptions): Promise<MeshletProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'meshlet-e2e-'));
    let path: string;
    if (typeof o.bootstrap === 'string') path = o.bootstrap;
    else {
      path = join(dir, 'bootstrap.json');
      writeFileSync(path, JSON.stringify(o.bootstrap, null, 2));
    }
    const addrFile = join(dir, 'admin-address');
    const args = ['-c', path, '--admin-address-path', addrFile, '--log-level', 'info', ...(o.args ?? [])];
    const child = spawn(process.execPath, meshletArgv(args), {
      cwd: o.cwd ?? repoRoot(),
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const m = new MeshletProcess(child, dir, addrFile);
    if (o.waitAdmin !== false) {
      try {
        await m.waitForAdmin(o.startTimeoutMs ?? 15_000);
      } catch (e) {
        await m.stop();
        throw e;
      }
    }
    return m;
  }

  private async waitForAdmin(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`meshlet exited before its admin listened: ${JSON.stringify(this.exitInfo)}\n${this.output()}`);
      if (existsSync(this.adminAddressFile)) {
        const text = readFileSync(this.adminAddressFile, 'utf8').trim();
        const port = Number(text.slice(text.lastIndexOf(':') + 1));
        if (port > 0) {
          this.adminPort = port;
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`meshlet admin address not written within ${timeoutMs} ms\n${this.output()}`);
  }

  /** Last lines of stdout/stderr, for failure messages. */
  output(maxChars = 4000): string {
    return `--- stdout ---\n${this.stdout.slice(-maxChars)}\n--- stderr ---\n${this.stderr.slice(-maxChars)}`;
  }

  adminUrl(path: string): string {
    return `http://127.0.0.1:${this.adminPort}${path}`;
  }

  admin(path: string, method = 'GET'): Promise<HttpReply> {
    return httpRequest(this.adminUrl(path), { method, timeoutMs: 5000 });
  }

  async adminJson<J = any>(path: string): Promise<J> {
    const r = await this.admin(path);
    if (r.status !== 200) throw new Error(`admin ${path}: ${r.status} ${r.body}`);
    return JSON.parse(r.body) as J;
  }

  /** Polls /ready until it answers `state` (200 for LIVE). */
  async waitState(state: string, timeoutMs = 10_000): Promise<void> {
    await pollUntil(`/ready = ${state}`, async () => (await this.admin('/ready')).body.trim() === state, timeoutMs);
  }

  /** The value of a Prometheus sample line `name{...} value` (first match, labels ignored), or undefined. */
  async promValue(name: string): Promise<number | undefined> {
    const r = await this.admin('/stats/prometheus');
    for (const line of r.body.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m && m[1] === name) return Number(m[3]);
    }
    return undefined;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  /** Waits for exit (bounded); rejects if it does not happen in time. */
  async waitExit(timeoutMs: number): Promise<Exit> {
    let t: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`meshlet (pid ${this.pid}) did not exit within ${timeoutMs} ms\n${this.output()}`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(t);
    }
  }

  /** Kills the process by PID (SIGKILL) if it still runs, waits for it, removes the temp dir. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.running) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await this.waitExit(5000).catch(() => undefined);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs a short-lived `meshlet <args>` (e.g. `wait`) and collects its exit code and output; killed after `timeoutMs`. */
export function runMeshlet(args: readonly string[], timeoutMs = 20_000, cwd = repoRoot()): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, meshletArgv(args), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      res({ code, stdout, stderr });
    });
  });
}
