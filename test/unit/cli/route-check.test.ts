// Tests for `meshlet route-check` (route-check-format.md §2-6): runs runRouteCheck in-process on the Envoy-style
// fixtures under test/fixtures/route-check/ and checks output lines and exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runRouteCheck } from '../../../src/cli/route-check.js';

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) d = dirname(d);
  return d;
}
const FIX = join(repoRoot(), 'test', 'fixtures', 'route-check');

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runRouteCheck(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}
const fx = (name: string): string => join(FIX, name);

const PASSING: [string, string, string[]][] = [
  ['TestRoutes.yaml', 'TestRoutes.golden.proto.yaml', []],
  ['Weighted.yaml', 'Weighted.golden.proto.json', []],
  ['Redirect.yaml', 'Redirect.golden.proto.yaml', []],
  ['HeaderMatchedRouting.yaml', 'HeaderMatchedRouting.golden.proto.yaml', []],
  ['Runtime.yaml', 'Runtime.golden.proto.yaml', []],
  ['HeaderMutations.yaml', 'HeaderMutations.golden.proto.yaml', ['--disable-deprecation-check']],
  ['MostSpecific.yaml', 'MostSpecific.golden.proto.yaml', []],
];

for (const [config, tests, extra] of PASSING) {
  test(`route-check passes every case of ${tests}`, async () => {
    const r = await run('-c', fx(config), '-t', fx(tests), '--only-show-failures', ...extra);
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
    assert.match(r.out, /^Current route coverage: \d+(\.\d+)?%\n$/);
  });
}

test('--details prints passing test names on stdout, one per line', async () => {
  const r = await run('--config-path', fx('Runtime.yaml'), '--test-path', fx('Runtime.golden.proto.yaml'), '-d');
  assert.equal(r.code, 0);
  const lines = r.out.trim().split('\n');
  assert.equal(lines[0], "bullet 38: numerator 0 becomes 1 for the case's runtime key");
  assert.equal(lines.length, 6);
  assert.equal(lines[5], 'Current route coverage: 100%');
});

test('a failing case: exit 1, failure lines on stderr in Envoy format, no coverage printed', async () => {
  const r = await run('-c', fx('TestRoutes.yaml'), '-t', fx('Failing.golden.proto.yaml'), '--details');
  assert.equal(r.code, 1);
  assert.equal(r.out, 'passes\n');
  assert.equal(r.err, [
    'wrong cluster',
    'expected: [nope], actual: [www2], test type: cluster_name',
    'expected: [has(x-missing):true], actual: [has(x-missing):false], test type: request_header_matches.present_match',
    'expected: [other.com], actual: [www.lyft.com], test type: request_header_matches.string_match.exact',
    'expected: [www.lyft.com], actual: NOT [www.lyft.com], test type: request_header_matches.string_match.exact',
    'actual: [:path: /x], test type: request_header_matches.string_match.prefix',
    '',
  ].join('\n'));
});

test('without --details a failing run prints nothing but exits 1', async () => {
  const r = await run('-c', fx('TestRoutes.yaml'), '-t', fx('Failing.golden.proto.yaml'));
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.equal(r.err, '');
});

test('--only-show-failures hides passing names', async () => {
  const r = await run('-c', fx('TestRoutes.yaml'), '-t', fx('Failing.golden.proto.yaml'), '--only-show-failures');
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(r.err, /^wrong cluster\n/);
});

test('-f above the coverage fails with the Envoy message; below it passes', async () => {
  const hi = await run('-c', fx('Weighted.yaml'), '-t', fx('Weighted.golden.proto.json'), '-f', '100');
  assert.equal(hi.code, 1);
  assert.equal(hi.err, 'Failed to meet coverage requirement: 100%\n');
  const lo = await run('-c', fx('Weighted.yaml'), '-t', fx('Weighted.golden.proto.json'), '--fail-under', '50');
  assert.equal(lo.code, 0);
});

test('--detailed-coverage lists uncovered routes by <name>-<uuid>; --covall by match', async () => {
  const d = await run('-c', fx('TestRoutes.yaml'), '-t', fx('TestRoutes.golden.proto.yaml'), '--detailed-coverage');
  assert.equal(d.code, 0);
  assert.match(d.out, /Missing test for host: www2_staging, route name: -[0-9a-f-]{36}\n/);
  const c = await run('-c', fx('TestRoutes.yaml'), '-t', fx('TestRoutes.golden.proto.yaml'), '--covall');
  assert.match(c.out, /Missing test for host: www2_staging, route: prefix: "\/"\n/);
  const pct = (s: string): number => Number(/coverage: ([\d.]+)%/.exec(s)![1]);
  assert.ok(pct(c.out) < pct(d.out), 'comprehensive coverage counts each field, so it is lower');
});

