// RBAC: config translation (unsupported condition/metadata rejected by name with paths), ALLOW/DENY/LOG engines,
// permissions (header, url_path ignoring the query, ports, destination_ip, and/or/not, SNI) and principals (remote_ip
// vs direct_remote_ip CIDRs v4/v6, authenticated SANs, header), 403 with details, shadow metadata, per-route override.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { build, httpFilter, mustBuild, perRoute, req, ROUTER, run, lookupFrom } from './filter-kit.js';

const RBAC = 'envoy.extensions.filters.http.rbac.v3.RBAC';
const NAME = 'envoy.filters.http.rbac';
const rbac = (cfg: Record<string, unknown>): Record<string, unknown> => httpFilter(NAME, RBAC, cfg);
const ANY_ID = [{ any: true }];

test('config: unsupported fields are rejected by name with their paths', () => {
  const { errors } = build([rbac({
    rules: { action: 'ALLOW', policies: {
      p1: { permissions: [{ metadata: { filter: 'x', path: [{ key: 'a' }], value: { present_match: true } } }], principals: ANY_ID },
      p2: { permissions: [{ any: true }], principals: [{ remote_ip: { address_prefix: 'not-an-ip', prefix_len: 8 } }] },
    } },
    matcher: { on_no_match: { action: { name: 'x', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Empty' } } } },
  }), ROUTER]);
  assert.deepEqual(errors.map((e) => e.path).sort(), [
    'http_filters[0].typed_config.matcher',
    'http_filters[0].typed_config.rules.policies.p1.permissions[0].metadata',
    'http_filters[0].typed_config.rules.policies.p2.principals[0].remote_ip.address_prefix',
  ]);
});

test('DENY on /admin by path prefix (query ignored): 403 RBAC: access denied with the policy in details', async () => {
  const m = mustBuild([rbac({ rules: { action: 'DENY', policies: {
    'deny-admin': { permissions: [{ url_path: { path: { prefix: '/admin' } } }], principals: ANY_ID },
  } } }), ROUTER]);
  const denied = await run(m, req({ path: '/admin/users?x=1' }));
  assert.equal(denied.reply?.status, 403);
  assert.equal(denied.reply?.body, 'RBAC: access denied');
  assert.equal(denied.reply?.details, 'rbac_access_denied_matched_policy[deny-admin]');
  assert.equal((await run(m, req({ path: '/public?next=/admin' }))).reply, null);
});

test('ALLOW list by source CIDR (IPv4, IPv6, IPv4-mapped): remote_ip uses the XFF address, direct_remote_ip the peer', async () => {
  const m = mustBuild([rbac({ rules: { action: 'ALLOW', policies: {
    office: { permissions: [{ any: true }], principals: [{ remote_ip: { address_prefix: '192.168.0.0', prefix_len: 16 } }, { remote_ip: { address_prefix: '2001:db8::', prefix_len: 32 } }] },
    lb: { permissions: [{ any: true }], principals: [{ direct_remote_ip: { address_prefix: '10.1.2.3', prefix_len: 32 } }] },
  } } }), ROUTER]);
  const status = async (remote: string, direct = '172.16.0.1'): Promise<number> => (await run(m, req({ remoteAddress: remote, directRemoteAddress: direct }))).reply?.status ?? 200;
  assert.equal(await status('192.168.4.5'), 200);
  assert.equal(await status('::ffff:192.168.4.5'), 200);
  assert.equal(await status('2001:db8:1::7'), 200);
  assert.equal(await status('2001:db9::1'), 403);
  assert.equal(await status('8.8.8.8'), 403);
  assert.equal(await status('8.8.8.8', '10.1.2.3'), 200);
  const none = await run(m, req({ remoteAddress: '8.8.8.8' }));
  assert.equal(none.reply?.details, 'rbac_access_denied_matched_policy[none]');
});

test('permissions: method header, port range, destination_ip, and/or/not, requested_server_name; principals: authenticated SAN, header', async () => {
  const m = mustBuild([rbac({ rules: { action: 'ALLOW', policies: {
    reads: {
      permissions: [{ and_rules: { rules: [
        { header: { name: ':method', string_match: { exact: 'GET' } } },
        { destination_port_range: { start: 8000, end: 9000 } },
        { not_rule: { url_path: { path: { exact: '/secret' } } } },
      ] } }],
      principals: [{ authenticated: { principal_name: { exact: 'spiffe://cluster.local/ns/default/sa/frontend' } } }],
    },
    tls: {
      permissions: [{ or_rules: { rules: [{ requested_server_name: { suffix: '.internal' } }, { destination_ip: { address_prefix: '10.9.0.0', prefix_len: 16 } }] } }],
      principals: [{ header: { name: 'x-team', exact_match: 'ops' } }],
    },
  } } }), ROUTER]);
  const peer = { uriSans: ['spiffe://cluster.local/ns/default/sa/frontend'], dnsSans: [], subject: '' };
  const st = async (o: Parameters<typeof req>[0]): Promise<number> => (await run(m, req(o))).reply?.status ?? 200;
  assert.equal(await st({ peer }), 200);
  assert.equal(await st({ peer, method: 'POST' }), 403);
  assert.equal(await st({ peer, localPort: 9000 }), 403);
  assert.equal(await st({ peer, path: '/secret' }), 403);
  assert.equal(await st({}), 403);
  assert.equal(await st({ sni: 'db.internal', headers: { 'x-team': 'ops' } }), 200);
  assert.equal(await st({ localAddress: '10.9.3.3', headers: { 'x-team': 'ops' } }), 200);
  assert.equal(await st({ localAddress: '10.8.3.3', headers: { 'x-team': 'ops' } }), 403);
});

test('shadow rules only record metadata; absent rules allow everything', async () => {
  const m = mustBuild([rbac({ shadow_rules: { action: 'DENY', policies: {
    'shadow-deny': { permissions: [{ url_path: { path: { prefix: '/x' } } }], principals: ANY_ID },
  } } }), ROUTER]);
  const r = await run(m, req({ path: '/x/1' }));
  assert.equal(r.reply, null);
  assert.deepEqual(r.stream.dynamicMetadata['envoy.filters.http.rbac'], { shadow_effective_policy_id: 'shadow-deny', shadow_engine_result: 'denied' });
  const r2 = await run(m, req({ path: '/y' }));
  assert.deepEqual(r2.stream.dynamicMetadata['envoy.filters.http.rbac'], { shadow_engine_result: 'allowed' });
});

test('LOG action never denies and records access_log_hint', async () => {
  const m = mustBuild([rbac({ rules: { action: 'LOG', policies: { all: { permissions: [{ any: true }], principals: ANY_ID } } } }), ROUTER]);
  const r = await run(m, req());
  assert.equal(r.reply, null);
  assert.equal(r.stream.dynamicMetadata['envoy.filters.http.rbac'].access_log_hint, true);
});

test('per-route RBACPerRoute replaces the policy; RBACPerRoute without rbac disables RBAC for the route', async () => {
  const m = mustBuild([rbac({ rules: { action: 'DENY', policies: { all: { permissions: [{ any: true }], principals: ANY_ID } } } }), ROUTER]);
  assert.equal((await run(m, req())).reply?.status, 403);
  const allowOps = perRoute('envoy.extensions.filters.http.rbac.v3.RBACPerRoute', { rbac: { rules: { action: 'ALLOW', policies: {
    ops: { permissions: [{ any: true }], principals: [{ header: { name: 'x-team', exact_match: 'ops' } }] },
  } } } });
  assert.equal((await run(m, req({ headers: { 'x-team': 'ops' } }), lookupFrom({ [NAME]: allowOps }))).reply, null);
  assert.equal((await run(m, req(), lookupFrom({ [NAME]: allowOps }))).reply?.status, 403);
  const disable = perRoute('envoy.extensions.filters.http.rbac.v3.RBACPerRoute', {});
  assert.equal((await run(m, req(), lookupFrom({ [NAME]: disable }))).reply, null);
});
