// Unit tests for outlier detection with a fake clock: consecutive 5xx ejection, growing ejection time, un-ejection,
// max_ejection_percent, gateway and local-origin failures, success-rate and failure-percentage analysis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutlierDetector } from '../../../src/upstream/outlier-detector.js';
import { FakeTimers } from '../../../src/upstream/timer-source.js';
import { translateCluster } from '../../../src/xds/resource-types/cluster.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { Issues } from '../../../src/common/validation.js';
import type { OutlierDetectionConfig } from '../../../src/config/cluster.js';
import { mkHost } from './helpers.js';

function odConfig(extra: Record<string, unknown> = {}): OutlierDetectionConfig {
  const c = translateCluster(jsonToCanonical('envoy.config.cluster.v3.Cluster', {
    name: 'c', type: 'EDS', outlier_detection: { ...extra },
  }), new Issues());
  return c.outlierDetection!;
}

function setup(extra: Record<string, unknown> = {}, n = 10) {
  const timers = new FakeTimers();
  const events: string[] = [];
  const logs: object[] = [];
  const hosts = Array.from({ length: n }, (_, i) => mkHost(i));
  const od = new OutlierDetector(odConfig(extra), {
    timers, random: () => 0, clusterName: 'c', onChange: () => events.push('change'),
    logger: { info: (o) => logs.push(o), warn: (o) => logs.push(o) },
  });
  od.setHosts(hosts);
  od.start();
  return { timers, events, logs, hosts, od };
}

test('Envoy defaults: 5 consecutive 5xx eject for 30 s; the next ejection lasts 60 s', () => {
  const { timers, hosts, od, logs } = setup();
  const h = hosts[0];
  for (let i = 0; i < 4; i++) od.report(h, { kind: 'http', status: 503 });
  assert.equal(od.isEjected(h), false);
  od.report(h, { kind: 'http', status: 500 });
  assert.equal(od.isEjected(h), true);
  assert.ok(h.healthFlags.has('failed_outlier_check'));
  assert.equal(h.healthy, false);
  assert.ok(logs.some((l) => (l as any).reason === 'consecutive_5xx'), 'ejection is logged');
  timers.advance(20_000); // interval 10 s: still ejected at 20 s
  assert.equal(od.isEjected(h), true);
  timers.advance(10_000); // 30 s → un-ejected on the interval tick
  assert.equal(od.isEjected(h), false);
  assert.equal(h.healthy, true);
  for (let i = 0; i < 5; i++) od.report(h, { kind: 'http', status: 502 });
  assert.equal(od.isEjected(h), true);
  timers.advance(30_000);
  assert.equal(od.isEjected(h), true, 'second ejection is base × 2 = 60 s');
  timers.advance(30_000);
  assert.equal(od.isEjected(h), false);
  od.stop();
  assert.equal(timers.pending, 0);
});

test('a success in between resets the consecutive counter', () => {
  const { hosts, od } = setup();
  for (let i = 0; i < 4; i++) od.report(hosts[0], { kind: 'http', status: 503 });
  od.report(hosts[0], { kind: 'http', status: 200 });
  for (let i = 0; i < 4; i++) od.report(hosts[0], { kind: 'http', status: 503 });
  assert.equal(od.isEjected(hosts[0]), false);
});

test('max_ejection_percent caps ejections, but at least one host is always ejectable', () => {
  const { hosts, od } = setup({ max_ejection_percent: 10 }, 4);
  for (const h of hosts) for (let i = 0; i < 5; i++) od.report(h, { kind: 'http', status: 500 });
  assert.equal(hosts.filter((h) => od.isEjected(h)).length, 1);
  assert.equal(od.stats.ejectionsOverflow, 3);
});

test('max_ejection_time caps base × ejections', () => {
  const { timers, hosts, od } = setup({ base_ejection_time: '10s', max_ejection_time: '15s', interval: '1s' });
  const h = hosts[0];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 5; i++) od.report(h, { kind: 'http', status: 500 });
    assert.equal(od.isEjected(h), true);
    timers.advance(15_000);
    assert.equal(od.isEjected(h), false, `round ${round}: ejection never exceeds 15 s`);
  }
  od.stop();
});

test('enforcing percentage 0 detects but does not eject; gateway failures need enforcing_consecutive_gateway_failure', () => {
  const off = setup({ enforcing_consecutive_5xx: 0 });
  for (let i = 0; i < 10; i++) off.od.report(off.hosts[0], { kind: 'http', status: 500 });
  assert.equal(off.od.isEjected(off.hosts[0]), false);
  const gw = setup({ consecutive_5xx: 100, consecutive_gateway_failure: 3, enforcing_consecutive_gateway_failure: 100 });
  for (let i = 0; i < 3; i++) gw.od.report(gw.hosts[0], { kind: 'http', status: 504 });
  assert.equal(gw.od.isEjected(gw.hosts[0]), true);
  assert.equal(gw.od.stats.ejectionsEnforced.consecutive_gateway_failure, 1);
});

