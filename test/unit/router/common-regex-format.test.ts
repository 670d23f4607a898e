// common/regex.ts (RE2 full match, GlobalReplace semantics) and common/substitution-format.ts (Envoy formatter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRegex, compileSubstitution, type CompiledRegex } from '../../../src/common/regex.js';
import { BUILTIN_OPERATORS, formatStartTime, parseSubstitutionFormat, type FormatInput, type OperatorFactory } from '../../../src/common/substitution-format.js';

function re(p: string): CompiledRegex {
  const r = compileRegex(p);
  assert.ok(r.ok, p);
  return r.regex;
}
function replaceAll(p: string, sub: string, input: string): string {
  const r = re(p);
  const s = compileSubstitution(sub, r.groupCount);
  assert.ok(s.ok);
  return r.replaceAll(input, s.substitution);
}

test('RE2 full match; syntax JS lacks is accepted; backreferences/lookaround rejected', () => {
  assert.equal(re('/t[io]c').fullMatch('/tic'), true);
  assert.equal(re('/t[io]c').fullMatch('/tic/toc'), false);
  assert.equal(re('a|b').fullMatch('ab'), false, 'alternation is grouped before anchoring');
  assert.equal(re('(?i)abc').fullMatch('ABC'), true);
  assert.equal(re('(?P<n>x)y').fullMatch('xy'), true);
  assert.equal(re('[[:alpha:]]+').fullMatch('abc'), true);
  assert.equal(re('\\pL+').fullMatch('été'), true);
  assert.equal(compileRegex('(a)\\1').ok, false);
  assert.equal(compileRegex('a(?!b)').ok, false);
  assert.equal(compileRegex('(').ok, false);
});

test('replace-all follows RE2::GlobalReplace (\\N groups, empty matches)', () => {
  assert.equal(replaceAll('e', 'X', '/newforreg2_endpoint/tee'), '/nXwforrXg2_Xndpoint/tXX');
  assert.equal(replaceAll('(^.*)/(\\d{4})$', '/four/\\2/endpoint\\1', '/xx/yy/6472'), '/four/6472/endpoint/xx/yy');
  assert.equal(replaceAll('x*', '-', 'abc'), '-a-b-c-');
  assert.equal(replaceAll('x*', '-', 'axxb'), '-a-b-');
  assert.equal(replaceAll('^/', '', '/a/b'), 'a/b', '^ anchors at the text start only');
  assert.equal(replaceAll('a', '\\\\', 'aa'), '\\\\');
  assert.equal(compileSubstitution('\\2', 1).ok, false);
  assert.equal(compileSubstitution('\\q', 1).ok, false);
});

const input: FormatInput = {
  remoteAddress: '10.1.2.3', remotePort: 4567, localAddress: '::1', localPort: 80, protocol: 'HTTP/2', startTimeMs: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
  requestHead: { method: 'POST', scheme: 'https', authority: 'a.example', path: '/p?q', headers: { 'x-a': ['1', '2'], 'x-b': 'bee' } },
  responseHeaders: { 'x-r': 'resp' }, upstreamHost: '10.9.9.9:8080',
};

test('substitution format: operators, alternatives, truncation, %%', () => {
  const cases: [string, string][] = [
    ['%DOWNSTREAM_REMOTE_ADDRESS%', '10.1.2.3:4567'],
    ['%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '10.1.2.3'],
    ['%DOWNSTREAM_LOCAL_ADDRESS%', '[::1]:80'],
    ['%REQ(X-A)%', '1,2'],
    ['%REQ(:path)% %REQ(:METHOD)% %REQ(:authority)%', '/p?q POST a.example'],
    ['%REQ(x-none?x-b)%', 'bee'],
    ['%REQ(x-b):2%', 'be'],
    ['[%REQ(x-none)%]', '[]'],
    ['%RESP(x-r)%', 'resp'],
    ['%UPSTREAM_HOST%', '10.9.9.9:8080'],
    ['%PROTOCOL%', 'HTTP/2'],
    ['%START_TIME%', '2024-01-02T03:04:05.678Z'],
    ['%START_TIME(%Y/%m/%d %H:%M:%E3S)%', '2024/01/02 03:04:05.678'],
    ['100%% sure', '100% sure'],
    ['plain', 'plain'],
  ];
  for (const [fmt, want] of cases) {
    const f = parseSubstitutionFormat(fmt);
    assert.ok(f.ok, fmt);
    assert.equal(f.format.render(input), want, fmt);
  }
  assert.equal(formatStartTime(0, '%s'), '0');
});

test('substitution format: invalid strings are errors; the operator set is extensible per call', () => {
  for (const bad of ['%NOPE%', '%REQ%', '%REQ(a?b?c)%', 'trailing %', '%REQ(x']) assert.equal(parseSubstitutionFormat(bad).ok, false, bad);
  const extra = new Map<string, OperatorFactory>([['RESPONSE_FLAGS', () => ({ render: () => 'UH' })]]);
  const f = parseSubstitutionFormat('flags=%RESPONSE_FLAGS%', extra);
  assert.ok(f.ok);
  assert.equal(f.format.render(input), 'flags=UH');
  assert.equal(BUILTIN_OPERATORS.has('RESPONSE_FLAGS'), false, 'extension did not mutate the built-ins');
  const missing = parseSubstitutionFormat('%UPSTREAM_CLUSTER%');
  assert.ok(missing.ok);
  assert.equal(missing.format.render(input, undefined, '-'), '-', 'access logs print - for a missing value');
});
