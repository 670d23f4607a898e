// Issue 5 acceptance with the REAL meshlet process: a "pod" network namespace holds the app (uid 1000), meshlet
// (uid/gid 1337 via setpriv, filesystem xDS) and the `meshlet iptables` capture rules; a "backends" namespace over a
// veth holds the services. Outbound: an HTTP VIP only meshlet's LDS knows is handed off from virtualOutbound to its
// bind_to_port:false listener and routed by path; HTTPS by name is passed through by SNI (verified end to end); raw
// TCP goes through PassthroughCluster with half-close intact; meshlet's own uid is not captured. Inbound: a client in
// the backends namespace reaches the app through virtualInbound (15006), forwarded from 127.0.0.6. Needs root, ip,
// iptables, setpriv; otherwise the netns tests are skipped with the reason printed.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import net from 'node:net';
import { NetnsLab, netnsUnavailableReason } from '../support/netns.js';
import { makeCerts, type TestCerts } from '../support/certs.js';
import { meshletArgv, repoRoot } from '../support/meshlet-process.js';
import { runIptables, type IptablesIo } from '../../src/cli/iptables.js';
import { Issues } from '../../src/common/validation.js';
import { jsonToCanonical } from '../../src/xds/proto-json.js';
import { translateCluster } from '../../src/xds/resource-types/cluster.js';
import { TcpProxy } from '../../src/network/tcp-proxy/tcp-proxy.js';
import { translateTcpProxy } from '../../src/xds/resource-types/tcp-proxy.js';
import type { ClusterConfig } from '../../src/config/cluster.js';
import type { ClusterManagerView, Host, UpstreamCluster } from '../../src/upstream/types.js';
import { podBootstrap, podClusters, podListeners, type PodTopology } from './l4-support/pod-config.js';

const here = dirname(fileURLToPath(import.meta.url));
const support = (name: string): string => join(here, 'l4-support', name);
const APP_UID = 1000;
const PROXY_UID = 1337;
const POD_IP = '10.78.0.1';
const BACKEND_IP = '10.78.0.2';
const topo: PodTopology = {
  podIp: POD_IP,
  vip: '10.96.1.10',
  httpA: `${BACKEND_IP}:7080`,
  httpB: `${BACKEND_IP}:7081`,
  tls: { 'api.mesh.test': `${BACKEND_IP}:8443`, 'other.mesh.test': `${BACKEND_IP}:9443` },
  appHttpPort: 8080,
};

let skipReason: string | null = null;
let lab: NetnsLab | null = null;
let certs: TestCerts | null = null;
let pod = '';
let backends = '';
let configDir = '';
let netnsEtc = '';
const meshletLines: Array<Record<string, unknown>> = [];
const backendEvents: Array<Record<string, unknown>> = [];
const appEvents: Array<Record<string, unknown>> = [];
let meshletStderr = '';

function collect(child: ChildProcess, into: Array<Record<string, unknown>>, label: string): void {
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try { into.push(JSON.parse(line) as Record<string, unknown>); } catch { process.stderr.write(`[${label}] ${line}\n`); }
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (label === 'meshlet') meshletStderr += d.toString();
    process.stderr.write(`[${label}] ${d.toString()}`);
  });
}

async function waitFor<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}\n${meshletStderr.slice(-3000)}`);
}

/** Runs the app client in `ns` as `uid`; resolves with its JSON result line. */
async function client(ns: string, uid: number | undefined, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { stdout } = await lab!.exec(ns, [process.execPath, support('app-client.js'), JSON.stringify(req)], {
    uid, env: { ...process.env, ML_CA_PEM: certs!.caPem }, timeoutMs: 20_000,
  }).catch((err: { stdout?: string; message: string }) => ({ stdout: err.stdout || JSON.stringify({ ok: false, error: err.message }) }));
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

const tcpLogs = (from: number): Array<Record<string, unknown>> => meshletLines.slice(from).filter((l) => l.ml === 'tcp');

/** GET on meshlet's admin inside the pod (curl as root: loopback traffic of other uids is not captured). */
async function admin(path: string): Promise<string> {
  const { stdout } = await lab!.exec(pod, ['curl', '-s', '--max-time', '3', `http://127.0.0.1:15000${path}`]);
  return stdout;
}

function nsIo(ns: string, out: string[]): IptablesIo {
  return {
    stdout: (s) => out.push(s),
    stderr: (s) => out.push(s),
    exec: (cmd, args, stdin) => new Promise((res) => {
      const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      c.on('error', (e) => res({ code: 127, stderr: e.message }));
      c.on('close', (code) => res({ code: code ?? 1, stderr }));
      c.stdin.on('error', () => {});
      c.stdin.end(stdin ?? '');
    }),
  };
}

