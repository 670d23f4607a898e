// test/unit/http: property-based checks (fast-check) of the path normaliser the HCM applies before routing and RBAC:
// idempotent, never leaves '..' segments or '//' (with merge_slashes), and agrees with RFC 3986 §5.2.4 dot-segment
// removal written out literally below.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { escapedSlashes, normalizePath } from '../../../src/http/request-headers.js';

/** RFC 3986 §5.2.4 remove_dot_segments, step by step on an input buffer (the reference). */
function removeDotSegments(input: string): string {
  let inp = input;
  let out = '';
  while (inp.length > 0) {
    if (inp.startsWith('../')) inp = inp.slice(3);
    else if (inp.startsWith('./')) inp = inp.slice(2);
    else if (inp.startsWith('/./')) inp = inp.slice(2);
    else if (inp === '/.') inp = '/';
    else if (inp.startsWith('/../')) {
      inp = inp.slice(3);
      out = out.slice(0, Math.max(0, out.lastIndexOf('/')));
    } else if (inp === '/..') {
      inp = '/';
      out = out.slice(0, Math.max(0, out.lastIndexOf('/')));
    } else if (inp === '.' || inp === '..') inp = '';
    else {
      const start = inp.startsWith('/') ? 1 : 0;
      const next = inp.indexOf('/', start);
      const seg = next < 0 ? inp : inp.slice(0, next);
      out += seg;
      inp = next < 0 ? '' : inp.slice(next);
    }
  }
  return out;
}

const segment = fc.oneof(fc.constantFrom('', '.', '..', 'a', 'b', 'admin', '%2e', '%2E%2e', '.a', 'a.', '...', '%41', '%2f', '%00', '\\', ';x=1'), fc.stringMatching(/^[a-z0-9._~-]{1,4}$/));
const rawPath = fc.array(segment, { minLength: 1, maxLength: 8 }).map((s) => '/' + s.join('/'));
const plainPath = fc.array(fc.constantFrom('', '.', '..', 'a', 'b', 'c'), { minLength: 1, maxLength: 10 }).map((s) => '/' + s.join('/'));
const query = fc.constantFrom('', '?q=1', '?x=/../y', '?a=%2e%2e//');

test('normalize_path + merge_slashes is idempotent and leaves no dot segments or empty segments', () => {
  fc.assert(fc.property(rawPath, query, (p, q) => {
    const once = normalizePath(p + q, true, true);
    assert.equal(normalizePath(once, true, true), once, `not idempotent for ${p + q}`);
    const pathPart = once.slice(0, once.length - q.length);
    assert.equal(once.slice(pathPart.length), q, 'the query is kept as is');
    assert.ok(pathPart.startsWith('/'));
    assert.ok(!pathPart.includes('//'), `'//' in ${pathPart} from ${p}`);
    const segs = pathPart.split('/');
    assert.ok(!segs.includes('..') && !segs.includes('.'), `dot segment in ${pathPart} from ${p}`);
  }), { numRuns: 3000, seed: 42 });
});

test('normalize_path alone agrees with RFC 3986 remove_dot_segments on plain paths', () => {
  fc.assert(fc.property(plainPath, (p) => {
    assert.equal(normalizePath(p, true, false), removeDotSegments(p) || '/', `differs for ${p}`);
  }), { numRuns: 3000, seed: 7 });
  // Hand-picked cases from RFC 3986 §5.2.4 and security.md P-cases.
  assert.equal(normalizePath('/a/b/c/./../../g', true, false), '/a/g');
  assert.equal(normalizePath('/public/../admin', true, true), '/admin');
  assert.equal(normalizePath('/public/%2e%2e/admin', true, true), '/admin');
  assert.equal(normalizePath('//admin', false, true), '/admin');
  assert.equal(normalizePath('/%61dmin', true, false), '/admin');
});

test('escaped-slash actions: reject and unescape are decided on the path only, and unescaping then normalising is idempotent', () => {
  fc.assert(fc.property(rawPath, query, (p, q) => {
    const r = escapedSlashes(p + q, 'UNESCAPE_AND_FORWARD');
    const hasEscaped = /%2f|%5c/i.test(p);
    assert.equal(escapedSlashes(p + q, 'REJECT_REQUEST').action, hasEscaped ? 'reject' : 'keep');
    assert.ok(!/%2f|%5c/i.test(r.path.slice(0, r.path.length - q.length)));
    const n = normalizePath(r.path, true, true);
    assert.equal(normalizePath(n, true, true), n);
  }), { numRuns: 2000, seed: 3 });
});
