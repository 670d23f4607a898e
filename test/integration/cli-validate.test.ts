// Spawns meshlet's real entry (main() as bin/meshlet.js calls it, from this build's output dir) to check what a user
// sees from `--mode validate`: exit status 0 for good bootstraps, and non-zero with exactly one stderr line for an
// unreadable file, bad YAML, a wrong type and a missing xDS cluster; unknown flags likewise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = new URL('../../src/main.js', import.meta.url).href;

function meshlet(args: string[], cwd = ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(MAIN)}).then((m) => m.main(process.argv.slice(1)))`, '--', ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('meshlet --mode validate: bundled bootstraps exit 0', async () => {
  for (const f of ['bootstrap/demo.yaml', 'bootstrap/istio-sidecar.json', 'bootstrap/traffic-director.yaml', 'bootstrap/grpc-xds-bootstrap.json']) {
    const r = await meshlet(['--mode', 'validate', '-c', f]);
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
    assert.equal(r.stdout, `configuration '${f}' OK\n`);
    assert.equal(r.stderr, '');
  }
});

test('meshlet --mode validate: each failure kind exits non-zero with one clear stderr line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-cli-int-'));
  try {
    writeFileSync(join(dir, 'bad.yaml'), 'static_resources:\n  clusters: [\n  - name: x\n');
    writeFileSync(join(dir, 'type.json'), JSON.stringify({ dynamic_resources: { ads_config: { api_type: 'SOMETIMES' } } }));
    writeFileSync(join(dir, 'miss.json'), JSON.stringify({ dynamic_resources: { ads_config: { api_type: 'DELTA_GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] } } }));
    const cases: [string[], RegExp][] = [
      [['--mode', 'validate', '-c', 'absent.yaml'], /^meshlet: cannot read bootstrap file "absent\.yaml": no such file$/],
      [['--mode', 'validate', '-c', 'bad.yaml'], /^meshlet: cannot parse bad\.yaml as YAML \(line \d+, column \d+\): .+$/],
      [['--mode', 'validate', '-c', 'type.json'], /^meshlet: invalid bootstrap type\.json: dynamic_resources\.ads_config\.api_type: invalid value "SOMETIMES" for enum/],
      [['--mode', 'validate', '-c', 'miss.json'], /^meshlet: invalid bootstrap miss\.json: dynamic_resources\.ads_config\.grpc_services\[0\]\.envoy_grpc\.cluster_name: cluster "xds-grpc" is not defined in static_resources\.clusters$/],
      [['--mode', 'validate', '-c', 'miss.json', '--frobnicate'], /^meshlet: unknown flag --frobnicate/],
    ];
    for (const [args, re] of cases) {
      const r = await meshlet(args, dir);
      assert.notEqual(r.code, 0, args.join(' '));
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(lines[0], re);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
