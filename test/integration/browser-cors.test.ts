// End to end (issue 6, CORS with a real browser): headless Chromium (Debian package) loads a page from origin A (a tiny
// local server) whose script makes a cross-origin PUT with a custom header — so the browser sends a preflight — to the
// real meshlet process (origin B) routing to an upstream. An allowed origin sees success, a disallowed one a CORS
// failure; both preflights are answered by meshlet (its access log) and neither reaches the upstream.
// Skipped, with the reason printed, when chromium is not installed (test/setup.sh installs it as root).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EchoUpstream } from '../support/upstreams.js';
import { MeshletProcess, freePort, pollUntil } from '../support/meshlet-process.js';

const TYPE = 'type.googleapis.com/';

function findChromium(): string | null {
  for (const c of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

const CHROMIUM = findChromium();
const skip = CHROMIUM ? false : 'chromium is not installed (run test/setup.sh as root to apt-get install it)';
if (skip) console.log(`# browser-cors skipped: ${skip}`);

/** Origin A: serves a page whose script does the cross-origin fetch, reports the result back to this server, and
 *  holds the page's load event (an <img> answered only after the report) so `--dump-dom` sees the final DOM. */
class OriginServer {
  result: string | null = null;
  private held: ServerResponse[] = [];
  private server!: Server;
  port = 0;

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><html><body><pre id="result">pending</pre><script>
fetch(${JSON.stringify(this.target)}, { method: 'PUT', headers: { 'x-custom': 'browser', 'content-type': 'text/plain' }, body: 'hello' })
  .then(async (r) => 'ok ' + r.status + ' ' + (await r.text()).length)
  .catch((e) => 'fail ' + e.name + ': ' + e.message)
  .then((text) => { document.getElementById('result').textContent = text; return fetch('/report?r=' + encodeURIComponent(text)); });
</script><img src="/hold" alt=""></body></html>`);
      } else if (url.pathname === '/report') {
        this.result = url.searchParams.get('r');
        res.end('ok');
        for (const h of this.held.splice(0)) h.end();
      } else if (url.pathname === '/hold') {
        if (this.result !== null) res.end();
        else this.held.push(res);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const h of this.held.splice(0)) h.end();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Runs headless Chromium on `url` with --dump-dom (bounded); returns the dumped DOM. */
function runChromium(url: string, profileDir: string, timeoutMs = 30_000): Promise<{ code: number | null; dom: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(CHROMIUM!, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', `--user-data-dir=${profileDir}`, '--dump-dom', url,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let dom = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (dom += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    const t = setTimeout(() => {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, dom, stderr });
    });
  });
}

describe('CORS through meshlet with a real browser (headless Chromium)', { timeout: 120_000, skip }, () => {
  let up: EchoUpstream;
  let meshlet: MeshletProcess;
  let allowed: OriginServer;
  let denied: OriginServer;
  let dir = '';
  let accessLog = '';
  let port = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshlet-browser-cors-'));
    accessLog = join(dir, 'access.log');
    up = await EchoUpstream.start({ name: 'backend' });
    port = await freePort();
    const target = `http://127.0.0.1:${port}/api/items`;
    allowed = new OriginServer(target);
    denied = new OriginServer(target);
    await allowed.start();
    await denied.start();
    meshlet = await MeshletProcess.start({ bootstrap: {
      node: { id: 'browser-cors', cluster: 'e2e' },
      admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
      static_resources: {
        listeners: [{
          name: 'cors', address: { socket_address: { address: '127.0.0.1', port_value: port } },
          filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
            '@type': `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
            stat_prefix: 'cors',
            route_config: { name: 'r', virtual_hosts: [{
              name: 'api', domains: ['*'],
              routes: [{ match: { prefix: '/' }, route: { cluster: 'backend', timeout: '10s' } }],
              typed_per_filter_config: { 'envoy.filters.http.cors': { '@type': `${TYPE}envoy.extensions.filters.http.cors.v3.CorsPolicy`,
                allow_origin_string_match: [{ exact: allowed.origin }], allow_methods: 'GET,PUT', allow_headers: 'x-custom,content-type', max_age: '5',
                forward_not_matching_preflights: false } },
            }] },
            http_filters: [
              { name: 'envoy.filters.http.cors', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.cors.v3.Cors` } },
              { name: 'envoy.filters.http.router', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router` } },
            ],
            access_log: [{ name: 'envoy.access_loggers.file', typed_config: { '@type': `${TYPE}envoy.extensions.access_loggers.file.v3.FileAccessLog`, path: accessLog,
              log_format: { text_format_source: { inline_string: '%REQ(:METHOD)% %REQ(ORIGIN)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS%\n' } } } }],
          } }] }],
        }],
        clusters: [{ name: 'backend', type: 'STATIC', connect_timeout: '1s',
          load_assignment: { cluster_name: 'backend', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: up.port } } } }] }] } }],
      },
    } });
    await meshlet.waitState('LIVE');
  });

  after(async () => {
    await meshlet?.stop();
    await allowed?.close();
    await denied?.close();
    await up?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const logLines = (): string[] => (existsSync(accessLog) ? readFileSync(accessLog, 'utf8').split('\n').filter(Boolean) : []);

  it('an allowed origin: meshlet answers the preflight, the PUT reaches the upstream, the page sees success', async () => {
    const run = await runChromium(`${allowed.origin}/`, join(dir, 'profile-allowed'));
    assert.ok(allowed.result !== null, `the page reported nothing (chromium exit ${run.code}): ${run.stderr}`);
    assert.match(allowed.result, /^ok 200 \d+$/, allowed.result);
    assert.match(run.dom, /<pre id="result">ok 200 \d+<\/pre>/, 'the DOM Chromium dumped shows the success');
    assert.deepEqual(up.requests.map((r) => `${r.method} ${r.path}`), ['PUT /api/items'], 'only the actual request reached the upstream');
    assert.equal(up.requests[0].headers.origin, allowed.origin);
    assert.equal(up.requests[0].headers['x-custom'], 'browser');
    const lines = await pollUntil('preflight and PUT in the access log', async () => {
      const l = logLines();
      return l.length >= 2 ? l : undefined;
    }, 10_000);
    assert.ok(lines.includes(`OPTIONS ${allowed.origin} 200 cors_preflight`), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith(`PUT ${allowed.origin} 200`)), lines.join('\n'));
  });

  it('a disallowed origin: meshlet answers the preflight without CORS headers, the page sees a CORS failure, nothing reaches the upstream', async () => {
    const before = up.requests.length;
    const run = await runChromium(`${denied.origin}/`, join(dir, 'profile-denied'));
    assert.ok(denied.result !== null, `the page reported nothing (chromium exit ${run.code}): ${run.stderr}`);
    assert.match(denied.result, /^fail TypeError: /, denied.result);
    assert.match(run.dom, /<pre id="result">fail TypeError: /);
    assert.equal(up.requests.length, before, 'neither the preflight nor the PUT reached the upstream');
    const line = await pollUntil('denied preflight in the access log', async () => logLines().find((l) => l.startsWith(`OPTIONS ${denied.origin}`)), 10_000);
    assert.equal(line, `OPTIONS ${denied.origin} 200 cors_origin_not_allowed`);
    assert.ok(!logLines().some((l) => l.startsWith(`PUT ${denied.origin}`)), 'the browser never sent the PUT');
  });
});
