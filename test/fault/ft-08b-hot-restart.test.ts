// test/fault FT-8b (security.md §4.2 FT-8 "… plus restart"): hot restart. Epoch 0 serves HTTP/1.1 and HTTP/2 clients
// at a fixed rate, 20 % of requests take 2 s; epoch 1 starts with the same listener, port and --base-id and
// --restart-epoch 1, takes the listen socket by fd passing (SCM_RIGHTS), turns LIVE and tells epoch 0 to drain.
// Criteria: 0 connection-refused and 0 errors across the hand-over; every request in flight on the old process
// completes with a correct body (checksums) and those finishing after the drain start on HTTP/1 carry
// `Connection: close`; requests started once the drain is under way land on the new process (a per-epoch response
// header); the old process exits ≤ drain time + 1 s after its drain started; the new one keeps serving and reports
// its epoch (/hot_restart_version, /server_info, server.hot_restart_epoch).
// The two bootstraps differ only in that response header's value. Scaled: 500 rps → 2 × 80 rps; drain 600 s → 4 s.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshletProcess, freePort, httpRequest } from '../support/meshlet-process.js';
import { runLoad, type LoadResult, type RequestRecord } from '../support/load.js';
import { FaultBackend, sleep, staticBootstrap } from './fault-env.js';
import { loadHotRestartAddon } from '../../src/process/hot-restart-native.js';

const DRAIN_S = 4;
const addon = loadHotRestartAddon();
const skip = addon.state === 'loaded' ? false : `hot-restart addon unavailable: ${addon.reason}`;

/** The wall-clock time (epoch ms) of the first JSON log line with this msg, from a meshlet's output. */
function logTime(out: string, msg: string): number | undefined {
  for (const line of out.split('\n')) {
    if (!line.includes(msg)) continue;
    try {
      const j = JSON.parse(line) as { msg?: string; time?: number };
      if (j.msg === msg && typeof j.time === 'number') return j.time;
    } catch {
      /* not a log line */
    }
  }
  return undefined;
}

