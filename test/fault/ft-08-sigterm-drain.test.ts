// test/fault FT-8 (security.md §4.2 "SIGTERM graceful drain"), REDUCED: meshlet has no hot restart, so there is no
// second instance taking the listen socket by fd passing and the "0 connection-refused during the hand-over" criterion
// is not tested; this is the SIGTERM drain alone (issue 8: "SIGTERM during in-flight requests: all complete").
// HTTP/1.1 and HTTP/2 clients at a fixed rate, 20 % of requests take 2 s; SIGTERM while many are in flight.
// Criteria kept: every request in flight at SIGTERM completes (0 resets, 0 truncated bodies: checksums); HTTP/1
// responses after SIGTERM carry `Connection: close` (drain strategy immediate, so every one must); HTTP/2 clients get
// GOAWAY; the process exits ≤ drain timeout + 1 s. Requests started after SIGTERM are printed (refusal is allowed
// once the drain started). The two-phase HTTP/2 GOAWAY is a `todo` test (meshlet sends one GOAWAY). The listener is INBOUND: meshlet (like Istio) drains only inbound listeners on SIGTERM.
// Scaled: 500 rps → 2 × 80 rps for 2.5 s; drain-time 600 s → 4 s.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshletProcess, freePort } from '../support/meshlet-process.js';
import { runLoad, type LoadResult } from '../support/load.js';
import { FaultBackend, sleep, staticBootstrap } from './fault-env.js';

const DRAIN_S = 4;

describe('FT-8 SIGTERM drain with in-flight HTTP/1.1 and HTTP/2 requests', { timeout: 60_000 }, () => {
  let backend: FaultBackend;
  let meshlet: MeshletProcess;
  let port = 0;
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft8-'));
    backend = await FaultBackend.start('backend-a');
    port = await freePort();
    meshlet = await MeshletProcess.start({
      bootstrap: staticBootstrap({ port, listener: { traffic_direction: 'INBOUND' }, accessLog: join(dir, 'access.log'), clusters: [{ name: 'svc', ports: [backend.port] }], routes: [{ match: { prefix: '/' }, route: { cluster: 'svc', timeout: '10s' } }] }),
      args: ['--drain-time-s', String(DRAIN_S), '--drain-strategy', 'immediate'],
    });
    await meshlet.waitState('LIVE');
  });

  after(async () => {
    await meshlet?.stop();
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let h2Result: LoadResult | null = null;

  it('completes every in-flight request, signals the drain on both protocols and exits within the drain time', async () => {
    const common = {
      url: `http://127.0.0.1:${port}`, rps: 80, durationMs: 2500, timeoutMs: 8000,
      headers: (i: number) => (i % 5 === 0 ? { 'x-delay-ms': '2000' } : {}) as Record<string, string>,
      captureHeaders: ['connection'],
    };
    const h1 = runLoad({ ...common, protocol: 'http1', path: (i) => `/h1/${i}` });
    const h2 = runLoad({ ...common, protocol: 'http2', path: (i) => `/h2/${i}` });
    const t0 = performance.now();
    await sleep(2000);
    const inflightAtSignal = backend.stats.inflight;
    meshlet.signal('SIGTERM');
    const sigAt = performance.now() - t0;
    const exit = await meshlet.waitExit((DRAIN_S + 5) * 1000);
    const exitAfter = performance.now() - t0 - sigAt;
    const [r1, r2] = await Promise.all([h1, h2]);
    h2Result = r2;
    console.log(`# FT-8 SIGTERM with ${inflightAtSignal} requests in flight at the backend; exit ${JSON.stringify(exit)} ${Math.round(exitAfter)} ms later`);
    console.log(`# FT-8 h1 ${r1.summary()}`);
    console.log(`# FT-8 h2 ${r2.summary()}; GOAWAYs ${JSON.stringify(r2.goaways.map((g) => ({ ...g, atMs: Math.round(g.atMs - sigAt) })))}`);
    assert.ok(inflightAtSignal >= 10, `requests were in flight at SIGTERM (${inflightAtSignal})`);

    for (const [name, r] of [['HTTP/1.1', r1], ['HTTP/2', r2]] as const) {
      // In flight = sent at least 50 ms before the signal (a request scheduled at the signal instant races it).
      const before = r.records.filter((x) => x.startMs < sigAt - 50);
      const lost = before.filter((x) => x.outcome !== 'ok');
      assert.deepEqual(lost.map((x) => `${x.i}@${Math.round(x.startMs)} ${x.outcome} ${x.detail}`), [], `${name}: every request started before SIGTERM completes intact`);
      assert.ok(before.some((x) => x.latencyMs > 1900 && x.startMs + x.latencyMs > sigAt), `${name}: slow requests in flight at SIGTERM finished`);
      const afterSig = r.records.filter((x) => x.startMs >= sigAt);
      console.log(`# FT-8 ${name}: after SIGTERM ${afterSig.length} requests: ${JSON.stringify(Object.fromEntries(['ok', 'connect_refused', 'reset', 'timeout', '5xx'].map((k) => [k, afterSig.filter((x) => x.outcome === k).length])))}`);
    }
    const h1After = r1.records.filter((x) => x.outcome === 'ok' && x.startMs + x.latencyMs > sigAt + 50);
    assert.ok(h1After.length > 0, 'HTTP/1 responses were sent after SIGTERM');
    assert.deepEqual(h1After.filter((x) => x.captured?.connection !== 'close').map((x) => x.i), [], 'HTTP/1 responses after SIGTERM carry Connection: close');
    assert.ok(r2.goaways.some((g) => g.atMs >= sigAt), 'HTTP/2 client received GOAWAY after SIGTERM');
    assert.equal(exit.code, 0, 'clean exit');
    assert.ok(exitAfter <= (DRAIN_S + 1) * 1000, `exited ${Math.round(exitAfter)} ms after SIGTERM (≤ drain time + 1 s)`);
  });

  // Known gap, kept visible: meshlet drains HTTP/2 with one GOAWAY carrying the current last stream id (Node's
  // session.close()), so a request already on the wire gets REFUSED_STREAM; Envoy's two-phase drain sends
  // GOAWAY(2^31−1) first, then the final GOAWAY, and refuses nothing in flight. Node cannot do it: it has no
  // shutdown-notice API, session.goaway(0, 2^31−1) makes nghttp2 silently ignore every later stream (worse: they
  // hang until the final GOAWAY), and writing the frame to the session's transport ourselves aborts node on TLS
  // (Http2Session::OnStreamAfterWrite: is_write_in_progress) and can on TCP under backpressure.
  it('HTTP/2 drain is two-phase: GOAWAY(2^31−1) first, no stream refused', { todo: 'node:http2 has no shutdown-notice (nghttp2_submit_shutdown_notice) API; meshlet sends a single GOAWAY' }, () => {
    assert.ok(h2Result, 'the drain run happened');
    assert.equal(h2Result.goaways[0]?.lastStreamId, 2 ** 31 - 1, `first GOAWAY: ${JSON.stringify(h2Result.goaways)}`);
    assert.ok(h2Result.goaways.length >= 2, 'a final GOAWAY follows');
    assert.equal(h2Result.records.filter((x) => /REFUSED_STREAM/.test(x.detail)).length, 0, 'no stream refused');
  });
});
