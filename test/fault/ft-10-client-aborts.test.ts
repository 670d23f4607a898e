// test/fault FT-10 (security.md §4.2 "Client aborts and leaks"): per round, HTTP/1 clients destroy their socket on
// half of their slow requests, HTTP/2 clients RST_STREAM(CANCEL) half of theirs, and one HTTP/2 connection fires a
// 1 000-stream rapid-reset burst, while a well-behaved client keeps a fixed rate.
// Criteria kept: the backend sees every HTTP/1 and every HTTP/2 cancellation (the delay from abort to backend close
// is printed; the table's
// 100 ms is a latency bound, recorded not asserted); after each round meshlet's open fds and the backend's active
// requests are back to baseline ±5 within 10 s; the non-aborted requests all succeed. Memory growth across rounds
// ≤ 5 % (rounds 1→3 after a warm-up round 0) is asserted on meshlet's heap: admin /memory `allocated` after a settle
// period and a full GC (forced by a heap snapshot, SIGUSR2), not RSS, which counts allocator slack and the snapshot
// itself. (It found closed HTTP/2 sessions kept for 1 h by node's session timer; now ~0.3-0.7 % JIT code growth.)
// RSS is printed. The other clients' p99
// during the burst is printed (table: within +20 %). Scaled: 3 rounds of 60 s → 3 rounds of ~3 s.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshletProcess, freePort, pollUntil } from '../support/meshlet-process.js';
import { runLoad } from '../support/load.js';
import { FaultBackend, sleep, staticBootstrap } from './fault-env.js';

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