before(async () => {
  skipReason = await netnsUnavailableReason();
  if (skipReason) return;
  const root = repoRoot();
  const addon = join(root, 'native', 'build', 'Release', 'original_dst.node');
  if (!existsSync(addon)) {
    await new Promise<void>((r) => spawn(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' }).on('close', () => r()));
    if (!existsSync(addon)) { skipReason = `the SO_ORIGINAL_DST addon could not be built (${addon} missing)`; return; }
  }
  if ((await new Promise<number>((r) => spawn('sh', ['-c', 'command -v curl'], { stdio: 'ignore' }).on('close', (c) => r(c ?? 1)))) !== 0) {
    skipReason = 'curl is not installed (run test/setup.sh as root)';
    return;
  }
  certs = await makeCerts(['api.mesh.test', 'other.mesh.test']);
  lab = new NetnsLab();
  pod = await lab.addNamespace('mpod');
  backends = await lab.addNamespace('mbe');
  await lab.link(pod, `${POD_IP}/24`, backends, `${BACKEND_IP}/24`);
  await lab.exec(pod, ['ip', 'route', 'add', 'default', 'via', BACKEND_IP]);
  // `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over /etc/hosts: the app resolves the TLS names to a VIP.
  netnsEtc = join('/etc/netns', pod);
  mkdirSync(netnsEtc, { recursive: true });
  writeFileSync(join(netnsEtc, 'hosts'), `127.0.0.1 localhost\n10.96.1.20 api.mesh.test other.mesh.test\n`);

  const be = lab.spawn(backends, [process.execPath, support('backends.js'), JSON.stringify([
    { kind: 'http', host: BACKEND_IP, port: 7080, tag: 'svc-a' },
    { kind: 'http', host: BACKEND_IP, port: 7081, tag: 'svc-b' },
    { kind: 'https', host: BACKEND_IP, port: 8443, tag: 'api', ...certs.certFor('api.mesh.test') },
    { kind: 'https', host: BACKEND_IP, port: 9443, tag: 'other', ...certs.certFor('other.mesh.test') },
    { kind: 'echo', host: BACKEND_IP, port: 7000, tag: 'echo' },
  ])]);
  collect(be, backendEvents, 'backends');
  const app = lab.spawn(pod, [process.execPath, support('backends.js'), JSON.stringify([
    { kind: 'http', host: '0.0.0.0', port: topo.appHttpPort, tag: 'app' },
    { kind: 'echo', host: '0.0.0.0', port: 8081, tag: 'app-tcp' },
  ])], { uid: APP_UID });
  collect(app, appEvents, 'app');
  await waitFor(() => backendEvents.find((e) => e.event === 'ready'), 'backends ready');
  await waitFor(() => appEvents.find((e) => e.event === 'ready'), 'app ready');

  configDir = mkdtempSync(join(tmpdir(), 'ml-netns-meshlet-'));
  chmodSync(configDir, 0o755);
  const lds = join(configDir, 'lds.json');
  const cds = join(configDir, 'cds.json');
  writeFileSync(lds, JSON.stringify(podListeners(topo)));
  writeFileSync(cds, JSON.stringify(podClusters(topo)));
  const boot = join(configDir, 'bootstrap.json');
  writeFileSync(boot, JSON.stringify(podBootstrap({ ldsPath: lds, cdsPath: cds, adminPort: 15000 })));
  for (const f of [lds, cds, boot]) chmodSync(f, 0o644);

  // The capture rules first (as istio-init does), then the proxy as uid/gid 1337.
  const out: string[] = [];
  const code = await runIptables(['-p', '15001', '-z', '15006', '-u', String(PROXY_UID), '-g', String(PROXY_UID)], nsIo(pod, out));
  assert.equal(code, 0, out.join(''));
  const meshlet = lab.spawn(pod, [process.execPath, ...meshletArgv(['-c', boot, '--log-level', 'warn'])], { uid: PROXY_UID, gid: PROXY_UID });
  collect(meshlet, meshletLines, 'meshlet');
  await waitFor(async () => ((await admin('/ready').catch(() => '')).trim() === 'LIVE' ? true : undefined), 'meshlet LIVE', 20_000);
});

after(async () => {
  await lab?.destroy();
  await certs?.cleanup();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  if (netnsEtc) rmSync(netnsEtc, { recursive: true, force: true });
});

function maybeSkip(t: { skip(msg: string): void }): boolean {
  if (skipReason) {
    console.log(`skipping netns meshlet test: ${skipReason}`);
    t.skip(skipReason);
    return true;
  }
  return false;
}

test('HTTP to a service VIP only the LDS knows: virtualOutbound hands off to <vip>_80, routed by path', { timeout: 60_000 }, async (t) => {
  if (maybeSkip(t)) return;
  for (const [path, tag] of [['/a/x', 'svc-a'], ['/b/y', 'svc-b']] as const) {
    const r = await client(pod, APP_UID, { mode: 'http', url: `http://${topo.vip}:80${path}` });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.status, 200, JSON.stringify(r));
    const body = JSON.parse(String(r.body)) as Record<string, unknown>;
    assert.equal(body.tag, tag);
    assert.equal(body.path, path);
    assert.equal(body.host, topo.vip, 'the Host header the app sent reaches the backend');
    // meshlet connected from the pod's IP as uid 1337: not captured again.
    assert.equal(body.remote, POD_IP);
  }
  const miss = await client(pod, APP_UID, { mode: 'http', url: `http://${topo.vip}:80/c` });
  assert.equal(miss.status, 404, 'no route: local reply from meshlet, not a backend');
});

test('HTTPS by name passes through by SNI to the right backend; the client verifies the backend certificate', { timeout: 60_000 }, async (t) => {
  if (maybeSkip(t)) return;
  for (const [name, tag] of [['api.mesh.test', 'api'], ['other.mesh.test', 'other']] as const) {
    const mark = meshletLines.length;
    const r = await client(pod, APP_UID, { mode: 'http', url: `https://${name}:443/hello` });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.status, 200);
    assert.equal(r.authorized, true);
    assert.equal(r.subjectaltname, `DNS:${name}`);
    assert.equal((JSON.parse(String(r.body)) as Record<string, unknown>).tag, tag);
    const log = await waitFor(() => tcpLogs(mark)[0], 'tcp access log');
    assert.equal(log.cluster, `outbound|443||${name}`);
    assert.equal(log.local, '10.96.1.20:443', 'the chain matched on the original destination');
  }
});

