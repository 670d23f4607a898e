// Unit tests for the CLI dispatcher and flags, run in-process with captured output: Istio's agent flags are
// accepted, `validate` prints one line and the right exit code for each failure kind, `wait` follows /ready.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain } from '../../../src/main.js';
import { parseArgs, commandLineOptionsJson } from '../../../src/cli/parse-args.js';
import { MeshletError } from '../../../src/common/errors.js';
import type { CliIo } from '../../../src/cli/cli-io.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

function io(cwd = ROOT, env: Record<string, string> = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (s) => void out.push(s), stderr: (s) => void err.push(s), env, cwd };
}

function errLines(x: { err: string[] }): string[] {
  return x.err.join('').split('\n').filter(Boolean);
}

test('every flag Istio\'s agent passes is accepted with Envoy\'s meaning', () => {
  const f = parseArgs([
    '-c', 'etc/istio/proxy/envoy-rev.json', '--drain-time-s', '45', '--drain-strategy', 'immediate',
    '--local-address-ip-version', 'v4', '--file-flush-interval-msec', '1000', '--disable-hot-restart',
    '--allow-unknown-static-fields', '-l', 'warning', '--component-log-level', 'misc:error', '--concurrency', '2',
    '--log-format', '%Y-%m-%dT%T.%fZ\t%l\tenvoy %n %g:%#\t%v\tthread=%t', '--parent-shutdown-time-s', '60',
    '--service-node=sidecar~1.2.3.4~x.ns~ns.svc.cluster.local', '--service-cluster', 'x.ns', '--service-zone', 'z1',
    '--base-id', '1', '--restart-epoch', '0', '--use-dynamic-base-id', '--enable-core-dump', '--log-path', '/dev/null',
    '--reject-unknown-dynamic-fields', '--mode', 'serve', '--config-yaml', 'node: {id: y}',
  ]);
  assert.equal(f.configPath, 'etc/istio/proxy/envoy-rev.json');
  assert.equal(f.drainTimeS, 45);
  assert.equal(f.drainStrategy, 'immediate');
  assert.equal(f.fileFlushIntervalMsec, 1000);
  assert.equal(f.disableHotRestart, true);
  assert.equal(f.allowUnknownStaticFields, true);
  assert.equal(f.logLevel, 'warning');
  assert.deepEqual(f.componentLogLevel, { misc: 'error' });
  assert.equal(f.concurrency, 2);
  assert.equal(f.parentShutdownTimeS, 60);
  assert.equal(f.serviceNode, 'sidecar~1.2.3.4~x.ns~ns.svc.cluster.local');
  assert.equal(f.serviceCluster, 'x.ns');
  assert.equal(f.serviceZone, 'z1');
  assert.equal(f.rejectUnknownDynamicFields, true);
  assert.equal(f.configYaml, 'node: {id: y}');
  const clo = commandLineOptionsJson(f);
  assert.equal(clo.drain_time, '45s');
  assert.equal(clo.drain_strategy, 'Immediate');
  assert.equal(clo.concurrency, 2);
  assert.equal(clo.mode, 'Serve');
});

test('bad flags are usage errors that name the flag', () => {
  const bad: [string[], RegExp][] = [
    [['--frobnicate'], /unknown flag --frobnicate/],
    [['-x'], /unknown flag -x/],
    [['-l', 'loud'], /invalid value "loud" for --log-level/],
    [['--mode', 'init'], /invalid value "init" for --mode/],
    [['--concurrency', 'two'], /expected a non-negative integer/],
    [['--component-log-level', 'misc'], /expected <component>:<level>/],
    [['-c'], /flag --config-path needs a value/],
    [['stray'], /unexpected argument "stray"/],
  ];
  for (const [argv, re] of bad) {
    assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof MeshletError && e.code === 'CLI_USAGE' && re.test(e.message), argv.join(' '));
  }
});

test('validate: each bundled bootstrap passes with exit 0 and one stdout line', async () => {
  for (const file of ['bootstrap/demo.yaml', 'bootstrap/istio-sidecar.json', 'bootstrap/traffic-director.yaml', 'bootstrap/grpc-xds-bootstrap.json']) {
    const x = io();
    assert.equal(await runMain(['validate', '-c', file], x), 0, x.err.join(''));
    assert.deepEqual(x.out, [`configuration '${file}' OK\n`]);
    const y = io();
    assert.equal(await runMain(['--mode', 'validate', '--config-path', file], y), 0);
  }
});