test('split_external_local_origin_errors: connect failures count separately from 5xx', () => {
  const { hosts, od } = setup({ split_external_local_origin_errors: true, consecutive_local_origin_failure: 3 });
  od.report(hosts[0], { kind: 'connect_failure' });
  od.report(hosts[0], { kind: 'timeout' });
  for (let i = 0; i < 4; i++) od.report(hosts[0], { kind: 'http', status: 500 });
  assert.equal(od.isEjected(hosts[0]), false, '2 local + 4 external, neither reaches its threshold');
  // A response means the stream had its connection (Envoy's onPoolReady success): the local run starts again.
  od.report(hosts[0], { kind: 'connect_failure' });
  od.report(hosts[0], { kind: 'connect_failure' });
  assert.equal(od.isEjected(hosts[0]), false, 'the 500s reset the local-origin run');
  od.report(hosts[0], { kind: 'connect_failure' });
  assert.equal(od.isEjected(hosts[0]), true);
  assert.equal(od.stats.ejectionsEnforced.consecutive_local_origin_failure, 1);
  // Without splitting, local failures are 5xx-equivalents.
  const ns = setup();
  for (let i = 0; i < 5; i++) ns.od.report(ns.hosts[1], { kind: 'connect_failure' });
  assert.equal(ns.od.isEjected(ns.hosts[1]), true);
});

test('resets as Envoy puts them: before headers a connection success then a failure; after headers one more result', () => {
  // Split: a reset on an established connection is preceded by that connection's success, so resets alone never
  // make a run of 2; connect failures after one do.
  const sp = setup({ split_external_local_origin_errors: true, consecutive_local_origin_failure: 2 });
  for (let i = 0; i < 5; i++) sp.od.report(sp.hosts[0], { kind: 'reset' });
  for (let i = 0; i < 5; i++) {
    sp.od.report(sp.hosts[0], { kind: 'http', status: 200 });
    sp.od.report(sp.hosts[0], { kind: 'reset_after_response' });
  }
  assert.equal(sp.od.isEjected(sp.hosts[0]), false);
  sp.od.report(sp.hosts[0], { kind: 'connect_failure' });
  assert.equal(sp.od.isEjected(sp.hosts[0]), true, 'late reset (1) + connect failure (2)');
  // Not split: the late reset is a 503 after the response code; 500 + reset counts two.
  const ns = setup({ consecutive_5xx: 4 });
  ns.od.report(ns.hosts[0], { kind: 'http', status: 500 });
  ns.od.report(ns.hosts[0], { kind: 'reset_after_response' });
  ns.od.report(ns.hosts[0], { kind: 'http', status: 500 });
  assert.equal(ns.od.isEjected(ns.hosts[0]), false);
  ns.od.report(ns.hosts[0], { kind: 'reset_after_response' });
  assert.equal(ns.od.isEjected(ns.hosts[0]), true);
  // tcp_proxy's connect success (LocalOriginConnectSuccessFinal) is a 200 when not split: it breaks a 5xx run.
  for (let i = 0; i < 3; i++) ns.od.report(ns.hosts[1], { kind: 'connect_failure' });
  ns.od.report(ns.hosts[1], { kind: 'success_local' });
  for (let i = 0; i < 3; i++) ns.od.report(ns.hosts[1], { kind: 'connect_failure' });
  assert.equal(ns.od.isEjected(ns.hosts[1]), false);
});

test('success-rate analysis ejects the outlier at the interval', () => {
  const { timers, hosts, od } = setup({ consecutive_5xx: 1000, success_rate_request_volume: 100, success_rate_minimum_hosts: 5 }, 6);
  for (const h of hosts) {
    const bad = h === hosts[5] ? 50 : 1;
    for (let i = 0; i < 200; i++) od.report(h, { kind: 'http', status: i < bad ? 500 : 200 });
  }
  timers.advance(10_000);
  assert.deepEqual(hosts.map((h) => od.isEjected(h)), [false, false, false, false, false, true]);
  assert.equal(hosts[0].successRate, 99.5);
  od.stop();
});

test('failure-percentage analysis ejects hosts above the threshold when enforced', () => {
  const { timers, hosts, od } = setup({ consecutive_5xx: 1000, enforcing_success_rate: 0, enforcing_failure_percentage: 100, failure_percentage_threshold: 50, failure_percentage_minimum_hosts: 2, failure_percentage_request_volume: 10, max_ejection_percent: 100 }, 3);
  for (const h of hosts) for (let i = 0; i < 20; i++) od.report(h, { kind: 'http', status: h === hosts[0] && i < 15 ? 503 : 200 });
  timers.advance(10_000);
  assert.deepEqual(hosts.map((h) => od.isEjected(h)), [true, false, false]);
  od.stop();
});

test('the ejection multiplier decays once a host stays healthy for base_ejection_time', () => {
  const { timers, hosts, od } = setup();
  const h = hosts[0];
  for (let i = 0; i < 5; i++) od.report(h, { kind: 'http', status: 500 });
  timers.advance(30_000);
  assert.equal(od.isEjected(h), false);
  assert.equal(od.numEjections(h), 1);
  timers.advance(40_000); // > 30 s healthy: multiplier drops back to 0
  assert.equal(od.numEjections(h), 0);
  for (let i = 0; i < 5; i++) od.report(h, { kind: 'http', status: 500 });
  timers.advance(30_000);
  assert.equal(od.isEjected(h), false, 'ejected for the base time again, not 60 s');
  od.stop();
});
