// End to end (issue 6): the REAL meshlet process gets its HTTP filters only over ADS from the test management server —
// LDS (HCM http_filters: fault, cors, local_ratelimit, rbac, basic_auth, header_mutation, compressor, router), RDS with
// typed_per_filter_config (per-route overrides and disables), CDS/EDS — and the behaviour is checked over real sockets;
// then a changed filter config takes effect, and an invalid one is NACKed with its field path while the old keeps serving.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { jsonToCanonical } from '../../src/xds/proto-json.js';
import { TestXdsServer } from '../support/xds-server.js';
import { EchoUpstream } from '../support/upstreams.js';
import { MeshletProcess, adsBootstrap, e2eCluster, e2eEndpoints, freePort, pollUntil, T } from '../support/meshlet-process.js';

const TYPE = 'type.googleapis.com/';
const HCM = `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const FILTER_CONFIG = `${TYPE}envoy.config.route.v3.FilterConfig`;
const FAULT = `${TYPE}envoy.extensions.filters.http.fault.v3.HTTPFault`;
const RL = `${TYPE}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`;
const sha = (pw: string): string => `{SHA}${createHash('sha1').update(pw).digest('base64')}`;
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

interface FilterKnobs {
  /** path prefix RBAC denies at the listener level */
  readonly denyPrefix: string;
  /** value of the x-mesh response header added by header_mutation */
  readonly meshHeader: string;
  /** listener-level fault abort status (0 % of requests unless a route overrides the percentage) */
  readonly abortStatus: number;
}

/** The HCM's http_filters in the YAML-like form a control plane would write. */
function httpFilters(k: FilterKnobs): Record<string, unknown>[] {
  return [
    { name: 'envoy.filters.http.fault', typed_config: { '@type': FAULT, abort: { http_status: k.abortStatus, percentage: { numerator: 0 } } } },
    { name: 'envoy.filters.http.cors', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.cors.v3.Cors` } },
    { name: 'envoy.filters.http.local_ratelimit', typed_config: { '@type': RL, stat_prefix: 'listener_rl', token_bucket: { max_tokens: 10_000, tokens_per_fill: 10_000, fill_interval: '1s' } } },
    { name: 'envoy.filters.http.rbac', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.rbac.v3.RBAC`, rules: { action: 'DENY', policies: {
      'deny-prefix': { permissions: [{ url_path: { path: { prefix: k.denyPrefix } } }], principals: [{ any: true }] },
    } } } },
    { name: 'envoy.filters.http.basic_auth', disabled: true, typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.basic_auth.v3.BasicAuth`, users: { inline_string: `alice:${sha('wonderland')}\n` } } },
    { name: 'envoy.filters.http.header_mutation', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.header_mutation.v3.HeaderMutation`, mutations: {
      response_mutations: [{ append: { header: { key: 'x-mesh', value: k.meshHeader }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } }],
    } } },
    { name: 'envoy.filters.http.compressor', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.compressor.v3.Compressor`,
      compressor_library: { name: 'gzip', typed_config: { '@type': `${TYPE}envoy.extensions.compression.gzip.compressor.v3.Gzip` } } } },
    { name: 'envoy.filters.http.router', typed_config: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router` } },
  ];
}

function listener(port: number, k: FilterKnobs): Record<string, unknown> {
  const json = {
    name: 'filters',
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
      '@type': HCM, stat_prefix: 'filters',
      rds: { route_config_name: 'filter-routes', config_source: { ads: {}, resource_api_version: 'V3' } },
      http_filters: httpFilters(k),
    } }] }],
  };
  return { '@type': T.Listener, ...jsonToCanonical('envoy.config.listener.v3.Listener', json) };
}

function route(prefix: string, perFilter: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: prefix, match: { prefix }, route: { cluster: 'backend', timeout: '10s' }, typed_per_filter_config: perFilter };
}

/** Route table; `faultStatus` is the per-route abort override on /fault, `rlTokens` the per-route bucket on /rl. */
function routes(o: { faultStatus: number; rlTokens: number; adminOpenDisabled?: boolean }): Record<string, unknown> {
  const json = {
    name: 'filter-routes',
    virtual_hosts: [{
      name: 'vh', domains: ['*'],
      routes: [
        route('/fault', { 'envoy.filters.http.fault': { '@type': FAULT, abort: { http_status: o.faultStatus, percentage: { numerator: 100 } } } }),
        route('/rl', { 'envoy.filters.http.local_ratelimit': { '@type': RL, stat_prefix: 'route_rl',
          token_bucket: { max_tokens: o.rlTokens, tokens_per_fill: o.rlTokens, fill_interval: '3600s' },
          filter_enabled: { default_value: { numerator: 100 } }, filter_enforced: { default_value: { numerator: 100 } } } }),
        route('/cors', { 'envoy.filters.http.cors': { '@type': `${TYPE}envoy.extensions.filters.http.cors.v3.CorsPolicy`,
          allow_origin_string_match: [{ exact: 'https://app.example.com' }], allow_methods: 'GET,PUT', allow_headers: 'x-token', max_age: '60' } }),
        // Per-route disable: RBAC denies the listener's prefix except on this route.
        route('/admin-open', (o.adminOpenDisabled ?? true) ? { 'envoy.filters.http.rbac': { '@type': FILTER_CONFIG, disabled: true } } : {}),
        route('/auth', { 'envoy.filters.http.basic_auth': { '@type': FILTER_CONFIG } }),
        route('/'),
      ],
    }],
  };
  return { '@type': T.Route, ...jsonToCanonical('envoy.config.route.v3.RouteConfiguration', json) };
}

interface Reply { readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: Buffer }

/** One request on a fresh connection (so a replaced listener is always the one answering). */
async function send(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const r = await request(url, { method: method as 'GET', headers, reset: true, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body };
}

describe('HTTP filters configured over ADS on the real meshlet process', { timeout: 120_000 }, () => {
  let xds: TestXdsServer;
  let up: EchoUpstream;
  let meshlet: MeshletProcess;
  let port = 0;
  const url = (path: string): string => `http://127.0.0.1:${port}${path}`;
  /** The next request of `typeUrl` after index `from` carrying an error_detail; on timeout, says what came instead. */
  const nackFor = async (typeUrl: string, from: number): Promise<{ message: string; versionInfo: string }> => {
    try {
      const r = await xds.waitForRequest((q) => q.typeUrl === typeUrl && q.errorDetail !== undefined, 10_000, from);
      return { message: String(r.errorDetail?.message ?? ''), versionInfo: r.versionInfo };
    } catch (e) {
      const seen = xds.requests.slice(from).map((q) => `${q.typeUrl.split('.').pop()} v=${q.versionInfo} nonce=${q.nonce}`);
      throw new Error(`${(e as Error).message}; requests since: ${seen.join(' | ')}\n${meshlet.output(2000)}`);
    }
  };
  const v1: FilterKnobs = { denyPrefix: '/admin', meshHeader: 'v1', abortStatus: 503 };

  before(async () => {
    xds = await TestXdsServer.start();
    up = await EchoUpstream.start({ name: 'backend' });
    port = await freePort();
    meshlet = await MeshletProcess.start({ bootstrap: adsBootstrap({ xdsPort: xds.port, nodeId: 'filters-node' }), args: ['--drain-time-s', '1'] });
    xds.setResources(T.Cluster, [e2eCluster('backend')], 'c1');
    xds.setResources(T.Endpoints, [e2eEndpoints('backend', [up.port])], 'e1');
    xds.setResources(T.Route, [routes({ faultStatus: 418, rlTokens: 3 })], 'r1');
    xds.setResources(T.Listener, [listener(port, v1)], 'l1');
    await meshlet.waitState('LIVE', 20_000);
  });

  after(async () => {
    await meshlet?.stop();
    await xds?.stop();
    await up?.close();
  });

  it('applies every filter with the per-route overrides and disables', async () => {
    // header_mutation on every response; compressor gzips for a client that accepts it.
    const plain = await send(url('/x'));
    assert.equal(plain.status, 200, plain.body.toString());
    assert.equal(plain.headers['x-mesh'], 'v1');
    assert.equal(plain.headers['content-encoding'], undefined);
    const gz = await send(url('/zip'), { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal((JSON.parse(gunzipSync(gz.body).toString()) as { path: string }).path, '/zip');

    // fault: the listener aborts 0 %; the route override aborts 100 % with its own status and never reaches the upstream.
    const before = up.requests.length;
    const f = await send(url('/fault/1'));
    assert.equal(f.status, 418);
    assert.equal(f.body.toString(), 'fault filter abort');
    assert.equal(up.requests.length, before, 'an aborted request must not reach the upstream');

    // local_ratelimit: the per-route bucket of 3 gives exactly 3 × 200 and 5 × 429 in a burst of 8; / is not limited.
    const burst = await Promise.all(Array.from({ length: 8 }, () => send(url('/rl'))));
    assert.deepEqual(burst.map((r) => r.status).sort(), [200, 200, 200, 429, 429, 429, 429, 429]);
    const free = await Promise.all(Array.from({ length: 8 }, () => send(url('/free'))));
    assert.ok(free.every((r) => r.status === 200));

    // rbac: denied on the listener's prefix, disabled on /admin-open.
    const denied = await send(url('/admin/x'));
    assert.equal(denied.status, 403);
    assert.equal(denied.body.toString(), 'RBAC: access denied');
    assert.equal((await send(url('/admin-open/x'))).status, 200);

    // basic_auth: disabled at the listener, enabled by a per-route FilterConfig.
    assert.equal((await send(url('/auth'))).status, 401);
    assert.equal((await send(url('/auth'), { authorization: basic('alice', 'nope') })).status, 401);
    assert.equal((await send(url('/auth'), { authorization: basic('alice', 'wonderland') })).status, 200);

    // cors: the route's policy answers the preflight in the proxy.
    const n = up.requests.length;
    const pre = await send(url('/cors/d'), { origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-token' }, 'OPTIONS');
    assert.equal(pre.status, 200);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,PUT');
    assert.equal(up.requests.length, n, 'the preflight must not reach the upstream');
    const evil = await send(url('/cors/d'), { origin: 'https://evil.example.com' });
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
  });

  it('a changed filter config (LDS and RDS) takes effect', async () => {
    const v2: FilterKnobs = { denyPrefix: '/secret', meshHeader: 'v2', abortStatus: 503 };
    const from = xds.requests.length;
    xds.setResources(T.Listener, [listener(port, v2)], 'l2');
    xds.setResources(T.Route, [routes({ faultStatus: 429, rlTokens: 1, adminOpenDisabled: false })], 'r2');
    await xds.waitForRequest((r) => r.typeUrl === T.Listener && r.versionInfo === 'l2' && !r.errorDetail, 10_000, from);
    await xds.waitForRequest((r) => r.typeUrl === T.Route && r.versionInfo === 'r2' && !r.errorDetail, 10_000, from);
    await pollUntil('x-mesh: v2 from the new listener', async () => (await send(url('/x'))).headers['x-mesh'] === 'v2', 10_000);
    assert.equal((await send(url('/admin/x'))).status, 200, 'the old RBAC rule is gone');
    assert.equal((await send(url('/secret/x'))).status, 403, 'the new RBAC rule applies');
    await pollUntil('fault override 429 from the new route table', async () => (await send(url('/fault'))).status === 429, 10_000);
    const burst = await Promise.all(Array.from({ length: 4 }, () => send(url('/rl'))));
    assert.deepEqual(burst.map((r) => r.status).sort(), [200, 429, 429, 429], 'the new per-route bucket of 1 applies');
  });

  it('an invalid filter config is NACKed naming the field path, and the last good config keeps serving', async () => {
    // LDS: an HTTP status the fault filter cannot send.
    const from = xds.requests.length;
    xds.setResources(T.Listener, [listener(port, { denyPrefix: '/secret', meshHeader: 'v3', abortStatus: 99 })], 'l3-bad');
    const nack = await nackFor(T.Listener, from);
    const msg = nack.message;
    assert.match(msg, /filter_chains\[0\]\.filters\[0\]\.typed_config\.http_filters\[0\]\.typed_config\.abort/, msg);
    assert.equal(nack.versionInfo, 'l2', 'the NACK carries the last accepted version');

    // Old behaviour everywhere.
    const r = await send(url('/x'));
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-mesh'], 'v2');
    assert.equal((await send(url('/secret/x'))).status, 403);
    assert.equal((await send(url('/fault'))).status, 429);
    assert.equal((await send(url('/rl'))).status, 429, 'the per-route bucket (already spent) is still the old one');
    assert.ok(meshlet.running, meshlet.output());
  });

  // Known meshlet bug (reported): route-configuration.ts passes typed_per_filter_config through unvalidated
  // (translatePerFilterConfig), so RDS ACKs it and the route answers 500 filter_config_invalid at request time;
  // filter-manager.ts already exports validatePerFilterConfig for RDS to call. Kept last: it replaces the route table.
  it('an invalid per-route filter config is NACKed by RDS naming the field path', async () => {
    // A per-route local_ratelimit whose bucket refills faster than Envoy's 50 ms floor.
    const from = xds.requests.length;
    const bad = routes({ faultStatus: 429, rlTokens: 1, adminOpenDisabled: false }) as { virtual_hosts: { routes: { typed_per_filter_config: Record<string, Record<string, unknown>> }[] }[] };
    (bad.virtual_hosts[0].routes[1].typed_per_filter_config['envoy.filters.http.local_ratelimit'].token_bucket as Record<string, unknown>).fill_interval = 10; // canonical: ms
    xds.setResources(T.Route, [bad as unknown as Record<string, unknown>], 'r3-bad');
    const rmsg = (await nackFor(T.Route, from)).message;
    assert.match(rmsg, /virtual_hosts\[0\]\.routes\[1\]\.typed_per_filter_config/, rmsg);
    assert.match(rmsg, /envoy\.filters\.http\.local_ratelimit.*token_bucket\.fill_interval/, rmsg);

    assert.equal((await send(url('/x'))).status, 200);
  });
});