test('raw TCP through PassthroughCluster keeps half-close; meshlet\'s own uid is not captured (no loop)', { timeout: 60_000 }, async (t) => {
  if (maybeSkip(t)) return;
  let mark = meshletLines.length;
  const r = await client(pod, APP_UID, { mode: 'tcp', host: BACKEND_IP, port: 7000 });
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.data, 'echo:pingecho:bye', 'echo, then the reply to our FIN, then the server FIN');
  const log = await waitFor(() => tcpLogs(mark)[0], 'tcp access log');
  assert.equal(log.cluster, 'PassthroughCluster');
  assert.equal(log.upstream, `${BACKEND_IP}:7000`);

  mark = meshletLines.length;
  const direct = await client(pod, PROXY_UID, { mode: 'tcp', host: BACKEND_IP, port: 7000 });
  assert.equal(direct.data, 'echo:pingecho:bye', JSON.stringify(direct));
  await new Promise((res) => setTimeout(res, 300));
  assert.deepEqual(tcpLogs(mark), [], 'uid 1337 reached the backend directly, meshlet saw nothing');

  // Loop guard: a connection whose original destination is 15001 lands on virtualOutbound's blackhole chain.
  mark = meshletLines.length;
  const bh = await client(pod, APP_UID, { mode: 'tcp', host: BACKEND_IP, port: 15001 });
  assert.notEqual(bh.data, 'echo:pingecho:bye');
  const bhLog = await waitFor(() => tcpLogs(mark)[0], 'blackhole access log');
  assert.equal(bhLog.cluster, 'BlackHoleCluster');
  assert.equal(bhLog.flags, 'UH');
});

