// test/fault FT-4 (security.md §4.2 "Backend blackhole", no RST): backend B runs in its own network namespace joined
// to the host by a veth; at t=3 s an iptables DROP rule inside that namespace swallows every packet to B (existing
// keep-alive connections and new connects alike: no RST, no FIN). connect_timeout 250 ms, active HTTP health check
// every 1 s with unhealthy_threshold 2, per-try timeout 300 ms with retries (previous_hosts).
// Criteria kept: error rate ≤ 0.1 %; B marked unhealthy within 3 s; no request waits longer than the route timeout.
// Not asserted (latency bounds, not acceptance statements): p99 in the first 3 s vs baseline + connect_timeout +
// 50 ms, and p99 afterwards vs baseline ±10 % — printed. Scaled: 150 rps for 10 s. Needs root (skips otherwise).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsLab, netnsUnavailableReason } from '../support/netns.js';
import { MeshletProcess, freePort, pollUntil } from '../support/meshlet-process.js';
import { runLoad } from '../support/load.js';
import { FaultBackend, backendScript, logClasses, readAccessLog, sleep, staticBootstrap, warmUp } from './fault-env.js';

const run = promisify(execFile);
const reason = await netnsUnavailableReason();
if (reason) console.log(`# FT-4 skipped: ${reason}`);

const B_ADDR = '10.233.77.2';
const HOST_ADDR = '10.233.77.1';
const B_PORT = 18080;

describe('FT-4 blackholed backend (iptables DROP in its namespace)', { timeout: 90_000, skip: reason ?? false }, () => {
  const lab = new NetnsLab();
  const backends: FaultBackend[] = [];
  let ns = '';
  const hostIf = `mlf${process.pid % 100000}h`;
  let meshlet: MeshletProcess;
  let port = 0;
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ft4-'));
    ns = await lab.addNamespace('bh');
    const nsIf = `mlf${process.pid % 100000}n`;
    await run('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    await run('ip', ['link', 'set', nsIf, 'netns', ns]);
    await run('ip', ['addr', 'add', `${HOST_ADDR}/30`, 'dev', hostIf]);
    await run('ip', ['link', 'set', hostIf, 'up']);
    await lab.exec(ns, ['ip', 'addr', 'add', `${B_ADDR}/30`, 'dev', nsIf]);
    await lab.exec(ns, ['ip', 'link', 'set', nsIf, 'up']);
    const child = lab.spawn(ns, [process.execPath, backendScript(), 'backend-b', String(B_PORT), B_ADDR]);
    await new Promise<void>((res, rej) => {
      let out = '';
      const t = setTimeout(() => rej(new Error('backend-b in the namespace did not start')), 10_000);
      child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; if (/^port \d+$/m.test(out)) { clearTimeout(t); res(); } });
    });
    for (const n of ['a', 'c']) backends.push(await FaultBackend.start(`backend-${n}`));
    port = await freePort();
    meshlet = await MeshletProcess.start({
      bootstrap: staticBootstrap({
        port,
        accessLog: join(dir, 'access.log'),
        clusters: [{
          name: 'svc', ports: [],
          extra: {
            connect_timeout: '0.25s',
            load_assignment: { cluster_name: 'svc', endpoints: [{ lb_endpoints: [
              { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: backends[0]!.port } } } },
              { endpoint: { address: { socket_address: { address: B_ADDR, port_value: B_PORT } } } },
              { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: backends[1]!.port } } } },
            ] }] },
            // Istio's default breaker (max_retries 2^32-1): Envoy's default of 3 concurrent retries sheds retries once
            // retried requests slow down on a loaded machine (CI once: 16 x 504 within 464 ms, i.e. not retried).
            circuit_breakers: { thresholds: [{ max_retries: 4294967295 }] },
            // no_traffic_interval too: Envoy's 60 s default would schedule the next check a minute out from the idle start.
            health_checks: [{ timeout: '0.5s', interval: '1s', no_traffic_interval: '1s', unhealthy_threshold: 2, healthy_threshold: 1, http_health_check: { path: '/healthz' } }],
          },
        }],
        routes: [{
          match: { prefix: '/' },
          route: {
            cluster: 'svc', timeout: '3s',
            retry_policy: {
              retry_on: 'connect-failure,reset,5xx,gateway-error', num_retries: 2, per_try_timeout: '0.3s',
              retry_back_off: { base_interval: '0.025s', max_interval: '0.25s' },
              retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
              host_selection_retry_max_attempts: 3,
            },
          },
        }],
      }),
    });
    await meshlet.waitState('LIVE');
    await warmUp(port);
    await pollUntil('B healthy and serving', async () => (await meshlet.admin('/clusters')).body.includes(`${B_ADDR}:${B_PORT}::health_flags::healthy`), 10_000, 100)
      .catch(async (e: Error) => { throw new Error(`${e.message}\n${(await meshlet.admin('/clusters')).body}\n${meshlet.output(2000)}`); });
  });

  after(async () => {
    await meshlet?.stop();
    for (const b of backends) await b.close();
    await lab.destroy();
    // The host end of the veth normally goes with the namespace; remove it explicitly so a stale 10.233.77.1 never
    // shadows the next run's.
    await run('ip', ['link', 'del', hostIf]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps errors ≤ 0.1 %, marks B unhealthy within 3 s and never waits past the route timeout', async () => {
    const DROP_AT = 3000;
    const load = runLoad({ url: `http://127.0.0.1:${port}`, rps: 150, durationMs: 10_000, timeoutMs: 8000 });
    const t0 = performance.now();
    await sleep(DROP_AT);
    await lab.exec(ns, ['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', String(B_PORT), '-j', 'DROP']);
    const dropAt = performance.now() - t0;
    let unhealthyAfter = -1;
    await pollUntil('B marked failed_active_hc', async () => (await meshlet.admin('/clusters')).body.includes(`${B_ADDR}:${B_PORT}::health_flags::/failed_active_hc`), 8000, 50)
      .then(() => (unhealthyAfter = performance.now() - t0 - dropAt)).catch(() => undefined);
    const res = await load;
    const base = res.percentile(99, (r) => r.startMs < dropAt);
    const first3 = res.percentile(99, (r) => r.startMs >= dropAt && r.startMs < dropAt + 3000);
    const later = res.percentile(99, (r) => r.startMs >= dropAt + 3000);
    console.log(`# FT-4 ${res.summary()}; B unhealthy ${Math.round(unhealthyAfter)} ms after the DROP`);
    console.log(`# FT-4 p99 baseline ${base.toFixed(1)} ms, first 3 s ${first3.toFixed(1)} ms (table ≤ baseline + 300), afterwards ${later.toFixed(1)} ms (table: baseline ±10 %)`);
    const failed = res.failures();
    if (failed.length) console.log(`# FT-4 failed requests in the access log: ${JSON.stringify(logClasses(readAccessLog(join(dir, 'access.log')).filter((e) => Number(e.code) >= 500)))}`);
    assert.ok(failed.length <= Math.floor(res.records.length * 0.001), `errors ${failed.length}/${res.records.length}: ${JSON.stringify(res.errorClasses())}`);
    assert.ok(unhealthyAfter >= 0 && unhealthyAfter <= 3000, `B marked unhealthy within 3 s (${Math.round(unhealthyAfter)} ms)`);
    const slowest = res.percentile(100);
    assert.ok(slowest <= 3000 + 250, `no request waited past the 3 s route timeout (slowest ${slowest.toFixed(0)} ms)`);
  });
});
