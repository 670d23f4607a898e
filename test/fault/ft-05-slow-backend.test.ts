// test/fault FT-5 (security.md §4.2 "Slow backend"): the chaos proxy holds every byte of backend B's responses for
// 2 s. With per-try timeout 200 ms + retries (previous_hosts) every request still succeeds; without retries the
// requests that land on B get 504 with flag UT at the route timeout.
// Criteria kept: errors ≤ 0.1 % with retries; the no-retry variant answers 504 UT, never before the route timeout.
// Not asserted (latency bounds are not acceptance statements in issue 8), printed instead: p99 (< 300 ms in the table)
// and how far past the route timeout the 504s came (±50 ms in the table). Not covered: the pending-queue bound.
// Scaled: 500 rps → 150 rps for 8 s (retries) + 60 rps for 4 s (no retries).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshletProcess, freePort, pollUntil } from '../support/meshlet-process.js';
import { ChaosProxy } from '../support/chaos-proxy.js';
import { runLoad } from '../support/load.js';
import { FaultBackend, readAccessLog, sleep, staticBootstrap, warmUp } from './fault-env.js';

const PREVIOUS_HOSTS = [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }];

describe('FT-5 slow backend (2 s added to every response of one backend)', { timeout: 90_000 }, () => {
  const backends: FaultBackend[] = [];
  let chaos: ChaosProxy;
  let meshlet: MeshletProcess;
  let port = 0;
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft5-'));
    for (const n of ['a', 'b', 'c']) backends.push(await FaultBackend.start(`backend-${n}`));
    chaos = await ChaosProxy.start(backends[1]!.port);
    port = await freePort();
    meshlet = await MeshletProcess.start({
      bootstrap: staticBootstrap({
        port,
        accessLog: join(dir, 'access.log'),
        // max_retries raised from Envoy's default 3 concurrent: at 150 rps a third of the requests retry at once.
        clusters: [{ name: 'svc', ports: [backends[0]!.port, chaos.port, backends[2]!.port], extra: { circuit_breakers: { thresholds: [{ max_retries: 100 }] } } }],
        routes: [
          {
            match: { prefix: '/nr' },
            route: { cluster: 'svc', timeout: '0.5s' },
          },
          {
            match: { prefix: '/' },
            route: {
              cluster: 'svc', timeout: '2s',
              retry_policy: {
                retry_on: '5xx,gateway-error,reset,connect-failure', num_retries: 2, per_try_timeout: '0.2s',
                retry_back_off: { base_interval: '0.025s', max_interval: '0.25s' },
                retry_host_predicate: PREVIOUS_HOSTS, host_selection_retry_max_attempts: 3,
              },
            },
          },
        ],
      }),
    });
    await meshlet.waitState('LIVE');
    await warmUp(port);
    chaos.setMode({ kind: 'delay', ms: 2000 });
  });

  after(async () => {
    await meshlet?.stop();
    await chaos?.close();
    for (const b of backends) await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('with per-try timeout and retries: every request succeeds, on the fast backends', async () => {
    const res = await runLoad({ url: `http://127.0.0.1:${port}`, rps: 150, durationMs: 8000, path: (i) => `/r/${i}`, timeoutMs: 5000 });
    const failedPaths = new Set(res.failures().map((r) => `/r/${r.i}`));
    await sleep(200);
    const failedLog = readAccessLog(join(dir, 'access.log')).filter((e) => failedPaths.has(e.path)).slice(0, 5);
    if (failedLog.length) console.log(`# FT-5 failed requests (started at ms ${res.failures().slice(0, 20).map((r) => Math.round(r.startMs)).join(",")}) in the access log: ${JSON.stringify(failedLog)}`);
    console.log(`# FT-5 retries: ${res.summary()} (table: p99 < 300 ms; recorded, not asserted)`);
    const failed = res.failures();
    assert.ok(failed.length <= Math.floor(res.records.length * 0.001), `errors ${failed.length}/${res.records.length}: ${JSON.stringify(res.errorClasses())}`);
    assert.ok(res.records.every((r) => r.outcome !== 'ok' || r.upstream !== 'backend-b'), 'no answer waited for the slow backend');
    await sleep(200);
    const log = readAccessLog(join(dir, 'access.log'));
    const retried = log.filter((e) => Number(e.attempts) > 1).length;
    assert.ok(retried > 0, 'some requests went to B first and were retried after the per-try timeout');
  });

  it('without retries: requests on the slow backend get 504 UT at the route timeout', async () => {
    const res = await runLoad({ url: `http://127.0.0.1:${port}`, rps: 60, durationMs: 4000, path: (i) => `/nr/${i}`, timeoutMs: 5000 });
    console.log(`# FT-5 no retries: ${res.summary()}`);
    const timeouts = res.records.filter((r) => r.status === 504);
    assert.ok(timeouts.length > 0, 'some requests landed on B and timed out');
    assert.equal(timeouts.length + res.count('ok'), res.records.length, `only 200 or 504: ${JSON.stringify(res.errorClasses())}`);
    for (const r of timeouts) assert.ok(r.latencyMs >= 490, `504 not before the 500 ms route timeout (${r.latencyMs.toFixed(0)} ms)`);
    const over = timeouts.map((r) => r.latencyMs - 500).sort((a, b) => a - b);
    console.log(`# FT-5 504s came ${over[0]?.toFixed(0)}..${over.at(-1)?.toFixed(0)} ms after the route timeout (table: ±50 ms; recorded)`);
    const paths = new Set(timeouts.map((r) => `/nr/${r.i}`));
    const log = await pollUntil('every 504 in the access log', async () => {
      const l = readAccessLog(join(dir, 'access.log')).filter((e) => paths.has(e.path));
      return l.length === timeouts.length && l;
    }, 5000, 100);
    assert.ok(log.every((e) => String(e.code) === '504' && String(e.flags).split(',').includes('UT')), `flags: ${[...new Set(log.map((e) => e.flags))].join(' ')}`);
  });
});
