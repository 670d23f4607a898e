// Unit tests for merging the workers' /clusters answers (--concurrency N): per-host counters summed, other facts
// once, hosts matched by key/address (IPv6 keys contain '::'), hosts only one worker has kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeClustersJson, mergeClustersText } from '../../../src/admin/clusters-merge.js';

const w0 = [
  'version_info::v1',
  'svc::observability_name::svc',
  'svc::default_priority::max_connections::1024',
  'svc::[::1]:80::cx_active::1', 'svc::[::1]:80::rq_total::3', 'svc::[::1]:80::rq_active::1',
  'svc::[::1]:80::health_flags::/failed_outlier_check', 'svc::[::1]:80::weight::5', 'svc::[::1]:80::success_rate::90',
  '',
].join('\n');
const w1 = [
  'version_info::v1',
  'svc::observability_name::svc',
  'svc::default_priority::max_connections::1024',
  'svc::[::1]:80::cx_active::2', 'svc::[::1]:80::rq_total::4', 'svc::[::1]:80::rq_active::0',
  'svc::[::1]:80::health_flags::/failed_outlier_check', 'svc::[::1]:80::weight::5', 'svc::[::1]:80::success_rate::90',
  'pass::10.0.0.9:8080::rq_total::2', 'pass::10.0.0.9:8080::health_flags::healthy',
  '',
].join('\n');

test('text: counters and gauges summed per host, everything else once, worker-only hosts kept', () => {
  const out = mergeClustersText([w0, w1]).split('\n');
  assert.deepEqual(out, [
    'version_info::v1',
    'svc::observability_name::svc',
    'svc::default_priority::max_connections::1024',
    'svc::[::1]:80::cx_active::3', 'svc::[::1]:80::rq_total::7', 'svc::[::1]:80::rq_active::1',
    'svc::[::1]:80::health_flags::/failed_outlier_check', 'svc::[::1]:80::weight::5', 'svc::[::1]:80::success_rate::90',
    'pass::10.0.0.9:8080::rq_total::2', 'pass::10.0.0.9:8080::health_flags::healthy',
    '',
  ]);
  assert.equal(mergeClustersText([w0]), w0, 'one worker: its answer as is');
});

test('JSON: host stats summed by name (zero omitted, values as strings), hosts by address, other fields from the first', () => {
  const host = (port: number, stats: { name: string; value?: string; type?: string }[], extra: Record<string, unknown> = {}) => ({
    address: { socket_address: { address: '127.0.0.1', port_value: port } }, stats, weight: 1, health_status: { eds_health_status: 'HEALTHY' }, ...extra,
  });
  const a = { cluster_statuses: [{ name: 'svc', host_statuses: [host(1, [{ name: 'rq_total', value: '3' }, { name: 'rq_active', type: 'GAUGE' }], { success_rate: { value: 80 } })] }] };
  const b = { cluster_statuses: [
    { name: 'svc', host_statuses: [host(1, [{ name: 'rq_total', value: '4' }, { name: 'rq_active', value: '2', type: 'GAUGE' }], { success_rate: { value: 10 } }), host(2, [{ name: 'rq_total', value: '1' }])] },
    { name: 'other', host_statuses: [] },
  ] };
  const before = JSON.stringify(a);
  const m = mergeClustersJson([a, b, undefined]) as typeof b;
  assert.equal(JSON.stringify(a), before, 'inputs are not modified');
  assert.deepEqual(m.cluster_statuses.map((c) => c.name), ['svc', 'other']);
  const [h1, h2] = m.cluster_statuses[0].host_statuses;
  assert.deepEqual(h1.stats, [{ name: 'rq_total', value: '7' }, { name: 'rq_active', value: '2', type: 'GAUGE' }]);
  assert.deepEqual((h1 as Record<string, unknown>).success_rate, { value: 80 }, 'shared facts from the first answer');
  assert.equal(h2.address.socket_address.port_value, 2);
  assert.deepEqual(mergeClustersJson([]), { cluster_statuses: [] });
});
