// `meshlet iptables --dry-run` prints exactly the istio-iptables REDIRECT rule set (conventions.md §4.2), flags
// change it the way istio-iptables' do, and applying runs cleanup then one iptables-restore --noflush per family.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runIptables, type IptablesIo } from '../../../src/cli/iptables.js';

async function run(argv: string[], execCodes: Record<string, number> = {}): Promise<{ code: number; out: string; err: string; calls: string[]; stdin: string[] }> {
  let out = '';
  let err = '';
  const calls: string[] = [];
  const stdin: string[] = [];
  const io: IptablesIo = {
    stdout: (s) => { out += s; },
    stderr: (s) => { err += s; },
    exec: async (cmd, args, input) => {
      calls.push(`${cmd} ${args.join(' ')}`);
      if (input !== undefined && input !== '') stdin.push(input);
      // Deleting a jump succeeds once (it existed), then fails: proves the delete loop stops.
      const key = `${cmd} ${args.join(' ')}`;
      if (args[2] === '-D') { const n = execCodes[key] ?? 0; execCodes[key] = 1; return { code: n, stderr: '' }; }
      return { code: execCodes[cmd] ?? 0, stderr: execCodes[cmd] ? 'boom' : '' };
    },
  };
  const code = await runIptables(argv, io);
  return { code, out, err, calls, stdin };
}

const DEFAULT_V4 = `# iptables-restore --noflush
*nat
:ISTIO_INBOUND - [0:0]
:ISTIO_REDIRECT - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
:ISTIO_OUTPUT - [0:0]
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
`;

test('--dry-run with defaults prints the exact istio-iptables REDIRECT rule set', async () => {
  const r = await run(['--dry-run']);
  assert.equal(r.code, 0);
  assert.equal(r.out, DEFAULT_V4);
  assert.deepEqual(r.calls, [], 'dry run executes nothing');
  // The istio-init invocation spelled with istio's flags gives the same rules.
  const istio = await run(['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020', '--dry-run']);
  assert.equal(istio.out, DEFAULT_V4);
});

