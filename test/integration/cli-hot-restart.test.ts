// `meshlet --restart-epoch N` on the real executable: without a running parent, without the native addon, or with
// --concurrency > 1 it exits 1 with one `meshlet:` line saying why (as Envoy refuses to start a child it cannot
// attach to its parent); /hot_restart_version answers the protocol version, or `disabled` with --disable-hot-restart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshletProcess, runMeshlet } from '../support/meshlet-process.js';
import { loadHotRestartAddon } from '../../src/process/hot-restart-native.js';

const addon = loadHotRestartAddon();
const skipNeedsAddon = addon.state === 'loaded' ? false : `hot-restart addon unavailable: ${addon.reason}`;

describe('meshlet --restart-epoch', { timeout: 60_000 }, () => {
  let dir = '';
  let boot = '';
  const baseId = String(10_000 + Math.floor(Math.random() * 50_000));
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cli-hot-restart-'));
    boot = join(dir, 'bootstrap.json');
    writeFileSync(boot, JSON.stringify({ node: { id: 'n', cluster: 'c' }, admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } }, static_resources: { listeners: [], clusters: [] } }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The `meshlet:` lines of stderr (log lines are JSON). */
  const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('meshlet:'));

  it('with no parent epoch listening: exit 1 and one line naming the control socket', { skip: skipNeedsAddon }, async () => {
    const r = await runMeshlet(['-c', boot, '--restart-epoch', '1', '--base-id', baseId], 20_000);
    assert.equal(r.code, 1, r.stderr);
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`no parent epoch 0 listening on @meshlet_hot_restart_${baseId}_0 \\(ECONNREFUSED\\)`));
  });

  it('without the native addon: exit 1 and one line saying it is not built', async () => {
    const prev = process.env.MESHLET_HOT_RESTART_ADDON;
    process.env.MESHLET_HOT_RESTART_ADDON = join(dir, 'missing', 'hot_restart.node');
    let r;
    try {
      r = await runMeshlet(['-c', boot, '--restart-epoch', '1', '--base-id', baseId], 20_000);
    } finally {
      if (prev === undefined) delete process.env.MESHLET_HOT_RESTART_ADDON;
      else process.env.MESHLET_HOT_RESTART_ADDON = prev;
    }
    assert.equal(r.code, 1, r.stderr);
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /--restart-epoch 1 needs the hot-restart addon: .*hot_restart\.node not built/);
  });

  it('with --concurrency 2: exit 1, hot restart needs one process', async () => {
    const r = await runMeshlet(['-c', boot, '--restart-epoch', '1', '--concurrency', '2'], 20_000);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(errorLines(r.stderr).map((l) => /cannot be combined with --concurrency 2/.test(l)), [true], r.stderr);
  });

  it('/hot_restart_version is the protocol version, or disabled with --disable-hot-restart', { skip: skipNeedsAddon }, async () => {
    for (const [extra, want] of [[[], 'meshlet.1'], [['--disable-hot-restart'], 'disabled']] as const) {
      const m = await MeshletProcess.start({ bootstrap: boot, args: ['--base-id', baseId, ...extra] });
      try {
        assert.equal((await m.admin('/hot_restart_version')).body, want);
        assert.equal((await m.adminJson<{ hot_restart_version: string }>('/server_info')).hot_restart_version, want);
      } finally {
        await m.stop();
      }
    }
  });
});
