// Filter-chain selection follows Envoy's order and precedence for every FilterChainMatch field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { Issues } from '../../../src/common/validation.js';
import { checkFilterChainMatchesUnique, rejectFilterChainMatcher, translateFilterChainMatch } from '../../../src/xds/resource-types/filter-chain-match.js';
import { FilterChainMatcher, type ConnectionMatchInfo } from '../../../src/listener/filter-chain-matcher.js';
import type { FilterChainMatch } from '../../../src/config/filter-chain-match.js';

function fcm(json: Record<string, unknown> | undefined): FilterChainMatch {
  const issues = new Issues('filter_chain_match');
  const m = translateFilterChainMatch(json === undefined ? undefined : jsonToCanonical('envoy.config.listener.v3.FilterChainMatch', json), issues);
  assert.deepEqual(issues.allErrors(), []);
  return m;
}

function matcher(chains: Record<string, Record<string, unknown> | undefined>, dflt?: string): FilterChainMatcher<string> {
  return new FilterChainMatcher(Object.entries(chains).map(([value, json]) => ({ value, match: fcm(json) })), dflt);
}

const conn = (o: Partial<ConnectionMatchInfo> = {}): ConnectionMatchInfo => ({
  localAddress: '10.0.0.1', localPort: 80, remoteAddress: '192.168.1.5', remotePort: 40000,
  serverName: '', transportProtocol: 'raw_buffer', applicationProtocols: [], ...o,
});
const pick = (m: FilterChainMatcher<string>, c: Partial<ConnectionMatchInfo>): string | null => m.select(conn(c))?.value ?? null;

test('destination_port: exact port wins over port-less chains; a matched port never falls back to them', () => {
  const m = matcher({ p80: { destination_port: 80 }, p80tls: { destination_port: 80, transport_protocol: 'tls' }, any: {} });
  assert.equal(pick(m, { localPort: 80 }), 'p80');
  assert.equal(pick(m, { localPort: 81 }), 'any');
  const strict = matcher({ p80tls: { destination_port: 80, transport_protocol: 'tls' }, any: {} });
  assert.equal(pick(strict, { localPort: 80, transportProtocol: 'raw_buffer' }), null, 'no backtracking to port 0');
  assert.equal(pick(matcher({ p80tls: { destination_port: 80, transport_protocol: 'tls' }, any: {} }, 'dflt'), { localPort: 80 }), 'dflt');
});

test('prefix_ranges: most specific destination CIDR wins; IPv6 and v4-mapped addresses', () => {
  const m = matcher({
    wide: { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }] },
    narrow: { prefix_ranges: [{ address_prefix: '10.1.2.0', prefix_len: 24 }] },
    host: { prefix_ranges: [{ address_prefix: '10.1.2.3', prefix_len: 32 }] },
    v6: { prefix_ranges: [{ address_prefix: '2001:db8::', prefix_len: 32 }] },
    any: {},
  });
  assert.equal(pick(m, { localAddress: '10.9.9.9' }), 'wide');
  assert.equal(pick(m, { localAddress: '10.1.2.9' }), 'narrow');
  assert.equal(pick(m, { localAddress: '10.1.2.3' }), 'host');
  assert.equal(pick(m, { localAddress: '::ffff:10.1.2.3' }), 'host');
  assert.equal(pick(m, { localAddress: '2001:db8:1::5' }), 'v6');
  assert.equal(pick(m, { localAddress: '11.0.0.1' }), 'any');
  assert.equal(pick(m, { localAddress: '2001:db9::1' }), 'any');
});

test('a more specific destination IP beats server_names (IP is matched first, no backtracking)', () => {
  const m = matcher({
    sni: { server_names: ['api.example.com'] },
    ip: { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 24 }] },
  });
  assert.equal(pick(m, { localAddress: '10.0.0.7', serverName: 'api.example.com', transportProtocol: 'tls' }), 'ip');
  assert.equal(pick(m, { localAddress: '10.0.1.7', serverName: 'api.example.com', transportProtocol: 'tls' }), 'sni');
  const strict = matcher({
    sni: { server_names: ['api.example.com'] },
    ipOther: { prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 24 }], server_names: ['other.example.com'] },
  });
  assert.equal(pick(strict, { localAddress: '10.0.0.7', serverName: 'api.example.com' }), null);
});

