import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { CidrMatcher, parseIpv4, parseIpv6 } from '../../../src/http/cidr-matcher.js';
import { randomHex, randomUuid } from '../../../src/http/random-ids.js';

const DEFAULTS: [string, number][] = [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.0', 8], ['::1', 128], ['fc00::', 7]];

test('parseIpv4 accepts exactly dotted quads', () => {
  assert.equal(parseIpv4('10.1.2.3'), 0x0a010203);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.', 'a.b.c.d', '1.2.3.4 ', '1234.1.1.1']) assert.equal(parseIpv4(bad), -1, bad);
});

test('parseIpv6 handles ::, embedded IPv4 and zones; rejects malformed text', () => {
  const w = new Uint32Array(4);
  assert.ok(parseIpv6('::1', w));
  assert.deepEqual([...w], [0, 0, 0, 1]);
  assert.ok(parseIpv6('fe80::1%eth0', w));
  assert.deepEqual([...w], [0xfe800000, 0, 0, 1]);
  assert.ok(parseIpv6('::ffff:10.0.0.1', w));
  assert.deepEqual([...w], [0, 0, 0xffff, 0x0a000001]);
  assert.ok(parseIpv6('2001:db8:0:0:0:0:0:ff', w));
  assert.deepEqual([...w], [0x20010db8, 0, 0, 0xff]);
  assert.ok(parseIpv6('::', w));
  assert.deepEqual([...w], [0, 0, 0, 0]);
  for (const bad of ['', ':1', '1::2::3', '12345::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'g::1', '1:', '10.0.0.1']) assert.equal(parseIpv6(bad, w), false, bad);
});

test('CidrMatcher agrees with node:net BlockList on the default internal ranges and random addresses', () => {
  const m = new CidrMatcher(DEFAULTS);
  const bl = new net.BlockList();
  for (const [b, l] of DEFAULTS) bl.addSubnet(b, l, net.isIPv6(b) ? 'ipv6' : 'ipv4');
  const samples = ['10.0.0.1', '10.255.255.255', '11.0.0.0', '172.16.0.1', '172.31.255.255', '172.32.0.0', '192.168.1.1', '192.169.0.1',
    '127.0.0.1', '8.8.8.8', '::1', '::2', 'fc00::1', 'fdff:ffff::1', 'fe00::1', '2001:db8::1'];
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 500; i++) samples.push(`${[10, 172, 192, 127, 8][i % 5]}.${rnd()}.${rnd()}.${rnd()}`);
  for (const ip of samples) {
    const want = bl.check(ip, net.isIPv6(ip) ? 'ipv6' : 'ipv4');
    assert.equal(m.matches(ip), want, ip);
    assert.equal(m.matches(ip), want, `${ip} (cached)`);
  }
});

test('CidrMatcher: IPv4-mapped IPv6 clients match IPv4 ranges; configured ranges replace nothing else; bad entries are skipped', () => {
  const m = new CidrMatcher([['192.0.2.0', 24], ['2001:db8::', 32], ['not-an-ip', 8], ['10.0.0.0', 33]]);
  assert.equal(m.matches('::ffff:192.0.2.7'), true);
  assert.equal(m.matches('192.0.2.255'), true);
  assert.equal(m.matches('192.0.3.0'), false);
  assert.equal(m.matches('10.0.0.1'), false);
  assert.equal(m.matches('2001:db8:1::1'), true);
  assert.equal(m.matches('2001:db9::1'), false);
  assert.equal(m.matches('garbage'), false);
  assert.deepEqual(m.invalid, ['not-an-ip/8', '10.0.0.0/33']);
  assert.equal(new CidrMatcher([['0.0.0.0', 0]]).matches('203.0.113.9'), true);
});

test('randomUuid gives version-4 UUIDs and randomHex distinct non-zero hex ids', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const u = randomUuid();
    assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(u);
    const h = randomHex(16);
    assert.match(h, /^[0-9a-f]{32}$/);
    seen.add(h);
  }
  assert.equal(seen.size, 4000);
});