test('--dry-run with every flag: ports, uids, CIDR include/exclude, IPv6', async () => {
  const r = await run([
    '--dry-run', '--proxy-port=16001', '-z', '16006', '-u', '1000', '-g', '2000', '-i', '10.0.0.0/8,fd00::/8', '-x', '10.96.0.0/12',
    '-d', '8080,15090', '-o', '3306', '-q', '9999', '--ipv6',
  ]);
  assert.equal(r.code, 0);
  const expectedV4 = `# iptables-restore --noflush
*nat
:ISTIO_INBOUND - [0:0]
:ISTIO_REDIRECT - [0:0]
:ISTIO_IN_REDIRECT - [0:0]
:ISTIO_OUTPUT - [0:0]
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 8080 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -p tcp --dport 3306 -j RETURN
-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1000 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1000 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1000 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --gid-owner 2000 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 2000 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 2000 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -p tcp --dport 9999 -j ISTIO_REDIRECT
-A ISTIO_OUTPUT -d 10.96.0.0/12 -j RETURN
-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT
-A ISTIO_OUTPUT -j RETURN
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 16001
COMMIT
`;
  const [v4, v6] = r.out.split(/(?=# ip6tables-restore)/);
  assert.equal(v4, expectedV4);
  assert.match(v6, /^# ip6tables-restore --noflush\n\*nat\n/);
  assert.match(v6, /-A ISTIO_OUTPUT -o lo -s ::6\/128 -j RETURN\n/);
  assert.match(v6, /-A ISTIO_OUTPUT -d ::1\/128 -j RETURN\n/);
  assert.match(v6, /-A ISTIO_OUTPUT -d fd00::\/8 -j ISTIO_REDIRECT\n-A ISTIO_OUTPUT -j RETURN\n/);
  assert.doesNotMatch(v6, /10\.0\.0\.0/, 'IPv4 CIDRs stay out of ip6tables');
});

test('inbound include list, and empty include lists disable capture in that direction', async () => {
  const list = await run(['--dry-run', '-b', '8080,9090,15021']);
  assert.match(list.out, /-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN\n-A ISTIO_INBOUND -p tcp --dport 8080 -j ISTIO_IN_REDIRECT\n-A ISTIO_INBOUND -p tcp --dport 9090 -j ISTIO_IN_REDIRECT\n-A ISTIO_IN_REDIRECT/);
  const none = await run(['--dry-run', '-b', '', '-i', '']);
  assert.doesNotMatch(none.out, /PREROUTING/);
  assert.doesNotMatch(none.out, /-j ISTIO_REDIRECT\n/);
  assert.match(none.out, /-A ISTIO_OUTPUT -d 127.0.0.1\/32 -j RETURN\n-A ISTIO_REDIRECT/);
});

test('apply: cleanup first (idempotent), then one iptables-restore --noflush per family; --cleanup only cleans', async () => {
  const r = await run(['--ipv6']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.calls, [
    'iptables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND', 'iptables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND',
    'iptables -t nat -D OUTPUT -p tcp -j ISTIO_OUTPUT', 'iptables -t nat -D OUTPUT -p tcp -j ISTIO_OUTPUT',
    'iptables -t nat -F ISTIO_INBOUND', 'iptables -t nat -F ISTIO_REDIRECT', 'iptables -t nat -F ISTIO_IN_REDIRECT', 'iptables -t nat -F ISTIO_OUTPUT',
    'iptables -t nat -X ISTIO_INBOUND', 'iptables -t nat -X ISTIO_REDIRECT', 'iptables -t nat -X ISTIO_IN_REDIRECT', 'iptables -t nat -X ISTIO_OUTPUT',
    'iptables-restore --noflush',
    'ip6tables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND', 'ip6tables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND',
    'ip6tables -t nat -D OUTPUT -p tcp -j ISTIO_OUTPUT', 'ip6tables -t nat -D OUTPUT -p tcp -j ISTIO_OUTPUT',
    'ip6tables -t nat -F ISTIO_INBOUND', 'ip6tables -t nat -F ISTIO_REDIRECT', 'ip6tables -t nat -F ISTIO_IN_REDIRECT', 'ip6tables -t nat -F ISTIO_OUTPUT',
    'ip6tables -t nat -X ISTIO_INBOUND', 'ip6tables -t nat -X ISTIO_REDIRECT', 'ip6tables -t nat -X ISTIO_IN_REDIRECT', 'ip6tables -t nat -X ISTIO_OUTPUT',
    'ip6tables-restore --noflush',
  ]);
  assert.equal(r.stdin[0], DEFAULT_V4.slice(DEFAULT_V4.indexOf('\n') + 1));
  const c = await run(['--cleanup']);
  assert.equal(c.code, 0);
  assert.ok(c.calls.every((x) => x.startsWith('iptables -t nat ')));
  const dry = await run(['--cleanup', '--dry-run']);
  assert.match(dry.out, /^iptables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND\n/);
  const failed = await run([], { 'iptables-restore': 4 });
  assert.equal(failed.code, 1);
  assert.match(failed.err, /iptables-restore failed \(exit 4\): boom/);
});

test('usage errors exit 2 and name the flag', async () => {
  for (const [argv, msg] of [
    [['-p', '70000'], /--proxy-port: invalid port '70000'/],
    [['-x', '10.0.0.0/33'], /--outbound-ip-ranges-exclude: invalid CIDR/],
    [['-u', 'root'], /--proxy-uid: expected numeric/],
    [['-m', 'TPROXY'], /only REDIRECT is supported/],
    [['--bogus'], /unknown flag --bogus/],
    [['-p'], /-p needs a value/],
  ] as const) {
    const r = await run([...argv]);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, msg);
    assert.deepEqual(r.calls, []);
  }
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /usage: meshlet iptables/);
});