test('server_names: exact beats wildcard, longer wildcard suffix beats shorter, catch-all last', () => {
  const m = matcher({
    exact: { server_names: ['www.example.com'] },
    wild: { server_names: ['*.example.com'] },
    deeper: { server_names: ['*.b.example.com'] },
    tld: { server_names: ['*.com'] },
    none: {},
  });
  assert.equal(pick(m, { serverName: 'www.example.com' }), 'exact');
  assert.equal(pick(m, { serverName: 'api.example.com' }), 'wild');
  assert.equal(pick(m, { serverName: 'x.a.example.com' }), 'wild');
  assert.equal(pick(m, { serverName: 'x.b.example.com' }), 'deeper');
  assert.equal(pick(m, { serverName: 'example.com' }), 'tld', '*.example.com does not match example.com itself');
  assert.equal(pick(m, { serverName: 'foo.org' }), 'none');
  assert.equal(pick(m, { serverName: '' }), 'none');
  assert.equal(pick(matcher({ exact: { server_names: ['WWW.Example.com'] } }), { serverName: 'www.example.com' }), 'exact', 'case-insensitive');
});

test('transport_protocol: exact detected protocol beats unset', () => {
  const m = matcher({ tls: { transport_protocol: 'tls' }, raw: { transport_protocol: 'raw_buffer' } });
  assert.equal(pick(m, { transportProtocol: 'tls' }), 'tls');
  assert.equal(pick(m, { transportProtocol: 'raw_buffer' }), 'raw');
  const m2 = matcher({ tls: { transport_protocol: 'tls' }, any: {} });
  assert.equal(pick(m2, { transportProtocol: 'raw_buffer' }), 'any');
  assert.equal(pick(m2, { transportProtocol: 'tls' }), 'tls');
});

test('application_protocols: first client protocol that has a chain wins, in the client order', () => {
  const m = matcher({
    h2: { application_protocols: ['h2'] },
    h1: { application_protocols: ['http/1.1', 'http/1.0'] },
    istio: { application_protocols: ['istio-peer-exchange', 'istio'] },
    any: {},
  });
  assert.equal(pick(m, { applicationProtocols: ['h2', 'http/1.1'] }), 'h2');
  assert.equal(pick(m, { applicationProtocols: ['http/1.1', 'h2'] }), 'h1');
  assert.equal(pick(m, { applicationProtocols: ['spdy', 'istio'] }), 'istio');
  assert.equal(pick(m, { applicationProtocols: ['spdy'] }), 'any');
  assert.equal(pick(m, { applicationProtocols: [] }), 'any');
});

test('direct_source_prefix_ranges: most specific directly connected peer', () => {
  const m = matcher({
    lan: { direct_source_prefix_ranges: [{ address_prefix: '192.168.0.0', prefix_len: 16 }] },
    host: { direct_source_prefix_ranges: [{ address_prefix: '192.168.1.5', prefix_len: 32 }] },
    any: {},
  });
  assert.equal(pick(m, { remoteAddress: '192.168.1.5' }), 'host');
  assert.equal(pick(m, { remoteAddress: '192.168.7.7' }), 'lan');
  assert.equal(pick(m, { remoteAddress: '172.16.0.1' }), 'any');
  assert.equal(pick(m, { remoteAddress: '172.16.0.1', directRemoteAddress: '192.168.1.5' }), 'host');
});

test('source_type: SAME_IP_OR_LOOPBACK vs EXTERNAL vs ANY', () => {
  const m = matcher({ local: { source_type: 'SAME_IP_OR_LOOPBACK' }, external: { source_type: 'EXTERNAL' } });
  assert.equal(pick(m, { remoteAddress: '127.0.0.1' }), 'local');
  assert.equal(pick(m, { remoteAddress: '::1' }), 'local');
  assert.equal(pick(m, { remoteAddress: '10.0.0.1', localAddress: '10.0.0.1' }), 'local', 'same IP as the local address');
  assert.equal(pick(m, { remoteAddress: '10.0.0.2', localAddress: '10.0.0.1' }), 'external');
  const withAny = matcher({ local: { source_type: 'SAME_IP_OR_LOOPBACK' }, any: { source_type: 'ANY' } });
  assert.equal(pick(withAny, { remoteAddress: '8.8.8.8' }), 'any', 'no EXTERNAL chain: ANY');
  assert.equal(pick(withAny, { remoteAddress: '127.0.0.2' }), 'local');
});

