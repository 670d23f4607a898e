// Tests: %START_TIME% formatting (common/substitution-format): the cached default equals ISO-8601 for any sequence
// of timestamps, and the fractional-second specifiers (%f, %3f, %6f, %9f, %E<n>S) print digits as Envoy does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileStartTimeFormat, formatStartTime, parseSubstitutionFormat, type FormatInput } from '../../../src/common/substitution-format.js';

test('default START_TIME equals toISOString across repeated, same-second, next-second and backwards timestamps', () => {
  const f = compileStartTimeFormat(undefined);
  const base = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
  const seq = [base, base, base + 1, base + 321, base + 1000, base - 1, base + 86_400_000, 0, 999, 1000, base + 59_999, base];
  let x = 12345;
  for (let i = 0; i < 2000; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    seq.push(base + (x % 5_000_000));
  }
  for (const ms of seq) assert.equal(f(ms), new Date(ms).toISOString(), String(ms));
});

test('fractional seconds: %f is 9 digits, %<n>f n digits, %E<n>S seconds with n digits', () => {
  const ms = Date.UTC(2024, 0, 2, 3, 4, 5, 7);
  assert.equal(formatStartTime(ms, '%s.%3f'), `${Math.floor(ms / 1000)}.007`);
  assert.equal(formatStartTime(ms, '%H:%M:%S.%6f'), '03:04:05.007000');
  assert.equal(formatStartTime(ms, '%9f|%f|%1f'), '007000000|007000000|0');
  assert.equal(formatStartTime(ms + 0.25, '%6f'), '007250');
  assert.equal(formatStartTime(ms, '%E3S %E0S %E6S'), '05.007 05 05.007000');
  assert.equal(formatStartTime(ms, '%Y/%m/%d %z 100%% %q'), '2024/01/02 +0000 100% %q');
  const input = { startTimeMs: ms } as unknown as FormatInput;
  const p = parseSubstitutionFormat('[%START_TIME(%Y/%m/%d %H:%M:%S.%3f)%]');
  assert.ok(p.ok);
  assert.equal(p.format.render(input), '[2024/01/02 03:04:05.007]');
  // The compiled formatter caches per second: a new second must still print its own seconds and fraction.
  const g = compileStartTimeFormat('%S.%3f');
  assert.equal(g(ms), '05.007');
  assert.equal(g(ms + 1000), '06.007');
  assert.equal(g(ms + 1001), '06.008');
});
