// Unit tests for bootstrap loading: the four bundled examples, both key spellings, --config-yaml merging, CLI node
// overrides, the gRPC xDS bootstrap, and the one-line errors with field paths that `--mode validate` prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBootstrap } from '../../../src/bootstrap/load-bootstrap.js';
import { MeshletError } from '../../../src/common/errors.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const EMPTY_ENV = {};

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-boot-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function load(dir: string, name: string, body: string, extra: Record<string, unknown> = {}) {
  writeFileSync(join(dir, name), body);
  return loadBootstrap({ configPath: name, cwd: dir, env: EMPTY_ENV, ...extra });
}

function expectError(fn: () => unknown, code: string, re: RegExp): MeshletError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MeshletError, `expected MeshletError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), `message must be one line: ${e.message}`);
    return e;
  }
  assert.fail('expected an error');
}

const XDS_CLUSTER = `
static_resources:
  clusters:
  - name: xds-grpc
    type: STATIC
    load_assignment:
      cluster_name: xds-grpc
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 15010}}}}]}]
`;

test('demo bootstrap: admin on 127.0.0.1:15000, static listener and cluster kept canonical, file-based LDS/CDS', () => {
  const b = loadBootstrap({ configPath: 'bootstrap/demo.yaml', cwd: ROOT, env: EMPTY_ENV });
  assert.equal(b.dialect, 'envoy');
  assert.deepEqual(b.admin, { kind: 'socket', address: '127.0.0.1', port: 15000 });
  assert.equal(b.staticResources.listeners.length, 1);
  const l = b.staticResources.listeners[0] as any;
  assert.equal(l.address.socket_address.port_value, 10000);
  const hcm = l.filter_chains[0].filters[0].typed_config;
  assert.equal(hcm['@type'], 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
  assert.equal((b.staticResources.clusters[0] as any).connect_timeout, 1000);
  assert.deepEqual(b.dynamicResources.cds, { kind: 'path', path: join(ROOT, 'bootstrap/demo/cds.yaml'), initialFetchTimeoutMs: 15000 });
  assert.deepEqual(b.dynamicResources.lds, { kind: 'path', path: join(ROOT, 'bootstrap/demo/lds.yaml'), initialFetchTimeoutMs: 15000 });
  assert.equal(b.dynamicResources.ads, null);
  assert.equal(b.raw.node && (b.raw.node as any).id, 'meshlet-demo');
});

test('Istio sidecar bootstrap: delta ADS over the UDS xds-grpc cluster, wait-forever fetch, metadata types kept', () => {
  const b = loadBootstrap({ configPath: 'bootstrap/istio-sidecar.json', cwd: ROOT, env: EMPTY_ENV });
  const ads = b.dynamicResources.ads!;
  assert.equal(ads.apiType, 'DELTA_GRPC');
  assert.equal(ads.setNodeOnFirstMessageOnly, true);
  assert.equal(ads.servers.length, 1);
  assert.equal(ads.servers[0].target, `unix:${join(ROOT, 'etc/istio/proxy/XDS')}`);
  assert.equal(ads.servers[0].clusterName, 'xds-grpc');
  assert.equal(ads.servers[0].tcpKeepaliveTimeS, 300);
  assert.equal(ads.servers[0].connectTimeoutMs, 1000);
  assert.deepEqual(ads.servers[0].credentials, { kind: 'insecure' });
  assert.deepEqual(b.dynamicResources.lds, { kind: 'ads', initialFetchTimeoutMs: 0 });
  assert.deepEqual(b.dynamicResources.cds, { kind: 'ads', initialFetchTimeoutMs: 0 });
  assert.equal(b.node.id, 'sidecar~10.244.1.15~productpage-v1-6b746f74dc-2c55l.default~default.svc.cluster.local');
  assert.equal(b.node.cluster, 'productpage.default');
  assert.deepEqual(b.node.locality, {});
  assert.equal(b.node.metadata.ENVOY_STATUS_PORT, 15021);
  assert.deepEqual(b.node.metadata.PILOT_SAN, ['istiod.istio-system.svc']);
  assert.equal((b.node.metadata.LABELS as any).app, 'productpage');
  assert.equal((b.node.metadata.PROXY_CONFIG as any).concurrency, 2);
  assert.deepEqual(b.staticResources.listeners.map((l) => l.name), ['0.0.0.0_15090', '0.0.0.0_15021'], 'unnamed static listeners are named after their address');
  assert.equal(((b.raw.static_resources as any).listeners[0] as any).name, undefined, 'the raw bootstrap stays as given');
  assert.equal(b.staticResources.clusters.length, 4);
  assert.ok(b.statsConfig && (b.statsConfig as any).use_all_default_tags === false);
  assert.ok(b.layeredRuntime);
  assert.deepEqual(b.warnings, []);
});

test('Traffic Director bootstrap: SotW ADS over google_grpc with TLS roots, GCE call credentials, keepalive args', () => {
  const b = loadBootstrap({ configPath: 'bootstrap/traffic-director.yaml', cwd: ROOT, env: EMPTY_ENV });
  const s = b.dynamicResources.ads!.servers[0];
  assert.equal(b.dynamicResources.ads!.apiType, 'GRPC');
  assert.equal(b.dynamicResources.ads!.setNodeOnFirstMessageOnly, false);
  assert.equal(s.target, 'trafficdirector.googleapis.com:443');
  assert.equal(s.statPrefix, 'trafficdirector');
  assert.deepEqual(s.credentials, { kind: 'tls', rootCerts: { filename: '/etc/ssl/certs/ca-certificates.crt' } });
  assert.deepEqual(s.callCredentials, [{ kind: 'google_compute_engine' }]);
  assert.deepEqual(s.channelArgs, { 'grpc.keepalive_time_ms': 10000, 'grpc.keepalive_timeout_ms': 20000 });
  assert.equal(b.node.locality.zone, 'us-central1-a');
  assert.equal(b.node.metadata.TRAFFICDIRECTOR_NETWORK_NAME, 'default');
  assert.ok(b.loadStatsConfig, 'LRS config accepted');
  assert.deepEqual(b.dynamicResources.lds, { kind: 'ads', initialFetchTimeoutMs: 15000 });
});

test('gRPC xDS bootstrap file: xds_servers become the ADS server, node and certificate providers kept', () => {
  const b = loadBootstrap({ configPath: 'bootstrap/grpc-xds-bootstrap.json', cwd: ROOT, env: EMPTY_ENV });
  assert.equal(b.dialect, 'grpc');
  const ads = b.dynamicResources.ads!;
  assert.equal(ads.apiType, 'GRPC');
  assert.equal(ads.setNodeOnFirstMessageOnly, true);
  assert.equal(ads.servers[0].target, 'unix:///etc/istio/proxy/XDS');
  assert.deepEqual(ads.servers[0].credentials, { kind: 'insecure' });
  assert.deepEqual(ads.servers[0].serverFeatures, ['xds_v3']);
  assert.equal(b.node.id, 'sidecar~10.0.0.12~echo-7c9d.default~default.svc.cluster.local');
  assert.equal(b.node.locality.zone, 'us-central1-a');
  assert.equal(b.grpc!.certificateProviders.default.pluginName, 'file_watcher');
  assert.equal(b.grpc!.serverListenerResourceNameTemplate, 'xds.istio.io/grpc/lds/inbound/%s');
  assert.deepEqual(b.admin, { kind: 'socket', address: '127.0.0.1', port: 15000 });
  assert.equal((b.raw.dynamic_resources as any).ads_config.grpc_services[0].google_grpc.target_uri, 'unix:///etc/istio/proxy/XDS');
});

test('gRPC bootstrap from GRPC_XDS_BOOTSTRAP_CONFIG (inline) and GRPC_XDS_BOOTSTRAP (file); GENERATOR grpc is dropped', () => {
  const json = JSON.stringify({
    xds_servers: [{ server_uri: 'dns:///istiod.istio-system.svc:15012', channel_creds: [{ type: 'fancy' }, { type: 'tls', config: { ca_certificate_file: '/ca.pem' } }] }],
    node: { id: 'n1', metadata: { GENERATOR: 'grpc', X: 1 } },
  });
  const inline = loadBootstrap({ env: { GRPC_XDS_BOOTSTRAP_CONFIG: json }, cwd: '/' });
  assert.equal(inline.dynamicResources.ads!.servers[0].target, 'dns:///istiod.istio-system.svc:15012');
  assert.deepEqual(inline.dynamicResources.ads!.servers[0].credentials, { kind: 'tls', rootCerts: { filename: '/ca.pem' } });
  assert.deepEqual(inline.node.metadata, { X: 1 });
  assert.equal(inline.warnings.length, 1);
  withDir((dir) => {
    writeFileSync(join(dir, 'g.json'), json);
    const fromFile = loadBootstrap({ env: { GRPC_XDS_BOOTSTRAP: join(dir, 'g.json'), GRPC_XDS_BOOTSTRAP_CONFIG: '{}' }, cwd: dir });
    assert.equal(fromFile.node.id, 'n1');
    assert.equal(fromFile.sourcePath, join(dir, 'g.json'));
  });
  expectError(() => loadBootstrap({ env: { GRPC_XDS_BOOTSTRAP_CONFIG: '{"xds_servers": [{"server_uri": "x", "channel_creds": [{"type": "weird"}]}]}' } }),
    'BOOTSTRAP_INVALID', /xds_servers\[0\]\.channel_creds: no supported channel credential type \(got weird/);
  expectError(() => loadBootstrap({ env: {} }), 'BOOTSTRAP_UNREADABLE', /no bootstrap given/);
});

test('lowerCamelCase keys work like snake_case; IPv4, IPv6, DNS and pipe endpoints become gRPC targets', () => {
  withDir((dir) => {
    const cluster = (type: string, address: unknown) => ({
      staticResources: { clusters: [{ name: 'xds', type, loadAssignment: { clusterName: 'xds', endpoints: [{ lbEndpoints: [{ endpoint: { address } }] }] } }] },
      dynamicResources: { adsConfig: { apiType: 'DELTA_GRPC', transportApiVersion: 'V3', grpcServices: [{ envoyGrpc: { clusterName: 'xds' } }] } },
    });
    const target = (type: string, address: unknown) =>
      load(dir, 'b.json', JSON.stringify(cluster(type, address))).dynamicResources.ads!.servers[0].target;
    assert.equal(target('STATIC', { socketAddress: { address: '10.1.2.3', portValue: 15010 } }), 'ipv4:10.1.2.3:15010');
    assert.equal(target('STATIC', { socketAddress: { address: '::1', portValue: 15010 } }), 'ipv6:[::1]:15010');
    assert.equal(target('STRICT_DNS', { socketAddress: { address: 'istiod.istio-system.svc', portValue: 15012 } }), 'dns:istiod.istio-system.svc:15012');
    assert.equal(target('STATIC', { pipe: { path: 'run/xds.sock' } }), `unix:${join(dir, 'run/xds.sock')}`);
    assert.equal(target('STATIC', { pipe: { path: '/abs/xds.sock' } }), 'unix:/abs/xds.sock');
    assert.equal(load(dir, 'b.json', JSON.stringify(cluster('STATIC', { socketAddress: { address: '10.1.2.3', portValue: 1 } }))).dynamicResources.ads!.apiType, 'DELTA_GRPC');
  });
});

test('unknown fields are tolerated and reported; no admin block means 127.0.0.1:15000', () => {
  withDir((dir) => {
    const b = load(dir, 'b.yaml', 'node: {id: a, future_field: 1}\nsomething_new: {x: 1}\n');
    assert.deepEqual([...b.unknownFields].sort(), ['node.future_field', 'something_new']);
    assert.deepEqual(b.admin, { kind: 'socket', address: '127.0.0.1', port: 15000 });
    assert.equal(b.node.id, 'a');
    const noAddr = load(dir, 'c.yaml', 'admin: {profile_path: /tmp/x}\n');
    assert.equal(noAddr.admin, null);
  });
});

test('--config-yaml merges over the file (scalars win, lists append) and CLI flags override the node', () => {
  withDir((dir) => {
    const body = `node: {id: from-file, cluster: c1, locality: {region: r1, zone: z1}, metadata: {A: "1"}}\n${XDS_CLUSTER}`;
    const b = load(dir, 'b.yaml', body, {
      configYaml: `node: {id: from-yaml, metadata: {B: 2}}\nstatic_resources:\n  clusters:\n  - {name: extra, type: STATIC}\n`,
    });
    assert.equal(b.node.id, 'from-yaml');
    assert.equal(b.node.cluster, 'c1');
    assert.deepEqual(b.node.metadata, { A: '1', B: 2 });
    assert.deepEqual(b.staticResources.clusters.map((c) => c.name), ['xds-grpc', 'extra']);
    const o = load(dir, 'b.yaml', body, { serviceNode: 'sn', serviceCluster: 'sc', serviceZone: 'sz' });
    assert.equal(o.node.id, 'sn');
    assert.equal(o.node.cluster, 'sc');
    assert.deepEqual(o.node.locality, { region: 'r1', zone: 'sz' });
    const only = loadBootstrap({ configYaml: 'node: {id: only-yaml}', env: EMPTY_ENV, cwd: dir });
    assert.equal(only.node.id, 'only-yaml');
  });
});

test('the four validate failures: unreadable file, bad YAML, wrong type with field path, missing xDS cluster', () => {
  withDir((dir) => {
    expectError(() => loadBootstrap({ configPath: 'missing.yaml', cwd: dir, env: EMPTY_ENV }), 'BOOTSTRAP_UNREADABLE', /cannot read bootstrap file "missing\.yaml": no such file/);
    expectError(() => load(dir, 'bad.yaml', 'node: {id: x\nadmin: [\n'), 'BOOTSTRAP_PARSE', /cannot parse bad\.yaml as YAML \(line \d+, column \d+\)/);
    expectError(() => load(dir, 'bad.json', '{"node": {"id": "x",}}'), 'BOOTSTRAP_PARSE', /cannot parse bad\.json as JSON \(line 1, column \d+\)/);
    expectError(() => load(dir, 'type.yaml', 'admin: {address: {socket_address: {address: 127.0.0.1, port_value: [1]}}}\n'),
      'BOOTSTRAP_INVALID', /admin\.address\.socket_address\.port_value: expected an integer/);
    expectError(() => load(dir, 'type2.yaml', 'static_resources: {clusters: {name: x, connect_timeout: soon}}\n'),
      'BOOTSTRAP_INVALID', /static_resources\.clusters\[0\]\.connect_timeout: invalid duration "soon"/);
    expectError(() => load(dir, 'miss.yaml', 'dynamic_resources:\n  ads_config: {api_type: GRPC, grpc_services: [{envoy_grpc: {cluster_name: xds-grpc}}]}\n'),
      'BOOTSTRAP_INVALID', /dynamic_resources\.ads_config\.grpc_services\[0\]\.envoy_grpc\.cluster_name: cluster "xds-grpc" is not defined in static_resources\.clusters/);
  });
});

test('semantic errors are all collected, each with its field path', () => {
  withDir((dir) => {
    const e = expectError(() => load(dir, 'b.yaml', `
