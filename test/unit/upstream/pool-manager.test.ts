// PoolManager's per-host pool cache: the same pool for the same host and protocol (by Host object or by key for a
// new object of the same endpoint), a fresh pool once the old one drains, new pools after a cluster config change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PoolManager } from '../../../src/upstream/pools/pool-manager.js';
import { DEFAULT_POOL_OPTIONS } from '../../../src/upstream/pools/upstream-pool.js';
import type { UpstreamCluster } from '../../../src/upstream/types.js';
import { mkHost } from './helpers.js';

function cluster(name: string, hosts: ReturnType<typeof mkHost>[], config: object = {}): UpstreamCluster {
  return { name, config, hosts: () => hosts, protocol: 'http1' } as unknown as UpstreamCluster;
}

test('pool cache: same host and protocol share a pool; protocols, hosts and new configs get their own', async () => {
  const pm = new PoolManager(() => DEFAULT_POOL_OPTIONS);
  try {
    const h1 = mkHost(1);
    const h2 = mkHost(2);
    const c = cluster('c', [h1, h2]);
    const a = pm.get(c, h1, 'http1');
    assert.equal(pm.get(c, h1, 'http1'), a);
    assert.equal(a.protocol, 'http1');
    const b = pm.get(c, h1, 'http2');
    assert.notEqual(b, a);
    assert.equal(b.protocol, 'http2');
    assert.equal(pm.get(c, h1, 'http2'), b);
    assert.notEqual(pm.get(c, h2, 'http1'), a);
    // A new Host object for the same endpoint (EDS rebuilt the host set) finds the same pool.
    const again = mkHost(1);
    assert.equal(pm.get(c, again, 'http1'), a);
    assert.equal(pm.get(c, again, 'http1'), a);
    // A new cluster config drains the old pools and keys new ones.
    const c2 = cluster('c', [h1, h2], {});
    const fresh = pm.get(c2, h1, 'http1');
    assert.notEqual(fresh, a);
    assert.notEqual(a.state, 'ready');
    assert.equal(pm.get(c2, h1, 'http1'), fresh);
  } finally {
    await pm.close();
  }
});

test('pool cache: a host dropped by syncHosts has its pool drained, and a later pick gets a new ready pool', async () => {
  const pm = new PoolManager(() => DEFAULT_POOL_OPTIONS);
  try {
    const h1 = mkHost(1);
    const hosts = [h1, mkHost(2)];
    const c = cluster('c', hosts);
    const a = pm.get(c, h1, 'http1');
    hosts.shift();
    pm.syncHosts(c);
    assert.notEqual(a.state, 'ready');
    const b = pm.get(c, h1, 'http1');
    assert.notEqual(b, a);
    assert.equal(b.state, 'ready');
    assert.equal(pm.get(c, h1, 'http1'), b);
  } finally {
    await pm.close();
  }
});
