// Unit tests for the filesystem subscription (path_config_source): YAML/JSON DiscoveryResponse files, re-read on
// change (in place and by rename), bad files rejected while the last good config keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigStore } from '../../../src/xds/config-store.js';
import { FilesystemSubscription } from '../../../src/xds/filesystem-subscription.js';
import { TypeUrl } from '../../../src/xds/resource-type.js';
import { testRegistry } from '../../support/xds-server.js';

const node = { id: 'n', cluster: 'c', locality: {}, metadata: {} };

function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = (): void => {
      if (pred()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

const yamlListeners = (version: string, ports: number[]): string => `version_info: "${version}"
resources:
${ports.map((p) => `- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: l${p}
  address: { socket_address: { address: 127.0.0.1, port_value: ${p} } }`).join('\n')}
`;

test('reads the file, re-reads on change and on rename, rejects a bad file and keeps the last good', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-fs-'));
  const store = new ConfigStore({ registry: testRegistry(), ctx: { node }, warmingTimeoutMs: 0 });
  const path = join(dir, 'lds.yaml');
  writeFileSync(path, yamlListeners('1', [1001]));
  const sub = new FilesystemSubscription({ path, typeUrl: TypeUrl.Listener, pollIntervalMs: 100 }, { store });
  try {
    assert.equal(sub.start().accepted, true);
    assert.deepEqual([...store.current().listeners.keys()], ['l1001']);
    assert.equal(store.current().listeners.get('l1001')!.version, '1');
    assert.equal(store.readiness().ldsApplied, true);

    writeFileSync(path, yamlListeners('2', [1001, 1002]));
    await until(() => store.current().listeners.has('l1002'), 'in-place change');

    // Atomic replace by rename (how ConfigMaps and careful tools update files); JSON is accepted too.
    const tmp = join(dir, 'lds.json.tmp');
    writeFileSync(tmp, JSON.stringify({ version_info: '3', resources: [{ '@type': TypeUrl.Listener, name: 'l1003', address: { socketAddress: { address: '127.0.0.1', portValue: 1003 } } }] }));
    renameSync(tmp, path);
    await until(() => store.current().listeners.has('l1003') && store.current().listeners.size === 1, 'rename');

    const good = store.current();
    writeFileSync(path, 'version_info: "4"\nresources: [ {');
    await until(() => store.rejected(TypeUrl.Listener) !== undefined, 'bad YAML rejected');
    assert.match(store.rejected(TypeUrl.Listener)!.message, /cannot parse/);
    writeFileSync(path, 'version_info: "5"\nresources:\n- "@type": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: nope\n');
    await until(() => store.rejected(TypeUrl.Listener)?.version === '5', 'invalid listener rejected');
    assert.match(store.rejected(TypeUrl.Listener)!.message, /resources\[0\]\.address/);
    assert.equal(store.current(), good, 'last good config still served');
    assert.equal(store.stats(TypeUrl.Listener).update_rejected, 2);
  } finally {
    sub.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unreadable file is rejected like a NACK', () => {
  const store = new ConfigStore({ registry: testRegistry(), ctx: { node } });
  const sub = new FilesystemSubscription({ path: '/nonexistent/meshlet/cds.yaml', typeUrl: TypeUrl.Cluster, watchDirectory: false }, { store });
  try {
    const r = sub.start();
    assert.equal(r.accepted, false);
    assert.match(store.rejected(TypeUrl.Cluster)!.message, /cannot read/);
    assert.equal(store.readiness().cdsApplied, false);
  } finally {
    sub.close();
    store.close();
  }
});
