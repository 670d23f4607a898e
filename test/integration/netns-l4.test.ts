// Transparent interception end to end in network namespaces: `meshlet iptables` (runIptables) captures a pod's
// outbound TCP, a stand-in sidecar built from the L4 runtime (original_dst via SO_ORIGINAL_DST, tls_inspector,
// filter-chain matcher, tcp_proxy) running as uid 1337 routes by original destination and SNI to backends in
// another namespace. Needs root, ip, iptables and setpriv; otherwise every test is skipped with the reason.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { NetnsLab, netnsUnavailableReason } from '../support/netns.js';
import { makeCerts, type TestCerts } from '../support/certs.js';
import { runIptables, type IptablesIo } from '../../src/cli/iptables.js';
import type { SidecarSpec } from './l4-support/sidecar.js';

const here = dirname(fileURLToPath(import.meta.url));
const support = (name: string): string => join(here, 'l4-support', name);
const APP_UID = 1000;
const PROXY_UID = 1337;

let skipReason: string | null = null;
let lab: NetnsLab | null = null;
let certs: TestCerts | null = null;
let pod = '';
const sidecarEvents: Array<Record<string, unknown>> = [];
const backendEvents: Array<Record<string, unknown>> = [];

function repoRoot(): string {
  let dir = here;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'scripts', 'build-native.mjs'))) return dir;
    dir = dirname(dir);
  }
  return resolve(here, '..', '..', '..');
}

