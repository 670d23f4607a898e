// test/fault FT-3 (security.md §4.2 "Backend crash"): 3 backend processes behind meshlet, fixed-rate GETs, backend B
// SIGKILLed mid-run, retry_on connect-failure,reset,refused-stream (2 retries, 25 ms jittered back-off, previous_hosts),
// outlier detection consecutive_gateway_failure=3 with a 1 s interval. Criteria kept: error rate ≤ 0.1 %, 0 errors
// from t_kill+1 s on, B ejected within one interval, B back after base_ejection_time once restarted, retries ≤ 20 %.
// Scaled: 500 rps × 30 s → 200 rps × 14 s; kill at 4 s, restart at 5.5 s; base_ejection_time 30 s → 2 s.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshletProcess, freePort, pollUntil } from '../support/meshlet-process.js';
import { runLoad } from '../support/load.js';
import { BackendProcess, readAccessLog, sleep, staticBootstrap } from './fault-env.js';

describe('FT-3 backend crash (SIGKILL one of three backends under load)', { timeout: 90_000 }, () => {
  const backends: BackendProcess[] = [];
  let meshlet: MeshletProcess;
  let port = 0;
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft3-'));
    for (const n of ['a', 'b', 'c']) backends.push(await BackendProcess.start(`backend-${n}`));
    port = await freePort();
    meshlet = await MeshletProcess.start({
      bootstrap: staticBootstrap({
        port,
        accessLog: join(dir, 'access.log'),
        clusters: [{
          name: 'svc',
          ports: backends.map((b) => b.port),
          extra: {
            connect_timeout: '0.25s',
            outlier_detection: {
              consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100, consecutive_5xx: 3,
              interval: '1s', base_ejection_time: '2s', max_ejection_percent: 100,
            },
          },
        }],
        routes: [{
          match: { prefix: '/' },
          route: {
            cluster: 'svc', timeout: '5s',
            retry_policy: {
              retry_on: 'connect-failure,reset,refused-stream', num_retries: 2,
              retry_back_off: { base_interval: '0.025s', max_interval: '0.25s' },
              retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
              host_selection_retry_max_attempts: 3,
            },
          },
        }],
      }),
    });
    await meshlet.waitState('LIVE');
  });

  after(async () => {
    await meshlet?.stop();
    for (const b of backends) await b.kill9();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses at most 0.1 % of requests, none after t_kill+1 s, ejects B within one interval and takes it back', async () => {
    const RPS = 200;
    const DURATION = 14_000;
    const KILL_AT = 4000;
    const RESTART_AT = 5500;
    const bPort = backends[1]!.port;
    let ejectedAfterMs = -1;
    const load = runLoad({ url: `http://127.0.0.1:${port}`, rps: RPS, durationMs: DURATION, timeoutMs: 8000 });
    const t0 = Date.now();
    await sleep(KILL_AT);
    await backends[1]!.kill9();
    const killedAt = Date.now();
    const ejected = pollUntil('B marked failed_outlier_check in /clusters', async () => {
      const c = await meshlet.admin('/clusters');
      return c.body.includes(`127.0.0.1:${bPort}::health_flags::/failed_outlier_check`);
    }, 5000, 20).then(() => (ejectedAfterMs = Date.now() - killedAt));
    await sleep(RESTART_AT - (Date.now() - t0));
    await ejected.catch(() => undefined);
    backends[1] = await BackendProcess.start('backend-b', bPort);
    const res = await load;
    console.log(`# FT-3 ${res.summary()}; B ejected ${ejectedAfterMs} ms after the kill`);

    const total = res.records.length;
    const failed = res.failures();
    const killMs = killedAt - t0;
    assert.ok(failed.length <= Math.floor(total * 0.001), `error rate ${failed.length}/${total} > 0.1 %: ${JSON.stringify(res.errorClasses())}`);
    const late = res.failures(killMs + 1000);
    assert.deepEqual(late.map((r) => `${r.i}@${Math.round(r.startMs)} ${r.outcome} ${r.errorKey}`), [], 'no errors from t_kill+1 s on');
    assert.ok(ejectedAfterMs >= 0 && ejectedAfterMs <= 1000, `B ejected within one interval (1 s): ${ejectedAfterMs} ms`);

    // B came back after base_ejection_time (2 s) once restarted: it served requests started late in the run.
    const bLate = res.records.filter((r) => r.upstream === 'backend-b' && r.startMs > RESTART_AT + 2500);
    assert.ok(bLate.length > 0, 'restarted B receives traffic again after its ejection time');

    // Retries stay ≤ 20 % of requests.
    const log = readAccessLog(join(dir, 'access.log'));
    const retried = log.filter((e) => Number(e.attempts) > 1).length;
    const retries = log.reduce((n, e) => n + Math.max(0, Number(e.attempts) - 1), 0);
    console.log(`# FT-3 access log: ${log.length} entries, ${retried} retried requests, ${retries} retries`);
    assert.ok(log.length >= total * 0.99, `access log has the requests (${log.length}/${total})`);
    assert.ok(retries <= total * 0.2, `retries ${retries} ≤ 20 % of ${total}`);
    // Every completed 200 body matched its checksum (bad_checksum would be counted as a failure above).
    assert.equal(res.count('bad_checksum'), 0);
  });
});