test('inbound: a client outside the pod reaches the app through virtualInbound, forwarded from 127.0.0.6', { timeout: 60_000 }, async (t) => {
  if (maybeSkip(t)) return;
  // HTTP: http_inspector → the app-port chain's HCM → inbound|8080|| bound to 127.0.0.6.
  const r = await client(backends, undefined, { mode: 'http', url: `http://${POD_IP}:${topo.appHttpPort}/in` });
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.status, 200);
  const body = JSON.parse(String(r.body)) as Record<string, unknown>;
  assert.equal(body.tag, 'app');
  assert.equal(body.remote, '127.0.0.6');
  // Raw TCP on another port: the catch-all chain → InboundPassthroughClusterIpv4 (ORIGINAL_DST, bound to 127.0.0.6).
  const mark = meshletLines.length;
  const appMark = appEvents.length;
  const tcp = await client(backends, undefined, { mode: 'tcp', host: POD_IP, port: 8081 });
  assert.equal(tcp.data, 'app-tcp:pingapp-tcp:bye', JSON.stringify(tcp));
  const conn = await waitFor(() => appEvents.slice(appMark).find((e) => e.event === 'conn' && e.tag === 'app-tcp'), 'app connection');
  assert.match(String(conn.remote), /^127\.0\.0\.6:/);
  const log = await waitFor(() => tcpLogs(mark)[0], 'inbound access log');
  assert.equal(log.cluster, 'InboundPassthroughClusterIpv4');
  assert.equal(log.upstream, `${POD_IP}:8081`);
  // The listeners are the ones meshlet's config made: virtualInbound bound, the VIP listener not bound.
  const listeners = await admin('/listeners');
  assert.match(listeners, /^virtualInbound::0\.0\.0\.0:15006$/m);
  assert.match(listeners, /^10\.96\.1\.10_80::10\.96\.1\.10:80$/m);
});

// ------------------------------------------------------------------ runs everywhere (no namespaces needed)

test('upstream_bind_config: translated with its field paths; unsupported parts rejected by name', () => {
  const tr = (extra: Record<string, unknown>): { value: ClusterConfig; errors: string[] } => {
    const issues = new Issues('cluster');
    const value = translateCluster(jsonToCanonical('envoy.config.cluster.v3.Cluster', {
      name: 'in', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', ...extra,
    }), issues);
    return { value, errors: issues.allErrors().map((e) => `${e.path}: ${e.message}`) };
  };
  const ok = tr({ upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 0 } } });
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(ok.value.upstreamBind, { sourceAddress: '127.0.0.6' });
  assert.equal(tr({}).value.upstreamBind, null);
  const bad = tr({ upstream_bind_config: { source_address: { address: 'not-an-ip', port_value: 0 }, freebind: true } });
  assert.ok(bad.errors.some((e) => e.includes('upstream_bind_config.source_address.address')), bad.errors.join('\n'));
  assert.ok(bad.errors.some((e) => e.includes('upstream_bind_config.freebind')), bad.errors.join('\n'));
  const port = tr({ upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 4000 } } });
  assert.ok(port.errors.some((e) => e.includes('upstream_bind_config.source_address.port_value')), port.errors.join('\n'));
});

test('tcp_proxy connects from the cluster\'s upstream_bind_config source address', { timeout: 20_000 }, async (t) => {
  if (process.platform !== 'linux') { t.skip('127.0.0.0/8 beyond 127.0.0.1 is only local on Linux'); return; }
  const seen: string[] = [];
  const upstream = net.createServer((s) => { seen.push(s.remoteAddress ?? ''); s.end('hi'); });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as net.AddressInfo).port;
  const host: Host = { key: `127.0.0.1:${port}`, address: '127.0.0.1', port, hostname: '', weight: 1, priority: 0, locality: {}, metadata: {}, healthFlags: new Set(), activeRequests: 0 } as unknown as Host;
  const cluster = {
    name: 'in', config: { name: 'in', connectTimeoutMs: 2000, upstreamBind: { sourceAddress: '127.0.0.6' } } as unknown as ClusterConfig,
    chooseHost: () => host, hosts: () => [host], shouldDrop: () => false, reportOutcome: () => {},
    breakers: () => ({ tryAcquire: () => true, release: () => {}, remaining: () => Infinity }),
  } as unknown as UpstreamCluster;
  const view = { get: (n: string) => (n === 'in' ? cluster : undefined), names: () => ['in'][Symbol.iterator]() } as unknown as ClusterManagerView;
  const proxy = new TcpProxy(translateTcpProxy(jsonToCanonical('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', { stat_prefix: 'in', cluster: 'in' }), new Issues()), { clusters: view });
  const front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => { void proxy.handle({ socket: s }).done; });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  try {
    const got = await new Promise<string>((res, rej) => {
      const c = net.connect((front.address() as net.AddressInfo).port, '127.0.0.1');
      let d = '';
      c.on('data', (b) => { d += b.toString(); });
      c.on('end', () => { c.end(); res(d); });
      c.on('error', rej);
    });
    assert.equal(got, 'hi');
    assert.deepEqual(seen, ['127.0.0.6']);
  } finally {
    await new Promise((r) => front.close(r));
    await new Promise((r) => upstream.close(r));
  }
});