function collect(child: ChildProcess, into: Array<Record<string, unknown>>, label: string): void {
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try { into.push(JSON.parse(line) as Record<string, unknown>); } catch { process.stderr.write(`[${label}] ${line}\n`); }
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${label}] ${d.toString()}`));
}

async function waitFor<T>(fn: () => T | undefined, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Runs the app client in the pod namespace as `uid`; resolves with its JSON result line. */
async function app(uid: number, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { stdout } = await lab!.exec(pod, [process.execPath, support('app-client.js'), JSON.stringify(req)], {
    uid, env: { ...process.env, ML_CA_PEM: certs!.caPem }, timeoutMs: 20_000,
  }).catch((err: { stdout?: string; message: string }) => ({ stdout: err.stdout ?? JSON.stringify({ ok: false, error: err.message }) }));
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** runIptables with its commands executed inside the pod namespace. */
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
    if (!existsSync(addon)) { skipReason = `the SO_ORIGINAL_DST addon could not be built (${addon} missing; see build-native output above)`; return; }
  }
  certs = await makeCerts(['api.mesh.test', 'other.mesh.test']);
  lab = new NetnsLab();
  pod = await lab.addNamespace('pod');
  const backend = await lab.addNamespace('backend');
  const { aIf } = await lab.link(pod, '10.77.0.1/24', backend, '10.77.0.2/24');
  await lab.exec(pod, ['ip', 'route', 'add', 'default', 'via', '10.77.0.2']);
  // IPv6 on the same link (nodad: usable immediately); the backend namespace routes nowhere else.
  await lab.exec(pod, ['ip', '-6', 'addr', 'add', 'fd77::1/64', 'dev', aIf, 'nodad']);
  const bIf = aIf.replace(/^mla/, 'mlb');
  await lab.exec(backend, ['ip', '-6', 'addr', 'add', 'fd77::2/64', 'dev', bIf, 'nodad']);
  await lab.exec(pod, ['ip', '-6', 'route', 'add', 'default', 'via', 'fd77::2']);

  const api = certs.certFor('api.mesh.test');
  const other = certs.certFor('other.mesh.test');
  const backends = lab.spawn(backend, [process.execPath, support('backends.js'), JSON.stringify([
    { kind: 'echo', host: '10.77.0.2', port: 7000, tag: 'echo' },
    { kind: 'echo', host: '10.77.0.2', port: 7001, tag: 'direct' },
    { kind: 'echo', host: 'fd77::2', port: 7000, tag: 'echo6' },
    { kind: 'tls', host: '10.77.0.2', port: 8443, tag: 'api', cert: api.cert, key: api.key },
    { kind: 'tls', host: '10.77.0.2', port: 9443, tag: 'other', cert: other.cert, key: other.key },
  ])]);
  collect(backends, backendEvents, 'backends');
  await waitFor(() => backendEvents.find((e) => e.event === 'ready'), 'backends ready');

  const spec: SidecarSpec = {
    port: 15001,
    clusters: [
      { name: 'echo', hosts: ['10.77.0.2:7000'] },
      { name: 'echo6', hosts: ['[fd77::2]:7000'] },
      { name: 'api', hosts: ['10.77.0.2:8443'] },
      { name: 'other', hosts: ['10.77.0.2:9443'] },
      { name: 'PassthroughCluster', originalDst: true },
    ],
    chains: [
      { name: 'svc-echo', match: { destination_port: 80, prefix_ranges: [{ address_prefix: '10.96.0.10', prefix_len: 32 }] }, tcpProxy: { stat_prefix: 'echo', cluster: 'echo' } },
      { name: 'svc-echo6', match: { destination_port: 80, prefix_ranges: [{ address_prefix: 'fd96::10', prefix_len: 128 }] }, tcpProxy: { stat_prefix: 'echo6', cluster: 'echo6' } },
      { name: 'tls-api', match: { destination_port: 443, prefix_ranges: [{ address_prefix: '10.96.0.20', prefix_len: 32 }], transport_protocol: 'tls', server_names: ['api.mesh.test'] }, tcpProxy: { stat_prefix: 'api', cluster: 'api' } },
      { name: 'tls-other', match: { destination_port: 443, prefix_ranges: [{ address_prefix: '10.96.0.20', prefix_len: 32 }], transport_protocol: 'tls', server_names: ['other.mesh.test'] }, tcpProxy: { stat_prefix: 'other', cluster: 'other' } },
      { name: 'blackhole', match: { destination_port: 15001 }, tcpProxy: { stat_prefix: 'bh', cluster: 'BlackHoleCluster' } },
    ],
    defaultChain: { name: 'passthrough', tcpProxy: { stat_prefix: 'pt', cluster: 'PassthroughCluster' } },
  };
  const sidecar = lab.spawn(pod, [process.execPath, support('sidecar.js'), JSON.stringify(spec)], { uid: PROXY_UID });
  collect(sidecar, sidecarEvents, 'sidecar');
  const first = await waitFor(() => sidecarEvents.find((e) => e.event === 'listening' || e.event === 'fatal'), 'sidecar listening');
  assert.equal(first.event, 'listening', JSON.stringify(first));

  const out: string[] = [];
  const code = await runIptables(['-p', '15001', '-z', '15006', '-u', String(PROXY_UID), '-g', String(PROXY_UID), '--ipv6'], nsIo(pod, out));
  assert.equal(code, 0, out.join(''));
  // Idempotent: applying again replaces rather than duplicates.
  assert.equal(await runIptables(['--ipv6'], nsIo(pod, out)), 0, out.join(''));
  const { stdout: saved } = await lab.exec(pod, ['iptables-save', '-t', 'nat']);
  assert.equal(saved.split('\n').filter((l) => l === '-A OUTPUT -p tcp -j ISTIO_OUTPUT').length, 1, saved);
});

after(async () => {
  await lab?.destroy();
  await certs?.cleanup();
});

function maybeSkip(t: { skip(msg: string): void }): boolean {
  if (skipReason) {
    console.log(`skipping netns interception test: ${skipReason}`);
    t.skip(skipReason);
    return true;
  }
  return false;
}

const newEvents = (from: number): Array<Record<string, unknown>> => sidecarEvents.slice(from);

test('(a) raw TCP to a service IP only the config knows: captured, SO_ORIGINAL_DST read, routed, half-close intact', { timeout: 60_000 }, async (t) => {
  if (maybeSkip(t)) return;
  const mark = sidecarEvents.length;
  const r = await app(APP_UID, { mode: 'tcp', host: '10.96.0.10', port: 80 });
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.data, 'echo:pingecho:bye', 'echo, then the reply to our FIN, then the server FIN');
  const accept = await waitFor(() => newEvents(mark).find((e) => e.event === 'accept'), 'sidecar accept');
  assert.deepEqual(accept.originalDst, { address: '10.96.0.10', port: 80, family: 4 });
  assert.equal(accept.chain, 'svc-echo');
  assert.equal(accept.transportProtocol, 'raw_buffer');
  const done = await waitFor(() => newEvents(mark).find((e) => e.event === 'done'), 'session done');
  assert.equal(done.cluster, 'echo');
  assert.equal(done.upstreamHost, '10.77.0.2:7000');
  assert.deepEqual(done.responseFlags, []);
  assert.equal(done.bytesReceived, 4);
});

test('(a, IPv6) a v6 service IP is captured by ip6tables and IP6T_SO_ORIGINAL_DST is read', { timeout: 60_000 }, async (t) => {
  if (maybeSkip(t)) return;
  const mark = sidecarEvents.length;
  const r = await app(APP_UID, { mode: 'tcp', host: 'fd96::10', port: 80 });
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.data, 'echo6:pingecho6:bye');
  const accept = await waitFor(() => newEvents(mark).find((e) => e.event === 'accept'), 'sidecar accept');
  assert.deepEqual(accept.originalDst, { address: 'fd96::10', port: 80, family: 6 });
  assert.equal(accept.chain, 'svc-echo6');
});

test('(b) TLS by SNI is passed through untouched to the right backend; the client verifies it end to end', { timeout: 60_000 }, async (t) => {
  if (maybeSkip(t)) return;
  for (const [sni, tag] of [['api.mesh.test', 'api'], ['other.mesh.test', 'other']] as const) {
    const mark = sidecarEvents.length;
    const r = await app(APP_UID, { mode: 'tls', host: '10.96.0.20', port: 443, sni });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.authorized, true);
    assert.equal(r.subjectaltname, `DNS:${sni}`);
    assert.match(String(r.data), new RegExp(`^${tag}:ping`));
    const accept = await waitFor(() => newEvents(mark).find((e) => e.event === 'accept'), 'sidecar accept');
    assert.equal(accept.transportProtocol, 'tls');
    assert.equal(accept.serverName, sni);
    assert.equal(accept.chain, `tls-${tag}`);
    const done = await waitFor(() => newEvents(mark).find((e) => e.event === 'done'), 'session done');
    assert.equal(done.cluster, tag);
  }
  // An SNI no chain knows for that destination falls to the default (passthrough to the original destination,
  // which does not exist): the handshake fails, it is never terminated by the proxy.
  const r = await app(APP_UID, { mode: 'tls', host: '10.96.0.20', port: 443, sni: 'unknown.mesh.test' });
  assert.equal(r.ok, false);
});

test('(c) traffic of uid 1337 is not captured (no loop); the same call from the app uid is', { timeout: 60_000 }, async (t) => {
  if (maybeSkip(t)) return;
  const mark = sidecarEvents.length;
  const direct = await app(PROXY_UID, { mode: 'tcp', host: '10.77.0.2', port: 7001 });
  assert.equal(direct.ok, true, JSON.stringify(direct));
  assert.equal(direct.data, 'direct:pingdirect:bye');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(newEvents(mark).filter((e) => e.event === 'accept'), [], 'the sidecar saw no connection from uid 1337');

  const captured = await app(APP_UID, { mode: 'tcp', host: '10.77.0.2', port: 7001 });
  assert.equal(captured.ok, true, JSON.stringify(captured));
  assert.equal(captured.data, 'direct:pingdirect:bye');
  const accept = await waitFor(() => newEvents(mark).find((e) => e.event === 'accept'), 'sidecar accept');
  assert.deepEqual(accept.originalDst, { address: '10.77.0.2', port: 7001, family: 4 });
  assert.equal(accept.chain, 'passthrough');
  const done = await waitFor(() => newEvents(mark).find((e) => e.event === 'done'), 'session done');
  assert.equal(done.cluster, 'PassthroughCluster');
  assert.equal(done.upstreamHost, '10.77.0.2:7001');
});