describe('FT-8b hot restart: epoch 1 takes the listen socket from epoch 0 under load', { skip, timeout: 90_000 }, () => {
  let backend: FaultBackend;
  const procs: MeshletProcess[] = [];
  let port = 0;
  let dir = '';
  // A base id of its own: other meshlets on this host (other tests) serve @meshlet_hot_restart_0_0.
  const baseId = String(10_000 + Math.floor(Math.random() * 50_000));

  const bootstrap = (epoch: number): Record<string, unknown> => staticBootstrap({
    port,
    listener: { traffic_direction: 'INBOUND' },
    accessLog: join(dir, `access-${epoch}.log`),
    clusters: [{ name: 'svc', ports: [backend.port] }],
    routes: [{
      match: { prefix: '/' },
      route: { cluster: 'svc', timeout: '10s' },
      response_headers_to_add: [{ header: { key: 'x-served-by', value: `epoch-${epoch}` } }],
    }],
  });
  const args = (epoch: number): string[] => ['--base-id', baseId, '--restart-epoch', String(epoch), '--drain-time-s', String(DRAIN_S), '--drain-strategy', 'immediate'];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft8b-'));
    backend = await FaultBackend.start('backend-a');
    port = await freePort();
    procs.push(await MeshletProcess.start({ bootstrap: bootstrap(0), args: args(0) }));
    await procs[0].waitState('LIVE');
  });

  after(async () => {
    for (const p of procs) await p.stop();
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands over with 0 refused connections, completes in-flight requests on the old process, moves new ones to the new process', async () => {
    const [old] = procs;
    assert.equal((await old.admin('/hot_restart_version')).body, 'meshlet.1');
    const common = {
      url: `http://127.0.0.1:${port}`, rps: 80, durationMs: 8000, timeoutMs: 8000,
      headers: (i: number) => (i % 5 === 0 ? { 'x-delay-ms': '2000' } : {}) as Record<string, string>,
      captureHeaders: ['connection', 'x-served-by'],
    };
    const wall0 = Date.now();
    const h1 = runLoad({ ...common, protocol: 'http1', path: (i) => `/h1/${i}` });
    const h2 = runLoad({ ...common, protocol: 'http2', path: (i) => `/h2/${i}` });
    await sleep(1500);
    const inflightAtStart = backend.stats.inflight;
    const next = await MeshletProcess.start({ bootstrap: bootstrap(1), args: args(1) });
    procs.push(next);
    await next.waitState('LIVE', 15_000);
    const oldExit = await old.waitExit((DRAIN_S + 10) * 1000);
    const exitWall = Date.now();
    const [r1, r2] = await Promise.all([h1, h2]);

    const drainWall = logTime(old.stdout + old.stderr, 'hot restart: child is live; draining and exiting');
    assert.ok(drainWall, `epoch 0 logged its drain start\n${old.output()}`);
    const drainAt = drainWall - wall0; // in the loads' clock (ms since they started)
    const exitAfterDrain = exitWall - drainWall;
    const servedBy = (x: RequestRecord): string => x.captured?.['x-served-by'] ?? '?';
    const byEpoch = (r: LoadResult): Record<string, number> => r.records.reduce<Record<string, number>>((m, x) => ({ ...m, [servedBy(x)]: (m[servedBy(x)] ?? 0) + 1 }), {});
    console.log(`# FT-8b epoch 1 started with ${inflightAtStart} requests in flight at the backend; epoch 0 drain at +${Math.round(drainAt)} ms, exit ${JSON.stringify(oldExit)} ${exitAfterDrain} ms after its drain started`);
    console.log(`# FT-8b h1 ${r1.summary()}; served by ${JSON.stringify(byEpoch(r1))}`);
    console.log(`# FT-8b h2 ${r2.summary()}; served by ${JSON.stringify(byEpoch(r2))}; GOAWAYs ${JSON.stringify(r2.goaways.map((g) => ({ ...g, atMs: Math.round(g.atMs - drainAt) })))}`);

    for (const [name, r] of [['HTTP/1.1', r1], ['HTTP/2', r2]] as const) {
      const failed = r.records.filter((x) => x.outcome !== 'ok');
      assert.deepEqual(failed.map((x) => `${x.i}@${Math.round(x.startMs - drainAt)}ms ${x.outcome} ${x.detail}`), [], `${name}: 0 refused connections and 0 errors across the hand-over`);
      const oldInFlight = r.records.filter((x) => servedBy(x) === 'epoch-0' && x.startMs < drainAt && x.startMs + x.latencyMs > drainAt);
      assert.ok(oldInFlight.some((x) => x.latencyMs > 1900), `${name}: slow requests in flight on epoch 0 at the drain finished there`);
      const late = r.records.filter((x) => x.startMs > drainAt + 500);
      assert.ok(late.length > 50, `${name}: load continued after the hand-over (${late.length})`);
      assert.deepEqual(late.filter((x) => servedBy(x) !== 'epoch-1').map((x) => `${x.i}@${Math.round(x.startMs - drainAt)}ms ${servedBy(x)}`), [], `${name}: requests started once the drain is under way land on epoch 1`);
      assert.ok(r.records.some((x) => servedBy(x) === 'epoch-1' && x.startMs + x.latencyMs < drainAt + exitAfterDrain), `${name}: epoch 1 served while epoch 0 was still draining`);
    }
    const h1OldAfter = r1.records.filter((x) => servedBy(x) === 'epoch-0' && x.startMs + x.latencyMs > drainAt + 50);
    assert.ok(h1OldAfter.length > 0, 'HTTP/1 responses from epoch 0 after its drain started');
    assert.deepEqual(h1OldAfter.filter((x) => x.captured?.connection !== 'close').map((x) => x.i), [], 'they carry Connection: close');
    assert.ok(r2.goaways.some((g) => g.atMs >= drainAt - 50), 'HTTP/2 clients of epoch 0 got GOAWAY');

    assert.equal(oldExit.code, 0, 'epoch 0 exits cleanly');
    assert.ok(exitAfterDrain <= (DRAIN_S + 1) * 1000, `epoch 0 exited ${exitAfterDrain} ms after its drain started (≤ drain time + 1 s)`);

    // The new process keeps serving, on the same port, and says which epoch it is.
    const after = await httpRequest(`http://127.0.0.1:${port}/after`);
    assert.equal(after.status, 200);
    assert.equal(after.headers['x-served-by'], 'epoch-1');
    assert.equal((await next.admin('/hot_restart_version')).body, 'meshlet.1');
    const info = await next.adminJson<{ hot_restart_version: string; command_line_options: { restart_epoch: number } }>('/server_info');
    assert.equal(info.hot_restart_version, 'meshlet.1');
    assert.equal(info.command_line_options.restart_epoch, 1);
    assert.equal(await next.promValue('envoy_server_hot_restart_epoch'), 1);
  });
});