static_resources:
  clusters:
  - {name: eds, type: EDS}
  - {name: eds, type: STATIC}
dynamic_resources:
  ads_config: {api_type: REST, transport_api_version: V2, grpc_services: [{envoy_grpc: {cluster_name: eds}}]}
  lds_config: {api_config_source: {api_type: GRPC}}
  cds_config: {ads: {}, resource_api_version: V2}
`), 'BOOTSTRAP_INVALID', /static_resources\.clusters\[1\]\.name: duplicate cluster name "eds"/);
    assert.match(e.message, /dynamic_resources\.ads_config\.api_type: api_type REST is not supported/);
    assert.match(e.message, /dynamic_resources\.ads_config\.transport_api_version: xDS v2 is not supported/);
    assert.match(e.message, /dynamic_resources\.ads_config\.grpc_services\[0\]\.envoy_grpc\.cluster_name: cluster "eds" is EDS/);
    assert.match(e.message, /dynamic_resources\.lds_config\.api_config_source: field is not supported/);
    assert.match(e.message, /dynamic_resources\.cds_config\.resource_api_version: xDS v2/);
  });
});

test('lds_config using ads without ads_config, a STATIC xDS cluster with a hostname, and unsupported call credentials are errors', () => {
  withDir((dir) => {
    expectError(() => load(dir, 'a.yaml', 'dynamic_resources: {lds_config: {ads: {}}}\n'), 'BOOTSTRAP_INVALID',
      /dynamic_resources\.lds_config\.ads: uses ads but dynamic_resources\.ads_config is not set/);
    expectError(() => load(dir, 'b.yaml', XDS_CLUSTER.replace('10.0.0.1', 'istiod') + 'dynamic_resources: {ads_config: {api_type: GRPC, grpc_services: [{envoy_grpc: {cluster_name: xds-grpc}}]}}\n'),
      'BOOTSTRAP_INVALID', /static_resources\.clusters\[0\]\.load_assignment\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.address: "istiod" is not an IP address/);
    expectError(() => load(dir, 'c.yaml', 'dynamic_resources: {ads_config: {api_type: GRPC, grpc_services: [{google_grpc: {target_uri: "x:443", call_credentials: [{sts_service: {}}]}}]}}\n'),
      'BOOTSTRAP_INVALID', /google_grpc\.call_credentials\[0\]\.sts_service: field is not a call credential meshlet supports/);
  });
});

test('xDS cluster TLS transport socket becomes channel credentials; initial_fetch_timeout is read in ms', () => {
  withDir((dir) => {
    const b = load(dir, 'b.yaml', `${XDS_CLUSTER}    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: istiod.istio-system.svc
        common_tls_context:
          validation_context: {trusted_ca: {filename: certs/root.pem}}
          tls_certificates: [{certificate_chain: {inline_string: CERT}, private_key: {filename: /k.pem}}]
dynamic_resources:
  ads_config: {api_type: GRPC, grpc_services: [{envoy_grpc: {cluster_name: xds-grpc}, timeout: 2s}]}
  lds_config: {ads: {}, initial_fetch_timeout: 2.5s}
  cds_config: {ads: {}}
`);
    const s = b.dynamicResources.ads!.servers[0];
    assert.deepEqual(s.credentials, {
      kind: 'tls', rootCerts: { filename: join(dir, 'certs/root.pem') }, certChain: { inline: Buffer.from('CERT') }, privateKey: { filename: '/k.pem' }, serverName: 'istiod.istio-system.svc',
    });
    assert.equal(s.timeoutMs, 2000);
    assert.deepEqual(b.dynamicResources.lds, { kind: 'ads', initialFetchTimeoutMs: 2500 });
    assert.deepEqual(b.dynamicResources.cds, { kind: 'ads', initialFetchTimeoutMs: 15000 });
    assert.equal(b.warnings.length, 1, 'an xDS cluster without HTTP/2 is worth a warning');
  });
});