test('source_prefix_ranges: most specific source CIDR; no match → null or default', () => {
  const m = matcher({
    net: { source_prefix_ranges: [{ address_prefix: '192.168.0.0', prefix_len: 16 }] },
    host: { source_prefix_ranges: [{ address_prefix: '192.168.1.5', prefix_len: 32 }, { address_prefix: 'fd00::', prefix_len: 8 }] },
  }, 'default');
  assert.equal(pick(m, { remoteAddress: '192.168.1.5' }), 'host');
  assert.equal(pick(m, { remoteAddress: 'fd12::1' }), 'host');
  assert.equal(pick(m, { remoteAddress: '192.168.1.6' }), 'net');
  assert.equal(pick(m, { remoteAddress: '10.0.0.1' }), 'default');
  assert.equal(m.select(conn({ remoteAddress: '10.0.0.1' }))?.index, -1);
});

test('source_ports: exact port beats any port', () => {
  const m = matcher({ p: { source_ports: [5000, 5001] }, any: {} });
  assert.equal(pick(m, { remotePort: 5001 }), 'p');
  assert.equal(pick(m, { remotePort: 6000 }), 'any');
  assert.equal(pick(matcher({ p: { source_ports: [5000] } }), { remotePort: 6000 }), null);
});

test('combinations: Istio virtualInbound-style chains by port, transport and ALPN', () => {
  const m = matcher({
    mtls: { destination_port: 8080, transport_protocol: 'tls', application_protocols: ['istio-peer-exchange', 'istio'] },
    tlsPassthrough: { destination_port: 8080, transport_protocol: 'tls' },
    http: { destination_port: 8080, transport_protocol: 'raw_buffer', application_protocols: ['http/1.1', 'http/1.0', 'h2c'] },
    tcp: { destination_port: 8080, transport_protocol: 'raw_buffer' },
    passthrough: {},
  });
  assert.equal(pick(m, { localPort: 8080, transportProtocol: 'tls', applicationProtocols: ['istio', 'h2'] }), 'mtls');
  assert.equal(pick(m, { localPort: 8080, transportProtocol: 'tls', applicationProtocols: ['h2'] }), 'tlsPassthrough');
  assert.equal(pick(m, { localPort: 8080, applicationProtocols: ['h2c'] }), 'http');
  assert.equal(pick(m, { localPort: 8080 }), 'tcp');
  assert.equal(pick(m, { localPort: 9090, transportProtocol: 'tls' }), 'passthrough');
});

test('no chain matched and no default → null (NR)', () => {
  assert.equal(pick(matcher({ a: { destination_port: 81 } }), { localPort: 80 }), null);
  assert.equal(pick(matcher({}), {}), null);
  assert.equal(pick(matcher({}, 'd'), {}), 'd');
});

test('translation errors name the field; duplicates and filter_chain_matcher are rejected', () => {
  const issues = new Issues('filter_chains[0].filter_chain_match');
  translateFilterChainMatch({
    destination_port: 0, address_suffix: '1', prefix_ranges: [{ address_prefix: '10.0.0.300', prefix_len: 8 }, { address_prefix: '10.0.0.0', prefix_len: 33 }],
    server_names: ['w*.example.com'], source_ports: [70000],
  }, issues);
  const paths = issues.allErrors().map((e) => e.path).sort();
  assert.deepEqual(paths, [
    'filter_chains[0].filter_chain_match.address_suffix',
    'filter_chains[0].filter_chain_match.destination_port',
    'filter_chains[0].filter_chain_match.prefix_ranges[0].address_prefix',
    'filter_chains[0].filter_chain_match.prefix_ranges[1].prefix_len',
    'filter_chains[0].filter_chain_match.server_names[0]',
    'filter_chains[0].filter_chain_match.source_ports[0]',
  ]);
  const dupIssues = new Issues('filter_chains');
  checkFilterChainMatchesUnique([fcm({ server_names: ['a.com', 'b.com'] }), fcm({ server_names: ['c.com'] }), fcm({ server_names: ['b.com'] })], dupIssues);
  assert.equal(dupIssues.allErrors().length, 1);
  assert.equal(dupIssues.allErrors()[0].path, 'filter_chains[2].filter_chain_match');
  const li = new Issues('');
  rejectFilterChainMatcher({ filter_chain_matcher: {} }, li);
  assert.equal(li.allErrors()[0].path, 'filter_chain_matcher');
  // CIDR host bits are cleared as Envoy does.
  assert.equal(fcm({ prefix_ranges: [{ address_prefix: '10.1.2.3', prefix_len: 8 }] }).prefixRanges[0].text, '10.0.0.0/8');
  assert.equal(fcm({ prefix_ranges: [{ address_prefix: '2001:db8:0:0:1::', prefix_len: 64 }] }).prefixRanges[0].text, '2001:db8::/64');
});