test('validate: unreadable file, bad YAML, wrong type and missing xDS cluster each give exit 1 and one stderr line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-cli-'));
  try {
    writeFileSync(join(dir, 'bad.yaml'), 'node: {id: x\nadmin: [\n');
    writeFileSync(join(dir, 'type.yaml'), 'node:\n  id: [not, a, string]\n');
    writeFileSync(join(dir, 'miss.yaml'), 'dynamic_resources:\n  ads_config: {api_type: GRPC, grpc_services: [{envoy_grpc: {cluster_name: xds-grpc}}]}\n');
    const cases: [string, RegExp][] = [
      ['nope.yaml', /^meshlet: cannot read bootstrap file "nope\.yaml": no such file$/],
      ['bad.yaml', /^meshlet: cannot parse bad\.yaml as YAML \(line 2, column 1\): /],
      ['type.yaml', /^meshlet: invalid bootstrap type\.yaml: node\.id: expected a string/],
      ['miss.yaml', /^meshlet: invalid bootstrap miss\.yaml: dynamic_resources\.ads_config\.grpc_services\[0\]\.envoy_grpc\.cluster_name: cluster "xds-grpc" is not defined in static_resources\.clusters$/],
    ];
    for (const [file, re] of cases) {
      const x = io(dir);
      assert.equal(await runMain(['--mode', 'validate', '-c', file], x), 1, file);
      const lines = errLines(x);
      assert.equal(lines.length, 1, `${file}: ${x.err.join('')}`);
      assert.match(lines[0], re);
      assert.deepEqual(x.out, []);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('validate translates static listeners and clusters like xDS ones and reports their errors with paths', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-cli-'));
  try {
    writeFileSync(join(dir, 'st.yaml'), [
      'static_resources:',
      '  listeners:',
      '  - name: l1',
      '    address: {socket_address: {address: 127.0.0.1, port_value: 8080}}',
      '    filter_chains:',
      '    - filters:',
      '      - name: tcp',
      '        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: t}',
      '  clusters:',
      '  - {name: c1, type: STATIC}',
      '',
    ].join('\n'));
    const x = io(dir);
    assert.equal(await runMain(['validate', '-c', 'st.yaml'], x), 1);
    const lines = errLines(x);
    assert.equal(lines.length, 1, x.err.join(''));
    assert.match(lines[0], /^meshlet: invalid bootstrap st\.yaml: /);
    assert.match(lines[0], /static_resources\.clusters\[0\]\.load_assignment: /);
    assert.match(lines[0], /static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown flag or command: non-zero exit and one clear line', async () => {
  const x = io();
  assert.equal(await runMain(['-c', 'bootstrap/demo.yaml', '--no-such-flag'], x), 2);
  assert.deepEqual(errLines(x), ['meshlet: unknown flag --no-such-flag (see meshlet --help)']);
  const y = io();
  assert.equal(await runMain(['frobnicate'], y), 2);
  assert.equal(errLines(y).length, 1);
  assert.match(errLines(y)[0], /unknown command "frobnicate"/);
});

test('--help lists the flags and subcommands; --version prints Envoy-style version', async () => {
  const x = io();
  assert.equal(await runMain(['--help'], x), 0);
  const help = x.out.join('');
  for (const s of ['--config-path', '--service-node', '--drain-time-s', '--concurrency', 'route-check', 'iptables', 'wait']) assert.ok(help.includes(s), s);
  const y = io();
  assert.equal(await runMain(['--version'], y), 0);
  assert.match(y.out.join(''), /^meshlet version: [0-9a-f]{7,40}\/\d+\.\d+\.\d+\/Clean\/RELEASE\/nodejs\n$/);
});

async function readyServer(answers: () => [number, string]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const [status, body] = req.url === '/ready' ? answers() : [404, 'no'];
    res.writeHead(status).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test('wait: exits 0 once /ready turns LIVE, 1 when it never does within --timeout', async () => {
  let calls = 0;
  const live = await readyServer(() => (++calls < 3 ? [503, 'INITIALIZING\n'] : [200, 'LIVE\n']));
  const never = await readyServer(() => [503, 'PRE_INITIALIZING\n']);
  try {
    const x = io();
    assert.equal(await runMain(['wait', '--timeout', '20', '--admin', live.url, '--periodMillis', '50'], x), 0, x.err.join(''));
    assert.ok(calls >= 3);
    const y = io();
    assert.equal(await runMain(['wait', '--timeout=1', `--admin=${never.url}`, '--periodMillis', '100'], y), 1);
    assert.equal(errLines(y).length, 1);
    assert.match(errLines(y)[0], /timeout waiting for .*\/ready to be LIVE after 1s \(last: 503 PRE_INITIALIZING\)/);
    const z = io();
    assert.equal(await runMain(['wait', '--bogus'], z), 2);
  } finally {
    live.server.close();
    never.server.close();
  }
});