test('missing -c or -t is a usage error with exit 1', async () => {
  const r = await run('-t', fx('Runtime.golden.proto.yaml'));
  assert.equal(r.code, 1);
  assert.match(r.err, /Required argument missing: config-path/);
});

test('unlabelled trailing arguments are ignored', async () => {
  const r = await run('-c', fx('Runtime.yaml'), '-t', fx('Runtime.golden.proto.yaml'), 'extra', 'args');
  assert.equal(r.code, 0);
});

test('a test file passed as the config is rejected naming RouteConfiguration and the unknown field tests', async () => {
  const r = await run('-c', fx('Runtime.golden.proto.yaml'), '-t', fx('Runtime.golden.proto.yaml'));
  assert.equal(r.code, 1);
  assert.match(r.err, /RouteConfiguration/);
  assert.match(r.err, /"tests"/);
});

test('deprecated route config fields are rejected unless --disable-deprecation-check', async () => {
  const r = await run('-c', fx('HeaderMutations.yaml'), '-t', fx('HeaderMutations.golden.proto.yaml'));
  assert.equal(r.code, 1);
  assert.match(r.err, /deprecated option\(s\) 'virtual_hosts\[0\]\.routes\[1\]\.request_headers_to_add\[9\]\.append'/);
});

function withTemp(files: Record<string, string>, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'route-check-'));
  for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c);
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const MINI = 'virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: c } }] }]\n';

test('test-file schema violations abort with exit 1 (unknown field, empty tests, short method, missing input)', async () => {
  const cases: [string, RegExp][] = [
    ['tests: [{ test_name: a, input: { authority: x, path: /, method: GET, bogus: 1 }, validate: {} }]', /unknown field "bogus"/],
    ['tests: []', /at least 1 item/],
    ['tests: [{ test_name: a, input: { authority: x, path: /, method: GE }, validate: {} }]', /Method: value length must be at least 3/],
    ['tests: [{ test_name: a, validate: {} }]', /Input: value is required/],
    ['tests: [{ test_name: "", input: { authority: x, path: /, method: GET }, validate: {} }]', /TestName/],
    ['tests: [{ test_name: a, input: { authority: x, path: /, method: GET }, validate: { header_fields: [] } }]', /unknown field "header_fields"/],
  ];
  for (const [text, re] of cases) {
    await withTemp({ 'c.yaml': MINI, 't.yaml': text }, async (dir) => {
      const r = await run('-c', join(dir, 'c.yaml'), '-t', join(dir, 't.yaml'));
      assert.equal(r.code, 1, text);
      assert.match(r.err, re, text);
    });
  }
});

test('lenient JSON (trailing commas), wrapper objects {value: x} and lowerCamelCase fields are accepted', async () => {
  const t = '{"tests": [{"testName": "t", "input": {"authority": "x", "path": "/", "method": "GET",}, "validate": {"clusterName": {"value": "c"}, "codeRedirect": 0,},},]}';
  await withTemp({ 'c.json': JSON.stringify({ virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }] }), 't.json': t }, async (dir) => {
    const r = await run('-c', join(dir, 'c.json'), '-t', join(dir, 't.json'), '-d');
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
    assert.equal(r.out, 't\nCurrent route coverage: 100%\n');
  });
});

test('an invalid route config reports the field path', async () => {
  const bad = 'virtual_hosts: [{ name: v, domains: ["*"], routes: [{ match: { prefix: /, path: /x }, route: { cluster: c } }] }]\n';
  await withTemp({ 'c.yaml': bad, 't.yaml': 'tests: [{ test_name: a, input: { authority: x, path: /, method: GET }, validate: {} }]' }, async (dir) => {
    const r = await run('-c', join(dir, 'c.yaml'), '-t', join(dir, 't.yaml'));
    assert.equal(r.code, 1);
    assert.match(r.err, /virtual_hosts\[0\]\.routes\[0\]\.match: only one path specifier may be set, got prefix, path/);
  });
});

test('direct_response body from a file relative to the config; enum values are case-insensitive', async () => {
  const cfg = 'virtual_hosts: [{ name: v, domains: ["*"], require_tls: none, routes: [{ match: { prefix: / }, direct_response: { status: 200, body: { filename: body.txt } } }] }]\n';
  const t = 'tests: [{ test_name: a, input: { authority: "h:81", path: "/p?q", method: GET }, validate: { path_redirect: "http://h:81/p?q", code_redirect: 200, cluster_name: "", response_header_matches: [{ name: content-length, string_match: { exact: "3" } }] } }]';
  await withTemp({ 'c.yaml': cfg, 't.yaml': t, 'body.txt': 'abc' }, async (dir) => {
    const r = await run('-c', join(dir, 'c.yaml'), '-t', join(dir, 't.yaml'), '--only-show-failures');
    assert.equal(r.err, '');
    assert.equal(r.code, 0);
  });
});
