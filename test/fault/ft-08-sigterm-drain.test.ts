// test/fault FT-8 (security.md §4.2 "SIGTERM graceful drain"): the SIGTERM drain (issue 8: "SIGTERM during in-flight
// requests: all complete"). The hot-restart half of FT-8 (a second instance takes the listen socket by fd passing, 0
// connection-refused during the hand-over) is ft-08b-hot-restart.test.ts.
// HTTP/1.1 and HTTP/2 clients at a fixed rate, 20 % of requests take 2 s; SIGTERM while many are in flight.
// Criteria kept: every request in flight at SIGTERM completes (0 resets, 0 truncated bodies: checksums); HTTP/1
// responses after SIGTERM carry `Connection: close` (drain strategy immediate, so every one must); HTTP/2 clients get
// GOAWAY; the process exits ≤ drain timeout + 1 s. Requests started after SIGTERM are printed (refusal is allowed
// once the drain started). HTTP/2 drains in Envoy's two phases, seen by a raw-frame client (node's client answers a
// GOAWAY with its own, which makes the server send the final one at once): GOAWAY(2^31−1, NO_ERROR) first, a stream
// sent right after SIGTERM (racing the notice) is served, the final GOAWAY with the last stream id processed comes
// drain_timeout later, the stream in flight completes. The listener is INBOUND: meshlet (like Istio) drains only
// inbound listeners on SIGTERM. HTTP/1.1 keep-alive connections are not closed by the drain (only by their client after
// a Connection: close answer, or at the deadline), so a request on one after SIGTERM is answered; an HTTP/2 stream the
// load client refused itself after reading the notice (queued, never sent) must never have reached the backend.
// Scaled: 500 rps → 2 × 80 rps for 2.5 s; drain-time 600 s → 4 s; HCM drain_timeout 5 s → 1 s (the final GOAWAY
// must reach the client while the 2 s request in flight at SIGTERM keeps its connection open).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshletProcess, freePort } from '../support/meshlet-process.js';
import { runLoad, type LoadResult } from '../support/load.js';
import { FaultBackend, sleep, staticBootstrap } from './fault-env.js';
import { RawH2DrainClient, waitUntil } from '../support/raw-h2-drain-client.js';

const DRAIN_S = 4;
const DRAIN_TIMEOUT_MS = 1000;

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
      bootstrap: staticBootstrap({ port, listener: { traffic_direction: 'INBOUND' }, hcm: { drain_timeout: `${DRAIN_TIMEOUT_MS / 1000}s` }, accessLog: join(dir, 'access.log'), clusters: [{ name: 'svc', ports: [backend.port] }], routes: [{ match: { prefix: '/' }, route: { cluster: 'svc', timeout: '10s' } }] }),
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
  let backendStats: FaultBackend['stats'] | null = null;
  let raw: RawH2DrainClient | null = null;
  let rawSigAt = 0;

  it('completes every in-flight request, signals the drain on both protocols and exits within the drain time', async () => {
    const common = {
      url: `http://127.0.0.1:${port}`, rps: 80, durationMs: 2500, timeoutMs: 8000,
      headers: (i: number) => (i % 5 === 0 ? { 'x-delay-ms': '2000' } : {}) as Record<string, string>,
      captureHeaders: ['connection'],
    };
    const h1 = runLoad({ ...common, protocol: 'http1', path: (i) => `/h1/${i}` });
    // One backend prefix per HTTP/2 request (h2-<i>): whether a refused stream reached the upstream is known.
    const h2 = runLoad({ ...common, protocol: 'http2', path: (i) => `/h2-${i}/x` });
    const t0 = performance.now();
    await sleep(1500);
    // The raw-frame HTTP/2 client: stream 1 (2 s) in flight at SIGTERM, stream 3 sent right after the signal.
    raw = await RawH2DrainClient.connect(port);
    raw.get(1, '/raw/1', [['x-delay-ms', '2000']]);
    await sleep(500);
    const inflightAtSignal = backend.stats.inflight;
    meshlet.signal('SIGTERM');
    rawSigAt = performance.now();
    raw.get(3, '/raw/3');
    const sigAt = performance.now() - t0;
    const exit = await meshlet.waitExit((DRAIN_S + 5) * 1000);
    const exitAfter = performance.now() - t0 - sigAt;
    const [r1, r2] = await Promise.all([h1, h2]);
    h2Result = r2;
    backendStats = backend.stats;
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

  // Envoy's two-phase drain (shutdown notice, then the final GOAWAY after drain_timeout), written by meshlet's HTTP/2
  // transport (src/http/h2-transport.ts): nothing on the wire is refused.
  it('HTTP/2 drain is two-phase: GOAWAY(2^31−1) first, then the final GOAWAY after drain_timeout, no stream refused', async () => {
    assert.ok(h2Result && raw, 'the drain run happened');
    const c = raw;
    try {
      const g = c.goaways();
      console.log(`# FT-8 raw client GOAWAYs ${JSON.stringify(g.map((x) => ({ ...x, at: Math.round(x.at - rawSigAt) })))}`);
      assert.deepEqual(g[0] && { last: g[0].lastStreamId, code: g[0].code }, { last: 2 ** 31 - 1, code: 0 }, 'first GOAWAY: the shutdown notice (2^31−1, NO_ERROR)');
      assert.ok(await waitUntil(() => c.ended(3), 1000), 'stream 3, sent right after SIGTERM, is served');
      assert.deepEqual([...c.resets(1), ...c.resets(3)], [], 'no stream refused or reset');
      assert.ok(c.ended(1), 'stream 1, in flight at SIGTERM, completes');
      const final = g[1];
      assert.ok(final, 'a final GOAWAY follows');
      assert.deepEqual({ last: final.lastStreamId, code: final.code }, { last: 3, code: 0 }, 'final GOAWAY: last stream id processed, NO_ERROR');
      assert.ok(final.at - g[0]!.at >= DRAIN_TIMEOUT_MS - 10, `final GOAWAY ${Math.round(final.at - g[0]!.at)} ms after the notice (drain_timeout ${DRAIN_TIMEOUT_MS} ms)`);
      // node's load client: it saw the notice first too, and meshlet refused none of its streams. nghttp2 in the client
      // refuses a request it had queued but not yet sent when it reads any GOAWAY (REFUSED_STREAM "so that application
      // can send request again", RFC 9113 §8.7): such a stream never reached meshlet, so never the backend.
      assert.equal(h2Result.goaways[0]?.lastStreamId, 2 ** 31 - 1, `node client's first GOAWAY: ${JSON.stringify(h2Result.goaways)}`);
      const refused = h2Result.records.filter((x) => /REFUSED_STREAM|NGHTTP2_REFUSED/.test(x.detail));
      if (refused.length) console.log(`# FT-8 HTTP/2 streams refused by the client's own nghttp2 (unsent): ${refused.map((x) => x.i).join(',')}`);
      assert.deepEqual(refused.filter((x) => (backendStats?.requestsByPrefix[`h2-${x.i}`] ?? 0) > 0).map((x) => `${x.i} ${x.detail}`), [], 'no stream that reached meshlet was refused');
    } finally {
      c.destroy();
    }
  });
});
