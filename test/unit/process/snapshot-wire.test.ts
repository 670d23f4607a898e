// Unit: the snapshot wire format between the --concurrency primary and its workers (src/process/snapshot-wire.ts).
// Canonical resources with Buffers survive the JSON round trip byte for byte, a worker's retranslation of a real
// Cluster/Listener equals the primary's, generations and versions travel unchanged, unchanged resources keep their
// translated object across generations, and a resource that fails to translate leaves the worker on its old state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotDecoder, SnapshotEncoder, SNAPSHOT_KINDS, canonicalFromJson, canonicalToJson, type Retranslate, type SnapshotKind, type WireSnapshot } from '../../../src/process/snapshot-wire.js';
import { jsonToCanonical } from '../../../src/xds/proto-json.js';
import { clusterResourceType } from '../../../src/xds/resource-types/cluster.js';
import { listenerResourceType } from '../../../src/xds/resource-types/listener.js';
import type { ConfigSnapshot, ResourceEntry } from '../../../src/config/snapshot.js';

const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nnot really a cert\n-----END CERTIFICATE-----\n');
const BINARY = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x7b, 0x22]); // NUL, high bytes and `{"` must not confuse the JSON

function tlsCluster(name: string, ca: Buffer = CA): Record<string, unknown> {
  return jsonToCanonical('envoy.config.cluster.v3.Cluster', {
    name,
    type: 'STATIC',
    connect_timeout: '1.5s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 8443 } } } }] }] },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'backend.example',
        common_tls_context: { validation_context: { trusted_ca: { inline_bytes: ca.toString('base64') } } },
      },
    },
  });
}

function tcpListener(name: string, port: number): Record<string, unknown> {
  return jsonToCanonical('envoy.config.listener.v3.Listener', {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: name, cluster: 'c1' },
      }],
    }],
  });
}