describe('FT-10 client aborts, HTTP/2 cancels and a rapid-reset burst leak nothing', { timeout: 120_000, skip: process.platform !== 'linux' ? 'needs /proc' : false }, () => {
  let backend: FaultBackend;
  let meshlet: MeshletProcess;
  let port = 0;
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft10-'));
    backend = await FaultBackend.start('backend-a');
    port = await freePort();
    meshlet = await MeshletProcess.start({
      // Test-only: SIGUSR2 makes the child write a heap snapshot, which runs a full GC first, so /memory's
      // `allocated` read right after it is live heap, not garbage waiting for the collector.
      env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`.trim() },
      // Upstream idle connections close after 1 s, so the pool that grew during a round shrinks back to baseline.
      bootstrap: staticBootstrap({ port, accessLog: join(dir, 'access.log'), clusters: [{ name: 'svc', ports: [backend.port], extra: { common_http_protocol_options: { idle_timeout: '1s' } } }], routes: [{ match: { prefix: '/' }, route: { cluster: 'svc', timeout: '10s' } }] }),
    });
    await meshlet.waitState('LIVE');
  });

  after(async () => {
    await meshlet?.stop();
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** 100 slow HTTP/1 requests on their own sockets; every other one is destroyed 200 ms in. */
  const h1Round = async (): Promise<{ aborted: number; ok: number; bad: string[] }> => {
    let ok = 0;
    let aborted = 0;
    const bad: string[] = [];
    await Promise.all(Array.from({ length: 100 }, (_, i) => new Promise<void>((res) => {
      const abort = i % 2 === 0;
      const abortAt = Date.now() + 200;
      const req = http.request({ host: '127.0.0.1', port, path: `/h1abort/${i}`, agent: false, headers: { 'x-delay-ms': '800', 'x-client-abort-at': String(abortAt) } }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => { if (r.statusCode === 200) ok++; else bad.push(`status ${r.statusCode}`); res(); });
        r.on('error', (e) => { bad.push(e.message); res(); });
      });
      req.on('error', (e) => { if (!abort) bad.push(e.message); res(); });
      req.end();
      if (abort) setTimeout(() => { aborted++; req.destroy(); res(); }, 200);
    })));
    return { aborted, ok, bad };
  };

  /** 100 slow HTTP/2 streams on one session; every other one is cancelled 400 ms in (800 ms responses: still in flight;
   * 200 ms left too few forwarded on a loaded 2-CPU machine to check). Then a 1 000-stream rapid reset. */
  const h2Round = async (): Promise<{ aborted: number; ok: number; bad: string[] }> => {
    let ok = 0;
    let aborted = 0;
    const bad: string[] = [];
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', () => undefined);
    await Promise.all(Array.from({ length: 100 }, (_, i) => new Promise<void>((res) => {
      const abort = i % 2 === 0;
      const abortAt = Date.now() + 400;
      const st = s.request({ ':path': `/${abort ? 'h2abort' : 'h2keep'}/${i}`, 'x-delay-ms': '800', 'x-client-abort-at': String(abortAt) });
      st.on('response', (h) => { if (h[':status'] !== 200) bad.push(`status ${h[':status']}`); });
      st.on('data', () => undefined);
      st.on('end', () => { if (!abort) ok++; res(); });
      st.on('error', (e) => { if (!abort) bad.push(e.message); res(); });
      st.end();
      if (abort) setTimeout(() => { aborted++; st.close(http2.constants.NGHTTP2_CANCEL); res(); }, 400);
    })));
    s.close();
    return { aborted, ok, bad };
  };

  const rapidReset = async (): Promise<void> => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.on('error', () => undefined);
    await new Promise<void>((r) => { s.once('connect', () => r()); s.once('close', () => r()); });
    for (let i = 0; i < 1000 && !s.closed && !s.destroyed; i++) {
      try {
        const st = s.request({ ':path': `/rapid/${i}`, 'x-delay-ms': '500' });
        st.on('error', () => undefined);
        st.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        break;
      }
      if (i % 100 === 99) await sleep(100);
    }
    s.destroy();
  };

  /** Per-connection / per-stream objects (node's and meshlet's) that must all be gone once a round has settled. */
  const PER_STREAM = ['ServerHttp2Session', 'ServerHttp2Stream', 'ActiveStream', 'H1Downstream', 'H2Downstream', 'RouterRequest', 'StreamTrace', 'H1Request', 'H2Request', 'H2Session', 'PrematureResetTracker'];
  /** Live objects of those classes in a heap snapshot (V8's .heapsnapshot JSON: flat node array + string table). */
  const countLive = (file: string): Record<string, number> => {
    const snap = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
    const { node_fields: fields, node_types: [types] } = snap.snapshot.meta;
    const [nf, ti, ni] = [fields.length, fields.indexOf('type'), fields.indexOf('name')];
    const want = new Set(PER_STREAM);
    const counts: Record<string, number> = {};
    for (let i = 0; i < snap.nodes.length; i += nf) {
      if (types[snap.nodes[i + ti]!] !== 'object') continue;
      const name = snap.strings[snap.nodes[i + ni]!]!;
      if (want.has(name)) counts[name] = (counts[name] ?? 0) + 1;
    }
    return counts;
  };

  /**
   * meshlet's /memory `allocated` after a full GC (forced by a heap snapshot), and the per-stream objects still live in
   * that snapshot. Snapshots are removed, or kept in FT10_KEEP_SNAPSHOTS=<dir> for a leak hunt (DevTools comparison).
   */
  let snapSeq = 0;
  const afterGc = async (): Promise<{ allocated: number; live: Record<string, number> }> => {
    const snaps = (): string[] => readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
    const before = snaps().length;
    process.kill(meshlet.pid, 'SIGUSR2');
    await pollUntil('meshlet wrote its heap snapshot', async () => snaps().length > before, 30_000, 50);
    // The snapshot is written synchronously on meshlet's main thread: this request is answered once it is done.
    const m = await meshlet.adminJson<Record<string, string>>('/memory');
    const files = snaps();
    const live = countLive(join(dir, files.at(-1)!));
    const keep = process.env.FT10_KEEP_SNAPSHOTS;
    for (const f of files) {
      if (keep) renameSync(join(dir, f), join(keep, `ft10-round${snapSeq}-${f}`));
      else rmSync(join(dir, f), { force: true });
    }
    snapSeq++;
    return { allocated: Number(m.allocated), live };
  };

  let h2Expected = 0;
  let allocByRound: number[] = [];
  const liveByRound: Record<string, number>[] = [];

  it('3 rounds: HTTP/1 cancellations reach the backend, fds and active requests return to baseline', async () => {
    const pid = meshlet.pid;
    const baseline = await runLoad({ url: `http://127.0.0.1:${port}`, rps: 50, durationMs: 2000 });
    const baseFds = fdCount(pid);
    const baseInflight = backend.stats.inflight;
    const rss: number[] = [];
    const alloc: number[] = [];
    const h1AbortsSeen = (): number => backend.stats.abortsByPrefix.h1abort ?? 0;
    let h1Expected = 0;
    console.log(`# FT-10 baseline: ${baseline.summary()}; fds ${baseFds}; rss ${rssKb(pid)} kB`);
    // Round 0 warms up (JIT, pools); rounds 1..3 are the table's three rounds.
    for (let round = 0; round <= 3; round++) {
      const abortsBefore = backend.stats.aborted;
      const latBefore = backend.stats.abortLatencies.length;
      const others = runLoad({ url: `http://127.0.0.1:${port}`, rps: 50, durationMs: 2500, path: (i) => `/other/${round}/${i}` });
      const [a1, a2] = await Promise.all([h1Round(), h2Round(), rapidReset()]);
      const o = await others;
      assert.deepEqual([...a1.bad, ...a2.bad], [], `round ${round}: non-aborted requests succeed`);
      assert.equal(a1.ok, 50);
      assert.equal(a2.ok, 50);
      assert.deepEqual(o.failures().map((r) => `${r.outcome} ${r.detail}`), [], `round ${round}: well-behaved clients unaffected`);
      h1Expected += a1.aborted;
      await pollUntil(`round ${round}: backend saw the ${a1.aborted} HTTP/1 cancellations`, async () => h1AbortsSeen() >= h1Expected, 10_000, 50)
        .catch((e: Error) => { throw new Error(`${e.message}; backend saw ${JSON.stringify(backend.stats.abortsByPrefix)}, requests ${backend.stats.requests}, in flight ${backend.stats.inflight}`); });
      h2Expected += a2.aborted;
      await pollUntil(`round ${round}: fds and active upstream requests back to baseline ±5`,
        async () => fdCount(pid) <= baseFds + 5 && backend.stats.inflight <= baseInflight + 5, 10_000, 100)
        .catch((e: Error) => { throw new Error(`${e.message}: fds ${fdCount(pid)} (baseline ${baseFds}), active upstream requests ${backend.stats.inflight} (baseline ${baseInflight})`); });
      const lat = backend.stats.abortLatencies.slice(latBefore).sort((x, y) => x - y);
      rss.push(rssKb(pid));
      // Settle: upstream idle connections (1 s idle_timeout) and timers of the round close before the reading.
      await sleep(1500);
      const g = await afterGc();
      alloc.push(g.allocated);
      liveByRound.push(g.live);
      console.log(`# FT-10 round ${round}: aborted ${a1.aborted}+${a2.aborted} (+1000 rapid resets), backend saw ${backend.stats.aborted - abortsBefore} (${JSON.stringify(backend.stats.abortsByPrefix)}); abort→backend close p50 ${lat[Math.floor(lat.length / 2)]} ms max ${lat.at(-1)} ms (table: ≤ 100 ms); other clients p99 ${o.percentile(99).toFixed(1)} ms vs baseline ${baseline.percentile(99).toFixed(1)} ms; fds ${fdCount(pid)}; rss ${rss.at(-1)} kB; heap allocated after GC ${alloc.at(-1)} B; per-stream objects live ${JSON.stringify(liveByRound.at(-1))}`);
    }
    allocByRound = alloc;
  });

  // An HTTP/2 RST_STREAM(CANCEL) from the client cancels the upstream request (node reports the peer's reset with
  // the writable side already finished; the downstream now reads the stream's reset code).
  // Only a request that reached the backend can be cancelled there: on a loaded machine some streams are cancelled
  // (400 ms in) before meshlet forwarded them, so the criterion is "every cancelled request the backend received
  // was cancelled", with at least half of them forwarded so the check has something to see.
  it('HTTP/2 RST_STREAM(CANCEL) reaches the backend as a cancellation', async () => {
    assert.ok(h2Expected > 0, 'the rounds ran');
    const reached = (): number => backend.stats.requestsByPrefix.h2abort ?? 0;
    assert.ok(reached() >= h2Expected / 2, `${reached()} of ${h2Expected} cancelled HTTP/2 requests reached the backend`);
    await pollUntil(`backend saw a cancellation for each of the ${reached()} cancelled HTTP/2 requests it received (${JSON.stringify(backend.stats.abortsByPrefix)})`,
      async () => (backend.stats.abortsByPrefix.h2abort ?? 0) >= reached(), 3000, 50);
  });

  // Before the fix every closed downstream HTTP/2 session (2 per round here) stayed reachable from node's 1 h session
  // timer; the count of such objects is the sharp check, the 5 % heap bound the table's criterion.
  it('after each settled round no connection or stream object is left in meshlet\'s heap', () => {
    assert.equal(liveByRound.length, 4, 'the rounds ran');
    liveByRound.forEach((live, round) => assert.deepEqual(live, {}, `round ${round}: live after GC ${JSON.stringify(live)}`));
  });

  it('heap allocated after GC (admin /memory) grows ≤ 5 % from round 1 to round 3', async () => {
    assert.equal(allocByRound.length, 4, 'the rounds ran');
    const m = await meshlet.adminJson<Record<string, string>>('/memory');
    assert.deepEqual(Object.keys(m).sort(), ['allocated', 'heap_size', 'pageheap_free', 'pageheap_unmapped', 'total_physical_bytes', 'total_thread_cache']);
    assert.ok(Number(m.allocated) > 0 && Number(m.heap_size) >= Number(m.allocated), `/memory ${JSON.stringify(m)}`);
    const gauge = await meshlet.promValue('envoy_server_memory_allocated');
    assert.ok(gauge !== undefined && gauge > 0, `envoy_server_memory_allocated = ${gauge}`);
    const growth = (allocByRound[3]! - allocByRound[1]!) / allocByRound[1]!;
    assert.ok(growth <= 0.05, `meshlet heap allocated after GC from round 1 to round 3: ${allocByRound.join(' → ')} B, ${(growth * 100).toFixed(1)} % (≤ 5 %)`);
  });
});
