// listener/: the envoy.filters.listener.http_inspector listener filter. Classifies a plaintext connection from
// its first bytes as HTTP/2 prior knowledge ('h2c'), HTTP/1.1 or HTTP/1.0, for filter-chain selection on
// application_protocols. Pure function; inspectConnection() in tls-inspector.ts feeds it.

export type HttpProtocol = 'http/1.0' | 'http/1.1' | 'h2c';
export type HttpInspectResult = { readonly kind: 'need_more' } | { readonly kind: 'not_http' } | { readonly kind: 'http'; readonly protocol: HttpProtocol };

/** Envoy's http_inspector reads at most this many bytes looking for a request line. */
export const HTTP_INSPECTOR_MAX_BYTES = 64 * 1024;

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const NEED_MORE: HttpInspectResult = { kind: 'need_more' };
const NOT_HTTP: HttpInspectResult = { kind: 'not_http' };

// Method characters: registered HTTP methods are upper-case letters with '-' / '_' (M-SEARCH, BASELINE-CONTROL).
// Lower-case input ('ping', 'ssh-…') is decided as not HTTP at once instead of waiting for a space.
const METHOD_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ-_') METHOD_CHAR[c.charCodeAt(0)] = 1;
const MAX_METHOD_LEN = 32;

/** Inspects the first bytes of a plaintext connection. 'need_more' until the request line (or preface) is complete. */
export function inspectHttp(buf: Buffer): HttpInspectResult {
  // HTTP/2 prior knowledge: the whole preface, or a prefix of it so far.
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (n > 0 && buf.compare(H2_PREFACE, 0, n, 0, n) === 0) {
    return n === H2_PREFACE.length ? { kind: 'http', protocol: 'h2c' } : NEED_MORE;
  }
  // HTTP/1.x request line: METHOD SP request-target SP HTTP/1.x CRLF
  let p = 0;
  const len = Math.min(buf.length, HTTP_INSPECTOR_MAX_BYTES);
  while (p < len && p <= MAX_METHOD_LEN && buf[p] < 128 && METHOD_CHAR[buf[p]] === 1) p++;
  if (p > MAX_METHOD_LEN) return NOT_HTTP;
  if (p === len) return NEED_MORE;
  if (p === 0 || buf[p] !== 0x20) return NOT_HTTP;
  p++;
  const targetStart = p;
  while (p < len && buf[p] > 0x20 && buf[p] !== 0x7f) p++;
  if (p === len) return len >= HTTP_INSPECTOR_MAX_BYTES ? NOT_HTTP : NEED_MORE;
  if (p === targetStart || buf[p] !== 0x20) return NOT_HTTP;
  p++;
  const version = 'HTTP/1.';
  for (let i = 0; i < version.length + 1; i++) {
    if (p + i >= len) return NEED_MORE;
    if (i < version.length && buf[p + i] !== version.charCodeAt(i)) return NOT_HTTP;
  }
  const minor = buf[p + version.length];
  if (minor !== 0x30 && minor !== 0x31) return NOT_HTTP;
  const q = p + version.length + 1;
  if (q >= len) return NEED_MORE;
  if (buf[q] === 0x0d) {
    if (q + 1 >= len) return NEED_MORE;
    if (buf[q + 1] !== 0x0a) return NOT_HTTP;
  } else if (buf[q] !== 0x0a) {
    return NOT_HTTP;
  }
  return { kind: 'http', protocol: minor === 0x31 ? 'http/1.1' : 'http/1.0' };
}