const realTranslate: Retranslate = (kind, raw) => {
  const t = kind === 'clusters' ? clusterResourceType : kind === 'listeners' ? listenerResourceType : null;
  if (!t) return { ok: true, value: raw };
  const r = (t as typeof clusterResourceType).translate(raw, { node: { id: 'n', cluster: 'c', metadata: {} } } as never);
  return r.ok ? { ok: true, value: r.value } : { ok: false, error: r.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
};

function entry<T>(name: string, raw: Record<string, unknown>, value: T, version = 'v1', isStatic = false): ResourceEntry<T> {
  return Object.freeze({ name, version, value, raw, lastUpdated: 1_700_000_000_123, isStatic });
}

function snapshot(generation: number, parts: Partial<Record<SnapshotKind, ResourceEntry<unknown>[]>>, versions: Record<string, string> = {}): ConfigSnapshot {
  const map = (k: SnapshotKind) => new Map((parts[k] ?? []).map((e) => [e.name, e]));
  return { generation, clusters: map('clusters'), endpoints: map('endpoints'), routes: map('routes'), listeners: map('listeners'), versions } as ConfigSnapshot;
}

/** What a real IPC hop does: JSON serialisation of the message (node:cluster uses JSON for 'json' serialization). */
const overIpc = (w: WireSnapshot): WireSnapshot => JSON.parse(JSON.stringify(w)) as WireSnapshot;

test('canonicalToJson / canonicalFromJson: Buffers at any depth (objects, arrays) come back as equal Buffers', () => {
  const raw = { a: BINARY, nested: { list: [BINARY, { deep: CA }, 'text', 3, null, true], empty: Buffer.alloc(0) }, u8: new Uint8Array([9, 8, 7]) };
  const back = canonicalFromJson(canonicalToJson(raw));
  assert.ok(Buffer.isBuffer(back.a));
  assert.deepEqual(back.a, BINARY);
  const nested = back.nested as { list: unknown[]; empty: unknown };
  assert.ok(Buffer.isBuffer(nested.list[0]) && (nested.list[0] as Buffer).equals(BINARY));
  assert.ok((nested.list[1] as { deep: Buffer }).deep.equals(CA));
  assert.deepEqual(nested.list.slice(2), ['text', 3, null, true]);
  assert.ok(Buffer.isBuffer(nested.empty) && (nested.empty as Buffer).length === 0);
  assert.ok(Buffer.isBuffer(back.u8), 'Uint8Array is carried as a Buffer');
  assert.deepEqual([...(back.u8 as Buffer)], [9, 8, 7]);
  // An ordinary object that merely has other keys next to $buffer stays an object.
  const lookalike = canonicalFromJson(JSON.stringify({ x: { $buffer: 'AAE=', other: 1 } }));
  assert.deepEqual(lookalike.x, { $buffer: 'AAE=', other: 1 });
});

test('a TLS cluster with inline_bytes and a listener: the worker translation after the wire equals the primary translation', () => {
  const craw = tlsCluster('c1');
  const lraw = tcpListener('l1', 15001);
  const cval = realTranslate('clusters', craw);
  const lval = realTranslate('listeners', lraw);
  assert.ok(cval.ok && lval.ok, 'fixtures translate');
  const snap = snapshot(7, { clusters: [entry('c1', craw, cval.value, 'v3', true)], listeners: [entry('l1', lraw, lval.value, 'v9')] }, { [clusterResourceType.typeUrl]: 'v3' });
  const wire = overIpc(new SnapshotEncoder().encode(snap));
  const { snapshot: got, errors } = new SnapshotDecoder(realTranslate).decode(wire);
  assert.deepEqual(errors, []);
  assert.ok(got);
  assert.equal(got.generation, 7);
  assert.deepEqual(got.versions, { [clusterResourceType.typeUrl]: 'v3' });
  const c = got.clusters.get('c1')!;
  assert.equal(c.version, 'v3');
  assert.equal(c.isStatic, true);
  assert.equal(c.lastUpdated, 1_700_000_000_123);
  assert.deepEqual(c.value, cval.value, 'same ClusterConfig in the worker (TLS CA bytes included)');
  assert.deepEqual(c.raw, craw, 'raw canonical form with its Buffer');
  assert.ok(Object.isFrozen(c.raw), 'raw resources are frozen in the worker as in the primary');
  assert.deepEqual(got.listeners.get('l1')!.value, lval.value);
  assert.equal(got.listeners.get('l1')!.isStatic, false);
  for (const k of SNAPSHOT_KINDS) assert.ok(got[k] instanceof Map, `${k} is a Map`);
});

test('encoder: the wire entry of an unchanged resource object is reused (JSON text computed once)', () => {
  const e = entry('c1', tlsCluster('c1'), {});
  const enc = new SnapshotEncoder();
  const w1 = enc.encode(snapshot(1, { clusters: [e] }));
  const w2 = enc.encode(snapshot(2, { clusters: [e, entry('c2', tlsCluster('c2'), {})] }));
  assert.equal(w1.resources.clusters[0], w2.resources.clusters[0]);
  assert.equal(w2.resources.clusters.length, 2);
  assert.deepEqual(w2.resources.listeners, []);
  assert.equal(w2.generation, 2);
});

test('decoder: unchanged resources keep their translated object; a new version or text is translated again', () => {
  const calls: string[] = [];
  const counting: Retranslate = (kind, raw) => {
    calls.push(`${kind}/${String(raw.name)}`);
    return { ok: true, value: { translatedFrom: raw.name } };
  };
  const dec = new SnapshotDecoder(counting);
  const enc = new SnapshotEncoder();
  const a = entry('a', tlsCluster('a'), {});
  const b = entry('b', tlsCluster('b'), {});
  const g1 = dec.decode(overIpc(enc.encode(snapshot(1, { clusters: [a, b] })))).snapshot!;
  assert.deepEqual(calls.sort(), ['clusters/a', 'clusters/b']);
  calls.length = 0;
  // b: same text, new version → retranslated; a: untouched → same entry object; c: new.
  const b2 = entry('b', tlsCluster('b'), {}, 'v2');
  const c = entry('c', tlsCluster('c'), {});
  const g2 = dec.decode(overIpc(enc.encode(snapshot(2, { clusters: [a, b2, c] })))).snapshot!;
  assert.deepEqual(calls.sort(), ['clusters/b', 'clusters/c']);
  assert.equal(g2.clusters.get('a'), g1.clusters.get('a'), 'a keeps the same entry (listeners/clusters are not rebuilt)');
  assert.notEqual(g2.clusters.get('b'), g1.clusters.get('b'));
  assert.equal(g2.clusters.get('b')!.version, 'v2');
  calls.length = 0;
  // Same name and version but different bytes (a changed CA) → retranslated.
  const a3 = entry('a', tlsCluster('a', Buffer.from('other CA')), {});
  const g3 = dec.decode(overIpc(enc.encode(snapshot(3, { clusters: [a3, b2] })))).snapshot!;
  assert.deepEqual(calls, ['clusters/a']);
  assert.ok(((g3.clusters.get('a')!.raw.transport_socket as any).typed_config.common_tls_context.validation_context.trusted_ca.inline_bytes as Buffer).equals(Buffer.from('other CA')));
  assert.equal(g3.clusters.has('c'), false, 'a resource missing from the generation is gone');
});

test('decoder: a resource that no longer translates yields no snapshot, names it, and keeps the previous state for the next decode', () => {
  let failB = false;
  const tr: Retranslate = (kind, raw) => (failB && raw.name === 'b' ? { ok: false, error: 'connect_timeout: bad' } : { ok: true, value: { n: raw.name } });
  const dec = new SnapshotDecoder(tr);
  const enc = new SnapshotEncoder();
  const a = entry('a', tlsCluster('a'), {});
  const g1 = dec.decode(overIpc(enc.encode(snapshot(1, { clusters: [a] })))).snapshot!;
  failB = true;
  const bad = dec.decode(overIpc(enc.encode(snapshot(2, { clusters: [a, entry('b', tlsCluster('b'), {})] }))));
  assert.equal(bad.snapshot, null);
  assert.deepEqual(bad.errors, ['clusters/b: connect_timeout: bad']);
  failB = false;
  const g3 = dec.decode(overIpc(enc.encode(snapshot(3, { clusters: [a] })))).snapshot!;
  assert.equal(g3.clusters.get('a'), g1.clusters.get('a'), 'the failed decode did not replace the reuse cache');
});
