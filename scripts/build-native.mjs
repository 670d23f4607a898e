// Builds the native addons (native/) with node-gyp: original_dst.node (SO_ORIGINAL_DST) and hot_restart.node (fd
// passing for --restart-epoch). Never fails the build: without a C toolchain, Python or Node headers it prints one line
// and exits 0 (meshlet then runs without original-destination support and without hot restart, and says so when a
// listener or --restart-epoch needs them).
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const gyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const say = (msg) => { console.log(`build-native: ${msg}`); process.exit(0); };

if (process.platform !== 'linux') say(`skipped (SO_ORIGINAL_DST is Linux-only; platform ${process.platform})`);
if (!existsSync(gyp)) say('skipped (node-gyp is not installed; run npm install with dev dependencies)');

// Up to date: every addon is newer than every source (node-gyp rebuild would delete them first, so skip when possible).
const addons = ['original_dst.node', 'hot_restart.node'].map((f) => join(root, 'native', 'build', 'Release', f));
if (addons.every((f) => existsSync(f)) && !process.argv.includes('--force')) {
  const t = Math.min(...addons.map((f) => statSync(f).mtimeMs));
  const srcs = ['original_dst.c', 'original_dst_stub.c', 'hot_restart.c', 'binding.gyp'].map((f) => join(root, 'native', f)).filter((f) => existsSync(f));
  if (srcs.every((f) => statSync(f).mtimeMs <= t)) process.exit(0);
}

const args = [gyp, 'rebuild', '--directory', join(root, 'native')];
// Prefer the headers installed next to this node (no download needed, works offline); else node-gyp's cache.
const prefix = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000 });
if (r.status === 0 && addons.every((f) => existsSync(f))) {
  console.log('build-native: built native/build/Release/original_dst.node and hot_restart.node');
  process.exit(0);
}
const out = `${r.stderr ?? ''}${r.stdout ?? ''}`;
const reason = r.error ? r.error.message
  : /network connectivity|ENOTFOUND|EAI_AGAIN/.test(out) ? 'node headers missing and not downloadable'
  : /find Python|python/i.test(out) && /not found|could not/i.test(out) ? 'python not found'
  : /make: not found|not found: make|cc: not found|gcc: not found|No such file or directory.*(cc|gcc|make)/i.test(out) ? 'no C toolchain'
  : `node-gyp exited with ${r.status}`;
say(`skipped (${reason}); original destination (SO_ORIGINAL_DST) and hot restart (--restart-epoch > 0) will be unavailable`);
